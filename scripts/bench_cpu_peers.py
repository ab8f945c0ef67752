"""Issue 18's CPU workloads, hounsfield (CPU backend, through the Python package) against the
best Python tool in the same process, best of N; checks that the results agree before timing.
Usage: python3 scripts/bench_cpu_peers.py [--repeat 3]
Needs numpy, scipy, scikit-image, SimpleITK and an installed hounsfield."""
import argparse
import time

import numpy as np
import SimpleITK as sitk
import skimage.filters

import hounsfield as hf


def best_of(n, f):
    best, result = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        result = f()
        best = min(best, time.perf_counter() - t0)
    return best, result


def row(name, ours, peer_name, peer):
    print(f"| {name} | {ours * 1e3:.0f} ms | {peer_name} {peer * 1e3:.0f} ms | {peer / ours:.1f}× |", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    n = parser.parse_args().repeat
    rng = np.random.default_rng(1)
    print(f"numpy {np.__version__}, SimpleITK {sitk.Version_VersionString()}, "
          f"scikit-image {skimage.__version__}; SimpleITK threads "
          f"{sitk.ProcessObject_GetGlobalDefaultNumberOfThreads()}")
    print("| workload | hounsfield CPU | best peer | × |\n|---|---|---|---|")

    # Median 5³ on 24×512² (integer-valued HU-like data: ties, as CT has).
    v = (rng.integers(0, 3000, (24, 512, 512)) - 1000).astype(np.float32)
    t, ours = best_of(n, lambda: hf.median_filter(v, size=5, mode="nearest", backend="cpu"))
    img = sitk.GetImageFromArray(v)
    tp, peer = best_of(max(1, n - 1), lambda: sitk.GetArrayFromImage(sitk.Median(img, [2, 2, 2])))
    assert np.array_equal(ours, peer), "median differs from SimpleITK"
    row("median 5³, 24×512²", t, "SimpleITK `Median`", tp)

    # Anisotropic diffusion, 5 iterations on 64×512².
    v = (rng.integers(0, 300, (64, 512, 512)) - 100).astype(np.float32)
    img = sitk.GetImageFromArray(v)
    for kind, peer_f in (("curvature", sitk.CurvatureAnisotropicDiffusion),
                         ("gradient", sitk.GradientAnisotropicDiffusion)):
        t, ours = best_of(n, lambda: hf.anisotropic_diffusion(v, 5, 3.0, 0.0625, kind=kind, backend="cpu"))
        tp, peer = best_of(1, lambda: sitk.GetArrayFromImage(
            peer_f(img, timeStep=0.0625, conductanceParameter=3.0, numberOfIterations=5)))
        err = np.abs(ours - peer).max() / np.abs(peer).max()
        assert err < 1e-3, f"{kind} diffusion differs from SimpleITK by {err:.1e} of the peak"
        row(f"{kind} diffusion, 5 iterations, 64×512²", t, f"SimpleITK `{peer_f.__name__}`", tp)

    # Reductions and pointwise operations on 512×512×256.
    v = rng.normal(0.0, 400.0, (256, 512, 512)).astype(np.float32)
    t, ours = best_of(n, lambda: hf.statistics(v, backend="cpu"))
    tp, peer = best_of(n, lambda: (v.min(), v.max(), v.mean(dtype=np.float64), v.std(dtype=np.float64)))
    assert abs(ours["std"] - peer[3]) < 1e-6 * peer[3]
    row("min/max/mean/std, 512×512×256", t, "numpy", tp)
    t, (counts, _) = best_of(n, lambda: hf.histogram(v, 256, (-1000.0, 1000.0), backend="cpu"))
    tp, (pc, _) = best_of(n, lambda: np.histogram(v, 256, (-1000.0, 1000.0)))
    assert np.array_equal(counts, pc), "histogram differs from numpy"
    row("histogram 256 bins, 512×512×256", t, "`numpy.histogram`", tp)
    t, ours = best_of(n, lambda: hf.threshold_otsu(v, backend="cpu"))
    tp, peer = best_of(n, lambda: skimage.filters.threshold_otsu(v))
    assert abs(ours - peer) <= 1e-5 * abs(peer) + 1e-3, (ours, peer)
    row("Otsu, 512×512×256", t, "`skimage.filters.threshold_otsu`", tp)
    t, _ = best_of(n, lambda: hf.sigmoid(v, 0.5, 10.0, backend="cpu"))
    with np.errstate(over="ignore"):
        tp, _ = best_of(n, lambda: 1.0 / (1.0 + np.exp(np.float32(10.0) * (np.float32(0.5) - v))))
    row("sigmoid curve, 512×512×256", t, "numpy", tp)


if __name__ == "__main__":
    main()

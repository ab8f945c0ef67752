"""hounsfield from Python against the tools a Python team uses, in one run on the same arrays:
scipy.ndimage, SimpleITK, a numba @njit(parallel=True) loop (the first remedy teams reach
for), and hounsfield on the CPU and the GPU. Also: what the bindings cost over the Rust call,
and four Python threads against one after another (the GIL is released).

    python scripts/python_bindings_bench.py [--shape 256 512 512] [--runs 3]

Needs the hounsfield package (scripts/test.sh builds it into target/venv), numpy, scipy;
SimpleITK and numba are optional. Prints a Markdown table.
"""
import argparse
import statistics
import sys
import threading
import time

import numpy as np
import scipy.ndimage as ndi

import hounsfield as h


def median_time(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def numba_loops():
    """The numba loops of the peers script (median and box mean over 3x3x3)."""
    from python_peers import numba_kernels  # this folder is on sys.path when run as a script

    k = numba_kernels()
    return {"median": k["median3"], "uniform": k["box3"]} if k else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[256, 512, 512])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    shape = tuple(args.shape)
    vol = (np.random.default_rng(0).random(shape, dtype=np.float32) * 2000 - 1000).astype(np.float32)
    try:
        import SimpleITK as sitk

        img = sitk.GetImageFromArray(vol)
    except ImportError:
        sitk = None
    loops = numba_loops()
    try:
        adapter = h.gpu_adapter()
        software = "software" in adapter
    except h.GpuError:
        adapter, software = None, False

    cases = {
        "gaussian, sigma 2": {
            "scipy.ndimage": lambda: ndi.gaussian_filter(vol, 2.0),
            "SimpleITK": (lambda: sitk.SmoothingRecursiveGaussian(img, 2.0)) if sitk else None,
            "hounsfield CPU": lambda: h.gaussian_filter(vol, 2.0, backend="cpu"),
        },
        "median 3x3x3": {
            "scipy.ndimage": lambda: ndi.median_filter(vol, 3),
            "SimpleITK": (lambda: sitk.Median(img, [1, 1, 1])) if sitk else None,
            "numba parallel": (lambda: loops["median"](vol)) if loops else None,
            "hounsfield CPU": lambda: h.median_filter(vol, 3, backend="cpu"),
        },
        "uniform 3x3x3": {
            "scipy.ndimage": lambda: ndi.uniform_filter(vol, 3),
            "numba parallel": (lambda: loops["uniform"](vol)) if loops else None,
            "hounsfield CPU": lambda: h.uniform_filter(vol, 3, backend="cpu"),
        },
    }
    if adapter:
        label = "hounsfield GPU" + (" (software adapter: a CPU)" if software else "")
        cases["gaussian, sigma 2"][label] = lambda: h.gaussian_filter(vol, 2.0, backend="gpu")
        cases["median 3x3x3"][label] = lambda: h.median_filter(vol, 3, backend="gpu")
        cases["uniform 3x3x3"][label] = lambda: h.uniform_filter(vol, 3, backend="gpu")

    print(f"volume {shape[2]}x{shape[1]}x{shape[0]} float32; median of {args.runs} runs after a warm-up; GPU: {adapter}")
    print()
    print("| operation | tool | time | hounsfield CPU is |")
    print("|---|---|---|---|")
    for name, tools in cases.items():
        times = {tool: median_time(fn, args.runs) for tool, fn in tools.items() if fn is not None}
        ours = times["hounsfield CPU"]
        for tool, t in times.items():
            ratio = "—" if tool == "hounsfield CPU" else f"{t / ours:.1f}x faster" if t > ours else f"{ours / t:.1f}x slower"
            print(f"| {name} | {tool} | {t * 1e3:.0f} ms | {ratio} |", flush=True)

    # What the bindings add: the fixed cost of a call (measured on a 4x4x4 volume, kernel
    # included, so an upper bound) against the full call; the input is not copied (float32,
    # C order) and the output is handed over without a copy.
    tiny = np.zeros((4, 4, 4), np.float32)
    fixed = median_time(lambda: [h.gaussian_filter(tiny, 2.0, backend="cpu") for _ in range(100)], args.runs) / 100
    full = median_time(lambda: h.gaussian_filter(vol, 2.0, backend="cpu"), args.runs)
    print()
    print(f"bindings: a call costs at most {fixed * 1e6:.0f} µs beyond the kernel "
          f"({100 * fixed / full:.3f} % of the {full * 1e3:.0f} ms Gaussian at this size)")

    # Threads: four volumes filtered one after another, then by four Python threads.
    parts = [vol[i::4].copy() for i in range(4)]
    serial = median_time(lambda: [h.median_filter(p, 3, backend="cpu") for p in parts], args.runs)

    def threaded():
        ts = [threading.Thread(target=h.median_filter, args=(p, 3), kwargs={"backend": "cpu"}) for p in parts]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    parallel = median_time(threaded, args.runs)
    print(f"threads: four median filters one after another {serial * 1e3:.0f} ms, in four Python threads "
          f"{parallel * 1e3:.0f} ms ({serial / parallel:.2f}x; each call already uses every core)")


if __name__ == "__main__":
    sys.exit(main())

"""Times the Python references the CPU Gaussian is compared against (issue 2).

Usage: python3 scripts/python_baseline.py [--shape 256 512 512] [--sigma 2.0] [--repeat 3]

Prints the best-of-N wall time of scipy.ndimage.gaussian_filter (float32 output)
and SimpleITK.SmoothingRecursiveGaussian on the same random f32 volume.
Run it in the same session as `cargo bench --bench gaussian` to compare.
"""
import argparse
import os
import time

import numpy as np


def best_of(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", type=int, nargs=3, default=[256, 512, 512])
    ap.add_argument("--sigma", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    vol = rng.random(tuple(args.shape), dtype=np.float32)
    print(f"volume {tuple(args.shape)} f32, sigma {args.sigma}, cores {os.cpu_count()}")

    import scipy
    import scipy.ndimage as ndi

    t = best_of(lambda: ndi.gaussian_filter(vol, args.sigma, output=np.float32), args.repeat)
    print(f"scipy {scipy.__version__} gaussian_filter: {t * 1e3:.1f} ms")

    import SimpleITK as sitk

    img = sitk.GetImageFromArray(vol)
    print(f"SimpleITK threads: {sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()}")
    t = best_of(lambda: sitk.SmoothingRecursiveGaussian(img, args.sigma), args.repeat)
    print(f"SimpleITK {sitk.Version.VersionString()} SmoothingRecursiveGaussian: {t * 1e3:.1f} ms")


if __name__ == "__main__":
    main()

"""Watershed side by side: hounsfield against scikit-image in one process, on the harness's
CT-like mask (512×512×256 at --scale 1), splitting it from markers in three common ways:

- core:  markers = label(distance > 2)      (large seeds; heights are square roots of integers)
- peaks: markers = labelled local maxima of the distance map (the scikit-image gallery's recipe)
- noisy: peaks of a Gaussian-smoothed distance map plus 1e-6 noise (no two heights equal)

Each run checks that the labels are equal to scikit-image's, then prints the best of --runs.
Requires the package built into the environment (scripts/test.sh does that) and scikit-image.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import watershed as skimage_watershed

sys.path.insert(0, str(Path(__file__).parent))
from python_peers import ct_mask  # noqa: E402

import hounsfield  # noqa: E402


def cases(mask):
    distance = ndi.distance_transform_edt(mask)
    core, _ = ndi.label(distance > 2.0)
    yield "core", -distance, core
    peaks, _ = ndi.label((distance == ndi.maximum_filter(distance, 3)) & (distance > 1.5))
    yield "peaks", -distance, peaks
    smooth = ndi.gaussian_filter(distance, 1.0)
    smooth_peaks, _ = ndi.label((smooth == ndi.maximum_filter(smooth, 3)) & (smooth > 1.5) & mask)
    noise = np.random.default_rng(1).random(mask.shape) * 1e-6
    yield "noisy", -smooth + noise, smooth_peaks


def best(fn, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 512×512×256 per axis")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated case names")
    args = parser.parse_args()
    shape = tuple(max(int(round(n * args.scale)), 8) for n in (256, 512, 512))
    mask = ct_mask(shape) > 0
    print(f"watershed on a {shape[2]}×{shape[1]}×{shape[0]} CT-like mask ({mask.sum():,} samples inside)")
    for name, image, markers in cases(mask):
        if args.only and name not in args.only.split(","):
            continue
        ours, got = best(lambda: hounsfield.watershed(image, markers, mask=mask), args.runs)
        theirs, want = best(lambda: skimage_watershed(image, markers, mask=mask), args.runs)
        assert np.array_equal(got, want), f"{name}: labels differ from scikit-image"
        print(f"{name:6s} {int(markers.max()):5d} markers: hounsfield {ours:6.2f} s, scikit-image {theirs:6.2f} s, {theirs / ours:4.1f}× (labels equal)")


if __name__ == "__main__":
    main()

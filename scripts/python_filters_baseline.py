"""Times the Python references of the filter set (issue 5) on the volumes the criterion bench
`cargo bench --bench filters` uses, so the two can be compared in one session.

Usage: python3 scripts/python_filters_baseline.py [--repeat 3] [--only NAME ...]
Needs numpy, scipy, scikit-image, SimpleITK. Prints the best-of-N wall time per case.
"""
import argparse
import time

import numpy as np
import scipy.ndimage as ndi
import SimpleITK as sitk
import skimage.filters
import skimage.morphology

FULL = (256, 512, 512)
THIN = (64, 512, 512)
CUBE = (256, 256, 256)


def volume(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(shape, dtype=np.float32) * 2000 - 1000).astype(np.float32)


def window(v, c=40.0, w=400.0):
    # DICOM LINEAR window to [0, 1], as numpy users write it.
    return np.clip((v - (c - 0.5)) / (w - 1) + 0.5, 0.0, 1.0)


def cases():
    thin, full, cube = volume(THIN), volume(FULL), volume(CUBE)
    sthin, scube = sitk.GetImageFromArray(thin), sitk.GetImageFromArray(cube)
    sfull = sitk.GetImageFromArray(full)
    sfull_mm = sitk.GetImageFromArray(full)
    sfull_mm.SetSpacing((0.7, 0.7, 2.5))
    return {
        "median_r1 scipy": lambda: ndi.median_filter(thin, size=3),
        "median_r1 sitk": lambda: sitk.Median(sthin, [1, 1, 1]),
        "median_r2 scipy": lambda: ndi.median_filter(thin, size=5),
        "median_r2 sitk": lambda: sitk.Median(sthin, [2, 2, 2]),
        "bilateral_d1_r50 sitk": lambda: sitk.Bilateral(scube, 1.0, 50.0),
        "uniform3 scipy": lambda: ndi.uniform_filter(full, 3),
        "sobel_magnitude scipy": lambda: np.sqrt(sum(ndi.sobel(full, axis=a) ** 2 for a in range(3))),
        "laplace scipy": lambda: ndi.laplace(full),
        "gaussian_gradient_magnitude_s2 scipy": lambda: ndi.gaussian_gradient_magnitude(full, 2.0),
        "gaussian_gradient_magnitude_s2 sitk": lambda: sitk.GradientMagnitudeRecursiveGaussian(sfull, 2.0),
        "grey_erosion_box1 scipy": lambda: ndi.grey_erosion(full, size=3),
        "grey_erosion_box1 sitk": lambda: sitk.GrayscaleErode(sfull, [1, 1, 1], sitk.sitkBox),
        "grey_dilation_ball2 scipy": lambda: ndi.grey_dilation(thin, footprint=skimage.morphology.ball(2).astype(bool)),
        "binary_opening_cross scipy": lambda: ndi.binary_opening(full > 0),
        "window_soft_tissue numpy": lambda: window(full),
        "threshold numpy": lambda: ((full >= -100) & (full <= 300)).astype(np.float32),
        "threshold sitk": lambda: sitk.BinaryThreshold(sfull, -100, 300, 1, 0),
        "stats numpy": lambda: (np.nanmin(full), np.nanmax(full), np.nanmean(full), np.nanstd(full)),
        "histogram256 numpy": lambda: np.histogram(full, 256, (-1000.0, 1000.0)),
        "otsu skimage": lambda: skimage.filters.threshold_otsu(full),
        "gaussian_laplace_s2 scipy": lambda: ndi.gaussian_laplace(full, 2.0),
        "unsharp_r2 skimage": lambda: skimage.filters.unsharp_mask(full, radius=2.0, amount=1.0, preserve_range=True),
        "correlate_3x3x3 scipy": lambda: ndi.correlate(full, np.full((3, 3, 3), 1 / 27)),
        "diffusion_gradient_5it sitk": lambda: sitk.GradientAnisotropicDiffusion(scube, 0.0625, 3.0, 1, 5),
        "diffusion_curvature_5it sitk": lambda: sitk.CurvatureAnisotropicDiffusion(scube, 0.0625, 3.0, 1, 5),
        "fill_holes scipy": lambda: ndi.binary_fill_holes((full >= 0) & (full <= 1000)),
        "resample_to_1mm scipy": lambda: ndi.zoom(full, (2.5, 0.7, 0.7), order=1),
        "resample_to_1mm sitk": lambda: sitk.Resample(
            sfull_mm, [round(512 * 0.7), round(512 * 0.7), round(256 * 2.5)], sitk.Transform(), sitk.sitkLinear,
            sfull_mm.GetOrigin(), (1.0, 1.0, 1.0), sfull_mm.GetDirection(), 0.0, sitk.sitkFloat32),
        "mip_z numpy": lambda: np.nanmax(full, axis=0),
        "mip_render_30deg scipy(rotate+max)": lambda: ndi.rotate(full, 30.0, axes=(1, 2), order=1).max(axis=2),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    print(f"SimpleITK threads: {sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()}")
    for name, fn in cases().items():
        if args.only and not any(o in name for o in args.only):
            continue
        reps = 1 if ("sitk" in name and "bilateral" in name) or "median_r2 scipy" in name else args.repeat
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        print(f"{name:45s} {best * 1e3:10.1f} ms", flush=True)


if __name__ == "__main__":
    main()

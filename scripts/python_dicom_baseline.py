"""Loads the series `cargo bench --bench dicom` generates with SimpleITK's ImageSeriesReader and
with pydicom (read every file, sort by position along the normal, rescale, stack), best of 3.
Usage: python3 scripts/python_dicom_baseline.py target/dicom_bench_series
Needs numpy, SimpleITK and pydicom."""
import glob
import os
import sys
import time

import numpy as np


def best_of(n, f):
    best = float("inf")
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def main(folder):
    files = sorted(glob.glob(os.path.join(folder, "*.dcm")))
    size = sum(os.path.getsize(f) for f in files) / 1e6

    import SimpleITK as sitk

    def sitk_load():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
        return sitk.GetArrayFromImage(reader.Execute())

    t = best_of(3, sitk_load)
    print(f"SimpleITK {sitk.Version_VersionString()} ImageSeriesReader: {t:.2f} s, {size / t:.0f} MB/s "
          f"({sitk.ProcessObject_GetGlobalDefaultNumberOfThreads()} threads)")

    import pydicom

    def pydicom_load():
        slices = [pydicom.dcmread(f) for f in files]
        normal = np.cross(*np.array(slices[0].ImageOrientationPatient, dtype=float).reshape(2, 3))
        slices.sort(key=lambda s: float(np.dot(np.array(s.ImagePositionPatient, dtype=float), normal)))
        return np.stack([s.pixel_array * float(s.RescaleSlope) + float(s.RescaleIntercept) for s in slices]).astype(np.float32)

    t = best_of(3, pydicom_load)
    print(f"pydicom {pydicom.__version__}: {t:.2f} s, {size / t:.0f} MB/s (one thread)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/dicom_bench_series")

"""Times scikit-image's iradon on the problem `cargo bench --bench recon` solves: FBP of a
512×512 image from 720 parallel views (ramp filter, circle). Usage: python3 scripts/python_recon_baseline.py
Needs numpy and scikit-image."""
import time

import numpy as np
from skimage.data import shepp_logan_phantom
from skimage.transform import iradon, radon, resize


def main():
    image = resize(shepp_logan_phantom(), (512, 512))
    theta = np.linspace(0.0, 180.0, 720, endpoint=False)
    sino = radon(image, theta=theta, circle=True).astype(np.float32)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        iradon(sino, theta=theta, filter_name="ramp")
        best = min(best, time.perf_counter() - t0)
    print(f"scikit-image iradon 512x512, 720 views: {best * 1e3:.1f} ms (best of 3)")


if __name__ == "__main__":
    main()

"""Smoke test of an installed hounsfield wheel, in a clean environment with numpy only (no
scipy, no Rust toolchain): the compiled module loads, the scipy-named filters answer on the CPU
(and on the GPU when one is present), the dtype rule holds, errors are exceptions, and nothing
is printed on start-up. Run by scripts/test.sh against numpy 1.26; prints one summary line."""

import contextlib
import io
import sys

import numpy as np

stderr = io.StringIO()
with contextlib.redirect_stderr(stderr):
    import hounsfield as h

    adapters = h.gpu_adapters()

assert "site-packages" in h.__file__, f"hounsfield imported from {h.__file__}, not the installed wheel"

rng = np.random.default_rng(7)
volume = rng.normal(0.0, 100.0, (6, 20, 18)).astype(np.float32)

# A Gaussian keeps a constant image and the mean of any image with reflect (mass-preserving).
flat = np.full((8, 9), 3.5, np.float32)
np.testing.assert_allclose(h.gaussian_filter(flat, 1.5, backend="cpu"), flat, rtol=1e-6)
assert abs(float(h.gaussian_filter(volume, 1.0, mode="wrap", backend="cpu").mean()) - float(volume.mean())) < 1e-3

# Median of a 3x3 box, checked against numpy's median of the same windows.
image = rng.integers(0, 1000, (7, 8)).astype(np.int16)
padded = np.pad(image, 1, mode="symmetric")  # scipy's "reflect"
windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3))
np.testing.assert_array_equal(h.median_filter(image, 3, backend="cpu"), np.median(windows, axis=(2, 3)).astype(np.int16))

# The dtype rule: uint16 derivatives wrap as scipy's do; even windows and output= work.
ramp = np.tile(np.arange(10, 0, -1, dtype=np.uint16), (3, 1))
assert h.sobel(ramp, axis=1, backend="cpu").dtype == np.uint16
assert int(h.sobel(ramp, axis=1, backend="cpu")[1, 5]) == 65536 - 8
out = np.zeros(image.shape, np.float64)
assert h.uniform_filter(image, 4, output=out, backend="cpu") is out

# Errors are exceptions.
try:
    h.gaussian_filter(volume, -1.0)
except ValueError:
    pass
else:
    raise AssertionError("a negative sigma was accepted")

if adapters:
    np.testing.assert_allclose(
        h.gaussian_filter(volume, 1.0, backend="gpu"), h.gaussian_filter(volume, 1.0, backend="cpu"), atol=1e-3
    )

assert stderr.getvalue() == "", f"start-up printed {stderr.getvalue()!r}"
print(f"wheel smoke test passed: numpy {np.__version__}, Python {sys.version.split()[0]}, {len(adapters)} GPU adapter(s)")

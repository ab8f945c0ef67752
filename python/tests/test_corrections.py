"""Projection-domain corrections through the Python package: tomopy's normalize / minus_log
(its formulas in numpy float32), algotom's remove_stripe_based_sorting (committed fixtures of
tests/fixtures/generate_corrections.py), the water linearisation and the noise model."""

import pathlib

import numpy as np
import pytest

import hounsfield as h

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "corrections"


def _tomopy_normalize(arr, flat, dark, cutoff=None):
    # tomopy.prep.normalize.normalize, written out.
    f = np.mean(flat, axis=0, dtype=np.float32)
    d = np.mean(dark, axis=0, dtype=np.float32)
    denom = f - d
    denom = np.where(denom < np.float32(1e-6), np.float32(1e-6), denom)
    out = (arr - d) / denom
    if cutoff is not None:
        out = np.where(out > np.float32(cutoff), np.float32(cutoff), out)
    return out


def test_normalize_and_minus_log_follow_tomopy(backend, rng):
    arr = (rng.random((8, 6, 9)) * 900 + 50).astype(np.float32)
    flat = (rng.random((5, 6, 9)) * 100 + 1000).astype(np.float32)
    dark = (rng.random((2, 6, 9)) * 20 + 10).astype(np.float32)
    got = h.normalize(arr, flat, dark, backend=backend)
    np.testing.assert_allclose(got, _tomopy_normalize(arr, flat, dark), rtol=1e-6)
    np.testing.assert_allclose(h.normalize(arr, flat, dark, cutoff=0.5, backend=backend), _tomopy_normalize(arr, flat, dark, 0.5), rtol=1e-6)
    # 2D flat and dark images are one-image stacks.
    np.testing.assert_allclose(h.normalize(arr, flat[0], dark[0], backend=backend), _tomopy_normalize(arr, flat[:1], dark[:1]), rtol=1e-6)
    np.testing.assert_allclose(h.minus_log(got, backend=backend), -np.log(got), rtol=2e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        edge = np.array([[0.0, -1.0, 1.0]], np.float32)
        assert np.array_equal(h.minus_log(edge, backend=backend), -np.log(edge), equal_nan=True)
    np.testing.assert_allclose(h.minus_log(edge, floor=1e-4, backend=backend), [[-np.log(1e-4), -np.log(1e-4), 0.0]], rtol=1e-6)


def test_stripe_removal_equals_algotom(backend):
    stack = np.load(FIXTURES / "stripes_input.npy")
    for size, dim in [(5, 1), (21, 1), (5, 2)]:
        want = np.load(FIXTURES / f"stripes_size{size}_dim{dim}.npy")
        np.testing.assert_array_equal(h.remove_stripe_based_sorting(stack, size, dim, backend=backend), want)
        # One sinogram (views, cols) at a time, as algotom takes it.
        np.testing.assert_array_equal(h.remove_stripe_based_sorting(stack[:, 1, :], size, dim, backend=backend), want[:, 1, :])
    with pytest.raises(ValueError, match="odd"):
        h.remove_stripe_based_sorting(stack, 4)
    with pytest.raises(ValueError, match="dim"):
        h.remove_stripe_based_sorting(stack, 5, 3)


def test_water_linearisation_and_noise(backend):
    # A made-up hardening curve p = 0.02 L - 5e-6 L²: the fit inverts it on the calibration
    # (1e-5 at most, measured).
    length = np.linspace(0.0, 300.0, 31)
    measured = 0.02 * length - 5e-6 * length**2
    coefficients = h.water_correction(measured, 0.02 * length, degree=4)
    corrected = h.linearize_water(measured[None, :].astype(np.float32), coefficients, backend=backend)
    np.testing.assert_allclose(corrected[0], 0.02 * length, atol=1e-4)
    p = np.full((20, 30, 40), 2.0, np.float32)
    counts = h.simulate_noise(p, 1e4, seed=1, counts=True)
    lam = 1e4 * np.exp(-2.0)
    assert abs(counts.mean() - lam) < 5 * np.sqrt(lam / counts.size) and abs(counts.var() / lam - 1) < 0.05
    noisy = h.simulate_noise(p, 1e4, electronic=5.0, seed=1)
    assert abs(noisy.mean() - 2.0) < 2e-3 and np.array_equal(noisy, h.simulate_noise(p, 1e4, electronic=5.0, seed=1))
    with pytest.raises(ValueError, match="photons"):
        h.simulate_noise(p, 0.0)

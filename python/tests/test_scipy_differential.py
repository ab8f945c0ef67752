"""Differential test against live scipy.ndimage: seeded random calls (functions, dtypes, 1D-3D
shapes, odd and even windows, footprints, origins, axes, per-axis modes, every mode, output
dtypes, C / Fortran / strided layouts) replayed through hounsfield.

The dtype rule (hounsfield/__init__.py): on the CPU every dtype other than float32 gives
scipy's bytes exactly (scipy's per-pass arithmetic in double); float32 runs the float32 kernels
and agrees to float32 rounding (and exactly for order statistics); ``precision="scipy"`` gives
scipy's float32 bytes too. On the GPU (lavapipe in CI) float32 agrees to float32 rounding.
"""

import numpy as np
import pytest
import scipy.ndimage as ndi

import hounsfield as h
from conftest import GPU

# CI sets HOUNSFIELD_REQUIRE_GPU=1, so conftest fails there without an adapter (no silent skip).
requires_gpu = pytest.mark.skipif(not GPU, reason="no GPU adapter")

SEED = 20261202
MODES = ["reflect", "mirror", "nearest", "wrap", "constant", "grid-mirror", "grid-wrap", "grid-constant"]
INTERPOLATION_MODES = MODES
DTYPES = [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.float32, np.float64, np.bool_]
ORDER_STATISTICS = {"median_filter", "rank_filter", "percentile_filter", "minimum_filter", "maximum_filter",
                    "minimum_filter1d", "maximum_filter1d", "grey_erosion", "grey_dilation", "grey_opening", "grey_closing"}


def _data(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) > 0.5
    if dtype.kind == "f":
        return (rng.normal(0.0, 300.0, shape)).astype(dtype)
    info = np.iinfo(dtype)
    low, high = max(info.min, -2000), min(info.max, 2000)
    if dtype.itemsize == 1 or dtype == np.uint16:
        low, high = info.min, info.max
    return rng.integers(low, high, shape, endpoint=True).astype(dtype)


def _layout(rng, a):
    kind = rng.integers(3)
    if kind == 1:
        return np.asfortranarray(a)
    if kind == 2:
        bigger = np.zeros(tuple(2 * n for n in a.shape), a.dtype)
        bigger[tuple(slice(None, None, 2) for _ in a.shape)] = a
        return bigger[tuple(slice(None, None, 2) for _ in a.shape)]
    return a


def _origin(rng, size):
    return int(rng.integers(-(size // 2), (size - 1) // 2 + 1))


def _mode(rng, ndim, separable):
    if separable and rng.random() < 0.2:
        return [MODES[i] for i in rng.integers(len(MODES), size=ndim)]
    return MODES[rng.integers(len(MODES))]


def _footprint(rng, ndim):
    fp = rng.random(tuple(int(n) for n in rng.integers(1, 4, ndim))) > 0.35
    fp.flat[rng.integers(fp.size)] = True
    return fp


def _call(rng, ndim):
    """(function name, args after the input, kwargs) of one random scipy call."""
    sizes = [int(s) for s in rng.integers(1, 6, ndim)]
    size = sizes if rng.random() < 0.5 else sizes[0]
    cval = float(np.round(rng.uniform(-300.0, 300.0), 2))
    pick = rng.integers(24)
    effective = sizes if isinstance(size, list) else [size] * ndim
    origins = [_origin(rng, s) for s in effective] if rng.random() < 0.3 else 0
    if pick == 0:
        sigma = [float(s) for s in rng.uniform(0.3, 2.5, ndim)]
        kw = dict(mode=_mode(rng, ndim, True), cval=cval, truncate=float(rng.choice([4.0, 3.0, 2.5])))
        if rng.random() < 0.3:
            kw["order"] = [int(o) for o in rng.integers(0, 3, ndim)]
        if rng.random() < 0.15:
            kw["radius"] = int(rng.integers(1, 5))
        return "gaussian_filter", (sigma,), kw
    if pick == 1:
        return "gaussian_filter1d", (float(rng.uniform(0.4, 3.0)),), dict(axis=int(rng.integers(-ndim, ndim)), order=int(rng.integers(0, 3)), mode=_mode(rng, 1, False), cval=cval)
    if pick == 2:
        return "uniform_filter", (), dict(size=size, origin=origins, mode=_mode(rng, ndim, True), cval=cval)
    if pick == 3:
        n = int(rng.integers(1, 7))
        return "uniform_filter1d", (n,), dict(axis=int(rng.integers(ndim)), origin=_origin(rng, n), mode=_mode(rng, 1, False), cval=cval)
    if pick in (4, 5):
        if rng.random() < 0.4:
            return "median_filter", (), dict(footprint=_footprint(rng, ndim), mode=_mode(rng, ndim, False), cval=cval)
        return "median_filter", (), dict(size=size, origin=origins, mode=_mode(rng, ndim, False), cval=cval)
    if pick == 6:
        fp = _footprint(rng, ndim)
        return "rank_filter", (int(rng.integers(-int(fp.sum()), int(fp.sum()))),), dict(footprint=fp, mode=_mode(rng, ndim, False), cval=cval)
    if pick == 7:
        return "percentile_filter", (float(rng.uniform(-100, 100)),), dict(size=size, mode=_mode(rng, ndim, False), cval=cval)
    if pick == 8:
        name = ["minimum_filter", "maximum_filter"][rng.integers(2)]
        if rng.random() < 0.5:
            return name, (), dict(footprint=_footprint(rng, ndim), mode=_mode(rng, ndim, False), cval=cval)
        return name, (), dict(size=size, origin=origins, mode=_mode(rng, ndim, True), cval=cval)
    if pick == 9:
        n = int(rng.integers(1, 7))
        name = ["minimum_filter1d", "maximum_filter1d"][rng.integers(2)]
        return name, (n,), dict(axis=int(rng.integers(ndim)), origin=_origin(rng, n), mode=_mode(rng, 1, False), cval=cval)
    if pick == 10:
        n = int(rng.integers(1, 6))
        weights = [float(w) for w in np.round(rng.normal(size=n), 3)]
        name = ["correlate1d", "convolve1d"][rng.integers(2)]
        return name, (weights,), dict(axis=int(rng.integers(ndim)), origin=_origin(rng, n), mode=_mode(rng, 1, False), cval=cval)
    if pick == 11:
        kernel = np.round(rng.normal(size=tuple(int(s) for s in rng.integers(1, 4, ndim))), 3)
        name = ["correlate", "convolve"][rng.integers(2)]
        origin = [_origin(rng, s) for s in kernel.shape] if rng.random() < 0.3 else 0
        return name, (kernel,), dict(origin=origin, mode=_mode(rng, ndim, False), cval=cval)
    if pick == 12:
        name = ["sobel", "prewitt"][rng.integers(2)]
        return name, (), dict(axis=int(rng.integers(-ndim, ndim)), mode=_mode(rng, ndim, True), cval=cval)
    if pick == 13:
        return "laplace", (), dict(mode=_mode(rng, ndim, True), cval=cval)
    if pick in (14, 15):
        name = ["gaussian_laplace", "gaussian_gradient_magnitude"][pick - 14]
        return name, (float(rng.uniform(0.5, 2.0)),), dict(mode=_mode(rng, ndim, True), cval=cval)
    if pick == 20:
        kw = dict(order=int(rng.integers(0, 6)), mode=INTERPOLATION_MODES[rng.integers(len(INTERPOLATION_MODES))], cval=cval)
        if rng.random() < 0.3:
            kw["grid_mode"] = True
        factors = [float(f) for f in np.round(rng.uniform(0.3, 2.5, ndim), 2)]
        return "zoom", (factors if rng.random() < 0.5 else factors[0],), kw
    if pick == 21:
        kw = dict(order=int(rng.integers(0, 6)), mode=INTERPOLATION_MODES[rng.integers(len(INTERPOLATION_MODES))], cval=cval)
        return "shift", ([float(s) for s in np.round(rng.uniform(-3, 3, ndim), 2)],), kw
    if pick == 22:
        kw = dict(order=int(rng.integers(0, 6)), mode=INTERPOLATION_MODES[rng.integers(len(INTERPOLATION_MODES))], cval=cval)
        return "map_coordinates", (rng.uniform(-2.0, 12.0, (ndim, 3, 4)),), kw
    if pick == 23:
        kw = dict(order=int(rng.integers(0, 6)), mode=INTERPOLATION_MODES[rng.integers(len(INTERPOLATION_MODES))], cval=cval)
        matrix = np.eye(ndim) + rng.normal(0.0, 0.3, (ndim, ndim))
        if rng.random() < 0.3:
            matrix = np.diag(matrix)
        return "affine_transform", (matrix, [float(o) for o in rng.normal(0.0, 2.0, ndim)]), kw
    name = ["grey_erosion", "grey_dilation", "grey_opening", "grey_closing"][pick - 16]
    roll = rng.random()
    if roll < 0.3:
        return name, (), dict(footprint=_footprint(rng, ndim), mode=_mode(rng, ndim, False), cval=cval)
    if roll < 0.45:
        fp = _footprint(rng, ndim)
        return name, (), dict(structure=rng.integers(0, 4, fp.shape).astype(float), footprint=fp, mode=_mode(rng, ndim, False), cval=cval)
    return name, (), dict(size=size, origin=origins, mode=_mode(rng, ndim, True), cval=cval)


RANK_FILTERS = ("median_filter", "rank_filter", "percentile_filter")


def _scipy_disagrees_with_itself(a, name, kwargs):
    """scipy's 1D rank filters take a separate code path whose mirror extension of an array
    shorter than half the window differs from its N-D path (median_filter([1., 2.], 5,
    mode="mirror") gives [1, 1], the same row as a 2D image [1, 2]); hounsfield follows the N-D
    rule, so such calls are not compared. Nor are 1D rank filters into another output dtype:
    that path writes the input's type into the output buffer (median_filter(float32[1], 4,
    output=np.float64) returns uninitialised doubles)."""
    if a.ndim != 1 or name not in RANK_FILTERS or kwargs.get("mode") != "mirror":
        return False
    window = np.shape(kwargs["footprint"])[0] if "footprint" in kwargs else np.ravel(kwargs.get("size", 1))[0]
    return window // 2 >= a.shape[0]


def _cases(seed, count, dtypes, ndims):
    rng = np.random.default_rng(seed)
    for index in range(count):
        ndim = int(rng.choice(ndims))
        shape = tuple(int(n) for n in rng.integers(1, 12, ndim))
        if rng.random() < 0.1:
            shape = tuple(min(n, 2) for n in shape)
        dtype = dtypes[rng.integers(len(dtypes))]
        a = _layout(rng, _data(rng, shape, dtype))
        name, args, kwargs = _call(rng, ndim)
        if _scipy_disagrees_with_itself(a, name, kwargs):
            kwargs["mode"] = "reflect"
        one_d_rank = a.ndim == 1 and name in RANK_FILTERS
        if rng.random() < 0.15 and name not in ("gaussian_gradient_magnitude", "zoom", "map_coordinates", "affine_transform") and not one_d_rank:
            kwargs["output"] = [np.float32, np.float64, np.int32, np.uint8][rng.integers(4)]
        yield index, a, name, args, kwargs


def _agree(name, a, ref, got, exact):
    assert got.dtype == ref.dtype, f"{name}: dtype {got.dtype}, scipy {ref.dtype}"
    assert got.shape == ref.shape
    if exact or name in ORDER_STATISTICS:
        np.testing.assert_array_equal(got, ref, err_msg=f"{name} on {a.dtype} {a.shape}")
    else:
        # float32 rounding scales with the values that enter the sums (derivatives of large
        # values can cancel to small results).
        scale = max(float(np.abs(ref.astype(np.float64)).max(initial=0.0)), float(np.abs(a.astype(np.float64)).max(initial=0.0))) + 1.0
        np.testing.assert_allclose(got.astype(np.float64), ref.astype(np.float64), rtol=0, atol=2e-6 * scale, err_msg=f"{name} on {a.dtype} {a.shape}")


def _describe(index, a, name, args, kwargs):
    shown = {k: (v.shape if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    return f"call {index}: {name}({a.dtype}{list(a.shape)}, {args}, {shown})"


def test_cpu_equals_scipy_for_every_dtype():
    """Several hundred random calls on the CPU: scipy's bytes for every dtype except float32
    (float32 rounding there; exact for order statistics and for the interpolators, which run
    scipy's double arithmetic whenever the float32 kernels do not apply)."""
    checked = 0
    for index, a, name, args, kwargs in _cases(SEED, 800, DTYPES, (1, 2, 3)):
        try:
            ref = getattr(ndi, name)(a, *args, **kwargs)
        except (ValueError, RuntimeError):
            # scipy refuses the call: so must hounsfield (with a ValueError).
            with pytest.raises(ValueError):
                getattr(h, name)(a, *args, backend="cpu", **kwargs)
            continue
        try:
            got = getattr(h, name)(a, *args, backend="cpu", **kwargs)
            out_float32 = np.dtype(kwargs.get("output", a.dtype)) == np.float32
            _agree(name, a, ref, got, exact=not (a.dtype == np.float32 and out_float32))
        except AssertionError as e:
            raise AssertionError(_describe(index, a, name, args, kwargs)) from e
        checked += 1
    assert checked == 800


def test_float32_with_scipy_precision_is_bit_exact():
    """``precision="scipy"`` runs float32 through scipy's double passes too: scipy's bytes."""
    for index, a, name, args, kwargs in _cases(SEED + 1, 200, [np.float32], (1, 2, 3)):
        ref = getattr(ndi, name)(a, *args, **kwargs)
        got = getattr(h, name)(a, *args, backend="cpu", precision="scipy", **kwargs)
        try:
            _agree(name, a, ref, got, exact=True)
        except AssertionError as e:
            raise AssertionError(_describe(index, a, name, args, kwargs)) from e


@requires_gpu
def test_gpu_float32_agrees_with_scipy():
    """float32 calls the GPU kernels take (2D/3D, odd centred windows, one mode), on the GPU."""
    rng = np.random.default_rng(SEED + 2)
    calls = [
        ("gaussian_filter", lambda: (float(rng.uniform(0.5, 2.0)),), {}),
        ("uniform_filter", lambda: (), {"size": 3}),
        ("median_filter", lambda: (), {"size": 3}),
        ("minimum_filter", lambda: (), {"size": (3, 1, 3)[: 3]}),
        ("sobel", lambda: (), {"axis": int(rng.integers(2))}),
        ("prewitt", lambda: (), {"axis": 0}),
        ("laplace", lambda: (), {}),
        ("gaussian_laplace", lambda: (1.2,), {}),
        ("gaussian_gradient_magnitude", lambda: (0.9,), {}),
        ("correlate1d", lambda: ([0.25, 0.5, -0.75],), {"axis": 1}),
        ("grey_dilation", lambda: (), {"size": 3}),
        ("correlate", lambda: (None,), {}),
    ]
    checked = 0
    for index in range(60):
        ndim = int(rng.choice([2, 3]))
        a = _layout(rng, _data(rng, tuple(int(n) for n in rng.integers(3, 14, ndim)), np.float32))
        name, make_args, kwargs = calls[index % len(calls)]
        args = make_args()
        if name == "correlate":
            args = (np.round(rng.normal(size=(3,) * ndim), 3),)
        if name == "minimum_filter":
            kwargs = {"size": [3, 1, 3][:ndim]}
        kwargs = dict(kwargs, mode=MODES[index % len(MODES)], cval=1.5)
        ref = getattr(ndi, name)(a, *args, **kwargs)
        got = getattr(h, name)(a, *args, backend="gpu", **kwargs)
        _agree(name, a, ref, got, exact=False)
        checked += 1
    assert checked == 60


@requires_gpu
def test_gpu_integers_follow_the_float32_rule():
    """On the GPU integers are computed in float32 and converted once (truncated, saturated):
    within one count of scipy's float64 answer converted the same way."""
    rng = np.random.default_rng(SEED + 3)
    a = rng.integers(-1000, 1000, (9, 17, 15)).astype(np.int16)
    got = h.gaussian_filter(a, 1.5, backend="gpu")
    want = np.clip(np.trunc(ndi.gaussian_filter(a.astype(np.float64), 1.5)), -32768, 32767)
    assert got.dtype == np.int16
    assert np.abs(got.astype(np.int64) - want).max() <= 1
    with pytest.raises(ValueError, match="precision='scipy'"):
        h.gaussian_filter(a, 1.5, backend="gpu", precision="scipy")


def test_output_array_is_filled_and_returned():
    a = np.arange(60, dtype=np.int16).reshape(6, 10) * 37 % 101
    out = np.zeros(a.shape, np.float32)
    result = h.uniform_filter(a, 4, output=out, backend="cpu")
    assert result is out
    np.testing.assert_array_equal(out, ndi.uniform_filter(a, 4, output=np.float32))
    with pytest.raises(ValueError, match="shape"):
        h.uniform_filter(a, 3, output=np.zeros((2, 2)))


@pytest.mark.parametrize("backend", ["cpu"] + (["gpu"] if GPU else []))
def test_float32_output_arrays_are_written_directly_or_through_a_copy(backend):
    """A native float32, C-contiguous output apart from the input is written by the filter
    itself; in place (output is the input), strided and float64 outputs go through a new array;
    every way gives the same values and returns the given array."""
    rng = np.random.default_rng(SEED + 11)
    a = rng.normal(size=(7, 12, 10)).astype(np.float32)
    image = a[3].copy()
    calls = [
        (lambda x, **k: h.gaussian_filter(x, 1.3, **k), lambda x: ndi.gaussian_filter(x, 1.3), 1e-5),
        (lambda x, **k: h.gaussian_laplace(x, 1.1, **k), lambda x: ndi.gaussian_laplace(x, 1.1), 1e-4),
        (lambda x, **k: h.gaussian_gradient_magnitude(x, 1.1, **k), lambda x: ndi.gaussian_gradient_magnitude(x, 1.1), 1e-4),
        (lambda x, **k: h.uniform_filter(x, 3, **k), lambda x: ndi.uniform_filter(x, 3), 1e-5),
        (lambda x, **k: h.median_filter(x, 3, **k), lambda x: ndi.median_filter(x, 3), 0.0),
        (lambda x, **k: h.sobel(x, 1, **k), lambda x: ndi.sobel(x, 1), 1e-4),
        (lambda x, **k: h.prewitt(x, 0, **k), lambda x: ndi.prewitt(x, 0), 1e-4),
        (lambda x, **k: h.laplace(x, **k), lambda x: ndi.laplace(x), 1e-4),
        (lambda x, **k: h.correlate(x, np.ones((3,) * x.ndim) / 3 ** x.ndim, **k),
         lambda x: ndi.correlate(x, np.ones((3,) * x.ndim) / 3 ** x.ndim), 1e-5),
        (lambda x, **k: h.grey_opening(x, size=3, **k), lambda x: ndi.grey_opening(x, size=3), 0.0),
        (lambda x, **k: h.maximum_filter(x, size=3, **k), lambda x: ndi.maximum_filter(x, size=3), 0.0),
    ]
    for i, (ours, theirs, tol) in enumerate(calls):
        for x in (a, image):
            want = ours(x, backend=backend)
            np.testing.assert_allclose(want, theirs(x.astype(np.float64)), rtol=tol, atol=tol, err_msg=str(i))
            # Direct: a fresh float32 buffer holding garbage.
            out = np.full(x.shape, np.nan, np.float32)
            assert ours(x, output=out, backend=backend) is out
            np.testing.assert_array_equal(out, want, err_msg=f"{i} direct")
            # A strided view, big-endian float32, float64: through a new array.
            wide = np.full(x.shape[:-1] + (2 * x.shape[-1],), np.nan, np.float32)
            strided = wide[..., ::2]
            assert ours(x, output=strided, backend=backend) is strided
            np.testing.assert_array_equal(strided, want, err_msg=f"{i} strided")
            # (A big-endian float32 output takes scipy's exact path, as before: close, not equal.)
            swapped = np.zeros(x.shape, ">f4")
            assert ours(x, output=swapped, backend=backend) is swapped
            np.testing.assert_allclose(swapped, want, rtol=tol, atol=max(tol, 1e-6), err_msg=f"{i} big-endian")
            # (On the CPU a float64 output takes scipy's double path: close, not equal.)
            double = np.zeros(x.shape, np.float64)
            assert ours(x, output=double, backend=backend) is double
            np.testing.assert_allclose(double, want, rtol=tol, atol=max(tol, 1e-6), err_msg=f"{i} float64")
            # In place: the input is read whole before it is overwritten.
            inplace = x.copy()
            assert ours(inplace, output=inplace, backend=backend) is inplace
            np.testing.assert_array_equal(inplace, want, err_msg=f"{i} in place")
        with pytest.raises(ValueError, match="shape"):
            ours(a, output=np.zeros((7, 12, 11), np.float32), backend=backend)


BINARY = ["binary_erosion", "binary_dilation", "binary_opening", "binary_closing", "binary_propagation",
          "binary_fill_holes", "binary_hit_or_miss"]


def _covers_centre(structure, origins):
    """Whether the structure covers its sample, as placed for the erosion and (mirrored) for
    the dilation: only then does repeating until nothing changes have to settle."""
    s = np.asarray(structure, bool)
    mirrored = s[(slice(None, None, -1),) * s.ndim]
    back = [-o - (0 if n & 1 else 1) for o, n in zip(origins, s.shape)]
    return bool(s[tuple(o + n // 2 for o, n in zip(origins, s.shape))]) and bool(
        mirrored[tuple(o + n // 2 for o, n in zip(back, s.shape))]
    )


def _scipy_binary(name, a, kw):
    """scipy's answer through its brute-force path: for iterations other than 1 scipy's default
    coordinate-list path (NI_BinaryErosion2) reads outside its buffers for some even-sided
    structures and origins (scipy issues 11400, 22533) and then returns garbage or corrupts the
    heap; the brute-force path is the same rule without that bug."""
    if name in ("binary_erosion", "binary_dilation", "binary_opening", "binary_closing"):
        return getattr(ndi, name)(a, brute_force=True, **kw)
    if name == "binary_propagation":
        return ndi.binary_dilation(a, kw["structure"], -1, kw["mask"], None, kw["border_value"], kw["origin"], brute_force=True)
    if name == "binary_fill_holes":
        background = ndi.binary_dilation(np.zeros(a.shape, bool), kw["structure"], -1, np.logical_not(a), None, 1, kw["origin"], brute_force=True)
        return np.logical_not(background)
    return ndi.binary_hit_or_miss(a, **kw)


def test_binary_morphology_equals_scipy_for_any_structure_mask_border_and_origin():
    rng = np.random.default_rng(SEED + 7)
    checked = 0
    for index in range(400):
        ndim = int(rng.integers(1, 4))
        shape = tuple(int(n) for n in rng.integers(1, 10, ndim))
        dtype = DTYPES[rng.integers(len(DTYPES))]
        a = _layout(rng, (rng.random(shape) > rng.random()).astype(dtype))
        structure = rng.random(tuple(int(n) for n in rng.integers(1, 5, ndim))) > 0.4 if rng.random() < 0.7 else None
        sides = np.shape(structure) if structure is not None else (3,) * ndim
        origins = [_origin(rng, n) for n in sides] if rng.random() < 0.5 else [0] * ndim
        mask = rng.random(shape) > 0.3 if rng.random() < 0.4 else None
        iterations = int(rng.choice([1, 1, 2, 3, 0, -1]))
        name = BINARY[index % len(BINARY)]
        settles = _covers_centre(structure if structure is not None else ndi.generate_binary_structure(ndim, 1), origins)
        if (iterations < 1 or name in ("binary_propagation", "binary_fill_holes")) and not settles:
            iterations = 1
            if name in ("binary_propagation", "binary_fill_holes"):
                structure, origins = None, [0] * ndim
        if name in ("binary_erosion", "binary_dilation", "binary_opening", "binary_closing"):
            kw = dict(structure=structure, iterations=iterations, mask=mask, border_value=int(rng.integers(2)), origin=origins)
        elif name == "binary_propagation":
            kw = dict(structure=structure, mask=mask, border_value=int(rng.integers(2)), origin=origins)
        elif name == "binary_fill_holes":
            kw = dict(structure=structure, origin=origins)
        else:
            kw = dict(structure1=structure, origin1=origins)
        ref = _scipy_binary(name, a, kw)
        got = getattr(h, name)(a, **kw)
        assert got.dtype == ref.dtype and got.shape == ref.shape, _describe(index, a, name, (), kw)
        np.testing.assert_array_equal(got, ref, err_msg=_describe(index, a, name, (), kw))
        checked += 1
    assert checked == 400
    # Repeating an erosion whose structure misses its centre can alternate forever (scipy
    # loops): an error here.
    board = np.indices((6, 6)).sum(0) % 2 == 0
    ring = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], bool)
    with pytest.raises(ValueError, match="never settles"):
        h.binary_erosion(board, ring, iterations=0, border_value=1)


def test_rotate_and_geometric_transform_equal_scipy():
    """rotate (2D and plane by plane in 3D, any axes, reshape, orders 0-5, every mode) and
    geometric_transform with a Python mapping and its extra arguments: scipy's bytes."""
    rng = np.random.default_rng(SEED + 11)
    for index in range(80):
        ndim = int(rng.integers(2, 4))
        dtype = DTYPES[rng.integers(len(DTYPES) - 1)]  # bool: scipy's spline of bools is not defined
        a = _layout(rng, _data(rng, tuple(int(k) for k in rng.integers(1, 11, ndim)), dtype))
        angle = float(rng.choice([0, 90, -90, 180, 270, 45, 30.5, -17.25, 361, 123.4]))
        axes = tuple(int(x) for x in rng.choice(ndim, 2, replace=False))
        kw = dict(axes=axes, reshape=bool(rng.integers(2)), order=int(rng.integers(0, 6)),
                  mode=INTERPOLATION_MODES[rng.integers(len(INTERPOLATION_MODES))], cval=1.25,
                  prefilter=bool(rng.random() < 0.8))
        ref = ndi.rotate(a, angle, **kw)
        got = h.rotate(a, angle, **kw)
        assert got.dtype == ref.dtype and got.shape == ref.shape, _describe(index, a, "rotate", (angle,), kw)
        np.testing.assert_array_equal(got, ref, err_msg=_describe(index, a, "rotate", (angle,), kw))
    for index in range(20):
        ndim = int(rng.integers(1, 4))
        a = _data(rng, tuple(int(k) for k in rng.integers(1, 8, ndim)), DTYPES[rng.integers(len(DTYPES) - 1)])
        matrix = rng.normal(0.0, 0.5, (ndim, ndim)) + np.eye(ndim)
        shift = rng.normal(0.0, 2.0, ndim)

        def mapping(index, scale, extra=0.0):
            return tuple(matrix @ np.asarray(index, float) * scale + shift + extra)

        kw = dict(output_shape=tuple(int(k) for k in rng.integers(1, 8, ndim)), order=int(rng.integers(0, 6)),
                  mode=INTERPOLATION_MODES[rng.integers(len(INTERPOLATION_MODES))], cval=-2.0,
                  extra_arguments=(1.1,), extra_keywords={"extra": 0.25})
        ref = ndi.geometric_transform(a, mapping, **kw)
        got = h.geometric_transform(a, mapping, **kw)
        assert got.dtype == ref.dtype
        np.testing.assert_array_equal(got, ref, err_msg=_describe(index, a, "geometric_transform", (), kw))
    with pytest.raises(ValueError, match="rotation plane"):
        h.rotate(np.zeros((4, 4)), 10, axes=(0, 2))
    with pytest.raises(TypeError, match="callable"):
        h.geometric_transform(np.zeros((4, 4)), "not a function")

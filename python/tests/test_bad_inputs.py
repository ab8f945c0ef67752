"""A generated bad-input matrix over the whole Python API: every public function called with
bad arrays (NaN/±Inf data, empty and 1-voxel axes, wrong ranks and dtypes, non-contiguous,
read-only and big-endian arrays, non-arrays) and with each of its parameters replaced by bad
values (NaN, ±Inf, negative, zero, huge, wrong types), on the CPU and on the GPU. Every call
must return or raise a typed error with a message (ValueError, TypeError, MemoryError,
OverflowError, OSError, RuntimeError for scipy's own RuntimeErrors, NotImplementedError,
GpuError) — never crash the interpreter, raise a Rust panic (pyo3's PanicException) or an
error that means a bug (IndexError, KeyError, AttributeError, ZeroDivisionError...). The
number of calls is asserted and reported in README."""

import os
import tempfile

import numpy as np
import pytest

import hounsfield as h
from conftest import GPU

ALLOWED = (ValueError, TypeError, MemoryError, OverflowError, OSError, RuntimeError, NotImplementedError, h.GpuError)


DICOM = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "dicom", "oblique"))
CT_PD = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "ct_pd", "helical"))


def _volume():
    return np.random.default_rng(3).random((6, 7, 8)).astype(np.float32)


def _bad_arrays():
    good = _volume()
    read_only = good.copy()
    read_only.flags.writeable = False
    nan = good.copy()
    nan[1, 2, 3] = np.nan
    inf = good.copy()
    inf[0, 0, 0], inf[-1, -1, -1] = np.inf, -np.inf
    return {
        "nan": nan,
        "inf": inf,
        "all_nan": np.full((4, 5, 6), np.nan, np.float32),
        "empty_axis": np.zeros((0, 5, 6), np.float32),
        "one_voxel": np.ones((1, 1, 1), np.float32),
        "one_by_n": np.ones((1, 1, 9), np.float32),
        "1d": np.ones(9, np.float32),
        "4d": np.ones((2, 3, 4, 5), np.float32),
        "0d": np.float32(1.0),
        "complex": good.astype(np.complex64),
        "object": np.array([[["a"]]], dtype=object),
        "float16": good.astype(np.float16),
        "int64_extremes": np.array([[[np.iinfo(np.int64).min, np.iinfo(np.int64).max]]], dtype=np.int64),
        "bool": good > 0.5,
        "strided": np.ones((8, 10, 12), np.float32)[::2, ::3, ::-1],
        "fortran": np.asfortranarray(good),
        "read_only": read_only,
        "big_endian": good.astype(">f4"),
        "list": good.tolist(),
        "none": None,
        "string": "volume",
        "missing_path": "/nonexistent/folder",
        "file_not_folder": __file__,
    }


def _good_calls():
    """(name, positional arguments after the input, keyword arguments) of one valid call each."""
    v = _volume()
    geometry = h.Geometry.parallel_3d([0.0, 60.0, 120.0], 6, 10, (1.0, 1.0))
    cone = h.Geometry.cone([0.0, 90.0, 180.0, 270.0], 100.0, 150.0, 12, 16, (1.0, 1.0))
    return [
        ("gaussian_filter", (1.0,), {}),
        ("gaussian_filter1d", (1.0,), {}),
        ("uniform_filter", (3,), {}),
        ("uniform_filter1d", (3,), {}),
        ("median_filter", (3,), {}),
        ("rank_filter", (1,), {"size": 3}),
        ("percentile_filter", (50,), {"size": 3}),
        ("minimum_filter", (3,), {}),
        ("maximum_filter", (3,), {}),
        ("minimum_filter1d", (3,), {}),
        ("maximum_filter1d", (3,), {}),
        ("correlate1d", ([1.0, 2.0, 1.0],), {}),
        ("convolve1d", ([1.0, 2.0, 1.0],), {}),
        ("correlate", (np.ones((3, 3, 3)),), {}),
        ("convolve", (np.ones((3, 3, 3)),), {}),
        ("sobel", (), {"axis": 0}),
        ("prewitt", (), {"axis": 0}),
        ("laplace", (), {}),
        ("gaussian_laplace", (1.0,), {}),
        ("gaussian_gradient_magnitude", (1.0,), {}),
        ("grey_erosion", (), {"size": 3}),
        ("grey_dilation", (), {"size": 3}),
        ("grey_opening", (), {"size": 3}),
        ("grey_closing", (), {"size": 3}),
        ("binary_erosion", (), {"iterations": 1}),
        ("binary_dilation", (), {"iterations": 1}),
        ("binary_opening", (), {"iterations": 1}),
        ("binary_closing", (), {"iterations": 1}),
        ("binary_propagation", (), {"mask": v > 0.3}),
        ("binary_fill_holes", (), {}),
        ("binary_hit_or_miss", (), {}),
        ("zoom", (1.5,), {"order": 1}),
        ("shift", (0.5,), {"order": 1}),
        ("rotate", (30.0,), {"order": 1}),
        ("affine_transform", (np.eye(3),), {"order": 1}),
        ("map_coordinates", (np.indices((2, 3, 4)).astype(float),), {"order": 1}),
        ("geometric_transform", (lambda c: c,), {"order": 1}),
        ("spline_filter", (), {}),
        ("spline_filter1d", (), {}),
        ("threshold_otsu", (), {}),
        ("unsharp_mask", (), {"radius": 1.0, "amount": 1.0}),
        ("bilateral", (1.0, 0.2), {}),
        ("anisotropic_diffusion", (), {"iterations": 2, "conductance": 1.0}),
        ("window_level", (0.5, 1.0), {}),
        ("mip", (), {"axis": 0}),
        ("pipeline", ("gaussian:1 clip:0:1",), {}),
        ("statistics", (), {}),
        ("histogram", (), {"bins": 16}),
        ("sigmoid", (0.5, 0.1), {}),
        ("forward_project", (geometry,), {}),
        ("fdk", (cone, (4, 6, 6)), {}),
        ("normalize", (np.full((2, 7, 8), 2.0, np.float32), np.zeros((1, 7, 8), np.float32)), {"cutoff": 1.0}),
        ("minus_log", (), {"floor": 1e-6}),
        ("linearize_water", ([1.0, 0.01],), {}),
        ("remove_stripe_based_sorting", (5,), {"dim": 1}),
        ("simulate_noise", (1e4,), {"electronic": 1.0, "seed": 1}),
        ("reconstruct", (geometry, (6, 10, 10)), {"iterations": 2}),
        ("read_dicom_series", (), {"index": 0}),
        ("read_dicom_projections", (), {"ignore_flying_focal_spot": False}),
        ("write_dicom_series", (os.path.join(tempfile.mkdtemp(), "series"),), {"spacing": (1.0, 1.0, 1.0)}),
        ("label", (), {"structure": None}),
        ("find_objects", (), {"max_label": 0}),
        ("sum_labels", (_labels(),), {"index": [1, 2]}),
        ("mean", (_labels(),), {"index": [1, 2]}),
        ("variance", (_labels(),), {"index": 1}),
        ("minimum", (_labels(),), {"index": [1, 2]}),
        ("maximum_position", (_labels(),), {"index": [1, 2]}),
        ("extrema", (_labels(),), {"index": None}),
        ("center_of_mass", (_labels(),), {"index": [1, 2]}),
        ("distance_transform_edt", (), {"sampling": (1.0, 1.0, 1.0)}),
        ("distance_transform_cdt", (), {"metric": "taxicab"}),
        ("iterate_structure", (2,), {}),
        ("remove_small_objects", (), {"max_size": 4, "connectivity": 1}),
        ("largest_component", (), {"connectivity": 1}),
        ("watershed", (_labels() * (np.arange(336).reshape(6, 7, 8) % 50 == 0),), {"compactness": 0.0, "mask": v > 0.2}),
    ]


def _labels():
    return (_volume() > 0.5).astype(np.int32) + (_volume() > 0.8)


BAD_VALUES = [float("nan"), float("inf"), float("-inf"), -1, 0, 10**12, "x", None, [1.0, 2.0, 3.0, 4.0, 5.0]]


def _input_for(name):
    v = _volume()
    if name == "forward_project":
        return np.ones((6, 10, 10), np.float32)
    if name == "fdk":
        return np.ones((4, 12, 16), np.float32)
    if name == "reconstruct":
        return np.ones((3, 6, 10), np.float32)
    if name.startswith("binary") or name in ("remove_small_objects", "largest_component", "label", "distance_transform_edt", "distance_transform_cdt"):
        return v > 0.5
    if name == "find_objects":
        return _labels()
    if name == "iterate_structure":
        return np.ones((3, 3, 3), bool)
    if name == "read_dicom_series":
        return DICOM
    if name == "read_dicom_projections":
        return CT_PD
    return v


def _check(outcome, what, problems):
    if outcome is not None and not isinstance(outcome, ALLOWED):
        problems.append(f"{what}: {type(outcome).__name__}: {outcome}")
    elif outcome is not None and not str(outcome):
        problems.append(f"{what}: {type(outcome).__name__} without a message")


def _call(function, *args, **kwargs):
    try:
        function(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001 - PanicException derives from BaseException
        if isinstance(e, KeyboardInterrupt):
            raise
        return e
    return None


@pytest.mark.parametrize("backend", ["cpu", "gpu"] if GPU else ["cpu"])
def test_every_function_survives_bad_arrays_and_bad_parameters(backend, tmp_path, monkeypatch):
    # Bad values reach path parameters too ("x" is a valid relative folder): write only here.
    monkeypatch.chdir(tmp_path)
    calls = 0
    problems = []
    for name, args, kwargs in _good_calls():
        function = getattr(h, name)
        takes_backend = "backend" in function.__code__.co_varnames if hasattr(function, "__code__") else True
        options = dict(kwargs, backend=backend) if takes_backend else dict(kwargs)
        if backend == "gpu" and not takes_backend:
            continue
        # The valid call works (so the matrix below tests the parameters, not a broken call).
        assert _call(function, _input_for(name), *args, **options) is None or backend == "gpu", name
        for label, bad in _bad_arrays().items():
            _check(_call(function, bad, *args, **options), f"{name}({label}) [{backend}]", problems)
            calls += 1
        for position in range(len(args)):
            for bad in BAD_VALUES:
                changed = list(args)
                changed[position] = bad
                _check(_call(function, _input_for(name), *changed, **options), f"{name} argument {position} = {bad!r} [{backend}]", problems)
                calls += 1
        for key in kwargs:
            for bad in BAD_VALUES:
                if key == "iterations" and bad == 10**12:
                    continue  # valid, only long: an iteration count is not bounded
                _check(_call(function, _input_for(name), *args, **dict(options, **{key: bad})), f"{name}({key}={bad!r}) [{backend}]", problems)
                calls += 1
    assert not problems, "\n".join(problems)
    # A folder argument of None or a number is a TypeError, not a folder named after it.
    assert not any(p.name in {"None", "nan", "0", "-1"} for p in tmp_path.iterdir())
    assert calls > (1000 if backend == "cpu" else 500)
    print(f"{calls} bad-input calls on {backend}")

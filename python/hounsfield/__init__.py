"""hounsfield: GPU-accelerated (wgpu: Vulkan, Metal, DX12, GL) imaging kernels for medical
imaging, each with a multithreaded CPU twin, as drop-in replacements for the scipy.ndimage and
scikit-image calls an imaging team already makes.

* Same names, parameters and defaults as scipy.ndimage (``gaussian_filter``, ``median_filter``,
  ``uniform_filter``, ``correlate1d``, ``convolve``, ``sobel``, ``laplace``, ``grey_erosion``,
  ``zoom``, ...) and scikit-image (``threshold_otsu``, ``unsharp_mask``, ``radon``, ``iradon``);
  arrays are ``(y, x)`` images or ``(z, y, x)`` volumes.
* Every filter takes ``backend="auto" | "cpu" | "gpu"`` (``auto``: the GPU when one works, else
  the CPU; the environment variable ``HOUNSFIELD_BACKEND`` can force either).
* The GIL is released while a kernel runs: Python threads filter in parallel.
* The dtype rule: scipy's bytes by default. float32 data runs the float32 kernels (GPU or
  CPU) and agrees with scipy to float32 rounding (order statistics exactly). Every other dtype
  (int8-64, uint8-64, bool, float64) gets scipy's exact answer on the CPU: each pass in double,
  stored in the output dtype before the next pass reads it, as scipy does (so uint16 derivatives
  wrap, Gaussians of int16 truncate after every axis). ``precision="float32"`` (or
  ``backend="gpu"``) computes any dtype in float32 instead and converts once at the end
  (truncated toward zero, saturated at the dtype's limits: more precise, not scipy's bytes);
  ``precision="scipy"`` gives scipy's bytes for float32 too. Windows the float32 kernels do
  not take (even sizes, ``origin``, arbitrary ``footprint``/``structure``, ``axes``, per-axis
  modes, 1D or 4D+ arrays) run scipy's exact path on the CPU; ``output=`` (a dtype or an
  array to fill) works as in scipy. float16 and complex data are refused (convert first).
* Errors are exceptions, never crashes: ``ValueError`` (bad parameters or shapes),
  ``MemoryError`` (larger than the machine or the GPU allows), ``hounsfield.GpuError``
  (no GPU, device lost, driver error), ``OSError`` (files).
* ``to_gpu(array)`` returns a ``GpuArray`` that stays on the GPU: every filter accepts one and
  then returns a ``GpuArray``, so chains run without round trips; ``.to_numpy()`` downloads.
* Dask arrays (volumes larger than memory, clusters) are filtered chunk by chunk with the exact
  halo each filter needs: the filters and statistics here forward them to ``hounsfield.dask``
  (``pip install 'hounsfield[dask]'``); ``hounsfield.batch.process_series`` runs a pipeline over
  a cohort of DICOM series on a ``dask.distributed`` cluster. ``HOUNSFIELD_ADAPTER=i`` pins a
  process (a Dask worker) to adapter ``i`` of ``gpu_adapters()``.
"""

import functools
import numbers
import operator
import os

import numpy as np

from . import _hounsfield, _ndimage, _segment, interop
from ._hounsfield import GpuArray, GpuError, Geometry
from ._segment import (
    center_of_mass,
    distance_transform_cdt,
    distance_transform_edt,
    extrema,
    find_objects,
    generate_binary_structure,
    iterate_structure,
    label,
    labeled_comprehension,
    largest_component,
    maximum,
    maximum_position,
    mean,
    minimum,
    minimum_position,
    remove_small_objects,
    standard_deviation,
    sum,  # noqa: A004 - scipy.ndimage's name
    sum_labels,
    variance,
    watershed,
)
from ._segment import __all__ as _segment_names

__all__ = [
    *_segment_names,
    "OPERATIONS",
    "PROJECTORS",
    "GpuArray",
    "GpuError",
    "Geometry",
    "to_gpu",
    "gpu_adapter",
    "gpu_adapters",
    "gaussian_filter",
    "uniform_filter",
    "median_filter",
    "correlate1d",
    "correlate",
    "convolve",
    "sobel",
    "prewitt",
    "laplace",
    "gaussian_laplace",
    "gaussian_gradient_magnitude",
    "grey_erosion",
    "grey_dilation",
    "grey_opening",
    "grey_closing",
    "zoom",
    "threshold_otsu",
    "unsharp_mask",
    "bilateral",
    "anisotropic_diffusion",
    "window_level",
    "mip",
    "pipeline",
    "statistics",
    "histogram",
    "radon",
    "iradon",
    "forward_project",
    "fdk",
    "reconstruct",
    "normalize",
    "minus_log",
    "water_correction",
    "linearize_water",
    "remove_stripe_based_sorting",
    "simulate_noise",
    "read_dicom_series",
    "read_dicom_projections",
    "write_dicom_series",
    "binary_closing",
    "binary_dilation",
    "binary_erosion",
    "binary_fill_holes",
    "binary_propagation",
    "binary_hit_or_miss",
    "rotate",
    "geometric_transform",
    "binary_opening",
    "maximum_filter",
    "minimum_filter",
    "gaussian_filter1d",
    "uniform_filter1d",
    "convolve1d",
    "rank_filter",
    "percentile_filter",
    "minimum_filter1d",
    "maximum_filter1d",
    "interop",
    "shift",
    "spline_filter",
    "spline_filter1d",
    "map_coordinates",
    "affine_transform",
]

def gpu_adapter():
    """The GPU adapter ``backend="gpu"`` uses (raises ``GpuError`` when there is none)."""
    return _hounsfield.gpu_adapter()


def gpu_adapters():
    """Every usable GPU adapter, best first; ``HOUNSFIELD_ADAPTER=i`` (set before the first GPU
    call of a process) makes adapter ``i`` the one ``backend="gpu"`` and ``"auto"`` use."""
    return list(_hounsfield.gpu_adapters())


def to_gpu(array):
    """Uploads a 2D or 3D array to the GPU once; filters on the result stay on the GPU."""
    return GpuArray(_as_float32(array)[0])


def _as_float32(array):
    """(float32 C-contiguous array, original dtype) — the conversion scipy users expect."""
    if isinstance(array, GpuArray):
        return array, np.dtype(np.float32)
    a = np.asarray(array)
    if a.dtype.kind == "c":
        raise ValueError("complex input is not supported: filter the real and imaginary parts separately")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"input dtype {a.dtype} is not numeric")
    if a.ndim not in (2, 3):
        raise ValueError(f"input has {a.ndim} dimensions: give a 2D (y, x) image or a 3D (z, y, x) volume")
    if a.size == 0:
        raise ValueError(f"input shape {a.shape} is empty")
    return np.ascontiguousarray(a, dtype=np.float32), a.dtype


def _restore(result, dtype, rounding=False):
    """Casts a float32 result back to the input's dtype as scipy does."""
    if isinstance(result, GpuArray) or dtype == np.float32:
        return result
    if dtype.kind == "f":
        return result.astype(dtype)
    if dtype.kind == "b":
        return result != 0
    if rounding:
        # Half away from zero, as scipy's interpolators round.
        result = np.where(result > 0, np.floor(result + 0.5), np.ceil(result - 0.5))
    info = np.iinfo(dtype)
    return np.clip(result, info.min, info.max).astype(dtype)


def _per_axis(value, ndim, name, cast=float):
    if isinstance(value, numbers.Number):
        return [cast(value)] * ndim
    values = [cast(v) for v in value]
    if len(values) != ndim:
        raise ValueError(f"{name} has {len(values)} values for {ndim} axes")
    return values


def _mode(mode, cval):
    m = _ndimage.mode_name(mode)
    if m == "constant":
        return f"constant:{float(cval)!r}"
    return m


def _axis(axis, ndim):
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {ndim} dimensions")
    return axis % ndim


def _run(name, input, *args, rounding=False):
    a, dtype = _as_float32(input)
    return _restore(getattr(_hounsfield, name)(a, *args), dtype, rounding)


def _ndim(input):
    return input.ndim if isinstance(input, GpuArray) else np.ndim(input)


_PRECISIONS = (None, "scipy", "float32")


def _output_spec(output, array, shape=None):
    """scipy's ``output=``: None (the input's dtype), a dtype, or an array of the output's
    shape (the input's unless ``shape``) to fill. Returns ``(dtype, array or None)``."""
    shape = array.shape if shape is None else tuple(shape)
    if output is None:
        return array.dtype, None
    if isinstance(output, np.ndarray):
        if output.shape != shape:
            raise ValueError(f"output has shape {output.shape}, the result {shape}")
        if not output.flags.writeable:
            raise ValueError("output is read-only")
        return output.dtype, output
    try:
        dtype = np.dtype(output)
    except TypeError as e:
        raise ValueError(f"output={output!r}: give None, a dtype or an array") from e
    return dtype, None


def _check_precision(precision):
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be None, 'scipy' or 'float32', not {precision!r}")


def _float32_rule(in_dtype, out_dtype, backend, precision):
    """Whether the float32 kernels answer: float32 in and out by default, every dtype with
    ``precision="float32"`` or on the GPU; ``precision="scipy"`` never."""
    if precision == "scipy":
        if backend == "gpu":
            raise ValueError("precision='scipy' computes scipy's per-pass dtype arithmetic in double on the CPU: use backend='cpu' or 'auto' (the GPU computes in float32)")
        return False
    if precision == "float32" or backend == "gpu":
        return True
    return in_dtype == np.float32 and out_dtype == np.float32


def _filter(input, output, backend, precision, simple, fast, exact, shape=None, rounding=False):
    """Runs a scipy filter by the dtype rule (module docstring): ``fast(float32 array)`` on the
    library's float32 kernels (GPU or CPU) when ``simple`` (the call fits them: 2D/3D, centred
    odd windows, no footprint, origin, axes or per-axis modes) and the rule allows, else
    ``exact(array, out_dtype)``, scipy's bytes on the CPU."""
    if backend not in ("auto", "cpu", "gpu"):
        raise ValueError(f"backend must be 'auto', 'cpu' or 'gpu', not {backend!r}")
    _check_precision(precision)
    if isinstance(input, GpuArray):
        if output is not None:
            raise ValueError("output= does not apply to GpuArray inputs: the result stays on the GPU")
        if not simple or precision == "scipy":
            raise ValueError("GpuArray inputs run the float32 kernels: centred odd windows, one mode, no origin, footprint or axes")
        return fast(input)
    a = np.asarray(input)
    if a.dtype.kind == "c":
        raise ValueError("complex input is not supported: filter the real and imaginary parts separately")
    if a.dtype.kind not in "biuf" or a.dtype == np.float16:
        raise ValueError(f"input dtype {a.dtype} is not supported: give bool, integer, float32 or float64 data")
    if a.ndim == 0:
        raise ValueError("input is 0-dimensional: give an array with at least one axis")
    out_dtype, out_array = _output_spec(output, a, shape)
    _ndimage.dtype_name(out_dtype)
    fits = simple and a.ndim in (2, 3) and a.size > 0
    if fits and _float32_rule(a.dtype, out_dtype, backend, precision):
        x = np.ascontiguousarray(a, dtype=np.float32)
        if out_array is not None and _writes_into(fast, out_array, x):
            return fast(x, out_array)
        result = _restore(fast(x), out_dtype, rounding)
    else:
        if backend == "gpu":
            raise ValueError(
                "backend='gpu' runs 2D/3D arrays with centred odd windows, one mode and no origin, "
                "footprint or axes; this call needs the CPU's scipy-exact path: use backend='cpu' or 'auto'"
            )
        result = exact(a, out_dtype)
    if out_array is not None:
        out_array[...] = result
        return out_array
    return result


def _into(fast):
    """Marks a float32 fast path whose extension call can write an ``output=`` array itself."""
    fast.writes_into = True
    return fast


def _writes_into(fast, out, x):
    """Whether ``fast`` fills ``out`` directly (no new array copied into it): it can, and
    ``out`` is native float32, C-contiguous, writeable and apart from the input ``x``
    (in-place filtering reads what it overwrites: that goes through a new array)."""
    return (
        getattr(fast, "writes_into", False)
        and type(out) is np.ndarray
        and out.dtype == np.dtype("=f4")
        and out.flags.c_contiguous
        and out.flags.writeable
        and not np.may_share_memory(out, x)
    )


def _is_zero(origin):
    return bool(np.all(np.asarray(origin) == 0))


def _odd(size):
    sizes = list(size) if _ndimage.is_sequence(size) else [size]
    return all(isinstance(s, numbers.Integral) and s >= 1 and s % 2 == 1 for s in sizes)


def _plain(mode, axes, origin=0):
    """A call the float32 kernels take: one mode, all axes, origin 0."""
    return isinstance(mode, str) and axes is None and _is_zero(origin)


def gaussian_filter(input, sigma, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0, *, radius=None, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.gaussian_filter``: sigma in voxels (one value or one per axis), radius
    ``int(truncate * sigma + 0.5)`` unless ``radius`` is given; ``order`` differentiates."""
    ndim = _ndim(input)
    sigmas = _ndimage.per_axis(sigma, ndim if axes is None else len(_ndimage.check_axes(axes, ndim)), "sigma")
    simple = _plain(mode, axes) and radius is None and all(int(o) == 0 for o in _ndimage.per_axis(order, len(sigmas), "order"))
    simple = simple and all(isinstance(s, numbers.Real) and s > 1e-15 for s in sigmas)
    return _filter(
        input, output, backend, precision, simple,
        _into(lambda a, out=None: _hounsfield.gaussian(a, "smooth", [float(s) for s in sigmas], _mode(mode, cval), float(truncate), backend, out)),
        lambda a, dt: _ndimage.gaussian_filter(a, sigma, order, dt, mode, cval, truncate, radius, axes),
    )


def gaussian_filter1d(input, sigma, axis=-1, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0, *, radius=None, backend="auto", precision=None):
    """``scipy.ndimage.gaussian_filter1d`` (CPU, scipy's bytes for every dtype)."""

    def exact(a, dt):
        x = _ndimage.gaussian_filter1d_values(_ndimage.values(a), sigma, axis, order, dt, mode, cval, truncate, radius)
        return _ndimage.as_output(x, dt)

    return _filter(input, output, backend, precision, False, None, exact)


def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.uniform_filter`` (box mean) with sizes per axis."""
    ndim = _ndim(input)
    simple = _plain(mode, axes, origin) and _odd(size)
    return _filter(
        input, output, backend, precision, simple,
        _into(lambda a, out=None: _hounsfield.uniform_filter(a, _per_axis(size, ndim, "size", int), _mode(mode, cval), backend, out)),
        lambda a, dt: _ndimage.uniform_filter(a, size, dt, mode, cval, origin, axes),
    )


def uniform_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *, backend="auto", precision=None):
    """``scipy.ndimage.uniform_filter1d`` (CPU, scipy's bytes for every dtype)."""

    def exact(a, dt):
        return _ndimage.uniform_filter(a, [int(size)], dt, mode, cval, [origin], [_ndimage.normalize_axis(axis, a.ndim)])

    return _filter(input, output, backend, precision, False, None, exact)


def _radius(size, ndim, name="size"):
    sizes = _per_axis(size, ndim, name, int)
    if any(s < 1 or s % 2 == 0 for s in sizes):
        raise ValueError(f"{name}={size}: the float32 kernels take odd sizes")
    return [(s - 1) // 2 for s in sizes]


def _box(size, footprint, ndim):
    """The odd box the float32 kernels can run for (size, footprint), or None."""
    if footprint is not None:
        fp = np.asarray(footprint, dtype=bool)
        if fp.ndim != ndim or not fp.all():
            return None
        size = fp.shape
    if size is None or not _odd(size):
        return None
    sizes = _ndimage.per_axis(size, ndim, "size")
    return [int(s) for s in sizes]


def median_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.median_filter``: a box of ``size`` (odd or even) or any ``footprint``."""
    ndim = _ndim(input)
    box = _box(size, footprint, ndim) if _plain(mode, axes, origin) else None
    return _filter(
        input, output, backend, precision, box is not None,
        _into(lambda a, out=None: _hounsfield.median_filter(a, [(s - 1) // 2 for s in box], _mode(mode, cval), backend, out)),
        lambda a, dt: _ndimage.rank(a, 0, size, footprint, dt, mode, cval, origin, axes, "median"),
    )


def rank_filter(input, rank, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.rank_filter`` (CPU, scipy's bytes for every dtype)."""
    return _filter(
        input, output, backend, precision, False, None,
        lambda a, dt: _ndimage.rank(a, rank, size, footprint, dt, mode, cval, origin, axes, "rank"),
    )


def percentile_filter(input, percentile, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.percentile_filter`` (CPU, scipy's bytes for every dtype)."""
    return _filter(
        input, output, backend, precision, False, None,
        lambda a, dt: _ndimage.rank(a, percentile, size, footprint, dt, mode, cval, origin, axes, "percentile"),
    )


def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *, backend="auto", precision=None):
    """``scipy.ndimage.correlate1d``."""
    w = [float(v) for v in np.asarray(weights, dtype=np.float64).ravel()]
    return _filter(
        input, output, backend, precision, isinstance(mode, str),
        lambda a: _hounsfield.correlate1d(a, w, _axis(axis, _ndim(input)), _mode(mode, cval), int(origin), backend),
        lambda a, dt: _ndimage.as_output(_ndimage.correlate1d(_ndimage.values(a), weights, axis, dt, mode, cval, origin), dt),
    )


def convolve1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *, backend="auto", precision=None):
    """``scipy.ndimage.convolve1d``: ``correlate1d`` with the weights reversed."""
    w, o = _ndimage.convolve1d_weights(weights, origin)
    return correlate1d(input, w, axis, output, mode, cval, o, backend=backend, precision=precision)


def _weights(weights, ndim):
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.ndim != ndim:
        raise ValueError(f"weights have {w.ndim} dimensions, the input {ndim}")
    return w


def _correlate(input, weights, output, mode, cval, origin, axes, convolution, backend, precision):
    ndim = _ndim(input)
    w = np.asarray(weights)
    simple = _plain(mode, axes, origin) and w.ndim == ndim and all(1 <= n <= 7 for n in w.shape)
    return _filter(
        input, output, backend, precision, simple,
        _into(lambda a, out=None: _hounsfield.correlate(a, _weights(weights, ndim), _mode(mode, cval), convolution, backend, out)),
        lambda a, dt: _ndimage.correlate(a, weights, dt, mode, cval, origin, axes, convolution),
    )


def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.correlate`` (any kernel; kernels up to 7 per axis run on the GPU)."""
    return _correlate(input, weights, output, mode, cval, origin, axes, False, backend, precision)


def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.convolve`` (any kernel; kernels up to 7 per axis run on the GPU)."""
    return _correlate(input, weights, output, mode, cval, origin, axes, True, backend, precision)


def _edge(kind, smooth, input, axis, output, mode, cval, backend, precision):
    def exact(a, dt):
        if axis is None:
            return _ndimage.edge_magnitude(a, dt, mode, cval, smooth)
        return _ndimage.edge(a, axis, dt, mode, cval, smooth)

    return _filter(
        input, output, backend, precision, isinstance(mode, str),
        _into(lambda a, out=None: _hounsfield.edge(a, kind, None if axis is None else _axis(axis, _ndim(input)), _mode(mode, cval), backend, out)),
        exact,
    )


def sobel(input, axis=-1, output=None, mode="reflect", cval=0.0, *, backend="auto", precision=None):
    """``scipy.ndimage.sobel`` along ``axis``; ``axis=None`` gives the gradient magnitude."""
    return _edge("sobel", [1, 2, 1], input, axis, output, mode, cval, backend, precision)


def prewitt(input, axis=-1, output=None, mode="reflect", cval=0.0, *, backend="auto", precision=None):
    """``scipy.ndimage.prewitt`` along ``axis``; ``axis=None`` gives the gradient magnitude."""
    return _edge("prewitt", [1, 1, 1], input, axis, output, mode, cval, backend, precision)


def laplace(input, output=None, mode="reflect", cval=0.0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.laplace``."""
    return _filter(
        input, output, backend, precision, _plain(mode, axes),
        _into(lambda a, out=None: _hounsfield.laplace(a, _mode(mode, cval), backend, out)),
        lambda a, dt: _ndimage.laplace(a, dt, mode, cval, axes),
    )


def _gaussian_derivative(kind, exact_function, input, sigma, output, mode, cval, axes, truncate, radius, backend, precision):
    ndim = _ndim(input)
    sigmas = _ndimage.per_axis(sigma, ndim, "sigma") if axes is None else None
    simple = _plain(mode, axes) and radius is None and all(isinstance(s, numbers.Real) and s > 1e-15 for s in sigmas or [0])
    return _filter(
        input, output, backend, precision, simple,
        _into(lambda a, out=None: _hounsfield.gaussian(a, kind, [float(s) for s in sigmas], _mode(mode, cval), float(truncate), backend, out)),
        lambda a, dt: exact_function(a, sigma, dt, mode, cval, truncate, radius, axes),
    )


def gaussian_laplace(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, truncate=4.0, radius=None, backend="auto", precision=None):
    """``scipy.ndimage.gaussian_laplace``."""
    return _gaussian_derivative("laplace", _ndimage.gaussian_laplace, input, sigma, output, mode, cval, axes, truncate, radius, backend, precision)


def gaussian_gradient_magnitude(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, truncate=4.0, radius=None, backend="auto", precision=None):
    """``scipy.ndimage.gaussian_gradient_magnitude``."""
    return _gaussian_derivative("gradient_magnitude", _ndimage.gaussian_gradient_magnitude, input, sigma, output, mode, cval, axes, truncate, radius, backend, precision)


def _grey(op, input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision):
    """Grey morphology: the float32 kernels for odd boxes, else scipy's min/max filters."""
    ndim = _ndim(input)
    if size is None and footprint is None and structure is None:
        raise ValueError("give size, footprint or structure")
    box = _box(size, footprint, ndim) if structure is None and _plain(mode, axes, origin) else None

    def erode(a, dt, input_dtype=None, raw=False):
        return _ndimage.min_or_max(a, size, footprint, structure, dt, mode, cval, origin, axes, True, input_dtype, raw)

    def dilate(a, dt, input_dtype=None, raw=False):
        fp, st, origins = _ndimage.dilation_footprint(size, footprint, structure, origin, axes, np.ndim(a))
        return _ndimage.min_or_max(a, size, fp, st, dt, mode, cval, origins, axes, False, input_dtype, raw)

    def exact(a, dt):
        if op == "erosion":
            return erode(a, dt)
        if op == "dilation":
            return dilate(a, dt)
        # The second operation reads the first one's stored values in the input's dtype.
        first, second = (erode, dilate) if op == "opening" else (dilate, erode)
        return second(first(a, a.dtype, raw=True), dt, input_dtype=a.dtype)

    return _filter(
        input, output, backend, precision, box is not None,
        _into(lambda a, out=None: _hounsfield.grey_morphology(a, op, [(s - 1) // 2 for s in box], False, _mode(mode, cval), backend, out)),
        exact,
    )


def grey_erosion(input, size=None, footprint=None, structure=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.grey_erosion`` (box, footprint or non-flat structure)."""
    return _grey("erosion", input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision)


def grey_dilation(input, size=None, footprint=None, structure=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.grey_dilation`` (box, footprint or non-flat structure)."""
    return _grey("dilation", input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision)


def grey_opening(input, size=None, footprint=None, structure=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.grey_opening``: erosion, then dilation."""
    return _grey("opening", input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision)


def grey_closing(input, size=None, footprint=None, structure=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.grey_closing``: dilation, then erosion."""
    return _grey("closing", input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision)


def _min_max(minimum, input, size, footprint, output, mode, cval, origin, axes, backend, precision):
    ndim = _ndim(input)
    box = _box(size, footprint, ndim) if _plain(mode, axes, origin) else None
    return _filter(
        input, output, backend, precision, box is not None,
        _into(lambda a, out=None: _hounsfield.grey_morphology(a, "erosion" if minimum else "dilation", [(s - 1) // 2 for s in box], False, _mode(mode, cval), backend, out)),
        lambda a, dt: _ndimage.min_or_max(a, size, footprint, None, dt, mode, cval, origin, axes, minimum),
    )


def maximum_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.maximum_filter`` (box or any footprint)."""
    return _min_max(False, input, size, footprint, output, mode, cval, origin, axes, backend, precision)


def minimum_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    """``scipy.ndimage.minimum_filter`` (box or any footprint)."""
    return _min_max(True, input, size, footprint, output, mode, cval, origin, axes, backend, precision)


def _min_max1d(minimum, input, size, axis, output, mode, cval, origin, backend, precision):
    def exact(a, dt):
        return _ndimage.min_or_max(a, [int(size)], None, None, dt, mode, cval, [origin], [_ndimage.normalize_axis(axis, a.ndim)], minimum)

    return _filter(input, output, backend, precision, False, None, exact)


def minimum_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *, backend="auto", precision=None):
    """``scipy.ndimage.minimum_filter1d`` (CPU, scipy's bytes for every dtype)."""
    return _min_max1d(True, input, size, axis, output, mode, cval, origin, backend, precision)


def maximum_filter1d(input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *, backend="auto", precision=None):
    """``scipy.ndimage.maximum_filter1d`` (CPU, scipy's bytes for every dtype)."""
    return _min_max1d(False, input, size, axis, output, mode, cval, origin, backend, precision)


def _cross(ndim):
    """scipy's default structuring element: ``generate_binary_structure(ndim, 1)``."""
    cross = np.zeros((3,) * ndim, dtype=bool)
    for axis in range(ndim):
        for side in (0, 2):
            index = [1] * ndim
            index[axis] = side
            cross[tuple(index)] = True
    cross[(1,) * ndim] = True
    return cross


def _structure(structure, ndim):
    """None for scipy's default cross, the radii of an all-True box of odd sides, or False
    when the float32 kernels do not take the structure."""
    if structure is None:
        return None
    s = np.asarray(structure)
    if s.ndim != ndim or s.dtype.kind == "c":
        return False
    s = s.astype(bool)
    if s.shape == (3,) * ndim and np.array_equal(s, _cross(ndim)):
        return None
    if s.all() and all(n % 2 == 1 for n in s.shape):
        return [n // 2 for n in s.shape]
    return False


def _binary_erosion(input, structure, iterations, mask, output, border_value, origin, invert, axes):
    """scipy's ``_binary_erosion`` on the CPU (``invert``: the dilation half), any structure,
    mask, border value, origin and iteration count."""
    try:
        iterations = operator.index(iterations)
    except TypeError as e:
        raise TypeError("iterations parameter should be an integer") from e
    a = np.asarray(input)
    if a.dtype.kind == "c":
        raise TypeError("Complex type not supported")
    if a.ndim == 0:
        raise ValueError("input is 0-dimensional: give an array with at least one axis")
    axes = _ndimage.check_axes(axes, a.ndim)
    s = _cross(len(axes)) if structure is None else np.asarray(structure, dtype=bool)
    s = _ndimage.expand_to(a.ndim, axes, s, "structure")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != a.shape:
            raise ValueError(f"mask has shape {mask.shape}, the input {a.shape}")
        mask = mask.astype(bool)
    origins = _ndimage.expand_origin(a.ndim, axes, origin)
    result = _hounsfield.nd_binary_erosion(a.astype(bool), s, origins, mask, bool(border_value), bool(invert), iterations)
    if isinstance(output, np.ndarray):
        if output.dtype.kind == "c":
            raise TypeError("Complex output type not supported")
        if output.shape != a.shape:
            raise ValueError(f"output has shape {output.shape}, the result {a.shape}")
        output[...] = result
        return output
    return result


def _mirrored(structure, origin, axes, ndim):
    """scipy's dilation turns the structure around and mirrors the origins (an even side's
    origin moves one more so the mirrored window covers the same samples)."""
    count = len(_ndimage.check_axes(axes, ndim))
    s = _cross(count) if structure is None else np.asarray(structure)
    s = s[(slice(None, None, -1),) * s.ndim]
    origins = _ndimage.per_axis(origin, count, "origin")
    if s.ndim != count:
        raise ValueError(f"structure has {s.ndim} axes for {count} filtered axes")
    origins = [-int(o) - (0 if s.shape[i] & 1 else 1) for i, o in enumerate(origins)]
    return s, origins


def _binary_dilation(input, structure, iterations, mask, output, border_value, origin, axes):
    s, origins = _mirrored(structure, origin, axes, np.ndim(input))
    return _binary_erosion(input, s, iterations, mask, output, border_value, origins, True, axes)


def _binary_fast(op, input, structure, iterations, mask, output, border_value, origin, axes, backend):
    """The library's binary kernels (GPU or CPU; results are exact in any precision) when the
    call fits them, else None."""
    if backend not in ("auto", "cpu", "gpu"):
        raise ValueError(f"backend must be 'auto', 'cpu' or 'gpu', not {backend!r}")
    ndim = _ndim(input)
    radii = _structure(structure, ndim)
    fits = (
        mask is None
        and output is None
        and not border_value
        and axes is None
        and radii is not False
        and (op != "fill_holes" or radii is None)
        and isinstance(iterations, numbers.Integral)
        and iterations >= 1
        and _is_zero(origin)
        and ndim in (2, 3)
        and (isinstance(input, GpuArray) or (np.asarray(input).dtype.kind in "biuf" and np.size(input) > 0))
    )
    if not fits:
        if backend == "gpu" or isinstance(input, GpuArray):
            raise ValueError(
                "the GPU's binary kernels take 2D/3D data, scipy's default cross or an all-True box of odd "
                "sides, no mask, border_value 0, origin 0, iterations >= 1 and no output= or axes; "
                "use backend='cpu' or 'auto' (and a NumPy array) for the rest"
            )
        return None
    a, _ = _as_float32(input)
    out = (
        _hounsfield.fill_holes(a, backend)
        if op == "fill_holes"
        else _hounsfield.binary_morphology(a, op, radii, int(iterations), backend)
    )
    return out if isinstance(out, GpuArray) else out != 0


def binary_erosion(input, structure=None, iterations=1, mask=None, output=None, border_value=0, origin=0, brute_force=False, *, axes=None, backend="auto"):
    """``scipy.ndimage.binary_erosion``: any structure, ``mask``, ``border_value``, ``origin``,
    ``iterations`` (< 1: until nothing changes), ``axes``; a bool array (or ``output``).
    ``brute_force`` is accepted for compatibility: the answer is the same either way."""
    fast = _binary_fast("erosion", input, structure, iterations, mask, output, border_value, origin, axes, backend)
    if fast is not None:
        return fast
    return _binary_erosion(input, structure, iterations, mask, output, border_value, origin, False, axes)


def binary_dilation(input, structure=None, iterations=1, mask=None, output=None, border_value=0, origin=0, brute_force=False, *, axes=None, backend="auto"):
    """``scipy.ndimage.binary_dilation`` (same arguments as :func:`binary_erosion`)."""
    fast = _binary_fast("dilation", input, structure, iterations, mask, output, border_value, origin, axes, backend)
    if fast is not None:
        return fast
    return _binary_dilation(input, structure, iterations, mask, output, border_value, origin, axes)


def binary_opening(input, structure=None, iterations=1, output=None, origin=0, mask=None, border_value=0, brute_force=False, *, axes=None, backend="auto"):
    """``scipy.ndimage.binary_opening``: ``iterations`` erosions, then as many dilations."""
    fast = _binary_fast("opening", input, structure, iterations, mask, output, border_value, origin, axes, backend)
    if fast is not None:
        return fast
    if structure is None:
        structure = _cross(len(_ndimage.check_axes(axes, np.ndim(input))))
    eroded = _binary_erosion(input, structure, iterations, mask, None, border_value, origin, False, axes)
    return _binary_dilation(eroded, structure, iterations, mask, output, border_value, origin, axes)


def binary_closing(input, structure=None, iterations=1, output=None, origin=0, mask=None, border_value=0, brute_force=False, *, axes=None, backend="auto"):
    """``scipy.ndimage.binary_closing``: ``iterations`` dilations, then as many erosions (the
    erosion sees ``border_value`` outside, as scipy's does)."""
    fast = _binary_fast("closing", input, structure, iterations, mask, output, border_value, origin, axes, backend)
    if fast is not None:
        return fast
    if structure is None:
        structure = _cross(len(_ndimage.check_axes(axes, np.ndim(input))))
    dilated = _binary_dilation(input, structure, iterations, mask, None, border_value, origin, axes)
    return _binary_erosion(dilated, structure, iterations, mask, output, border_value, origin, False, axes)


def binary_propagation(input, structure=None, mask=None, output=None, border_value=0, origin=0, *, axes=None):
    """``scipy.ndimage.binary_propagation``: dilation repeated until nothing changes, inside
    ``mask`` (reconstruction by dilation; each sample visited once per change)."""
    return _binary_dilation(input, structure, -1, mask, output, border_value, origin, axes)


def binary_fill_holes(input, structure=None, output=None, origin=0, *, axes=None, backend="auto"):
    """``scipy.ndimage.binary_fill_holes``: the background not reached from the border
    (through ``structure``'s connectivity) becomes foreground."""
    fast = _binary_fast("fill_holes", input, structure, 1, None, output, 0, origin, axes, backend)
    if fast is not None:
        return fast
    a = np.asarray(input)
    background = _binary_dilation(np.zeros(a.shape, dtype=bool), structure, -1, np.logical_not(a), None, 1, origin, axes)
    filled = np.logical_not(background)
    if isinstance(output, np.ndarray):
        if output.shape != a.shape:
            raise ValueError(f"output has shape {output.shape}, the result {a.shape}")
        output[...] = filled
        return None
    return filled


def binary_hit_or_miss(input, structure1=None, structure2=None, output=None, origin1=0, origin2=None, *, axes=None):
    """``scipy.ndimage.binary_hit_or_miss``: samples where ``structure1`` fits the foreground
    and ``structure2`` (default: its complement) the background."""
    a = np.asarray(input)
    count = len(_ndimage.check_axes(axes, a.ndim))
    structure1 = _cross(count) if structure1 is None else np.asarray(structure1)
    structure2 = np.logical_not(structure1) if structure2 is None else np.asarray(structure2)
    origin1 = _ndimage.per_axis(origin1, count, "origin1")
    origin2 = origin1 if origin2 is None else _ndimage.per_axis(origin2, count, "origin2")
    fits = _binary_erosion(a, structure1, 1, None, None, 0, origin1, False, axes)
    misses = np.logical_not(_binary_erosion(a, structure2, 1, None, None, 0, origin2, True, axes))
    result = np.logical_and(fits, misses)
    if isinstance(output, np.ndarray):
        output[...] = result
        return None
    return result


def zoom(input, zoom, output=None, order=3, mode="constant", cval=0.0, prefilter=True, *, grid_mode=False, backend="auto", precision=None):
    """``scipy.ndimage.zoom``: B-spline orders 0-5 (scipy's default cubic, prefiltered), every
    mode, ``grid_mode``; scipy's exact answer on the CPU. float32 data with ``order`` 0 or 1
    runs the library's resampling kernels (GPU or CPU; float32 rounding) unless
    ``precision="scipy"``."""
    if isinstance(input, GpuArray):
        shape = input.shape
    else:
        shape = np.shape(input)
    factors = _ndimage.per_axis(zoom, len(shape), "zoom")
    out = [int(round(n * float(f))) for n, f in zip(shape, factors)]
    simple = order in (0, 1) and not grid_mode and all(n > 0 for n in out) and not all(float(f) == 1.0 for f in factors)
    # Integer results of the float32 rule round, as scipy's interpolators do.
    return _filter(
        input, output, backend, precision, simple,
        lambda a: _hounsfield.zoom(a, out, int(order), backend),
        lambda a, dt: _ndimage.zoom(a, factors, dt, order, mode, cval, prefilter, grid_mode),
        shape=tuple(out),
        rounding=True,
    )


def shift(input, shift, output=None, order=3, mode="constant", cval=0.0, prefilter=True, *, backend="auto", precision=None):
    """``scipy.ndimage.shift`` (CPU, scipy's bytes for every dtype): B-spline orders 0-5."""
    return _filter(input, output, backend, precision, False, None, lambda a, dt: _ndimage.shift(a, shift, dt, order, mode, cval, prefilter))


def map_coordinates(input, coordinates, output=None, order=3, mode="constant", cval=0.0, prefilter=True, *, backend="auto", precision=None):
    """``scipy.ndimage.map_coordinates`` (CPU, scipy's bytes for every dtype): the input sampled
    at ``coordinates`` (shape ``(input.ndim, *output shape)``), B-spline orders 0-5.
    ``precision`` is accepted for uniformity: the result is always scipy's."""
    _check_precision(precision)
    shape = np.shape(coordinates)[1:]
    return _filter(input, output, backend, "scipy", False, None, lambda a, dt: _ndimage.map_coordinates(a, coordinates, dt, order, mode, cval, prefilter), shape=shape)


def affine_transform(input, matrix, offset=0.0, output_shape=None, output=None, order=3, mode="constant", cval=0.0, prefilter=True, *, backend="auto", precision=None):
    """``scipy.ndimage.affine_transform`` (CPU, scipy's bytes for every dtype): output index
    ``o`` samples the input at ``matrix @ o + offset`` (a 1D matrix is a diagonal, an
    ``(ndim + 1)``-square one homogeneous), B-spline orders 0-5. ``precision`` is accepted for
    uniformity: the result is always scipy's."""
    return _resampled(
        input, output, output_shape, backend, precision,
        lambda a, dt, shape: _ndimage.affine_transform(a, matrix, offset, shape, dt, order, mode, cval, prefilter),
    )


def _resampled(input, output, output_shape, backend, precision, compute):
    """A resampling to ``output_shape`` (default: ``output``'s shape, else the input's) on the
    CPU with scipy's arithmetic: ``compute(array, out_dtype, shape)``."""
    _check_precision(precision)
    if output_shape is None:
        output_shape = output.shape if isinstance(output, np.ndarray) else np.shape(input)
    shape = tuple(int(n) for n in output_shape)
    return _filter(input, output, backend, "scipy", False, None, lambda a, dt: compute(a, dt, shape), shape=shape)


def rotate(input, angle, axes=(1, 0), reshape=True, output=None, order=3, mode="constant", cval=0.0, prefilter=True, *, backend="auto", precision=None):
    """``scipy.ndimage.rotate`` (CPU, scipy's bytes for every dtype): the plane of ``axes``
    turned by ``angle`` degrees, B-spline orders 0-5; the output plane grows to hold the whole
    rotated input when ``reshape``. The matrix comes from ``scipy.special.cosdg``/``sindg``
    when scipy is installed (exact at multiples of 90 degrees either way)."""
    _check_precision(precision)
    out_shape = _ndimage.rotation_plan(np.shape(input), angle, axes, reshape)[4]
    return _filter(
        input, output, backend, "scipy", False, None,
        lambda a, dt: _ndimage.rotate(a, angle, axes, reshape, dt, order, mode, cval, prefilter),
        shape=out_shape,
    )


def geometric_transform(input, mapping, output_shape=None, output=None, order=3, mode="constant", cval=0.0, prefilter=True, extra_arguments=(), extra_keywords=None, *, backend="auto", precision=None):
    """``scipy.ndimage.geometric_transform`` with a Python ``mapping`` (output index tuple ->
    input coordinates; called once per output sample, as scipy does), B-spline orders 0-5,
    scipy's bytes on the CPU. For speed, compute the coordinates with numpy and call
    :func:`map_coordinates`."""
    return _resampled(
        input, output, output_shape, backend, precision,
        lambda a, dt, shape: _ndimage.geometric_transform(a, mapping, shape, dt, order, mode, cval, prefilter, extra_arguments, extra_keywords),
    )


def spline_filter(input, order=3, output=np.float64, mode="mirror", *, backend="auto"):
    """``scipy.ndimage.spline_filter``: B-spline coefficients of ``order`` 2-5 (float64 by
    default, as scipy)."""
    order = _ndimage.check_order(order, 2)

    def exact(a, dt):
        return _ndimage.as_output(_ndimage.spline_filter_values(_ndimage.values(a), order, mode), dt)

    return _filter(input, output, backend, "scipy", False, None, exact)


def spline_filter1d(input, order=3, axis=-1, output=np.float64, mode="mirror", *, backend="auto"):
    """``scipy.ndimage.spline_filter1d`` along ``axis`` (orders 0 and 1 copy the input)."""
    order = _ndimage.check_order(order)

    def exact(a, dt):
        x = _ndimage.values(a)
        if order > 1:
            _hounsfield.nd_spline_filter1d(x, order, _ndimage.normalize_axis(axis, x.ndim), _ndimage.interpolation_mode(mode), "float64")
        return _ndimage.as_output(x, dt)

    return _filter(input, output, backend, "scipy", False, None, exact)


def threshold_otsu(image, nbins=256, *, backend="auto"):
    """``skimage.filters.threshold_otsu``: the threshold as a float."""
    a, _ = _as_float32(image)
    return float(_hounsfield.threshold_otsu(a, int(nbins), backend))


def unsharp_mask(image, radius=1.0, amount=1.0, preserve_range=False, *, backend="auto"):
    """``skimage.filters.unsharp_mask`` on float images (values as given, as skimage keeps
    floats; integer images are scaled like ``img_as_float`` unless ``preserve_range``). Without
    ``preserve_range`` the result is clipped to [0, 1] (or [-1, 1] for negative input), as
    scikit-image does."""
    a, dtype = _as_float32(image)
    if isinstance(a, GpuArray):
        return _hounsfield.unsharp_mask(a, _per_axis(radius, a.ndim, "radius"), float(amount), "reflect", backend)
    if dtype.kind in "iu" and not preserve_range:
        a = a / np.float32(np.iinfo(dtype).max)
    out = _hounsfield.unsharp_mask(a, _per_axis(radius, a.ndim, "radius"), float(amount), "reflect", backend)
    if not preserve_range:
        low = -1.0 if a.min() < 0 else 0.0
        out = np.clip(out, low, 1.0)
    return out.astype(np.float64)


def bilateral(input, domain_sigma, range_sigma, spacing=1.0, *, backend="auto"):
    """ITK's ``BilateralImageFilter``: ``domain_sigma`` in mm, ``range_sigma`` in intensity."""
    ndim = _ndim(input)
    return _run("bilateral", input, _per_axis(domain_sigma, ndim, "domain_sigma"), float(range_sigma), _per_axis(spacing, ndim, "spacing"), backend)


def anisotropic_diffusion(input, iterations=5, conductance=1.0, time_step=None, kind="gradient", spacing=1.0, *, backend="auto"):
    """ITK's gradient (``kind="gradient"``) or curvature (``"curvature"``) anisotropic diffusion;
    the time step defaults to the stable maximum."""
    if kind not in ("gradient", "curvature"):
        raise ValueError(f"kind {kind!r}: use 'gradient' or 'curvature'")
    ndim = _ndim(input)
    return _run(
        "anisotropic_diffusion",
        input,
        int(iterations),
        float(conductance),
        None if time_step is None else float(time_step),
        kind == "curvature",
        _per_axis(spacing, ndim, "spacing"),
        backend,
    )


def window_level(input, center, width, out_range=(0.0, 1.0), *, backend="auto"):
    """DICOM VOI LUT LINEAR window to ``out_range`` (float32)."""
    a, _ = _as_float32(input)
    return _hounsfield.window_level(a, float(center), float(width), float(out_range[0]), float(out_range[1]), backend)


def mip(input, axis=0, kind="max", *, backend="auto"):
    """Maximum (``kind="max"``), minimum or mean intensity projection along ``axis``; the axis
    is kept with length 1, as the library's projections."""
    a, _ = _as_float32(input)
    return _hounsfield.projection(a, _axis(axis, _ndim(input)), kind, backend)


def pipeline(input, spec, spacing=(1.0, 1.0, 1.0), *, backend="auto"):
    """A filter pipeline from text, e.g. ``"median:1 bilateral:0.8:40 gaussian:0.5"`` (the
    example programs' syntax); on the GPU every step runs in one submission."""
    a, _ = _as_float32(input)
    return _hounsfield.pipeline(a, str(spec), [float(s) for s in spacing], backend)


def statistics(input, *, backend="auto"):
    """``{"count", "nan_count", "min", "max", "mean", "std"}`` (NaN excluded and counted)."""
    a, _ = _as_float32(input)
    return _hounsfield.statistics(a, backend)


def histogram(input, *args, **kwargs):
    """Two histograms under one name, told apart by their arguments:

    * ``histogram(input, bins=256, range=None, *, backend="auto")``: ``numpy.histogram``,
      ``(counts, edges)``, on the GPU or the CPU;
    * ``histogram(input, min, max, bins, labels=None, index=None)``: ``scipy.ndimage.histogram``,
      the counts (per label of ``index``: an object array) — chosen when ``min`` and ``max``
      are given (three values after ``input``, or ``min=`` / ``max=``)."""
    if len(args) >= 3 or "min" in kwargs or "max" in kwargs:
        return _segment.histogram(input, *args, **kwargs)
    return _numpy_histogram(input, *args, **kwargs)


def _numpy_histogram(input, bins=256, range=None, *, backend="auto"):
    a, _ = _as_float32(input)
    counts, edges = _hounsfield.histogram(a, int(bins), None if range is None else (float(range[0]), float(range[1])), backend)
    return np.asarray(counts, dtype=np.int64), np.asarray(edges)


OPERATIONS = tuple(_hounsfield.operations())
"""The library's operations (its registry): each a dict with ``name``, ``family``, ``summary``,
``steps`` (pipeline keywords with their parameters), ``python`` (``"functions"``: the
hand-written functions in ``functions``; ``"generated"``: a function made below from the first
step; ``"none"``) and ``functions``."""


def _generated(op):
    keyword, params = op["steps"][0]
    names = [p.lower() for p in params]

    def function(input, *numbers, spacing=(1.0, 1.0, 1.0), backend="auto"):
        if len(numbers) != len(params):
            raise TypeError(f"{keyword}() takes the input and {len(params)} number(s): {', '.join(names)}")
        text = ":".join([keyword] + [repr(float(n)) for n in numbers])
        a, dtype = _as_float32(input)
        out = _hounsfield.pipeline(a, text, [float(s) for s in spacing], backend)
        # Floating-point input keeps its dtype; other input gives float32 (these operations are
        # not scipy functions, and e.g. a contrast curve's 0..1 output would not survive ints).
        return _restore(out, dtype) if dtype.kind == "f" else out

    function.__name__ = function.__qualname__ = keyword
    function.__doc__ = (
        f"{op['summary']}: ``{keyword}(input, {', '.join(names)}, *, spacing=(1, 1, 1), backend='auto')``, "
        f"the pipeline step ``{keyword}:{':'.join(params)}`` (made from the library's registry)."
    )
    return function


for _op in OPERATIONS:
    if _op["python"] == "generated":
        globals()[_op["steps"][0][0]] = _generated(_op)
        __all__.append(_op["steps"][0][0])
del _op


PROJECTORS = tuple(_hounsfield.projectors())
"""The projector pairs ``forward_project`` and ``reconstruct`` accept by name (the library's
registry: ``joseph``, ``voxel_driven``, ``separable_footprint``)."""


def forward_project(volume, geometry, voxel=(1.0, 1.0, 1.0), *, projector="joseph", backend="auto"):
    """Projections ``(views, rows, cols)`` of a ``(z, y, x)`` volume centred on the isocentre,
    by ``projector`` (one of ``PROJECTORS``: ``"joseph"``, ray-driven, the default;
    ``"voxel_driven"``, voxel splatting; ``"separable_footprint"``, each voxel's trapezoid ×
    rectangle shadow integrated over the pixels it covers — the pair for voxels coarser than the
    detector's sampling)."""
    v = np.ascontiguousarray(volume, dtype=np.float32)
    return _hounsfield.forward_project(v, geometry, [float(x) for x in voxel], str(projector), backend)


def radon(image, theta=None, circle=True, *, backend="auto"):
    """``skimage.transform.radon``-like: the sinogram ``(cols, views)`` of a square image by
    Joseph's projector (linear interpolation along rays); ``circle=True`` only."""
    a = np.ascontiguousarray(image, dtype=np.float32)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"radon takes a square 2D image, not {a.shape}")
    if not circle:
        raise ValueError("circle=False is not supported: pad the image to its diagonal")
    theta = np.arange(180.0) if theta is None else np.asarray(theta, dtype=np.float64)
    n = a.shape[0]
    # scikit-image rotates about pixel n // 2 and centres its detector there; hounsfield centres
    # both on (n - 1) / 2. For even n one zero row and column moves the centre to n // 2.
    if n % 2 == 0:
        a = np.pad(a, ((0, 1), (0, 1)))
    geometry = Geometry.parallel_2d([float(t) for t in theta], a.shape[0], 1.0)
    sino = forward_project(a[None], geometry, backend=backend)
    return np.ascontiguousarray(sino[:, 0, :n].T)


def iradon(radon_image, theta=None, output_size=None, filter_name="ramp", circle=True, *, backend="auto"):
    """``skimage.transform.iradon`` (linear interpolation): ``radon_image`` is ``(cols, views)``."""
    s = np.ascontiguousarray(np.asarray(radon_image, dtype=np.float32).T)
    if s.ndim != 2:
        raise ValueError("radon_image must be 2D (cols, views)")
    theta = np.linspace(0.0, 180.0, s.shape[0], endpoint=False) if theta is None else np.asarray(theta, dtype=np.float64)
    return _hounsfield.fbp(s, [float(t) for t in theta], filter_name, output_size, bool(circle), backend)


def fdk(projections, geometry, shape, voxel=(1.0, 1.0, 1.0), filter_name="ramp", *, backend="auto"):
    """FDK of cone-beam projections ``(views, rows, cols)`` into a ``shape = (z, y, x)`` volume
    of ``voxel`` mm centred on the isocentre; for a helix (``Geometry.helical``) the helical
    FDK, which weighs each voxel's redundant measurements to one."""
    p = np.ascontiguousarray(projections, dtype=np.float32)
    return _hounsfield.fdk(p, geometry, [int(n) for n in shape], [float(v) for v in voxel], filter_name, backend)


def _stack(projections, name):
    """A ``(views, rows, cols)`` float32 stack; a 2D sinogram ``(views, cols)`` becomes one row."""
    a = np.ascontiguousarray(projections, dtype=np.float32)
    if a.ndim == 2:
        return a[:, None, :], True
    if a.ndim != 3:
        raise ValueError(f"{name} must be a (views, rows, cols) stack or a (views, cols) sinogram, not {a.ndim}D")
    return a, False


def normalize(arr, flat, dark, cutoff=None, *, backend="auto"):
    """``tomopy.prep.normalize.normalize``: ``(arr - dark) / (flat - dark)`` with the flat and
    dark stacks averaged over their first axis (float32) and ``flat - dark`` raised to 1e-6;
    values above ``cutoff`` become ``cutoff``."""
    a = np.ascontiguousarray(arr, dtype=np.float32)
    if a.ndim != 3:
        raise ValueError(f"arr must be a 3D stack of projections (views, rows, cols), not {a.ndim}D")
    f = np.ascontiguousarray(flat, dtype=np.float32)
    d = np.ascontiguousarray(dark, dtype=np.float32)
    f, d = (x[None] if x.ndim == 2 else x for x in (f, d))
    return _hounsfield.transmission(a, f, d, None if cutoff is None else float(cutoff), False, None, None, backend)


def minus_log(arr, floor=None, *, backend="auto"):
    """``tomopy.prep.normalize.minus_log``: ``-log(arr)`` (0 gives inf, negatives NaN), or with
    ``floor`` the transmissions below it raised to it first (starved pixels, zero counts)."""
    a, flat2d = _stack(arr, "arr")
    out = _hounsfield.transmission(a, None, None, None, True, None if floor is None else float(floor), None, backend)
    return out[:, 0, :] if flat2d else out


def water_correction(measured, ideal, degree=3):
    """Coefficients ``c1..c_degree`` of the water beam-hardening linearisation
    ``p -> sum(c_k p**k)``, fitted by least squares to a calibration: ``measured`` line
    integrals of known water thicknesses against ``ideal`` ones (water's mu times the length)."""
    return _hounsfield.water_correction([float(x) for x in np.ravel(measured)], [float(x) for x in np.ravel(ideal)], int(degree))


def linearize_water(projections, coefficients, *, backend="auto"):
    """Applies a water linearisation (``water_correction``'s coefficients) to line integrals."""
    a, flat2d = _stack(projections, "projections")
    out = _hounsfield.transmission(a, None, None, None, False, None, [float(c) for c in coefficients], backend)
    return out[:, 0, :] if flat2d else out


def remove_stripe_based_sorting(projections, size=21, dim=1, *, backend="auto"):
    """``algotom.prep.removal.remove_stripe_based_sorting`` (Vo et al. 2018, algorithm 3) on a
    sinogram ``(views, cols)`` or on every detector row of a ``(views, rows, cols)`` stack."""
    a, flat2d = _stack(projections, "projections")
    out = _hounsfield.remove_stripe_based_sorting(a, int(size), int(dim), backend)
    return out[:, 0, :] if flat2d else out


def simulate_noise(line_integrals, photons, electronic=0.0, floor=1.0, seed=0, *, counts=False):
    """Noisy line integrals ``-ln(max(N, floor) / photons)`` with ``N`` Poisson counts of mean
    ``photons * exp(-p)`` plus Gaussian electronic noise of ``electronic`` counts (``counts=True``:
    the counts ``N``). Repeatable for a ``seed``."""
    a, flat2d = _stack(line_integrals, "line_integrals")
    out = _hounsfield.simulate_noise(a, float(photons), float(electronic), float(floor), int(seed), bool(counts))
    return out[:, 0, :] if flat2d else out


def reconstruct(
    projections,
    geometry,
    shape,
    method="sirt",
    iterations=100,
    voxel=(1.0, 1.0, 1.0),
    relaxation=1.0,
    subsets=10,
    lam=0.1,
    tv_iterations=20,
    nonnegative=False,
    initial=None,
    callback=None,
    *,
    projector="joseph",
    backend="auto",
):
    """Iterative reconstruction: ``method`` in ``sirt``, ``os_sart``, ``cgls``, ``mlem``,
    ``osem``, ``fista_tv``, with the projector pair ``projector`` (see ``PROJECTORS``).
    ``callback(iteration, residual)`` is called after each iteration and may return True to
    stop. Returns ``(volume, residuals)``."""
    p = np.ascontiguousarray(projections, dtype=np.float32)
    x0 = None if initial is None else np.ascontiguousarray(initial, dtype=np.float32)
    volume, residuals = _hounsfield.iterative(
        p,
        geometry,
        [int(n) for n in shape],
        [float(v) for v in voxel],
        str(method),
        int(iterations),
        float(relaxation),
        int(subsets),
        float(lam),
        int(tv_iterations),
        bool(nonnegative),
        x0,
        str(projector),
        backend,
        callback,
    )
    return volume, np.asarray(residuals)


def read_dicom_series(folder, index=0, lenient=False):
    """Reads one series of a DICOM folder (largest first): ``(volume, meta)`` with the
    ``(z, y, x)`` float32 volume in modality units (HU for CT) and ``meta`` holding
    ``spacing`` (per array axis, z, y, x, mm), ``origin`` (LPS x, y, z of voxel (0, 0, 0), mm),
    ``direction`` (row ``a``: the LPS unit vector of array axis ``a``) and ``warnings``."""
    volume, spacing, origin, direction, warnings = _hounsfield.read_dicom_series(os.fspath(folder), int(index), bool(lenient))
    meta = {
        "spacing": tuple(spacing),
        "origin": tuple(origin),
        "direction": np.asarray(direction),
        "warnings": list(warnings),
    }
    return volume, meta


def read_dicom_projections(folder, ignore_flying_focal_spot=False):
    """Reads a DICOM-CT-PD scan (raw projections of clinical CT, one view per file, as in public
    low-dose CT datasets): ``(projections, geometry, meta)`` with the ``(views, rows, cols)``
    float32 line integrals in InstanceNumber order, the scan's ``Geometry`` (cylindrical or flat
    detector, helical when the table moves: ``fdk`` and ``reconstruct`` take it) — ``None``
    for flying-focal-spot scans, with the reason in ``meta["geometry_error"]`` — and ``meta``:
    per-view ``angles`` (rad), ``z`` and ``radius`` (mm) of the detector focal centre,
    ``source_shift`` (Δφ, Δz, Δρ), ``detector_shape``, ``spacing`` (row, column mm),
    ``focal_distance``, ``central_element`` (row, column, from 0), ``flying_focal_spot``,
    ``views_per_rotation``, ``water_attenuation`` (1/mm), ``files`` and ``warnings``.
    Columns are taken to advance with the angle and rows with z (the format leaves the index
    directions open); a mirrored image means the opposite convention.
    ``ignore_flying_focal_spot=True`` places every source at the detector's focal centre
    instead (as common helical rebinning codes do): rays off by up to
    ``meta["largest_source_shift"]`` mm, some blur, but a geometry every method takes."""
    projections, geometry, meta = _hounsfield.read_dicom_projections(os.fspath(folder), bool(ignore_flying_focal_spot))
    meta["source_shift"] = np.asarray(meta["source_shift"])
    for key in ("angles", "z", "radius"):
        meta[key] = np.asarray(meta[key])
    return projections, geometry, meta


def write_dicom_series(volume, folder, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=None, description="", source=None):
    """Writes a ``(z, y, x)`` volume as a new CT series (int16 with a slope that keeps the
    precision). ``spacing`` is per array axis ``(z, y, x)`` in mm, ``origin`` the LPS ``(x, y,
    z)`` position of voxel (0, 0, 0), ``direction[a]`` the LPS unit vector of array axis ``a``
    (default: an axial stack, ``[[0, 0, 1], [0, 1, 0], [1, 0, 0]]``); ``source`` is a file whose
    patient and study the series joins. Returns the files written."""
    v = np.ascontiguousarray(volume, dtype=np.float32)
    d = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]) if direction is None else np.asarray(direction, dtype=np.float64)
    return _hounsfield.write_dicom_series(
        v,
        os.fspath(folder),
        [float(s) for s in spacing],
        [float(o) for o in origin],
        [[float(x) for x in row] for row in d],
        str(description),
        None if source is None else os.fspath(source),
    )


def _accepts_dask(function):
    """Forwards a dask array to ``hounsfield.dask``'s chunked twin (imported on first use, so
    Dask stays optional); everything else runs in memory."""
    name = function.__name__

    @functools.wraps(function)
    def forwarding(input, *args, **kwargs):
        if type(input).__module__.startswith("dask."):
            from . import dask as chunked

            if not hasattr(chunked, name):
                raise TypeError(f"{name} has no chunked version for dask arrays; compute the array first")
            return getattr(chunked, name)(input, *args, **kwargs)
        return function(input, *args, **kwargs)

    return forwarding


def _chunkable_names():
    """The filters and statistics of the registry, by their Python names."""
    for op in OPERATIONS:
        if op["family"] not in ("filter", "statistics"):
            continue
        if op["python"] == "generated":
            yield op["steps"][0][0]
        yield from op["functions"]


for _name in _chunkable_names():
    globals()[_name] = _accepts_dask(globals()[_name])
del _name

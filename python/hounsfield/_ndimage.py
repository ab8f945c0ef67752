"""scipy.ndimage's filters with scipy's exact bytes, for every dtype, window, origin and axis.

scipy computes each pass of a filter in double and stores it in the output's dtype before the
next pass reads it; combinations (``gaussian_laplace``, ``gaussian_gradient_magnitude``) add,
square and take roots in the output dtype with numpy. The functions here compose scipy's
filters the same way from the library's double-precision primitives
(``hounsfield::ndimage``, exposed as ``_hounsfield.nd_*``), which follow scipy's order of
operations, boundary extension and C conversions. They run on the CPU (multithreaded).

Working values travel as float64 arrays holding values of a numpy dtype (exact for every dtype
up to 2**53, which is also what scipy's double line buffers read); the 1D passes filter them in
place (``values`` makes the private copy), so a filter allocates its working array once.
"""

import itertools
import numbers
from collections.abc import Iterable

import numpy as np

from . import _hounsfield

MODES = {
    "reflect": "reflect",
    "grid-mirror": "reflect",
    "mirror": "mirror",
    "nearest": "nearest",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}


def mode_name(mode):
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode {mode!r}: use one of {sorted(MODES)}")
    return MODES[mode]


def is_sequence(value):
    return not isinstance(value, str) and np.iterable(value)


def per_axis(value, count, name):
    """One value per filtered axis: a scalar repeated, or a sequence of exactly ``count``."""
    if is_sequence(value):
        values = list(value)
        if len(values) != count:
            raise ValueError(f"{name} has {len(values)} values for {count} axes")
        return values
    return [value] * count


def check_axes(axes, ndim):
    """scipy's ``axes=``: None (all), one axis, or distinct axes; negatives count from the end."""
    if axes is None:
        return tuple(range(ndim))
    raw = [axes] if np.isscalar(axes) else list(axes) if isinstance(axes, Iterable) else None
    if raw is None:
        raise ValueError("axes must be an integer, a sequence of integers, or None")
    checked = []
    for axis in raw:
        if not isinstance(axis, numbers.Integral):
            raise ValueError(f"axes: {axis!r} is not an integer")
        if not -ndim <= axis < ndim:
            raise ValueError(f"axes: {axis} is out of range for {ndim} dimensions")
        checked.append(int(axis) % ndim)
    if len(set(checked)) != len(checked):
        raise ValueError(f"axes {tuple(raw)} repeat an axis")
    return tuple(checked)


def normalize_axis(axis, ndim):
    if not isinstance(axis, numbers.Integral) or not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis!r} is out of range for {ndim} dimensions")
    return int(axis) % ndim


def dtype_name(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf" or dtype == np.float16 or dtype.itemsize > 8:
        raise ValueError(f"dtype {dtype}: hounsfield filters bool, (u)int8-64, float32 and float64 data")
    return dtype.name


def values(array):
    """A fresh C-contiguous float64 copy of ``array`` (the doubles scipy's line buffers read);
    the 1D passes filter it in place."""
    return np.array(array, dtype=np.float64, order="C", copy=True)


def as_output(x, out_dtype):
    """Doubles already stored through ``out_dtype`` as an array of that dtype (exact)."""
    return x.astype(out_dtype)


def copy_cast(array, out_dtype):
    """scipy's ``output[...] = input[...]`` when no axis is filtered."""
    return np.asarray(array).astype(out_dtype)


def expand_to(ndim, axes, array, name):
    """A footprint or kernel over ``axes`` given axes of length 1 for the others."""
    if len(axes) < ndim:
        if array.ndim != len(axes):
            raise ValueError(f"{name} has {array.ndim} axes for {len(axes)} filtered axes")
        array = np.expand_dims(array, tuple(a for a in range(ndim) if a not in axes))
    if array.ndim != ndim:
        raise ValueError(f"{name} has {array.ndim} axes for an array of {ndim}")
    if 0 in array.shape:
        raise ValueError(f"{name} has an empty axis: shape {array.shape}")
    return np.ascontiguousarray(array)


def expand_origin(ndim, axes, origin):
    origins = per_axis(origin, len(axes), "origin")
    full = [0] * ndim
    for axis, o in zip(axes, origins):
        if not isinstance(o, numbers.Integral):
            raise ValueError(f"origin {o!r} is not an integer")
        full[axis] = int(o)
    return full


def check_origin(origin, size):
    if size // 2 + origin < 0 or size // 2 + origin >= size:
        raise ValueError(
            f"origin {origin} moves a window of {size} off its sample: use {-(size // 2)} <= origin <= {(size - 1) // 2}"
        )


def single_mode(mode, what):
    if is_sequence(mode):
        raise ValueError(f"a sequence of modes is not supported by {what} (scipy neither): give one mode")
    return mode_name(mode)


# --- 1D passes ---------------------------------------------------------------------------


def correlate1d(x, weights, axis, out_dtype, mode, cval, origin):
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("weights must be a non-empty 1D sequence")
    check_origin(int(origin), w.size)
    _hounsfield.nd_correlate1d(x, w.tolist(), normalize_axis(axis, x.ndim), mode_name(mode), float(cval), int(origin), dtype_name(out_dtype))
    return x


def convolve1d_weights(weights, origin):
    """convolve1d as correlate1d: reversed weights, negated origin (one more for even sizes)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"weights must be a 1D sequence, not an array of shape {w.shape}")
    w = w[::-1]
    origin = -int(origin)
    if w.size % 2 == 0:
        origin -= 1
    return w, origin


def gaussian_kernel1d(sigma, order, radius):
    """The sampled, normalised Gaussian of ``sigma`` (and its ``order``-th derivative: the
    Gaussian times the polynomial q with q_0 = 1, q_{n+1} = q_n' - x q_n / sigma^2),
    evaluated with the same floating-point operations scipy uses."""
    if order < 0:
        raise ValueError("order must be non-negative")
    if not float(sigma) > 0.0:
        raise ValueError(f"sigma must be positive for a 1D Gaussian, not {sigma!r} (scipy divides by zero here)")
    x = np.arange(-radius, radius + 1)
    variance = sigma * sigma
    phi = np.exp(-0.5 / variance * x**2)
    phi = phi / phi.sum()
    if order == 0:
        return phi
    # Coefficients of q, lowest power first; (1 / -sigma^2) * q as scipy multiplies.
    inverse = 1.0 / -variance
    q = [1.0] + [0.0] * order
    for _ in range(order):
        q = [
            ((k + 1) * q[k + 1] if k < order else 0.0) + (inverse * q[k - 1] if k > 0 else 0.0)
            for k in range(order + 1)
        ]
    return np.vander(x, order + 1, increasing=True).dot(np.asarray(q)) * phi


def gaussian_radius(sigma, truncate, radius):
    lw = int(truncate * float(sigma) + 0.5) if radius is None else radius
    if not isinstance(lw, numbers.Integral) or lw < 0:
        raise ValueError("radius must be a non-negative integer")
    return int(lw)


def gaussian_filter1d_values(x, sigma, axis, order, out_dtype, mode, cval, truncate, radius):
    lw = gaussian_radius(sigma, truncate, radius)
    weights = gaussian_kernel1d(sigma, order, lw)[::-1]
    return correlate1d(x, weights, axis, out_dtype, mode, cval, 0)


def gaussian_values(x, sigma, order, out_dtype, mode, cval, truncate, radius, axes):
    """(values after the passes, or None when no axis is filtered)."""
    axes = check_axes(axes, x.ndim)
    n = len(axes)
    passes = [
        (a, s, o, m, r)
        for a, s, o, m, r in zip(
            axes, per_axis(sigma, n, "sigma"), per_axis(order, n, "order"), per_axis(mode, n, "mode"), per_axis(radius, n, "radius")
        )
        if s > 1e-15
    ]
    for s in per_axis(sigma, n, "sigma"):
        if not np.isfinite(s) or s < 0:
            raise ValueError(f"sigma {s!r}: give finite, non-negative values")
    if not passes:
        return None
    for axis, s, o, m, r in passes:
        x = gaussian_filter1d_values(x, s, axis, o, out_dtype, m, cval, truncate, r)
    return x


def gaussian_filter(array, sigma, order, out_dtype, mode, cval, truncate, radius, axes):
    x = gaussian_values(values(array), sigma, order, out_dtype, mode, cval, truncate, radius, axes)
    return copy_cast(array, out_dtype) if x is None else as_output(x, out_dtype)


def uniform_filter(array, size, out_dtype, mode, cval, origin, axes):
    x = values(array)
    axes = check_axes(axes, x.ndim)
    n = len(axes)
    passes = [
        (a, int(s), o, m)
        for a, s, o, m in zip(axes, per_axis(size, n, "size"), per_axis(origin, n, "origin"), per_axis(mode, n, "mode"))
        if s > 1
    ]
    if not passes:
        return copy_cast(array, out_dtype)
    for axis, s, o, m in passes:
        check_origin(int(o), s)
        _hounsfield.nd_uniform1d(x, s, axis, mode_name(m), float(cval), int(o), dtype_name(out_dtype))
    return as_output(x, out_dtype)


def edge(array, axis, out_dtype, mode, cval, smooth):
    """sobel (smooth = [1, 2, 1]) or prewitt ([1, 1, 1]) along ``axis``."""
    x = values(array)
    axis = normalize_axis(axis, x.ndim)
    modes = per_axis(mode, x.ndim, "mode")
    x = correlate1d(x, [-1, 0, 1], axis, out_dtype, modes[axis], cval, 0)
    for other in range(x.ndim):
        if other != axis:
            x = correlate1d(x, smooth, other, out_dtype, modes[other], cval, 0)
    return as_output(x, out_dtype)


def edge_magnitude(array, out_dtype, mode, cval, smooth):
    """hounsfield's ``axis=None``: sqrt of the sum of squared derivatives (computed in float64,
    converted once)."""
    total = sum(edge(array, a, np.float64, mode, cval, smooth) ** 2 for a in range(np.ndim(array)))
    return _store(np.sqrt(total), out_dtype)


def _store(x, out_dtype):
    """A C conversion of doubles to ``out_dtype`` (truncation toward zero, integers wrapping)."""
    out_dtype = np.dtype(out_dtype)
    if out_dtype.kind == "f":
        return x.astype(out_dtype)
    wrapped = np.trunc(x).astype(np.int64)
    if out_dtype.kind == "b":
        return (wrapped % 256) != 0
    return wrapped.astype(out_dtype)


def laplace_sum(array, out_dtype, mode, axes, derivative2):
    """scipy's generic_laplace: the first second derivative into the output, the others added
    in the output dtype."""
    x = values(array)
    axes = check_axes(axes, x.ndim)
    if not axes:
        return copy_cast(array, out_dtype)
    modes = per_axis(mode, len(axes), "mode")
    out = derivative2(x, axes[0], modes[0])
    for axis, m in zip(axes[1:], modes[1:]):
        out += derivative2(x, axis, m)
    return out


def laplace(array, out_dtype, mode, cval, axes):
    return laplace_sum(array, out_dtype, mode, axes, lambda x, a, m: as_output(correlate1d(x.copy(), [1, -2, 1], a, out_dtype, m, cval, 0), out_dtype))


def _sigma_per_axis(sigma, ndim, axes):
    sigmas = per_axis(sigma, len(axes), "sigma")
    full = [0] * ndim
    for axis, s in zip(axes, sigmas):
        full[axis] = s
    return full


def gaussian_laplace(array, sigma, out_dtype, mode, cval, truncate, radius, axes):
    ndim = np.ndim(array)
    checked = check_axes(axes, ndim)
    sigmas = _sigma_per_axis(sigma, ndim, checked)

    def derivative2(x, axis, m):
        order = [0] * ndim
        order[axis] = 2
        y = gaussian_values(x.copy(), sigmas, order, out_dtype, m, cval, truncate, radius, None)
        return copy_cast(array, out_dtype) if y is None else as_output(y, out_dtype)

    return laplace_sum(array, out_dtype, mode, checked, derivative2)


def gaussian_gradient_magnitude(array, sigma, out_dtype, mode, cval, truncate, radius, axes):
    """scipy's generic_gradient_magnitude: squares and sums in the output dtype, then an
    in-place square root with unsafe casting (all numpy, as scipy)."""
    x = values(array)
    ndim = x.ndim
    axes = check_axes(axes, ndim)
    if not axes:
        return copy_cast(array, out_dtype)
    modes = per_axis(mode, len(axes), "mode")

    def derivative(axis, m):
        order = [0] * ndim
        order[axis] = 1
        y = gaussian_values(x.copy(), sigma, order, out_dtype, m, cval, truncate, radius, None)
        return copy_cast(array, out_dtype) if y is None else as_output(y, out_dtype)

    out = derivative(axes[0], modes[0])
    np.multiply(out, out, out)
    for axis, m in zip(axes[1:], modes[1:]):
        tmp = derivative(axis, m)
        np.multiply(tmp, tmp, tmp)
        out += tmp
    np.sqrt(out, out, casting="unsafe")
    return out


# --- footprint filters ---------------------------------------------------------------------


def correlate(array, weights, out_dtype, mode, cval, origin, axes, convolution):
    x = values(array)
    axes = check_axes(axes, x.ndim)
    w = np.asarray(weights)
    if w.dtype.kind == "c":
        raise ValueError("complex weights are not supported")
    w = expand_to(x.ndim, axes, np.asarray(w, dtype=np.float64), "weights")
    origins = expand_origin(x.ndim, axes, origin)
    if convolution:
        w = np.ascontiguousarray(w[(slice(None, None, -1),) * w.ndim])
        origins = [-o - (1 if n % 2 == 0 else 0) for o, n in zip(origins, w.shape)]
    for o, n in zip(origins, w.shape):
        if o < -(n // 2) or o > (n - 1) // 2:
            raise ValueError(f"origin {o} is invalid for a kernel side of {n}: use {-(n // 2)} <= origin <= {(n - 1) // 2}")
    y = _hounsfield.nd_correlate(x, w, single_mode(mode, "correlate"), float(cval), origins, dtype_name(out_dtype))
    return as_output(y, out_dtype)


def min_or_max(array, size, footprint, structure, out_dtype, mode, cval, origin, axes, minimum, input_dtype=None, raw=False):
    """scipy's _min_or_max_filter: separable 1D passes for boxes, else the footprint filter (in
    the input's type, constant and structure converted to it). ``raw``: return the stored
    doubles instead of an array (a bool array scipy fills holds bytes other than 0 and 1, which
    a following pass reads as they are)."""
    x = values(array)
    input_dtype = np.asarray(array).dtype if input_dtype is None else input_dtype
    ndim = x.ndim
    if structure is None:
        if footprint is None:
            if size is None:
                raise ValueError("give size, footprint or structure")
            separable = True
        else:
            footprint = np.asarray(footprint, dtype=bool)
            if not footprint.any():
                raise ValueError("an all-False footprint selects nothing")
            separable = bool(footprint.all())
            if separable:
                size, footprint = footprint.shape, None
    else:
        structure = np.asarray(structure, dtype=np.float64)
        separable = False
        footprint = np.ones(structure.shape, bool) if footprint is None else np.asarray(footprint, dtype=bool)
    axes = check_axes(axes, ndim)
    n = len(axes)
    if separable:
        passes = [
            (a, int(s), int(o), m)
            for a, s, o, m in zip(axes, per_axis(size, n, "size"), per_axis(origin, n, "origin"), per_axis(mode, n, "mode"))
            if s > 1
        ]
        if not passes:
            return values(copy_cast(array, out_dtype)) if raw else copy_cast(array, out_dtype)
        for axis, s, o, m in passes:
            check_origin(o, s)
            _hounsfield.nd_min_or_max1d(x, s, axis, mode_name(m), float(cval), o, bool(minimum), dtype_name(out_dtype))
        return x if raw else as_output(x, out_dtype)
    footprint = expand_to(ndim, axes, footprint, "footprint")
    origins = expand_origin(ndim, axes, origin)
    for o, s in zip(origins, footprint.shape):
        check_origin(o, s)
    if structure is not None:
        if structure.ndim != n:
            raise ValueError(f"structure has {structure.ndim} axes for {n} filtered axes")
        structure = expand_to(ndim, axes, structure, "structure")
        if structure.shape != footprint.shape:
            raise ValueError(f"structure {structure.shape} and footprint {footprint.shape} differ in shape")
    y = _hounsfield.nd_min_or_max(
        x,
        footprint,
        structure,
        single_mode(mode, "non-separable footprints"),
        float(cval),
        origins,
        bool(minimum),
        dtype_name(input_dtype),
        dtype_name(out_dtype),
    )
    return y if raw else as_output(y, out_dtype)


def rank(array, rank, size, footprint, out_dtype, mode, cval, origin, axes, operation):
    """scipy's _rank_filter: ``operation`` is "rank", "median" or "percentile" (``rank`` is
    then the percentile)."""
    x = values(array)
    input_dtype = np.asarray(array).dtype
    ndim = x.ndim
    axes = check_axes(axes, ndim)
    n = len(axes)
    if footprint is None:
        if size is None:
            raise ValueError("give size or footprint")
        footprint = np.ones([int(s) for s in per_axis(size, n, "size")], dtype=bool)
    else:
        footprint = np.asarray(footprint, dtype=bool)
    footprint = expand_to(ndim, axes, footprint, "footprint")
    origins = expand_origin(ndim, axes, origin)
    if is_sequence(mode):
        modes = ["constant"] * ndim
        for axis, m in zip(axes, per_axis(mode, n, "mode")):
            modes[axis] = m
        mode = modes
    for o, s in zip(origins, footprint.shape):
        check_origin(o, s)
    count = int(footprint.sum())
    if count == 0:
        raise ValueError("an all-False footprint selects nothing")
    if operation == "median":
        rank = count // 2
    elif operation == "percentile":
        percentile = float(rank)
        if percentile < 0.0:
            percentile += 100.0
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f"percentile {rank!r} is outside [-100, 100]")
        rank = count - 1 if percentile == 100.0 else int(float(count) * percentile / 100.0)
    rank = int(rank)
    if rank < 0:
        rank += count
    if not 0 <= rank < count:
        raise ValueError(f"rank {rank} is not within a footprint of {count} elements")
    if rank in (0, count - 1):
        return min_or_max(array, None, footprint, None, out_dtype, mode, cval, origins, None, rank == 0)
    cval_dtype = input_dtype
    if ndim == 1 and (x.size - ((footprint.size - 1) // 2 - origins[0]) >= 0 or x.size == 1):
        # scipy's one-dimensional rank filter works on int64 copies of integer data, so its
        # constant is an int64 rather than the input's type.
        if input_dtype.kind in "biu":
            cval_dtype = np.dtype(np.int64)
    y = _hounsfield.nd_rank(
        x,
        rank,
        footprint,
        single_mode(mode, "rank filters with a footprint"),
        float(cval),
        origins,
        dtype_name(cval_dtype),
        dtype_name(out_dtype),
    )
    return as_output(y, out_dtype)


def dilation_footprint(size, footprint, structure, origin, axes, ndim):
    """grey_dilation as a maximum filter: reflected footprint and structure, origins negated
    (one less for even sides)."""
    if structure is not None:
        structure = np.asarray(structure)
        structure = structure[(slice(None, None, -1),) * structure.ndim]
    if footprint is not None:
        footprint = np.asarray(footprint)
        footprint = footprint[(slice(None, None, -1),) * footprint.ndim]
    axes = check_axes(axes, ndim)
    origins = per_axis(origin, len(axes), "origin")
    for i in range(len(origins)):
        if footprint is not None:
            side = footprint.shape[i]
        elif structure is not None:
            side = structure.shape[i]
        elif np.isscalar(size):
            side = size
        else:
            side = size[i]
        origins[i] = -int(origins[i]) - (1 if int(side) % 2 == 0 else 0)
    return footprint, structure, origins


# --- interpolation ------------------------------------------------------------------------------

INTERPOLATION_MODES = ("nearest", "wrap", "reflect", "grid-mirror", "mirror", "constant", "grid-wrap", "grid-constant")


def interpolation_mode(mode):
    if not isinstance(mode, str) or mode not in INTERPOLATION_MODES:
        raise ValueError(f"mode {mode!r}: use one of {sorted(INTERPOLATION_MODES)}")
    return mode


def check_order(order, low=0):
    if not isinstance(order, numbers.Integral) or not low <= order <= 5:
        raise ValueError(f"order {order!r}: give a spline order from {low} to 5")
    return int(order)


def spline_filter_values(x, order, mode):
    """Spline coefficients along every axis, in place (float64, as scipy's spline_filter)."""
    for axis in range(x.ndim):
        _hounsfield.nd_spline_filter1d(x, order, axis, interpolation_mode(mode), "float64")
    return x


def prefiltered(array, order, mode, cval, prefilter):
    """(coefficients, padding): scipy pads 12 samples for nearest and grid-constant before the
    spline filter (their boundaries have no exact initialisation)."""
    if not (prefilter and order > 1):
        return values(array), 0
    a = np.asarray(array)
    pad = 0
    if mode == "nearest":
        pad, a = 12, np.pad(a, 12, mode="edge")
    elif mode == "grid-constant":
        pad, a = 12, np.pad(a, 12, mode="constant", constant_values=cval)
    return spline_filter_values(values(a), order, mode), pad


def zoom(array, factors, out_dtype, order, mode, cval, prefilter, grid_mode):
    a = np.asarray(array)
    order = check_order(order)
    interpolation_mode(mode)
    factors = [float(f) for f in per_axis(factors, a.ndim, "zoom")]
    out_shape = tuple(int(round(n * f)) for n, f in zip(a.shape, factors))
    if all(f == 1 for f in factors) and prefilter:
        return copy_cast(a, out_dtype)
    x, pad = prefiltered(a, order, mode, cval, prefilter)
    divisor = np.array(out_shape) - (0 if grid_mode else 1)
    nominal = np.array(a.shape) - (0 if grid_mode else 1)
    ratios = np.divide(nominal, divisor, out=np.ones_like(a.shape, dtype=np.float64), where=divisor != 0)
    y = _hounsfield.nd_zoom_shift(x, list(out_shape), [float(r) for r in ratios], None, order, mode, float(cval), pad, bool(grid_mode), dtype_name(out_dtype))
    return as_output(y, out_dtype)


def shift(array, offsets, out_dtype, order, mode, cval, prefilter):
    a = np.asarray(array)
    order = check_order(order)
    interpolation_mode(mode)
    offsets = [-float(s) for s in per_axis(offsets, a.ndim, "shift")]
    x, pad = prefiltered(a, order, mode, cval, prefilter)
    y = _hounsfield.nd_zoom_shift(x, list(a.shape), None, offsets, order, mode, float(cval), pad, False, dtype_name(out_dtype))
    return as_output(y, out_dtype)


def map_coordinates(array, coordinates, out_dtype, order, mode, cval, prefilter):
    a = np.asarray(array)
    order = check_order(order)
    interpolation_mode(mode)
    c = np.asarray(coordinates)
    if c.dtype.kind == "c":
        raise ValueError("complex coordinates are not supported")
    c = np.ascontiguousarray(c, dtype=np.float64)
    if c.ndim < 2 or c.shape[0] != a.ndim:
        raise ValueError(f"coordinates of shape {c.shape}: give ({a.ndim}, *output shape)")
    x, pad = prefiltered(a, order, mode, cval, prefilter)
    y = _hounsfield.nd_geometric_transform(x, list(c.shape[1:]), None, None, c, order, mode, float(cval), pad, dtype_name(out_dtype))
    return as_output(y, out_dtype)


def affine_transform(array, matrix, offset, output_shape, out_dtype, order, mode, cval, prefilter):
    """scipy's affine_transform: a diagonal (1D) matrix is a zoom and shift, a 2D one (or a
    homogeneous one) maps every output index."""
    a = np.asarray(array)
    order = check_order(order)
    interpolation_mode(mode)
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim not in (1, 2) or matrix.shape[0] < 1:
        raise ValueError(f"matrix of shape {matrix.shape}: give a 1D diagonal or a 2D (homogeneous) matrix")
    if matrix.ndim == 2 and matrix.shape[1] == a.ndim + 1 and matrix.shape[0] in (a.ndim, a.ndim + 1):
        if matrix.shape[0] == a.ndim + 1 and not np.all(matrix[a.ndim] == [0] * a.ndim + [1]):
            raise ValueError(f"a homogeneous matrix's bottom row must be {[0] * a.ndim + [1]}")
        offset = matrix[: a.ndim, a.ndim]
        matrix = matrix[: a.ndim, : a.ndim]
    if matrix.shape[0] != a.ndim:
        raise ValueError(f"the matrix has {matrix.shape[0]} rows for {a.ndim} input axes")
    if matrix.ndim == 2 and matrix.shape[1] != len(output_shape):
        raise ValueError(f"the matrix has {matrix.shape[1]} columns for {len(output_shape)} output axes")
    offset = np.asarray(per_axis(offset, a.ndim, "offset") if np.ndim(offset) == 0 else offset, dtype=np.float64)
    if offset.shape != (a.ndim,):
        raise ValueError(f"offset of shape {offset.shape}: give {a.ndim} values")
    x, pad = prefiltered(a, order, mode, cval, prefilter)
    if matrix.ndim == 1:
        if len(output_shape) != a.ndim:
            raise ValueError(f"a diagonal matrix keeps the {a.ndim} axes; output_shape has {len(output_shape)}")
        y = _hounsfield.nd_zoom_shift(x, list(output_shape), matrix.tolist(), (offset / matrix).tolist(), order, mode, float(cval), pad, False, dtype_name(out_dtype))
    else:
        y = _hounsfield.nd_geometric_transform(x, list(output_shape), matrix.ravel().tolist(), offset.tolist(), None, order, mode, float(cval), pad, dtype_name(out_dtype))
    return as_output(y, out_dtype)


def geometric_transform(array, mapping, output_shape, out_dtype, order, mode, cval, prefilter, extra_arguments, extra_keywords):
    """scipy's geometric_transform with a Python ``mapping``: called once per output index
    (a tuple of ints, C order, as scipy calls it), then sampled as map_coordinates samples."""
    a = np.asarray(array)
    if type(mapping).__name__ == "LowLevelCallable":
        raise ValueError("a LowLevelCallable mapping is not supported: give a Python function (or compute the coordinates and call map_coordinates)")
    if not callable(mapping):
        raise TypeError("mapping must be callable")
    extra_keywords = {} if extra_keywords is None else dict(extra_keywords)
    coordinates = np.empty((a.ndim, *output_shape), dtype=np.float64)
    for index in np.ndindex(*output_shape):
        source = mapping(index, *extra_arguments, **extra_keywords)
        if len(source) != a.ndim:
            raise RuntimeError(f"mapping returned {len(source)} coordinates for an input of {a.ndim} axes")
        coordinates[(slice(None),) + index] = source
    return map_coordinates(a, coordinates, out_dtype, order, mode, cval, prefilter)


def degree_rotation(angle):
    """(cos, sin) of ``angle`` degrees as scipy's rotate computes them (scipy.special.cosdg /
    sindg, exact at multiples of 90 degrees). Without scipy installed: the same values at
    multiples of 90 degrees, numpy's cos/sin of the radians elsewhere (may differ from scipy in
    the last bit, and so rarely in a resampled value)."""
    try:
        from scipy.special import cosdg, sindg
    except ImportError:
        quarter = float(angle) / 90.0
        if quarter.is_integer():
            return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][int(quarter) % 4]
        radians = np.deg2rad(float(angle))
        return float(np.cos(radians)), float(np.sin(radians))
    return float(cosdg(angle)), float(sindg(angle))


def rotation_plan(shape, angle, axes, reshape):
    """scipy's rotate set-up: (sorted plane axes, 2x2 matrix, offset, plane shape out, shape
    out). The output plane holds the rotated corners' extent (rounded) when ``reshape``."""
    ndim = len(shape)
    if ndim < 2:
        raise ValueError("input array should be at least 2D")
    axes = list(axes)
    if len(axes) != 2:
        raise ValueError("axes should contain exactly two values")
    if not all(float(axis).is_integer() for axis in axes):
        raise ValueError("axes should contain only integer values")
    axes = sorted(int(axis) + ndim if axis < 0 else int(axis) for axis in axes)
    if not all(0 <= axis < ndim for axis in axes):
        raise ValueError("invalid rotation plane specified")
    c, s = degree_rotation(angle)
    rotation = np.array([[c, s], [-s, c]])
    in_plane = np.asarray(shape)[axes]
    if reshape:
        corners = rotation @ [[0, 0, in_plane[0], in_plane[0]], [0, in_plane[1], 0, in_plane[1]]]
        out_plane = (np.ptp(corners, axis=1) + 0.5).astype(int)
    else:
        out_plane = in_plane
    offset = (in_plane - 1) / 2 - rotation @ ((out_plane - 1) / 2)
    out_plane = tuple(int(n) for n in out_plane)
    out_shape = list(shape)
    out_shape[axes[0]], out_shape[axes[1]] = out_plane
    return axes, rotation, offset, out_plane, tuple(out_shape)


def rotate(array, angle, axes, reshape, out_dtype, order, mode, cval, prefilter):
    """scipy's rotate: the plane of ``axes`` turned by ``angle`` degrees about its centre,
    every parallel plane resampled on its own (prefiltered in 2D, as scipy does)."""
    a = np.asarray(array)
    axes, rotation, offset, out_plane, out_shape = rotation_plan(a.shape, angle, axes, reshape)
    if a.ndim == 2:
        return affine_transform(a, rotation, offset, out_shape, out_dtype, order, mode, cval, prefilter)
    result = np.empty(out_shape, dtype=out_dtype)
    planes = [[slice(None)] if axis in axes else range(n) for axis, n in enumerate(a.shape)]
    for index in itertools.product(*planes):
        result[index] = affine_transform(a[index], rotation, offset, out_plane, out_dtype, order, mode, cval, prefilter)
    return result

"""Segmentation and measurement with scipy.ndimage's signatures and results: ``label``,
``find_objects``, the per-label measurements, ``distance_transform_edt`` / ``_cdt``,
``generate_binary_structure``, ``iterate_structure``; and scikit-image's
``remove_small_objects`` plus a ``largest_component`` helper.

The Rust cores (``hounsfield::segment``) do the work: the parallel union-find labelling, the
exact feature transform (scipy's tie rule and float64 arithmetic: equal indices and distances),
the chamfer passes, the per-label reductions (counts, sums, centred sums, extremes, weighted
coordinates, bounding boxes). Measurements over a list of labels use them; a scalar ``index`` or
``index=None`` is one group, summed by numpy exactly as scipy sums it. Per-label sums of float
data are added in parallel blocks, so they can differ from scipy's sequential ``bincount`` in
the last bits (integer data: exactly equal). Positions of extremes over a list of labels follow
scipy's sort order (its tie choice) through numpy, so they equal scipy's too.
"""

import warnings

import numpy as np

from . import _hounsfield

__all__ = [
    "label",
    "find_objects",
    "sum_labels",
    "sum",
    "mean",
    "variance",
    "standard_deviation",
    "minimum",
    "maximum",
    "minimum_position",
    "maximum_position",
    "extrema",
    "center_of_mass",
    "labeled_comprehension",
    "distance_transform_edt",
    "distance_transform_cdt",
    "generate_binary_structure",
    "iterate_structure",
    "remove_small_objects",
    "largest_component",
    "watershed",
]

def _normalize(value, ndim, name):
    """A scalar or a sequence of ``ndim`` values, as a list (scipy's ``_normalize_sequence``)."""
    if np.ndim(value) == 0:
        return [value] * ndim
    value = list(value)
    if len(value) != ndim:
        raise RuntimeError(f"sequence argument must have length equal to input rank ({name})")
    return value


def _truth(input):
    """scipy's truthiness: any non-zero value (NaN included) is true."""
    input = np.asarray(input)
    if np.iscomplexobj(input):
        raise TypeError("Complex type not supported")
    return np.ascontiguousarray(input != 0) if input.dtype != bool else np.ascontiguousarray(input)


# ---------------------------------------------------------------- structuring elements


def generate_binary_structure(rank, connectivity):
    """``scipy.ndimage.generate_binary_structure``: the ``3 x ... x 3`` neighbourhood reached
    through at most ``connectivity`` axes at once (below 1 counts as 1)."""
    if rank < 1:
        return np.array(True, dtype=bool)
    return _hounsfield.seg_generate_binary_structure(int(rank), int(connectivity))


def iterate_structure(structure, iterations, origin=None):
    """``scipy.ndimage.iterate_structure``: ``structure`` dilated by itself ``iterations - 1``
    times (with ``origin``: also the origin scaled by ``iterations``)."""
    structure = np.asarray(structure)
    if iterations < 2:
        return structure.copy()
    out = _hounsfield.seg_iterate_structure(np.ascontiguousarray(structure != 0), int(iterations))
    if origin is None:
        return out
    origin = _normalize(origin, structure.ndim, "origin")
    return out, [iterations * o for o in origin]


# ---------------------------------------------------------------- labelling


def label(input, structure=None, output=None, *, backend="auto"):
    """``scipy.ndimage.label``: the components of the non-zero samples joined through
    ``structure`` (default: faces), numbered in raster order of their first sample. Returns
    ``(labels, count)``, or ``count`` when ``output`` is an array (filled in place).
    ``backend``: the GPU labels 2D and 3D arrays (``auto`` uses it when one works, and the CPU
    for other ranks); both give scipy's labels."""
    input = np.asarray(input)
    mask = _truth(input)
    if structure is None:
        structure = generate_binary_structure(input.ndim, 1)
    structure = np.asarray(structure, dtype=bool)
    if structure.ndim != input.ndim:
        raise RuntimeError("structure and input must have equal rank")
    if any(n != 3 for n in structure.shape):
        raise ValueError("structure dimensions must be equal to 3")
    need_64bits = input.size >= (2**31 - 2)
    provided = isinstance(output, np.ndarray)
    if provided:
        if output.shape != input.shape:
            raise ValueError("output shape not correct")
        dtype = output.dtype
    else:
        dtype = np.dtype(output if output is not None else (np.intp if need_64bits else np.int32))
    if input.ndim == 0 or input.size == 0:
        count = (1 if input != 0 else 0) if input.ndim == 0 else 0
        if not provided:
            output = np.empty(input.shape, dtype)
        output[...] = count
        return count if provided else (output, count)
    if backend == "auto" and input.ndim not in (2, 3):
        backend = "cpu"
    labels, count = _hounsfield.seg_label(mask, np.ascontiguousarray(structure), backend)
    if dtype == np.int32 and not provided:
        # Fewer than 2^31 labels here: the uint32 result already is the int32 array.
        return labels.view(np.int32), count
    if not provided:
        output = np.empty(input.shape, dtype)
    with np.errstate(over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        output[...] = labels
    if count and not np.array_equal(output, labels):
        # scipy refuses a result its output type cannot hold.
        raise RuntimeError("insufficient bit-depth in requested output type")
    return count if provided else (output, count)


def find_objects(input, max_label=0):
    """``scipy.ndimage.find_objects``: per label ``1..max_label`` (default: the largest), the
    tuple of slices bounding it, ``None`` for labels not present."""
    input = np.asarray(input)
    if np.iscomplexobj(input):
        raise TypeError("Complex type not supported")
    if max_label < 1:
        max_label = input.max() if input.size else 0
    if not isinstance(max_label, (int, np.integer)):
        raise TypeError(f"'{type(max_label).__name__}' object cannot be interpreted as an integer")
    max_label = int(max_label)
    if max_label < 1:
        return []
    if input.ndim == 0:
        value = int(input)
        return [() if value == i + 1 else None for i in range(max_label)]
    labels = np.ascontiguousarray(input, dtype=np.int64) if input.dtype != np.int64 else np.ascontiguousarray(input)
    boxes = _hounsfield.seg_find_objects(labels, max_label)
    return [None if b is None else tuple(slice(lo, hi, None) for lo, hi in b) for b in boxes]


# ---------------------------------------------------------------- measurements


def _safely_castable_to_int(dt):
    int_size = np.dtype(int).itemsize
    return (np.issubdtype(dt, np.signedinteger) and dt.itemsize <= int_size) or (
        np.issubdtype(dt, np.unsignedinteger) and dt.itemsize < int_size
    )


def _exact_in_float64(dtype):
    """Whether every value of ``dtype`` converts to float64 exactly."""
    return dtype.kind == "b" or (dtype.kind in "iu" and dtype.itemsize <= 4) or (dtype.kind == "f" and dtype.itemsize <= 8)


def _dense(input, labels):
    """``(values, labels)`` for the Rust reductions when the labels are small non-negative
    integers (scipy's ``bincount`` case) and the values real; else ``None``."""
    if input.dtype.kind not in "biuf" or not _safely_castable_to_int(labels.dtype):
        return None
    if labels.size == 0 or labels.min() < 0 or labels.max() > labels.size:
        return None
    values = np.ascontiguousarray(input, dtype=np.float64)
    return values, np.ascontiguousarray(labels, dtype=np.int64)


def _groups(input, labels, index):
    """The arrays broadcast as scipy broadcasts them, and the index array."""
    input, labels = np.broadcast_arrays(np.asarray(input), np.asarray(labels))
    return input, labels, np.asarray(index)


def _stats(input, labels=None, index=None, centered=False):
    """scipy's ``_stats``: counts, sums and (``centered``) centred sums of squares."""

    def single_group(vals):
        if centered:
            vals_c = vals - vals.mean()
            return vals.size, vals.sum(), (vals_c * vals_c.conjugate()).sum()
        return vals.size, vals.sum()

    input = np.asarray(input)
    if labels is None:
        return single_group(input)
    input, labels = np.broadcast_arrays(input, np.asarray(labels))
    if index is None:
        return single_group(input[labels > 0])
    if np.isscalar(index):
        return single_group(input[labels == index])
    dense = _dense(input, labels)
    if dense is not None:
        values, lab = dense
        top = int(lab.max())
        counts, sums, *_ = _hounsfield.seg_label_statistics(values, lab, top, False)
        counts, sums = np.asarray(counts, np.intp), np.asarray(sums)
        if centered:
            with np.errstate(divide="ignore", invalid="ignore"):
                means = sums / counts
            sums_c = np.asarray(_hounsfield.seg_centred_sum_of_squares(values, lab, list(means)))
        idxs = np.asanyarray(index, np.int_).copy()
        found = (idxs >= 0) & (idxs < counts.size)
        idxs[~found] = 0
    else:
        unique_labels, new_labels = np.unique(labels, return_inverse=True)
        new_labels = np.reshape(new_labels, (-1,))
        counts = np.bincount(new_labels)
        sums = np.bincount(new_labels, weights=input.ravel())
        if centered:
            means = sums / counts
            centred = input.ravel() - means[new_labels]
            sums_c = np.bincount(new_labels, weights=(centred * centred.conjugate()).ravel())
        idxs = np.searchsorted(unique_labels, index)
        idxs[idxs >= unique_labels.size] = 0
        found = unique_labels[idxs] == index
    counts = counts[idxs]
    counts[~found] = 0
    sums = sums[idxs]
    sums[~found] = 0
    if not centered:
        return counts, sums
    sums_c = sums_c[idxs]
    sums_c[~found] = 0
    return counts, sums, sums_c


def sum_labels(input, labels=None, index=None):
    """``scipy.ndimage.sum_labels``: the sum of the values of each label in ``index``."""
    return _stats(input, labels, index)[1]


def sum(input, labels=None, index=None):  # noqa: A001 - scipy's name
    """``scipy.ndimage.sum`` (alias of :func:`sum_labels`)."""
    return sum_labels(input, labels, index)


def mean(input, labels=None, index=None):
    """``scipy.ndimage.mean``: the mean of the values of each label in ``index``."""
    count, total = _stats(input, labels, index)
    return total / np.asanyarray(count).astype(np.float64)


def variance(input, labels=None, index=None):
    """``scipy.ndimage.variance``: the population variance of each label in ``index``."""
    count, _, sum_c_sq = _stats(input, labels, index, centered=True)
    return sum_c_sq / np.asanyarray(count).astype(float)


def standard_deviation(input, labels=None, index=None):
    """``scipy.ndimage.standard_deviation``: the square root of :func:`variance`."""
    return np.sqrt(variance(input, labels, index))


def _select(input, labels=None, index=None, find_min=False, find_max=False, find_min_positions=False, find_max_positions=False):
    """scipy's ``_select``: extremes and their flat positions. Values over a list of labels
    come from the Rust reduction; positions follow scipy's sort order (its choice among ties)."""
    input = np.asanyarray(input)
    find_positions = find_min_positions or find_max_positions
    positions = np.arange(input.size).reshape(input.shape) if find_positions else None

    def single_group(vals, positions):
        result = []
        if find_min:
            result += [vals.min()]
        if find_min_positions:
            result += [positions[vals == vals.min()][0]]
        if find_max:
            result += [vals.max()]
        if find_max_positions:
            result += [positions[vals == vals.max()][0]]
        return result

    if labels is None:
        return single_group(input, positions)
    labels = np.asarray(labels)
    if find_positions and np.broadcast_shapes(input.shape, labels.shape) != input.shape:
        # scipy indexes out of its position array here (IndexError); say what is wrong.
        raise ValueError(
            f"labels of shape {labels.shape} for an input of shape {input.shape}: positions need labels "
            "that broadcast to the input's shape"
        )
    input, labels = np.broadcast_arrays(input, labels)
    if index is None:
        mask = labels > 0
        return single_group(input[mask], positions[mask] if find_positions else None)
    if np.isscalar(index):
        mask = labels == index
        return single_group(input[mask], positions[mask] if find_positions else None)
    index = np.asarray(index)
    dense = None if find_positions or not _exact_in_float64(input.dtype) else _dense(input, labels)
    if dense is not None:
        values, lab = dense
        top = int(lab.max())
        _, _, mins, maxs, _, _, _, saw_nan = _hounsfield.seg_label_statistics(values, lab, top, False)
        if not saw_nan:
            idxs = np.asanyarray(index, np.int_).copy()
            found = (idxs >= 0) & (idxs <= top)
            idxs[~found] = top + 1
            result = []
            for wanted, extremes in ((find_min, mins), (find_max, maxs)):
                if wanted:
                    table = np.zeros(top + 2, input.dtype)
                    present = np.isfinite(extremes)
                    table[: top + 1][present] = np.asarray(extremes)[present].astype(input.dtype)
                    result.append(table[idxs])
            return result
    if not _safely_castable_to_int(labels.dtype) or labels.min() < 0 or labels.max() > labels.size:
        unique_labels, labels = np.unique(labels, return_inverse=True)
        idxs = np.searchsorted(unique_labels, index)
        idxs[idxs >= unique_labels.size] = 0
        found = unique_labels[idxs] == index
    else:
        idxs = np.asanyarray(index, np.int_).copy()
        found = (idxs >= 0) & (idxs <= labels.max())
    idxs[~found] = labels.max() + 1
    order = input.ravel().argsort()
    input = input.ravel()[order]
    labels = labels.ravel()[order]
    if find_positions:
        positions = positions.ravel()[order]
    result = []
    if find_min:
        mins = np.zeros(labels.max() + 2, input.dtype)
        mins[labels[::-1]] = input[::-1]
        result += [mins[idxs]]
    if find_min_positions:
        minpos = np.zeros(labels.max() + 2, int)
        minpos[labels[::-1]] = positions[::-1]
        result += [minpos[idxs]]
    if find_max:
        maxs = np.zeros(labels.max() + 2, input.dtype)
        maxs[labels] = input
        result += [maxs[idxs]]
    if find_max_positions:
        maxpos = np.zeros(labels.max() + 2, int)
        maxpos[labels] = positions
        result += [maxpos[idxs]]
    return result


def minimum(input, labels=None, index=None):
    """``scipy.ndimage.minimum``: the smallest value of each label in ``index``."""
    return _select(input, labels, index, find_min=True)[0]


def maximum(input, labels=None, index=None):
    """``scipy.ndimage.maximum``: the largest value of each label in ``index``."""
    return _select(input, labels, index, find_max=True)[0]


def minimum_position(input, labels=None, index=None):
    """``scipy.ndimage.minimum_position``: coordinates of the first smallest value per label."""
    dims = np.array(np.asarray(input).shape)
    result = _select(input, labels, index, find_min_positions=True)[0]
    return _scipy_positions(result, dims, labels, index)


def maximum_position(input, labels=None, index=None):
    """``scipy.ndimage.maximum_position``: coordinates of the first largest value per label."""
    dims = np.array(np.asarray(input).shape)
    result = _select(input, labels, index, find_max_positions=True)[0]
    return _scipy_positions(result, dims, labels, index)


def _scipy_positions(result, dims, labels, index):
    """scipy's conversion of flat positions to coordinate tuples."""
    dim_prod = np.cumprod([1] + list(dims[:0:-1]))[::-1]
    if np.isscalar(result):
        return tuple((result // dim_prod) % dims)
    return [tuple(v) for v in (result.reshape(-1, 1) // dim_prod) % dims]


def extrema(input, labels=None, index=None):
    """``scipy.ndimage.extrema``: ``(min, max, min_position, max_position)``."""
    dims = np.array(np.asarray(input).shape)
    dim_prod = np.cumprod([1] + list(dims[:0:-1]))[::-1]
    minimums, min_positions, maximums, max_positions = _select(
        input, labels, index, find_min=True, find_max=True, find_min_positions=True, find_max_positions=True
    )
    if np.isscalar(minimums):
        return (
            minimums,
            maximums,
            tuple((min_positions // dim_prod) % dims),
            tuple((max_positions // dim_prod) % dims),
        )
    min_positions = [tuple(v) for v in (min_positions.reshape(-1, 1) // dim_prod) % dims]
    max_positions = [tuple(v) for v in (max_positions.reshape(-1, 1) // dim_prod) % dims]
    return minimums, maximums, min_positions, max_positions


def center_of_mass(input, labels=None, index=None):
    """``scipy.ndimage.center_of_mass``: the value-weighted mean coordinates of each label."""
    input = np.asarray(input)
    if input.ndim == 0:
        raise ValueError("center_of_mass needs an input with at least one axis")
    if labels is not None and index is not None and not np.isscalar(index) and np.shape(labels) == input.shape:
        dense = _dense(input, np.asarray(labels))
        if dense is not None:
            values, lab = dense
            top = int(lab.max())
            _, sums, _, _, _, _, weighted, _ = _hounsfield.seg_label_statistics(values, lab, top, True)
            idxs = np.asanyarray(index, np.int_).copy()
            found = (idxs >= 0) & (idxs <= top)
            idxs[~found] = 0
            sums = np.asarray(sums)[idxs]
            sums[~found] = 0
            weighted = np.asarray(weighted).reshape(top + 1, input.ndim)[idxs]
            weighted[~found] = 0
            with np.errstate(divide="ignore", invalid="ignore"):
                results = [weighted[:, d] / sums for d in range(input.ndim)]
            return [tuple(v) for v in np.array(results).T]
    normalizer = sum_labels(input, labels, index)
    grids = np.ogrid[[slice(0, i) for i in input.shape]]
    results = [sum_labels(input * grids[d].astype(float), labels, index) / normalizer for d in range(input.ndim)]
    if np.isscalar(results[0]):
        return tuple(results)
    return [tuple(v) for v in np.array(results).T]


# ---------------------------------------------------------------- distance transforms


def labeled_comprehension(input, labels, index, func, out_dtype, default, pass_positions=False):
    """``scipy.ndimage.labeled_comprehension``: ``func`` applied to the values (and, with
    ``pass_positions``, the flat positions) of each label in ``index``; ``default`` where a
    label has no sample. Without ``labels``, ``func`` of every value; without ``index``, of the
    values labelled above 0. Values reach ``func`` in raster order."""
    scalar = np.isscalar(index)
    input = np.asarray(input)
    positions = np.arange(input.size).reshape(input.shape) if pass_positions else None
    if labels is None:
        if index is not None:
            raise ValueError("index without defined labels")
        return func(input.ravel(), positions.ravel()) if pass_positions else func(input.ravel())
    labels = np.asarray(labels)
    try:
        input, labels = np.broadcast_arrays(input, labels)
        if pass_positions:
            positions = np.broadcast_to(positions, input.shape)
    except ValueError:
        raise ValueError("input and labels must have the same shape (excepting dimensions with width 1)") from None
    if index is None:
        keep = labels > 0
        return func(input[keep], positions[keep]) if pass_positions else func(input[keep])
    index = np.atleast_1d(index)
    if np.any(index.astype(labels.dtype).astype(index.dtype) != index):
        raise ValueError(f"Cannot convert index values from <{index.dtype}> to <{labels.dtype}> (labels' type) without loss of precision")
    index = index.astype(labels.dtype)
    inside = (labels >= index.min()) & (labels <= index.max())
    lab = labels[inside]
    order = np.argsort(lab, kind="stable")
    lab = lab[order]
    groups = [input[inside][order]] + ([positions[inside][order]] if pass_positions else [])
    starts = np.searchsorted(lab, index, side="left")
    ends = np.searchsorted(lab, index, side="right")
    out = np.empty(index.shape, out_dtype)
    out[:] = default
    for i, (a, b) in enumerate(zip(starts, ends)):
        if a < b:
            out[i] = func(*[g[a:b] for g in groups])
    return out[0] if scalar else out


def histogram(input, min, max, bins, labels=None, index=None):  # noqa: A002 - scipy's names
    """``scipy.ndimage.histogram``: counts of the values in ``bins`` equal bins from ``min`` to
    ``max`` (numpy's ``histogram`` rules: half-open bins, the last closed, values outside left
    out) — of every value, of those labelled above 0 (``labels`` without ``index``) or per label
    of ``index`` (an object array of count arrays, ``None`` for labels without samples). One
    parallel pass in Rust for real values and integer labels."""
    edges = np.linspace(min, max, bins + 1)
    input = np.asarray(input)
    if labels is None and index is not None:
        raise ValueError("index without defined labels")
    fast = (
        input.dtype.kind in "biuf"
        and _exact_in_float64(input.dtype)
        and edges.size >= 2
        and np.all(np.isfinite(edges))
        and np.all(edges[1:] >= edges[:-1])
    )
    if labels is not None:
        labels = np.asarray(labels)
        fast = fast and _safely_castable_to_int(labels.dtype)
        if fast:
            try:
                input, labels = np.broadcast_arrays(input, labels)
            except ValueError:
                fast = False
    if fast and index is not None:
        idx = np.atleast_1d(index)
        exact = idx.dtype.kind in "iu" or (idx.dtype.kind in "fb" and np.all(idx.astype(labels.dtype).astype(idx.dtype) == idx))
        fast = exact and idx.size > 0 and (int(idx.max()) - int(idx.min()) + 1) * (edges.size - 1) <= 1 << 24
    if not fast:
        return labeled_comprehension(input, labels, index, lambda v: np.histogram(v, edges)[0], object, None)
    # float32 / float64 values and int32 / int64 labels go through as they are.
    values = np.ascontiguousarray(input, dtype=input.dtype if input.dtype in (np.float32, np.float64) else np.float64)
    lab = None
    if labels is not None:
        lab = np.ascontiguousarray(labels, dtype=labels.dtype if labels.dtype in (np.int32, np.int64) else np.int64)
    if index is None:
        return _hounsfield.seg_label_histograms(values, lab, None, list(edges))[0][0].astype(np.intp)
    idx = np.atleast_1d(index).astype(labels.dtype)
    first, last = int(idx.min()), int(idx.max())
    counts, samples = _hounsfield.seg_label_histograms(values, lab, (first, last), list(edges))
    counts = counts.astype(np.intp)
    # Labels with samples (whatever their values) get a histogram, the others None.
    seen = np.asarray(samples) > 0
    out = np.empty(idx.shape, object)
    for i, label in enumerate(idx):
        out[i] = counts[int(label) - first] if seen[int(label) - first] else None
    return out[0] if np.isscalar(index) else out


def _distance_transform_arg_check(distances_out, indices_out, return_distances, return_indices):
    errors = []
    if not return_distances and not return_indices:
        errors.append("at least one of return_distances/return_indices must be True")
    if distances_out and not return_distances:
        errors.append("return_distances must be True if distances is supplied")
    if indices_out and not return_indices:
        errors.append("return_indices must be True if indices is supplied")
    if errors:
        raise RuntimeError(", ".join(errors))


def _results(dt, ft, return_distances, return_indices, dt_inplace, ft_inplace):
    result = []
    if return_distances and not dt_inplace:
        result.append(dt)
    if return_indices and not ft_inplace:
        result.append(ft)
    if len(result) == 2:
        return tuple(result)
    return result[0] if result else None


def distance_transform_edt(input, sampling=None, return_distances=True, return_indices=False, distances=None, indices=None, *, backend="auto"):
    """``scipy.ndimage.distance_transform_edt``: the exact Euclidean distance of every non-zero
    sample to the nearest zero sample (``sampling``: spacing per axis), and with
    ``return_indices`` that sample's coordinates — equal to scipy's, ties included.

    ``backend``: ``"auto"`` and ``"cpu"`` give scipy's float64 values (the dtype rule: scipy's
    bytes by default); ``"gpu"`` computes 2D/3D distances in float32 on the GPU (within float32
    rounding of scipy's, returned as float64; no ``indices``; volumes of at most 65,535 slices,
    since the GPU counts distances along the first axis in 16 bits)."""
    ft_inplace = isinstance(indices, np.ndarray)
    dt_inplace = isinstance(distances, np.ndarray)
    _distance_transform_arg_check(dt_inplace, ft_inplace, return_distances, return_indices)
    mask = np.atleast_1d(_truth(input))
    if sampling is not None:
        sampling = [float(s) for s in _normalize(sampling, mask.ndim, "sampling")]
    if ft_inplace:
        if indices.shape != (mask.ndim,) + mask.shape:
            raise RuntimeError("indices array has wrong shape")
        if indices.dtype.type != np.int32:
            raise RuntimeError("indices array must be int32")
    if dt_inplace:
        if distances.shape != mask.shape:
            raise RuntimeError("distances array has wrong shape")
        if distances.dtype.type != np.float64:
            raise RuntimeError("distances array must be float64")
    if backend not in ("auto", "cpu", "gpu"):
        raise ValueError(f"backend must be 'auto', 'cpu' or 'gpu', not {backend!r}")
    if backend == "gpu":
        if return_indices:
            raise ValueError("the GPU distance transform returns distances only: use backend='cpu' for indices")
        dt, ft = _hounsfield.seg_distance_transform_edt_gpu(mask, sampling).astype(np.float64), None
    else:
        dt, ft = _hounsfield.seg_distance_transform_edt(mask, sampling, bool(return_indices))
    if dt_inplace:
        distances[...] = dt
    if ft_inplace:
        indices[...] = ft
    return _results(dt, ft, return_distances, return_indices, dt_inplace, ft_inplace)


def distance_transform_cdt(input, metric="chessboard", return_distances=True, return_indices=False, distances=None, indices=None):
    """``scipy.ndimage.distance_transform_cdt``: chamfer distances (``'chessboard'``,
    ``'taxicab'``/``'cityblock'``/``'manhattan'``, or a ``3 x ... x 3`` structure) to the
    nearest zero sample, and optionally its coordinates — scipy's two raster passes."""
    ft_inplace = isinstance(indices, np.ndarray)
    dt_inplace = isinstance(distances, np.ndarray)
    _distance_transform_arg_check(dt_inplace, ft_inplace, return_distances, return_indices)
    input = np.asarray(input)
    if isinstance(metric, str):
        if metric in ("taxicab", "cityblock", "manhattan"):
            metric = generate_binary_structure(input.ndim, 1)
        elif metric == "chessboard":
            metric = generate_binary_structure(input.ndim, input.ndim)
        else:
            raise ValueError("invalid metric provided")
    else:
        try:
            metric = np.asarray(metric)
        except Exception as e:
            raise ValueError("invalid metric provided") from e
        if any(s != 3 for s in metric.shape):
            raise ValueError("metric sizes must be equal to 3")
    if dt_inplace:
        if distances.dtype.type != np.int32:
            raise ValueError("distances must be of int32 type")
        if distances.shape != input.shape:
            raise ValueError("distances has wrong shape")
    if ft_inplace:
        if indices.dtype.type != np.int32:
            raise ValueError("indices array must be int32")
        if indices.shape != (input.ndim,) + input.shape:
            raise ValueError("indices array has wrong shape")
    dt, ft = _hounsfield.seg_distance_transform_cdt(_truth(input), np.ascontiguousarray(metric != 0), bool(return_indices))
    if dt_inplace:
        distances[...] = dt
    if ft_inplace:
        indices[...] = ft
    return _results(dt, ft, return_distances, return_indices, dt_inplace, ft_inplace)


# ---------------------------------------------------------------- watershed


def watershed(image, markers=None, connectivity=1, offset=None, mask=None, compactness=0, watershed_line=False, *, backend="cpu"):
    """``skimage.segmentation.watershed`` with markers: floods ``image`` from the labelled
    ``markers`` (inside ``mask``) through ``connectivity`` (an int for
    ``generate_binary_structure``, or a footprint), label for label equal to scikit-image —
    ties included — also with ``compactness`` and ``watershed_line``. The labels come back in
    the markers' dtype. Markers are required (scikit-image's local-minima and regular-seed
    defaults are not implemented).

    ``backend="gpu"`` floods 2D and 3D images on the GPU (classic watershed only: no
    compactness, no lines; float32 heights; volumes by z-slabs where their state of 16
    bytes a sample exceeds one storage binding, images within one binding). It equals
    scikit-image wherever no two labels meet at equal height; where they do, a sample takes
    the neighbour fewer steps from where the flood entered that height, then the smaller
    label (scikit-image follows its arrival order there)."""
    if backend not in ("cpu", "gpu"):
        raise ValueError(f"backend must be 'cpu' or 'gpu', not {backend!r}")
    image = np.asarray(image)
    if markers is None or not isinstance(markers, (np.ndarray, list, tuple)):
        raise ValueError(
            "watershed needs a markers array (labelled seeds): local-minima and regular-grid seeds are not "
            "implemented; label your seeds first, e.g. markers, _ = hounsfield.label(seed_mask)"
        )
    if mask is not None:
        mask = np.asanyarray(mask, dtype=bool)
        if mask.shape != image.shape:
            raise ValueError(f"`mask` (shape {mask.shape}) must have same shape as `image` (shape {image.shape})")
    markers = np.asanyarray(markers)
    if markers.shape != image.shape:
        raise ValueError(f"`markers` (shape {markers.shape}) must have same shape as `image` (shape {image.shape})")
    if np.isscalar(connectivity):
        footprint = generate_binary_structure(image.ndim, connectivity)
    else:
        footprint = np.array(connectivity, bool)
        if footprint.ndim != image.ndim:
            raise ValueError("Connectivity dimension must be same as image")
    if offset is None:
        if any(n % 2 == 0 for n in footprint.shape):
            raise ValueError("Connectivity array must have an unambiguous center")
    else:
        offset = [int(o) for o in np.broadcast_to(np.asarray(offset), (image.ndim,))]
    labels = _hounsfield.seg_watershed(
        np.ascontiguousarray(image, dtype=np.float64),
        # int32 and int64 labels go through as they are; the rest as int64.
        np.ascontiguousarray(markers, dtype=markers.dtype if markers.dtype in (np.int32, np.int64) else np.int64),
        None if mask is None else np.ascontiguousarray(mask),
        np.ascontiguousarray(footprint),
        offset,
        float(compactness),
        bool(watershed_line),
        backend,
    )
    return labels.astype(markers.dtype, copy=False)


# ---------------------------------------------------------------- scikit-image helpers

_DEPRECATED = object()


def remove_small_objects(ar, min_size=_DEPRECATED, connectivity=1, *, max_size=64, out=None):
    """``skimage.morphology.remove_small_objects`` (scikit-image 0.26): components of at most
    ``max_size`` samples are removed (with the deprecated ``min_size``: fewer than
    ``min_size``). A bool array is labelled with ``connectivity``; an integer array is taken
    as labels."""
    ar = np.asarray(ar)
    if ar.dtype != bool and not np.issubdtype(ar.dtype, np.integer):
        raise TypeError(f"Only bool or integer image types are supported. Got {ar.dtype}.")
    if out is None:
        out = ar.copy()
    else:
        out[:] = ar
    if max_size == 0 and min_size is _DEPRECATED:
        return out
    if out.dtype == bool:
        structure = generate_binary_structure(ar.ndim, connectivity)
        ccs, _ = label(ar, structure)
    else:
        ccs = out
    try:
        sizes = np.bincount(ccs.ravel())
    except ValueError:
        raise ValueError(
            "Negative value labels are not supported. Try relabeling the input with "
            "`scipy.ndimage.label` or `skimage.morphology.label`."
        ) from None
    if len(sizes) == 2 and out.dtype != bool:
        warnings.warn("Only one label was provided to `remove_small_objects`. Did you mean to use a boolean array?", stacklevel=2)
    too_small = sizes < min_size if min_size is not _DEPRECATED else sizes <= max_size
    out[too_small[ccs]] = 0
    return out


def largest_component(input, connectivity=1):
    """The largest component of the non-zero samples (joined through
    ``generate_binary_structure(ndim, connectivity)``) as a bool mask; ties go to the
    component met first in raster order; no non-zero sample gives an all-false mask."""
    labels, count = label(input, generate_binary_structure(np.ndim(input), connectivity))
    if count == 0:
        return np.zeros(np.shape(input), bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))

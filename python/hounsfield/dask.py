"""hounsfield on Dask arrays: the scipy-named filters chunk by chunk, reductions from per-chunk
partials, DICOM series read slab by slab — volumes larger than memory, and the same code on a
laptop or a ``dask.distributed`` cluster.

Every function takes a ``dask.array.Array`` and returns a lazy one (reductions return a
``dask.delayed`` value: call ``.compute()``). The top-level functions of ``hounsfield`` forward
dask arrays here, so ``hounsfield.gaussian_filter(dask_array, 2)`` works too.

How results stay equal to the in-memory call:

* **Halos.** Each chunk is filtered together with the exact neighbourhood its output needs
  (``map_overlap`` with ``boundary="none"``): Gaussian and its derivatives ``int(truncate * sigma
  + 0.5)`` per axis; median, uniform, grey morphology ``size // 2`` (opening/closing twice);
  binary morphology ``radius * iterations`` (twice for opening/closing); correlate/convolve
  half the weights; Sobel, Prewitt, Laplace 1; bilateral ``ceil(2.5 * sigma / spacing)``. The
  filter's own boundary mode then applies only at the array's true edges (``wrap``, which reads
  the far end, gets dask's periodic halo there), so every mode gives the in-memory result. Axes whose chunks are shorter than the halo are rechunked (merged with
  their neighbours, ``dask.array.overlap.ensure_minimum_chunksize``) before filtering.
* **Global quantities** are computed across chunks, never per chunk: anisotropic diffusion
  measures the whole volume's mean squared gradient before every iteration (one halo voxel per
  iteration); ``unsharp_mask`` clips with the whole image's sign; the histogram's edges and
  Otsu's threshold come from the global minimum and maximum and summed per-chunk counts.
* **Resampling** (``zoom``) computes each output block from just the input block it reads, at
  the coordinates of the whole call (``ResampleWindow``), so blocks reassemble it exactly.
* **dtypes** follow the in-memory functions (and so scipy): each chunk goes through them.

Not chunkable, and refused with the reason: ``binary_fill_holes`` (a hole is decided by
connectivity to the border of the whole volume) and text ``pipeline``\\ s (use the functions).
"""

import functools
import math
import numbers

import numpy as np

try:
    import dask
    import dask.array as da
    from dask.array.overlap import ensure_minimum_chunksize
except ImportError as error:  # pragma: no cover - the message is the point
    raise ImportError(
        "hounsfield.dask needs Dask: pip install 'hounsfield[dask]' (dask[array], distributed, zarr)"
    ) from error

import hounsfield as _hf
from hounsfield import _hounsfield, _ndimage

__all__ = [
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
    "maximum_filter",
    "minimum_filter",
    "binary_erosion",
    "binary_dilation",
    "binary_opening",
    "binary_closing",
    "binary_fill_holes",
    "bilateral",
    "anisotropic_diffusion",
    "unsharp_mask",
    "window_level",
    "zoom",
    "mip",
    "statistics",
    "histogram",
    "threshold_otsu",
    "read_dicom_series",
    "NOT_CHUNKABLE",
]

NOT_CHUNKABLE = {
    "binary_fill_holes": "a hole is background not connected to the border of the whole volume, which no chunk "
    "sees; compute it in memory (hounsfield.binary_fill_holes on the array or on a slab with its own border)",
    "pipeline": "a text pipeline's halo is the sum of its steps'; chain the hounsfield.dask functions instead",
}


def is_dask_array(value):
    """True for a ``dask.array.Array``."""
    return isinstance(value, da.Array)


def _require(x, name):
    if not isinstance(x, da.Array):
        raise TypeError(
            f"hounsfield.dask.{name} takes a dask array, not {type(x).__name__}: wrap it with "
            f"dask.array.from_array(x, chunks=...) or call hounsfield.{name} on in-memory arrays"
        )
    if x.ndim not in (2, 3):
        raise ValueError(f"input has {x.ndim} dimensions: give a 2D (y, x) image or a 3D (z, y, x) volume")
    if any(n == 0 for n in x.shape):
        raise ValueError(f"input shape {x.shape} is empty")
    if x.dtype.kind not in "biuf":
        raise ValueError(f"input dtype {x.dtype} is not numeric")
    if any(math.isnan(n) for n in x.shape):
        raise ValueError("input has unknown chunk sizes: call x.compute_chunk_sizes() first")


def _fit_chunks(x, depth):
    """Merges chunks shorter than the halo on each axis that has several (each neighbour must
    hold the whole halo); axes in one chunk need no halo."""
    chunks = []
    for axis, (c, d) in enumerate(zip(x.chunks, depth)):
        if d > 0 and len(c) > 1 and min(c) < d:
            c = (x.shape[axis],) if d >= x.shape[axis] else ensure_minimum_chunksize(d, c)
        chunks.append(tuple(c))
    chunks = tuple(chunks)
    return x if chunks == x.chunks else x.rechunk(chunks)


def _overlap(name, x, depth, func, dtype=None, mode=None, **kwargs):
    """``func`` (an in-memory hounsfield call) on every chunk with a halo of ``depth`` per axis;
    the array's true edges keep the filter's own boundary mode. ``kwargs`` reach ``func`` (a
    ``dask.delayed`` value there is computed first: a global quantity every chunk needs)."""
    _require(x, name)
    depth = [int(d) for d in depth]
    given = x.chunks
    x = _fit_chunks(x, depth)
    depth = {axis: (d if len(x.chunks[axis]) > 1 else 0) for axis, d in enumerate(depth)}
    dtype = x.dtype if dtype is None else np.dtype(dtype)
    meta = np.empty((0,) * x.ndim, dtype)
    # "wrap" reads the opposite end of the array, which an edge chunk lacks: dask's periodic
    # halo brings it. Every other mode reads only next to the edge: no halo there.
    boundary = "periodic" if mode in ("wrap", "grid-wrap") else "none"
    out = x.map_overlap(func, depth=depth, boundary=boundary, trim=True, dtype=dtype, meta=meta, **kwargs)
    # Merged chunks are split back: the result keeps the input's chunking (zarr writes align).
    return out if out.chunks == given else out.rechunk(given)


def _output_dtype(x, output):
    """scipy's ``output=`` as a dask result's dtype (an array to fill has no lazy meaning)."""
    if output is None:
        return x.dtype
    if isinstance(output, np.ndarray):
        raise ValueError("output= arrays do not apply to dask arrays (results are lazy): give a dtype")
    return np.dtype(output)


def _one_mode(mode, name):
    if _ndimage.is_sequence(mode):
        raise ValueError(f"hounsfield.dask.{name} takes one mode for all axes (call it per axis for per-axis modes)")
    return mode


def _depth(ndim, axes, per_axis_depth):
    """A halo per array axis from one per filtered axis (0 on the others)."""
    depth = [0] * ndim
    for axis, d in zip(_ndimage.check_axes(axes, ndim), per_axis_depth):
        depth[axis] = int(d)
    return depth


def _window_depth(name, size, footprint, structure, origin, axes, ndim, passes=1):
    """The halo of a window (box of ``size``, ``footprint`` or ``structure``) moved by
    ``origin``: half its side plus the shift (plus one for the even-side origin dilations and
    convolutions use), times the passes."""
    count = len(_ndimage.check_axes(axes, ndim))
    if footprint is not None:
        shape = np.shape(footprint)
    elif structure is not None:
        shape = np.shape(structure)
    elif size is None:
        raise ValueError(f"{name}: give size or footprint")
    else:
        shape = _ndimage.per_axis(size, count, "size")
    origins = _ndimage.per_axis(origin, count, "origin")
    return _depth(ndim, axes, [passes * (int(n) // 2 + abs(int(o)) + 1) for n, o in zip(shape, origins)])


def _gaussian_depth(sigma, truncate, radius, axes, ndim):
    count = len(_ndimage.check_axes(axes, ndim))
    radii = _ndimage.per_axis(radius, count, "radius")
    return _depth(ndim, axes, [int(truncate * s + 0.5) if r is None else int(r) for s, r in zip(_ndimage.per_axis(sigma, count, "sigma"), radii)])


def _forwarded(name):
    """The in-memory function, documented here as chunked."""

    def decorate(fn):
        fn.__doc__ = f"``hounsfield.{name}`` on a dask array, chunk by chunk with the exact halo. " + (fn.__doc__ or "")
        return fn

    return decorate


# --- linear and derivative filters ----------------------------------------------------------------


@_forwarded("gaussian_filter")
def gaussian_filter(input, sigma, order=0, output=None, mode="reflect", cval=0.0, truncate=4.0, *, radius=None, axes=None, backend="auto", precision=None):
    ndim = _ndim(input, "gaussian_filter")
    depth = _gaussian_depth(sigma, truncate, radius, axes, ndim)
    f = functools.partial(_hf.gaussian_filter, sigma=sigma, order=order, mode=_one_mode(mode, "gaussian_filter"), cval=cval, truncate=truncate, radius=radius, axes=axes, output=output, backend=backend, precision=precision)
    return _overlap("gaussian_filter", input, depth, f, dtype=_output_dtype(input, output), mode=mode)


def _gaussian_derivative(name, input, sigma, output, mode, cval, axes, truncate, radius, backend, precision):
    ndim = _ndim(input, name)
    # The derivative of each filtered axis smooths along every axis with a nonzero sigma.
    depth = _gaussian_depth(sigma, truncate, radius, axes, ndim)
    depth = [max(depth)] * ndim if axes is None else depth
    f = functools.partial(getattr(_hf, name), sigma=sigma, mode=_one_mode(mode, name), cval=cval, axes=axes, truncate=truncate, radius=radius, output=output, backend=backend, precision=precision)
    return _overlap(name, input, depth, f, dtype=_output_dtype(input, output), mode=mode)


@_forwarded("gaussian_laplace")
def gaussian_laplace(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, truncate=4.0, radius=None, backend="auto", precision=None):
    return _gaussian_derivative("gaussian_laplace", input, sigma, output, mode, cval, axes, truncate, radius, backend, precision)


@_forwarded("gaussian_gradient_magnitude")
def gaussian_gradient_magnitude(input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, truncate=4.0, radius=None, backend="auto", precision=None):
    return _gaussian_derivative("gaussian_gradient_magnitude", input, sigma, output, mode, cval, axes, truncate, radius, backend, precision)


@_forwarded("uniform_filter")
def uniform_filter(input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    ndim = _ndim(input, "uniform_filter")
    depth = _window_depth("uniform_filter", size, None, None, origin, axes, ndim)
    f = functools.partial(_hf.uniform_filter, size=size, mode=_one_mode(mode, "uniform_filter"), cval=cval, origin=origin, axes=axes, output=output, backend=backend, precision=precision)
    return _overlap("uniform_filter", input, depth, f, dtype=_output_dtype(input, output), mode=mode)


@_forwarded("correlate1d")
def correlate1d(input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0, *, backend="auto", precision=None):
    ndim = _ndim(input, "correlate1d")
    a = _hf._axis(axis, ndim)
    depth = [0] * ndim
    depth[a] = len(np.ravel(weights)) // 2 + abs(int(origin))
    f = functools.partial(_hf.correlate1d, weights=weights, axis=a, mode=_one_mode(mode, "correlate1d"), cval=cval, origin=origin, output=output, backend=backend, precision=precision)
    return _overlap("correlate1d", input, depth, f, dtype=_output_dtype(input, output), mode=mode)


def _correlate(name, input, weights, output, mode, cval, origin, axes, backend, precision):
    ndim = _ndim(input, name)
    depth = _window_depth(name, None, np.asarray(weights), None, origin, axes, ndim)
    f = functools.partial(getattr(_hf, name), weights=weights, mode=_one_mode(mode, name), cval=cval, origin=origin, axes=axes, output=output, backend=backend, precision=precision)
    return _overlap(name, input, depth, f, dtype=_output_dtype(input, output), mode=mode)


@_forwarded("correlate")
def correlate(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    return _correlate("correlate", input, weights, output, mode, cval, origin, axes, backend, precision)


@_forwarded("convolve")
def convolve(input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    return _correlate("convolve", input, weights, output, mode, cval, origin, axes, backend, precision)


def _edge(name, input, axis, output, mode, cval, backend, precision):
    ndim = _ndim(input, name)
    f = functools.partial(getattr(_hf, name), axis=axis, mode=_one_mode(mode, name), cval=cval, output=output, backend=backend, precision=precision)
    return _overlap(name, input, [1] * ndim, f, dtype=_output_dtype(input, output), mode=mode)


@_forwarded("sobel")
def sobel(input, axis=-1, output=None, mode="reflect", cval=0.0, *, backend="auto", precision=None):
    return _edge("sobel", input, axis, output, mode, cval, backend, precision)


@_forwarded("prewitt")
def prewitt(input, axis=-1, output=None, mode="reflect", cval=0.0, *, backend="auto", precision=None):
    return _edge("prewitt", input, axis, output, mode, cval, backend, precision)


@_forwarded("laplace")
def laplace(input, output=None, mode="reflect", cval=0.0, *, axes=None, backend="auto", precision=None):
    ndim = _ndim(input, "laplace")
    f = functools.partial(_hf.laplace, mode=_one_mode(mode, "laplace"), cval=cval, axes=axes, output=output, backend=backend, precision=precision)
    return _overlap("laplace", input, [1] * ndim, f, dtype=_output_dtype(input, output), mode=mode)


# --- rank filters and morphology ------------------------------------------------------------------


@_forwarded("median_filter")
def median_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    ndim = _ndim(input, "median_filter")
    depth = _window_depth("median_filter", size, footprint, None, origin, axes, ndim)
    f = functools.partial(_hf.median_filter, size=size, footprint=footprint, mode=_one_mode(mode, "median_filter"), cval=cval, origin=origin, axes=axes, output=output, backend=backend, precision=precision)
    return _overlap("median_filter", input, depth, f, dtype=_output_dtype(input, output), mode=mode)


def _grey(name, passes, input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision):
    ndim = _ndim(input, name)
    depth = _window_depth(name, size, footprint, structure, origin, axes, ndim, passes)
    f = functools.partial(
        getattr(_hf, name), size=size, footprint=footprint, mode=_one_mode(mode, name), cval=cval, origin=origin, axes=axes, output=output, backend=backend, precision=precision, **({} if structure is None else {"structure": structure})
    )
    return _overlap(name, input, depth, f, dtype=_output_dtype(input, output), mode=mode)


@_forwarded("grey_erosion")
def grey_erosion(input, size=None, footprint=None, structure=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    return _grey("grey_erosion", 1, input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision)


@_forwarded("grey_dilation")
def grey_dilation(input, size=None, footprint=None, structure=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    return _grey("grey_dilation", 1, input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision)


@_forwarded("grey_opening")
def grey_opening(input, size=None, footprint=None, structure=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    return _grey("grey_opening", 2, input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision)


@_forwarded("grey_closing")
def grey_closing(input, size=None, footprint=None, structure=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    return _grey("grey_closing", 2, input, size, footprint, structure, output, mode, cval, origin, axes, backend, precision)


@_forwarded("maximum_filter")
def maximum_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    return _grey("maximum_filter", 1, input, size, footprint, None, output, mode, cval, origin, axes, backend, precision)


@_forwarded("minimum_filter")
def minimum_filter(input, size=None, footprint=None, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None, backend="auto", precision=None):
    return _grey("minimum_filter", 1, input, size, footprint, None, output, mode, cval, origin, axes, backend, precision)


def _binary(name, passes, input, structure, iterations, mask, output, border_value, origin, axes, backend):
    ndim = _ndim(input, name)
    if mask is not None:
        raise ValueError(f"hounsfield.dask.{name}: mask= is not chunked; apply the operation, then combine with the mask (da.where)")
    if output is not None:
        raise ValueError(f"hounsfield.dask.{name}: output= does not apply to dask arrays (results are lazy bool arrays)")
    if int(iterations) < 1:
        raise ValueError(
            f"hounsfield.dask.{name}: iterations < 1 repeats until nothing changes anywhere, which no chunk can "
            "decide; give a number of iterations or compute the array in memory"
        )
    count = len(_ndimage.check_axes(axes, ndim))
    footprint = np.ones((3,) * count, bool) if structure is None else np.asarray(structure)
    depth = _window_depth(name, None, footprint, None, origin, axes, ndim, passes * int(iterations))
    f = functools.partial(
        getattr(_hf, name),
        structure=structure,
        iterations=iterations,
        border_value=border_value,
        origin=origin,
        axes=axes,
        backend=backend,
    )
    return _overlap(name, input, depth, f, dtype=bool)


@_forwarded("binary_erosion")
def binary_erosion(input, structure=None, iterations=1, mask=None, output=None, border_value=0, origin=0, brute_force=False, *, axes=None, backend="auto"):
    return _binary("binary_erosion", 1, input, structure, iterations, mask, output, border_value, origin, axes, backend)


@_forwarded("binary_dilation")
def binary_dilation(input, structure=None, iterations=1, mask=None, output=None, border_value=0, origin=0, brute_force=False, *, axes=None, backend="auto"):
    return _binary("binary_dilation", 1, input, structure, iterations, mask, output, border_value, origin, axes, backend)


@_forwarded("binary_opening")
def binary_opening(input, structure=None, iterations=1, output=None, origin=0, mask=None, border_value=0, brute_force=False, *, axes=None, backend="auto"):
    return _binary("binary_opening", 2, input, structure, iterations, mask, output, border_value, origin, axes, backend)


@_forwarded("binary_closing")
def binary_closing(input, structure=None, iterations=1, output=None, origin=0, mask=None, border_value=0, brute_force=False, *, axes=None, backend="auto"):
    return _binary("binary_closing", 2, input, structure, iterations, mask, output, border_value, origin, axes, backend)


def binary_fill_holes(input, structure=None, output=None, origin=0, *, axes=None, backend="auto"):
    """Not chunkable: raises ``NotImplementedError`` with the reason (see ``NOT_CHUNKABLE``)."""
    _require(input, "binary_fill_holes")
    raise NotImplementedError(f"binary_fill_holes on a dask array: {NOT_CHUNKABLE['binary_fill_holes']}")


# --- edge-preserving smoothing --------------------------------------------------------------------


@_forwarded("bilateral")
def bilateral(input, domain_sigma, range_sigma, spacing=1.0, *, backend="auto"):
    ndim = _ndim(input, "bilateral")
    sigmas = _hf._per_axis(domain_sigma, ndim, "domain_sigma")
    spacings = _hf._per_axis(spacing, ndim, "spacing")
    # ITK's DomainMu: the box reaches 2.5 domain sigmas (filter/bilateral.rs).
    depth = [math.ceil(2.5 * s / p) if s > 0 and p > 0 else 0 for s, p in zip(sigmas, spacings)]
    f = functools.partial(_hf.bilateral, domain_sigma=domain_sigma, range_sigma=range_sigma, spacing=spacing, backend=backend)
    return _overlap("bilateral", input, depth, f)


def _gradient_squared(block, scale):
    """Per voxel ``|grad I|^2`` by central differences with edges repeated, in the f32 operations
    and order of filter/diffusion.rs (so the sums equal the library's to rounding of the sum)."""
    padded = np.pad(block, 1, mode="edge")
    acc = np.zeros(block.shape, dtype=np.float32)
    core = tuple(slice(1, -1) for _ in range(block.ndim))
    for axis in range(block.ndim):
        hi = list(core)
        lo = list(core)
        hi[axis] = slice(2, None)
        lo[axis] = slice(0, -2)
        d = (padded[tuple(hi)] - padded[tuple(lo)]) / np.float32(-2.0) * scale[axis]
        acc += d * d
    return acc


def _diffusion_step(block, conductance, time_step, curvature, spacing, backend, mean):
    return _hounsfield.anisotropic_diffusion(
        np.ascontiguousarray(block, dtype=np.float32),
        1,
        float(conductance),
        time_step,
        bool(curvature),
        spacing,
        backend,
        float(mean),
    )


def _mean(total, count):
    return float(total) / count


def _restore_block(block, target):
    return _hf._restore(block, np.dtype(target))


def _restored(x, dtype):
    """Casts a float32 result to the input's dtype as the in-memory functions do."""
    if dtype == np.float32:
        return x
    return x.map_blocks(functools.partial(_restore_block, target=dtype.str), dtype=dtype, meta=np.empty((0,) * x.ndim, dtype))


@_forwarded("anisotropic_diffusion")
def anisotropic_diffusion(input, iterations=5, conductance=1.0, time_step=None, kind="gradient", spacing=1.0, *, backend="auto"):
    """ITK scales the conductance by the mean squared gradient of the whole image, re-measured
    before every iteration: each iteration here is one reduction over all chunks (halo 1) and
    one update (halo 1), so the result equals the in-memory call."""
    ndim = _ndim(input, "anisotropic_diffusion")
    if kind not in ("gradient", "curvature"):
        raise ValueError(f"kind {kind!r}: use 'gradient' or 'curvature'")
    iterations = int(iterations)
    if iterations < 0:
        raise ValueError(f"iterations {iterations} must not be negative")
    spacings = _hf._per_axis(spacing, ndim, "spacing")
    dt = None if time_step is None else float(time_step)
    # The in-memory call checks its parameters before any work; so does this one.
    _hounsfield.anisotropic_diffusion(np.zeros((3,) * ndim, np.float32), 0, float(conductance), dt, kind == "curvature", spacings, "cpu")
    scale = [np.float32(1.0 / s) for s in spacings]
    x = input.astype(np.float32)
    for _ in range(iterations):
        grad = _overlap("anisotropic_diffusion", x, [1] * ndim, functools.partial(_gradient_squared, scale=scale), np.float32)
        mean = dask.delayed(_mean)(grad.sum(dtype=np.float64), grad.size)
        step = functools.partial(
            _diffusion_step,
            conductance=conductance,
            time_step=dt,
            curvature=kind == "curvature",
            spacing=spacings,
            backend=backend,
        )
        x = _overlap("anisotropic_diffusion", x, [1] * ndim, step, np.float32, mean=mean)
    return _restored(x, input.dtype)


def _unsharp_block(block, radius, amount, backend):
    return _hounsfield.unsharp_mask(np.ascontiguousarray(block, dtype=np.float32), radius, float(amount), "reflect", backend)


@_forwarded("unsharp_mask")
def unsharp_mask(image, radius=1.0, amount=1.0, preserve_range=False, *, backend="auto"):
    """The clipping range (``[-1, 1]`` when any value is negative, else ``[0, 1]``) comes from
    the whole image, as scikit-image decides it."""
    ndim = _ndim(image, "unsharp_mask")
    radii = _hf._per_axis(radius, ndim, "radius")
    a = image.astype(np.float32)
    if image.dtype.kind in "iu" and not preserve_range:
        a = a / np.float32(np.iinfo(image.dtype).max)
    depth = [int(4.0 * r + 0.5) for r in radii]
    block = functools.partial(_unsharp_block, radius=radii, amount=amount, backend=backend)
    out = _overlap("unsharp_mask", a, depth, block, np.float32)
    if not preserve_range:
        low = da.where(a.min() < 0, np.float32(-1.0), np.float32(0.0)).astype(np.float32)
        out = da.minimum(da.maximum(out, low), np.float32(1.0))
    return out.astype(np.float64)


# --- pointwise ------------------------------------------------------------------------------------


@_forwarded("window_level")
def window_level(input, center, width, out_range=(0.0, 1.0), *, backend="auto"):
    _require(input, "window_level")
    f = functools.partial(_hf.window_level, center=center, width=width, out_range=out_range, backend=backend)
    return input.map_blocks(f, dtype=np.float32, meta=np.empty((0,) * input.ndim, np.float32))


# Operations the registry generates (hounsfield.OPERATIONS, python "generated") that are
# pointwise: they chunk without a halo. A generated operation missing here is not offered on
# dask arrays (the package's tests fail until it is listed here or in NOT_CHUNKABLE).
POINTWISE_GENERATED = ("sigmoid",)


def _call_generated(block, name, numbers, spacing, backend):
    return getattr(_hf, name)(block, *numbers, spacing=spacing, backend=backend)


def _pointwise(name):
    def chunked(input, *numbers, spacing=(1.0, 1.0, 1.0), backend="auto"):
        _require(input, name)
        dtype = input.dtype if input.dtype.kind == "f" else np.dtype(np.float32)
        f = functools.partial(_call_generated, name=name, numbers=numbers, spacing=tuple(spacing), backend=backend)
        return input.map_blocks(f, dtype=dtype, meta=np.empty((0,) * input.ndim, dtype))

    chunked.__name__ = chunked.__qualname__ = name
    chunked.__doc__ = f"``hounsfield.{name}`` on a dask array, chunk by chunk (pointwise). " + (getattr(_hf, name).__doc__ or "")
    return chunked


for _name in POINTWISE_GENERATED:
    globals()[_name] = _pointwise(_name)
    __all__.append(_name)
del _name


# --- resampling -----------------------------------------------------------------------------------


def _zoom_block(block, shape, order, backend, window):
    return _hf._run("zoom", block, list(shape), int(order), backend, window, rounding=True)


def _split(total, step):
    """Chunk lengths of ``total`` in pieces of about ``step``."""
    step = max(1, int(round(step)))
    return [min(step, total - start) for start in range(0, total, step)]


@_forwarded("zoom")
def zoom(input, zoom, order=1, *, backend="auto"):
    """Orders 0 and 1 on the float32 resampling kernels, equal to ``hounsfield.zoom(x, zoom,
    order=order, precision="float32")`` (the in-memory default is scipy's prefiltered cubic
    spline, whose prefilter spans whole axes: zoom in memory for it). Output chunks follow the
    input's, scaled by the zoom; each output block reads only the input rows its coordinates
    fall between, at the whole call's coordinates."""
    ndim = _ndim(input, "zoom")
    if int(order) not in (0, 1):
        raise ValueError(
            f"hounsfield.dask.zoom interpolates with order 0 or 1 chunk by chunk (order {order}: a spline "
            "prefilter spans whole axes); give order=1, or zoom the array in memory"
        )
    factors = _hf._per_axis(zoom, ndim, "zoom")
    out_shape = [int(round(n * f)) for n, f in zip(input.shape, factors)]
    if any(n < 1 for n in out_shape):
        raise ValueError(f"zoom {zoom} of shape {input.shape} gives {tuple(out_shape)}: every axis needs at least one voxel")
    # The whole call's input coordinate per output index, in the library's f32 arithmetic.
    coords = []
    for n_in, n_out in zip(input.shape, out_shape):
        scale = np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(0.0)
        coords.append(np.clip(np.arange(n_out, dtype=np.float32) * scale, np.float32(0), np.float32(n_in - 1)))
    out_chunks = [_split(n_out, max(c) * n_out / n_in) for c, n_in, n_out in zip(input.chunks, input.shape, out_shape)]
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in out_chunks]
    dtype = input.dtype

    def build(axis, index):
        if axis == ndim:
            out_start = [int(starts[a][i]) for a, i in enumerate(index)]
            out_len = [out_chunks[a][i] for a, i in enumerate(index)]
            in_lo, in_hi = [], []
            for a in range(ndim):
                c = coords[a][out_start[a] : out_start[a] + out_len[a]]
                in_lo.append(int(np.floor(c[0])))
                in_hi.append(min(int(np.floor(c[-1])) + 2, input.shape[a]))
            block = input[tuple(slice(lo, hi) for lo, hi in zip(in_lo, in_hi))]
            window = (list(input.shape), in_lo, out_start, out_len)
            task = dask.delayed(_zoom_block)(block, out_shape, order, backend, window)
            return da.from_delayed(task, shape=tuple(out_len), dtype=dtype, meta=np.empty((0,) * ndim, dtype))
        return [build(axis + 1, index + (i,)) for i in range(len(out_chunks[axis]))]

    return da.block(build(0, ()))


# --- projections and reductions -------------------------------------------------------------------


def _count_valid(block, axis):
    return np.sum(~np.isnan(block), axis=axis, keepdims=True).astype(np.float64)


@_forwarded("mip")
def mip(input, axis=0, kind="max", *, backend="auto"):
    """Per-chunk projections combined across chunks (NaN skipped, as the in-memory call)."""
    ndim = _ndim(input, "mip")
    a = _hf._axis(axis, ndim)
    if kind not in ("max", "min", "mean"):
        raise ValueError(f"kind {kind!r}: use 'max', 'min' or 'mean'")
    chunks = tuple((1,) * len(c) if i == a else c for i, c in enumerate(input.chunks))
    meta32 = np.empty((0,) * ndim, np.float32)
    project = functools.partial(_hf.mip, axis=a, kind=kind, backend=backend)
    per_chunk = input.map_blocks(project, chunks=chunks, dtype=np.float32, meta=meta32)
    if kind == "max":
        return da.nanmax(per_chunk, axis=a, keepdims=True).astype(np.float32)
    if kind == "min":
        return da.nanmin(per_chunk, axis=a, keepdims=True).astype(np.float32)
    counts = input.map_blocks(functools.partial(_count_valid, axis=a), chunks=chunks, dtype=np.float64, meta=np.empty((0,) * ndim))
    weighted = da.where(counts > 0, per_chunk.astype(np.float64) * counts, 0.0)
    total = counts.sum(axis=a, keepdims=True)
    return (weighted.sum(axis=a, keepdims=True) / da.where(total > 0, total, np.nan)).astype(np.float32)


def _chunk_statistics(block, backend):
    s = _hf.statistics(block, backend=backend)
    return {k: int(v) if k in ("count", "nan_count") else float(v) for k, v in s.items()}


def _combine_statistics(parts):
    """Pairwise update of count, mean and sum of squared deviations (Chan, Golub and LeVeque,
    "Updating formulae and a pairwise algorithm for computing sample variances", 1979), in f64."""
    count = sum(p["count"] for p in parts)
    nan_count = sum(p["nan_count"] for p in parts)
    present = [p for p in parts if p["count"] > 0]
    if not present:
        return {"count": 0, "nan_count": nan_count, "min": math.nan, "max": math.nan, "mean": math.nan, "std": math.nan}
    mean = sum(p["count"] * p["mean"] for p in present) / count
    m2 = sum(p["count"] * p["std"] ** 2 + p["count"] * (p["mean"] - mean) ** 2 for p in present)
    return {
        "count": count,
        "nan_count": nan_count,
        "min": min(p["min"] for p in present),
        "max": max(p["max"] for p in present),
        "mean": mean,
        "std": math.sqrt(m2 / count),
    }


def statistics(input, *, backend="auto"):
    """``hounsfield.statistics`` of a dask array from per-chunk partials (count, NaN count, min,
    max, mean, population std): a ``dask.delayed`` dict; ``.compute()`` it."""
    _require(input, "statistics")
    parts = [dask.delayed(_chunk_statistics)(b, backend) for b in input.to_delayed().ravel()]
    return dask.delayed(_combine_statistics)(parts)


def _edges(stats, bins, range):
    if range is None and (stats["nan_count"] or not stats["count"]):
        raise ValueError(
            f"the data's range is not finite ({stats['nan_count']} NaN voxels); give an explicit range or replace NaN first"
        )
    lo, hi = (stats["min"], stats["max"]) if range is None else (0.0, 0.0)
    return _hounsfield.histogram_edges(int(bins), range, float(lo), float(hi))


def _chunk_counts(block, edges, backend):
    a, _ = _hf._as_float32(block)
    return np.asarray(_hounsfield.histogram_counts(a, list(edges), backend), dtype=np.int64)


def _summed_counts(input, edges, backend):
    return dask.delayed(sum)([dask.delayed(_chunk_counts)(b, edges, backend) for b in input.to_delayed().ravel()])


def _histogram_result(counts, edges):
    return np.asarray(counts, dtype=np.int64), np.asarray(edges, dtype=np.float64)


def histogram(input, bins=256, range=None, *, backend="auto"):
    """``numpy.histogram`` of a dask array: edges from the whole array's min/max (or ``range``),
    counts summed over chunks, equal to the in-memory call. A ``dask.delayed`` ``(counts,
    edges)``."""
    _require(input, "histogram")
    if range is None:
        edges = dask.delayed(_edges)(statistics(input, backend=backend), bins, None)
    else:
        edges = _edges(None, bins, (float(range[0]), float(range[1])))
    return dask.delayed(_histogram_result)(_summed_counts(input, edges, backend), edges)


def _otsu(stats, counts, edges):
    if stats["nan_count"] or not (math.isfinite(stats["min"]) and math.isfinite(stats["max"])):
        raise ValueError(
            f"Otsu's threshold needs finite data; found {stats['nan_count']} NaN voxels, "
            f"min {stats['min']}, max {stats['max']}"
        )
    if stats["min"] == stats["max"]:
        return float(np.float32(stats["min"]))
    return float(_hounsfield.otsu_from_counts([int(c) for c in counts], list(edges)))


def _otsu_edges(stats, nbins):
    if stats["nan_count"] or stats["min"] == stats["max"]:
        return [0.0, 1.0]  # _otsu answers (or refuses) without a histogram
    return _edges(stats, nbins, None)


def threshold_otsu(image, nbins=256, *, backend="auto"):
    """``skimage.filters.threshold_otsu`` of a dask array from summed per-chunk histograms: a
    ``dask.delayed`` float equal to the in-memory threshold."""
    _require(image, "threshold_otsu")
    stats = statistics(image, backend=backend)
    edges = dask.delayed(_otsu_edges)(stats, nbins)
    return dask.delayed(_otsu)(stats, _summed_counts(image, edges, backend), edges)


# --- DICOM, slab by slab --------------------------------------------------------------------------


def _read_slab(folder, index, lenient, z0, z1, padding_value):
    volume, _ = _hounsfield.read_dicom_slab(folder, index, lenient, z0, z1, padding_value)
    return volume


def read_dicom_series(folder, index=0, lenient=False, chunks=32, padding_value=None):
    """One series of a DICOM folder as a lazy ``(z, y, x)`` float32 dask array of ``chunks``
    slices per chunk, each chunk decoding only its own files: ``(volume, meta)`` as
    ``hounsfield.read_dicom_series`` returns them (the geometry from the headers alone).

    Padding pixels (PixelPaddingValue) become ``padding_value``; without one, each chunk uses its
    own lowest value (the in-memory reader uses the whole series' lowest, which needs every
    file): give it (e.g. -1024 for CT) when the series has padding and chunks must agree.
    """
    step = int(chunks)
    if step < 1:
        raise ValueError(f"chunks={chunks}: give at least one slice per chunk")
    shape, spacing, origin, direction, warnings = _hounsfield.dicom_series_layout(str(folder), int(index), bool(lenient))
    fill = None if padding_value is None else float(padding_value)
    blocks = []
    for z0 in range(0, shape[0], step):
        z1 = min(z0 + step, shape[0])
        task = dask.delayed(_read_slab, pure=True)(str(folder), int(index), bool(lenient), z0, z1, fill)
        blocks.append(da.from_delayed(task, shape=(z1 - z0, shape[1], shape[2]), dtype=np.float32, meta=np.empty((0, 0, 0), np.float32)))
    meta = {"spacing": tuple(spacing), "origin": tuple(origin), "direction": np.asarray(direction), "warnings": list(warnings)}
    return da.concatenate(blocks, axis=0), meta


def _ndim(input, name):
    _require(input, name)
    return input.ndim

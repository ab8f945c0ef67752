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
* Computation is in float32. Output dtypes follow scipy: a float64 input gives a float64 output
  (with float32 precision), float32 stays float32, and an integer input gives the same integer
  dtype, truncated toward zero as scipy's filters do (``zoom`` rounds, as scipy's ``zoom``).
  Non-contiguous, big-endian and integer arrays are accepted (converted once).
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

import numpy as np

from . import _hounsfield
from ._hounsfield import GpuArray, GpuError, Geometry

__all__ = [
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
    "read_dicom_series",
    "write_dicom_series",
    "binary_closing",
    "binary_dilation",
    "binary_erosion",
    "binary_fill_holes",
    "binary_opening",
    "maximum_filter",
    "minimum_filter",
]

_MODES = {
    "reflect": "reflect",
    "grid-mirror": "reflect",
    "mirror": "mirror",
    "nearest": "nearest",
    "wrap": "wrap",
    "grid-wrap": "wrap",
    "constant": "constant",
    "grid-constant": "constant",
}


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
        result = np.rint(result)
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
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"mode {mode!r}: use one of {sorted(_MODES)}")
    m = _MODES[mode]
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


def gaussian_filter(input, sigma, mode="reflect", cval=0.0, truncate=4.0, *, backend="auto"):
    """``scipy.ndimage.gaussian_filter``: sigma in voxels (one value or one per axis),
    radius ``int(truncate * sigma + 0.5)``."""
    return _run("gaussian", input, "smooth", _per_axis(sigma, _ndim(input), "sigma"), _mode(mode, cval), float(truncate), backend)


def uniform_filter(input, size=3, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.uniform_filter`` (box mean) with sizes per axis."""
    return _run("uniform_filter", input, _per_axis(size, _ndim(input), "size", int), _mode(mode, cval), backend)


def _radius(size, ndim, name="size"):
    sizes = _per_axis(size, ndim, name, int)
    if any(s < 1 or s % 2 == 0 for s in sizes):
        raise ValueError(f"{name}={size}: hounsfield takes odd sizes (a centred window of radius (size - 1) / 2)")
    return [(s - 1) // 2 for s in sizes]


def median_filter(input, size=3, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.median_filter`` with a box of odd ``size`` (exact median)."""
    return _run("median_filter", input, _radius(size, _ndim(input)), _mode(mode, cval), backend)


def correlate1d(input, weights, axis=-1, mode="reflect", cval=0.0, origin=0, *, backend="auto"):
    """``scipy.ndimage.correlate1d``."""
    w = [float(v) for v in np.asarray(weights, dtype=np.float64).ravel()]
    return _run("correlate1d", input, w, _axis(axis, _ndim(input)), _mode(mode, cval), int(origin), backend)


def _weights(weights, ndim):
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.ndim != ndim:
        raise ValueError(f"weights have {w.ndim} dimensions, the input {ndim}")
    return w


def correlate(input, weights, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.correlate`` (weights up to 7 per axis)."""
    return _run("correlate", input, _weights(weights, _ndim(input)), _mode(mode, cval), False, backend)


def convolve(input, weights, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.convolve`` (weights up to 7 per axis)."""
    return _run("correlate", input, _weights(weights, _ndim(input)), _mode(mode, cval), True, backend)


def sobel(input, axis=-1, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.sobel`` along ``axis``; ``axis=None`` gives the gradient magnitude."""
    a = None if axis is None else _axis(axis, _ndim(input))
    return _run("edge", input, "sobel", a, _mode(mode, cval), backend)


def prewitt(input, axis=-1, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.prewitt`` along ``axis``; ``axis=None`` gives the gradient magnitude."""
    a = None if axis is None else _axis(axis, _ndim(input))
    return _run("edge", input, "prewitt", a, _mode(mode, cval), backend)


def laplace(input, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.laplace``."""
    return _run("laplace", input, _mode(mode, cval), backend)


def gaussian_laplace(input, sigma, mode="reflect", cval=0.0, truncate=4.0, *, backend="auto"):
    """``scipy.ndimage.gaussian_laplace``."""
    return _run("gaussian", input, "laplace", _per_axis(sigma, _ndim(input), "sigma"), _mode(mode, cval), float(truncate), backend)


def gaussian_gradient_magnitude(input, sigma, mode="reflect", cval=0.0, truncate=4.0, *, backend="auto"):
    """``scipy.ndimage.gaussian_gradient_magnitude``."""
    return _run("gaussian", input, "gradient_magnitude", _per_axis(sigma, _ndim(input), "sigma"), _mode(mode, cval), float(truncate), backend)


def _grey(op, input, size, footprint, mode, cval, backend):
    ndim = _ndim(input)
    if footprint is not None:
        fp = np.asarray(footprint, dtype=bool)
        if fp.all():
            size = fp.shape
        else:
            raise ValueError("footprint: hounsfield takes box footprints (all True, odd sizes); use size=")
    if size is None:
        raise ValueError("give size (odd) or an all-True footprint")
    return _run("grey_morphology", input, op, _radius(size, ndim), False, _mode(mode, cval), backend)


def grey_erosion(input, size=None, footprint=None, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.grey_erosion`` with a box of odd ``size``."""
    return _grey("erosion", input, size, footprint, mode, cval, backend)


def grey_dilation(input, size=None, footprint=None, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.grey_dilation`` with a box of odd ``size``."""
    return _grey("dilation", input, size, footprint, mode, cval, backend)


def grey_opening(input, size=None, footprint=None, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.grey_opening`` with a box of odd ``size``."""
    return _grey("opening", input, size, footprint, mode, cval, backend)


def grey_closing(input, size=None, footprint=None, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.grey_closing`` with a box of odd ``size``."""
    return _grey("closing", input, size, footprint, mode, cval, backend)


def maximum_filter(input, size=None, footprint=None, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.maximum_filter`` with a box of odd ``size`` (or an all-True footprint)."""
    return _grey("dilation", input, size, footprint, mode, cval, backend)


def minimum_filter(input, size=None, footprint=None, mode="reflect", cval=0.0, *, backend="auto"):
    """``scipy.ndimage.minimum_filter`` with a box of odd ``size`` (or an all-True footprint)."""
    return _grey("erosion", input, size, footprint, mode, cval, backend)


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
    """None for scipy's default cross, or the radii of an all-True box of odd sides."""
    if structure is None:
        return None
    s = np.asarray(structure, dtype=bool)
    if s.ndim != ndim:
        raise ValueError(f"structure has {s.ndim} dimensions, the input {ndim}")
    if s.shape == (3,) * ndim and np.array_equal(s, _cross(ndim)):
        return None
    if s.all() and all(n % 2 == 1 for n in s.shape):
        return [n // 2 for n in s.shape]
    raise ValueError("structure: hounsfield takes scipy's default cross or an all-True box of odd sides")


def _binary(op, input, structure, iterations, mask, border_value, origin, backend):
    if mask is not None:
        raise ValueError("mask= is not supported yet: apply the operation and combine with the mask")
    if border_value != 0:
        raise ValueError("border_value: only 0 (scipy's default) is supported")
    if np.any(np.asarray(origin) != 0):
        raise ValueError("origin: only 0 (centred structures) is supported")
    if int(iterations) < 1:
        raise ValueError("iterations: give 1 or more (repeating until nothing changes is not offered)")
    a, _ = _as_float32(input)
    out = _hounsfield.binary_morphology(a, op, _structure(structure, _ndim(input)), int(iterations), backend)
    return out if isinstance(out, GpuArray) else out != 0


def binary_erosion(input, structure=None, iterations=1, mask=None, border_value=0, origin=0, *, backend="auto"):
    """``scipy.ndimage.binary_erosion`` (default cross or an all-True box; a bool array)."""
    return _binary("erosion", input, structure, iterations, mask, border_value, origin, backend)


def binary_dilation(input, structure=None, iterations=1, mask=None, border_value=0, origin=0, *, backend="auto"):
    """``scipy.ndimage.binary_dilation`` (default cross or an all-True box; a bool array)."""
    return _binary("dilation", input, structure, iterations, mask, border_value, origin, backend)


def binary_opening(input, structure=None, iterations=1, mask=None, border_value=0, origin=0, *, backend="auto"):
    """``scipy.ndimage.binary_opening``: ``iterations`` erosions, then as many dilations."""
    return _binary("opening", input, structure, iterations, mask, border_value, origin, backend)


def binary_closing(input, structure=None, iterations=1, mask=None, border_value=0, origin=0, *, backend="auto"):
    """``scipy.ndimage.binary_closing``: ``iterations`` dilations, then as many erosions (scipy's
    border rule included: the erosion sees 0 outside)."""
    return _binary("closing", input, structure, iterations, mask, border_value, origin, backend)


def binary_fill_holes(input, structure=None, origin=0, *, backend="auto"):
    """``scipy.ndimage.binary_fill_holes`` with the default structure (a bool array)."""
    if _structure(structure, _ndim(input)) is not None:
        raise ValueError("structure: hounsfield fills holes with scipy's default cross only")
    if np.any(np.asarray(origin) != 0):
        raise ValueError("origin: only 0 is supported")
    a, _ = _as_float32(input)
    out = _hounsfield.fill_holes(a, backend)
    return out if isinstance(out, GpuArray) else out != 0


def zoom(input, zoom, order=1, *, backend="auto"):
    """``scipy.ndimage.zoom(input, zoom, order, grid_mode=False)`` for ``order`` 0 (nearest) or 1
    (linear). Unlike scipy the default order is 1: spline orders 2-5 are not implemented and
    raise ``ValueError``."""
    ndim = _ndim(input)
    shape = input.shape
    factors = _per_axis(zoom, ndim, "zoom")
    out = [int(round(n * f)) for n, f in zip(shape, factors)]
    return _run("zoom", input, out, int(order), backend, rounding=True)


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


def histogram(input, bins=256, range=None, *, backend="auto"):
    """``numpy.histogram(input, bins, range)``: ``(counts, edges)``."""
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
registry: ``joseph``, ``voxel_driven``, ...)."""


def forward_project(volume, geometry, voxel=(1.0, 1.0, 1.0), *, projector="joseph", backend="auto"):
    """Projections ``(views, rows, cols)`` of a ``(z, y, x)`` volume centred on the isocentre,
    by ``projector`` (one of ``PROJECTORS``: ``"joseph"``, ray-driven, the default;
    ``"voxel_driven"``, voxel splatting)."""
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
    of ``voxel`` mm centred on the isocentre."""
    p = np.ascontiguousarray(projections, dtype=np.float32)
    return _hounsfield.fdk(p, geometry, [int(n) for n in shape], [float(v) for v in voxel], filter_name, backend)


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
    volume, spacing, origin, direction, warnings = _hounsfield.read_dicom_series(str(folder), int(index), bool(lenient))
    meta = {
        "spacing": tuple(spacing),
        "origin": tuple(origin),
        "direction": np.asarray(direction),
        "warnings": list(warnings),
    }
    return volume, meta


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
        str(folder),
        [float(s) for s in spacing],
        [float(o) for o in origin],
        [[float(x) for x in row] for row in d],
        str(description),
        None if source is None else str(source),
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

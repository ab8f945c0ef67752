"""Each filter against the real scipy.ndimage / scikit-image function, compared at run time on
random and structured arrays, every boundary mode, 2D and 3D, odd shapes; dtype rules."""
import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.filters

import hounsfield as h

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
SHAPES = [(23, 17), (9, 14, 11)]


def close(a, b, tol):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(np.abs(b).max(), 1e-12)
    err = np.abs(a - b).max() / scale
    assert err <= tol, f"relative error {err:.2e} > {tol:.0e}"


def data(rng, shape, structured=False):
    if structured:
        grids = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
        r = np.sqrt(sum(g**2 for g in grids))
        return (np.where(r < 0.6, 100.0, -50.0) + 10 * grids[0]).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32) * 50


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", MODES)
def test_gaussian_filter(rng, backend, shape, mode):
    x = data(rng, shape)
    close(h.gaussian_filter(x, 1.3, mode=mode, cval=2.5, backend=backend), ndi.gaussian_filter(x, 1.3, mode=mode, cval=2.5), 1e-5)
    sig = [0.7, 2.0, 1.0][: len(shape)]
    close(h.gaussian_filter(x, sig, truncate=3.0, mode=mode, backend=backend), ndi.gaussian_filter(x, sig, truncate=3.0, mode=mode), 1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", MODES)
def test_uniform_and_median(rng, backend, shape, mode):
    x = data(rng, shape)
    close(h.uniform_filter(x, 3, mode=mode, cval=1.0, backend=backend), ndi.uniform_filter(x, 3, mode=mode, cval=1.0), 1e-5)
    close(h.median_filter(x, 3, mode=mode, cval=1.0, backend=backend), ndi.median_filter(x, 3, mode=mode, cval=1.0), 0)
    s = data(rng, shape, structured=True)
    close(h.median_filter(s, 5, mode=mode, backend=backend), ndi.median_filter(s, 5, mode=mode), 0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", MODES)
def test_correlations(rng, backend, shape, mode):
    x = data(rng, shape)
    w = [1.0, -2.0, 4.0, 0.5]
    close(h.correlate1d(x, w, axis=0, mode=mode, backend=backend), ndi.correlate1d(x, w, axis=0, mode=mode), 1e-5)
    close(h.correlate1d(x, w[:3], axis=-1, origin=1, mode=mode, backend=backend), ndi.correlate1d(x, w[:3], axis=-1, origin=1, mode=mode), 1e-5)
    k = rng.standard_normal((3,) * len(shape))
    close(h.convolve(x, k, mode=mode, backend=backend), ndi.convolve(x, k, mode=mode), 1e-5)
    close(h.correlate(x, k, mode=mode, backend=backend), ndi.correlate(x, k, mode=mode), 1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", MODES)
def test_derivatives(rng, backend, shape, mode):
    x = data(rng, shape, structured=True)
    for axis in range(len(shape)):
        close(h.sobel(x, axis, mode=mode, backend=backend), ndi.sobel(x, axis, mode=mode), 1e-5)
        close(h.prewitt(x, axis, mode=mode, backend=backend), ndi.prewitt(x, axis, mode=mode), 1e-5)
    close(h.laplace(x, mode=mode, backend=backend), ndi.laplace(x, mode=mode), 1e-5)
    close(h.gaussian_laplace(x, 1.5, mode=mode, backend=backend), ndi.gaussian_laplace(x, 1.5, mode=mode), 1e-4)
    close(
        h.gaussian_gradient_magnitude(x, 1.5, mode=mode, backend=backend),
        ndi.gaussian_gradient_magnitude(x, 1.5, mode=mode),
        1e-4,
    )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", MODES)
def test_grey_morphology(rng, backend, shape, mode):
    x = data(rng, shape)
    for name in ["grey_erosion", "grey_dilation", "grey_opening", "grey_closing"]:
        ours = getattr(h, name)(x, size=3, mode=mode, cval=0.5, backend=backend)
        theirs = getattr(ndi, name)(x, size=3, mode=mode, cval=0.5)
        close(ours, theirs, 0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["reflect", "constant"])
def test_maximum_and_minimum_filters(rng, backend, shape, mode):
    x = data(rng, shape)
    for size in (3, 5):
        close(h.maximum_filter(x, size=size, mode=mode, backend=backend), ndi.maximum_filter(x, size=size, mode=mode), 0)
        close(h.minimum_filter(x, size=size, mode=mode, backend=backend), ndi.minimum_filter(x, size=size, mode=mode), 0)


@pytest.mark.parametrize("shape", [(31, 27), (9, 16, 13)])
def test_binary_morphology_and_hole_filling_match_scipy(rng, backend, shape):
    mask = rng.random(shape) > 0.45
    ndim = len(shape)
    box = np.ones((3,) * ndim, dtype=bool)
    for name in ["binary_erosion", "binary_dilation", "binary_opening", "binary_closing"]:
        for structure in (None, ndi.generate_binary_structure(ndim, 1), box):
            for iterations in (1, 2):
                ours = getattr(h, name)(mask, structure=structure, iterations=iterations, backend=backend)
                theirs = getattr(ndi, name)(mask, structure=structure, iterations=iterations)
                assert ours.dtype == np.bool_
                np.testing.assert_array_equal(ours, theirs, err_msg=f"{name} {structure is None} {iterations}")
    # Rings with holes, and holes touching the border (not filled).
    rings = np.zeros(shape, dtype=bool)
    rings[..., 2:9, 2:9] = True
    rings[..., 4:7, 4:7] = False
    rings[..., 0:5, -5:] = True
    rings[..., 0:2, -3:-1] = False
    for m in (rings, mask):
        np.testing.assert_array_equal(h.binary_fill_holes(m, backend=backend), ndi.binary_fill_holes(m))
    # Calls the float32 kernels do not take run scipy's rule on the CPU; the GPU refuses them.
    diagonal = np.zeros((3,) * ndim, dtype=bool)
    diagonal[(0,) * ndim] = diagonal[(1,) * ndim] = True
    others = [
        ("binary_erosion", {"border_value": 1}),
        ("binary_dilation", {"structure": diagonal}),
        ("binary_opening", {"iterations": 0}),
        ("binary_closing", {"mask": mask[::-1].copy()}),
    ]
    for name, kw in others:
        if backend == "gpu":
            with pytest.raises(ValueError, match="backend='cpu'"):
                getattr(h, name)(mask, backend=backend, **kw)
        else:
            np.testing.assert_array_equal(getattr(h, name)(mask, backend=backend, **kw), getattr(ndi, name)(mask, brute_force=True, **kw))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("order", [0, 1])
def test_zoom(rng, backend, shape, order):
    x = data(rng, shape, structured=True)
    close(h.zoom(x, 1.7, order=order, backend=backend), ndi.zoom(x, 1.7, order=order, grid_mode=False), 1e-5)
    close(h.zoom(x, 0.6, order=order, backend=backend), ndi.zoom(x, 0.6, order=order, grid_mode=False), 1e-5)


def test_skimage_functions(rng, backend):
    img = (data(rng, (40, 33), structured=True) / 200.0 + 0.5).clip(0, 1)
    assert abs(h.threshold_otsu(img, backend=backend) - skimage.filters.threshold_otsu(img)) < 1e-3
    vol = data(rng, (6, 20, 18))
    assert abs(h.threshold_otsu(vol, backend=backend) - skimage.filters.threshold_otsu(vol)) < 1e-3 * np.ptp(vol)
    for preserve in (False, True):
        close(
            h.unsharp_mask(img, radius=2.0, amount=1.5, preserve_range=preserve, backend=backend),
            skimage.filters.unsharp_mask(img, radius=2.0, amount=1.5, preserve_range=preserve),
            1e-5,
        )


def test_statistics_and_histogram(rng, backend):
    x = data(rng, (7, 30, 21))
    x[0, 0, 0] = np.nan
    s = h.statistics(x, backend=backend)
    assert s["nan_count"] == 1 and s["count"] == x.size - 1
    assert abs(s["mean"] - np.nanmean(x)) < 1e-4 * np.nanstd(x)
    assert abs(s["std"] - np.nanstd(x)) < 1e-4 * np.nanstd(x)
    counts, edges = h.histogram(x, 32, (-100.0, 100.0), backend=backend)
    ref_counts, ref_edges = np.histogram(x[~np.isnan(x)], 32, (-100.0, 100.0))
    assert (counts == ref_counts).all()
    assert np.allclose(edges, ref_edges)


def test_dtypes_layout_and_byte_order(rng):
    x = data(rng, (12, 15, 10))
    ref = ndi.gaussian_filter(x, 1.0)
    # float64 in, float64 out (float32 precision).
    out64 = h.gaussian_filter(x.astype(np.float64), 1.0, backend="cpu")
    assert out64.dtype == np.float64
    close(out64, ref, 1e-5)
    # Non-contiguous and big-endian inputs.
    big = x.astype(">f4")
    close(h.gaussian_filter(big, 1.0, backend="cpu"), ref, 1e-6)
    strided = np.asfortranarray(x)[:, ::2]
    close(h.gaussian_filter(strided, 1.0, backend="cpu"), ndi.gaussian_filter(np.ascontiguousarray(strided), 1.0), 1e-5)
    # Integers: same dtype, truncated toward zero as scipy does.
    ints = (x * 10).astype(np.int16)
    ours, theirs = h.uniform_filter(ints, 3, backend="cpu"), ndi.uniform_filter(ints, 3)
    assert ours.dtype == np.int16
    assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1
    # zoom rounds as scipy's zoom.
    assert h.zoom(np.array([[0, 10]], np.int16), (1, 2)).tolist() == ndi.zoom(np.array([[0, 10]], np.int16), (1, 2), order=1).tolist()


def test_resident_gpu_chain(rng):
    from conftest import GPU

    if not GPU:
        pytest.skip("no GPU")
    x = data(rng, (10, 24, 20))
    g = h.to_gpu(x)
    assert g.shape == [10, 24, 20] and g.ndim == 3
    chained = h.median_filter(h.gaussian_filter(g, 1.0), 3)
    assert isinstance(chained, h.GpuArray)
    close(chained.to_numpy(), ndi.median_filter(ndi.gaussian_filter(x, 1.0), 3), 1e-5)
    image = h.to_gpu(x[0])
    assert h.gaussian_filter(image, 2.0).to_numpy().shape == (24, 20)
    close(h.pipeline(x, "median:1 gaussian:1.0", backend="gpu"), h.pipeline(x, "median:1 gaussian:1.0", backend="cpu"), 1e-5)


def test_edge_preserving_filters_agree_across_backends(rng):
    from conftest import GPU

    x = data(rng, (8, 20, 18), structured=True) + rng.standard_normal((8, 20, 18)).astype(np.float32) * 5
    cpu = h.bilateral(x, 1.0, 30.0, backend="cpu")
    assert np.abs(cpu - x).mean() < np.abs(x - x.mean()).mean()
    diffused = h.anisotropic_diffusion(x, iterations=3, conductance=2.0, backend="cpu")
    assert diffused.std() < x.std()
    w = h.window_level(x, 40, 400)
    assert w.min() >= 0 and w.max() <= 1
    assert h.mip(x, axis=0, backend="cpu").shape == (1, 20, 18)
    close(h.mip(x, axis=0, backend="cpu")[0], x.max(axis=0), 0)
    if GPU:
        close(h.bilateral(x, 1.0, 30.0, backend="gpu"), cpu, 1e-4)
        close(h.anisotropic_diffusion(x, iterations=3, conductance=2.0, backend="gpu"), diffused, 1e-4)


def test_every_registered_operation_is_exposed():
    assert {op["name"] for op in h.OPERATIONS} >= {"gaussian", "median", "sigmoid", "fdk", "sirt"}
    for op in h.OPERATIONS:
        if op["python"] == "functions":
            for name in op["functions"]:
                assert callable(getattr(h, name)), (op["name"], name)
        elif op["python"] == "generated":
            keyword = op["steps"][0][0]
            assert callable(getattr(h, keyword)) and keyword in h.__all__, op["name"]
            assert op["summary"] in getattr(h, keyword).__doc__


def test_sigmoid_matches_scikit_image(backend):
    from skimage.exposure import adjust_sigmoid

    rng = np.random.default_rng(3)
    image = rng.random((9, 14, 11))
    for cutoff, gain in [(0.5, 10.0), (0.3, 4.0)]:
        ours = h.sigmoid(image, cutoff, gain, backend=backend)
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours, adjust_sigmoid(image, cutoff, gain), rtol=1e-5, atol=1e-6)
        inverse = h.sigmoid(image.astype(np.float32), cutoff, -gain, backend=backend)
        np.testing.assert_allclose(inverse, adjust_sigmoid(image, cutoff, gain, inv=True), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError):
        h.sigmoid(image, 0.5)
    with pytest.raises(ValueError, match="finite"):
        h.sigmoid(image, 0.5, float("nan"))


def test_work_past_the_adapters_loop_limit_falls_back_under_auto_and_is_refused_under_gpu(rng):
    """Mesa's llvmpipe ends a shader invocation's loops after 65,535 iterations; a median of
    size 13 (32 bisection passes over 2,197 voxels) would come back wrong there. ``auto`` runs
    it on the CPU instead, ``gpu`` raises ``GpuError`` naming the limit; a hardware GPU runs it.
    Gaussian passes of 160,001 taps are split on such adapters and agree everywhere."""
    from conftest import GPU

    x = data(rng, (14, 15, 16))
    want = ndi.median_filter(x, 13)
    np.testing.assert_array_equal(h.median_filter(x, 13, backend="auto"), want)
    if not GPU:
        return
    if "llvmpipe" in str(h.gpu_adapter()):
        with pytest.raises(h.GpuError, match="65535"):
            h.median_filter(x, 13, backend="gpu")
    else:
        np.testing.assert_array_equal(h.median_filter(x, 13, backend="gpu"), want)
    small = data(rng, (3, 4, 5))
    close(h.gaussian_filter(small, 20000.0, backend="gpu"), ndi.gaussian_filter(small.astype(np.float64), 20000.0), 2e-4)

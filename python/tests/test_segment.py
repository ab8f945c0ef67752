"""Segmentation and measurement against live scipy.ndimage and scikit-image: labels, counts,
bounding boxes, per-label measurements, distance transforms (values and feature indices),
structuring elements — seeded random inputs plus shaped fixtures (blobs, a spiral, nested
shells, touching spheres, anisotropic spacing, 1-voxel axes) — and a CT pipeline on a DICOM
series written by the library."""
import warnings

import numpy as np
import pytest
import scipy.ndimage as ndi

import hounsfield as h


def _random_symmetric_structure(rng, ndim):
    s = rng.random((3,) * ndim) < 0.5
    return s | s[(slice(None, None, -1),) * ndim]


def _fixtures():
    """Masks a segmentation pipeline meets: smooth random blobs, a spiral, nested shells,
    touching spheres, thin and 1-voxel axes."""
    rng = np.random.default_rng(7)
    out = {}
    noise = ndi.gaussian_filter(rng.standard_normal((24, 40, 36)), 2.0)
    out["blobs"] = noise > 0.05
    t = np.linspace(0, 6 * np.pi, 400)
    spiral = np.zeros((64, 64), bool)
    spiral[(32 + t * 1.5 * np.sin(t)).astype(int) % 64, (32 + t * 1.5 * np.cos(t)).astype(int) % 64] = True
    out["spiral"] = spiral
    z, y, x = np.mgrid[:31, :31, :31] - 15
    r = np.sqrt(x**2 + y**2 + z**2)
    out["nested_shells"] = ((r > 3) & (r < 5)) | ((r > 7) & (r < 9)) | ((r > 11) & (r < 13))
    touching = (np.sqrt((x + 5) ** 2 + y**2 + z**2) < 6) | (np.sqrt((x - 5) ** 2 + y**2 + z**2) < 6)
    out["touching_spheres"] = touching
    out["one_voxel_axis"] = rng.random((1, 17, 23)) < 0.6
    out["line"] = rng.random(50) < 0.5
    out["thin_4d"] = rng.random((2, 3, 1, 9)) < 0.5
    return out


FIXTURES = _fixtures()


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixtures_label_and_distances_equal_scipy(name):
    mask = FIXTURES[name]
    ndim = mask.ndim
    for connectivity in range(1, ndim + 1):
        structure = ndi.generate_binary_structure(ndim, connectivity)
        want, n_want = ndi.label(mask, structure)
        got, n_got = h.label(mask, structure)
        assert n_got == n_want and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert h.find_objects(want) == ndi.find_objects(want)
    sampling = [2.5, 0.7, 0.8, 1.3][:ndim]
    for samp in (None, sampling):
        d_want, i_want = ndi.distance_transform_edt(mask, samp, return_indices=True)
        d_got, i_got = h.distance_transform_edt(mask, samp, return_indices=True)
        np.testing.assert_array_equal(i_got, i_want)
        np.testing.assert_array_equal(d_got, d_want)
        # Distances alone take the parabola envelopes: scipy's values, up to one rounding
        # where two false samples are equally near with non-unit spacing.
        alone = h.distance_transform_edt(mask, samp)
        np.testing.assert_allclose(alone, d_want, rtol=1e-15, atol=0)
        if samp is None:
            np.testing.assert_array_equal(alone, d_want)
    for metric in ("chessboard", "taxicab"):
        c_want, j_want = ndi.distance_transform_cdt(mask, metric, return_indices=True)
        c_got, j_got = h.distance_transform_cdt(mask, metric, return_indices=True)
        np.testing.assert_array_equal(c_got, c_want)
        np.testing.assert_array_equal(j_got, j_want)


def test_random_masks_structures_and_dtypes_equal_scipy():
    rng = np.random.default_rng(2026)
    dtypes = [bool, np.uint8, np.int16, np.int64, np.float32, np.float64]
    for case in range(240):
        ndim = 1 + case % 4
        shape = tuple(int(rng.integers(1, 14 if ndim < 4 else 6)) for _ in range(ndim))
        mask = rng.random(shape) < rng.uniform(0.2, 0.9)
        data = (mask * rng.integers(1, 4, shape)).astype(dtypes[case % len(dtypes)])
        if data.dtype.kind == "f" and case % 4 == 0:
            data[rng.random(shape) < 0.1] = np.nan  # NaN is non-zero: foreground
        structure = _random_symmetric_structure(rng, ndim) if case % 3 == 0 else ndi.generate_binary_structure(ndim, 1 + case % ndim)
        want, n_want = ndi.label(data, structure)
        got, n_got = h.label(data, structure)
        assert n_got == n_want, case
        np.testing.assert_array_equal(got, want)
        samp = rng.uniform(0.4, 2.5, ndim) if case % 2 else None
        for metric in ("chessboard", structure if all(n == 3 for n in structure.shape) else "taxicab"):
            np.testing.assert_array_equal(
                h.distance_transform_cdt(data, metric, return_indices=True)[1],
                ndi.distance_transform_cdt(data, metric, return_indices=True)[1],
            )
        d_want, i_want = ndi.distance_transform_edt(data, samp, return_indices=True)
        d_got, i_got = h.distance_transform_edt(data, samp, return_indices=True)
        np.testing.assert_array_equal(i_got, i_want)
        np.testing.assert_array_equal(d_got, d_want)


def test_label_outputs_and_errors_follow_scipy():
    mask = np.zeros((3, 300), bool)
    mask[:, ::2] = True  # 150 components with faces
    out = np.zeros(mask.shape, np.int64)
    assert h.label(mask, output=out) == ndi.label(mask)[1] == 150
    np.testing.assert_array_equal(out, ndi.label(mask)[0])
    labels, n = h.label(mask, output=np.uint16)
    assert labels.dtype == np.uint16 and n == 150
    many = np.zeros((3, 600), bool)
    many[:, ::2] = True
    with pytest.raises(RuntimeError, match="insufficient bit-depth"):
        h.label(many, output=np.uint8)
    got, n = h.label(np.array(5))
    assert n == 1 and got == 1
    got, n = h.label(np.zeros((0, 4)))
    assert n == 0 and got.shape == (0, 4)
    with pytest.raises(TypeError, match="Complex"):
        h.label(np.ones(3, complex))
    with pytest.raises(RuntimeError, match="equal rank"):
        h.label(np.ones((3, 3)), np.ones((3, 3, 3)))
    with pytest.raises(ValueError, match="equal to 3"):
        h.label(np.ones((3, 3)), np.ones((5, 5)))
    with pytest.raises(ValueError, match="symmetric"):
        h.label(np.ones((3, 3)), np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]]))


def test_measurements_equal_scipy():
    rng = np.random.default_rng(99)
    functions = [
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
    ]
    for case in range(60):
        ndim = 1 + case % 3
        shape = tuple(int(rng.integers(1, 12)) for _ in range(ndim))
        labels, n = ndi.label(rng.random(shape) < 0.6)
        kind = case % 5
        if kind == 0:
            values = rng.integers(-50, 50, shape).astype(np.int16)  # ties: scipy's choice
        elif kind == 1:
            values = rng.standard_normal(shape)
        elif kind == 2:
            values = rng.standard_normal(shape).astype(np.float32)
            values.flat[0] = np.nan
        elif kind == 3:
            values = rng.integers(0, 2, shape).astype(bool)
        else:
            values = rng.integers(0, 1000, shape).astype(np.uint32)
        lab = labels if case % 7 else (labels - 1)  # negative labels: scipy's unique path
        for index in (None, 1, 0, n + 2, list(range(-1, n + 3)), np.arange(n + 1)):
            for f in functions:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        want = getattr(ndi, f)(values, lab, index)
                    except Exception as e:  # noqa: BLE001 - same exception expected
                        with pytest.raises(type(e)):
                            getattr(h, f)(values, lab, index)
                        continue
                    got = getattr(h, f)(values, lab, index)
                _assert_same(got, want, f"{f} case {case} index {index}")


def _assert_same(got, want, what):
    if isinstance(want, (list, tuple)):
        assert isinstance(got, type(want)) and len(got) == len(want), what
        for g, w in zip(got, want):
            _assert_same(g, w, what)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, what
    if want.dtype.kind == "f":
        # Per-label float sums are added in parallel blocks: scipy's values up to rounding.
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def test_find_objects_structures_and_helpers():
    labels = np.array([[0, 2, 2], [3, 0, 2], [0, 0, 0]])
    assert h.find_objects(labels) == ndi.find_objects(labels)
    assert h.find_objects(labels, max_label=5) == ndi.find_objects(labels, max_label=5)
    assert h.find_objects(np.array([[0, 2.7], [1.2, 0]]), max_label=2) == ndi.find_objects(np.array([[0, 2.7], [1.2, 0]]), max_label=2)
    assert h.find_objects(np.zeros((2, 2), int)) == []
    for rank in range(0, 5):
        for c in (-1, 0, 1, 2, 3, 4):
            np.testing.assert_array_equal(h.generate_binary_structure(rank, c), ndi.generate_binary_structure(rank, c))
    rng = np.random.default_rng(3)
    for structure in (ndi.generate_binary_structure(2, 1), np.ones((2, 3), bool), rng.random((3, 2, 4)) < 0.5, np.array([[0, 1], [1, 1]])):
        for it in (1, 2, 3):
            want = ndi.iterate_structure(structure, it)
            got = h.iterate_structure(structure, it)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
        got, origin = h.iterate_structure(structure, 3, origin=1)
        assert origin == ndi.iterate_structure(structure, 3, origin=1)[1]


def test_remove_small_objects_and_largest_component_equal_scikit_image():
    morphology = pytest.importorskip("skimage.morphology")
    mask = FIXTURES["blobs"]
    for connectivity in (1, 2, 3):
        for max_size in (0, 5, 64, 500):
            np.testing.assert_array_equal(
                h.remove_small_objects(mask, connectivity=connectivity, max_size=max_size),
                morphology.remove_small_objects(mask, connectivity=connectivity, max_size=max_size),
            )
    labels, _ = ndi.label(mask)
    np.testing.assert_array_equal(h.remove_small_objects(labels, max_size=30), morphology.remove_small_objects(labels, max_size=30))
    with pytest.raises(TypeError, match="bool or integer"):
        h.remove_small_objects(mask.astype(float))
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    np.testing.assert_array_equal(h.largest_component(mask), labels == np.argmax(sizes))
    assert not h.largest_component(np.zeros((3, 3))).any()


def test_distance_transform_arguments_follow_scipy():
    mask = FIXTURES["blobs"]
    distances = np.zeros(mask.shape)
    indices = np.zeros((3,) + mask.shape, np.int32)
    assert h.distance_transform_edt(mask, distances=distances, indices=indices, return_indices=True) is None
    np.testing.assert_array_equal(distances, ndi.distance_transform_edt(mask))
    np.testing.assert_array_equal(indices, ndi.distance_transform_edt(mask, return_distances=False, return_indices=True))
    with pytest.raises(RuntimeError, match="at least one"):
        h.distance_transform_edt(mask, return_distances=False)
    with pytest.raises(RuntimeError, match="wrong shape"):
        h.distance_transform_edt(mask, distances=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="invalid metric"):
        h.distance_transform_cdt(mask, "euclid")
    with pytest.raises(ValueError, match="sampling|spacing"):
        h.distance_transform_edt(mask, sampling=(1.0, 0.0, 1.0))
    # No false sample at all: scipy's values (features stay at -1 along axis 0).
    full = np.ones((2, 3))
    np.testing.assert_array_equal(h.distance_transform_edt(full), ndi.distance_transform_edt(full))
    np.testing.assert_array_equal(h.distance_transform_cdt(full), ndi.distance_transform_cdt(full))


def test_ct_segmentation_pipeline_on_a_written_series_equals_scipy(tmp_path):
    """Body mask (threshold, largest component, fill holes), lungs (air inside the body),
    per-lung volume in mL from the grid spacing, and the lungs' margin to the body's edge —
    hounsfield against scipy / scikit-image on a CT series the library wrote and read back."""
    z, y, x = np.mgrid[:24, :64, :64].astype(float)
    body = ((x - 32) / 26) ** 2 + ((y - 32) / 20) ** 2 < 1
    lungs = (((x - 20) / 8) ** 2 + ((y - 32) / 11) ** 2 < 1) | (((x - 44) / 8) ** 2 + ((y - 32) / 11) ** 2 < 1)
    lungs &= (z > 2) & (z < 21)
    ct = np.full(body.shape, -1000.0)
    ct[body] = 40.0
    ct[lungs] = -850.0
    ct[(x - 32) ** 2 + (y - 45) ** 2 < 9] = 700.0  # a bone-like rod
    ct[:, 2:4, 10:12] = 30.0  # a table strip outside the body
    ct += np.random.default_rng(0).normal(0, 15, ct.shape)
    spacing = (2.5, 0.8, 0.8)
    h.write_dicom_series(ct.astype(np.float32), tmp_path / "ct", spacing=spacing)
    volume, meta = h.read_dicom_series(tmp_path / "ct")
    ml_per_voxel = float(np.prod(meta["spacing"])) / 1000.0

    def pipeline(lib, largest):
        body_mask = lib.binary_fill_holes(largest(volume > -300))
        air_inside = (volume < -500) & body_mask
        lung_labels, n = lib.label(air_inside)
        sizes = np.asarray(lib.sum_labels(np.ones_like(volume), lung_labels, list(range(1, n + 1))))
        margin = lib.distance_transform_edt(body_mask, sampling=meta["spacing"])
        margins = np.asarray(lib.minimum(margin, lung_labels, list(range(1, n + 1))))
        return body_mask, lung_labels, n, sizes * ml_per_voxel, margins

    def scipy_largest(mask):
        labels, _ = ndi.label(mask)
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        return labels == np.argmax(sizes)

    got = pipeline(h, h.largest_component)
    want = pipeline(ndi, scipy_largest)
    assert got[2] == want[2] == 2, "two lungs"
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    # Each lung: an ellipse of 8 x 11 voxels over 18 slices of 0.8 x 0.8 x 2.5 mm.
    expected_ml = np.pi * 8 * 11 * 18 * 0.8 * 0.8 * 2.5 / 1000
    np.testing.assert_allclose(got[3], expected_ml, rtol=0.05)


def test_label_on_every_backend_equals_scipy(backend):
    """The GPU labels 2D and 3D arrays with scipy's numbering (lavapipe in CI)."""
    for name in ("blobs", "spiral", "nested_shells", "touching_spheres", "one_voxel_axis"):
        mask = FIXTURES[name]
        for connectivity in range(1, mask.ndim + 1):
            structure = ndi.generate_binary_structure(mask.ndim, connectivity)
            want, n = ndi.label(mask, structure)
            got, m = h.label(mask, structure, backend=backend)
            assert m == n, name
            np.testing.assert_array_equal(got, want)
    if backend == "gpu":
        with pytest.raises(ValueError, match="2D and 3D"):
            h.label(FIXTURES["thin_4d"], backend="gpu")


def test_distance_transform_on_every_backend(backend):
    """backend='gpu' gives float32 distances (lavapipe in CI) within float32 rounding."""
    for name in ("blobs", "spiral", "nested_shells", "touching_spheres", "one_voxel_axis"):
        mask = FIXTURES[name]
        sampling = [2.5, 0.7, 0.8][-mask.ndim:]
        want = ndi.distance_transform_edt(mask, sampling)
        got = h.distance_transform_edt(mask, sampling, backend=backend)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=name)
    if backend == "gpu":
        with pytest.raises(ValueError, match="distances only"):
            h.distance_transform_edt(FIXTURES["blobs"], return_indices=True, backend="gpu")


def test_watershed_equals_scikit_image():
    """Label for label, ties included: plateaus (integer images), masks, every connectivity,
    compactness and watershed lines, 1D to 3D."""
    segmentation = pytest.importorskip("skimage.segmentation")
    rng = np.random.default_rng(11)
    for case in range(160):
        ndim = 1 + case % 3
        shape = tuple(int(rng.integers(2, 14)) for _ in range(ndim))
        kind = case % 4
        if kind == 0:
            image = rng.integers(0, 4, shape).astype(np.uint8)
        elif kind == 1:
            image = rng.standard_normal(shape)
        elif kind == 2:
            image = -ndi.distance_transform_edt(rng.random(shape) < 0.8)
        else:
            image = rng.integers(0, 2, shape).astype(np.float32)
        markers = np.zeros(shape, np.int32 if case % 2 else np.int64)
        k = int(rng.integers(1, 6))
        markers.flat[rng.integers(0, markers.size, k)] = rng.integers(1, 4, k)
        mask = (rng.random(shape) < 0.85) if case % 3 == 0 else None
        connectivity = int(rng.integers(1, ndim + 1))
        compactness = [0, 0, 0.5][case % 3] if case % 5 else 0
        line = case % 7 == 0
        want = segmentation.watershed(image, markers, connectivity=connectivity, mask=mask, compactness=compactness, watershed_line=line)
        got = h.watershed(image, markers, connectivity=connectivity, mask=mask, compactness=compactness, watershed_line=line)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=f"case {case}")
    # The classic flood (radix queue, heap replayed only for contested heights): many small
    # markers with repeated labels on few heights, masks in several pieces.
    for case in range(240):
        ndim = 1 + case % 3
        shape = tuple(int(rng.integers(3, 16)) for _ in range(ndim))
        image = rng.integers(0, [2, 3, 8][case % 3], shape).astype(np.float64) - 1.0
        markers = np.zeros(shape, np.int64)
        k = int(rng.integers(1, 4 + markers.size // 6))
        markers.flat[rng.integers(0, markers.size, k)] = rng.integers(1, 5, k)
        markers = ndi.grey_dilation(markers, size=(1,) * (ndim - 1) + (2,)) if case % 4 == 0 else markers
        mask = rng.random(shape) < 0.7 if case % 2 else None
        connectivity = int(rng.integers(1, ndim + 1))
        want = segmentation.watershed(image, markers, connectivity=connectivity, mask=mask)
        got = h.watershed(image, markers, connectivity=connectivity, mask=mask)
        np.testing.assert_array_equal(got, want, err_msg=f"classic case {case}")
    # Smooth images of distinct heights, large enough that the radix queue's buckets hold
    # thousands of close keys (spread over its levels, sorted into its run, inserted into it);
    # float64 (16-byte cells) and float32 (4-byte cells, a queue of u32 keys) heights.
    for case in range(6):
        shape = (40, 48, 56)
        image = ndi.gaussian_filter(rng.standard_normal(shape), 2.0 + case % 4)
        if case >= 4:
            image = image.astype(np.float32)
        markers = np.zeros(shape, np.int32)
        markers.flat[rng.integers(0, markers.size, 30)] = rng.integers(1, 9, 30)
        mask = ndi.gaussian_filter(rng.random(shape), 3.0) < 0.5 if case % 2 else None
        want = segmentation.watershed(image, markers, mask=mask)
        got = h.watershed(image, markers, mask=mask)
        np.testing.assert_array_equal(got, want, err_msg=f"smooth case {case}")
    # The GPU flood: equal to scikit-image where no two basins meet at equal height (distinct
    # heights, exact in float32), 2D and 3D, masks, every connectivity.
    for case in range(24):
        ndim = 2 + case % 2
        shape = tuple(int(rng.integers(3, 14)) for _ in range(ndim))
        image = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)
        markers = np.zeros(shape, np.int32)
        markers.flat[rng.choice(markers.size, 5, replace=False)] = rng.integers(1, 9, 5)
        mask = rng.random(shape) < 0.8 if case % 3 else None
        connectivity = int(rng.integers(1, ndim + 1))
        want = segmentation.watershed(image, markers, connectivity=connectivity, mask=mask)
        got = h.watershed(image, markers, connectivity=connectivity, mask=mask, backend="gpu")
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=f"gpu case {case}")
    with pytest.raises(ValueError, match="classic"):
        h.watershed(image, markers, compactness=1.0, backend="gpu")
    with pytest.raises(ValueError, match="backend"):
        h.watershed(image, markers, backend="cuda")
    # Touching spheres split at their neck, from the distance transform's peaks.
    mask = FIXTURES["touching_spheres"]
    distance = ndi.distance_transform_edt(mask)
    markers, n = ndi.label(distance > 0.8 * distance.max())
    assert n == 2
    want = segmentation.watershed(-distance, markers, mask=mask)
    np.testing.assert_array_equal(h.watershed(-distance, markers, mask=mask), want)
    assert set(np.unique(want)) == {0, 1, 2}
    with pytest.raises(ValueError, match="markers"):
        h.watershed(distance)
    with pytest.raises(ValueError, match="same shape"):
        h.watershed(distance, markers[:-1])
    with pytest.raises(ValueError, match="unambiguous center"):
        h.watershed(distance, markers, connectivity=np.ones((2, 2, 2)))


def _same_histograms(want, got):
    if isinstance(want, np.ndarray) and want.dtype == object:
        assert isinstance(got, np.ndarray) and got.dtype == object and got.shape == want.shape
        for w, g in zip(want, got):
            assert (w is None and g is None) or (w is not None and g is not None and np.array_equal(w, g) and w.dtype == g.dtype)
    elif want is None:
        assert got is None
    else:
        assert np.array_equal(want, got) and np.asarray(want).dtype == np.asarray(got).dtype


def test_histograms_per_label_equal_scipy():
    """``histogram(input, min, max, bins, labels, index)`` is scipy.ndimage's (the Rust pass for
    real values and integer labels, labeled_comprehension otherwise), and
    ``labeled_comprehension`` equals scipy's for order-independent functions."""
    rng = np.random.default_rng(21)
    for trial in range(60):
        shape = tuple(int(n) for n in rng.integers(1, 12, size=int(rng.integers(1, 4))))
        dtype = [np.float32, np.float64, np.int16, np.uint8, np.int32, bool][trial % 6]
        values = (rng.normal(size=shape) * 3).astype(dtype)
        if dtype == np.float64 and values.size > 2:
            values.flat[::3] = np.nan
        labels = rng.integers(-1 if trial % 7 == 0 else 0, 6, size=shape).astype([np.int32, np.int64, np.uint16][trial % 3])
        if trial % 5 == 0 and len(shape) > 1:
            labels = labels[:1]  # broadcast along the first axis
        lo, hi = sorted(rng.normal(size=2) * 3)
        if trial % 9 == 0:
            hi = lo  # one edge value: every bin but the last empty
        bins = int(rng.integers(1, 12))
        for index in [None, int(rng.integers(0, 7)), list(rng.integers(0, 8, size=4)), np.array([2.0, 5.0]), []]:
            if index is not None and not (isinstance(index, list) and len(index) == 0):
                want = ndi.histogram(values, lo, hi, bins, labels=labels, index=index)
                got = h.histogram(values, lo, hi, bins, labels=labels, index=index)
                _same_histograms(want, got)
        _same_histograms(ndi.histogram(values, lo, hi, bins), h.histogram(values, lo, hi, bins))
        _same_histograms(ndi.histogram(values, lo, hi, bins, labels), h.histogram(values, lo, hi, bins, labels))
        spread = lambda v: float(np.nanmax(v) - np.nanmin(v)) if v.size else 0.0  # noqa: E731
        index = [0, 1, 3, 9]
        want = ndi.labeled_comprehension(values.astype(float), labels, index, spread, float, -1.0)
        got = h.labeled_comprehension(values.astype(float), labels, index, spread, float, -1.0)
        np.testing.assert_array_equal(want, got)
        with_positions = lambda v, p: float(p.sum())  # noqa: E731
        want = ndi.labeled_comprehension(values, labels, index, with_positions, float, 0.0, pass_positions=True)
        got = h.labeled_comprehension(values, labels, index, with_positions, float, 0.0, pass_positions=True)
        np.testing.assert_array_equal(want, got)
    # scipy's errors: an index without labels, an index that loses precision in the labels' type.
    v = np.arange(12.0).reshape(3, 4)
    with pytest.raises(ValueError, match="index without defined labels"):
        h.histogram(v, 0, 10, 5, index=[1])
    with pytest.raises(ValueError, match="loss of precision"):
        h.histogram(v, 0, 10, 5, labels=np.ones((3, 4), int), index=[1.5])
    with pytest.raises(ValueError, match="same shape"):
        h.labeled_comprehension(v, np.ones((2, 4), int), [1], np.sum, float, 0)
    # The numpy-style histogram stays what it was.
    counts, edges = h.histogram(v, 4)
    assert counts.sum() == 12 and edges.size == 5

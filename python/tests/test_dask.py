"""hounsfield on Dask: every chunkable filter equals its in-memory call on random (ragged)
chunkings, reductions combine exactly, DICOM series read slab by slab, a zarr volume filtered
out of core under a memory bound, and cohorts on a real ``distributed.LocalCluster`` with two
worker processes (GPU pinning per worker included)."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# Dask is the package's optional extra; README's test command installs it, so these tests run
# (and fail loudly if it is missing) rather than skip.
import dask.array as da
import distributed
import zarr

import hounsfield as h
import hounsfield.dask as hd
from hounsfield.batch import MARKER, process_series

from conftest import BACKENDS


def random_chunks(rng, shape):
    """Random chunk lengths per axis, ragged last chunks included (some shorter than halos)."""
    chunks = []
    for n in shape:
        lengths, left = [], n
        while left:
            step = int(min(left, rng.integers(2, max(3, n // 2 + 2))))
            lengths.append(step)
            left -= step
        chunks.append(tuple(lengths))
    return tuple(chunks)


# name, positional args, keyword args, exact (0 difference) or linear (<= 1e-6 of the peak)
CASES = [
    ("gaussian_filter", (1.3,), {}, False),
    ("gaussian_filter", ((0.8, 2.0, 1.1),), {"mode": "wrap"}, False),
    ("gaussian_filter", (1.0,), {"mode": "constant", "cval": 0.4}, False),
    ("gaussian_laplace", (1.1,), {"mode": "nearest"}, False),
    ("gaussian_gradient_magnitude", (0.9,), {"mode": "mirror"}, False),
    ("uniform_filter", (), {"size": 5, "mode": "wrap"}, False),
    ("uniform_filter", (), {"size": (3, 1, 5)}, False),
    ("correlate1d", ([1.0, -2.0, 0.5, 3.0, 1.0],), {"axis": 1, "origin": 1}, False),
    ("correlate", (np.arange(27, dtype=float).reshape(3, 3, 3) / 50,), {"mode": "reflect"}, False),
    ("convolve", (np.arange(45, dtype=float).reshape(3, 5, 3) / 90,), {"mode": "constant"}, False),
    ("sobel", (), {"axis": 0}, False),
    ("sobel", (), {"axis": None}, False),
    ("prewitt", (), {"axis": 2, "mode": "wrap"}, False),
    ("laplace", (), {"mode": "nearest"}, False),
    ("median_filter", (), {"size": 3}, True),
    ("median_filter", (), {"size": 5, "mode": "constant", "cval": 0.2}, True),
    ("grey_erosion", (), {"size": (3, 5, 3)}, True),
    ("grey_dilation", (), {"size": 3, "mode": "wrap"}, True),
    ("grey_opening", (), {"size": 3}, True),
    ("grey_closing", (), {"size": (5, 3, 3)}, True),
    ("maximum_filter", (), {"size": 3}, True),
    ("minimum_filter", (), {"footprint": np.ones((3, 3, 3), bool)}, True),
    ("bilateral", (1.2, 0.3), {}, False),
    ("anisotropic_diffusion", (), {"iterations": 3, "conductance": 2.0}, False),
    ("anisotropic_diffusion", (), {"iterations": 2, "kind": "curvature", "spacing": (2.0, 1.0, 1.0)}, False),
    ("unsharp_mask", (), {"radius": 1.5, "amount": 0.7}, False),
    ("window_level", (0.4, 1.0), {}, False),
    ("sigmoid", (0.5, 4.0), {}, False),
    ("zoom", (1.6,), {"order": 1}, True),
    ("zoom", ((0.5, 1.3, 0.7),), {"order": 0}, True),
    ("mip", (), {"axis": 1, "kind": "max"}, True),
    ("mip", (), {"axis": 0, "kind": "mean"}, False),
]


def compare(got, want, exact, what):
    assert got.shape == want.shape, what
    assert got.dtype == want.dtype, what
    if exact:
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        peak = max(float(np.abs(want.astype(np.float64)).max()), 1e-30)
        assert np.abs(got.astype(np.float64) - want.astype(np.float64)).max() <= 1e-6 * peak, what


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_chunked_filters_equal_the_in_memory_call(case, rng):
    name, args, kwargs, exact = case
    volume = rng.random((14, 15, 17)).astype(np.float32)
    for trial in range(2):
        x = da.from_array(volume, chunks=random_chunks(rng, volume.shape))
        got = getattr(hd, name)(x, *args, backend="cpu", **kwargs)
        assert isinstance(got, da.Array)
        want = getattr(h, name)(volume, *args, backend="cpu", **kwargs)
        compare(got.compute(), want, exact, f"{name} {kwargs} chunks {x.chunks}")


@pytest.mark.parametrize("name", ["gaussian_filter", "median_filter", "zoom"])
def test_chunked_filters_on_the_gpu_equal_the_in_memory_gpu_call(name, rng):
    if "gpu" not in BACKENDS:
        pytest.skip("no GPU adapter (CI requires one: HOUNSFIELD_REQUIRE_GPU=1)")
    volume = rng.random((12, 16, 20)).astype(np.float32)
    x = da.from_array(volume, chunks=(5, 9, 20))
    args = {"gaussian_filter": (1.2,), "median_filter": (3,), "zoom": (1.5,)}[name]
    kwargs = {"order": 1} if name == "zoom" else {}
    got = getattr(h, name)(x, *args, backend="gpu", **kwargs).compute()
    want = getattr(h, name)(volume, *args, backend="gpu", **kwargs)
    # GPUs may fuse the zoom window's shifted coordinate (multiply-add): rounding, not exactness.
    compare(got, want, name == "median_filter", name)


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, np.uint8, np.float64])
def test_dtypes_follow_the_in_memory_rules(dtype, rng):
    volume = (rng.random((10, 12, 11)) * 200).astype(dtype)
    x = da.from_array(volume, chunks=(3, 5, 11))
    for name, args in [("gaussian_filter", (1.0,)), ("sobel", ()), ("median_filter", (3,)), ("zoom", (1.5,))]:
        # Chunked zoom runs the float32 kernels (orders 0 and 1): the in-memory float32 rule.
        extra = {"order": 1, "precision": "float32"} if name == "zoom" else {}
        got = getattr(hd, name)(x, *args, backend="cpu", **({"order": 1} if name == "zoom" else {}))
        want = getattr(h, name)(volume, *args, backend="cpu", **extra)
        assert got.dtype == want.dtype
        compare(got.compute(), want, dtype != np.float64, f"{name} {np.dtype(dtype)}")


def test_even_windows_origins_and_footprints_chunk_exactly(rng):
    """scipy's window options (even sizes, origins, footprints, structures, axes, output dtypes)
    get halos that cover them: chunked equals in memory, byte for byte (int16, the exact path)."""
    volume = rng.integers(-500, 500, (11, 13, 12)).astype(np.int16)
    footprint = rng.random((3, 2, 3)) > 0.4
    for trial in range(2):
        x = da.from_array(volume, chunks=random_chunks(rng, volume.shape))
        for name, args, kwargs in [
            ("median_filter", (), {"size": 4, "origin": 1}),
            ("median_filter", (), {"footprint": footprint, "mode": "constant", "cval": 7}),
            ("uniform_filter", (), {"size": (2, 3, 4), "origin": (0, 1, -2), "output": np.float32}),
            ("grey_dilation", (), {"footprint": footprint, "structure": footprint * 2.0, "origin": (1, 0, -1)}),
            ("grey_opening", (), {"size": (2, 2, 3)}),
            ("gaussian_filter", (1.2,), {"order": (0, 1, 0), "axes": None}),
            ("gaussian_filter", (1.5,), {"axes": (0, 2)}),
            ("correlate", (rng.normal(size=(2, 3, 2)),), {"origin": (0, -1, 0)}),
            ("convolve", (rng.normal(size=(2, 2, 2)),), {"mode": "wrap"}),
        ]:
            got = getattr(hd, name)(x, *args, backend="cpu", **kwargs).compute()
            want = getattr(h, name)(volume, *args, backend="cpu", **kwargs)
            compare(got, want, True, f"{name} {kwargs} chunks {x.chunks}")


def test_binary_morphology_on_masks_is_exact(rng):
    mask = rng.random((13, 16, 15)) > 0.55
    for trial in range(3):
        x = da.from_array(mask, chunks=random_chunks(rng, mask.shape))
        for name, kwargs in [
            ("binary_erosion", {}),
            ("binary_dilation", {"iterations": 2}),
            ("binary_opening", {"structure": np.ones((3, 3, 3), bool)}),
            ("binary_closing", {"iterations": 2}),
        ]:
            got = getattr(hd, name)(x, backend="cpu", **kwargs).compute()
            want = getattr(h, name)(mask, backend="cpu", **kwargs)
            compare(got, want, True, f"{name} chunks {x.chunks}")


def test_two_dimensional_images_chunk_too(rng):
    image = rng.random((37, 29)).astype(np.float32)
    x = da.from_array(image, chunks=(10, 8))
    compare(hd.gaussian_filter(x, 2.0, backend="cpu").compute(), h.gaussian_filter(image, 2.0, backend="cpu"), False, "2D gaussian")
    compare(hd.median_filter(x, size=5, backend="cpu").compute(), h.median_filter(image, size=5, backend="cpu"), True, "2D median")
    compare(hd.zoom(x, 0.7, backend="cpu").compute(), h.zoom(image, 0.7, order=1, backend="cpu"), True, "2D zoom")


def test_reductions_combine_chunks_exactly(rng):
    volume = (rng.normal(size=(15, 18, 13)) * 300 + 40).astype(np.float32)
    volume[3, 4, 5] = np.nan
    x = da.from_array(volume, chunks=random_chunks(rng, volume.shape))
    got = hd.statistics(x, backend="cpu").compute()
    want = h.statistics(volume, backend="cpu")
    assert got["count"] == want["count"] and got["nan_count"] == want["nan_count"] == 1
    assert got["min"] == want["min"] and got["max"] == want["max"]
    assert abs(got["mean"] - want["mean"]) <= 1e-12 * abs(want["mean"]) + 1e-12
    assert abs(got["std"] - want["std"]) <= 1e-12 * want["std"]
    with pytest.raises(ValueError, match="NaN"):
        hd.histogram(x, bins=10, backend="cpu").compute()
    finite = np.nan_to_num(volume)
    xf = da.from_array(finite, chunks=random_chunks(rng, volume.shape))
    for bins, value_range in [(256, None), (37, None), (20, (-100.0, 250.5))]:
        counts, edges = hd.histogram(xf, bins=bins, range=value_range, backend="cpu").compute()
        want_counts, want_edges = h.histogram(finite, bins=bins, range=value_range, backend="cpu")
        np.testing.assert_array_equal(counts, want_counts)
        np.testing.assert_array_equal(edges, want_edges)
    for nbins in (256, 64):
        assert hd.threshold_otsu(xf, nbins=nbins, backend="cpu").compute() == h.threshold_otsu(finite, nbins=nbins, backend="cpu")
    assert hd.threshold_otsu(da.full((4, 5), 7.0, chunks=2)).compute() == 7.0


def test_top_level_functions_forward_dask_arrays_and_bad_input_is_refused(rng):
    volume = rng.random((8, 9, 10)).astype(np.float32)
    x = da.from_array(volume, chunks=4)
    assert isinstance(h.gaussian_filter(x, 1.0, backend="cpu"), da.Array)
    assert isinstance(h.threshold_otsu(x, backend="cpu"), type(hd.statistics(x)))
    with pytest.raises(TypeError, match="dask array"):
        hd.gaussian_filter(volume, 1.0)
    with pytest.raises(NotImplementedError, match="border of the whole volume"):
        h.binary_fill_holes(x > 0.5)
    with pytest.raises(ValueError, match="at least one voxel"):
        hd.zoom(x, 0.01)
    with pytest.raises(ValueError, match="dimensions"):
        hd.median_filter(da.zeros((3, 3, 3, 3), chunks=2))
    with pytest.raises(ValueError):
        hd.zoom(x, 2.0, order=3)


def test_every_registry_filter_has_a_chunked_version_or_a_reason():
    for op in h.OPERATIONS:
        if op["family"] not in ("filter", "statistics"):
            continue
        names = list(op["functions"])
        if op["python"] == "generated":
            names.append(op["steps"][0][0])
        for name in names:
            assert callable(getattr(hd, name, None)), f"hounsfield.dask lacks {name}"
            if name in hd.NOT_CHUNKABLE:
                continue
            doc = getattr(hd, name).__doc__ or ""
            assert "dask array" in doc, f"hounsfield.dask.{name} does not say how it chunks"


def write_series(folder, volume, spacing=(2.0, 0.8, 0.8)):
    return h.write_dicom_series(volume, folder, spacing=spacing, origin=(-10.0, 5.0, 30.0))


def test_dicom_series_read_slab_by_slab_equals_the_whole_read(tmp_path, rng):
    volume = np.round(rng.random((23, 20, 18)) * 2000 - 1000).astype(np.float32)
    write_series(tmp_path / "ct", volume)
    lazy, meta = hd.read_dicom_series(tmp_path / "ct", chunks=5)
    whole, whole_meta = h.read_dicom_series(tmp_path / "ct")
    assert lazy.chunks[0] == (5, 5, 5, 5, 3)
    np.testing.assert_array_equal(lazy.compute(), whole)
    assert meta["spacing"] == whole_meta["spacing"] and meta["origin"] == whole_meta["origin"]
    np.testing.assert_array_equal(meta["direction"], whole_meta["direction"])
    # Filtered and written to zarr without assembling the volume: equal to the in-memory chain.
    store = tmp_path / "out.zarr"
    hd.median_filter(hd.gaussian_filter(lazy, 1.0, backend="cpu"), size=3, backend="cpu").to_zarr(str(store))
    want = h.median_filter(h.gaussian_filter(whole, 1.0, backend="cpu"), size=3, backend="cpu")
    np.testing.assert_allclose(zarr.open(str(store), mode="r")[...], want, rtol=0, atol=1e-6 * np.abs(want).max())
    with pytest.raises(ValueError, match="chunk"):
        hd.read_dicom_series(tmp_path / "ct", chunks=0)


def test_a_zarr_volume_is_filtered_out_of_core_within_a_memory_bound(tmp_path):
    # A 128 MiB float32 volume in zarr, filtered (Gaussian, then median) and written back by two
    # threads in 8-slice chunks: the peak resident memory may grow by at most half the volume.
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        import dask, dask.array as da, numpy as np
        import hounsfield.dask as hd
        shape, chunks = (512, 256, 256), (8, 256, 256)
        src, dst = {str(tmp_path / "in.zarr")!r}, {str(tmp_path / "out.zarr")!r}
        if sys.argv[1] == "write":
            da.random.default_rng(1).random(shape, chunks=chunks, dtype=np.float32).to_zarr(src)
        else:
            x = da.from_zarr(src)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            with dask.config.set(scheduler="threads", num_workers=2):
                hd.median_filter(hd.gaussian_filter(x, 1.0, backend="cpu"), size=3, backend="cpu").to_zarr(dst)
            after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out = da.from_zarr(dst)
            print(json.dumps({{"before_kib": before, "after_kib": after, "shape": list(out.shape),
                              "probe": float(out[100:102, 10:12, 10:12].mean().compute())}}))
        """
    )
    path = tmp_path / "out_of_core.py"
    path.write_text(script)
    subprocess.run([sys.executable, str(path), "write"], check=True)
    run = subprocess.run([sys.executable, str(path), "filter"], check=True, capture_output=True, text=True)
    report = json.loads(run.stdout.strip().splitlines()[-1])
    volume_kib = 512 * 256 * 256 * 4 / 1024
    grown = report["after_kib"] - report["before_kib"]
    assert report["shape"] == [512, 256, 256]
    assert 0.3 < report["probe"] < 0.7  # smoothed uniform noise
    print(f"out of core: peak grew {grown / 1024:.0f} MiB for a {volume_kib / 1024:.0f} MiB volume")
    assert grown < 0.5 * volume_kib, f"peak memory grew by {grown / 1024:.0f} MiB for a {volume_kib / 1024:.0f} MiB volume"


# --- the real engine: a LocalCluster with two worker processes ----------------------------------


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", memory_limit="2GiB")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def make_cohort(root, rng, count=3):
    folders = []
    for i in range(count):
        folder = root / f"study{i}"
        write_series(folder, np.round(rng.random((6 + i, 16, 16)) * 1000 - 500).astype(np.float32))
        folders.append(folder)
    return folders


def test_filters_run_on_the_cluster(client, rng):
    volume = rng.random((12, 14, 16)).astype(np.float32)
    x = da.from_array(volume, chunks=(4, 7, 16))
    got = client.compute(hd.median_filter(hd.gaussian_filter(x, 1.0, backend="cpu"), size=3, backend="cpu")).result()
    want = h.median_filter(h.gaussian_filter(volume, 1.0, backend="cpu"), size=3, backend="cpu")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert client.compute(hd.threshold_otsu(x, backend="cpu")).result() == h.threshold_otsu(volume, backend="cpu")


def test_cohorts_run_one_task_per_series_report_failures_and_resume(client, tmp_path, rng):
    folders = make_cohort(tmp_path / "in", rng)
    broken = tmp_path / "in" / "broken"
    broken.mkdir()
    (broken / "slice.dcm").write_bytes(b"DICM but not really" * 10)
    out = tmp_path / "out"
    rows = process_series(folders + [broken], "median:1 gaussian:0.8", out=out, client=client, backend="cpu", progress=False)
    assert [r["status"] for r in rows] == ["done", "done", "done", "error"], rows
    assert "broken" in rows[3]["folder"] and rows[3]["message"]
    assert not (out / "broken").exists() and not list(out.glob(".*partial*"))
    for folder, row in zip(folders, rows):
        written, _ = h.read_dicom_series(row["output"])
        source, meta = h.read_dicom_series(folder)
        want = h.pipeline(source, "median:1 gaussian:0.8", spacing=meta["spacing"], backend="cpu")
        assert (out / folder.name / MARKER).is_file()
        # Written as int16 with a rescale slope that keeps the precision.
        assert np.abs(written - want).max() <= 1e-3 * np.abs(want).max()
        assert row["slices"] == source.shape[0]
    # Resumable: complete outputs are skipped; a destination without its marker is redone.
    (out / folders[1].name / MARKER).unlink()
    again = process_series(folders, "median:1 gaussian:0.8", out=out, client=client, backend="cpu", progress=False)
    assert [r["status"] for r in again] == ["skipped", "done", "skipped"]


def exit_on_study1(volume, meta):
    """A task whose worker process dies (segfault, OOM kill) on one study."""
    if volume.shape[0] == 7:  # study1 of make_cohort
        os._exit(1)
    return volume


def test_a_worker_that_dies_marks_its_study_lost_and_the_others_complete(tmp_path, rng):
    folders = make_cohort(tmp_path / "in", rng)
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        try:
            with distributed.Client(cluster) as c:
                rows = process_series(folders, exit_on_study1, out=tmp_path / "out", client=c, backend="cpu", progress=False)
        finally:
            cluster.close()
    assert [r["status"] for r in rows] == ["done", "error", "done"], rows
    assert rows[1]["message"].startswith("lost:"), rows[1]
    assert not (tmp_path / "out" / "study1" / MARKER).exists()


def reconstruct_from_simulated_scan(volume, meta):
    """A cohort task that is a reconstruction: a parallel-beam scan of each slab, then SIRT."""
    geometry = h.Geometry.parallel_2d(list(np.linspace(0.0, 180.0, 24, endpoint=False)), volume.shape[2], 1.0)
    slices = []
    for z in range(volume.shape[0]):
        sino = h.forward_project(volume[z : z + 1], geometry, backend="cpu")
        image, _ = h.reconstruct(sino, geometry, (1,) + volume.shape[1:], method="sirt", iterations=5, backend="cpu")
        slices.append(image[0])
    return np.stack(slices)


def test_cohorts_take_functions_such_as_reconstructions_on_the_local_scheduler(tmp_path, rng):
    folders = make_cohort(tmp_path / "in", rng, count=2)
    rows = process_series(folders, reconstruct_from_simulated_scan, client=None, backend="cpu", progress=False)
    assert [r["status"] for r in rows] == ["done", "done"], rows
    for folder, row in zip(folders, rows):
        assert row["output"] == str(folder.parent / (folder.name + "_hounsfield"))
        written, _ = h.read_dicom_series(row["output"])
        assert written.shape == h.read_dicom_series(folder)[0].shape
    with pytest.raises(ValueError):
        process_series(folders, "median:x", progress=False)
    with pytest.raises(TypeError, match="list"):
        process_series(str(folders[0]), "median:1", progress=False)


def test_workers_can_be_pinned_to_an_adapter(tmp_path):
    # Each worker process reads HOUNSFIELD_ADAPTER before its first GPU call: worker i of this
    # cluster is given adapter i (lavapipe offers two: Vulkan and GL).
    adapters = h.gpu_adapters()
    if len(adapters) < 1:
        if os.environ.get("HOUNSFIELD_REQUIRE_GPU") == "1":
            raise AssertionError("HOUNSFIELD_REQUIRE_GPU=1 but no adapter")
        pytest.skip("no GPU adapter")
    pinned = [str(i % len(adapters)) for i in range(2)]
    clusters = []
    try:
        for index in pinned:
            clusters.append(
                distributed.LocalCluster(
                    n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0", env={"HOUNSFIELD_ADAPTER": index}
                )
            )
        for index, cluster in zip(pinned, clusters):
            with distributed.Client(cluster) as c:
                # The adapter's name and API (before the limits, which a device may negotiate).
                assert c.submit(h.gpu_adapter).result().split(";")[0] == adapters[int(index)].split(";")[0]
        with distributed.Client(clusters[0]) as c:
            bad = c.submit(_adapter_with, "99").exception()
            assert "adapter 99 requested" in str(bad)
            bad = c.submit(_adapter_with, "first").exception()
            assert "HOUNSFIELD_ADAPTER" in str(bad)
    finally:
        for cluster in clusters:
            cluster.close()


def _adapter_with(value):
    """A fresh interpreter with HOUNSFIELD_ADAPTER=value: what its GPU call says."""
    run = subprocess.run(
        [sys.executable, "-c", "import hounsfield; print(hounsfield.gpu_adapter())"],
        env={**os.environ, "HOUNSFIELD_ADAPTER": value},
        capture_output=True,
        text=True,
    )
    if run.returncode:
        raise RuntimeError(run.stderr.strip().splitlines()[-1])
    return run.stdout

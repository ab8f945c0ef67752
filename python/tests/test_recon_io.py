"""Reconstruction against scikit-image (iradon, radon), FDK and the iterative methods on a
phantom, GPU against CPU, and a DICOM write/read round trip."""
import pathlib

import numpy as np
import pytest
from skimage.transform import iradon, radon

import hounsfield as h


def disc_image(n):
    y, x = np.mgrid[:n, :n] - (n - 1) / 2
    img = ((x**2 + y**2) < (0.35 * n) ** 2).astype(np.float32)
    img[(np.abs(x - 5) < 4) & (np.abs(y) < 6)] = 2.0
    return img


def test_iradon_matches_scikit_image(backend):
    img = disc_image(64)
    theta = np.linspace(0.0, 180.0, 90, endpoint=False)
    sino = radon(img, theta=theta, circle=True).astype(np.float32)
    for filter_name in ["ramp", "shepp-logan", "hann"]:
        ours = h.iradon(sino, theta=theta, filter_name=filter_name, backend=backend)
        ref = iradon(sino, theta=theta, filter_name=filter_name)
        assert ours.shape == ref.shape
        assert np.abs(ours - ref).max() < 1e-3 * np.abs(ref).max(), filter_name


@pytest.mark.parametrize("n", [64, 65])
def test_radon_is_close_to_scikit_image(backend, n):
    img = disc_image(n)
    theta = np.linspace(0.0, 180.0, 30, endpoint=False)
    ours = h.radon(img, theta=theta, backend=backend)
    ref = radon(img, theta=theta, circle=True)
    assert ours.shape == ref.shape
    # Different discretisations (Joseph's rays vs rotate-and-sum): close, not equal (measured:
    # 0.07 % mean, 1.2 % worst of the peak).
    peak = np.abs(ref).max()
    assert np.abs(ours - ref).mean() < 0.002 * peak
    assert np.abs(ours - ref).max() < 0.03 * peak


def test_fdk_and_iterative_reconstruct_a_phantom(backend):
    n = 24
    vol = np.zeros((n, n, n), np.float32)
    z, y, x = np.mgrid[:n, :n, :n] - (n - 1) / 2
    vol[(x**2 + y**2 + z**2) < 8**2] = 1.0
    angles = list(np.arange(0.0, 360.0, 6.0))
    cone = h.Geometry.cone(angles, 200.0, 400.0, 40, 40, (1.5, 1.5))
    proj = h.forward_project(vol, cone, backend=backend)
    assert proj.shape == cone.projection_shape
    fdk = h.fdk(proj, cone, (n, n, n), backend=backend)
    assert np.abs(fdk - vol).mean() < 0.1
    for method in ["sirt", "os_sart", "cgls", "mlem", "fista_tv"]:
        rec, residuals = h.reconstruct(proj, cone, (n, n, n), method=method, iterations=8, subsets=6, nonnegative=True, backend=backend)
        assert residuals[-1] < residuals[0], method
        assert np.abs(rec - vol).mean() < np.abs(vol).mean(), method


def test_a_cylindrical_detector_reconstructs_like_the_flat_panel(backend):
    n = 24
    vol = np.zeros((n, n, n), np.float32)
    z, y, x = np.mgrid[:n, :n, :n] - (n - 1) / 2
    vol[(x**2 + y**2 + z**2) < 8**2] = 1.0
    angles = list(np.arange(0.0, 360.0, 6.0))
    cylinder = h.Geometry.cone_cylindrical(angles, 100.0, 200.0, 60, 60, (1.5, 1.5))
    flat = h.Geometry.cone(angles, 100.0, 200.0, 60, 60, (1.5, 1.5))
    assert (cylinder.detector, flat.detector, h.Geometry.fan(angles, 100.0, 200.0, 60, 1.5, arc=True).detector) == ("cylindrical", "flat", "arc")
    proj = h.forward_project(vol, cylinder, backend=backend)
    # Same pixels, bent: the projections differ (by 0.8 % of the peak at the ball's edge),
    # their reconstructions agree.
    assert np.abs(proj - h.forward_project(vol, flat, backend=backend)).max() > 0.004 * proj.max()
    fdk = h.fdk(proj, cylinder, (n, n, n), backend=backend)
    assert np.abs(fdk - vol).mean() < 0.1
    rec, residuals = h.reconstruct(proj, cylinder, (n, n, n), method="cgls", iterations=8, backend=backend)
    assert residuals[-1] < residuals[0] and np.abs(rec - vol).mean() < np.abs(vol).mean()
    # An arc of ±90° or more cannot be a detector in front of the source.
    with pytest.raises(ValueError, match="90°"):
        h.Geometry.cone_cylindrical(angles, 100.0, 200.0, 60, 450, (1.5, 1.5))


def test_a_helix_scans_a_long_volume(backend):
    vol = np.zeros((40, 16, 16), np.float32)
    vol[4:36, 4:12, 5:11] = 1.0
    angles = list(np.arange(0.0, 5 * 360.0, 15.0))
    helix = h.Geometry.cone_cylindrical(angles, 100.0, 200.0, 12, 40, (1.5, 1.5)).helical(9.0, -24.0)
    assert helix.detector == "cylindrical" and np.ptp(np.asarray(helix.vectors)[:, 2]) > 40.0
    proj = h.forward_project(vol, helix, backend=backend)
    rec, residuals = h.reconstruct(proj, helix, vol.shape, method="cgls", iterations=10, backend=backend)
    assert residuals[-1] < 0.1 * residuals[0]
    assert np.abs(rec - vol).mean() < 0.3 * np.abs(vol).mean()
    # fdk of a helix is the helical FDK.
    fdk = h.fdk(proj, helix, vol.shape, backend=backend)
    assert np.abs(fdk - vol)[6:-6].mean() < 0.1
    tilted = h.Geometry.from_vectors("cone", np.asarray(helix.vectors) + [0, 0, 0, 0, 0, 1.0, 0, 0, 0, 0, 0, 0], 12, 40)
    with pytest.raises(ValueError, match="iterative"):
        h.fdk(proj, tilted, vol.shape, backend=backend)


def test_gpu_and_cpu_reconstructions_agree():
    from conftest import GPU

    if not GPU:
        pytest.skip("no GPU")
    geometry = h.Geometry.parallel_2d(list(np.arange(0.0, 180.0, 4.0)), 32, 1.0)
    sino = h.forward_project(disc_image(32)[None], geometry, backend="cpu")
    for method in ["sirt", "cgls", "fista_tv"]:
        cpu, _ = h.reconstruct(sino, geometry, (1, 32, 32), method=method, iterations=5, backend="cpu")
        gpu, _ = h.reconstruct(sino, geometry, (1, 32, 32), method=method, iterations=5, backend="gpu")
        assert np.abs(cpu - gpu).max() < 1e-4 * np.abs(cpu).max(), method


def test_dicom_round_trip(tmp_path, rng):
    vol = (rng.standard_normal((5, 16, 20)) * 300).astype(np.float32)
    spacing, origin = (2.5, 0.7, 0.8), (-10.0, 20.0, 5.0)
    files = h.write_dicom_series(vol, tmp_path / "series", spacing=spacing, origin=origin, description="pytest")
    assert len(files) == 5
    back, meta = h.read_dicom_series(tmp_path / "series")
    assert back.shape == vol.shape and back.dtype == np.float32
    # int16 with a precision-preserving slope.
    assert np.abs(back - vol).max() <= np.ptp(vol) / 65535 * 1.01 + 1e-3
    assert np.allclose(meta["spacing"], spacing) and np.allclose(meta["origin"], origin)
    assert np.allclose(meta["direction"], np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]]))


@pytest.mark.parametrize("projector", h.PROJECTORS)
def test_every_projector_reconstructs_by_name(backend, projector):
    n = 24
    vol = np.zeros((n, n, n), np.float32)
    z, y, x = np.mgrid[:n, :n, :n] - (n - 1) / 2
    vol[(x**2 + y**2 + z**2) < 8**2] = 1.0
    cone = h.Geometry.cone(list(np.arange(0.0, 360.0, 8.0)), 200.0, 400.0, 40, 40, (1.5, 1.5))
    proj = h.forward_project(vol, cone, projector=projector, backend=backend)
    # Every pair models line integrals in mm: the same total as Joseph's rays (a voxel-driven
    # splat aliases where voxels are larger than the rays' spacing, so peaks differ).
    joseph = h.forward_project(vol, cone, projector="joseph", backend=backend)
    assert abs(proj.sum() - joseph.sum()) < 0.03 * joseph.sum()
    rec, residuals = h.reconstruct(proj, cone, (n, n, n), method="sirt", iterations=10, projector=projector, backend=backend)
    assert residuals[-1] < 0.5 * residuals[0]
    assert np.abs(rec - vol).mean() < 0.5 * np.abs(vol).mean()


def test_projections_past_the_adapters_loop_limit_fall_back_under_auto():
    """Joseph's forward projection marches rays through the volume's longest axis; through
    5,500 voxels that exceeds what Mesa's llvmpipe runs per shader invocation (65,535 loop
    iterations). ``auto`` then projects on the CPU, ``gpu`` raises ``GpuError``; a hardware GPU
    runs it."""
    from conftest import GPU

    geometry = h.Geometry.parallel_2d([0.0, 90.0], 8, 1.0)
    volume = np.random.default_rng(3).random((1, 4, 5500), dtype=np.float32)
    want = h.forward_project(volume, geometry, projector="joseph", backend="cpu")
    assert want.max() > 100.0
    np.testing.assert_allclose(h.forward_project(volume, geometry, projector="joseph", backend="auto"), want, rtol=1e-4)
    if not GPU:
        return
    if "llvmpipe" in str(h.gpu_adapter()):
        with pytest.raises(h.GpuError, match="65535"):
            h.forward_project(volume, geometry, projector="joseph", backend="gpu")
    else:
        np.testing.assert_allclose(h.forward_project(volume, geometry, projector="joseph", backend="gpu"), want, rtol=1e-4)


def test_unknown_projectors_and_methods_are_value_errors():
    cone = h.Geometry.cone([0.0, 90.0], 200.0, 400.0, 8, 8, (1.5, 1.5))
    with pytest.raises(ValueError, match="voxel_driven"):
        h.forward_project(np.zeros((4, 4, 4), np.float32), cone, projector="siddon")
    with pytest.raises(ValueError, match="fista_tv"):
        h.reconstruct(np.zeros((2, 8, 8), np.float32), cone, (4, 4, 4), method="art")


CT_PD = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ct_pd"


def test_dicom_ct_pd_scans_read_and_reconstruct():
    """Synthetic DICOM-CT-PD scans (tests/fixtures/generate_ct_pd.py): a helical scan reads with
    its geometry and reconstructs with helical FDK; a flying-focal-spot scan reads without one."""
    proj, geometry, meta = h.read_dicom_projections(CT_PD / "helical")
    assert proj.shape == (128, 16, 96) and proj.dtype == np.float32
    assert geometry.detector == "cylindrical" and geometry.helical
    assert meta["geometry_error"] is None and meta["flying_focal_spot"] == "FFSNONE"
    assert meta["views_per_rotation"] == 64 and abs(meta["water_attenuation"] - 0.0192) < 1e-7
    np.testing.assert_allclose(np.diff(meta["z"]), 10.0 / 64, rtol=1e-4)
    rec = h.fdk(proj, geometry, (6, 64, 64), (1.0, 2.0, 2.0), backend="cpu")
    # The water ellipsoid's centre (0.019 / mm, plus nothing else there).
    assert abs(float(rec[3, 28:36, 28:36].mean()) - 0.019) < 0.002
    proj, geometry, meta = h.read_dicom_projections(CT_PD / "ffs")
    assert geometry is None and "flying focal spot" in meta["geometry_error"]
    assert meta["source_shift"].shape == (2, 3)
    assert abs(meta["largest_source_shift"] - 0.4) < 1e-6
    proj, geometry, meta = h.read_dicom_projections(CT_PD / "ffs", ignore_flying_focal_spot=True)
    assert geometry is not None and meta["geometry_error"] is None
    with pytest.raises(OSError):
        h.read_dicom_projections(CT_PD / "missing")

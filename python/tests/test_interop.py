"""Geometry converters against the real tools: itk-rtk (CPU Joseph projector and FDK) and
astra-toolbox (CPU 2D projectors; its 3D projectors need CUDA, so 3D geometries are checked
through ASTRA's own vector conversion and its documented detector model)."""

# itk-rtk and astra-toolbox are part of the test environment (scripts/test.sh installs them);
# a missing one fails here rather than skipping.
import types

import astra
import itk
import numpy as np
import pytest
from itk import RTK as rtk

import hounsfield as h
from hounsfield import interop

ImageType = itk.Image[itk.F, 3]
RTK_FIELDS = [
    "SourceToIsocenterDistance",
    "SourceToDetectorDistance",
    "GantryAngle",
    "ProjectionOffsetX",
    "ProjectionOffsetY",
    "OutOfPlaneAngle",
    "InPlaneAngle",
    "SourceOffsetX",
    "SourceOffsetY",
]


def _rtk_geometry(views):
    g = rtk.ThreeDCircularProjectionGeometry.New()
    for p in views:
        g.AddProjection(*[float(p[k]) for k in RTK_FIELDS])
    return g


def _image(array, spacing, origin):
    image = itk.image_from_array(np.ascontiguousarray(array, dtype=np.float32))
    image.SetSpacing([float(s) for s in spacing])
    image.SetOrigin([float(o) for o in origin])
    return image


def _blobs(shape_zyx, spacing_xyz, origin_xyz):
    """A smooth phantom in RTK's array order (Z, Y, X): two Gaussian blobs, one off-centre."""
    z, y, x = np.meshgrid(*[origin_xyz[k] + spacing_xyz[k] * np.arange(n) for k, n in zip((2, 1, 0), shape_zyx)], indexing="ij")
    return np.exp(-((x - 6) ** 2 + (y + 4) ** 2 + (z - 3) ** 2) / 60.0) + 0.6 * np.exp(-((x + 10) ** 2 + (y - 5) ** 2 + z**2) / 25.0)


def _rtk_case(views, detector=(48, 40), pixel=(1.6, 1.4), volume_size=(36, 32, 28), voxel=(1.5, 1.5, 1.75), shift=(0.0, 0.0, 0.0)):
    cols, rows = detector
    geometry = _rtk_geometry(views)
    porigin = [-(cols - 1) / 2.0 * pixel[0], -(rows - 1) / 2.0 * pixel[1], 0.0]
    projections = _image(np.zeros((len(views), rows, cols)), [pixel[0], pixel[1], 1.0], porigin)
    vorigin = [-(n - 1) / 2.0 * s + c for n, s, c in zip(volume_size, voxel, shift)]
    volume_rtk = _blobs(volume_size[::-1], voxel, vorigin).astype(np.float32)
    volume = _image(volume_rtk, voxel, vorigin)
    return geometry, projections, volume, volume_rtk


def _rtk_forward(geometry, projections, volume):
    project = rtk.JosephForwardProjectionImageFilter[ImageType, ImageType].New()
    project.SetInput(0, projections)
    project.SetInput(1, volume)
    project.SetGeometry(geometry)
    project.Update()
    return itk.array_from_image(project.GetOutput())


def _circular_views(count=40, offsets=(0.0, 0.0), sid=400.0, sdd=700.0):
    return [
        dict(zip(RTK_FIELDS, [sid, sdd, 360.0 * i / count, offsets[0], offsets[1], 0.0, 0.0, 0.0, 0.0]))
        for i in range(count)
    ]


def test_rtk_views_match_rtks_own_matrices():
    rng = np.random.default_rng(11)
    views = [
        dict(zip(RTK_FIELDS, [rng.uniform(400, 600), rng.uniform(700, 900), rng.uniform(0, 360)] + list(rng.uniform(-10, 10, 6))))
        for _ in range(6)
    ]
    g = _rtk_geometry(views)
    cols, rows, su, sv, ou, ov = 11, 7, 1.3, 0.8, -6.5, -2.4
    for i, p in enumerate(interop._rtk_projections(g)):
        source, centre, u, v = interop._rtk_view(p, cols, rows, su, sv, ou, ov)
        matrix = itk.array_from_vnl_matrix(g.GetProjectionCoordinatesToFixedSystemMatrix(i).GetVnlMatrix().as_matrix())
        np.testing.assert_allclose(source, np.asarray(g.GetSourcePosition(i))[:3], atol=1e-9)
        np.testing.assert_allclose(centre, (matrix @ [ou + 5 * su, ov + 3 * sv, 0.0, 1.0])[:3], atol=1e-9)
        np.testing.assert_allclose(u, matrix[:3, 0] * su, atol=1e-12)
        np.testing.assert_allclose(v, matrix[:3, 1] * sv, atol=1e-12)


def _cylindrical(geometry, radius):
    geometry.SetRadiusCylindricalDetector(float(radius))
    return geometry


@pytest.mark.parametrize("offsets", [(0.0, 0.0), (6.0, -3.0)])
def test_rtk_cylindrical_projections_equal_hounsfields(offsets):
    # RTK's cylinder of radius SDD is hounsfield's cylinder about the source. A short SDD and a
    # wide detector (±15°), so that the cylinder differs from the flat panel where the volume
    # projects.
    views = _circular_views(24, offsets=offsets, sid=150.0, sdd=300.0)
    case = dict(detector=(80, 60), pixel=(2.0, 1.6))
    geometry, projections, volume, volume_rtk = _rtk_case(views, **case)
    _cylindrical(geometry, 300.0)
    want = _rtk_forward(geometry, projections, volume)
    conv = interop.from_rtk(geometry, projections, volume)
    assert (conv.geometry.detector, conv.geometry.projection_shape) == ("cylindrical", want.shape)
    got = conv.projections_from_hounsfield(h.forward_project(conv.volume_to_hounsfield(volume_rtk), conv.geometry, conv.voxel, backend="cpu"))
    peak = float(np.abs(want).max())
    assert peak > 1.0
    # Two Joseph projectors: measured 7e-4 of the peak at most, 1e-5 on average.
    assert np.abs(got - want).max() < 2e-3 * peak, offsets
    assert np.abs(got - want).mean() < 3e-5 * peak, offsets
    # The cylinder really differs from the flat panel of the same pixels (columns are arc
    # lengths): the same volume projected flat misses by 2e-4 of the peak on average.
    flat = _rtk_forward(*_rtk_case(views, **case)[:3])
    assert np.abs(flat - want).mean() > 1e-4 * peak


def test_rtk_cylindrical_xml_and_unsupported_radii(tmp_path):
    views = _circular_views(12)
    geometry, projections, volume, _ = _rtk_case(views)
    _cylindrical(geometry, 700.0)
    writer = rtk.ThreeDCircularProjectionGeometryXMLFileWriter.New()
    path = str(tmp_path / "cylinder.xml")
    writer.SetFilename(path)
    writer.SetObject(geometry)
    writer.WriteFile()
    from_file = interop.from_rtk(path, projections, volume)
    assert from_file.geometry.detector == "cylindrical"
    np.testing.assert_allclose(np.asarray(from_file.geometry.vectors), np.asarray(interop.from_rtk(geometry, projections, volume).geometry.vectors), atol=1e-6)
    # A cylinder not centred on the source, and a cylinder on a tilted orbit: clear errors.
    _cylindrical(geometry, 900.0)
    with pytest.raises(ValueError, match="radius = SourceToDetectorDistance"):
        interop.from_rtk(geometry, projections, volume)
    views[3]["OutOfPlaneAngle"] = 2.0
    tilted, _, _, _ = _rtk_case(views)
    with pytest.raises(ValueError, match="circular orbits"):
        interop.from_rtk(_cylindrical(tilted, 700.0), projections, volume)


def test_fdk_of_rtk_cylindrical_projections_matches_rtks_flat_panel_fdk():
    # RTK's CPU FDK refuses cylindrical detectors ("Voxel-based FDK back projector can currently
    # not handle cylindrical detectors", RTK 2.7), so the reference is RTK's FDK of the same
    # volume projected onto the flat panel: both FDKs must reconstruct the same volume.
    views = _circular_views(90, offsets=(2.5, -1.5))
    geometry, projections, volume, volume_rtk = _rtk_case(views, detector=(100, 84), pixel=(1.2, 1.2))
    flat_measured = _rtk_forward(geometry, projections, volume)
    fdk = rtk.FDKConeBeamReconstructionFilter[ImageType].New()
    fdk.SetInput(0, _image(np.zeros_like(volume_rtk), volume.GetSpacing(), volume.GetOrigin()))
    fdk.SetInput(1, _image(flat_measured, projections.GetSpacing(), projections.GetOrigin()))
    fdk.SetGeometry(geometry)
    fdk.Update()
    want = itk.array_from_image(fdk.GetOutput())
    geometry, projections, volume, _ = _rtk_case(views, detector=(100, 84), pixel=(1.2, 1.2))
    _cylindrical(geometry, 700.0)
    with pytest.raises(RuntimeError, match="cylindrical"):
        refused = rtk.FDKConeBeamReconstructionFilter[ImageType].New()
        refused.SetInput(0, _image(np.zeros_like(volume_rtk), volume.GetSpacing(), volume.GetOrigin()))
        refused.SetInput(1, _image(flat_measured, projections.GetSpacing(), projections.GetOrigin()))
        refused.SetGeometry(geometry)
        refused.Update()
    measured = _rtk_forward(geometry, projections, volume)
    conv = interop.from_rtk(geometry, projections, volume)
    got = conv.volume_from_hounsfield(h.fdk(conv.projections_to_hounsfield(measured), conv.geometry, conv.shape, conv.voxel, backend="cpu"))
    peak = float(np.abs(want).max())
    inner = (slice(3, -3),) * 3
    error = np.abs(got[inner] - want[inner])
    # Measured on the development VM: 3e-5 of the peak on average, 2e-4 at most.
    assert error.mean() < 1e-4 * peak and error.max() < 1e-3 * peak, (error.mean() / peak, error.max() / peak)
    assert np.abs(got[inner] - volume_rtk[inner]).mean() < 0.05 * float(volume_rtk.max())


def test_rtk_xml_file_converts_like_the_geometry_object(tmp_path):
    views = _circular_views(12, offsets=(4.0, -2.5))
    views[5]["OutOfPlaneAngle"] = 3.0  # not circular: the vector path
    geometry, projections, volume, _ = _rtk_case(views)
    writer = rtk.ThreeDCircularProjectionGeometryXMLFileWriter.New()
    path = str(tmp_path / "geometry.xml")
    writer.SetFilename(path)
    writer.SetObject(geometry)
    writer.WriteFile()
    from_object = interop.from_rtk(geometry, projections, volume)
    from_file = interop.from_rtk(path, projections, volume)
    np.testing.assert_allclose(np.asarray(from_file.geometry.vectors), np.asarray(from_object.geometry.vectors), atol=1e-6)
    assert from_file.shape == from_object.shape and from_file.voxel == from_object.voxel


@pytest.mark.parametrize(
    "case",
    ["circular", "circular with detector offsets", "tilted, per-view distances, source offsets", "off-centre volume"],
)
def test_rtk_projections_equal_hounsfields(case):
    rng = np.random.default_rng(5)
    views = _circular_views(24, offsets=(6.0, -3.0) if case != "circular" else (0.0, 0.0))
    shift = (0.0, 0.0, 0.0)
    if case.startswith("tilted"):
        for p in views:
            p.update(
                SourceToIsocenterDistance=rng.uniform(380, 420),
                SourceToDetectorDistance=rng.uniform(680, 720),
                OutOfPlaneAngle=rng.uniform(-4, 4),
                InPlaneAngle=rng.uniform(-4, 4),
                SourceOffsetX=rng.uniform(-3, 3),
                SourceOffsetY=rng.uniform(-3, 3),
            )
    if case == "off-centre volume":
        shift = (4.5, -3.0, 2.25)
    geometry, projections, volume, volume_rtk = _rtk_case(views, shift=shift)
    want = _rtk_forward(geometry, projections, volume)
    conv = interop.from_rtk(geometry, projections, volume)
    assert (conv.geometry.kind, conv.geometry.projection_shape) == ("cone", want.shape)
    got = h.forward_project(conv.volume_to_hounsfield(volume_rtk), conv.geometry, conv.voxel, backend="cpu")
    got = conv.projections_from_hounsfield(got)
    peak = float(np.abs(want).max())
    assert peak > 1.0
    # Two Joseph projectors (their handling of the volume's edge differs): within 1e-3 of the
    # peak on the development VM, 1e-5 on average.
    assert np.abs(got - want).max() < 3e-3 * peak, case
    assert np.abs(got - want).mean() < 5e-5 * peak, case
    np.testing.assert_allclose(conv.volume_from_hounsfield(conv.volume_to_hounsfield(volume_rtk)), volume_rtk)


def test_fdk_of_rtk_projections_equals_rtks_fdk():
    views = _circular_views(90, offsets=(2.5, -1.5))
    geometry, projections, volume, volume_rtk = _rtk_case(views, detector=(100, 84), pixel=(1.2, 1.2))
    measured = _rtk_forward(geometry, projections, volume)
    fdk = rtk.FDKConeBeamReconstructionFilter[ImageType].New()
    fdk.SetInput(0, _image(np.zeros_like(volume_rtk), volume.GetSpacing(), volume.GetOrigin()))
    fdk.SetInput(1, _image(measured, projections.GetSpacing(), projections.GetOrigin()))
    fdk.SetGeometry(geometry)
    fdk.Update()
    want = itk.array_from_image(fdk.GetOutput())
    conv = interop.from_rtk(geometry, projections, volume)
    got = conv.volume_from_hounsfield(h.fdk(conv.projections_to_hounsfield(measured), conv.geometry, conv.shape, conv.voxel, backend="cpu"))
    peak = float(np.abs(want).max())
    # Same projections, same ramp (RTK's default: no apodisation): the two FDKs agree in the
    # volume's interior (3e-7 of the peak on the development VM; the outermost voxels see
    # truncated rays in both).
    inner = (slice(3, -3),) * 3
    assert np.abs(got[inner] - want[inner]).max() < 1e-4 * peak
    # And both reconstruct the phantom.
    assert np.abs(got[inner] - volume_rtk[inner]).mean() < 0.05 * float(volume_rtk.max())


def _astra_2d(proj_geom, vol_geom, image, projector):
    pid = astra.create_projector(projector, proj_geom, vol_geom)
    sid, sino = astra.create_sino(image, pid)
    astra.data2d.delete(sid)
    astra.projector.delete(pid)
    return sino


@pytest.mark.parametrize("kind", ["parallel", "fanflat", "parallel_vec", "fanflat_vec", "off-centre"])
def test_astra_2d_projections_equal_hounsfields(kind):
    n = 64
    yy, xx = np.mgrid[0:n, 0:n]
    image = np.exp(-((xx - 40.0) ** 2 + (yy - 22.0) ** 2) / 40.0) + 0.5 * np.exp(-((xx - 20.0) ** 2 + (yy - 38.0) ** 2) / 20.0)
    angles = np.linspace(0, 2 * np.pi, 45, endpoint=False)
    vol_geom = astra.create_vol_geom(n, n)
    if kind == "off-centre":
        vol_geom = astra.create_vol_geom(n, n, -30.0, 34.0, -35.0, 29.0)
    if kind.startswith("parallel") or kind == "off-centre":
        proj_geom = astra.create_proj_geom("parallel", 1.0, 96, angles)
        projector = "linear"
    else:
        proj_geom = astra.create_proj_geom("fanflat", 1.5, 96, angles, 200.0, 150.0)
        # The strip kernel integrates over pixel areas; the line kernel aliases near the axes.
        projector = "strip_fanflat"
    want = _astra_2d(proj_geom, vol_geom, image, projector)
    if kind.endswith("_vec"):
        proj_geom = astra.geom_2vec(proj_geom)
    conv = interop.from_astra(proj_geom, vol_geom)
    got = conv.projections_from_hounsfield(h.forward_project(conv.volume_to_hounsfield(image), conv.geometry, conv.voxel, backend="cpu"))
    assert got.shape == want.shape
    peak = float(np.abs(want).max())
    # Different projector models (ASTRA: Joseph for parallel, pixel strips for fans; hounsfield:
    # Joseph): close everywhere, and every view's centre of mass within a few hundredths of a
    # pixel (a flip, a sign or a half-pixel shift would move it by pixels).
    assert np.abs(got - want).max() < 0.015 * peak, kind
    assert np.abs(got - want).mean() < 1e-3 * peak, kind
    cols = np.arange(want.shape[1])
    centre_got = (got * cols).sum(axis=1) / got.sum(axis=1)
    centre_want = (want * cols).sum(axis=1) / want.sum(axis=1)
    assert np.abs(centre_got - centre_want).max() < 0.02, kind


@pytest.mark.parametrize("kind", ["cone", "parallel3d"])
def test_astra_3d_geometries_follow_astras_vector_model(kind):
    """A small blob at a known ASTRA position lands where ASTRA's own vectors (astra.geom_2vec)
    and its documented detector model put it; the standard and _vec forms agree."""
    shape = (20, 24, 28)  # ASTRA's (Z, Y, X) = slices, rows, cols
    vol_geom = astra.create_vol_geom(shape[1], shape[2], shape[0])
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    if kind == "cone":
        proj_geom = astra.create_proj_geom("cone", 1.3, 1.1, 30, 40, angles, 120.0, 60.0)
    else:
        proj_geom = astra.create_proj_geom("parallel3d", 1.3, 1.1, 30, 40, angles)
    z, y, x = np.meshgrid(*[np.arange(n) - (n - 1) / 2.0 for n in shape], indexing="ij")
    point = np.array([5.0, -3.0, 2.0])  # (x, y, z) in ASTRA's frame
    blob = np.exp(-((x - point[0]) ** 2 + (y - point[1]) ** 2 + (z - point[2]) ** 2) / 1.5).astype(np.float32)
    vectors = astra.geom_2vec(proj_geom)["Vectors"]
    for geom in (proj_geom, astra.geom_2vec(proj_geom)):
        conv = interop.from_astra(geom, vol_geom)
        projections = conv.projections_from_hounsfield(h.forward_project(conv.volume_to_hounsfield(blob), conv.geometry, conv.voxel, backend="cpu"))
        assert projections.shape == (30, 8, 40)  # ASTRA's (rows, views, cols)
        for view, (s, d, u, v) in enumerate(vectors.reshape(-1, 4, 3)):
            if kind == "cone":
                ray = point - s
            else:
                ray, point_on = s, point
            # Where the ray through the point meets the detector plane, in pixel units.
            normal = np.cross(u, v)
            start = s if kind == "cone" else point
            t = np.dot(d - start, normal) / np.dot(ray, normal)
            hit = start + t * ray - d
            col = np.dot(hit, u) / np.dot(u, u) + (40 - 1) / 2.0
            row = np.dot(hit, v) / np.dot(v, v) + (30 - 1) / 2.0
            image = projections[:, view, :]
            rows, cols = np.mgrid[0:30, 0:40]
            weight = image.sum()
            assert abs((image * cols).sum() / weight - col) < 0.15, (kind, view)
            assert abs((image * rows).sum() / weight - row) < 0.15, (kind, view)
    back = interop.to_astra(interop.from_astra(astra.geom_2vec(proj_geom), vol_geom).geometry)
    np.testing.assert_allclose(back["Vectors"][:, 3:], vectors[:, 3:], atol=1e-9)


def test_fdk_refuses_non_circular_geometries():
    views = _circular_views(12)
    views[3]["OutOfPlaneAngle"] = 5.0
    geometry, projections, volume, _ = _rtk_case(views)
    conv = interop.from_rtk(geometry, projections, volume)
    with pytest.raises(ValueError, match="circular"):
        h.fdk(np.zeros(conv.geometry.projection_shape, np.float32), conv.geometry, conv.shape, conv.voxel, backend="cpu")


# --- TIGRE (pytigre needs CUDA to build: checked against TIGRE's documented per-pixel model) ---


def _tigre_pixels(geo, alpha, theta, psi, view):
    """World positions of every detector pixel and the source of one view, step by step as
    TIGRE's projector code describes them: panel at the origin, turned by roll/pitch/yaw, moved
    to -(DSD - DSO) and by offDetector, turned by the view's ZYZ Euler angles, the volume offset
    subtracted, the rotation axis moved by COR."""
    nv, nu = geo["nDetector"]
    dv, du = geo["dDetector"]
    yaw, pitch, roll = geo.get("rotDetector", (0.0, 0.0, 0.0))
    cor = geo.get("COR", 0.0)
    dsd = np.broadcast_to(geo["DSD"], (view + 1,))[view] if np.ndim(geo["DSD"]) else geo["DSD"]
    dso = geo["DSO"]
    off_v, off_u = geo.get("offDetector", (0.0, 0.0))
    oz, oy, ox = geo.get("offOrigin", (0.0, 0.0, 0.0))
    v, u = np.meshgrid(np.arange(nv), np.arange(nu), indexing="ij")
    p = np.stack([np.zeros(u.shape), du * (u - nu / 2 + 0.5), dv * (nv / 2 - 0.5 - v)], axis=-1)
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    turn = np.array([[cr * cp, cr * sp * sy - sr * cy, cr * sp * cy + sr * sy],
                     [sr * cp, sr * sp * sy + cr * cy, sr * sp * cy - cr * sy],
                     [-sp, cp * sy, cp * cy]])
    p = p @ turn.T + np.array([-(dsd - dso), off_u, off_v])
    ca, sa, ct, st, cs, ss = np.cos(alpha), np.sin(alpha), np.cos(theta), np.sin(theta), np.cos(psi), np.sin(psi)
    euler = np.array([[ca * ct * cs - sa * ss, -ca * ct * ss - sa * cs, ca * st],
                      [sa * ct * cs + ca * ss, -sa * ct * ss + ca * cs, sa * st],
                      [-st * cs, st * ss, ct]])
    shift = np.array([-cor * sa - ox, cor * ca - oy, -oz])
    return p @ euler.T + shift, euler @ np.array([dso, 0.0, 0.0]) + shift, euler @ np.array([1.0, 0.0, 0.0])


BLOBS = [((6.0, -4.0, 3.0), 5.0, 1.0), ((-9.0, 5.0, -2.0), 3.5, 0.7)]  # (x, y, z) mm, sigma, height


def _tigre_projections(geo, angles):
    """Line integrals of the Gaussian blobs (centred on the volume) in TIGRE's layout."""
    out = []
    for view, (alpha, theta, psi) in enumerate(angles):
        pixels, source, ray = _tigre_pixels(geo, alpha, theta, psi, view)
        total = np.zeros(pixels.shape[:2])
        for centre, sigma, height in BLOBS:
            if geo.get("mode", "cone") == "cone":
                direction = pixels - source
                start = source
            else:
                direction = np.broadcast_to(ray, pixels.shape)
                start = pixels
            direction = direction / np.linalg.norm(direction, axis=-1, keepdims=True)
            w = np.asarray(centre) - start
            across = w - (w * direction).sum(-1, keepdims=True) * direction
            total += height * np.sqrt(2 * np.pi) * sigma * np.exp(-(across**2).sum(-1) / (2 * sigma**2))
        out.append(total)
    return np.array(out)


def _blob_volume(shape, voxel):
    z, y, x = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * d for n, d in zip(shape, voxel)], indexing="ij")
    vol = np.zeros(shape)
    for (cx, cy, cz), sigma, height in BLOBS:
        vol += height * np.exp(-((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) / (2 * sigma**2))
    return vol.astype(np.float32)


def _tigre_geo(**changes):
    geo = {"DSD": 500.0, "DSO": 350.0, "nDetector": (40, 56), "dDetector": (1.2, 1.1), "nVoxel": (36, 44, 40),
           "dVoxel": (1.0, 1.0, 1.0), "offDetector": (3.0, -4.4), "mode": "cone"}
    geo.update(changes)
    return geo


TIGRE_CASES = {
    "circular cone, shifted panel": (_tigre_geo(), "cone"),
    "tilted views, turned panel, COR, moved volume": (
        _tigre_geo(rotDetector=(0.03, -0.02, 0.05), COR=1.5, offOrigin=(1.0, -2.0, 1.5)), "vectors"),
    "parallel beam": (_tigre_geo(mode="parallel", offDetector=(0.0, 0.0)), "parallel"),
    "parallel beam, COR": (_tigre_geo(mode="parallel", COR=-2.0), "vectors"),
}


@pytest.mark.parametrize("case", list(TIGRE_CASES))
def test_tigre_geometries_follow_tigres_pixel_model(case):
    geo, expected = TIGRE_CASES[case]
    angles = np.linspace(0.0, 2 * np.pi, 24, endpoint=False) + 0.2
    if case.startswith("tilted"):
        angles = np.stack([angles, np.full(24, 0.04), np.linspace(-0.03, 0.03, 24)], axis=1)
    conversion = interop.from_tigre(geo, angles)
    assert conversion.shape == tuple(geo["nVoxel"]) and conversion.voxel == tuple(geo["dVoxel"])
    kind = conversion.geometry.kind
    assert (kind == "cone") if expected in ("cone", "vectors") and geo["mode"] == "cone" else kind == "parallel"
    euler = angles if np.ndim(angles) == 2 else np.stack([angles, 0 * angles, 0 * angles], axis=1)
    volume = _blob_volume(conversion.shape, conversion.voxel)
    # TIGRE's pixel model works relative to the image centre (offOrigin subtracted): the
    # blobs sit at the same place in the image whatever the offset.
    want = _tigre_projections(geo, euler)
    got = conversion.projections_from_hounsfield(
        h.forward_project(conversion.volume_to_hounsfield(volume), conversion.geometry, conversion.voxel, backend="cpu"))
    assert got.shape == want.shape
    peak = want.max()
    assert np.abs(got - want).max() < 0.03 * peak, case
    # A wrong flip or angle sense would move the mass: centres of mass per view agree.
    for p, q in zip(got, want):
        rows = np.arange(p.shape[0])[:, None]
        assert abs((p * rows).sum() / p.sum() - (q * rows).sum() / q.sum()) < 0.05


def test_fdk_of_tigre_projections_finds_the_blobs_where_tigre_put_them():
    geo = _tigre_geo(nVoxel=(32, 40, 40), nDetector=(56, 64))
    angles = np.linspace(0.0, 2 * np.pi, 120, endpoint=False)
    conversion = interop.from_tigre(geo, angles)
    projections = conversion.projections_to_hounsfield(_tigre_projections(geo, np.stack([angles, 0 * angles, 0 * angles], 1)))
    image = conversion.volume_from_hounsfield(h.fdk(projections, conversion.geometry, conversion.shape, conversion.voxel, backend="cpu"))
    truth = _blob_volume(conversion.shape, conversion.voxel)
    assert np.abs(image - truth).max() < 0.1 * truth.max()
    # Centres of mass of the main blob agree to a tenth of a voxel (a flipped axis or a wrong
    # angle sense would move it by several).
    main = truth > 0.5 * truth.max()
    grid = np.indices(truth.shape)
    for a in range(3):
        assert abs((grid[a] * image * main).sum() / (image * main).sum() - (grid[a] * truth * main).sum() / (truth * main).sum()) < 0.1
    # A TIGRE geometry object (attributes, numpy arrays) converts like the dict.
    as_object = types.SimpleNamespace(**{k: np.asarray(v) if isinstance(v, tuple) else v for k, v in geo.items()})
    assert interop.from_tigre(as_object, angles).geometry.vectors == conversion.geometry.vectors
    with pytest.raises(ValueError, match="nDetector"):
        interop.from_tigre({k: v for k, v in geo.items() if k != "nDetector"} | {"nDetector": None}, angles)


@pytest.mark.parametrize("kind", ["parallel", "fanflat"])
def test_astra_strip_projections_equal_separable_footprints(kind):
    """ASTRA's strip kernels integrate each pixel's area inside each detector cell's strip. For
    parallel beams that is exactly the separable footprint (a square's shadow is a trapezoid);
    for fans the footprint's trapezoid approximates the perspective shadow."""
    n = 64
    yy, xx = np.mgrid[0:n, 0:n]
    image = np.exp(-((xx - 40.0) ** 2 + (yy - 22.0) ** 2) / 40.0) + 0.5 * np.exp(-((xx - 20.0) ** 2 + (yy - 38.0) ** 2) / 20.0)
    image[20:30, 10:16] += 1.0  # edges, where point-sampled models differ most
    angles = np.linspace(0, 2 * np.pi, 45, endpoint=False)
    vol_geom = astra.create_vol_geom(n, n)
    if kind == "parallel":
        proj_geom = astra.create_proj_geom("parallel", 0.7, 128, angles)
        projector = "strip"
    else:
        proj_geom = astra.create_proj_geom("fanflat", 1.1, 128, angles, 200.0, 150.0)
        projector = "strip_fanflat"
    want = _astra_2d(proj_geom, vol_geom, image, projector)
    conv = interop.from_astra(proj_geom, vol_geom)
    got = conv.projections_from_hounsfield(
        h.forward_project(conv.volume_to_hounsfield(image), conv.geometry, conv.voxel, projector="separable_footprint", backend="cpu")
    )
    peak = float(np.abs(want).max())
    err = np.abs(got - want)
    if kind == "parallel":
        assert err.max() < 5e-5 * peak  # float32 rounding: measured 1.2e-5, mean 4e-7
    else:
        # Measured: 1.2e-3 of the peak at most, 9e-6 on average.
        assert err.max() < 3e-3 * peak
        assert err.mean() < 5e-5 * peak

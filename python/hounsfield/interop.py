"""Geometries and array layouts from RTK, ASTRA and TIGRE, so their projections and volumes meet
hounsfield's without silent flips (docs/geometry.md shows the three frames side by side).

hounsfield's frame: volumes are ``(z, y, x)`` arrays centred on the isocentre, the rotation
axis is z, detector rows run along +z and projections are ``(views, rows, cols)``.

* **RTK** (``ThreeDCircularProjectionGeometry``) rotates about its y axis: the source starts on
  +Z and moves towards +X as the gantry angle grows; the detector's u axis is +X and v is +Y at
  angle 0. hounsfield's coordinates are ``(x, y, z) = (X, -Z, Y)``, so an RTK volume array
  ``(Z, Y, X)`` becomes ``volume.transpose(1, 0, 2)[:, ::-1, :]`` and gantry angle θ is
  hounsfield angle −θ. RTK's projection arrays ``(views, rows, cols)`` need no change; the
  detector pixel grid (origin, spacing) and ``ProjectionOffsetX/Y`` become detector offsets.
* **ASTRA** puts the source of view θ at ``(sin θ, −cos θ, 0)·DSO`` with ``u = (cos θ, sin θ,
  0)``: hounsfield angle −θ (degrees). Its 3D volumes ``(Z, Y, X)`` match hounsfield's axes; its
  2D images count rows downwards from +y (row 0 on top), so they are flipped; 3D projections
  ``(rows, views, cols)`` are transposed, 2D sinograms ``(views, cols)`` gain a row axis.

Each converter returns a :class:`Conversion`: the hounsfield ``geometry``, the volume ``shape``
and ``voxel`` sizes (z, y, x) to pass to ``forward_project`` / ``fdk`` / ``reconstruct``, and
the four array conversions. Circular acquisitions become ``Geometry.cone`` / ``fan`` /
``parallel_*`` geometries (FDK takes them); anything else (tilts, per-view distances, off-centre
volumes, ``*_vec`` geometries) becomes ``Geometry.from_vectors`` (projectors and the iterative
methods take it; FDK refuses it with a message).
"""

import math
import xml.etree.ElementTree as ElementTree
from typing import Callable, NamedTuple

import numpy as np

from ._hounsfield import Geometry


class Conversion(NamedTuple):
    """A tool's acquisition in hounsfield's terms."""

    geometry: Geometry
    shape: tuple
    """hounsfield volume shape ``(z, y, x)``."""
    voxel: tuple
    """Voxel size ``(z, y, x)`` in the tool's length unit."""
    volume_to_hounsfield: Callable
    volume_from_hounsfield: Callable
    projections_to_hounsfield: Callable
    projections_from_hounsfield: Callable


def _contiguous(f):
    return lambda a: np.ascontiguousarray(f(np.asarray(a)), dtype=np.float32)


# --- ASTRA ---------------------------------------------------------------------------------------


def _astra_volume(vol_geom, three_d):
    """(shape (z, y, x), voxel (z, y, x), centre (x, y, z)) of an ASTRA volume geometry."""
    option = vol_geom.get("option", {})
    cols, rows = int(vol_geom["GridColCount"]), int(vol_geom["GridRowCount"])
    slices = int(vol_geom.get("GridSliceCount", 1)) if three_d else 1

    def window(axis, count):
        low = float(option.get(f"WindowMin{axis}", -count / 2.0))
        high = float(option.get(f"WindowMax{axis}", count / 2.0))
        if not high > low:
            raise ValueError(f"ASTRA volume window along {axis}: WindowMax{axis} must exceed WindowMin{axis}")
        return (high - low) / count, (high + low) / 2.0

    sx, cx = window("X", cols)
    sy, cy = window("Y", rows)
    sz, cz = window("Z", slices) if three_d else (1.0, 0.0)
    return (slices, rows, cols), (sz, sy, sx), (cx, cy, cz)


def _astra_vectors(proj_geom):
    """(kind, (n, 12) vectors, rows, cols, circular parameters or None) of an ASTRA projection
    geometry, from ASTRA's documented definitions (astra.geom_2vec gives the same)."""
    kind = proj_geom["type"]
    if kind in ("parallel", "fanflat", "parallel3d", "cone"):
        theta = np.asarray(proj_geom["ProjectionAngles"], dtype=np.float64).ravel()
        s, c, zero = np.sin(theta), np.cos(theta), np.zeros_like(theta)
        if kind in ("parallel", "fanflat"):
            rows, cols = 1, int(proj_geom["DetectorCount"])
            du, dv = float(proj_geom["DetectorWidth"]), 1.0
        else:
            rows, cols = int(proj_geom["DetectorRowCount"]), int(proj_geom["DetectorColCount"])
            du, dv = float(proj_geom["DetectorSpacingX"]), float(proj_geom["DetectorSpacingY"])
        u = np.stack([c * du, s * du, zero], axis=1)
        v = np.stack([zero, zero, zero + dv], axis=1)
        if kind in ("parallel", "parallel3d"):
            source, centre, beam = np.stack([s, -c, zero], axis=1), np.zeros((theta.size, 3)), "parallel"
            circular = dict(angles=-np.degrees(theta), spacing=(dv, du))
        else:
            dso, dod = float(proj_geom["DistanceOriginSource"]), float(proj_geom["DistanceOriginDetector"])
            source = np.stack([s * dso, -c * dso, zero], axis=1)
            centre = np.stack([-s * dod, c * dod, zero], axis=1)
            beam = "cone"
            circular = dict(angles=-np.degrees(theta), sid=dso, sdd=dso + dod, spacing=(dv, du))
        return beam, np.concatenate([source, centre, u, v], axis=1), rows, cols, circular
    vectors = np.asarray(proj_geom["Vectors"], dtype=np.float64)
    if kind in ("parallel_vec", "fanflat_vec"):
        if vectors.ndim != 2 or vectors.shape[1] != 6:
            raise ValueError(f"ASTRA {kind} vectors must be (views, 6), not {vectors.shape}")
        n = vectors.shape[0]
        zero = np.zeros((n, 1))
        full = np.concatenate(
            [vectors[:, 0:2], zero, vectors[:, 2:4], zero, vectors[:, 4:6], zero, np.zeros((n, 2)), np.ones((n, 1))], axis=1
        )
        beam = "parallel" if kind == "parallel_vec" else "cone"
        return beam, full, 1, int(proj_geom["DetectorCount"]), None
    if kind in ("parallel3d_vec", "cone_vec"):
        if vectors.ndim != 2 or vectors.shape[1] != 12:
            raise ValueError(f"ASTRA {kind} vectors must be (views, 12), not {vectors.shape}")
        beam = "parallel" if kind == "parallel3d_vec" else "cone"
        return beam, vectors.copy(), int(proj_geom["DetectorRowCount"]), int(proj_geom["DetectorColCount"]), None
    raise ValueError(f"ASTRA geometry type {kind!r} is not supported: use parallel, fanflat, parallel3d, cone or their _vec forms")


def from_astra(proj_geom, vol_geom):
    """An ASTRA projection geometry and volume geometry (the dicts ``astra.create_proj_geom``
    and ``astra.create_vol_geom`` return) as a :class:`Conversion`. Lengths keep ASTRA's unit
    (voxels unless the volume window says otherwise)."""
    kind = proj_geom.get("type", "")
    three_d = kind in ("parallel3d", "cone", "parallel3d_vec", "cone_vec")
    beam, vectors, rows, cols, circular = _astra_vectors(proj_geom)
    shape, voxel, centre = _astra_volume(vol_geom, three_d)
    centred = np.allclose(centre, 0.0, atol=1e-12 * max(1.0, float(np.abs(vectors).max())))
    if circular is not None and centred:
        angles = [float(a) for a in circular["angles"]]
        dv, du = circular["spacing"]
        if beam == "parallel":
            geometry = Geometry.parallel_3d(angles, rows, cols, (dv, du)) if three_d else Geometry.parallel_2d(angles, cols, du)
        elif three_d:
            geometry = Geometry.cone(angles, circular["sid"], circular["sdd"], rows, cols, (dv, du))
        else:
            geometry = Geometry.fan(angles, circular["sid"], circular["sdd"], cols, du)
    else:
        shifted = vectors.copy()
        shifted[:, 3:6] -= centre
        if beam == "cone":
            shifted[:, 0:3] -= centre
        geometry = Geometry.from_vectors(beam, [list(map(float, row)) for row in shifted], rows, cols)
    if three_d:
        volume_in = volume_out = _contiguous(lambda a: a)
        projections_in = _contiguous(lambda p: p.transpose(1, 0, 2))
        projections_out = _contiguous(lambda p: p.transpose(1, 0, 2))
    else:
        volume_in = _contiguous(lambda a: a[::-1][None] if a.ndim == 2 else a[:, ::-1])
        volume_out = _contiguous(lambda a: a[0, ::-1] if a.shape[0] == 1 else a[:, ::-1])
        projections_in = _contiguous(lambda p: p[:, None, :])
        projections_out = _contiguous(lambda p: p[:, 0, :])
    return Conversion(geometry, shape, voxel, volume_in, volume_out, projections_in, projections_out)


def to_astra(geometry):
    """A hounsfield geometry as an ASTRA ``cone_vec`` or ``parallel3d_vec`` projection geometry
    (a dict for ``astra.create_proj_geom``'s consumers; flat detectors). Volumes and projections
    convert as in :func:`from_astra` for 3D geometries."""
    vectors = np.asarray(geometry.vectors, dtype=np.float64)
    _, rows, cols = geometry.projection_shape
    kind = "cone_vec" if geometry.kind == "cone" else "parallel3d_vec"
    return {"type": kind, "DetectorRowCount": rows, "DetectorColCount": cols, "Vectors": vectors}


# --- RTK -----------------------------------------------------------------------------------------


def _grid(image_or_dict, what):
    """(size, spacing, origin) of an ITK image or a dict with those keys (ITK's x, y, z order)."""
    if isinstance(image_or_dict, dict):
        size = tuple(int(n) for n in image_or_dict["size"])
        spacing = tuple(float(s) for s in image_or_dict["spacing"])
        origin = tuple(float(o) for o in image_or_dict["origin"])
    else:
        image = image_or_dict
        size = tuple(int(n) for n in image.GetLargestPossibleRegion().GetSize())
        spacing = tuple(float(s) for s in image.GetSpacing())
        origin = tuple(float(o) for o in image.GetOrigin())
        direction = np.asarray(image.GetDirection())
        if not np.allclose(direction, np.eye(direction.shape[0])):
            raise ValueError(f"the RTK {what} image has a non-identity direction matrix: resample it to identity first")
    if len(size) != 3 or len(spacing) < 2 or len(origin) < 2:
        raise ValueError(f"the RTK {what} grid needs a 3D size and (at least 2D) spacing and origin")
    return size, spacing, origin


def _rtk_projections(geometry):
    """Per-view RTK parameters: from an RTK geometry object, or an RTK geometry XML file."""
    if isinstance(geometry, (str, bytes)) or hasattr(geometry, "__fspath__"):
        return _rtk_xml(geometry)
    count = len(geometry.GetGantryAngles())
    fields = {
        "GantryAngle": [math.degrees(a) for a in geometry.GetGantryAngles()],
        "SourceToIsocenterDistance": list(geometry.GetSourceToIsocenterDistances()),
        "SourceToDetectorDistance": list(geometry.GetSourceToDetectorDistances()),
        "ProjectionOffsetX": list(geometry.GetProjectionOffsetsX()),
        "ProjectionOffsetY": list(geometry.GetProjectionOffsetsY()),
        "OutOfPlaneAngle": [math.degrees(a) for a in geometry.GetOutOfPlaneAngles()],
        "InPlaneAngle": [math.degrees(a) for a in geometry.GetInPlaneAngles()],
        "SourceOffsetX": list(geometry.GetSourceOffsetsX()),
        "SourceOffsetY": list(geometry.GetSourceOffsetsY()),
    }
    radius = float(geometry.GetRadiusCylindricalDetector())
    return [dict({k: float(v[i]) for k, v in fields.items()}, RadiusCylindricalDetector=radius) for i in range(count)]


_RTK_DEFAULTS = {
    "RadiusCylindricalDetector": 0.0,
    "SourceToIsocenterDistance": None,
    "SourceToDetectorDistance": None,
    "GantryAngle": None,
    "ProjectionOffsetX": 0.0,
    "ProjectionOffsetY": 0.0,
    "OutOfPlaneAngle": 0.0,
    "InPlaneAngle": 0.0,
    "SourceOffsetX": 0.0,
    "SourceOffsetY": 0.0,
}


def _rtk_xml(path):
    """RTK's ThreeDCircularProjectionGeometry XML file: values given once at the top apply to
    every projection, each <Projection> may override them (angles in degrees, lengths in mm)."""
    root = ElementTree.parse(path).getroot()
    if root.tag != "RTKThreeDCircularGeometry":
        raise ValueError(f"{path}: not an RTK geometry file (root element {root.tag!r})")
    shared = {key: float(root.find(key).text) for key in _RTK_DEFAULTS if root.find(key) is not None}
    views = []
    for projection in root.findall("Projection"):
        view = dict(_RTK_DEFAULTS)
        view.update(shared)
        view.update({key: float(projection.find(key).text) for key in _RTK_DEFAULTS if projection.find(key) is not None})
        missing = [key for key, value in view.items() if value is None]
        if missing:
            raise ValueError(f"{path}: projection {len(views)} lacks {', '.join(missing)}")
        views.append(view)
    if not views:
        raise ValueError(f"{path}: no <Projection> elements")
    return views


def _rotation(axis, degrees):
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _rtk_view(p, cols, rows, su, sv, ou, ov):
    """(source, centre of the middle pixel, u step, v step) in RTK's fixed frame: the source
    and detector of angle 0 (source on +Z, detector plane at Z = SID − SDD, u = +X, v = +Y)
    turned by RTK's rotation (in-plane about Z, then out-of-plane about X, then the gantry
    about Y); source offsets move the source in the detector's (u, v)."""
    rotation = _rotation("y", p["GantryAngle"]) @ _rotation("x", p["OutOfPlaneAngle"]) @ _rotation("z", p["InPlaneAngle"])
    sid, sdd = p["SourceToIsocenterDistance"], p["SourceToDetectorDistance"]
    source = rotation @ np.array([p["SourceOffsetX"], p["SourceOffsetY"], sid])
    middle_u = ou + (cols - 1) / 2.0 * su + p["ProjectionOffsetX"]
    middle_v = ov + (rows - 1) / 2.0 * sv + p["ProjectionOffsetY"]
    centre = rotation @ np.array([middle_u, middle_v, sid - sdd])
    return source, centre, rotation @ np.array([su, 0.0, 0.0]), rotation @ np.array([0.0, sv, 0.0])


def _to_hounsfield_frame(vector):
    """RTK's (X, Y, Z) as hounsfield's (x, y, z) = (X, −Z, Y)."""
    return np.array([vector[0], -vector[2], vector[1]])


def from_rtk(geometry, projections, volume):
    """An RTK acquisition as a :class:`Conversion`.

    ``geometry``: an ``itk.RTK.ThreeDCircularProjectionGeometry`` or the path of its XML file;
    flat panels, or cylindrical detectors whose radius is the source–detector distance (circular
    orbits; ``Geometry.cone_cylindrical``).
    ``projections``: the projection stack's grid — the ITK image, or a dict with ``size``
    ``(cols, rows, views)``, ``spacing`` and ``origin`` (ITK's order: u, v). ``volume``: the
    volume's grid — the ITK image, or a dict with ``size`` ``(X, Y, Z)``, ``spacing``,
    ``origin``. Angles, offsets and distances as RTK stores them (degrees, mm)."""
    views = _rtk_projections(geometry)
    (cols, rows, count), pspacing, porigin = _grid(projections, "projection")
    if count != len(views):
        raise ValueError(f"the projection stack holds {count} views, the geometry {len(views)}")
    su, sv = pspacing[0], pspacing[1]
    ou, ov = porigin[0], porigin[1]
    (nx, ny, nz), vspacing, vorigin = _grid(volume, "volume")
    centre_rtk = np.array([vorigin[k] + (n - 1) / 2.0 * vspacing[k] for k, n in enumerate((nx, ny, nz))])
    centre = _to_hounsfield_frame(centre_rtk)
    shape = (ny, nz, nx)
    voxel = (vspacing[1], vspacing[2], vspacing[0])
    first = views[0]
    circular = (
        all(
            abs(v[key] - first[key]) <= 1e-9 * max(1.0, abs(first[key]))
            for v in views
            for key in ("SourceToIsocenterDistance", "SourceToDetectorDistance", "ProjectionOffsetX", "ProjectionOffsetY")
        )
        and all(v[key] == 0.0 for v in views for key in ("OutOfPlaneAngle", "InPlaneAngle", "SourceOffsetX", "SourceOffsetY"))
        and np.allclose(centre, 0.0, atol=1e-9 * max(vspacing))
    )
    radius = first["RadiusCylindricalDetector"]
    if radius != 0.0:
        # RTK bends the detector into a cylinder of this radius, tangent to the flat panel at the
        # central ray (u measured along the arc); hounsfield's cylinder is centred on the source.
        sdd = first["SourceToDetectorDistance"]
        if not circular or abs(radius - sdd) > 1e-9 * sdd:
            raise ValueError(
                f"RTK cylindrical detector of radius {radius} mm: hounsfield converts cylinders centred on the source "
                f"(radius = SourceToDetectorDistance = {sdd} mm) on circular orbits (same distances and offsets in every "
                "view, no tilts or source offsets, the volume centred on the isocentre)"
            )
    if circular:
        make = Geometry.cone_cylindrical if radius != 0.0 else Geometry.cone
        geometry_h = make(
            [-v["GantryAngle"] for v in views],
            first["SourceToIsocenterDistance"],
            first["SourceToDetectorDistance"],
            rows,
            cols,
            (sv, su),
            ((ov + first["ProjectionOffsetY"]) / sv + (rows - 1) / 2.0, (ou + first["ProjectionOffsetX"]) / su + (cols - 1) / 2.0),
        )
    else:
        rows_of_vectors = []
        for p in views:
            source, middle, u, v = (_to_hounsfield_frame(x) for x in _rtk_view(p, cols, rows, su, sv, ou, ov))
            rows_of_vectors.append([float(x) for x in np.concatenate([source - centre, middle - centre, u, v])])
        geometry_h = Geometry.from_vectors("cone", rows_of_vectors, rows, cols)
    volume_in = _contiguous(lambda a: a.transpose(1, 0, 2)[:, ::-1, :])
    volume_out = _contiguous(lambda a: a[:, ::-1, :].transpose(1, 0, 2))
    same = _contiguous(lambda p: p)
    return Conversion(geometry_h, shape, voxel, volume_in, volume_out, same, same)


# --- TIGRE ---------------------------------------------------------------------------------------


def _tigre_field(geo, name, count, width, default=None):
    """A TIGRE geometry field as ``(views, width)`` floats: one value (or one row) for every
    view, or one per view, as TIGRE's ``check_geo`` repeats them."""
    value = geo.get(name, default) if isinstance(geo, dict) else getattr(geo, name, default)
    if value is None:
        raise ValueError(f"the TIGRE geometry lacks {name}")
    a = np.asarray(value, dtype=np.float64)
    if a.size == width:
        return np.tile(a.reshape(1, width), (count, 1))
    if a.shape in ((count, width), (count * width,)) or (width == 1 and a.shape == (count,)):
        return a.reshape(count, width)
    raise ValueError(f"TIGRE {name} has shape {a.shape}: give {width} value(s) or one per view ({count}, {width})")


def _zyz(alpha, theta, psi):
    """TIGRE's Euler rotation of a view: about z by alpha, then y by theta, then z by psi
    (matrix Rz(alpha) Ry(theta) Rz(psi), radians)."""
    return _rotation("z", math.degrees(alpha)) @ _rotation("y", math.degrees(theta)) @ _rotation("z", math.degrees(psi))


def from_tigre(geo, angles):
    """A TIGRE acquisition (``geo`` as ``tigre.geometry()`` builds it, or a dict of the same
    fields; ``angles`` in radians, ``(views,)`` or ``(views, 3)`` ZYZ Euler angles) as a
    :class:`Conversion`, from TIGRE's documented geometry (its Python API orders volumes
    ``(z, y, x)`` and detectors ``(v, u)``).

    TIGRE's frame: the source of view ``alpha`` sits at ``DSO (cos alpha, sin alpha, 0)``, the
    detector centre at ``-(DSD - DSO)`` along the same line, u along ``(-sin alpha, cos alpha,
    0)``, and detector row 0 on top (rows run along -z); ``offDetector`` moves the detector in
    (v, u), ``offOrigin`` moves the volume, ``COR`` shifts the rotation axis sideways,
    ``rotDetector`` (yaw, pitch, roll) turns the panel about its centre (Rz(roll) Ry(pitch)
    Rx(yaw)). Volumes keep their axes; projections are flipped top to bottom (hounsfield's
    rows run along +z). Circular scans become ``Geometry.cone`` / ``parallel_3d`` with
    hounsfield angle ``-(alpha + 90°)``; anything else ``Geometry.from_vectors``."""
    a = np.asarray(angles, dtype=np.float64)
    if a.ndim == 1:
        a = np.stack([a, np.zeros_like(a), np.zeros_like(a)], axis=1)
    if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] == 0:
        raise ValueError(f"angles of shape {np.shape(angles)}: give (views,) or (views, 3) radians")
    count = a.shape[0]
    get = (lambda k, d=None: geo.get(k, d)) if isinstance(geo, dict) else (lambda k, d=None: getattr(geo, k, d))

    def need(key, count):
        value = get(key)
        if value is None or np.size(value) != count:
            raise ValueError(f"the TIGRE geometry needs {key} with {count} values")
        return np.asarray(value, dtype=np.float64).ravel()

    mode = get("mode") or "cone"
    if mode not in ("cone", "parallel"):
        raise ValueError(f"TIGRE mode {mode!r}: hounsfield converts 'cone' and 'parallel'")
    rows, cols = (int(n) for n in need("nDetector", 2))
    dv, du = (float(d) for d in need("dDetector", 2))
    shape = tuple(int(n) for n in need("nVoxel", 3))
    if get("dVoxel") is not None:
        voxel = tuple(float(d) for d in need("dVoxel", 3))
    else:
        voxel = tuple(float(s) / n for s, n in zip(need("sVoxel", 3), shape))
    dso = _tigre_field(geo, "DSO", count, 1, 1.0 if mode == "parallel" else None)[:, 0]
    dsd = _tigre_field(geo, "DSD", count, 1, 2.0 if mode == "parallel" else None)[:, 0]
    off_origin = _tigre_field(geo, "offOrigin", count, 3, (0.0, 0.0, 0.0))[:, ::-1]  # (x, y, z)
    off_detector = _tigre_field(geo, "offDetector", count, 2, (0.0, 0.0))  # (v, u)
    turn = _tigre_field(geo, "rotDetector", count, 3, (0.0, 0.0, 0.0))  # (yaw, pitch, roll)
    cor = _tigre_field(geo, "COR", count, 1, 0.0)[:, 0]
    vectors = []
    for i in range(count):
        alpha = a[i, 0]
        rotation = _zyz(*a[i])
        panel = _rotation("z", math.degrees(turn[i, 2])) @ _rotation("y", math.degrees(turn[i, 1])) @ _rotation("x", math.degrees(turn[i, 0]))
        axis_shift = cor[i] * np.array([-math.sin(alpha), math.cos(alpha), 0.0]) - off_origin[i]
        # Parallel beams: the ray direction (unit length), no position.
        source = rotation @ np.array([dso[i] if mode == "cone" else 1.0, 0.0, 0.0])
        if mode == "cone":
            source = source + axis_shift
        centre = rotation @ np.array([-(dsd[i] - dso[i]), off_detector[i, 1], off_detector[i, 0]]) + axis_shift
        u = rotation @ panel @ np.array([0.0, du, 0.0])
        v = rotation @ panel @ np.array([0.0, 0.0, dv])  # rows flipped: +z per hounsfield row
        vectors.append([float(x) for x in np.concatenate([source, centre, u, v])])
    circular = (
        np.all(a[:, 1:] == 0.0)
        and np.all(turn == 0.0)
        and np.all(cor == 0.0)
        and np.all(off_origin == 0.0)
        and np.allclose(dso, dso[0])
        and np.allclose(dsd, dsd[0])
        and np.allclose(off_detector, off_detector[0])
    )
    hounsfield_angles = [-(math.degrees(alpha) + 90.0) for alpha in a[:, 0]]
    if circular and mode == "cone":
        offsets = (off_detector[0, 0] / dv, off_detector[0, 1] / du)
        geometry = Geometry.cone(hounsfield_angles, float(dso[0]), float(dsd[0]), rows, cols, (dv, du), offsets)
    elif circular and np.all(off_detector == 0.0):
        geometry = Geometry.parallel_3d(hounsfield_angles, rows, cols, (dv, du))
    else:
        geometry = Geometry.from_vectors("cone" if mode == "cone" else "parallel", vectors, rows, cols)
    same = _contiguous(lambda x: x)
    flip = _contiguous(lambda p: p[:, ::-1, :])
    return Conversion(geometry, shape, voxel, same, same, flip, flip)

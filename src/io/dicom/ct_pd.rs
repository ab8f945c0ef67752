//! Raw CT projections in DICOM-CT-PD, the format of public clinical low-dose CT datasets (Chen et
//! al., "Development and validation of an open data format for CT projection data", Med. Phys.
//! 42(12), 2015; tag table in Med. Phys. 48(2), 2021, Table IV). One file per view, ordered by
//! InstanceNumber; the pixel data, rescaled, are line integrals; the geometry is in private
//! tags (little-endian float32 where no VR says otherwise):
//!
//! | tag | meaning |
//! |---|---|
//! | (7029,1010) / (7029,1011) | detector rows / columns |
//! | (7029,1002) / (7029,1006) | column width / row height at the detector, mm |
//! | (7029,100B) | detector shape: CYLINDRICAL, FLAT (or SPHERICAL) |
//! | (7031,1001) / (7031,1002) / (7031,1003) | the detector focal centre's angle φ₀ (rad), z₀ and radius ρ₀ (mm) |
//! | (7031,1031) | distance d₀ from the focal centre to the central element, mm |
//! | (7031,1033) | the central element (column, row), counted from 1 |
//! | (7033,100B) / (7033,100C) / (7033,100D) | the focal spot's shifts Δφ, Δz, Δρ from the focal centre |
//! | (7033,100E) | flying focal spot mode: FFSNONE, FFSZ, FFSXY, FFSXYZ |
//! | (7033,1013) | views per rotation |
//! | (7041,1001) | water's attenuation coefficient, mm⁻¹ |
//!
//! The focal centre sits at `(−ρ₀ sin φ₀, ρ₀ cos φ₀, z₀)`; a cylindrical detector is the
//! cylinder of radius d₀ about it, a flat one the plane d₀ away facing it. The stored image holds
//! one detector column per image row (the datasets' 736 × 64 images are 736 channels of 64
//! rows); a file whose image is rows × columns instead is read as such.
//!
//! What the public description leaves open, and what this reader assumes: the direction of the
//! column and row indices. Columns are taken to advance with φ (the direction the focal centre
//! moves as φ₀ grows) and rows with z. If a dataset's convention is the opposite, its images
//! come out mirrored; reverse that axis of the projections (and mirror the central element).
//!
//! Flying focal spots (a source off the detector's focal centre, alternating view by view) are
//! read and reported, but [`ProjectionData::geometry`] refuses them: the library's cylindrical
//! detector is centred on the source, and a shifted source needs its views rebinned first.
//! [`ProjectionData::focal_centre_geometry`] ignores the shifts instead (rays off by up to
//! [`ProjectionData::largest_source_shift`], typically under a millimetre: some blur).

use std::path::{Path, PathBuf};

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use ndarray::Array3;
use rayon::prelude::*;

use super::lengths::Until;
use super::read::{decode_frames, dicom_error, files_below, int, open};
use crate::error::{Error, Result};
use crate::recon::{Beam, Detector, Geometry, View};

const DETECTOR_ROWS: Tag = Tag(0x7029, 0x1010);
const DETECTOR_COLUMNS: Tag = Tag(0x7029, 0x1011);
const COLUMN_WIDTH: Tag = Tag(0x7029, 0x1002);
const ROW_HEIGHT: Tag = Tag(0x7029, 0x1006);
const DETECTOR_SHAPE: Tag = Tag(0x7029, 0x100B);
const FOCAL_CENTRE_ANGLE: Tag = Tag(0x7031, 0x1001);
const FOCAL_CENTRE_Z: Tag = Tag(0x7031, 0x1002);
const FOCAL_CENTRE_RADIUS: Tag = Tag(0x7031, 0x1003);
const CONSTANT_RADIAL_DISTANCE: Tag = Tag(0x7031, 0x1031);
const CENTRAL_ELEMENT: Tag = Tag(0x7031, 0x1033);
const SOURCE_ANGLE_SHIFT: Tag = Tag(0x7033, 0x100B);
const SOURCE_Z_SHIFT: Tag = Tag(0x7033, 0x100C);
const SOURCE_RADIUS_SHIFT: Tag = Tag(0x7033, 0x100D);
const FLYING_FOCAL_SPOT: Tag = Tag(0x7033, 0x100E);
const VIEWS_PER_ROTATION: Tag = Tag(0x7033, 0x1013);
const WATER_ATTENUATION: Tag = Tag(0x7041, 0x1001);

/// The detector's shape, (7029,100B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorShape {
    /// A cylinder about the focal centre (third-generation clinical CT).
    Cylindrical,
    /// A plane facing the focal centre.
    Flat,
}

/// One view's position, as stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectionView {
    /// φ₀, the detector focal centre's angle, rad.
    pub angle: f64,
    /// z₀, its position along the rotation axis, mm.
    pub z: f64,
    /// ρ₀, its distance from the rotation axis, mm.
    pub radius: f64,
    /// The focal spot's shift from the focal centre: Δφ (rad), Δz (mm), Δρ (mm).
    pub source_shift: [f64; 3],
}

/// A DICOM-CT-PD scan: projections, views and detector.
#[derive(Debug, Clone)]
pub struct ProjectionData {
    /// Line integrals `[views, rows, cols]` (rescaled pixel data), in InstanceNumber order.
    pub projections: Array3<f32>,
    /// Each view's position, in the same order.
    pub views: Vec<ProjectionView>,
    /// Detector shape.
    pub shape: DetectorShape,
    /// Column width and row height at the detector, `[row, column]` mm.
    pub spacing: [f64; 2],
    /// d₀: focal centre to central element, mm.
    pub focal_distance: f64,
    /// The central element `[row, column]`, counted from 0 (the file counts from 1).
    pub central_element: [f64; 2],
    /// (7033,100E), e.g. "FFSNONE" (empty when absent).
    pub flying_focal_spot: String,
    /// Views per full rotation, (7033,1013), when present.
    pub views_per_rotation: Option<u32>,
    /// Water's attenuation coefficient, mm⁻¹, (7041,1001), when present.
    pub water_attenuation: Option<f64>,
    /// The files read, in view order.
    pub files: Vec<PathBuf>,
    /// Repairs and remarks.
    pub warnings: Vec<String>,
}

/// The values of a private element: numeric VRs as such; UN/OB (implicit VR files, where the
/// dictionary does not know the tag) as little-endian `width`-byte values decoded by `from`.
fn private_numbers(obj: &InMemDicomObject, tag: Tag, width: usize, from: fn(&[u8]) -> f64) -> Option<Vec<f64>> {
    let e = obj.get(tag)?;
    match e.vr() {
        VR::UN | VR::OB => {
            let bytes = e.to_bytes().ok()?;
            (!bytes.is_empty() && bytes.len() % width == 0).then(|| bytes.chunks_exact(width).map(from).collect())
        }
        _ => e.to_multi_float64().ok(),
    }
}

fn floats32(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    private_numbers(obj, tag, 4, |b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

fn unsigned16(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    private_numbers(obj, tag, 2, |b| f64::from(u16::from_le_bytes([b[0], b[1]])))
}

/// A private text element (CS), whatever its VR.
fn private_text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = obj.get(tag)?;
    let raw = match e.vr() {
        VR::UN | VR::OB => String::from_utf8_lossy(&e.to_bytes().ok()?).into_owned(),
        _ => e.to_str().ok()?.into_owned(),
    };
    Some(raw.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string())
}

/// What one file's header says.
struct Header {
    instance: Option<i64>,
    image: [usize; 2],
    detector: [usize; 2],
    spacing: [f64; 2],
    shape: String,
    focal_distance: f64,
    central_element: [f64; 2],
    view: ProjectionView,
    flying_focal_spot: String,
    views_per_rotation: Option<u32>,
    water_attenuation: Option<f64>,
}

fn header(path: &Path, obj: &InMemDicomObject) -> Result<Header> {
    let missing = |what: &str, tag: Tag| {
        dicom_error(
            path,
            format!(
                "not DICOM-CT-PD projection data: {what} ({:04X},{:04X}) is missing or unreadable",
                tag.group(),
                tag.element()
            ),
        )
    };
    let one = |tag: Tag, what: &str| -> Result<f64> {
        floats32(obj, tag)
            .and_then(|v| v.first().copied())
            .filter(|x| x.is_finite())
            .ok_or_else(|| missing(what, tag))
    };
    let count = |tag: Tag, what: &str| -> Result<usize> {
        unsigned16(obj, tag)
            .and_then(|v| v.first().copied())
            .filter(|x| (1.0..=65536.0).contains(x))
            .map(|x| x as usize)
            .ok_or_else(|| missing(what, tag))
    };
    let image = [
        int(obj, tags::ROWS).unwrap_or(0).max(0) as usize,
        int(obj, tags::COLUMNS).unwrap_or(0).max(0) as usize,
    ];
    let central = floats32(obj, CENTRAL_ELEMENT)
        .filter(|v| v.len() >= 2 && v.iter().all(|x| x.is_finite()))
        .ok_or_else(|| missing("DetectorCentralElement", CENTRAL_ELEMENT))?;
    let shift = |tag: Tag| floats32(obj, tag).and_then(|v| v.first().copied()).unwrap_or(0.0);
    Ok(Header {
        instance: int(obj, tags::INSTANCE_NUMBER),
        image,
        detector: [
            count(DETECTOR_ROWS, "NumberofDetectorRows")?,
            count(DETECTOR_COLUMNS, "NumberofDetectorColumns")?,
        ],
        spacing: [
            one(ROW_HEIGHT, "DetectorElementAxialSpacing")?,
            one(COLUMN_WIDTH, "DetectorElementTransverseSpacing")?,
        ],
        shape: private_text(obj, DETECTOR_SHAPE).ok_or_else(|| missing("DetectorShape", DETECTOR_SHAPE))?,
        focal_distance: one(CONSTANT_RADIAL_DISTANCE, "ConstantRadialDistance")?,
        // (column X, row Y), from 1.
        central_element: [central[1] - 1.0, central[0] - 1.0],
        view: ProjectionView {
            angle: one(FOCAL_CENTRE_ANGLE, "DetectorFocalCenterAngularPosition")?,
            z: one(FOCAL_CENTRE_Z, "DetectorFocalCenterAxialPosition")?,
            radius: one(FOCAL_CENTRE_RADIUS, "DetectorFocalCenterRadialDistance")?,
            source_shift: [
                shift(SOURCE_ANGLE_SHIFT),
                shift(SOURCE_Z_SHIFT),
                shift(SOURCE_RADIUS_SHIFT),
            ],
        },
        flying_focal_spot: private_text(obj, FLYING_FOCAL_SPOT).unwrap_or_default(),
        views_per_rotation: unsigned16(obj, VIEWS_PER_ROTATION)
            .and_then(|v| v.first().copied())
            .map(|x| x as u32),
        water_attenuation: floats32(obj, WATER_ATTENUATION).and_then(|v| v.first().copied()),
    })
}

/// Reads a DICOM-CT-PD scan: a folder of one-view files (searched recursively; files that are
/// not DICOM-CT-PD projections are errors, so point it at the scan's own folder) or one file.
pub fn load_projection_data(path: impl AsRef<Path>) -> Result<ProjectionData> {
    let path = path.as_ref();
    let mut files = Vec::new();
    if path.is_dir() {
        files_below(path, &mut files)?;
    } else if path.is_file() {
        files.push(path.to_path_buf());
    } else {
        return Err(Error::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        });
    }
    if files.is_empty() {
        return Err(dicom_error(path, "the folder holds no files"));
    }
    let headers: Vec<(PathBuf, Header, Vec<String>)> = files
        .par_iter()
        .map(|file| {
            let (obj, notes) =
                open(file, Until::PixelData).map_err(|reason| dicom_error(file, format!("cannot read: {reason}")))?;
            Ok((file.clone(), header(file, &obj)?, notes))
        })
        .collect::<Result<_>>()?;
    let mut headers = headers;
    // InstanceNumber order where every file has one, else file-name order.
    if headers.iter().all(|(_, h, _)| h.instance.is_some()) {
        headers.sort_by_key(|(_, h, _)| h.instance);
    }
    let (first_path, first, _) = &headers[0];
    let [rows, cols] = first.detector;
    for (file, h, _) in &headers {
        let same = h.detector == first.detector
            && h.image == first.image
            && h.spacing == first.spacing
            && h.shape == first.shape
            && h.focal_distance == first.focal_distance
            && h.central_element == first.central_element;
        if !same {
            return Err(dicom_error(
                file,
                format!(
                    "its detector (size, pixel spacing, shape, distance or central element) differs from {}'s; \
                     one scan per folder",
                    first_path.display()
                ),
            ));
        }
    }
    // The datasets store one detector column per image row; rows × columns images are read as such.
    let transposed = match first.image {
        [r, c] if [r, c] == [cols, rows] => true,
        [r, c] if [r, c] == [rows, cols] => false,
        image => {
            return Err(dicom_error(
                first_path,
                format!(
                    "a {}×{} image for a detector of {rows} rows × {cols} columns",
                    image[0], image[1]
                ),
            ));
        }
    };
    let shape = match first.shape.to_ascii_uppercase().as_str() {
        "CYLINDRICAL" => DetectorShape::Cylindrical,
        "FLAT" => DetectorShape::Flat,
        other => {
            return Err(dicom_error(
                first_path,
                format!("detector shape {other:?}: cylindrical and flat detectors are supported"),
            ));
        }
    };
    let [image_rows, image_cols] = first.image;
    let mut projections = Array3::<f32>::zeros((headers.len(), rows, cols));
    let notes: Vec<Vec<String>> = projections
        .outer_iter_mut()
        .into_par_iter()
        .zip(headers.par_iter())
        .map(|(mut out, (file, _, _))| -> Result<Vec<String>> {
            let mut image = vec![0.0f32; image_rows * image_cols];
            let (_, notes) = decode_frames(file, &[(0, None)], image_rows, image_cols, &mut [&mut image[..]])?;
            for r in 0..rows {
                for c in 0..cols {
                    out[[r, c]] = if transposed {
                        image[c * rows + r]
                    } else {
                        image[r * cols + c]
                    };
                }
            }
            Ok(notes)
        })
        .collect::<Result<_>>()?;
    let mut warnings = Vec::new();
    for ((file, _, header_notes), decode_notes) in headers.iter().zip(notes) {
        for note in header_notes.iter().chain(&decode_notes) {
            warnings.push(format!("{}: {note}", file.display()));
        }
    }
    warnings.dedup();
    Ok(ProjectionData {
        projections,
        views: headers.iter().map(|(_, h, _)| h.view).collect(),
        shape,
        spacing: first.spacing,
        focal_distance: first.focal_distance,
        central_element: first.central_element,
        flying_focal_spot: first.flying_focal_spot.clone(),
        views_per_rotation: first.views_per_rotation,
        water_attenuation: first.water_attenuation,
        files: headers.into_iter().map(|(f, _, _)| f).collect(),
        warnings,
    })
}

impl ProjectionData {
    /// The scan's geometry in the library's frame (see [`Geometry`]): each view's source at the
    /// focal centre, its detector — a cylinder of radius d₀ about the source (RTK's
    /// `RadiusCylindricalDetector`) or a plane d₀ away — centred on the central element. A
    /// helix when z₀ changes (the projectors, iterative methods and `HelicalFdk` take it), a
    /// circle otherwise (`Fdk` too). Refused when the focal spot moves off the focal centre
    /// (flying focal spot): rebin such views first.
    pub fn geometry(&self) -> Result<Geometry> {
        let shifted = self.views.iter().position(|v| v.source_shift.iter().any(|&s| s != 0.0));
        if let Some(k) = shifted {
            return Err(Error::Series {
                series: "DICOM-CT-PD scan".into(),
                reason: format!(
                    "view {k} has its focal spot shifted by {:?} (Δφ rad, Δz mm, Δρ mm) from the detector's focal centre \
                 (flying focal spot mode {:?}); the library's detectors are centred on the source, so these views \
                 need rebinning to the focal centre first — or use focal_centre_geometry(), which ignores the shifts \
                 (rays off by up to {:.2} mm)",
                    self.views[k].source_shift,
                    self.flying_focal_spot,
                    self.largest_source_shift()
                ),
            });
        }
        self.focal_centre_geometry()
    }

    /// The geometry with every source at the detector's focal centre, whatever the focal spot's
    /// shifts (what common helical rebinning codes do with flying-focal-spot data): exact
    /// without a flying focal spot; otherwise each ray is off by up to
    /// [`largest_source_shift`](Self::largest_source_shift) at the source (less at the
    /// object), which costs resolution (about that much blur) but keeps every method —
    /// `HelicalFdk` included — usable.
    pub fn focal_centre_geometry(&self) -> Result<Geometry> {
        let [rows, cols] = [self.projections.dim().1, self.projections.dim().2];
        let [dv, du] = self.spacing;
        let d0 = self.focal_distance;
        let views = self
            .views
            .iter()
            .map(|v| {
                let (s, c) = v.angle.sin_cos();
                let source = [-v.radius * s, v.radius * c, v.z];
                // Towards the isocentre, and the direction the focal centre moves as φ grows.
                let ray = [s, -c, 0.0];
                let across = [-c, -s, 0.0];
                View {
                    source,
                    detector_centre: [source[0] + d0 * ray[0], source[1] + d0 * ray[1], v.z],
                    u: [du * across[0], du * across[1], 0.0],
                    v: [0.0, 0.0, dv],
                }
            })
            .collect();
        let mut g = Geometry::from_vectors(Beam::Divergent, rows, cols, views)?;
        if self.shape == DetectorShape::Cylindrical {
            g.detector = Detector::Arc;
        }
        g.sdd = d0;
        // The library's centre is pixel (n − 1)/2 − offset.
        g.offset_v = (rows as f64 - 1.0) / 2.0 - self.central_element[0];
        g.offset_u = (cols as f64 - 1.0) / 2.0 - self.central_element[1];
        Ok(g)
    }

    /// The largest distance between a view's focal spot and its detector's focal centre, mm
    /// (0 without a flying focal spot).
    pub fn largest_source_shift(&self) -> f64 {
        self.views
            .iter()
            .map(|v| {
                let [dphi, dz, drho] = v.source_shift;
                let (r0, r1) = (v.radius, v.radius + drho);
                // Law of cosines in the plane, then the height.
                let planar = (r0 * r0 + r1 * r1 - 2.0 * r0 * r1 * dphi.cos()).max(0.0).sqrt();
                planar.hypot(dz)
            })
            .fold(0.0, f64::max)
    }
}

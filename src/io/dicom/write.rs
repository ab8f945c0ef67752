//! Writing a volume as a new DICOM series.

use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, meta::FileMetaTableBuilder};
use rayon::prelude::*;

use super::new_uid;
use crate::error::{Error, Result};
use crate::volume::Volume;

/// The kind of image the series is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeriesKind {
    /// CT Image Storage (values in Hounsfield units).
    #[default]
    Ct,
    /// MR Image Storage.
    Mr,
    /// Secondary Capture (derived images of any kind).
    SecondaryCapture,
}

impl SeriesKind {
    fn sop_class(self) -> &'static str {
        match self {
            SeriesKind::Ct => "1.2.840.10008.5.1.4.1.1.2",
            SeriesKind::Mr => "1.2.840.10008.5.1.4.1.1.4",
            SeriesKind::SecondaryCapture => "1.2.840.10008.5.1.4.1.1.7",
        }
    }

    fn modality(self) -> &'static str {
        match self {
            SeriesKind::Ct => "CT",
            SeriesKind::Mr => "MR",
            SeriesKind::SecondaryCapture => "OT",
        }
    }
}

/// How [`write_series`] writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WriteOptions {
    /// Image kind (default CT).
    pub kind: SeriesKind,
    /// SeriesDescription.
    pub description: String,
    /// A file of the source series whose patient and study attributes (name, ID, birth date,
    /// sex, study UID/date/time/ID/description, accession number) the new series copies; a new
    /// study otherwise.
    pub source: Option<PathBuf>,
    /// Window centre and width stored with the images (default: the values' range).
    pub window: Option<(f64, f64)>,
    /// DerivationDescription of a series derived from `source` (default: the description, or
    /// "hounsfield" when that is empty), e.g. the pipeline that made it.
    pub derivation: Option<String>,
}

/// Formats a decimal string (DS, at most 16 characters).
fn ds(v: f64) -> String {
    for precision in (0..=10).rev() {
        let s = format!("{v:.precision$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return if s == "-0" { "0".into() } else { s };
        }
    }
    format!("{v:.6e}")
}

fn ds_list(values: &[f64]) -> String {
    values.iter().map(|&v| ds(v)).collect::<Vec<_>>().join("\\")
}

fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: impl Into<String>) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value.into())));
}

fn put_u16(obj: &mut InMemDicomObject, tag: Tag, value: u16) {
    obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
}

/// How voxel values map to stored 16-bit integers: `value = stored · slope + intercept`.
struct Quantisation {
    signed: bool,
    slope: f64,
    intercept: f64,
}

fn quantisation(volume: &Volume) -> Result<Quantisation> {
    let (lo, hi, integral) = volume.data().iter().try_fold(
        (f64::INFINITY, f64::NEG_INFINITY, true),
        |(lo, hi, int), &v| {
            if !v.is_finite() {
                return Err(Error::param(
                    "volume",
                    "the volume holds NaN or infinite values, which DICOM integers cannot store; replace them first",
                ));
            }
            let v = f64::from(v);
            Ok((lo.min(v), hi.max(v), int && v.fract() == 0.0))
        },
    )?;
    if integral && lo >= f64::from(i16::MIN) && hi <= f64::from(i16::MAX) {
        // Integer data (HU) that fits int16: stored as is.
        return Ok(Quantisation {
            signed: true,
            slope: 1.0,
            intercept: 0.0,
        });
    }
    // Otherwise uint16 over the full range: the quantisation step is (max − min) / 65535.
    let slope = if hi > lo { (hi - lo) / 65535.0 } else { 1.0 };
    Ok(Quantisation {
        signed: false,
        slope,
        intercept: lo,
    })
}

/// The attributes copied from a source file: patient, study, frame of reference, and the
/// series-level facts a derived series shares with its source (patient position, body part,
/// laterality, tube voltage); with them the character set their text is in.
const COPIED: [(Tag, VR); 19] = [
    (tags::SPECIFIC_CHARACTER_SET, VR::CS),
    (tags::PATIENT_NAME, VR::PN),
    (tags::PATIENT_ID, VR::LO),
    (tags::PATIENT_BIRTH_DATE, VR::DA),
    (tags::PATIENT_SEX, VR::CS),
    (tags::STUDY_INSTANCE_UID, VR::UI),
    (tags::STUDY_DATE, VR::DA),
    (tags::STUDY_TIME, VR::TM),
    (tags::STUDY_ID, VR::SH),
    (tags::STUDY_DESCRIPTION, VR::LO),
    (tags::ACCESSION_NUMBER, VR::SH),
    (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
    (tags::FRAME_OF_REFERENCE_UID, VR::UI),
    (tags::POSITION_REFERENCE_INDICATOR, VR::LO),
    (tags::PATIENT_POSITION, VR::CS),
    (tags::BODY_PART_EXAMINED, VR::CS),
    (tags::LATERALITY, VR::CS),
    (tags::KVP, VR::DS),
    (tags::SCANNING_SEQUENCE, VR::CS),
];

/// Type 2 (and 2C) attributes of the IODs written that must be present, empty when unknown:
/// patient, study, series, frame of reference, equipment and image modules (DICOM PS3.3
/// C.7.1.1, C.7.2.1, C.7.3.1, C.7.4.1, C.7.5.1, C.8.2.1, C.8.3.1).
const TYPE_2: [(Tag, VR); 9] = [
    (tags::PATIENT_BIRTH_DATE, VR::DA),
    (tags::PATIENT_SEX, VR::CS),
    (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
    (tags::ACCESSION_NUMBER, VR::SH),
    (tags::LATERALITY, VR::CS),
    (tags::POSITION_REFERENCE_INDICATOR, VR::LO),
    (tags::ACQUISITION_NUMBER, VR::IS),
    (tags::PATIENT_ORIENTATION, VR::CS),
    (tags::CONTENT_DATE, VR::DA),
];

/// The UTC date and time now, as DICOM DA (`YYYYMMDD`) and TM (`HHMMSS`) values.
fn now() -> (String, String) {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = ((seconds / 86_400) as i64, seconds % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, public domain).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}{month:02}{day:02}"),
        format!("{:02}{:02}{:02}", rest / 3600, rest / 60 % 60, rest % 60),
    )
}

/// MR Image module attributes (PS3.3 C.8.3.1) a derived series cannot know: Type 1 ones get
/// "research mode" / "none" (RM, NONE) unless copied, Type 2 ones stay empty.
fn mr_image(obj: &mut InMemDicomObject, has: &dyn Fn(Tag) -> bool) {
    if !has(tags::SCANNING_SEQUENCE) {
        put_str(obj, tags::SCANNING_SEQUENCE, VR::CS, "RM");
    }
    put_str(obj, tags::SEQUENCE_VARIANT, VR::CS, "NONE");
    for (tag, vr) in [
        (tags::SCAN_OPTIONS, VR::CS),
        (tags::MR_ACQUISITION_TYPE, VR::CS),
        (tags::ECHO_TIME, VR::DS),
        (tags::ECHO_TRAIN_LENGTH, VR::IS),
        (tags::REPETITION_TIME, VR::DS),
    ] {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
    }
}

/// Writes `volume` as a new series of single-frame files in a new folder `dir` (it must not
/// exist or be empty: input files are never overwritten). Each slice is written to a temporary
/// name, then renamed. Values are stored as int16 when they are integers in its range (slope 1),
/// else as uint16 with the slope and intercept that span their range, so reading back gives the
/// values within half a quantisation step. Returns the files in slice order.
pub fn write_series(volume: &Volume, dir: impl AsRef<Path>, options: &WriteOptions) -> Result<Vec<PathBuf>> {
    let dir = dir.as_ref();
    let io = |path: &Path, source: std::io::Error| Error::Io {
        path: path.display().to_string(),
        source,
    };
    if dir.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::param(
            "dir",
            format!(
                "{} is a symbolic link; give the real folder (series are not written through links)",
                dir.display()
            ),
        ));
    }
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(|e| io(dir, e))?;
        if entries.next().is_some() {
            return Err(Error::param(
                "dir",
                format!(
                    "{} exists and is not empty; write a series into a new folder",
                    dir.display()
                ),
            ));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let q = quantisation(volume)?;
    let [nz, ny, nx] = volume.shape();
    if ny > 65535 || nx > 65535 {
        return Err(Error::TooLarge(format!(
            "{ny}×{nx} slices exceed DICOM's 65535 rows/columns"
        )));
    }
    let grid = volume.grid();
    // The source's copied attributes and the reference to it (SOP class and instance UIDs).
    let (copied, reference): (Vec<DataElement<InMemDicomObject>>, Option<(String, String)>) = match &options.source {
        Some(path) => {
            let src = dicom_object::OpenFileOptions::new()
                .read_until(tags::PIXEL_DATA)
                .open_file(path)
                .map_err(|e| Error::Dicom {
                    path: path.display().to_string(),
                    reason: format!("cannot read the source file: {e}"),
                })?;
            let text = |tag: Tag| {
                src.get(tag)
                    .and_then(|e| e.to_str().ok())
                    .map(|v| v.trim_end_matches(['\0', ' ']).to_string())
            };
            let reference = text(tags::SOP_CLASS_UID).zip(text(tags::SOP_INSTANCE_UID));
            let copied = COPIED
                .iter()
                .filter(|(tag, _)| options.kind == SeriesKind::Mr || *tag != tags::SCANNING_SEQUENCE)
                .filter_map(|(tag, _)| src.get(*tag).cloned())
                .collect();
            (copied, reference)
        }
        None => (Vec::new(), None),
    };
    let (today, time) = now();
    let derivation = options.derivation.clone().unwrap_or_else(|| {
        if options.description.is_empty() {
            "hounsfield".to_string()
        } else {
            options.description.clone()
        }
    });
    let has = |tag: Tag| copied.iter().any(|e| e.header().tag == tag);
    let study_uid = new_uid();
    let frame_uid = new_uid();
    let series_uid = new_uid();
    let (lo, hi) = volume
        .data()
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let (centre, width) = options
        .window
        .unwrap_or(((f64::from(lo) + f64::from(hi)) / 2.0, f64::from(hi - lo).max(1.0)));
    let [dz, dy, dx] = grid.direction;
    let data = volume.data();
    (0..nz)
        .into_par_iter()
        .map(|z| -> Result<PathBuf> {
            let mut obj = InMemDicomObject::new_empty();
            for e in &copied {
                obj.put(e.clone());
            }
            let sop_uid = new_uid();
            put_str(&mut obj, tags::SOP_CLASS_UID, VR::UI, options.kind.sop_class());
            put_str(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, sop_uid.clone());
            put_str(&mut obj, tags::MODALITY, VR::CS, options.kind.modality());
            // Value 3 of CT's Image Type is required (AXIAL: a cross-sectional image).
            let image_type = match options.kind {
                SeriesKind::Ct => "DERIVED\\SECONDARY\\AXIAL",
                SeriesKind::Mr => "DERIVED\\SECONDARY\\OTHER",
                SeriesKind::SecondaryCapture => "DERIVED\\SECONDARY",
            };
            put_str(&mut obj, tags::IMAGE_TYPE, VR::CS, image_type);
            put_str(&mut obj, tags::INSTANCE_CREATION_DATE, VR::DA, today.clone());
            put_str(&mut obj, tags::INSTANCE_CREATION_TIME, VR::TM, time.clone());
            put_str(&mut obj, tags::SERIES_DATE, VR::DA, today.clone());
            put_str(&mut obj, tags::SERIES_TIME, VR::TM, time.clone());
            put_str(&mut obj, tags::MANUFACTURER, VR::LO, "hounsfield");
            put_str(&mut obj, tags::SOFTWARE_VERSIONS, VR::LO, env!("CARGO_PKG_VERSION"));
            if !has(tags::STUDY_DATE) {
                put_str(&mut obj, tags::STUDY_DATE, VR::DA, today.clone());
            }
            if !has(tags::STUDY_TIME) {
                put_str(&mut obj, tags::STUDY_TIME, VR::TM, time.clone());
            }
            if !has(tags::STUDY_ID) {
                put_str(&mut obj, tags::STUDY_ID, VR::SH, "1");
            }
            for (tag, vr) in TYPE_2 {
                if !has(tag) {
                    obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
                }
            }
            match options.kind {
                SeriesKind::Ct | SeriesKind::Mr => {
                    if !has(tags::PATIENT_POSITION) {
                        obj.put(DataElement::new(tags::PATIENT_POSITION, VR::CS, PrimitiveValue::Empty));
                    }
                }
                SeriesKind::SecondaryCapture => {
                    // SC Equipment: made by a workstation.
                    put_str(&mut obj, tags::CONVERSION_TYPE, VR::CS, "WSD");
                }
            }
            if options.kind == SeriesKind::Ct && !has(tags::KVP) {
                obj.put(DataElement::new(tags::KVP, VR::DS, PrimitiveValue::Empty));
            }
            if options.kind == SeriesKind::Mr {
                mr_image(&mut obj, &has);
            }
            if let Some((class, instance)) = &reference {
                put_str(&mut obj, tags::DERIVATION_DESCRIPTION, VR::ST, derivation.clone());
                let item = InMemDicomObject::from_element_iter([
                    DataElement::new(
                        tags::REFERENCED_SOP_CLASS_UID,
                        VR::UI,
                        PrimitiveValue::from(class.clone()),
                    ),
                    DataElement::new(
                        tags::REFERENCED_SOP_INSTANCE_UID,
                        VR::UI,
                        PrimitiveValue::from(instance.clone()),
                    ),
                ]);
                obj.put(DataElement::new(
                    tags::SOURCE_IMAGE_SEQUENCE,
                    VR::SQ,
                    dicom_core::value::DataSetSequence::from(vec![item]),
                ));
            }
            if !has(tags::STUDY_INSTANCE_UID) {
                put_str(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, study_uid.clone());
            }
            if !has(tags::FRAME_OF_REFERENCE_UID) {
                put_str(&mut obj, tags::FRAME_OF_REFERENCE_UID, VR::UI, frame_uid.clone());
            }
            if !has(tags::PATIENT_NAME) {
                put_str(&mut obj, tags::PATIENT_NAME, VR::PN, "Anonymous^");
            }
            if !has(tags::PATIENT_ID) {
                put_str(&mut obj, tags::PATIENT_ID, VR::LO, "hounsfield");
            }
            put_str(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, series_uid.clone());
            put_str(&mut obj, tags::SERIES_NUMBER, VR::IS, "1");
            put_str(&mut obj, tags::SERIES_DESCRIPTION, VR::LO, options.description.clone());
            put_str(&mut obj, tags::INSTANCE_NUMBER, VR::IS, (z + 1).to_string());
            let position: Vec<f64> = (0..3)
                .map(|a| grid.origin[a] + z as f64 * grid.spacing[0] * dz[a])
                .collect();
            put_str(&mut obj, tags::IMAGE_POSITION_PATIENT, VR::DS, ds_list(&position));
            put_str(
                &mut obj,
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                ds_list(&[dx[0], dx[1], dx[2], dy[0], dy[1], dy[2]]),
            );
            put_str(
                &mut obj,
                tags::PIXEL_SPACING,
                VR::DS,
                ds_list(&[grid.spacing[1], grid.spacing[2]]),
            );
            put_str(&mut obj, tags::SLICE_THICKNESS, VR::DS, ds(grid.spacing[0]));
            put_str(&mut obj, tags::SPACING_BETWEEN_SLICES, VR::DS, ds(grid.spacing[0]));
            put_u16(&mut obj, tags::SAMPLES_PER_PIXEL, 1);
            put_str(&mut obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
            put_u16(&mut obj, tags::ROWS, ny as u16);
            put_u16(&mut obj, tags::COLUMNS, nx as u16);
            put_u16(&mut obj, tags::BITS_ALLOCATED, 16);
            put_u16(&mut obj, tags::BITS_STORED, 16);
            put_u16(&mut obj, tags::HIGH_BIT, 15);
            put_u16(&mut obj, tags::PIXEL_REPRESENTATION, u16::from(q.signed));
            put_str(&mut obj, tags::RESCALE_INTERCEPT, VR::DS, ds(q.intercept));
            put_str(&mut obj, tags::RESCALE_SLOPE, VR::DS, ds(q.slope));
            put_str(
                &mut obj,
                tags::RESCALE_TYPE,
                VR::LO,
                if options.kind == SeriesKind::Ct { "HU" } else { "US" },
            );
            put_str(&mut obj, tags::WINDOW_CENTER, VR::DS, ds(centre));
            put_str(&mut obj, tags::WINDOW_WIDTH, VR::DS, ds(width));
            let slice = data.index_axis(ndarray::Axis(0), z);
            let stored: Vec<u16> = slice
                .iter()
                .map(|&v| {
                    let s = ((f64::from(v) - q.intercept) / q.slope).round();
                    if q.signed {
                        (s.clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16) as u16
                    } else {
                        s.clamp(0.0, 65535.0) as u16
                    }
                })
                .collect();
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16(stored.into()),
            ));
            let file = obj
                .with_meta(
                    FileMetaTableBuilder::new()
                        .transfer_syntax("1.2.840.10008.1.2.1")
                        .media_storage_sop_class_uid(options.kind.sop_class())
                        .media_storage_sop_instance_uid(sop_uid),
                )
                .map_err(|e| Error::Dicom {
                    path: dir.display().to_string(),
                    reason: format!("cannot build the file meta group: {e}"),
                })?;
            let path = dir.join(format!("slice_{:05}.dcm", z + 1));
            let tmp = dir.join(format!(".slice_{:05}.dcm.part", z + 1));
            // A new file, never an existing one or a symbolic link (create_new refuses both),
            // renamed into place only if nothing has appeared under its name meanwhile.
            let out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(|e| io(&tmp, e))?;
            file.write_all(out).map_err(|e| Error::Dicom {
                path: tmp.display().to_string(),
                reason: format!("cannot write: {e}"),
            })?;
            if path.symlink_metadata().is_ok() {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::param(
                    "dir",
                    format!("{} appeared while writing; not overwritten", path.display()),
                ));
            }
            std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
            Ok(path)
        })
        .collect()
}

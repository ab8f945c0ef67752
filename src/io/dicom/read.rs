//! Scanning folders for DICOM series and assembling a series into a volume.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;
use ndarray::{Array3, Axis};
use rayon::prelude::*;

use super::lengths::{Until, check_declared_lengths};
use super::tolerant;
use crate::error::{Error, Result};
use crate::vec3::{cross, dot};
use crate::volume::{Grid, Volume};

/// How series assembly treats problems that can be repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Missing or duplicate slices and tilted stacks are errors.
    #[default]
    Strict,
    /// Repaired where the result stays geometrically correct, each with a warning: duplicate
    /// positions keep their first slice, missing slices are interpolated from their neighbours
    /// when the gaps are whole multiples of the spacing, tilted stacks keep their true
    /// (sheared) slice direction in the grid.
    Lenient,
}

/// The header of one image file, as read by [`scan`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    pub path: PathBuf,
    pub rows: usize,
    pub cols: usize,
    pub frames: usize,
    pub orientation: [f64; 6],
    pub position: [f64; 3],
    pub pixel_spacing: [f64; 2],
    pub slice_thickness: Option<f64>,
    pub modality: String,
    pub description: String,
    /// Frame of a multi-frame file (0 for single-frame files).
    pub frame: usize,
    /// Rescale (slope, intercept) from the functional groups of a multi-frame file.
    pub rescale: Option<(f64, f64)>,
}

/// One series found by [`scan`].
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    /// SeriesInstanceUID.
    pub uid: String,
    /// Modality (CT, MR, …).
    pub modality: String,
    /// SeriesDescription (may be empty).
    pub description: String,
    /// Rows and columns of its images.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Number of files (slices of a single-frame series).
    pub slices: usize,
    /// Pixel spacing (row spacing, column spacing) in mm.
    pub pixel_spacing: [f64; 2],
    /// Problems seen while scanning (mixed sizes split into several series, missing attributes).
    pub warnings: Vec<String>,
    pub(crate) headers: Vec<Header>,
}

impl SeriesInfo {
    /// The series' files, in scan order.
    pub fn files(&self) -> Vec<PathBuf> {
        self.headers.iter().map(|h| h.path.clone()).collect()
    }

    /// The median distance between neighbouring slice positions along the slice normal (mm),
    /// from the headers alone; `None` for a single slice.
    pub fn slice_spacing(&self) -> Option<f64> {
        let o = self.headers.first()?.orientation;
        let normal = cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
        let mut d: Vec<f64> = self.headers.iter().map(|h| dot(h.position, normal)).collect();
        d.sort_by(f64::total_cmp);
        let mut gaps: Vec<f64> = d.windows(2).map(|w| w[1] - w[0]).filter(|g| *g > 1e-3).collect();
        gaps.sort_by(f64::total_cmp);
        gaps.get(gaps.len() / 2).copied()
    }
}

/// A file [`scan`] did not take, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why (not DICOM, no image, colour image, unreadable).
    pub reason: String,
}

/// What [`scan`] found in a folder.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scan {
    /// The image series, largest first.
    pub series: Vec<SeriesInfo>,
    /// Files that are not part of any image series.
    pub skipped: Vec<Skipped>,
}

impl Scan {
    /// The series at `index` (largest first, as `info` lists them), or an error that says how
    /// many there are — and, when there are none, why the files were skipped.
    pub fn series_at(&self, index: usize) -> Result<&SeriesInfo> {
        if let Some(series) = self.series.get(index) {
            return Ok(series);
        }
        let reason = if self.series.is_empty() {
            let why = self
                .skipped
                .first()
                .map(|s| {
                    format!(
                        "; {} file(s) skipped, e.g. {}: {}",
                        self.skipped.len(),
                        s.path.display(),
                        s.reason
                    )
                })
                .unwrap_or_else(|| "; the folder holds no files".into());
            format!("no DICOM image series found{why}")
        } else {
            format!(
                "series {index} asked for, but the folder holds {} (0..={})",
                self.series.len(),
                self.series.len() - 1
            )
        };
        Err(Error::Series {
            series: format!("#{index}"),
            reason,
        })
    }
}

/// A volume assembled from a series, with what was noticed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSeries {
    /// The voxels (modality values: Hounsfield units for CT) and their grid in LPS.
    pub volume: Volume,
    /// Repairs and oddities (lenient policy, padding, MONOCHROME1).
    pub warnings: Vec<String>,
}

pub(super) fn dicom_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Dicom {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn text(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string())
}

fn floats(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<Vec<f64>> {
    obj.get(tag).and_then(|e| e.to_multi_float64().ok())
}

pub(super) fn int(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<i64> {
    obj.get(tag).and_then(|e| e.to_int::<i64>().ok())
}

/// Every regular file below `dir`, in a stable order.
pub(super) fn files_below(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files_below(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

/// Image header and grouping key of one file, or why it is skipped.
/// The first item of sequence `seq` in `obj`.
fn item(obj: &InMemDicomObject, seq: dicom_core::Tag) -> Option<&InMemDicomObject> {
    obj.get(seq)?.items()?.first()
}

/// An attribute of a functional group of a multi-frame image: the frame's own group first,
/// then the shared one (PS3.3 C.7.6.16).
fn group_floats(
    frame: Option<&InMemDicomObject>,
    shared: Option<&InMemDicomObject>,
    group: dicom_core::Tag,
    tag: dicom_core::Tag,
) -> Option<Vec<f64>> {
    frame
        .and_then(|f| item(f, group))
        .and_then(|g| floats(g, tag))
        .or_else(|| shared.and_then(|s| item(s, group)).and_then(|g| floats(g, tag)))
}

/// Opens `path` up to (`PixelData`) or through (`ThroughPixelData`) the pixel data: dicom-rs's
/// standard read when it succeeds, else the tolerant read of `tolerant.rs`; elements whose VR
/// disagrees with the dictionary are re-read with its VR. Returns the object and the repairs.
pub(super) fn open(path: &Path, until: Until) -> std::result::Result<(DefaultDicomObject, Vec<String>), String> {
    const PANIC: &str = "the DICOM parser failed on malformed data (a panic in dicom-rs was caught)";
    let standard = check_declared_lengths(path, until).and_then(|note| {
        let options = match until {
            Until::PixelData => OpenFileOptions::new().read_until(tags::PIXEL_DATA),
            Until::ThroughPixelData => OpenFileOptions::new().read_to(tags::PIXEL_DATA),
        };
        guarded(|| options.open_file(path))
            .ok_or_else(|| PANIC.to_string())?
            .map_err(|e| format!("not a readable DICOM file ({e})"))
            .map(|obj| (obj, note))
    });
    let (mut obj, mut notes) = match standard {
        Ok((obj, note)) => (obj, note.into_iter().collect()),
        Err(first) => match guarded(|| tolerant::open_repaired(path, until)) {
            Some(Ok(repaired)) => repaired,
            Some(Err(second)) if second.ends_with("not DICOM") => return Err(first),
            Some(Err(second)) => return Err(format!("{first}; read tolerantly: {second}")),
            None => return Err(PANIC.into()),
        },
    };
    notes.extend(tolerant::normalise_vrs(&mut obj));
    notes.extend(tolerant::command_group_note(&obj));
    Ok((obj, notes))
}

fn read_header(path: &Path) -> std::result::Result<Vec<(Header, [String; 4])>, String> {
    let (obj, _) = open(path, Until::PixelData)?;
    let sop_class = obj
        .meta()
        .media_storage_sop_class_uid()
        .trim_end_matches('\0')
        .to_string();
    if sop_class == "1.2.840.10008.1.3.10" {
        return Err("a DICOMDIR (media directory), not an image".into());
    }
    let modality = text(&obj, tags::MODALITY).unwrap_or_default();
    let (Some(rows), Some(cols)) = (int(&obj, tags::ROWS), int(&obj, tags::COLUMNS)) else {
        return Err(format!("no image (modality '{modality}', SOP class {sop_class})"));
    };
    if int(&obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1) != 1 {
        return Err("a colour image (SamplesPerPixel > 1), not a greyscale slice".into());
    }
    if !(1..=65535).contains(&rows) || !(1..=65535).contains(&cols) {
        return Err(format!("absurd image size {rows}×{cols}"));
    }
    let frames = int(&obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize;
    let orientation: [f64; 6] = floats(&obj, tags::IMAGE_ORIENTATION_PATIENT)
        .and_then(|v| v.try_into().ok())
        .unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let position: [f64; 3] = floats(&obj, tags::IMAGE_POSITION_PATIENT)
        .and_then(|v| v.try_into().ok())
        .unwrap_or([0.0; 3]);
    let pixel_spacing: [f64; 2] = floats(&obj, tags::PIXEL_SPACING)
        .and_then(|v| v.try_into().ok())
        .unwrap_or([1.0, 1.0]);
    if orientation
        .iter()
        .chain(&position)
        .chain(&pixel_spacing)
        .any(|v| !v.is_finite())
        || pixel_spacing.iter().any(|&s| s <= 0.0)
    {
        return Err("non-finite orientation/position or non-positive pixel spacing".into());
    }
    let key_orientation = orientation.map(|v| format!("{:.4}", v + 0.0)).join("\\");
    let key = [
        text(&obj, tags::SERIES_INSTANCE_UID).unwrap_or_default(),
        text(&obj, tags::FRAME_OF_REFERENCE_UID).unwrap_or_default(),
        format!("{rows}x{cols}"),
        key_orientation,
    ];
    let header = Header {
        path: path.to_path_buf(),
        rows: rows as usize,
        cols: cols as usize,
        frames,
        orientation,
        position,
        pixel_spacing,
        slice_thickness: floats(&obj, tags::SLICE_THICKNESS).and_then(|v| v.first().copied()),
        modality,
        description: text(&obj, tags::SERIES_DESCRIPTION).unwrap_or_default(),
        frame: 0,
        rescale: None,
    };
    if frames == 1 {
        return Ok(vec![(header, key)]);
    }
    // Multi-frame (enhanced) images: geometry and rescale per frame from the functional groups.
    let shared = item(&obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = obj
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .and_then(|e| e.items())
        .unwrap_or(&[]);
    if frames > 100_000 || (!per_frame.is_empty() && per_frame.len() != frames) {
        return Err(format!(
            "{frames} frames but {} per-frame functional groups",
            per_frame.len()
        ));
    }
    (0..frames)
        .map(|f| {
            let own = per_frame.get(f);
            let get = |group, tag| group_floats(own, shared, group, tag);
            let orientation: [f64; 6] = get(tags::PLANE_ORIENTATION_SEQUENCE, tags::IMAGE_ORIENTATION_PATIENT)
                .and_then(|v| v.try_into().ok())
                .unwrap_or(header.orientation);
            let position: [f64; 3] = get(tags::PLANE_POSITION_SEQUENCE, tags::IMAGE_POSITION_PATIENT)
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| format!("frame {f} has no ImagePositionPatient in its functional groups"))?;
            let pixel_spacing: [f64; 2] = get(tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING)
                .and_then(|v| v.try_into().ok())
                .unwrap_or(header.pixel_spacing);
            let slope = get(tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE, tags::RESCALE_SLOPE);
            let intercept = get(tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE, tags::RESCALE_INTERCEPT);
            if orientation
                .iter()
                .chain(&position)
                .chain(&pixel_spacing)
                .any(|v| !v.is_finite())
                || pixel_spacing.iter().any(|&s| s <= 0.0)
            {
                return Err(format!("frame {f}: non-finite geometry or non-positive pixel spacing"));
            }
            let key = [
                key[0].clone(),
                key[1].clone(),
                key[2].clone(),
                orientation.map(|v| format!("{:.4}", v + 0.0)).join("\\"),
            ];
            Ok((
                Header {
                    frame: f,
                    frames: 1,
                    orientation,
                    position,
                    pixel_spacing,
                    slice_thickness: get(tags::PIXEL_MEASURES_SEQUENCE, tags::SLICE_THICKNESS)
                        .and_then(|v| v.first().copied())
                        .or(header.slice_thickness),
                    rescale: slope
                        .and_then(|s| s.first().copied())
                        .zip(intercept.and_then(|i| i.first().copied())),
                    ..header.clone()
                },
                key,
            ))
        })
        .collect()
}

/// Finds the DICOM image series below `dir` (recursively), reading headers only, in parallel.
pub fn scan(dir: impl AsRef<Path>) -> Result<Scan> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(Error::Io {
            path: dir.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
        });
    }
    let mut files = Vec::new();
    files_below(dir, &mut files)?;
    let results: Vec<_> = files.par_iter().map(|p| (p.clone(), read_header(p))).collect();
    let mut groups: BTreeMap<[String; 4], Vec<Header>> = BTreeMap::new();
    let mut skipped = Vec::new();
    for (path, r) in results {
        match r {
            Ok(frames) => {
                for (h, key) in frames {
                    groups.entry(key).or_default().push(h);
                }
            }
            Err(reason) => skipped.push(Skipped { path, reason }),
        }
    }
    // Series that split into several groups (mixed sizes or orientations) say so.
    let mut per_uid: BTreeMap<String, usize> = BTreeMap::new();
    for key in groups.keys() {
        *per_uid.entry(key[0].clone()).or_default() += 1;
    }
    let mut series: Vec<SeriesInfo> = groups
        .into_iter()
        .map(|(key, headers)| {
            let uid = key[0].clone();
            let mut warnings = Vec::new();
            if per_uid.get(&uid).copied().unwrap_or(0) > 1 {
                warnings.push(format!(
                    "series {uid} mixes image sizes, orientations or frames of reference; split into {} volumes",
                    per_uid[&uid]
                ));
            }
            if uid.is_empty() {
                warnings.push("files without a SeriesInstanceUID grouped together".into());
            }
            SeriesInfo {
                uid,
                modality: headers[0].modality.clone(),
                description: headers[0].description.clone(),
                rows: headers[0].rows,
                cols: headers[0].cols,
                slices: headers.iter().map(|h| h.frames).sum(),
                pixel_spacing: headers[0].pixel_spacing,
                warnings,
                headers,
            }
        })
        .collect();
    series.sort_by(|a, b| b.slices.cmp(&a.slices).then(a.uid.cmp(&b.uid)));
    Ok(Scan { series, skipped })
}

/// Runs third-party parsing or decoding, turning a panic on hostile input into `None` (the
/// fuzzer found panics in dicom-rs's RLE decoder; callers report a typed error instead).
fn guarded<T>(work: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).ok()
}

const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// RLE fragments start with a 64-byte header: the segment count (at most 15), then 15 segment
/// offsets (PS3.5 Annex G.5). dicom-rs trusts the count — a corrupt one makes it allocate up to
/// 16 GB or read past the fragment (found by the fuzzer) — so it is checked first.
fn check_rle_headers(obj: &dicom_object::DefaultDicomObject) -> std::result::Result<(), String> {
    let Some(fragments) = obj.element(tags::PIXEL_DATA).ok().and_then(|e| e.value().fragments()) else {
        return Ok(());
    };
    for (i, fragment) in fragments.iter().enumerate() {
        let segments = fragment
            .get(0..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .filter(|_| fragment.len() >= 64);
        match segments {
            Some(n) if n <= 15 => {}
            Some(n) => {
                return Err(format!(
                    "RLE fragment {i} declares {n} segments; the standard allows at most 15"
                ));
            }
            None => {
                return Err(format!(
                    "RLE fragment {i} is {} bytes, shorter than its 64-byte header",
                    fragment.len()
                ));
            }
        }
    }
    Ok(())
}

/// JPEG 2000 and High-Throughput JPEG 2000 (the same codestream markers; dicom-rs sends both
/// to OpenJPEG).
const JPEG_2000: [&str; 5] = [
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
];
/// JPEG-LS lossless and near-lossless (CharLS).
const JPEG_LS: [&str; 2] = ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"];

/// The decoded pixels a compressed file may claim per byte of pixel data: far above what JPEG
/// 2000 reaches on real images, low enough that a small hostile file cannot make the decoder
/// allocate gigabytes. Frames up to 16 MiB always pass.
const MAX_EXPANSION: usize = 4096;

/// OpenJPEG sizes its buffers from each codestream's SIZ marker (ISO/IEC 15444-1 Annex A.5.1:
/// after SOC `FF4F`, `FF51`, Lsiz, Rsiz, then Xsiz, Ysiz, XOsiz, YOsiz as 32-bit big-endian
/// values, ..., Csiz), not from the DICOM header: each fragment's image must be the DICOM
/// image (Rows × Columns, one component), and the total bounded by [`MAX_EXPANSION`], before
/// the decoder runs.
fn check_jpeg2000_headers(
    obj: &dicom_object::DefaultDicomObject,
    rows: usize,
    cols: usize,
) -> std::result::Result<(), String> {
    let Some(fragments) = compressed_fragments(obj, rows, cols, "JPEG 2000")? else {
        return Ok(());
    };
    for (i, fragment) in fragments.iter().enumerate() {
        // A codestream starts with SOC and SIZ; a JP2 wrapper holds one further in.
        let window = &fragment[..fragment.len().min(4096)];
        let Some(at) = window.windows(4).position(|w| w == [0xFF, 0x4F, 0xFF, 0x51]) else {
            continue; // a continuation fragment of a frame
        };
        let siz = |k: usize| {
            fragment
                .get(at + 8 + 4 * k..at + 12 + 4 * k)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
        };
        let components = fragment.get(at + 40..at + 42).map(|b| u16::from_be_bytes([b[0], b[1]]));
        match (siz(0), siz(1), siz(2), siz(3), components) {
            (Some(x), Some(y), Some(x0), Some(y0), Some(c))
                if x >= x0 && y >= y0 && x - x0 == cols as u64 && y - y0 == rows as u64 && c == 1 => {}
            (Some(x), Some(y), Some(x0), Some(y0), Some(c)) => {
                return Err(format!(
                    "JPEG 2000 fragment {i} holds a {}×{} image of {c} component(s), not the {rows}×{cols} greyscale image the header declares",
                    y.saturating_sub(y0),
                    x.saturating_sub(x0)
                ));
            }
            _ => return Err(format!("JPEG 2000 fragment {i} ends inside its SIZ marker")),
        }
    }
    Ok(())
}

/// The encapsulated fragments of `obj`'s pixel data (`None` if not encapsulated), once their
/// decoded size — Rows × Columns × frames × bytes — is within [`MAX_EXPANSION`] of their
/// compressed size (plus 16 MiB): a bound every codec check starts from.
fn compressed_fragments<'o>(
    obj: &'o dicom_object::DefaultDicomObject,
    rows: usize,
    cols: usize,
    codec: &str,
) -> std::result::Result<Option<&'o [Vec<u8>]>, String> {
    let Some(fragments) = obj.element(tags::PIXEL_DATA).ok().and_then(|e| e.value().fragments()) else {
        return Ok(None);
    };
    let compressed: usize = fragments.iter().map(|f| f.len()).sum();
    let frames = int(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize;
    let bytes = int(obj, tags::BITS_ALLOCATED).unwrap_or(16).clamp(8, 32) as usize / 8;
    let decoded = rows.saturating_mul(cols).saturating_mul(frames).saturating_mul(bytes);
    if decoded > (16 << 20) + MAX_EXPANSION.saturating_mul(compressed) {
        return Err(format!(
            "{codec} pixel data of {compressed} bytes claims {decoded} decoded bytes (more than {MAX_EXPANSION}:1): corrupt, refused before decoding"
        ));
    }
    Ok(Some(fragments))
}

/// CharLS sizes its output from each JPEG-LS frame header (ISO/IEC 14495-1 C.2.2: after SOI
/// `FFD8`, the SOF55 marker `FFF7`, Lf, P (bits), Y (lines), X (columns), Nf (components)), not
/// from the DICOM header: each frame must be the DICOM image (Rows × Columns, one component, at
/// most 16 bits) before the decoder runs.
fn check_jpeg_ls_headers(
    obj: &dicom_object::DefaultDicomObject,
    rows: usize,
    cols: usize,
) -> std::result::Result<(), String> {
    let Some(fragments) = compressed_fragments(obj, rows, cols, "JPEG-LS")? else {
        return Ok(());
    };
    for (i, fragment) in fragments.iter().enumerate() {
        if !fragment.starts_with(&[0xFF, 0xD8]) {
            continue; // a continuation fragment of a frame
        }
        let window = &fragment[..fragment.len().min(4096)];
        let Some(at) = window.windows(2).position(|w| w == [0xFF, 0xF7]) else {
            return Err(format!(
                "JPEG-LS fragment {i} has no SOF55 frame header in its first 4 KiB"
            ));
        };
        let field = |k: usize, n: usize| fragment.get(at + k..at + k + n);
        match (field(4, 1), field(5, 2), field(7, 2), field(9, 1)) {
            (Some(p), Some(y), Some(x), Some(nf)) => {
                let (y, x) = (
                    u16::from_be_bytes([y[0], y[1]]) as usize,
                    u16::from_be_bytes([x[0], x[1]]) as usize,
                );
                if y != rows || x != cols || nf[0] != 1 || !(2..=16).contains(&p[0]) {
                    return Err(format!(
                        "JPEG-LS fragment {i} holds a {y}×{x} image of {} component(s) at {} bits, not the {rows}×{cols} \
                         greyscale image the header declares",
                        nf[0], p[0]
                    ));
                }
            }
            _ => return Err(format!("JPEG-LS fragment {i} ends inside its SOF55 marker")),
        }
    }
    Ok(())
}

/// A readable name for the transfer syntaxes users meet (DICOM PS3.5 §8, §10).
fn transfer_syntax_name(uid: &str) -> &'static str {
    match uid {
        "1.2.840.10008.1.2" => "implicit VR little endian",
        "1.2.840.10008.1.2.1" => "explicit VR little endian",
        "1.2.840.10008.1.2.1.99" => "deflated explicit VR little endian",
        "1.2.840.10008.1.2.2" => "explicit VR big endian",
        RLE_LOSSLESS => "RLE lossless",
        "1.2.840.10008.1.2.4.50" => "JPEG baseline",
        "1.2.840.10008.1.2.4.51" => "JPEG extended",
        "1.2.840.10008.1.2.4.57" | "1.2.840.10008.1.2.4.70" => "JPEG lossless",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS near-lossless",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 lossless",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.202" | "1.2.840.10008.1.2.4.203" => "HTJ2K",
        _ => "unrecognised",
    }
}

/// A decoded slice once placed in the volume: its index and what decoding found.
struct Placed {
    z: usize,
    slice: Decoded,
}

/// What decoding a slice found besides its values: the indices of padding pixels, the
/// photometric flag and the lowest non-padding value.
pub(super) struct Decoded {
    padding: Vec<u32>,
    monochrome1: bool,
    low: f32,
}

/// How stored pixel values are laid out: bytes per value, bits stored, signedness.
#[derive(Debug, Clone, Copy)]
struct PixelFormat {
    bytes: usize,
    stored: u32,
    signed: bool,
}

impl PixelFormat {
    /// The stored value of pixel `i` (masked to the bits stored, sign-extended if signed).
    #[inline(always)]
    fn raw(self, bytes: &[u8], i: usize) -> i64 {
        let b = &bytes[i * self.bytes..(i + 1) * self.bytes];
        let u = match self.bytes {
            1 => u64::from(b[0]),
            2 => u64::from(u16::from_le_bytes([b[0], b[1]])),
            _ => u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        } & self.mask();
        if self.signed && u >> (self.stored - 1) & 1 == 1 {
            u as i64 - (1i64 << self.stored)
        } else {
            u as i64
        }
    }

    fn mask(self) -> u64 {
        if self.stored >= 32 {
            u32::MAX as u64
        } else {
            (1u64 << self.stored) - 1
        }
    }

    /// Modality values `raw · slope + intercept` (in f64, then f32) of the first `out.len()`
    /// pixels of `bytes`. 16-bit pixels with all 16 bits stored — nearly every CT and MR — take
    /// loops without per-pixel dispatch that vectorise.
    fn modality(self, bytes: &[u8], out: &mut [f32], slope: f64, intercept: f64) {
        let to = |r: f64| (r * slope + intercept) as f32;
        match (self.bytes, self.stored, self.signed) {
            (2, 16, true) => out
                .iter_mut()
                .zip(bytes.chunks_exact(2))
                .for_each(|(o, b)| *o = to(f64::from(i16::from_le_bytes([b[0], b[1]])))),
            (2, 16, false) => out
                .iter_mut()
                .zip(bytes.chunks_exact(2))
                .for_each(|(o, b)| *o = to(f64::from(u16::from_le_bytes([b[0], b[1]])))),
            _ => out
                .iter_mut()
                .enumerate()
                .for_each(|(i, o)| *o = to(self.raw(bytes, i) as f64)),
        }
    }
}

/// The lowest of `values` outside the sorted `padding` indices (`+∞` if none).
fn lowest_outside(values: &[f32], padding: &[u32]) -> f32 {
    let lowest = |v: &[f32]| v.iter().fold(f32::INFINITY, |m, &x| m.min(x));
    let mut low = f32::INFINITY;
    let mut start = 0;
    for &p in padding {
        low = low.min(lowest(&values[start..p as usize]));
        start = p as usize + 1;
    }
    low.min(lowest(&values[start..]))
}

/// Decodes the given frames of `path` (each with its rescale override, if any) into modality
/// values (rescale applied, padding located) in `outputs` (one `rows × cols` slice per frame),
/// decoding the file once.
/// Also returns the repairs the file needed (see [`open`]).
pub(super) fn decode_frames(
    path: &Path,
    frames: &[(usize, Option<(f64, f64)>)],
    rows: usize,
    cols: usize,
    outputs: &mut [&mut [f32]],
) -> Result<(Vec<Decoded>, Vec<String>)> {
    // Up to and including the pixel data: trailing elements (padding) are not needed.
    let (obj, notes) =
        open(path, Until::ThroughPixelData).map_err(|reason| dicom_error(path, format!("cannot read: {reason}")))?;
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0').to_string();
    if ts == RLE_LOSSLESS {
        check_rle_headers(&obj).map_err(|reason| dicom_error(path, reason))?;
    }
    if JPEG_2000.contains(&ts.as_str()) {
        check_jpeg2000_headers(&obj, rows, cols).map_err(|reason| dicom_error(path, reason))?;
    }
    if JPEG_LS.contains(&ts.as_str()) {
        check_jpeg_ls_headers(&obj, rows, cols).map_err(|reason| dicom_error(path, reason))?;
    }
    let decoded = guarded(|| obj.decode_pixel_data())
        .ok_or_else(|| {
            dicom_error(
                path,
                format!(
                    "the {} pixel data decoder failed on malformed data (a panic in dicom-rs was caught)",
                    transfer_syntax_name(&ts)
                ),
            )
        })?
        .map_err(|e| {
            dicom_error(
                path,
                format!(
                    "cannot decode the pixel data in transfer syntax {ts} ({}): {e}; this build decodes uncompressed \
                 (implicit/explicit VR, little/big endian), deflate, RLE, JPEG baseline/extended/lossless, \
                 JPEG 2000 (OpenJPEG) and JPEG-LS (CharLS) — convert the file (e.g. `gdcmconv --raw` or `dcmdjpls`) first",
                    transfer_syntax_name(&ts)
                ),
            )
        })?;
    let bits = usize::from(decoded.bits_allocated());
    let stored = u32::from(decoded.bits_stored()).clamp(1, 32);
    let signed = int(&obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
    let file_slope = floats(&obj, tags::RESCALE_SLOPE)
        .and_then(|v| v.first().copied())
        .unwrap_or(1.0);
    let file_intercept = floats(&obj, tags::RESCALE_INTERCEPT)
        .and_then(|v| v.first().copied())
        .unwrap_or(0.0);
    let padding = int(&obj, tags::PIXEL_PADDING_VALUE);
    let monochrome1 = text(&obj, tags::PHOTOMETRIC_INTERPRETATION).is_some_and(|p| p == "MONOCHROME1");
    if !matches!(bits, 8 | 16 | 32) {
        return Err(dicom_error(
            path,
            format!("{bits}-bit pixels are not supported (8, 16 or 32)"),
        ));
    }
    let n = rows * cols;
    let per = bits.div_ceil(8);
    let format = PixelFormat {
        bytes: per,
        stored,
        signed,
    };
    let slices = frames
        .iter()
        .zip(outputs.iter_mut())
        .map(|(&(frame, rescale), out)| {
            let (slope, intercept) = rescale.unwrap_or((file_slope, file_intercept));
            if !(slope.is_finite() && intercept.is_finite()) {
                return Err(dicom_error(path, "non-finite RescaleSlope/RescaleIntercept"));
            }
            let bytes = decoded
                .frame_data(frame as u32)
                .map_err(|e| dicom_error(path, format!("cannot read frame {frame}: {e}")))?;
            if bytes.len() < n * per {
                return Err(dicom_error(
                    path,
                    format!(
                        "frame {frame} holds {} bytes, fewer than the {} that {rows}×{cols} {bits}-bit pixels need \
                         (truncated file?)",
                        bytes.len(),
                        n * per
                    ),
                ));
            }
            format.modality(bytes, &mut out[..n], slope, intercept);
            let pads: Vec<u32> = match padding {
                Some(pad) => (0..n)
                    .filter(|&i| format.raw(bytes, i) == pad)
                    .map(|i| i as u32)
                    .collect(),
                None => Vec::new(),
            };
            Ok(Decoded {
                low: lowest_outside(&out[..n], &pads),
                padding: pads,
                monochrome1,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((slices, notes))
}

/// Assembles `series` into a volume (see the module docs for the rules), decoding slices in
/// parallel straight into the volume: memory holds the volume plus one slice per thread.
pub fn load_series(series: &SeriesInfo, policy: Policy) -> Result<LoadedSeries> {
    let plan = assemble(series, policy)?;
    plan.decode(0..plan.shape[0], None)
}

/// The shape `(z, y, x)` and grid [`load_series`] would give, from the headers alone (nothing
/// decoded): what a reader of slabs plans its chunks with.
pub fn series_layout(series: &SeriesInfo, policy: Policy) -> Result<([usize; 3], Grid, Vec<String>)> {
    let plan = assemble(series, policy)?;
    Ok((plan.shape, plan.grid, plan.warnings))
}

/// Slices `z` of the volume [`load_series`] assembles, decoding only the files they need (and,
/// for interpolated missing slices, their two neighbours): series larger than memory are read
/// slab by slab. The grid's origin is the slab's first slice. Padding pixels
/// (PixelPaddingValue) become `padding_fill`, or without it the lowest value of the slab
/// (the whole series' lowest value needs every file; give it to make slabs agree).
pub fn load_series_slab(
    series: &SeriesInfo,
    policy: Policy,
    z: std::ops::Range<usize>,
    padding_fill: Option<f32>,
) -> Result<LoadedSeries> {
    let plan = assemble(series, policy)?;
    if z.start >= z.end || z.end > plan.shape[0] {
        return Err(Error::param(
            "z",
            format!(
                "slices {}..{} of a series of {}: give a non-empty range inside it",
                z.start, z.end, plan.shape[0]
            ),
        ));
    }
    plan.decode(z, padding_fill)
}

/// A series placed on its grid: which file (and frame) fills which slice, before any decoding.
struct Assembly<'s> {
    /// Present slices: (z index, header), ascending z; the gaps are interpolated.
    index: Vec<(usize, &'s Header)>,
    shape: [usize; 3],
    grid: Grid,
    warnings: Vec<String>,
}

fn assemble(series: &SeriesInfo, policy: Policy) -> Result<Assembly<'_>> {
    let name = if series.description.is_empty() {
        series.uid.clone()
    } else {
        format!("{} ({})", series.description, series.uid)
    };
    let fail = |reason: String| Error::Series {
        series: name.clone(),
        reason,
    };
    let first = &series.headers[0];
    let (rows, cols) = (first.rows, first.cols);
    let o = first.orientation;
    let (row_dir, col_dir) = ([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    let normal = cross(row_dir, col_dir);
    let norm = dot(normal, normal).sqrt();
    if !(0.99..=1.01).contains(&norm) || dot(row_dir, col_dir).abs() > 1e-3 {
        return Err(fail(format!(
            "ImageOrientationPatient {o:?} is not two orthogonal unit vectors"
        )));
    }
    let normal = normal.map(|v| v / norm);
    let mut order: Vec<(f64, &Header)> = series.headers.iter().map(|h| (dot(h.position, normal), h)).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut warnings = Vec::new();
    // Duplicate positions.
    let mut unique: Vec<(f64, &Header)> = Vec::with_capacity(order.len());
    for (d, h) in order {
        if let Some(&(last, kept)) = unique.last()
            && (d - last).abs() < 1e-3
        {
            let msg = format!(
                "duplicate slice position {d:.3} mm: {} and {}",
                kept.path.display(),
                h.path.display()
            );
            if policy == Policy::Strict {
                return Err(fail(format!("{msg}; remove one or load with Policy::Lenient")));
            }
            warnings.push(format!("{msg}; kept the first"));
            continue;
        }
        unique.push((d, h));
    }
    // Spacing and gaps along the normal.
    let gaps: Vec<f64> = unique.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let spacing = if gaps.is_empty() {
        let t = first.slice_thickness.filter(|t| *t > 0.0).unwrap_or(1.0);
        warnings.push(format!(
            "a single slice: slice spacing taken as {t} mm (SliceThickness)"
        ));
        t
    } else {
        let mut sorted = gaps.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let tolerance = 0.01 + 0.02 * spacing;
    // Each gap as a whole number of spacings (missing slices), or irregular.
    let mut steps = Vec::with_capacity(gaps.len());
    for (i, g) in gaps.iter().enumerate() {
        let k = (g / spacing).round();
        if k < 1.0 || (g - k * spacing).abs() > tolerance {
            return Err(fail(format!(
                "irregular slice spacing: a gap of {g:.3} mm after slice {i} where the spacing is {spacing:.3} mm; \
                 resample the series"
            )));
        }
        steps.push(k as usize);
    }
    let missing: usize = steps.iter().map(|k| k - 1).sum();
    if missing > 0 {
        let msg = format!("{missing} missing slice(s) (gaps of several spacings of {spacing:.3} mm)");
        if policy == Policy::Strict {
            return Err(fail(format!("{msg}; load with Policy::Lenient to interpolate them")));
        }
        warnings.push(format!("{msg}: interpolated from their neighbours"));
    }
    // Tilt: consecutive positions should differ only along the normal.
    let mut slice_dir = normal;
    if unique.len() > 1 {
        let (p0, p1) = (unique[0].1.position, unique[unique.len() - 1].1.position);
        let total: f64 = steps.iter().sum::<usize>() as f64;
        let step = [
            (p1[0] - p0[0]) / total,
            (p1[1] - p0[1]) / total,
            (p1[2] - p0[2]) / total,
        ];
        let along = dot(step, normal);
        let shear = [
            step[0] - along * normal[0],
            step[1] - along * normal[1],
            step[2] - along * normal[2],
        ];
        let shear_mm = dot(shear, shear).sqrt();
        if shear_mm > tolerance {
            let msg = format!("tilted (sheared) stack: slices shift {shear_mm:.3} mm in plane per slice (gantry tilt)");
            if policy == Policy::Strict {
                return Err(fail(format!(
                    "{msg}; load with Policy::Lenient to keep the sheared slice direction"
                )));
            }
            let len = dot(step, step).sqrt();
            slice_dir = step.map(|v| v / len);
            warnings.push(format!("{msg}: the grid keeps the true slice direction"));
        }
    }
    let slice_spacing = if slice_dir == normal {
        spacing
    } else {
        spacing / dot(slice_dir, normal)
    };
    let nz = steps.iter().sum::<usize>() + 1;
    let voxels = (nz as u128) * (rows as u128) * (cols as u128);
    // A hostile header can claim any size: the files must plausibly hold the pixels (at most
    // 1000:1 compression) before the volume is allocated.
    let mut files: Vec<&Path> = unique.iter().map(|(_, h)| h.path.as_path()).collect();
    files.sort();
    files.dedup();
    let file_bytes: u128 = files
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| u128::from(m.len())).unwrap_or(0))
        .sum();
    let present = (unique.len() as u128) * (rows as u128) * (cols as u128);
    if present > 1000 * file_bytes {
        return Err(fail(format!(
            "the headers declare {present} pixels but the files hold only {file_bytes} bytes (corrupt or hostile \
             header)"
        )));
    }
    if voxels > (1u128 << 34) {
        return Err(Error::TooLarge(format!(
            "series {name}: {nz}×{rows}×{cols} voxels ({:.1} GiB as f32)",
            voxels as f64 * 4.0 / (1u64 << 30) as f64
        )));
    }
    let mut index = Vec::with_capacity(unique.len());
    let mut z = 0;
    for (i, (_, h)) in unique.iter().enumerate() {
        index.push((z, *h));
        if i < steps.len() {
            z += steps[i];
        }
    }
    let grid = Grid {
        spacing: [slice_spacing, first.pixel_spacing[0], first.pixel_spacing[1]],
        origin: unique[0].1.position,
        direction: [slice_dir, col_dir, row_dir],
    };
    Ok(Assembly {
        index,
        shape: [nz, rows, cols],
        grid,
        warnings,
    })
}

impl Assembly<'_> {
    /// Decodes slices `range` (checked by the caller) into a volume on its grid.
    fn decode(&self, range: std::ops::Range<usize>, padding_fill: Option<f32>) -> Result<LoadedSeries> {
        let [_, rows, cols] = self.shape;
        let mut warnings = self.warnings.clone();
        // The present slices the range needs: those inside it, and the nearest present slice on
        // each side when the range starts or ends inside a gap (interpolation reads both).
        let first = self.index.partition_point(|(z, _)| *z < range.start);
        let last = self.index.partition_point(|(z, _)| *z < range.end);
        let lo = if first < self.index.len() && self.index[first].0 == range.start {
            first
        } else {
            first.saturating_sub(1)
        };
        let hi = if last > 0 && self.index[last - 1].0 == range.end - 1 {
            last
        } else {
            (last + 1).min(self.index.len())
        };
        let index = &self.index[lo..hi];
        let z_base = index[0].0;
        let nz = index[index.len() - 1].0 - z_base + 1;
        // Huge pages where the OS offers them: a few hundred faults instead of ~100,000.
        let mut data = Array3::from_shape_vec((nz, rows, cols), crate::memory::zeroed_f32(nz * rows * cols))
            .expect("shape matches length");
        let mut slots: Vec<Option<ndarray::ArrayViewMut2<'_, f32>>> = data.axis_iter_mut(Axis(0)).map(Some).collect();
        // One job per file (a multi-frame file is decoded once for all its frames).
        type Job<'v, 'h> = (ndarray::ArrayViewMut2<'v, f32>, &'h Header, usize);
        let mut per_file: BTreeMap<&Path, Vec<Job<'_, '_>>> = BTreeMap::new();
        for &(z, h) in index {
            let z = z - z_base;
            per_file
                .entry(h.path.as_path())
                .or_default()
                .push((slots[z].take().expect("each slice once"), h, z));
        }
        let decoded: Vec<(Vec<Placed>, Vec<String>)> = per_file
            .into_iter()
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|(path, jobs)| -> Result<(Vec<Placed>, Vec<String>)> {
                let frames: Vec<(usize, Option<(f64, f64)>)> =
                    jobs.iter().map(|(_, h, _)| (h.frame, h.rescale)).collect();
                let (mut views, zs): (Vec<_>, Vec<_>) = jobs.into_iter().map(|(view, _, z)| (view, z)).unzip();
                let mut outputs: Vec<&mut [f32]> = views
                    .iter_mut()
                    .map(|v| v.as_slice_mut().expect("standard layout"))
                    .collect();
                let (slices, notes) = decode_frames(path, &frames, rows, cols, &mut outputs)?;
                let placed = zs
                    .into_iter()
                    .zip(slices)
                    .map(|(z, slice)| Placed { z, slice })
                    .collect();
                Ok((placed, notes))
            })
            .collect::<Result<Vec<_>>>()?;
        // Repairs of damaged files, once each with the number of files that needed it.
        let mut repairs: BTreeMap<String, usize> = BTreeMap::new();
        for note in decoded.iter().flat_map(|(_, notes)| notes) {
            *repairs.entry(note.clone()).or_default() += 1;
        }
        for (note, files) in repairs {
            warnings.push(format!("{note} ({files} file{})", if files == 1 { "" } else { "s" }));
        }
        let decoded: Vec<Placed> = decoded.into_iter().flat_map(|(placed, _)| placed).collect();
        // Padding becomes the lowest real value of the series (outside the field of view).
        let low = decoded.iter().fold(f32::INFINITY, |m, d| m.min(d.slice.low));
        let padded: usize = decoded.iter().map(|d| d.slice.padding.len()).sum();
        if padded > 0 {
            let fill = padding_fill.unwrap_or(if low.is_finite() { low } else { 0.0 });
            for d in &decoded {
                let mut s = data.index_axis_mut(Axis(0), d.z);
                let flat = s.as_slice_mut().expect("standard layout");
                for &p in &d.slice.padding {
                    flat[p as usize] = fill;
                }
            }
            warnings.push(format!(
                "{padded} padding pixels (PixelPaddingValue) set to {fill}, {}",
                if padding_fill.is_some() {
                    "the value asked for"
                } else if range.len() < self.shape[0] {
                    "the lowest value in this slab"
                } else {
                    "the lowest value in the series"
                }
            ));
        }
        if decoded.iter().any(|d| d.slice.monochrome1) {
            warnings.push("MONOCHROME1: values are kept as stored (modality values); display inverted".into());
        }
        // Interpolate missing slices between their neighbours.
        for w in index.windows(2) {
            let (z0, z1) = (w[0].0 - z_base, w[1].0 - z_base);
            for z in z0 + 1..z1 {
                let t = (z - z0) as f32 / (z1 - z0) as f32;
                let (a, b) = (
                    data.index_axis(Axis(0), z0).to_owned(),
                    data.index_axis(Axis(0), z1).to_owned(),
                );
                data.index_axis_mut(Axis(0), z).assign(&(&a * (1.0 - t) + &b * t));
            }
        }
        // Only a slab that needed neighbours outside it is cut (a copy of the slab): a whole
        // load keeps its one copy of the volume.
        let offset = range.start - z_base;
        let data = if offset == 0 && range.len() == nz {
            data
        } else {
            data.slice(ndarray::s![offset..offset + range.len(), .., ..]).to_owned()
        };
        let mut grid = self.grid;
        for (o, d) in grid.origin.iter_mut().zip(self.grid.direction[0]) {
            *o += range.start as f64 * self.grid.spacing[0] * d;
        }
        Ok(LoadedSeries {
            volume: Volume::new(data, grid)?,
            warnings,
        })
    }
}

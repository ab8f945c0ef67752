//! DICOM series in and out, on the dicom-rs crates (no hand-written parser).
//!
//! * [`scan`]: walks a folder, reads each file's header (up to the pixel data), groups image
//!   files into series by SeriesInstanceUID, frame of reference, image size and orientation, and
//!   lists non-image objects (RTSTRUCT, SR, presentation states, DICOMDIR…) as skipped with a
//!   reason.
//! * [`load_series`]: assembles one series into a [`Volume`]: slices sorted by their position
//!   along the slice normal (`ImagePositionPatient · (row × column direction)`), never by file
//!   name or InstanceNumber; slice spacing from the positions; RescaleSlope/Intercept per slice;
//!   signed and unsigned pixels; PixelPaddingValue. The grid holds origin and direction cosines
//!   in patient coordinates (LPS), as ITK/SimpleITK report them. Missing slices, duplicate
//!   positions and tilted (sheared) stacks are errors under [`Policy::Strict`]; under
//!   [`Policy::Lenient`] they are repaired where the result stays correct (duplicates dropped,
//!   missing slices interpolated, tilted stacks kept with their true slice direction), each
//!   with a warning.
//! * [`write_series`]: a volume as a new CT/MR/Secondary Capture series.
//! * [`load_projection_data`]: raw projections and their geometry from DICOM-CT-PD files.

mod ct_pd;
mod lengths;
mod read;
mod tolerant;
mod write;

pub use ct_pd::{DetectorShape, ProjectionData, ProjectionView, load_projection_data};
pub use read::{LoadedSeries, Policy, Scan, SeriesInfo, Skipped, load_series, load_series_slab, scan, series_layout};
pub use write::{SeriesKind, WriteOptions, write_series};

/// A unique identifier under the `2.25` root (a UUID as a decimal integer, ISO/IEC 9834-8):
/// random bits from the time, the process and a counter, mixed.
pub(crate) fn new_uid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut x = nanos ^ (u128::from(std::process::id()) << 64) ^ u128::from(COUNTER.fetch_add(1, Ordering::Relaxed));
    // splitmix-style mixing of both halves.
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let hi = mix((x >> 64) as u64 ^ mix(x as u64));
    let lo = mix(x as u64 ^ hi);
    x = (u128::from(hi) << 64) | u128::from(lo);
    // UUID version 4 / variant bits, so the value is a valid UUID.
    x = (x & !(0xF << 76)) | (0x4 << 76);
    x = (x & !(0x3 << 62)) | (0x2 << 62);
    format!("2.25.{x}")
}

//! NIfTI-1 import and export (`.nii`, `.nii.gz`) on the `nifti` crate, with the affine
//! converted between NIfTI's RAS world and the grid's LPS (x and y negated).
//!
//! Reading uses the sform when `sform_code > 0`, else the qform (quaternion, NIfTI-1 standard
//! §"Method 2"), else the voxel sizes alone; intensities come back with `scl_slope`/`scl_inter`
//! applied. Writing stores f32 voxels with the sform and qform both set (code 1, scanner
//! anatomical), units mm, to a temporary file renamed into place; an existing file is never
//! overwritten.

use std::path::Path;

use ndarray::{Array3, Ix3};
use nifti::writer::WriterOptions;
use nifti::{IntoNdArray, NiftiHeader, NiftiObject, ReaderOptions};

use crate::error::{Error, Result};
use crate::volume::{Grid, Volume};

fn nifti_error(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Image(format!("NIfTI {}: {reason}", path.display()))
}

/// The 3×4 voxel-to-RAS affine of a header (rows x, y, z).
fn affine(h: &NiftiHeader) -> [[f64; 4]; 3] {
    if h.sform_code > 0 {
        return [h.srow_x, h.srow_y, h.srow_z].map(|r| r.map(f64::from));
    }
    let (dx, dy, dz) = (f64::from(h.pixdim[1]), f64::from(h.pixdim[2]), f64::from(h.pixdim[3]));
    if h.qform_code > 0 {
        // Quaternion (b, c, d), a = sqrt(1 − b² − c² − d²); qfac = pixdim[0] flips k.
        let (b, c, d) = (f64::from(h.quatern_b), f64::from(h.quatern_c), f64::from(h.quatern_d));
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let offset = [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from);
        return std::array::from_fn(|i| [r[i][0] * dx, r[i][1] * dy, r[i][2] * dz * qfac, offset[i]]);
    }
    [[dx, 0.0, 0.0, 0.0], [0.0, dy, 0.0, 0.0], [0.0, 0.0, dz, 0.0]]
}

/// The largest expansion of gzip (deflate, RFC 1951: about 1032:1).
const GZIP_EXPANSION: u64 = 1032;

/// Refuses, before anything is allocated, a header whose dimensions need more voxel bytes than
/// the file can hold (a few hundred bytes declaring 32767³ voxels; compressed files up to
/// deflate's ratio).
fn check_declared_size(path: &Path) -> Result<()> {
    let file_len = std::fs::metadata(path)
        .map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?
        .len();
    let Ok(Ok(h)) = std::panic::catch_unwind(|| NiftiHeader::from_file(path)) else {
        return Ok(()); // the reader reports unreadable headers itself
    };
    if h.bitpix <= 0 {
        // The nifti crate converts bitpix to usize as is: a negative one asks for exabytes
        // (found by the fuzzer).
        return Err(nifti_error(
            path,
            format!(
                "bitpix {} must be a positive number of bits per voxel: corrupt header",
                h.bitpix
            ),
        ));
    }
    let ndim = usize::from(h.dim[0]).clamp(1, 7);
    let voxels = h.dim[1..=ndim]
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(u64::from(d)));
    let bytes = voxels.and_then(|n| n.checked_mul(u64::from(h.bitpix.unsigned_abs().max(8) / 8)));
    let gz = path.extension().is_some_and(|e| e == "gz");
    let room = if gz {
        file_len.saturating_mul(GZIP_EXPANSION)
    } else {
        file_len
    };
    match bytes {
        Some(b) if b <= room => Ok(()),
        _ => Err(nifti_error(
            path,
            format!(
                "the header declares dimensions {:?} of {} bits, more data than the {file_len}-byte file can hold: truncated or corrupt",
                &h.dim[1..=ndim],
                h.bitpix
            ),
        )),
    }
}

/// Reads a 3D NIfTI-1 image (a 4D one with one volume is accepted) as a volume in LPS.
pub fn read_nifti(path: impl AsRef<Path>) -> Result<Volume> {
    let path = path.as_ref();
    check_declared_size(path)?;
    // The nifti crate panics on some inconsistent files (found by the fuzzer: a data size that
    // disagrees with the dimensions); a panic there is a corrupt file, reported as such.
    let guarded = |what: &str| nifti_error(path, format!("the NIfTI reader failed on a corrupt file ({what})"));
    let obj = std::panic::catch_unwind(|| ReaderOptions::new().read_file(path))
        .map_err(|_| guarded("header or data"))?
        .map_err(|e| nifti_error(path, e))?;
    let h = obj.header().clone();
    let ndim = usize::from(h.dim[0]);
    if !(1..=7).contains(&ndim) || h.dim[4..=ndim.max(3)].iter().any(|&d| d > 1) {
        return Err(nifti_error(
            path,
            format!("dims {:?}: only 3D images are supported", &h.dim[..=ndim.min(7)]),
        ));
    }
    let data = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| obj.into_volume().into_ndarray::<f32>()))
        .map_err(|_| guarded("its data size disagrees with its dimensions"))?
        .map_err(|e| nifti_error(path, e))?;
    // The crate returns [x, y, z, …] in Fortran order; 2D images get one slice, a 4D image
    // with one volume drops its last axis.
    let shape = data.shape().to_vec();
    let (nx, ny, nz) = (shape[0], *shape.get(1).unwrap_or(&1), *shape.get(2).unwrap_or(&1));
    let xyz = match data.ndim() {
        3 => data.into_dimensionality::<Ix3>().map_err(|e| nifti_error(path, e))?,
        _ => {
            let mut index = vec![0usize; data.ndim()];
            ndarray::Array3::from_shape_fn((nx, ny, nz), |(x, y, z)| {
                for (slot, v) in index.iter_mut().zip([x, y, z]) {
                    *slot = v;
                }
                data[index.as_slice()]
            })
        }
    };
    // NIfTI indexes [x, y, z]; volumes are (z, y, x).
    let zyx: Array3<f32> = xyz.reversed_axes().as_standard_layout().to_owned();
    let a = affine(&h);
    // RAS → LPS: negate the x and y rows.
    let lps = |i: usize, j: usize| if i < 2 { -a[i][j] } else { a[i][j] };
    let column = |j: usize| [lps(0, j), lps(1, j), lps(2, j)];
    let norm = |v: [f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    let (cx, cy, cz) = (column(0), column(1), column(2));
    let (sx, sy, sz) = (norm(cx), norm(cy), norm(cz));
    if [sx, sy, sz].iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(nifti_error(path, "the affine has a zero or non-finite voxel size"));
    }
    let grid = Grid {
        spacing: [sz, sy, sx],
        origin: column(3),
        direction: [cz.map(|v| v / sz), cy.map(|v| v / sy), cx.map(|v| v / sx)],
    };
    Volume::new(zyx, grid)
}

/// The quaternion (b, c, d) and qfac of a rotation matrix with orthonormal columns (NIfTI-1
/// standard; a left-handed matrix is made right-handed by flipping its third column, qfac −1).
fn quaternion(mut r: [[f64; 3]; 3]) -> ([f64; 3], f64) {
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    for row in &mut r {
        row[2] *= qfac;
    }
    let trace = r[0][0] + r[1][1] + r[2][2];
    let (a, b, c, d);
    if trace > 0.0 {
        let s = (trace + 1.0).sqrt() * 2.0;
        a = 0.25 * s;
        b = (r[2][1] - r[1][2]) / s;
        c = (r[0][2] - r[2][0]) / s;
        d = (r[1][0] - r[0][1]) / s;
    } else if r[0][0] > r[1][1] && r[0][0] > r[2][2] {
        let s = (1.0 + r[0][0] - r[1][1] - r[2][2]).sqrt() * 2.0;
        a = (r[2][1] - r[1][2]) / s;
        b = 0.25 * s;
        c = (r[0][1] + r[1][0]) / s;
        d = (r[0][2] + r[2][0]) / s;
    } else if r[1][1] > r[2][2] {
        let s = (1.0 + r[1][1] - r[0][0] - r[2][2]).sqrt() * 2.0;
        a = (r[0][2] - r[2][0]) / s;
        b = (r[0][1] + r[1][0]) / s;
        c = 0.25 * s;
        d = (r[1][2] + r[2][1]) / s;
    } else {
        let s = (1.0 + r[2][2] - r[0][0] - r[1][1]).sqrt() * 2.0;
        a = (r[1][0] - r[0][1]) / s;
        b = (r[0][2] + r[2][0]) / s;
        c = (r[1][2] + r[2][1]) / s;
        d = 0.25 * s;
    }
    // The standard keeps a >= 0.
    let sign = if a < 0.0 { -1.0 } else { 1.0 };
    ([b * sign, c * sign, d * sign], qfac)
}

/// Writes `volume` as a NIfTI-1 file (`.nii`, or `.nii.gz` compressed) with f32 voxels.
pub fn write_nifti(volume: &Volume, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    // symlink_metadata: a dangling symbolic link counts as existing (writing through it would
    // create a file wherever it points).
    if path.symlink_metadata().is_ok() {
        return Err(Error::param(
            "path",
            format!("{} exists (a file or a link); write to a new file", path.display()),
        ));
    }
    let g = volume.grid();
    let [nz, ny, nx] = volume.shape();
    if [nz, ny, nx].iter().any(|&n| n > i16::MAX as usize) {
        return Err(Error::TooLarge(format!(
            "{nz}×{ny}×{nx}: NIfTI-1 dimensions stop at 32767"
        )));
    }
    // LPS → RAS columns (x, y, z axes) scaled by the spacing.
    let ras = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let (cx, cy, cz) = (ras(g.direction[2]), ras(g.direction[1]), ras(g.direction[0]));
    let (sx, sy, sz) = (g.spacing[2], g.spacing[1], g.spacing[0]);
    let origin = ras(g.origin);
    let row = |i: usize| [cx[i] * sx, cy[i] * sy, cz[i] * sz, origin[i]].map(|v| v as f32);
    let (q, qfac) = quaternion([[cx[0], cy[0], cz[0]], [cx[1], cy[1], cz[1]], [cx[2], cy[2], cz[2]]]);
    let header = NiftiHeader {
        pixdim: [qfac as f32, sx as f32, sy as f32, sz as f32, 1.0, 1.0, 1.0, 1.0],
        xyzt_units: 2, // mm
        sform_code: 1,
        qform_code: 1,
        srow_x: row(0),
        srow_y: row(1),
        srow_z: row(2),
        quatern_b: q[0] as f32,
        quatern_c: q[1] as f32,
        quatern_d: q[2] as f32,
        quatern_x: origin[0] as f32,
        quatern_y: origin[1] as f32,
        quatern_z: origin[2] as f32,
        ..NiftiHeader::default()
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = if name.ends_with(".nii.gz") {
        "nii.gz"
    } else if name.ends_with(".nii") {
        "nii"
    } else {
        return Err(Error::param(
            "path",
            format!("{}: name the file .nii or .nii.gz", path.display()),
        ));
    };
    // A dot-free temporary stem (the nifti crate rewrites everything after a stem's last dot);
    // the extension decides compression.
    // Unique per call (concurrent writers in one process must not share it).
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let serial = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_file_name(format!(
        "hounsfield-partial-{}-{serial}.{extension}",
        std::process::id()
    ));
    let taken = |p: &Path| p.symlink_metadata().is_ok();
    if taken(&tmp) {
        return Err(Error::param(
            "path",
            format!(
                "{} exists (a file or a link) where the partial file goes; remove it",
                tmp.display()
            ),
        ));
    }
    WriterOptions::new(&tmp)
        .reference_header(&header)
        .write_nifti(&volume.data().reversed_axes())
        .map_err(|e| nifti_error(path, e))?;
    if taken(path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::param(
            "path",
            format!("{} appeared while writing; not overwritten", path.display()),
        ));
    }
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

//! The Euclidean distance transform on the GPU (`shaders/segment/edt_*.wgsl`), the twin of
//! [`super::distance_transform_edt`]'s distances for 2D and 3D masks: a column pass along z
//! (two scans per (y, x) column, slab to slab with a carried state), then a parabola-envelope
//! pass along y and one along x, in float32 (the last pass stores square roots; each line's
//! envelope lives in its own output words, no scratch). Within float32 rounding of the CPU's
//! (scipy's) float64 distances; one submission. Volumes above a storage binding run slab by slab
//! (the envelope passes stay within slices; the column scans carry the last background slice
//! across slabs, and the backward scan finds the background in the forward distances).

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::edt::check_sampling;
use crate::error::{Error, Result};
use crate::gpu::{Binding, BufferWindow, GpuContext, GpuVolume, KernelSpec, Recorder, storage_window, uniform, wgsl};

crate::wgsl_constants!(EDT_CONSTANTS: u32 { EDT_ROOT = 4 });
crate::wgsl_constants!(EDT_FLOATS: f32 { EDT_NONE = 1.0e30 });
crate::wgsl_constants!(EDT_INTS: i32 { EDT_FAR = 1 << 30 });

/// Twin of `Params` in `edt_columns.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ColumnParams {
    nx: u32,
    ny: u32,
    nz: u32,
    z0: u32,
    nz_total: u32,
    mask_offset: u32,
    out_offset: u32,
    spacing: f32,
}

/// Twin of `Params` in `edt_envelope.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct EnvelopeParams {
    nx: u32,
    ny: u32,
    nz: u32,
    axis: u32,
    lines: u32,
    in_offset: u32,
    out_offset: u32,
    spacing: f32,
}

const COLUMNS_WGSL: &str = include_str!("../../shaders/segment/edt_columns.wgsl");

/// The column scans: one WGSL file, an entry point per direction.
const fn columns(name: &'static str, entry: &'static str, bindings: &'static [Binding]) -> KernelSpec {
    KernelSpec {
        name,
        sources: COLUMN_SOURCES,
        entry,
        bindings,
        constants: EDT_TABLES,
    }
}

const COLUMN_SOURCES: &[&str] = &[wgsl::TILE, COLUMNS_WGSL];
/// The distances, the carried slices and (last, so that the backward scan can leave it out) the
/// mask.
const COLUMN_BINDINGS: &[Binding] = &[
    uniform::<ColumnParams>(),
    Binding::ReadWrite,
    Binding::ReadWrite,
    Binding::Read,
];
const EDT_TABLES: &[crate::gpu::Constants] = &[EDT_CONSTANTS, EDT_FLOATS, EDT_INTS];

pub(crate) static COLUMNS_FORWARD: KernelSpec =
    columns("segment/edt_columns_forward", "columns_forward", COLUMN_BINDINGS);
pub(crate) static COLUMNS_BACKWARD: KernelSpec = columns(
    "segment/edt_columns_backward",
    "columns_backward",
    COLUMN_BINDINGS.split_at(3).0,
);
pub(crate) static COLUMNS_BOTH: KernelSpec = columns("segment/edt_columns_both", "columns_both", COLUMN_BINDINGS);

pub(crate) static ENVELOPE: KernelSpec = KernelSpec {
    name: "segment/edt_envelope",
    sources: &[wgsl::TILE, include_str!("../../shaders/segment/edt_envelope.wgsl")],
    entry: "envelope",
    bindings: &[uniform::<EnvelopeParams>(), Binding::Read, Binding::ReadWrite],
    constants: &[EDT_CONSTANTS, EDT_FLOATS, EDT_INTS],
};

/// The kernels of this file, for `src/kernels.rs`.
#[cfg(test)]
pub(crate) const KERNELS: [&KernelSpec; 4] = [&COLUMNS_FORWARD, &COLUMNS_BACKWARD, &COLUMNS_BOTH, &ENVELOPE];

/// Distances of the foreground of a resident mask (non-zero or NaN) to its background, with
/// `sampling` per axis of the volume `(z, y, x)` (`ndim` 2: a one-slice volume is a `(y, x)`
/// image and `sampling` has two values). The mask must hold at least one background voxel.
pub fn distance_transform_edt_gpu(
    ctx: &GpuContext,
    mask: &GpuVolume,
    sampling: Option<&[f64]>,
    ndim: usize,
) -> Result<GpuVolume> {
    mask.check_context(ctx)?;
    let [nz, ny, nx] = mask.shape();
    if !(ndim == 3 || (ndim == 2 && nz == 1)) {
        return Err(Error::InvalidShape(format!(
            "the GPU distance transform takes 2D images (one-slice volumes) and 3D volumes; got {ndim} dimensions of shape {:?}",
            mask.shape()
        )));
    }
    let sampling = check_sampling(sampling, ndim)?;
    let [sz, sy, sx] = if ndim == 2 {
        [1.0, sampling[0], sampling[1]]
    } else {
        [sampling[0], sampling[1], sampling[2]]
    };
    let plane = ny * nx;
    let align = ctx.storage_offset_alignment();
    let slice_bytes = (plane * 4) as u64;
    // Slabs start at multiples of the slab's bytes; a window whose start is not aligned is
    // widened down to the alignment, which the binding must hold too.
    let max_binding = ctx.max_storage_binding();
    let binding = if slice_bytes.is_multiple_of(align) {
        max_binding
    } else {
        max_binding.saturating_sub(align)
    };
    let slab_nz = ((binding / slice_bytes) as usize).min(nz);
    if slab_nz == 0 {
        return Err(Error::TooLarge(format!(
            "one slice of {ny}×{nx} voxels does not fit this adapter's storage binding of {max_binding} bytes"
        )));
    }
    let slabs: Vec<(usize, usize)> = (0..nz).step_by(slab_nz).map(|z0| (z0, slab_nz.min(nz - z0))).collect();
    let mut rec = Recorder::new(ctx);
    // Per invocation: a column's two scans along z (2 nz), and a line's envelope along y or x
    // (built, then read: four iterations per voxel, and one more for the lanes of a SIMD group
    // popping at different steps).
    rec.check_loop_budget(
        &format!("a distance transform of {nz}×{ny}×{nx} voxels"),
        (2 * slab_nz.max(1) as u64).max(5 * ny.max(nx) as u64) + 64,
    )?;
    let squared = rec.volume(mask.shape())?;
    let out = rec.volume(mask.shape())?;
    // Per column, the last background slice seen (the kernels start the first slab themselves).
    let forward = rec.scratch((plane * 4) as u64);
    let backward = rec.scratch((plane * 4) as u64);
    // One slab: both scans of a column in one dispatch; else forward over the slabs, then
    // backward, each carrying the last background slice.
    let passes: &[(&KernelSpec, &wgpu::Buffer)] = if slabs.len() == 1 {
        &[(&COLUMNS_BOTH, &forward)]
    } else {
        &[(&COLUMNS_FORWARD, &forward), (&COLUMNS_BACKWARD, &backward)]
    };
    for &(pass, carry) in passes {
        let order: Vec<&(usize, usize)> = if !std::ptr::eq(pass, &COLUMNS_BACKWARD) {
            slabs.iter().collect()
        } else {
            slabs.iter().rev().collect()
        };
        for &(z0, n) in order {
            let (mask_window, mask_offset) =
                storage_window(mask.buffer(), (z0 * plane) as u64, (n * plane) as u64, align);
            let (out_window, out_offset) =
                storage_window(squared.buffer(), (z0 * plane) as u64, (n * plane) as u64, align);
            let p = rec.uniform(&ColumnParams {
                nx: nx as u32,
                ny: ny as u32,
                nz: n as u32,
                z0: z0 as u32,
                nz_total: nz as u32,
                mask_offset,
                out_offset,
                spacing: sz as f32,
            });
            let windows = [
                BufferWindow::whole(&p),
                out_window,
                BufferWindow::whole(carry),
                mask_window,
            ];
            // The backward scan finds the background in the forward distances: no mask.
            let bound = if std::ptr::eq(pass, &COLUMNS_BACKWARD) { 3 } else { 4 };
            rec.dispatch_linear(pass, &windows[..bound], plane as u64)?;
        }
    }
    // y: squared → out; x: out → squared, with square roots; the result is `squared`.
    for (axis, spacing, src, dst) in [(1u32, sy, &squared, &out), (2 | EDT_ROOT, sx, &out, &squared)] {
        for &(z0, n) in &slabs {
            let lines = if axis & 3 == 1 { n * nx } else { n * ny };
            let (in_window, in_offset) = storage_window(src.buffer(), (z0 * plane) as u64, (n * plane) as u64, align);
            let (out_window, out_offset) = storage_window(dst.buffer(), (z0 * plane) as u64, (n * plane) as u64, align);
            let p = rec.uniform(&EnvelopeParams {
                nx: nx as u32,
                ny: ny as u32,
                nz: n as u32,
                axis,
                lines: lines as u32,
                in_offset,
                out_offset,
                spacing: spacing as f32,
            });
            rec.dispatch_linear(
                &ENVELOPE,
                &[BufferWindow::whole(&p), in_window, out_window],
                lines as u64,
            )?;
        }
    }
    rec.recycle(out);
    rec.submit()?;
    Ok(squared)
}

/// The distance transform of a host mask (2D or 3D) on the GPU, in float32. Masks without any
/// background voxel take the CPU path (scipy's values for that case).
pub fn distance_transform_edt_on_gpu(
    ctx: &GpuContext,
    input: ArrayViewD<'_, bool>,
    sampling: Option<&[f64]>,
) -> Result<ArrayD<f32>> {
    let ndim = input.ndim();
    let dims = input.shape().to_vec();
    let shape = super::volume_shape(&dims, "the distance transform")?;
    check_sampling(sampling, ndim)?;
    if input.is_empty() || input.iter().all(|&v| v) {
        let cpu = super::distance_transform_edt(input, sampling, false)?;
        return Ok(cpu.distances.mapv(|d| d as f32));
    }
    let mask = super::mask_volume(input.view(), shape)?;
    let up = GpuVolume::upload(ctx, mask.view())?;
    let out = distance_transform_edt_gpu(ctx, &up, sampling, ndim)?.download(ctx)?;
    out.into_shape_with_order(IxDyn(&dims))
        .map_err(|e| Error::Gpu(e.to_string()))
}

//! The Euclidean distance transform on the GPU (`shaders/segment/edt_*.wgsl`), the twin of
//! [`super::distance_transform_edt`]'s distances for 2D and 3D masks: a column pass along z
//! (both scans of each (y, x) column, distances kept as 16-bit voxel counts), then a
//! parabola-envelope pass along y and one along x, in float32 (the last pass stores square
//! roots; each line's envelope lives in its own output words, no scratch). Within float32
//! rounding of the CPU's (scipy's) float64 distances; one submission, and three passes that
//! read and write 20 bytes a voxel in all (the mask's 4 and the result's 4 are unavoidable).
//!
//! Volumes above a storage binding run slab by slab. The envelope passes stay within slices;
//! the column pass runs the slabs first to last, carrying the last background slice forward,
//! and scans backward within each slab only; a per-column "first background after this slab"
//! (one plane a slab, folded from the last slab down) finishes the backward scan where the y
//! pass reads the counts, instead of a second pass over the volume.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use super::edt::check_sampling;
use crate::error::{Error, Result};
use crate::gpu::{
    Binding, BufferWindow, GpuContext, GpuVolume, KernelSpec, KernelTime, Recorder, storage_window, uniform, wgsl,
};

crate::wgsl_constants!(EDT_CONSTANTS: u32 { EDT_ROOT = 4, EDT_NONE_COUNT = NONE_COUNT });
crate::wgsl_constants!(EDT_FLOATS: f32 { EDT_NONE = 1.0e30 });
crate::wgsl_constants!(EDT_INTS: i32 { EDT_FAR = 1 << 30 });

/// The 16-bit count of a column with no background in reach: distances along z of up to
/// `NONE_COUNT − 1` voxels are counted, so volumes have at most `NONE_COUNT` slices.
const NONE_COUNT: u32 = 0xffff;

/// Twin of `Params` in `edt_columns.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ColumnParams {
    nx: u32,
    ny: u32,
    nz: u32,
    z0: u32,
    mask_offset: u32,
    out_offset: u32,
    firsts_offset: u32,
    slabs: u32,
}

/// Twin of `Params` in `edt_above.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct AboveParams {
    plane: u32,
    _pad: [u32; 3],
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
    z0: u32,
    above_offset: u32,
    has_above: u32,
    z_spacing: f32,
}

const EDT_TABLES: &[crate::gpu::Constants] = &[EDT_CONSTANTS, EDT_FLOATS, EDT_INTS];

pub(crate) static COLUMNS: KernelSpec = KernelSpec {
    name: "segment/edt_columns",
    sources: &[wgsl::TILE, include_str!("../../shaders/segment/edt_columns.wgsl")],
    entry: "columns",
    // Counts, the carried last background, the slab's first background, the mask.
    bindings: &[
        uniform::<ColumnParams>(),
        Binding::ReadWrite,
        Binding::ReadWrite,
        Binding::ReadWrite,
        Binding::Read,
    ],
    constants: EDT_TABLES,
};

pub(crate) static ABOVE: KernelSpec = KernelSpec {
    name: "segment/edt_above",
    sources: &[wgsl::TILE, include_str!("../../shaders/segment/edt_above.wgsl")],
    entry: "carry_above",
    bindings: &[uniform::<AboveParams>(), Binding::ReadWrite, Binding::ReadWrite],
    constants: EDT_TABLES,
};

pub(crate) static ENVELOPE: KernelSpec = KernelSpec {
    name: "segment/edt_envelope",
    sources: &[wgsl::TILE, include_str!("../../shaders/segment/edt_envelope.wgsl")],
    entry: "envelope",
    bindings: &[
        uniform::<EnvelopeParams>(),
        Binding::Read,
        Binding::ReadWrite,
        Binding::Read,
    ],
    constants: EDT_TABLES,
};

/// The kernels of this file, for `src/kernels.rs`.
#[cfg(test)]
pub(crate) const KERNELS: [&KernelSpec; 3] = [&COLUMNS, &ABOVE, &ENVELOPE];

/// Distances of the foreground of a resident mask (non-zero or NaN) to its background, with
/// `sampling` per axis of the volume `(z, y, x)` (`ndim` 2: a one-slice volume is a `(y, x)`
/// image and `sampling` has two values). The mask must hold at least one background voxel, and
/// at most 65,535 slices (distances along z are counted in 16 bits).
pub fn distance_transform_edt_gpu(
    ctx: &GpuContext,
    mask: &GpuVolume,
    sampling: Option<&[f64]>,
    ndim: usize,
) -> Result<GpuVolume> {
    distance_transform_edt_gpu_timed(ctx, mask, sampling, ndim).map(|(distances, _)| distances)
}

/// [`distance_transform_edt_gpu`] with the GPU time of its passes (timestamps), where the
/// adapter measures it.
pub fn distance_transform_edt_gpu_timed(
    ctx: &GpuContext,
    mask: &GpuVolume,
    sampling: Option<&[f64]>,
    ndim: usize,
) -> Result<(GpuVolume, KernelTime)> {
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
    if nz > NONE_COUNT as usize {
        return Err(Error::TooLarge(format!(
            "the GPU distance transform counts distances along z in 16 bits, so it takes at most {NONE_COUNT} slices; this volume has {nz}: use the CPU"
        )));
    }
    let plane = ny * nx;
    // Column counts: two to a word, whole words per slice.
    let words = plane.div_ceil(2);
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
    let several = slabs.len() > 1;
    let mut rec = Recorder::new(ctx);
    // Per invocation: a column pair's two scans along z (2 nz), and a line's envelope along y
    // or x (built, then read: four iterations per voxel, and one more for the lanes of a SIMD
    // group popping at different steps).
    rec.check_loop_budget(
        &format!("a distance transform of {nz}×{ny}×{nx} voxels"),
        (2 * slab_nz.max(1) as u64).max(5 * ny.max(nx) as u64) + 64,
    )?;
    // The column counts, then (x pass) the distances; between them the y pass's squares.
    let result = rec.volume(mask.shape())?;
    let between = rec.volume(mask.shape())?;
    // Several slabs: per column, the last background slice so far (carried forward), and each
    // slab's first background slice (then the first at or after it), one aligned plane a slab.
    let plane_stride = (plane as u64 * 4).div_ceil(align) * align / 4;
    let (carry, firsts) = if several {
        (
            rec.scratch(plane as u64 * 4),
            rec.scratch(plane_stride * 4 * slabs.len() as u64),
        )
    } else {
        (rec.scratch(4), rec.scratch(4))
    };
    // Bound where a kernel reads nothing (the envelope along x, or along y in the last slab).
    let nothing = rec.scratch(4);
    let firsts_window = |s: usize| {
        if several {
            storage_window(&firsts, s as u64 * plane_stride, plane as u64, align)
        } else {
            (BufferWindow::whole(&firsts), 0)
        }
    };
    for (s, &(z0, n)) in slabs.iter().enumerate() {
        let (mask_window, mask_offset) = storage_window(mask.buffer(), (z0 * plane) as u64, (n * plane) as u64, align);
        let (count_window, out_offset) =
            storage_window(result.buffer(), (z0 * words) as u64, (n * words) as u64, align);
        let (first_window, firsts_offset) = firsts_window(s);
        let p = rec.uniform(&ColumnParams {
            nx: nx as u32,
            ny: ny as u32,
            nz: n as u32,
            z0: z0 as u32,
            mask_offset,
            out_offset,
            firsts_offset,
            slabs: u32::from(several),
        });
        let windows = [
            BufferWindow::whole(&p),
            count_window,
            BufferWindow::whole(&carry),
            first_window,
            mask_window,
        ];
        rec.dispatch_linear(&COLUMNS, &windows, words as u64)?;
    }
    // The first background at or after each slab, from the second-to-last slab down (the last
    // slab's is its own first; the first slab's is never read).
    let p = rec.uniform(&AboveParams {
        plane: plane as u32,
        _pad: [0; 3],
    });
    for s in (1..slabs.len().saturating_sub(1)).rev() {
        let windows = [BufferWindow::whole(&p), firsts_window(s).0, firsts_window(s + 1).0];
        rec.dispatch_linear(&ABOVE, &windows, plane as u64)?;
    }
    // y: counts → between (squares); x: between → result, with square roots.
    for (axis, spacing, src, dst) in [(1u32, sy, &result, &between), (2 | EDT_ROOT, sx, &between, &result)] {
        for (s, &(z0, n)) in slabs.iter().enumerate() {
            let along_y = axis == 1;
            let lines = if along_y { n * nx } else { n * ny };
            let (in_window, in_offset) = if along_y {
                storage_window(src.buffer(), (z0 * words) as u64, (n * words) as u64, align)
            } else {
                storage_window(src.buffer(), (z0 * plane) as u64, (n * plane) as u64, align)
            };
            let (out_window, out_offset) = storage_window(dst.buffer(), (z0 * plane) as u64, (n * plane) as u64, align);
            // Along y, every slab but the last reads the first background after it.
            let has_above = along_y && s + 1 < slabs.len();
            let (above_window, above_offset) = if has_above {
                firsts_window(s + 1)
            } else {
                (BufferWindow::whole(&nothing), 0)
            };
            let p = rec.uniform(&EnvelopeParams {
                nx: nx as u32,
                ny: ny as u32,
                nz: n as u32,
                axis,
                lines: lines as u32,
                in_offset,
                out_offset,
                spacing: spacing as f32,
                z0: z0 as u32,
                above_offset,
                has_above: u32::from(has_above),
                z_spacing: sz as f32,
            });
            rec.dispatch_linear(
                &ENVELOPE,
                &[BufferWindow::whole(&p), in_window, out_window, above_window],
                lines as u64,
            )?;
        }
    }
    rec.recycle(between);
    let time = rec.submit()?;
    Ok((result, time))
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
    let all_foreground = match input.as_slice() {
        Some(samples) => {
            use rayon::prelude::*;
            samples.par_iter().all(|&v| v)
        }
        None => input.iter().all(|&v| v),
    };
    if input.is_empty() || all_foreground {
        let cpu = super::distance_transform_edt(input, sampling, false)?;
        return Ok(cpu.distances.mapv(|d| d as f32));
    }
    let mask = super::mask_volume(input.view(), shape)?;
    let up = GpuVolume::upload(ctx, mask.view())?;
    let out = distance_transform_edt_gpu(ctx, &up, sampling, ndim)?.download(ctx)?;
    out.into_shape_with_order(IxDyn(&dims))
        .map_err(|e| Error::Gpu(e.to_string()))
}

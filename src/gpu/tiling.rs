//! Slab tiling: runs a kernel over a volume that may exceed the adapter's storage binding
//! limit, one z-slab at a time, with the halo the kernel declares.
//!
//! Design: a resident volume is one buffer (it may be far larger than one *binding*). For each
//! slab the runtime binds a *window* of each input — the slab plus `halo_z` slices either side —
//! and a window of the output, with no copy. When the boundary mode would read slices outside
//! that window (`Wrap`, or a halo wider than the volume's remaining slices), the runtime instead
//! *gathers* the padded slab into a scratch tile with slice copies, applying the boundary mode
//! along z itself; the kernel then sees a tile whose z-domain already includes the halo.
//! Kernels never see the difference: they read through `tile_in_index` with the `Tile` uniform.

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::gpu::recorder::{BufferWindow, Recorder};
use crate::gpu::volume::GpuVolume;

/// Twin of `struct Tile` in `shaders/common/tile.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct TileParams {
    nx: u32,
    ny: u32,
    nz: u32,
    out_z0: u32,
    out_nz: u32,
    out_offset: u32,
    in_z_first: i32,
    in_offset: u32,
    z_lo: i32,
    z_hi: i32,
    _pad: [u32; 2],
}

/// What a kernel's dispatch function receives for one slab.
pub struct Slab<'a> {
    /// The `Tile` uniform (bind it first).
    pub tile: wgpu::Buffer,
    /// Windows of the inputs, in the order given to [`for_each_slab`].
    pub inputs: Vec<BufferWindow<'a>>,
    /// Window of the output.
    pub output: BufferWindow<'a>,
    /// Output voxels in this slab (the number of invocations to dispatch).
    pub items: u64,
    /// The slab's output shape `[nz, ny, nx]`.
    pub shape: [usize; 3],
    /// The slab's first output slice.
    pub z0: usize,
}

impl Slab<'_> {
    /// The slab's output voxels as a grid `[x, y, z]`, for [`Recorder::dispatch_grid`] (one
    /// invocation per output voxel; the kernel's workgroup shape decides the blocks).
    pub fn grid(&self) -> [usize; 3] {
        let [nz, ny, nx] = self.shape;
        [nx, ny, nz]
    }
}

/// How the z-range of a slab is planned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SlabInput {
    /// Bind slices `first..first + count` of each input in place.
    Window { first: usize, count: usize },
    /// Copy these source slices, in order, into a scratch tile covering `z0 - halo .. z1 + halo`.
    Gathered { sources: Vec<usize> },
}

/// Plans the z-slabs `[z0, z1)` for a volume of `nz` slices of `slice_bytes` each.
pub(crate) fn plan_slabs(
    nz: usize,
    slice_bytes: u64,
    halo_z: usize,
    mode: BoundaryMode,
    max_binding: u64,
    align: u64,
) -> Result<Vec<(usize, usize, SlabInput)>> {
    if nz as u64 * slice_bytes <= max_binding {
        return Ok(vec![(0, nz, SlabInput::Window { first: 0, count: nz })]);
    }
    // Leave room for the alignment slack of a window's offset.
    let max_slices = (max_binding.saturating_sub(align) / slice_bytes) as usize;
    if max_slices == 0 {
        return Err(Error::TooLarge(format!(
            "one slice takes {:.2} MiB, more than this adapter's storage binding limit ({:.0} MiB); \
             crop or downsample the slices, or use the CPU backend",
            slice_bytes as f64 / 1048576.0,
            max_binding as f64 / 1048576.0
        )));
    }
    if max_slices < 2 * halo_z + 1 {
        return Err(Error::TooLarge(format!(
            "a halo of {halo_z} slices along z needs {} slices of {:.2} MiB in one storage binding, \
             but this adapter's binding limit ({:.0} MiB) holds {max_slices}; reduce the filter \
             size along z, crop the volume in y/x, or use the CPU backend",
            2 * halo_z + 1,
            slice_bytes as f64 / 1048576.0,
            max_binding as f64 / 1048576.0
        )));
    }
    let slab_len = max_slices - 2 * halo_z;
    let mut slabs = Vec::new();
    let mut z0 = 0;
    while z0 < nz {
        let z1 = (z0 + slab_len).min(nz);
        let lo = z0.saturating_sub(halo_z);
        let hi = (z1 + halo_z).min(nz);
        let reach = (z0 as isize - halo_z as isize..z0 as isize).chain(z1 as isize..(z1 + halo_z) as isize);
        let mut in_window = true;
        for z in reach {
            if let Some(m) = mode.map_index(z, 0, nz as isize)
                && (m < lo as isize || m >= hi as isize)
            {
                in_window = false;
                break;
            }
        }
        let input = if in_window {
            SlabInput::Window {
                first: lo,
                count: hi - lo,
            }
        } else {
            let sources = (z0 as isize - halo_z as isize..(z1 + halo_z) as isize)
                .map(|z| {
                    mode.map_index(z, 0, nz as isize)
                        .map(|m| m as usize)
                        .ok_or_else(|| Error::Gpu("internal: constant-mode slab needed gathering".into()))
                })
                .collect::<Result<Vec<_>>>()?;
            SlabInput::Gathered { sources }
        };
        slabs.push((z0, z1, input));
        z0 = z1;
    }
    Ok(slabs)
}

/// A window of `elems` elements starting at element `first`, with its offset aligned down; returns
/// the window and the element offset of `first` inside it.
pub(crate) fn window(buffer: &wgpu::Buffer, first: u64, elems: u64, align: u64) -> (BufferWindow<'_>, u32) {
    let byte = first * 4;
    let aligned = byte / align * align;
    let extra = (byte - aligned) / 4;
    (
        BufferWindow {
            buffer,
            offset: aligned,
            size: (extra + elems) * 4,
        },
        extra as u32,
    )
}

/// Runs `dispatch` once per z-slab of `output`, with windows of `inputs` (same shape as
/// `output`) that include `halo_z` slices either side, extended by `mode` at the volume's ends.
/// A kernel that needs no neighbours along z passes `halo_z = 0`.
pub fn for_each_slab(
    rec: &mut Recorder<'_>,
    inputs: &[&GpuVolume],
    output: &GpuVolume,
    halo_z: usize,
    mode: BoundaryMode,
    mut dispatch: impl FnMut(&mut Recorder<'_>, &Slab<'_>) -> Result<()>,
) -> Result<()> {
    let [nz, ny, nx] = output.shape();
    if let Some(bad) = inputs.iter().find(|v| v.shape() != output.shape()) {
        return Err(Error::InvalidShape(format!(
            "input shape {:?} differs from output shape {:?}",
            bad.shape(),
            output.shape()
        )));
    }
    let ctx = rec.context();
    let slice_elems = (ny * nx) as u64;
    let slice_bytes = slice_elems * 4;
    let align = ctx.storage_offset_alignment().max(4);
    let slabs = plan_slabs(nz, slice_bytes, halo_z, mode, ctx.max_storage_binding(), align)?;

    // One scratch tile per input, shared by all gathered slabs (commands run in order).
    let needs_scratch = slabs.iter().any(|s| matches!(s.2, SlabInput::Gathered { .. }));
    let scratch: Vec<wgpu::Buffer> = if needs_scratch {
        let max_tile = slabs
            .iter()
            .filter_map(|s| match &s.2 {
                SlabInput::Gathered { sources } => Some(sources.len() as u64 * slice_bytes),
                SlabInput::Window { .. } => None,
            })
            .max()
            .unwrap_or(0);
        inputs
            .iter()
            .map(|_| {
                ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("hounsfield slab tile"),
                    size: max_tile,
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .collect()
    } else {
        Vec::new()
    };

    for (z0, z1, input) in &slabs {
        let (z0, z1) = (*z0, *z1);
        let (out_window, out_offset) = window(
            &output.buffer,
            z0 as u64 * slice_elems,
            (z1 - z0) as u64 * slice_elems,
            align,
        );
        let (in_windows, in_offset, in_z_first, z_lo, z_hi) = match input {
            SlabInput::Window { first, count } => {
                let mut offset = 0;
                let windows = inputs
                    .iter()
                    .map(|v| {
                        let (w, o) = window(
                            &v.buffer,
                            *first as u64 * slice_elems,
                            *count as u64 * slice_elems,
                            align,
                        );
                        offset = o;
                        w
                    })
                    .collect::<Vec<_>>();
                (windows, offset, *first as i32, 0, nz as i32)
            }
            SlabInput::Gathered { sources } => {
                for (v, tile) in inputs.iter().zip(&scratch) {
                    copy_slice_runs(rec, &v.buffer, tile, sources, slice_bytes);
                }
                let windows = scratch
                    .iter()
                    .map(|t| BufferWindow {
                        buffer: t,
                        offset: 0,
                        size: sources.len() as u64 * slice_bytes,
                    })
                    .collect();
                let first = z0 as i32 - halo_z as i32;
                (windows, 0, first, first, z1 as i32 + halo_z as i32)
            }
        };
        let tile = TileParams {
            nx: nx as u32,
            ny: ny as u32,
            nz: nz as u32,
            out_z0: z0 as u32,
            out_nz: (z1 - z0) as u32,
            out_offset,
            in_z_first,
            in_offset,
            z_lo,
            z_hi,
            _pad: [0; 2],
        };
        let slab = Slab {
            tile: rec.uniform(&tile),
            inputs: in_windows,
            output: out_window,
            items: (z1 - z0) as u64 * slice_elems,
            shape: [z1 - z0, ny, nx],
            z0,
        };
        dispatch(rec, &slab)?;
    }
    Ok(())
}

/// Twin of `struct Mapping` in `shaders/common/tile.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct MappingParams {
    in_nx: u32,
    in_ny: u32,
    in_nz: u32,
    in_z_first: u32,
    in_z_count: u32,
    in_offset: u32,
    out_nx: u32,
    out_ny: u32,
    out_nz_total: u32,
    out_z0: u32,
    out_nz: u32,
    out_offset: u32,
}

/// What a kernel whose output differs in shape from its input receives for one slab.
pub struct MappedSlab<'a> {
    /// The `Mapping` uniform (bind it first).
    pub mapping: wgpu::Buffer,
    /// Window of the input holding the slices `in_z`.
    pub input: BufferWindow<'a>,
    /// Window of the output holding the slices `out_z`.
    pub output: BufferWindow<'a>,
    /// Output slices of this slab.
    pub out_z: std::ops::Range<usize>,
    /// Input slices bound for it.
    pub in_z: std::ops::Range<usize>,
    /// When one output slice reads more input than a binding holds, the input comes in
    /// `chunks` windows, dispatched in order for the same output (`chunk` = 0, 1, ...): the
    /// kernel accumulates. Kernels that cannot must fail when `chunks > 1`.
    pub chunk: usize,
    /// Number of input chunks for this output slab (1 almost always).
    pub chunks: usize,
    /// Output voxels in this slab.
    pub items: u64,
}

/// Runs `dispatch` once per z-slab of `output` for a kernel whose output has another shape
/// than its input (resampling, projections along y or x, renderings). `needs(z0, z1)` returns
/// the input slices `[a, b)` that output slices `[z0, z1)` read; the runtime sizes the slabs so
/// that both windows fit one storage binding, halving a slab until its input fits, and splits
/// the input of a single output slice into chunks when even that does not fit (see
/// [`MappedSlab::chunks`]).
pub fn for_each_mapped_slab(
    rec: &mut Recorder<'_>,
    input: &GpuVolume,
    output: &GpuVolume,
    needs: impl Fn(usize, usize) -> (usize, usize),
    mut dispatch: impl FnMut(&mut Recorder<'_>, &MappedSlab<'_>) -> Result<()>,
) -> Result<()> {
    let [in_nz, in_ny, in_nx] = input.shape();
    let [out_nz, out_ny, out_nx] = output.shape();
    let ctx = rec.context();
    let align = ctx.storage_offset_alignment().max(4);
    let max = ctx.max_storage_binding().saturating_sub(align);
    let (in_slice, out_slice) = ((in_ny * in_nx) as u64 * 4, (out_ny * out_nx) as u64 * 4);
    let max_out = (max / out_slice.max(1)) as usize;
    if max_out == 0 || in_slice > max {
        return Err(Error::TooLarge(format!(
            "a slice of {:.2} MiB does not fit this adapter's storage binding limit ({:.0} MiB);              crop or downsample, or use the CPU backend",
            in_slice.max(out_slice) as f64 / 1048576.0,
            ctx.max_storage_binding() as f64 / 1048576.0
        )));
    }
    let mut z0 = 0;
    while z0 < out_nz {
        let mut z1 = (z0 + max_out).min(out_nz);
        let max_in = (max / in_slice) as usize;
        // The input slices for [z0, z1): shrink the slab until they fit one binding; a single
        // output slice that reads more (a projection along z) gets its input in chunks.
        let (a, b) = loop {
            let (a, b) = needs(z0, z1);
            let (a, b) = (a.min(in_nz - 1), b.clamp(a.min(in_nz - 1) + 1, in_nz));
            if b - a <= max_in || z1 - z0 == 1 {
                break (a, b);
            }
            z1 = z0 + (z1 - z0) / 2;
        };
        let in_elems = (in_ny * in_nx) as u64;
        let out_elems = (out_ny * out_nx) as u64;
        let (out_window, out_offset) = window(
            &output.buffer,
            z0 as u64 * out_elems,
            (z1 - z0) as u64 * out_elems,
            align,
        );
        let chunks = (b - a).div_ceil(max_in);
        for chunk in 0..chunks {
            let ca = a + chunk * max_in;
            let cb = (ca + max_in).min(b);
            let (in_window, in_offset) =
                window(&input.buffer, ca as u64 * in_elems, (cb - ca) as u64 * in_elems, align);
            let mapping = MappingParams {
                in_nx: in_nx as u32,
                in_ny: in_ny as u32,
                in_nz: in_nz as u32,
                in_z_first: ca as u32,
                in_z_count: (cb - ca) as u32,
                in_offset,
                out_nx: out_nx as u32,
                out_ny: out_ny as u32,
                out_nz_total: out_nz as u32,
                out_z0: z0 as u32,
                out_nz: (z1 - z0) as u32,
                out_offset,
            };
            let slab = MappedSlab {
                mapping: rec.uniform(&mapping),
                input: in_window,
                output: out_window,
                out_z: z0..z1,
                in_z: ca..cb,
                chunk,
                chunks,
                items: (z1 - z0) as u64 * out_elems,
            };
            dispatch(rec, &slab)?;
        }
        z0 = z1;
    }
    Ok(())
}

/// One z-slab of a volume as a reconstruction kernel binds it: slices `[z0, z1)` are this
/// dispatch's, the window holds `z0 .. z1 + overlap` (clipped to the volume), and `offset` is the
/// element offset of slice `z0` inside the window. Kernels read it through
/// [`VolumeSlab::params`] (`struct VolumeSlab` of `shaders/common/volume_slab.wgsl`).
pub struct VolumeSlab<'a> {
    /// First slice of the slab.
    pub z0: usize,
    /// One past the slab's last slice.
    pub z1: usize,
    /// The bound window.
    pub window: BufferWindow<'a>,
    /// Element offset of slice `z0` in the window.
    pub offset: u32,
}

impl VolumeSlab<'_> {
    /// The slab as the shader reads it (the first member of the kernel's parameters).
    pub fn params(&self) -> VolumeSlabParams {
        VolumeSlabParams {
            z0: self.z0 as u32,
            z1: self.z1 as u32,
            offset: self.offset,
            _pad: 0,
        }
    }
}

/// Twin of `struct VolumeSlab` in `shaders/common/volume_slab.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct VolumeSlabParams {
    /// First slice of the slab.
    pub z0: u32,
    /// One past its last slice.
    pub z1: u32,
    /// Element offset of slice `z0` in the bound window.
    pub offset: u32,
    _pad: u32,
}

/// Runs `dispatch` once per z-slab of `volume` for kernels whose output and input differ in
/// shape (projectors, back-projectors): no halo and no boundary mode; `overlap` slices past each
/// slab's end are bound too, for kernels that interpolate between a slab's last slice and the
/// next one. The slabs partition `0..nz`.
pub fn for_each_volume_slab(
    rec: &mut Recorder<'_>,
    volume: &GpuVolume,
    overlap: usize,
    mut dispatch: impl FnMut(&mut Recorder<'_>, VolumeSlab<'_>) -> Result<()>,
) -> Result<()> {
    let [nz, ny, nx] = volume.shape();
    let ctx = rec.context();
    let align = ctx.storage_offset_alignment();
    let slice_bytes = (nx * ny * 4) as u64;
    // Slabs of at most (binding − overlap slices) so that slab + overlap fits one binding.
    let limit = ctx
        .max_storage_binding()
        .saturating_sub(overlap as u64 * slice_bytes)
        .max(1);
    // Constant mode never gathers: every slab is a plain window.
    let slabs = plan_slabs(nz, slice_bytes, 0, BoundaryMode::Constant(0.0), limit, align)?;
    for (z0, z1, _) in slabs {
        let end = (z1 + overlap).min(nz);
        let (window, offset) = window(
            &volume.buffer,
            (z0 * nx * ny) as u64,
            ((end - z0) * nx * ny) as u64,
            align,
        );
        dispatch(rec, VolumeSlab { z0, z1, window, offset })?;
    }
    Ok(())
}

/// Runs `dispatch` over `input` in windows of whole slices that each fit one storage binding,
/// for kernels that read every voxel once and write something else (reductions). `dispatch`
/// gets the window, the element offset of its first voxel inside the window, the index of that
/// voxel in the volume, and the number of voxels.
pub fn for_each_window(
    rec: &mut Recorder<'_>,
    input: &GpuVolume,
    mut dispatch: impl FnMut(&mut Recorder<'_>, BufferWindow<'_>, u32, u64, u64) -> Result<()>,
) -> Result<()> {
    let [nz, ny, nx] = input.shape();
    let ctx = rec.context();
    let slice_elems = (ny * nx) as u64;
    let align = ctx.storage_offset_alignment().max(4);
    let slabs = plan_slabs(
        nz,
        slice_elems * 4,
        0,
        BoundaryMode::Nearest,
        ctx.max_storage_binding(),
        align,
    )?;
    for (z0, z1, _) in slabs {
        let first = z0 as u64 * slice_elems;
        let elems = (z1 - z0) as u64 * slice_elems;
        let (win, offset) = window(&input.buffer, first, elems, align);
        dispatch(rec, win, offset, first, elems)?;
    }
    Ok(())
}

/// Copies source slices `sources[i]` to tile slice `i`, merging consecutive runs into one copy.
fn copy_slice_runs(
    rec: &mut Recorder<'_>,
    src: &wgpu::Buffer,
    tile: &wgpu::Buffer,
    sources: &[usize],
    slice_bytes: u64,
) {
    let mut i = 0;
    while i < sources.len() {
        let mut run = 1;
        while i + run < sources.len() && sources[i + run] == sources[i] + run {
            run += 1;
        }
        rec.copy(
            src,
            sources[i] as u64 * slice_bytes,
            tile,
            i as u64 * slice_bytes,
            run as u64 * slice_bytes,
        );
        i += run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_volume_is_one_window() {
        let slabs = plan_slabs(10, 1024, 3, BoundaryMode::Wrap, 1 << 20, 256).unwrap();
        assert_eq!(slabs, vec![(0, 10, SlabInput::Window { first: 0, count: 10 })]);
    }

    #[test]
    fn slabs_cover_volume_and_respect_binding() {
        // 100 slices of 1 KiB, binding of 20 KiB (minus alignment): 19 slices per binding.
        for mode in [
            BoundaryMode::Reflect,
            BoundaryMode::Wrap,
            BoundaryMode::Constant(1.0),
            BoundaryMode::Mirror,
        ] {
            let slabs = plan_slabs(100, 1024, 4, mode, 20 * 1024, 256).unwrap();
            let mut next = 0;
            for (z0, z1, input) in &slabs {
                assert_eq!(*z0, next);
                next = *z1;
                let slices = match input {
                    SlabInput::Window { first, count } => {
                        assert!(*first <= z0.saturating_sub(4) && first + count >= (z1 + 4).min(100));
                        *count
                    }
                    SlabInput::Gathered { sources } => {
                        assert_eq!(sources.len(), z1 - z0 + 8);
                        sources.len()
                    }
                };
                assert!(slices as u64 * 1024 + 256 <= 20 * 1024);
            }
            assert_eq!(next, 100);
        }
    }

    #[test]
    fn wrap_gathers_the_far_end() {
        let slabs = plan_slabs(100, 1024, 2, BoundaryMode::Wrap, 20 * 1024, 256).unwrap();
        match &slabs[0].2 {
            SlabInput::Gathered { sources } => assert_eq!(&sources[..3], &[98, 99, 0]),
            other => panic!("expected a gathered first slab, got {other:?}"),
        }
        assert!(matches!(slabs[1].2, SlabInput::Window { .. }));
    }

    #[test]
    fn slice_larger_than_binding_is_an_error() {
        let err = plan_slabs(100, 1 << 20, 0, BoundaryMode::Reflect, 512 * 1024, 256).unwrap_err();
        assert!(err.to_string().contains("one slice"), "{err}");
    }

    #[test]
    fn halo_too_large_for_binding_is_an_error() {
        let err = plan_slabs(100, 1024, 20, BoundaryMode::Reflect, 20 * 1024, 256).unwrap_err();
        assert!(matches!(err, Error::TooLarge(_)), "{err}");
    }
}

//! Connected-component labelling on the GPU (`shaders/segment/label_*.wgsl`), the twin of
//! [`super::label`] for 2D and 3D masks with a 3×…×3 structure: the same union-find rule
//! (larger root under the smaller, so roots are first voxels and the numbering is scipy's), one
//! invocation per voxel.
//!
//! 1. `init`: foreground voxels (non-zero or NaN) are their own roots;
//! 2. `merge`: each voxel joins its backward neighbours' trees (lock-free compare-and-swap);
//! 3. `flatten`: blocks of [`LABEL_BLOCK`] voxels rank their roots in raster order (stored in
//!    the roots' entries, flagged) and count them; every other voxel points at its root;
//! 4. `scan`: one workgroup turns the counts into each block's first label;
//! 5. `write_labels`: every entry becomes its voxel's label, in place (the forest's buffer is
//!    the result).
//!
//! Everything is one submission with one 4-byte read-back (the count). Volumes above one
//! storage binding run steps 1–3 per z-slab on the GPU; the host then joins the slabs across
//! their borders and numbers the components (a pass over the labels on the CPU).

use ndarray::{ArrayViewD, IxDyn};

use super::Labels;
use super::label::{BACKGROUND, Neighbour, backward_neighbours, finish_voxel_forest};
use crate::error::{Error, Result};
use crate::gpu::{Binding, BufferWindow, GpuContext, GpuVolume, KernelSpec, KernelTime, Recorder, uniform, wgsl};

crate::wgsl_constants!(pub(crate) LABEL_CONSTANTS: u32 {
    LABEL_BACKGROUND = BACKGROUND,
    LABEL_BLOCK = 1024,
    LABEL_THREADS = 256,
    // Marks a root's rank in its parent entry (voxel indices and labels stay below 2^31:
    // a binding holds under 2^30 voxels).
    LABEL_NUMBERED = 1 << 31,
});

/// Voxels one labelling dispatch may index: indices and labels must stay below
/// `LABEL_NUMBERED` (adapters may bind more than 8 GiB).
const MAX_VOXELS: usize = LABEL_NUMBERED as usize;

/// Twin of `Params` in `label_params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LabelParams {
    nx: u32,
    ny: u32,
    nz: u32,
    n: u32,
    blocks: u32,
    neighbours: u32,
    mask_offset: u32,
    _pad: u32,
    steps: [[i32; 4]; 13],
}

const PARAMS: &str = include_str!("../../shaders/segment/label_params.wgsl");
const FIND: &str = include_str!("../../shaders/segment/label_find.wgsl");
const WORKGROUP_SUM: &str = include_str!("../../shaders/segment/label_workgroup_sum.wgsl");

macro_rules! label_kernel {
    ($static:ident, $name:literal, $file:literal, $entry:literal, [$($b:expr),*]) => {
        pub(crate) static $static: KernelSpec = KernelSpec {
            name: $name,
            sources: &[wgsl::TILE, PARAMS, FIND, include_str!($file)],
            entry: $entry,
            bindings: &[uniform::<LabelParams>(), $($b),*],
            constants: &[LABEL_CONSTANTS],
        };
    };
}

label_kernel!(
    INIT,
    "segment/label_init",
    "../../shaders/segment/label_init.wgsl",
    "init",
    [Binding::ReadWrite, Binding::Read]
);
label_kernel!(
    MERGE,
    "segment/label_merge",
    "../../shaders/segment/label_merge.wgsl",
    "merge",
    [Binding::ReadWrite]
);
pub(crate) static FLATTEN: KernelSpec = KernelSpec {
    name: "segment/label_flatten",
    sources: &[
        wgsl::TILE,
        PARAMS,
        FIND,
        WORKGROUP_SUM,
        include_str!("../../shaders/segment/label_flatten.wgsl"),
    ],
    entry: "flatten",
    bindings: &[uniform::<LabelParams>(), Binding::ReadWrite, Binding::ReadWrite],
    constants: &[LABEL_CONSTANTS],
};
label_kernel!(
    WRITE,
    "segment/label_write",
    "../../shaders/segment/label_write.wgsl",
    "write_labels",
    [Binding::ReadWrite, Binding::Read]
);

pub(crate) static SCAN: KernelSpec = KernelSpec {
    name: "segment/label_scan",
    sources: &[
        PARAMS,
        WORKGROUP_SUM,
        include_str!("../../shaders/segment/label_scan.wgsl"),
    ],
    entry: "scan",
    bindings: &[uniform::<LabelParams>(), Binding::ReadWrite],
    constants: &[LABEL_CONSTANTS],
};

/// The kernels of this file, for `src/kernels.rs`.
#[cfg(test)]
pub(crate) const KERNELS: [&KernelSpec; 8] = [
    &INIT,
    &MERGE,
    &FLATTEN,
    &SCAN,
    &WRITE,
    &HOLES_INIT,
    &HOLES_MARK,
    &HOLES_FILL,
];

label_kernel!(
    HOLES_INIT,
    "segment/holes_init",
    "../../shaders/segment/holes_init.wgsl",
    "init_background",
    [Binding::ReadWrite, Binding::Read]
);
label_kernel!(
    HOLES_MARK,
    "segment/holes_mark",
    "../../shaders/segment/holes_mark.wgsl",
    "mark_border",
    [Binding::ReadWrite, Binding::ReadWrite, uniform::<[u32; 4]>()]
);
label_kernel!(
    HOLES_FILL,
    "segment/holes_fill",
    "../../shaders/segment/holes_fill.wgsl",
    "fill",
    [Binding::ReadWrite, Binding::Read, Binding::ReadWrite]
);

/// `scipy.ndimage.binary_fill_holes` of a mask within one storage binding (non-zero or NaN =
/// foreground), recorded: the background's components by the labelling's union-find (face
/// connectivity, as scipy's default structure), those that reach the border (the z faces too
/// when `three_d`) marked at their roots, every other background voxel filled — four dispatches,
/// no read-back. The result is 1.0 / 0.0.
pub(crate) fn record_fill_holes(rec: &mut Recorder<'_>, mask: &GpuVolume, three_d: bool) -> Result<GpuVolume> {
    let shape = mask.shape();
    let neighbours = backward_neighbours(&shape, Some(super::generate_binary_structure(3, 1)?.view()))?;
    // An image's structure has no z neighbours (and a one-slice volume has none to link).
    let neighbours: Vec<Neighbour> = neighbours.into_iter().filter(|nb| three_d || nb.step[0] == 0).collect();
    let p = params(shape, &neighbours, 0);
    let uniform = rec.uniform(&p);
    let u = BufferWindow::whole(&uniform);
    let parent = rec.volume(shape)?;
    let par = BufferWindow::whole(parent.buffer());
    let reaches = rec.scratch(mask.byte_len());
    let flags = rec.uniform(&[u32::from(three_d), 0, 0, 0]);
    let filled = rec.volume(shape)?;
    let n = mask.len() as u64;
    rec.dispatch_linear(&HOLES_INIT, &[u, par, BufferWindow::whole(mask.buffer())], n)?;
    rec.dispatch_linear(&MERGE, &[u, par], n)?;
    rec.dispatch_linear(
        &HOLES_MARK,
        &[u, par, BufferWindow::whole(&reaches), BufferWindow::whole(&flags)],
        n,
    )?;
    rec.dispatch_linear(
        &HOLES_FILL,
        &[
            u,
            par,
            BufferWindow::whole(&reaches),
            BufferWindow::whole(filled.buffer()),
        ],
        n,
    )?;
    rec.recycle(parent);
    Ok(filled)
}

/// A labelling resident on the GPU.
#[derive(Debug)]
pub struct GpuLabels {
    /// Labels as `u32` bits in a volume's buffer (read them with [`GpuVolume::download_u32`]).
    pub labels: GpuVolume,
    /// The number of components.
    pub count: usize,
    /// GPU time of the labelling's passes (timestamps), where the adapter measures it.
    pub kernel_time: KernelTime,
}

fn params(shape: [usize; 3], neighbours: &[Neighbour], mask_offset: u32) -> LabelParams {
    let [nz, ny, nx] = shape;
    let n = nz * ny * nx;
    let mut steps = [[0i32; 4]; 13];
    for (s, nb) in steps.iter_mut().zip(neighbours) {
        *s = [nb.step[2] as i32, nb.step[1] as i32, nb.step[0] as i32, nb.flat as i32];
    }
    LabelParams {
        nx: nx as u32,
        ny: ny as u32,
        nz: nz as u32,
        n: n as u32,
        blocks: n.div_ceil(LABEL_BLOCK as usize) as u32,
        neighbours: neighbours.len() as u32,
        mask_offset,
        _pad: 0,
        steps,
    }
}

/// A 3×3×3 structure's backward neighbours for a `(z, y, x)` volume (a 2D structure is the
/// middle slice of one).
fn volume_neighbours(
    shape: [usize; 3],
    structure: Option<ArrayViewD<'_, bool>>,
    ndim: usize,
) -> Result<Vec<Neighbour>> {
    let default;
    let structure = match structure {
        Some(s) => s,
        None => {
            default = super::generate_binary_structure(ndim, 1)?;
            default.view()
        }
    };
    if ndim == 2 && structure.ndim() == 2 {
        // A 2D structure is the middle slice of a 3D one.
        let mut cube = ndarray::ArrayD::from_elem(IxDyn(&[3, 3, 3]), false);
        cube.index_axis_mut(ndarray::Axis(0), 1).assign(&structure);
        return backward_neighbours(&shape, Some(cube.view()));
    }
    if ndim == 2 {
        // Let the shared check word the rank error.
        return backward_neighbours(&shape[1..], Some(structure));
    }
    backward_neighbours(&shape, Some(structure))
}

/// Labels a mask resident on the GPU (non-zero or NaN = foreground; `ndim` 2 treats each slice
/// of a one-slice volume as the image, with a 2D `structure`), within one storage binding.
pub fn label_gpu(
    ctx: &GpuContext,
    mask: &GpuVolume,
    structure: Option<ArrayViewD<'_, bool>>,
    ndim: usize,
) -> Result<GpuLabels> {
    mask.check_context(ctx)?;
    let shape = mask.shape();
    check_gpu_ndim(ndim, shape)?;
    let neighbours = volume_neighbours(shape, structure, ndim)?;
    if mask.byte_len() > ctx.max_storage_binding() || mask.len() >= MAX_VOXELS {
        return Err(Error::TooLarge(format!(
            "a resident labelling needs the volume in one storage binding and under 2^31 voxels ({} bytes; this adapter binds {}): use label_on_gpu() or label() on the host array, which run by slabs",
            mask.byte_len(),
            ctx.max_storage_binding()
        )));
    }
    let p = params(shape, &neighbours, 0);
    let mut rec = Recorder::new(ctx);
    // The forest, numbered and then overwritten by the labels in place.
    let parent = rec.volume(shape)?;
    let counts = rec.scratch((u64::from(p.blocks) + 1) * 4);
    let uniform = rec.uniform(&p);
    let u = BufferWindow::whole(&uniform);
    let par = BufferWindow::whole(parent.buffer());
    let n = mask.len() as u64;
    rec.dispatch_linear(&INIT, &[u, par, BufferWindow::whole(mask.buffer())], n)?;
    rec.dispatch_linear(&MERGE, &[u, par], n)?;
    rec.dispatch_folded(&FLATTEN, &[u, par, BufferWindow::whole(&counts)], u64::from(p.blocks))?;
    rec.dispatch_groups(&SCAN, &[u, BufferWindow::whole(&counts)], [1, 1, 1])?;
    rec.dispatch_linear(&WRITE, &[u, par, BufferWindow::whole(&counts)], n)?;
    let staging = rec.scratch(4);
    rec.copy(&counts, u64::from(p.blocks) * 4, &staging, 0, 4);
    let total = rec.read_back(&staging, 4);
    let kernel_time = rec.submit()?;
    let count = bytemuck::pod_read_unaligned::<u32>(&total.read(ctx)?) as usize;
    Ok(GpuLabels {
        labels: parent,
        count,
        kernel_time,
    })
}

fn check_gpu_ndim(ndim: usize, shape: [usize; 3]) -> Result<()> {
    if ndim == 3 || (ndim == 2 && shape[0] == 1) {
        Ok(())
    } else {
        Err(Error::InvalidShape(format!(
            "GPU labelling takes 2D images (one-slice volumes) and 3D volumes; got {ndim} dimensions of shape {shape:?}"
        )))
    }
}

/// Labels a host mask on the GPU: 2D `(y, x)` or 3D `(z, y, x)`. Volumes within one storage
/// binding are labelled entirely on the GPU; larger ones slab by slab, joined on the host.
pub fn label_on_gpu(
    ctx: &GpuContext,
    input: ArrayViewD<'_, bool>,
    structure: Option<ArrayViewD<'_, bool>>,
) -> Result<Labels> {
    let ndim = input.ndim();
    let dims = input.shape().to_vec();
    let shape = super::volume_shape(&dims, "labelling")?;
    if input.is_empty() {
        return super::label(input, structure);
    }
    let mask3 = super::mask_volume(input.view(), shape)?;
    let plane = shape[1] * shape[2];
    let binding = ctx.max_storage_binding();
    if (mask3.len() as u64) * 4 <= binding && mask3.len() < MAX_VOXELS {
        let mask = GpuVolume::upload(ctx, mask3.view())?;
        let out = label_gpu(ctx, &mask, structure, ndim)?;
        let labels = out.labels.download_u32(ctx)?;
        return Ok(Labels {
            labels: labels
                .into_shape_with_order(IxDyn(&dims))
                .map_err(|e| Error::Gpu(e.to_string()))?,
            count: out.count,
        });
    }
    // Slabs: whole slices, each within a binding (less the window alignment).
    let align = ctx.storage_offset_alignment();
    let slab_nz = ((binding.saturating_sub(align) / 4) as usize)
        .min(MAX_VOXELS - 1)
        .checked_div(plane)
        .unwrap_or(0)
        .min(shape[0]);
    if slab_nz == 0 {
        return Err(Error::TooLarge(format!(
            "one slice of {plane} voxels does not fit this adapter's storage binding of {binding} bytes"
        )));
    }
    let neighbours = volume_neighbours(shape, structure, ndim)?;
    let mask = GpuVolume::upload(ctx, mask3.view())?;
    let n = mask3.len();
    let mut parent = vec![0u32; n];
    let slab_parent = GpuVolume::zeros(ctx, [slab_nz, shape[1], shape[2]])?;
    let mut z0 = 0;
    while z0 < shape[0] {
        let nz = slab_nz.min(shape[0] - z0);
        let (window, offset) =
            crate::gpu::storage_window(mask.buffer(), (z0 * plane) as u64, (nz * plane) as u64, align);
        let p = params([nz, shape[1], shape[2]], &neighbours, offset);
        let mut rec = Recorder::new(ctx);
        let uniform = rec.uniform(&p);
        let counts = rec.scratch((u64::from(p.blocks) + 1) * 4);
        let u = BufferWindow::whole(&uniform);
        let par = BufferWindow {
            buffer: slab_parent.buffer(),
            offset: 0,
            size: (nz * plane * 4) as u64,
        };
        rec.dispatch_linear(&INIT, &[u, par, window], u64::from(p.n))?;
        rec.dispatch_linear(&MERGE, &[u, par], u64::from(p.n))?;
        rec.dispatch_folded(&FLATTEN, &[u, par, BufferWindow::whole(&counts)], u64::from(p.blocks))?;
        let read = rec.read_back(slab_parent.buffer(), (nz * plane * 4) as u64);
        rec.submit()?;
        let bytes = read.read(ctx)?;
        let base = (z0 * plane) as u32;
        // Roots hold their rank in the slab's block, flagged: here they point at themselves.
        for ((index, dst), local) in (base..)
            .zip(&mut parent[z0 * plane..(z0 + nz) * plane])
            .zip(bytemuck::cast_slice::<u8, u32>(&bytes))
        {
            *dst = if *local == BACKGROUND {
                BACKGROUND
            } else if local & LABEL_NUMBERED != 0 {
                index
            } else {
                local + base
            };
        }
        z0 += nz;
    }
    let (labels, count) = finish_voxel_forest(parent, shape, &neighbours, slab_nz);
    Ok(Labels {
        labels: ndarray::ArrayD::from_shape_vec(IxDyn(&dims), labels).map_err(|e| Error::Gpu(e.to_string()))?,
        count,
    })
}

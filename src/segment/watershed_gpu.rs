//! The classic watershed on the GPU (`shaders/segment/watershed_relax.wgsl`): a minimax flood
//! by Jacobi relaxation instead of a priority queue.
//!
//! Every free sample repeatedly takes, among its reached neighbours, the one with the smallest
//! (cost, steps along its plateau, label) and becomes (max(height, cost), steps, label); markers
//! start at (height, 0, label). The fixed point gives every sample its minimax cost from the
//! markers (the height at which the CPU flood reaches it), and its label is that of a
//! neighbour the CPU flood releases first — the CPU's own choice — except where neighbours of
//! *different labels* tie on cost: the CPU then follows arrival order, the GPU the neighbour
//! fewer plateau steps from where the flood entered that height, then the smaller label. So
//! the two agree label for label on images whose floods never meet at equal cost (no plateaus
//! between basins), and the tie rule above holds otherwise. Heights are flooded as float32:
//! float64 heights closer than float32 resolves are equal heights here.
//!
//! Runs within one storage binding (16 bytes a sample); a step is one dispatch, and every 32
//! steps one 4-byte read-back asks whether any state changed.

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};
use rayon::prelude::*;

use super::watershed::WatershedOptions;
use crate::error::{Error, Result};
use crate::gpu::{Binding, BufferWindow, GpuContext, KernelSpec, Recorder, uniform, wgsl};

crate::wgsl_constants!(pub(crate) WATERSHED_CONSTANTS: u32 {
    WATERSHED_FIXED = FIXED,
    WATERSHED_OUTSIDE = OUTSIDE,
    WATERSHED_UNREACHED = UNREACHED,
});

/// State flags: a marker, a sample outside the mask; the cost of an unreached sample (+inf).
const FIXED: u32 = 1;
const OUTSIDE: u32 = 2;
const UNREACHED: u32 = 0x7f80_0000;

/// Steps recorded between two convergence checks.
const STEPS_PER_CHECK: usize = 32;

/// Twin of `Params` in `watershed_relax.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct WatershedParams {
    nx: u32,
    ny: u32,
    nz: u32,
    n: u32,
    neighbours: u32,
    _pad: [u32; 3],
    steps: [[i32; 4]; 26],
}

pub(crate) static RELAX: KernelSpec = KernelSpec {
    name: "segment/watershed_relax",
    sources: &[wgsl::TILE, include_str!("../../shaders/segment/watershed_relax.wgsl")],
    entry: "relax",
    bindings: &[
        uniform::<WatershedParams>(),
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    constants: &[WATERSHED_CONSTANTS],
};

/// The kernels of this file, for `src/kernels.rs`.
#[cfg(test)]
pub(crate) const KERNELS: [&KernelSpec; 1] = [&RELAX];

/// [`super::watershed`] on the GPU for 2D and 3D images: the classic flood (no compactness, no
/// watershed lines) with a centred 3 × … × 3 footprint, within one storage binding. Equal to
/// the CPU where no two labels meet at equal cost; see the module docs for the tie rule.
pub fn watershed_on_gpu<M: Copy + Ord + Default + Send + Sync>(
    ctx: &GpuContext,
    image: ArrayViewD<'_, f64>,
    markers: ArrayViewD<'_, M>,
    options: &WatershedOptions<'_>,
) -> Result<ArrayD<M>> {
    let dims = image.shape().to_vec();
    let shape = super::volume_shape(&dims, "watershed")?;
    super::watershed::check_shapes(&dims, markers.shape(), options)?;
    if options.compactness != 0.0 || options.watershed_line {
        return Err(Error::param(
            "backend",
            "the GPU floods the classic watershed only (compactness 0, no watershed lines): use the CPU",
        ));
    }
    let steps = footprint_steps(&dims, shape, options)?;
    let n = image.len();
    if n == 0 {
        return Ok(ArrayD::from_elem(IxDyn(&dims), M::default()));
    }
    let bytes = 16 * n as u64;
    if bytes > ctx.max_storage_binding() || n >= u32::MAX as usize {
        return Err(Error::TooLarge(format!(
            "the GPU watershed keeps 16 bytes a sample in one storage binding ({bytes} bytes; this adapter binds {}): use the CPU watershed",
            ctx.max_storage_binding()
        )));
    }
    let image = image.as_standard_layout();
    let image = image.as_slice().expect("standard layout");
    if image.par_iter().any(|v| v.is_nan()) {
        return Err(Error::param(
            "image",
            "NaN heights: the GPU flood orders heights as numbers; use the CPU watershed (scikit-image's NaN order)",
        ));
    }
    let markers = markers.as_standard_layout();
    let markers = markers.as_slice().expect("standard layout");
    let mask = options.mask.as_ref().map(|m| m.as_standard_layout());
    let mask = mask.as_ref().map(|m| m.as_slice().expect("standard layout"));
    let inside = |i: usize| mask.is_none_or(|m| m[i]);
    let labels = super::watershed_flood::distinct_labels(markers, &inside);
    let heights: Vec<f32> = image.par_iter().map(|&v| v as f32).collect();
    let state: Vec<[u32; 4]> = (0..n)
        .into_par_iter()
        .map(|i| match (inside(i), markers[i]) {
            (false, _) => [UNREACHED, 0, 0, OUTSIDE],
            (true, m) if m == M::default() => [UNREACHED, 0, 0, 0],
            (true, m) => {
                let rank = 1 + labels.binary_search(&m).expect("collected") as u32;
                [heights[i].to_bits(), 0, rank, FIXED]
            }
        })
        .collect();
    let [nz, ny, nx] = shape;
    let mut p = WatershedParams {
        nx: nx as u32,
        ny: ny as u32,
        nz: nz as u32,
        n: n as u32,
        neighbours: steps.len() as u32,
        _pad: [0; 3],
        steps: [[0; 4]; 26],
    };
    p.steps[..steps.len()].copy_from_slice(&steps);
    let final_state = relax(ctx, &p, &heights, &state)?;
    let table: Vec<M> = std::iter::once(M::default()).chain(labels).collect();
    let out: Vec<M> = final_state.par_iter().map(|s| table[s[2] as usize]).collect();
    ArrayD::from_shape_vec(IxDyn(&dims), out).map_err(|e| Error::InvalidShape(e.to_string()))
}

/// The footprint's points other than the centre as (dx, dy, dz, flat) steps of the volume.
fn footprint_steps(dims: &[usize], shape: [usize; 3], options: &WatershedOptions<'_>) -> Result<Vec<[i32; 4]>> {
    let ndim = dims.len();
    let footprint = super::watershed::footprint_of(options, ndim)?;
    if footprint.ndim() != ndim || footprint.shape().iter().any(|&s| s != 3) {
        return Err(Error::param(
            "connectivity",
            format!(
                "the GPU flood takes a 3 × … × 3 footprint of the image's {ndim} axes; got shape {:?}",
                footprint.shape()
            ),
        ));
    }
    if options.offset.as_ref().is_some_and(|o| o.iter().any(|&c| c != 1)) {
        return Err(Error::param("offset", "the GPU flood takes centred footprints only"));
    }
    let [_, ny, nx] = shape;
    Ok(footprint
        .indexed_iter()
        .filter(|&(ref index, &on)| on && index.slice().iter().any(|&c| c != 1))
        .map(|(index, _)| {
            let d: Vec<i32> = index.slice().iter().map(|&c| c as i32 - 1).collect();
            let (dz, dy, dx) = if ndim == 3 { (d[0], d[1], d[2]) } else { (0, d[0], d[1]) };
            [dx, dy, dz, dx + dy * nx as i32 + dz * (ny * nx) as i32]
        })
        .collect())
}

/// Jacobi steps until no state changes; the fixed point.
fn relax(ctx: &GpuContext, p: &WatershedParams, heights: &[f32], state: &[[u32; 4]]) -> Result<Vec<[u32; 4]>> {
    let bytes = std::mem::size_of_val(state) as u64;
    let mut rec = Recorder::new(ctx);
    let uniform = rec.uniform(p);
    let heights = rec.constants(heights);
    let initial = rec.constants(state);
    let buffers = [rec.scratch(bytes), rec.scratch(bytes)];
    let changed = rec.scratch(4);
    let zero = rec.scratch(4);
    let (u, h, flag) = (
        BufferWindow::whole(&uniform),
        BufferWindow::whole(&heights),
        BufferWindow::whole(&changed),
    );
    // The flood is at most one step a sample away from its fixed point per plateau pass; the
    // bound only guards against a kernel that never settles.
    let limit = 4 * state.len() + 4 * STEPS_PER_CHECK;
    let mut steps = 0;
    loop {
        for k in 0..STEPS_PER_CHECK {
            if k == STEPS_PER_CHECK - 1 {
                // Only the last step of the batch is asked whether anything changed.
                rec.copy(&zero, 0, &changed, 0, 4);
            }
            // The very first step reads the initial state.
            let from = if steps == 0 && k == 0 {
                &initial
            } else {
                &buffers[k % 2]
            };
            let to = &buffers[(k + 1) % 2];
            rec.dispatch_linear(
                &RELAX,
                &[u, h, BufferWindow::whole(from), BufferWindow::whole(to), flag],
                u64::from(p.n),
            )?;
        }
        steps += STEPS_PER_CHECK;
        let answer = rec.read_back(&changed, 4);
        rec.flush()?;
        if bytemuck::pod_read_unaligned::<u32>(&answer.read(ctx)?) == 0 {
            break;
        }
        if steps > limit {
            return Err(Error::Gpu(format!("the GPU watershed did not settle in {steps} steps")));
        }
    }
    // An even batch ends in the first buffer.
    let result = rec.read_back(&buffers[0], bytes);
    rec.submit()?;
    Ok(bytemuck::cast_slice(&result.read(ctx)?).to_vec())
}

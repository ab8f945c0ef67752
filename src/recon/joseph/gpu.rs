//! The GPU pair: `shaders/recon/joseph_*.wgsl`, the same taps in f32; the forward projection
//! one invocation per ray, the transpose a gather over the rays that reach each column of
//! `BACKWARD_COLUMN` voxels along z (a second entry point for steep rays, dispatched only when
//! `Joseph::has_steep_rays`). One variant per beam (`BEAM` emitted as a constant).

use super::Joseph;
use crate::error::Result;
use crate::gpu::Constant;
use crate::gpu::{Binding, uniform};
use crate::gpu::{
    BufferWindow, GpuProjections, GpuVolume, KernelSpec, Recorder, VolumeSlab, VolumeSlabParams, for_each_volume_slab,
    wgsl,
};
use crate::recon::geometry::DetectorMap;
use crate::recon::geometry::{BEAM_ARC, BEAM_CODES, BEAM_FLAT, BEAM_PARALLEL};

/// Twin of `JosephParams` in `shaders/recon/joseph_common.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct JosephParams {
    slab: VolumeSlabParams,
    nx: u32,
    ny: u32,
    nz: u32,
    cols: u32,
    rows: u32,
    views: u32,
    first_view: u32,
    beam: u32,
    sdd: f32,
    centre_col: f32,
    centre_row: f32,
    batch_first: u32,
    origin: [f32; 4],
    spacing: [f32; 4],
}

const JOSEPH_COMMON: &str = include_str!("../../../shaders/recon/joseph_common.wgsl");

/// Twin of `SwapParams` in `shaders/recon/joseph_swap_xy.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct SwapParams {
    nx: u32,
    ny: u32,
    slices: u32,
    offset: u32,
}

/// The slab copy with x and y swapped that the forward projection's rays along x read.
pub(crate) static SWAP_XY: KernelSpec = KernelSpec {
    name: "recon/joseph_swap_xy",
    sources: &[include_str!("../../../shaders/recon/joseph_swap_xy.wgsl")],
    entry: "swap_xy",
    bindings: &[uniform::<SwapParams>(), Binding::Read, Binding::ReadWrite],
    constants: &[],
};

/// The forward and backward kernels compiled for one beam (BEAM emitted as a constant: the
/// branches of the other beams vanish at compile time).
macro_rules! joseph_kernels {
    ($forward:ident, $backward:ident, $steep:ident, $beam:expr, $fname:literal, $bname:literal, $sname:literal) => {
        pub(crate) static $forward: KernelSpec = KernelSpec {
            name: $fname,
            sources: &[
                wgsl::VOLUME_SLAB,
                JOSEPH_COMMON,
                include_str!("../../../shaders/recon/joseph_forward.wgsl"),
            ],
            entry: "forward",
            bindings: &[
                uniform::<JosephParams>(),
                Binding::Read,
                Binding::Read,
                Binding::ReadWrite,
                Binding::Read,
            ],
            constants: &[BEAM_CODES, &[("BEAM", Constant::U32($beam))]],
        };
        pub(crate) static $backward: KernelSpec = KernelSpec {
            name: $bname,
            sources: &[
                wgsl::FLOAT,
                wgsl::VOLUME_SLAB,
                JOSEPH_COMMON,
                include_str!("../../../shaders/recon/joseph_backward.wgsl"),
            ],
            entry: "backward",
            bindings: BACKWARD_BINDINGS,
            constants: &[BEAM_CODES, BACKWARD_CONSTANTS, &[("BEAM", Constant::U32($beam))]],
        };
        pub(crate) static $steep: KernelSpec = KernelSpec {
            name: $sname,
            sources: $backward.sources,
            entry: "backward_steep",
            bindings: BACKWARD_BINDINGS,
            constants: &[BEAM_CODES, BACKWARD_CONSTANTS, &[("BEAM", Constant::U32($beam))]],
        };
    };
}

const BACKWARD_BINDINGS: &[Binding] = &[
    uniform::<JosephParams>(),
    Binding::Read,
    Binding::Read,
    Binding::Read,
    Binding::ReadWrite,
];
joseph_kernels!(
    FORWARD_PARALLEL,
    BACKWARD_PARALLEL,
    STEEP_PARALLEL,
    BEAM_PARALLEL,
    "recon/joseph_forward_parallel",
    "recon/joseph_backward_parallel",
    "recon/joseph_backward_steep_parallel"
);
joseph_kernels!(
    FORWARD_FLAT,
    BACKWARD_FLAT,
    STEEP_FLAT,
    BEAM_FLAT,
    "recon/joseph_forward_flat",
    "recon/joseph_backward_flat",
    "recon/joseph_backward_steep_flat"
);
joseph_kernels!(
    FORWARD_ARC,
    BACKWARD_ARC,
    STEEP_ARC,
    BEAM_ARC,
    "recon/joseph_forward_arc",
    "recon/joseph_backward_arc",
    "recon/joseph_backward_steep_arc"
);

// Voxels along z one backward invocation gathers: the 8 lanes of its two vec4 accumulators.
crate::wgsl_constants!(BACKWARD_CONSTANTS: u32 { COLUMN = 8 });
const BACKWARD_COLUMN: usize = COLUMN as usize;

/// The GPU tables of a projector: per-view vectors and projection matrices.
struct JosephTables {
    vectors: wgpu::Buffer,
    matrices: wgpu::Buffer,
}

impl Joseph {
    /// The kernels of this geometry's beam: forward, backward, backward for steep rays.
    fn kernels(&self) -> [&'static KernelSpec; 3] {
        match self.geometry.beam_code() {
            BEAM_PARALLEL => [&FORWARD_PARALLEL, &BACKWARD_PARALLEL, &STEEP_PARALLEL],
            BEAM_FLAT => [&FORWARD_FLAT, &BACKWARD_FLAT, &STEEP_FLAT],
            _ => [&FORWARD_ARC, &BACKWARD_ARC, &STEEP_ARC],
        }
    }

    /// Whether a ray that taps the volume may have z as its main axis (|e_z| ≥ |e_x|, |e_y| in
    /// voxel steps), so the transpose needs its steep pass. A ray that taps the volume passes
    /// through the box of voxel indices [-1, n] on every axis; from the source, the steepest
    /// such direction pairs the farther z end of the box with the nearest point of its xy
    /// extent. A 1 % margin covers the kernels' f32 rounding.
    pub(crate) fn has_steep_rays(&self) -> bool {
        let [nz, ny, nx] = self.shape;
        if nz <= 1 {
            return false;
        }
        let origin = self.grid.origin;
        let spacing = [self.grid.spacing[2], self.grid.spacing[1], self.grid.spacing[0]];
        let n = [nx as f64, ny as f64, nz as f64];
        let parallel = self.geometry.beam_code() == BEAM_PARALLEL;
        self.geometry.views.iter().any(|w| {
            if parallel {
                let e: [f64; 3] = std::array::from_fn(|i| (w.source[i] / spacing[i]).abs());
                return e[2] >= 0.99 * e[0].max(e[1]);
            }
            let s: [f64; 3] = std::array::from_fn(|i| (w.source[i] - origin[i]) / spacing[i]);
            let outside = |i: usize| (-1.0 - s[i]).max(s[i] - n[i]).max(0.0);
            let far_z = (s[2] + 1.0).abs().max((s[2] - n[2]).abs());
            far_z >= 0.99 * outside(0).max(outside(1))
        })
    }

    /// The parameters of one dispatch: `count` views from `first_view` (the first of them at
    /// `batch_first` in the bound batch), the volume slab `slab`.
    fn params(&self, count: usize, first_view: usize, batch_first: usize, slab: &VolumeSlab<'_>) -> JosephParams {
        let g = &self.geometry;
        let [nz, ny, nx] = self.shape;
        JosephParams {
            nx: nx as u32,
            ny: ny as u32,
            nz: nz as u32,
            slab: slab.params(),
            cols: g.cols as u32,
            rows: g.rows as u32,
            views: count as u32,
            first_view: first_view as u32,
            beam: g.beam_code(),
            sdd: if g.sdd.is_finite() { g.sdd as f32 } else { 0.0 },
            centre_col: ((g.cols as f64 - 1.0) / 2.0 - g.offset_u) as f32,
            centre_row: ((g.rows as f64 - 1.0) / 2.0 - g.offset_v) as f32,
            batch_first: batch_first as u32,
            origin: [
                self.grid.origin[0] as f32,
                self.grid.origin[1] as f32,
                self.grid.origin[2] as f32,
                0.0,
            ],
            spacing: [
                self.grid.spacing[2] as f32,
                self.grid.spacing[1] as f32,
                self.grid.spacing[0] as f32,
                1.0,
            ],
        }
    }

    fn tables(&self, rec: &Recorder<'_>) -> Result<JosephTables> {
        let f = |v: [f64; 3]| [v[0] as f32, v[1] as f32, v[2] as f32, 0.0];
        let vectors: Vec<[f32; 4]> = self
            .geometry
            .views
            .iter()
            .flat_map(|w| [f(w.source), f(w.detector_centre), f(w.u), f(w.v)])
            .collect();
        let map = DetectorMap::new(&self.geometry, &self.grid)?;
        let (arc_scale, arc_centre, arc_centre_row) = map
            .arc
            .map_or((0.0, 0.0, 0.0), |a| (a.scale, a.centre_col, a.centre_row));
        let matrices: Vec<[f32; 4]> = map
            .matrices
            .iter()
            .flat_map(|m| {
                [
                    m.rows[0].map(|c| c as f32),
                    m.rows[1].map(|c| c as f32),
                    m.rows[2].map(|c| c as f32),
                    [1.0, arc_scale as f32, arc_centre as f32, arc_centre_row as f32],
                ]
            })
            .collect();
        Ok(JosephTables {
            vectors: rec.constants(&vectors),
            matrices: rec.constants(&matrices),
        })
    }

    /// Records `out += A volume` (resident volume → resident projections) into `rec`: one
    /// invocation per ray, the volume bound in z-slabs (with one slice of overlap for the
    /// interpolation) when it exceeds one binding, the views in `out`'s batches.
    pub fn record_forward(&self, rec: &mut Recorder<'_>, volume: &GpuVolume, out: &GpuProjections) -> Result<()> {
        self.check_volume(volume.shape())?;
        self.check_projections(out.shape())?;
        let [nz, ny, nx] = self.shape;
        // A ray marches up to the volume's longest axis, each step up to 2 × 2 taps in loops:
        // seven iterations, and llvmpipe's GL driver was measured counting eleven (its loops'
        // exits count too), so twelve.
        rec.check_loop_budget(
            &format!("Joseph's forward projection through {nz}×{ny}×{nx} voxels"),
            12 * nz.max(ny).max(nx) as u64 + 64,
        )?;
        let tables = self.tables(rec)?;
        // One slice of overlap: a ray interpolates between a slab's last slice and the next.
        for_each_volume_slab(rec, volume, 1, |rec, slab| {
            // The slab's window with x and y swapped, once for all the batches.
            let slices = (slab.z1 + 1).min(nz) - slab.z0;
            let swapped = rec.scratch((slices * ny * nx * 4) as u64);
            let swap = rec.uniform(&SwapParams {
                nx: nx as u32,
                ny: ny as u32,
                slices: slices as u32,
                offset: slab.offset,
            });
            rec.dispatch_grid(
                &SWAP_XY,
                &[BufferWindow::whole(&swap), slab.window, BufferWindow::whole(&swapped)],
                [nx, ny, slices],
            )?;
            for (first, batch) in out.batches() {
                let count = batch.shape()[0];
                let params = rec.uniform(&self.params(count, first, 0, &slab));
                rec.dispatch_linear(
                    self.kernels()[0],
                    &[
                        BufferWindow::whole(&params),
                        BufferWindow::whole(&tables.vectors),
                        slab.window,
                        BufferWindow::whole(batch.buffer()),
                        BufferWindow::whole(&swapped),
                    ],
                    (count * self.geometry.rows * self.geometry.cols) as u64,
                )?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Records `out += Aᵀ projections` into `rec`: the exact transpose of
    /// [`Joseph::record_forward`] as a gather (one invocation per voxel; no atomics), the
    /// volume in z-slabs, the views in the projections' batches.
    pub fn record_backward(&self, rec: &mut Recorder<'_>, projections: &GpuProjections, out: &GpuVolume) -> Result<()> {
        self.check_volume(out.shape())?;
        self.check_projections(projections.shape())?;
        let tables = self.tables(rec)?;
        let [nz, ny, nx] = self.shape;
        let steep = self.has_steep_rays();
        // Each invocation loops over its dispatch's views and, per view, over the detector
        // pixels of its column's footprint: on adapters that stop long loops, few enough views
        // per dispatch for the largest footprint any view can have.
        let views_per_dispatch = match rec.loop_limit() {
            u64::MAX => usize::MAX,
            limit => {
                let per_view = self.backward_iterations_per_view(steep)?;
                rec.check_loop_budget(
                    &format!("Joseph's transpose onto {nz}×{ny}×{nx} voxels (one view's footprint)"),
                    per_view,
                )?;
                (limit / per_view) as usize
            }
        };
        for (first, batch) in projections.batches() {
            let count = batch.shape()[0];
            for sub in (0..count).step_by(views_per_dispatch.min(count).max(1)) {
                let views = views_per_dispatch.min(count - sub);
                for_each_volume_slab(rec, out, 0, |rec, slab| {
                    let params = rec.uniform(&self.params(views, first + sub, sub, &slab));
                    let [_, backward, steep_kernel] = self.kernels();
                    let kernels: &[&KernelSpec] = if steep { &[backward, steep_kernel] } else { &[backward] };
                    for kernel in kernels {
                        rec.dispatch_grid(
                            kernel,
                            &[
                                BufferWindow::whole(&params),
                                BufferWindow::whole(&tables.vectors),
                                BufferWindow::whole(&tables.matrices),
                                BufferWindow::whole(batch.buffer()),
                                slab.window,
                            ],
                            [nx, ny, (slab.z1 - slab.z0).div_ceil(BACKWARD_COLUMN)],
                        )?;
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// An upper bound on the loop iterations one view costs an invocation of the backward
    /// kernels (`joseph_backward.wgsl`), whatever its column: the pixels of the column's
    /// footprint ([`DetectorMap::footprint_bounds`]; rows × columns, each loop's exit counted)
    /// for both candidate main axes, or for the steep kernel's voxels, with a quarter more for
    /// how llvmpipe's drivers count.
    fn backward_iterations_per_view(&self, steep: bool) -> Result<u64> {
        let map = DetectorMap::new(&self.geometry, &self.grid)?;
        let [nz, ny, nx] = self.shape;
        let column = BACKWARD_COLUMN as f64;
        let z_span = if nz == 1 { 1.0 } else { column + 1.0 };
        let (sx, sy) = (if nx == 1 { 1.0 } else { 2.0 }, if ny == 1 { 1.0 } else { 2.0 });
        // Main axis x: the column's box spans y and z; main axis y: x and z; steep: one voxel.
        let along_x = map.footprint_bounds(self.shape, &[[0.0, sy, 0.0], [0.0, 0.0, z_span]]);
        let along_y = map.footprint_bounds(self.shape, &[[sx, 0.0, 0.0], [0.0, 0.0, z_span]]);
        let voxel = map.footprint_bounds(self.shape, &[[sx, 0.0, 0.0], [0.0, sy, 0.0]]);
        let pixels = |(c, r): (f64, f64)| (r + 1.0) * (c + 1.0) + 1.0;
        let mut worst = 0.0f64;
        for view in 0..map.matrices.len() {
            // + the loops over views and over the candidate axes.
            worst = worst.max(pixels(along_x[view]) + pixels(along_y[view]) + 4.0);
            if steep {
                worst = worst.max((column + 1.0) * (pixels(voxel[view]) + 1.0) + 1.0);
            }
        }
        Ok((1.25 * worst).ceil() as u64 + 16)
    }
}

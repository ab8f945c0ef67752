//! The voxel-driven ("pixel-driven") projector pair: the forward projection projects every voxel
//! centre onto the detector with its view's matrix ([`DetectorMap`]) and splats the voxel's value
//! into the pixels around that point with bilinear weights (linear on a one-row detector), scaled
//! by the voxel's measure over the cross-section of the pixel's ray bundle at the voxel; the
//! transpose gathers the same pixels with the same weights (the interpolating voxel-driven
//! back-projection). Cheap and simple, but a point sample of each voxel: it aliases at voxel
//! sizes above the detector's sampling — [`crate::recon::Joseph`] is the better default; this pair
//! exists so that every iterative method runs with more than one projector.
//!
//! Footprint scale (line integrals in mm, so both pairs model the same data): for a voxel of
//! measure `M` (area `dx·dy` in 2D, volume `dx·dy·dz` in 3D) met by pixels of `du × dv`,
//! * parallel beams: `M / du` (2D), `M / (du·dv)` (3D);
//! * flat detectors: the bundle through a pixel at distance `L = √(SDD² + u² + v²)` from the
//!   source has, at the voxel's depth `W·SID` along the central ray, the cross-section
//!   `du·W·SID / L` (2D) or `du·dv·(W·SID)² / (SDD·L)` (3D);
//! * arc detectors (2D): `du·ℓ / SDD` at the voxel's distance `ℓ` from the source.
//!
//! GPU: `shaders/recon/voxel_driven_*.wgsl` (the splat adds with compare-exchange loops, as WGSL
//! has no float atomics; the transpose is a gather).

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::gpu::{Binding, uniform};
use crate::gpu::{
    BufferWindow, GpuProjections, GpuVolume, KernelSpec, Recorder, VolumeSlabParams, for_each_volume_slab, wgsl,
};
use crate::recon::geometry::DetectorMap;
use crate::recon::geometry::{BEAM_ARC, BEAM_CODES, BEAM_PARALLEL, Geometry};
use crate::recon::projector::{self, Projector, ProjectorKind};
use crate::vec3::{cross, dot, norm, sub};
use crate::volume::Grid;

/// The voxel-driven pair for one geometry and volume.
#[derive(Debug, Clone)]
pub struct VoxelDriven {
    geometry: Geometry,
    shape: [usize; 3],
    grid: Grid,
    pub(crate) map: DetectorMap,
    /// Per view `(k, sdd, du, dv)`: the footprint constant, distance and pixel size.
    footprint: Vec<[f64; 4]>,
    beam: u32,
    two_d: bool,
    centre: [f64; 2],
}

/// Where a voxel meets one view (twin of `struct Taps` in the shader).
struct Taps {
    c: [usize; 2],
    r: [usize; 2],
    fc: f32,
    fr: f32,
    scale: f32,
}

impl Taps {
    /// The four (index, weight) pairs; on a one-row detector the last two weigh 0.
    fn pairs(&self, cols: usize) -> [(usize, f32); 4] {
        let (fc, fr) = (self.fc, self.fr);
        [
            (self.r[0] * cols + self.c[0], (1.0 - fc) * (1.0 - fr)),
            (self.r[0] * cols + self.c[1], fc * (1.0 - fr)),
            (self.r[1] * cols + self.c[0], (1.0 - fc) * fr),
            (self.r[1] * cols + self.c[1], fc * fr),
        ]
    }
}

impl VoxelDriven {
    /// The pair for a `shape = [nz, ny, nx]` volume on `grid` (voxel centres at
    /// `origin + index · spacing`, identity direction, in the geometry's frame).
    pub fn new(geometry: &Geometry, shape: [usize; 3], grid: &Grid) -> Result<VoxelDriven> {
        crate::volume::check_shape(&shape)?;
        crate::recon::projector::check_sizes(geometry, shape)?;
        let map = DetectorMap::new(geometry, grid)?;
        let two_d = geometry.rows == 1;
        if two_d && shape[0] != 1 {
            return Err(Error::InvalidShape(format!(
                "the voxel-driven projector maps a one-row (2D) geometry onto a one-slice volume, not {} slices; \
                 reconstruct slice by slice or use projector \"joseph\"",
                shape[0]
            )));
        }
        let [dz, dy, dx] = grid.spacing;
        let measure = if two_d { dx * dy } else { dx * dy * dz };
        let beam = geometry.beam_code();
        let footprint = geometry
            .views
            .iter()
            .map(|view| {
                let (du, dv) = (norm(view.u), norm(view.v));
                match beam {
                    BEAM_PARALLEL if two_d => [measure / du, 0.0, du, dv],
                    BEAM_PARALLEL => [measure / (du * dv), 0.0, du, dv],
                    BEAM_ARC => {
                        // A ray's length through a voxel: its volume over the ray bundle's
                        // cross-section there (pixel area × cos ψ / r², times L3², with r the
                        // source–pixel distance, ψ the ray's angle to the cylinder's normal, L3
                        // the source–voxel distance); 2D: area over the fan's width.
                        let sid = crate::recon::geometry::arc_normaliser(view);
                        if two_d {
                            [measure * geometry.sdd / (du * sid), geometry.sdd, du, dv]
                        } else {
                            [measure * geometry.sdd / (du * dv * sid * sid), geometry.sdd, du, dv]
                        }
                    }
                    _ => {
                        // Distances along the detector normal, as DetectorMap normalises W.
                        // The detector normal, pointing from the source towards the detector.
                        let n = cross(view.u, view.v);
                        let towards = dot(sub(view.detector_centre, view.source), n).signum();
                        let n = n.map(|c| towards * c / norm(n));
                        let sid = -dot(view.source, n);
                        let sdd = dot(sub(view.detector_centre, view.source), n);
                        if two_d {
                            [measure / (du * sid), sdd, du, dv]
                        } else {
                            [measure * sdd / (du * dv * sid * sid), sdd, du, dv]
                        }
                    }
                }
            })
            .collect();
        Ok(VoxelDriven {
            geometry: geometry.clone(),
            shape,
            grid: *grid,
            map,
            footprint,
            beam,
            two_d,
            centre: [
                (geometry.cols as f64 - 1.0) / 2.0 - geometry.offset_u,
                (geometry.rows as f64 - 1.0) / 2.0 - geometry.offset_v,
            ],
        })
    }

    /// Where voxel `(x, y, z)` meets `view`, or `None` off the detector (or behind the source).
    #[inline]
    fn taps(&self, view: usize, x: usize, y: usize, z: usize) -> Option<Taps> {
        let [u, v, w] = self.uvw(view, [x as f64, y as f64, z as f64]);
        // Behind (or at) the source, or NaN: no intersection.
        if w.is_nan() || w <= 0.0 {
            return None;
        }
        let (col, row) = self.position(u, v, w);
        let (cols, rows) = (self.geometry.cols, self.geometry.rows);
        if !(col >= 0.0 && col <= (cols - 1) as f64 && row >= 0.0 && row <= (rows - 1) as f64) {
            return None;
        }
        let (c0, r0) = ((col as usize).min(cols - 1), (row as usize).min(rows - 1));
        Some(Taps {
            c: [c0, (c0 + 1).min(cols - 1)],
            r: [r0, (r0 + 1).min(rows - 1)],
            fc: (col - c0 as f64) as f32,
            fr: (row - r0 as f64) as f32,
            scale: self.scale(view, u, w, col, row) as f32,
        })
    }

    /// `(U, V, W)` of the point `p = (x, y, z)` in voxel indices (fractional: corners too).
    #[inline(always)]
    pub(crate) fn uvw(&self, view: usize, p: [f64; 3]) -> [f64; 3] {
        let m = &self.map.matrices[view].rows;
        m.map(|r| r[0] * p[0] + r[1] * p[1] + r[2] * p[2] + r[3])
    }

    /// Rows `U`, `V`, `W` of `view`'s projection matrix over `(x, y, z, 1)` voxel indices.
    #[inline(always)]
    pub(crate) fn matrix(&self, view: usize) -> &[[f64; 4]; 3] {
        &self.map.matrices[view].rows
    }

    /// `(column, row)` of a point from its `(U, V, W)` (`W > 0`).
    #[inline(always)]
    pub(crate) fn position(&self, u: f64, v: f64, w: f64) -> (f64, f64) {
        match self.map.arc {
            Some(arc) => arc.position(u, v, w),
            None => (u / w, v / w),
        }
    }

    /// The footprint scale of a voxel whose centre has `(U, ·, W)` and lands at `(col, row)`:
    /// its measure over the cross-section there of the ray bundle through one pixel (see the
    /// module docs).
    #[inline(always)]
    pub(crate) fn scale(&self, view: usize, u: f64, w: f64, col: f64, row: f64) -> f64 {
        let [k, sdd, du, dv] = self.footprint[view];
        match self.beam {
            BEAM_PARALLEL => k,
            BEAM_ARC if self.two_d => k / (u * u + w * w).sqrt(),
            BEAM_ARC => {
                // k · r / L², r = hypot(SDD, height on the cylinder), L the in-plane distance.
                let vo = (row - self.centre[1]) * dv;
                k * (sdd * sdd + vo * vo).sqrt() / (u * u + w * w)
            }
            _ => {
                let uo = (col - self.centre[0]) * du;
                if self.two_d {
                    k * (sdd * sdd + uo * uo).sqrt() / w
                } else {
                    let vo = (row - self.centre[1]) * dv;
                    k * (sdd * sdd + uo * uo + vo * vo).sqrt() / (w * w)
                }
            }
        }
    }

    /// Whether the detector has one row (a 2D geometry on a one-slice volume).
    pub(crate) fn two_d(&self) -> bool {
        self.two_d
    }
}

impl Projector for VoxelDriven {
    fn kind(&self) -> ProjectorKind {
        ProjectorKind::VoxelDriven
    }

    fn parts(&self) -> (&Geometry, [usize; 3], &Grid) {
        (&self.geometry, self.shape, &self.grid)
    }

    fn forward_cpu(&self, volume: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        splat_cpu(self, volume)
    }

    fn backward_cpu(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        gather_cpu(self, projections)
    }

    fn record_forward(&self, rec: &mut Recorder<'_>, volume: &GpuVolume, out: &GpuProjections) -> Result<()> {
        // Per view: the view loop's step and four compare-exchange adds, each up to its tries
        // and its exit, with a quarter more for how llvmpipe's drivers count.
        let per_view = (1 + 4 * (rec.compare_exchange_tries() + 1)) * 5 / 4 + 1;
        let what = "the voxel-driven projection (one view's adds of a voxel)";
        self.record_bounded(rec, &FORWARD, volume, out, Some((what, per_view)))
    }

    fn record_backward(&self, rec: &mut Recorder<'_>, projections: &GpuProjections, out: &GpuVolume) -> Result<()> {
        self.record(rec, &BACKWARD, out, projections)
    }
}

/// A pair of the voxel-driven family: for a voxel and a view it knows the pixels the voxel
/// meets and their weights, which both directions use — so [`splat_cpu`] and [`gather_cpu`]
/// are adjoint for any such pair.
pub(crate) trait VoxelWeights: Projector {
    /// Per-thread buffers.
    type Scratch: Default;

    /// Calls `each(pixel index in the view, weight)` for every pixel voxel `(x, y, z)` meets
    /// on `view` (nothing off the detector).
    fn each_pixel(
        &self,
        view: usize,
        x: usize,
        y: usize,
        z: usize,
        scratch: &mut Self::Scratch,
        each: impl FnMut(usize, f32),
    );
}

impl VoxelWeights for VoxelDriven {
    type Scratch = ();

    #[inline]
    fn each_pixel(&self, view: usize, x: usize, y: usize, z: usize, _: &mut (), mut each: impl FnMut(usize, f32)) {
        if let Some(t) = self.taps(view, x, y, z) {
            for (i, w) in t.pairs(self.geometry.cols) {
                each(i, w * t.scale);
            }
        }
    }
}

/// The forward projection of a [`VoxelWeights`] pair: each view's image is written by one
/// thread (a splat has no other race-free owner); zero voxels are skipped.
pub(crate) fn splat_cpu<P: VoxelWeights>(pair: &P, volume: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
    let (nz, ny, nx) = volume.dim();
    projector::check_volume([nz, ny, nx], pair.volume_shape())?;
    let volume = volume.as_standard_layout();
    let vol = volume.as_slice().expect("standard layout");
    let [views, rows, cols] = pair.projection_shape();
    let mut out = vec![0.0f32; views * rows * cols];
    out.par_chunks_mut(rows * cols).enumerate().for_each(|(view, image)| {
        let mut scratch = P::Scratch::default();
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let value = vol[(z * ny + y) * nx + x];
                    if value != 0.0 {
                        pair.each_pixel(view, x, y, z, &mut scratch, |i, w| image[i] += value * w);
                    }
                }
            }
        }
    });
    Ok(Array3::from_shape_vec((views, rows, cols), out).expect("shape matches length"))
}

/// The transpose of a [`VoxelWeights`] pair: each slice of voxels gathers from every view in
/// turn (no races; a slice meets a compact band of each view, so the view stays in cache).
pub(crate) fn gather_cpu<P: VoxelWeights>(pair: &P, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
    let (views, rows, cols) = projections.dim();
    projector::check_projections([views, rows, cols], pair.geometry())?;
    let projections = projections.as_standard_layout();
    let p = projections.as_slice().expect("standard layout");
    let [nz, ny, nx] = pair.volume_shape();
    let mut out = vec![0.0f32; nz * ny * nx];
    // Blocks of up to a slice of rows, at least eight per thread.
    let lines = nz * ny;
    let block = (lines / (8 * rayon::current_num_threads())).clamp(1, ny);
    out.par_chunks_mut(block * nx).enumerate().for_each(|(b, part)| {
        let mut scratch = P::Scratch::default();
        for view in 0..views {
            let image = &p[view * rows * cols..(view + 1) * rows * cols];
            for (k, row_out) in part.chunks_mut(nx).enumerate() {
                let (z, y) = ((b * block + k) / ny, (b * block + k) % ny);
                for (x, o) in row_out.iter_mut().enumerate() {
                    let mut sum = 0.0f32;
                    pair.each_pixel(view, x, y, z, &mut scratch, |i, w| sum += image[i] * w);
                    *o += sum;
                }
            }
        }
    });
    Ok(Array3::from_shape_vec((nz, ny, nx), out).expect("shape matches length"))
}

/// Twin of `Params` in `shaders/recon/voxel_driven_common.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Params {
    slab: VolumeSlabParams,
    nx: u32,
    ny: u32,
    cols: u32,
    rows: u32,
    views: u32,
    first_view: u32,
    beam: u32,
    two_d: u32,
    arc_scale: f32,
    arc_centre: f32,
    centre_col: f32,
    centre_row: f32,
    batch_first: u32,
    _pad: [u32; 3],
}

pub(crate) const COMMON: &str = include_str!("../../shaders/recon/voxel_driven_common.wgsl");
/// The projections binding of the forward kernels and its atomic float add.
pub(crate) const SPLAT: &str = include_str!("../../shaders/recon/splat.wgsl");

pub(crate) static FORWARD: KernelSpec = KernelSpec {
    name: "recon/voxel_driven_forward",
    sources: &[
        wgsl::FLOAT,
        wgsl::VOLUME_SLAB,
        COMMON,
        SPLAT,
        include_str!("../../shaders/recon/voxel_driven_forward.wgsl"),
    ],
    entry: "forward",
    bindings: &[uniform::<Params>(), Binding::Read, Binding::Read, Binding::ReadWrite],
    constants: &[BEAM_CODES],
};

pub(crate) static BACKWARD: KernelSpec = KernelSpec {
    name: "recon/voxel_driven_backward",
    sources: &[
        wgsl::FLOAT,
        wgsl::VOLUME_SLAB,
        COMMON,
        include_str!("../../shaders/recon/voxel_driven_backward.wgsl"),
    ],
    entry: "backward",
    bindings: &[uniform::<Params>(), Binding::Read, Binding::ReadWrite, Binding::Read],
    constants: &[BEAM_CODES],
};

impl VoxelDriven {
    /// Records `kernel` (a forward or transpose of the voxel-driven family, which share
    /// `voxel_driven_common.wgsl`'s bindings) over every batch of views and slab of the volume.
    pub(crate) fn record(
        &self,
        rec: &mut Recorder<'_>,
        kernel: &KernelSpec,
        volume: &GpuVolume,
        projections: &GpuProjections,
    ) -> Result<()> {
        self.record_bounded(rec, kernel, volume, projections, None)
    }

    /// [`Self::record`] for kernels whose loops per view grow with the geometry: `per_view`,
    /// the loop iterations one view may cost an invocation, is checked against adapters that
    /// stop long loops, which then get few enough views per dispatch.
    pub(crate) fn record_bounded(
        &self,
        rec: &mut Recorder<'_>,
        kernel: &KernelSpec,
        volume: &GpuVolume,
        projections: &GpuProjections,
        per_view: Option<(&str, u64)>,
    ) -> Result<()> {
        projector::check_volume(volume.shape(), self.shape)?;
        projector::check_projections(projections.shape(), &self.geometry)?;
        let views_per_dispatch = match (rec.loop_limit(), per_view) {
            (u64::MAX, _) | (_, None) => usize::MAX,
            (limit, Some((what, iterations))) => {
                rec.check_loop_budget(what, iterations)?;
                (limit / iterations) as usize
            }
        };
        let table = self.table(rec);
        for (first, batch) in projections.batches() {
            let count = batch.shape()[0];
            for sub in (0..count).step_by(views_per_dispatch.min(count).max(1)) {
                let views = sub..(sub + views_per_dispatch).min(count);
                self.record_batch(rec, kernel, &table, volume, batch, first, views)?;
            }
        }
        Ok(())
    }

    /// The per-view table as the shader reads it (`struct ViewTable`).
    fn table(&self, rec: &Recorder<'_>) -> wgpu::Buffer {
        let f32x4 = |r: [f64; 4]| r.map(|c| c as f32);
        let rows: Vec<[f32; 4]> = self
            .map
            .matrices
            .iter()
            .zip(&self.footprint)
            .flat_map(|(m, &f)| [f32x4(m.rows[0]), f32x4(m.rows[1]), f32x4(m.rows[2]), f32x4(f)])
            .collect();
        rec.constants(&rows)
    }

    /// Views `views` of one batch (whose first view is `first_view`) against the volume, slab
    /// by slab: the kernel's volume binding is the slab's window, its projection binding the
    /// batch.
    #[allow(clippy::too_many_arguments)]
    fn record_batch(
        &self,
        rec: &mut Recorder<'_>,
        kernel: &KernelSpec,
        table: &wgpu::Buffer,
        volume: &GpuVolume,
        batch: &GpuVolume,
        first_view: usize,
        views: std::ops::Range<usize>,
    ) -> Result<()> {
        let [_, ny, nx] = self.shape;
        let g = &self.geometry;
        let (arc_scale, arc_centre) = self.map.arc.map_or((0.0, 0.0), |a| (a.scale, a.centre_col));
        for_each_volume_slab(rec, volume, 0, |rec, slab| {
            let params = rec.uniform(&Params {
                slab: slab.params(),
                nx: nx as u32,
                ny: ny as u32,
                cols: g.cols as u32,
                rows: g.rows as u32,
                views: views.len() as u32,
                first_view: (first_view + views.start) as u32,
                batch_first: views.start as u32,
                _pad: [0; 3],
                beam: self.beam,
                two_d: u32::from(self.two_d),
                arc_scale: arc_scale as f32,
                arc_centre: arc_centre as f32,
                centre_col: self.centre[0] as f32,
                centre_row: self.centre[1] as f32,
            });
            rec.dispatch_grid(
                kernel,
                &[
                    BufferWindow::whole(&params),
                    BufferWindow::whole(table),
                    slab.window,
                    BufferWindow::whole(batch.buffer()),
                ],
                [nx, ny, slab.z1 - slab.z0],
            )
        })
    }
}

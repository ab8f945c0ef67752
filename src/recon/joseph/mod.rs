//! Joseph's forward projector (P. M. Joseph, IEEE TMI 1(3), 1982) and its exact transpose, on
//! the CPU, for every [`Geometry`]: each ray steps one voxel at a time along the axis it is
//! most aligned with, interpolates the volume (linearly in 2D, bilinearly in 3D) in the plane
//! it crosses, and weighs the sum by the path length per step. Voxels outside the volume are 0.
//!
//! The transpose scatters each ray's value back with the same weights, so
//! `⟨A x, y⟩ = ⟨x, Aᵀ y⟩` to rounding — what iterative methods need (the back-projector of
//! FBP/FDK is a different, voxel-driven operator). GPU: `shaders/recon/joseph_*.wgsl`, the same
//! taps in f32, the transpose as a gather over the rays that reach each column of 8 voxels
//! along z (one footprint and one rebuild of each ray for the column; steep rays in a pass of
//! their own), each beam compiled as its own kernel variant.
//!
//! The module is split by concern: `rays.rs` (each ray's stepping and taps, shared by both
//! directions), `cpu.rs` (the multithreaded pair), `simd.rs` (its AVX2 interiors), `across.rs`
//! (the AVX-512 forward projection, sixteen rays per step), `gpu.rs`
//! (the WGSL pair's dispatch).

#[cfg(target_arch = "x86_64")]
mod across;
mod cpu;
pub(crate) mod gpu;
mod rays;
#[cfg(target_arch = "x86_64")]
mod simd;
#[cfg(test)]
mod tests;

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::Result;
use crate::gpu::{GpuProjections, GpuVolume, Recorder};
use crate::recon::Geometry;
use crate::recon::projector::{self, Projector, ProjectorKind};
use crate::volume::Grid;
use rays::RaySteps;

/// The projector pair for a volume on `grid` (voxel centres at `origin + index · spacing`,
/// identity direction, in the geometry's frame) and a geometry.
#[derive(Debug, Clone)]
pub struct Joseph {
    geometry: Geometry,
    shape: [usize; 3],
    grid: Grid,
    /// `1 / spacing` along x, y, z.
    voxels_per_mm: [f64; 3],
    /// Every ray's stepping, computed on first use when the detector has at most
    /// [`CACHED_RAYS`] pixels in all (iterative methods project hundreds of times).
    rays: std::sync::OnceLock<Vec<Option<RaySteps>>>,
}

/// Up to 1 Mi rays (40 MiB) are set up once per projector rather than per projection.
const CACHED_RAYS: usize = 1 << 20;

impl Joseph {
    /// The pair for a `shape = [nz, ny, nx]` volume on `grid`.
    pub fn new(geometry: &Geometry, shape: [usize; 3], grid: &Grid) -> Result<Joseph> {
        grid.validate()?;
        crate::volume::check_shape(&shape)?;
        crate::recon::projector::check_sizes(geometry, shape)?;
        Ok(Joseph {
            geometry: geometry.clone(),
            shape,
            grid: *grid,
            voxels_per_mm: [1.0 / grid.spacing[2], 1.0 / grid.spacing[1], 1.0 / grid.spacing[0]],
            rays: std::sync::OnceLock::new(),
        })
    }

    /// Every ray's stepping with its interior planes, when the detector has at most
    /// [`CACHED_RAYS`] pixels (computed on first use); `None` for larger detectors.
    fn cached_rays(&self) -> Result<Option<&[Option<RaySteps>]>> {
        let g = &self.geometry;
        let count = g.views.len() * g.rows * g.cols;
        if count > CACHED_RAYS {
            return Ok(None);
        }
        if self.rays.get().is_none() {
            let rays = (0..g.views.len() * g.rows)
                .into_par_iter()
                .map(|line| -> Result<Vec<Option<RaySteps>>> {
                    let rays = self.row_rays(line / g.rows, line % g.rows)?;
                    (0..g.cols)
                        .map(|col| Ok(rays.stepping(self, col)?.map(|ray| self.with_interior(ray))))
                        .collect()
                })
                .collect::<Result<Vec<_>>>()?;
            let _ = self.rays.set(rays.concat());
        }
        Ok(self.rays.get().map(Vec::as_slice))
    }

    /// The rays of detector row `row` of `view`: `rays(col)` is column `col`'s stepping, from
    /// the cache when there is one; without it, `interior: false` leaves
    /// [`RaySteps::interior`] empty (cheaper, for paths that do not use it).
    fn rays_of_row(
        &self,
        view: usize,
        row: usize,
        interior: bool,
    ) -> Result<impl Fn(usize) -> Result<Option<RaySteps>> + '_> {
        let cached = self.cached_rays()?;
        let rays = self.row_rays(view, row)?;
        let cols = self.geometry.cols;
        let first = (view * self.geometry.rows + row) * cols;
        Ok(move |col: usize| match cached {
            Some(all) => Ok(all[first + col]),
            None => Ok(rays
                .stepping(self, col)?
                .map(|ray| if interior { self.with_interior(ray) } else { ray })),
        })
    }

    /// Strides of the volume along x, y, z.
    fn strides(&self) -> [usize; 3] {
        let [_, ny, nx] = self.shape;
        [1, nx, nx * ny]
    }

    fn check_projections(&self, shape: [usize; 3]) -> Result<()> {
        projector::check_projections(shape, &self.geometry)
    }

    fn check_volume(&self, shape: [usize; 3]) -> Result<()> {
        projector::check_volume(shape, self.shape)
    }
}

impl Projector for Joseph {
    fn kind(&self) -> ProjectorKind {
        ProjectorKind::Joseph
    }

    fn parts(&self) -> (&Geometry, [usize; 3], &Grid) {
        (&self.geometry, self.shape, &self.grid)
    }

    fn forward_cpu(&self, volume: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        Joseph::forward_cpu(self, volume)
    }

    fn backward_cpu(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        Joseph::backward_cpu(self, projections)
    }

    fn record_forward(&self, rec: &mut Recorder<'_>, volume: &GpuVolume, out: &GpuProjections) -> Result<()> {
        Joseph::record_forward(self, rec, volume, out)
    }

    fn record_backward(&self, rec: &mut Recorder<'_>, projections: &GpuProjections, out: &GpuVolume) -> Result<()> {
        Joseph::record_backward(self, rec, projections, out)
    }
}

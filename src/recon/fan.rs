//! Fan-beam FBP for flat (equispaced) and arc (equiangular) detectors: the one-row case of
//! [`Fdk`], which holds the formulas (Kak & Slaney §3.4), the short-scan (Parker) weights and
//! the back-projector. Output: a square image of `size` pixels of `pixel_mm`, its centre pixel
//! ((size − 1)/2) on the rotation axis.

use ndarray::{Array2, ArrayView2, Axis};

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::recon::fdk::{Fdk, centred_grid};
use crate::recon::geometry::Geometry;
use crate::recon::ramp::RampWindow;

/// Fan-beam FBP.
#[derive(Debug, Clone, PartialEq)]
pub struct FanFbp {
    fdk: Fdk,
}

impl FanFbp {
    /// FBP for projections taken with `geometry` (from [`Geometry::fan`]), ramp filter; full
    /// scans and short scans (180° + fan angle or more) with views in increasing angle order.
    pub fn new(geometry: &Geometry) -> Result<Self> {
        if geometry.rows != 1 {
            return Err(Error::param(
                "geometry",
                "fan-beam FBP needs a fan geometry (Geometry::fan); use Fdk for cone beams",
            ));
        }
        Ok(FanFbp {
            fdk: Fdk::new(geometry)?,
        })
    }

    /// Filter window (default ramp).
    pub fn window(mut self, window: RampWindow) -> Self {
        self.fdk = self.fdk.window(window);
        self
    }

    /// Frequency cut-off as a fraction of Nyquist (default 1).
    pub fn cutoff(mut self, cutoff: f64) -> Self {
        self.fdk = self.fdk.cutoff(cutoff);
        self
    }

    /// The FDK reconstructor this wraps (for the GPU path and volumes of several slices).
    pub fn fdk(&self) -> &Fdk {
        &self.fdk
    }

    fn check_size(size: usize, pixel_mm: f64) -> Result<()> {
        if size == 0 || size > 1 << 15 || !(pixel_mm.is_finite() && pixel_mm > 0.0) {
            return Err(Error::param(
                "size",
                "give 1 to 32768 output pixels of a positive, finite size",
            ));
        }
        Ok(())
    }

    /// Reconstructs a `views × cols` sinogram into a `size × size` image of `pixel_mm` pixels.
    pub fn reconstruct_cpu(&self, sinogram: ArrayView2<'_, f32>, size: usize, pixel_mm: f64) -> Result<Array2<f32>> {
        Self::check_size(size, pixel_mm)?;
        let grid = centred_grid([1, size, size], [pixel_mm; 3])?;
        let volume = self
            .fdk
            .reconstruct_cpu(sinogram.insert_axis(Axis(1)), [1, size, size], &grid)?;
        Ok(volume.index_axis_move(Axis(0), 0))
    }

    /// Reconstructs a `views × cols` sinogram on the GPU (WGSL FFT and back-projector).
    pub fn reconstruct_gpu(
        &self,
        ctx: &GpuContext,
        sinogram: ArrayView2<'_, f32>,
        size: usize,
        pixel_mm: f64,
    ) -> Result<Array2<f32>> {
        Self::check_size(size, pixel_mm)?;
        let grid = centred_grid([1, size, size], [pixel_mm; 3])?;
        let volume = self
            .fdk
            .reconstruct_gpu(ctx, sinogram.insert_axis(Axis(1)), [1, size, size], &grid)?;
        Ok(volume.index_axis_move(Axis(0), 0))
    }
}

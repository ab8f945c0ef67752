//! Unsharp masking — `skimage.filters.unsharp_mask(image, radius, amount, preserve_range=True)`:
//! `image + (image - gaussian(image, sigma=radius, mode='reflect')) * amount`. No clipping
//! (scikit-image clips to [0, 1] or [-1, 1] only without `preserve_range`; append a
//! [`super::Clip`] for that). One Gaussian and one pointwise pass.

use ndarray::{Array3, ArrayView3};

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::pointwise::{self, Op};
use crate::filter::{Filter, Gaussian};
use crate::gpu::{GpuVolume, Recorder};

/// The unsharp mask.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::UnsharpMask;
/// let step = ndarray::Array2::from_shape_fn((8, 8), |(_, x)| if x < 4 { 0.0f32 } else { 1.0 });
/// let sharp = UnsharpMask::new(&[1.0], 1.0).apply(&Backend::Cpu, step.view())?;
/// assert!(sharp[[4, 3]] < 0.0 && sharp[[4, 4]] > 1.0); // overshoot on both sides of the edge
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UnsharpMask {
    radius: Vec<f64>,
    amount: f64,
    mode: BoundaryMode,
}

impl UnsharpMask {
    /// Gaussian sigma (scikit-image's `radius`, voxels; one value or one per axis) and amount.
    pub fn new(radius: &[f64], amount: f64) -> Self {
        UnsharpMask {
            radius: radius.to_vec(),
            amount,
            mode: BoundaryMode::Reflect,
        }
    }

    /// Boundary mode of the blur (default `Reflect`, as scikit-image).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self) -> Result<(Gaussian, [Op; 1])> {
        if !(self.amount.is_finite() && self.amount.abs() <= f64::from(f32::MAX)) {
            return Err(Error::param("amount", format!("amount {} must be finite", self.amount)));
        }
        Ok((
            Gaussian::new(&self.radius).mode(self.mode),
            [Op::SharpenWithSecond {
                amount: self.amount as f32,
            }],
        ))
    }
}

impl Filter for UnsharpMask {
    fn name(&self) -> &'static str {
        "unsharp_mask"
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let (blur, ops) = self.plan()?;
        let blurred = blur.cpu(input, ndim)?;
        Ok(pointwise::run_cpu(&ops, input, Some(blurred.view())))
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let (blur, ops) = self.plan()?;
        let blurred = blur.record(rec, input, ndim)?;
        let out = pointwise::record(rec, &ops, input, Some(&blurred))?;
        rec.recycle(blurred);
        Ok(out)
    }
}

//! Uniform (box) filter — `scipy.ndimage.uniform_filter(size)`: the mean over a box of `size`
//! voxels per axis (even sizes extend one voxel further before the centre, as scipy), separable
//! passes of [`super::correlate1d`]. Odd sizes up to the staged radius run on the Gaussian's
//! register kernels (a centred even kernel in axis order): 90–95 → 69–71 ms for 3³ at
//! 512×512×256, within 1–3 float32 ulp of scipy's running sums as the general path was (1.5–4).

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::correlate1d::{Pass, Separable, check_mode};
use crate::filter::{check_ndim, per_axis};

/// Largest box side accepted.
pub const MAX_SIZE: usize = 1 << 12;

/// The box filter.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::Uniform;
/// let image = ndarray::array![[0.0f32, 3.0, 6.0]];
/// let mean = Uniform::new(&[1, 3]).mode(BoundaryMode::Nearest).apply(&Backend::Cpu, image.view())?;
/// assert_eq!(mean, ndarray::array![[1.0f32, 3.0, 5.0]]);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Uniform {
    size: Vec<usize>,
    mode: BoundaryMode,
}

impl Uniform {
    /// Box side in voxels: one value for every axis, or one per axis. 1 leaves an axis alone.
    pub fn new(size: &[usize]) -> Self {
        Uniform {
            size: size.to_vec(),
            mode: BoundaryMode::default(),
        }
    }

    /// Boundary mode (default `Reflect`, as scipy).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self, ndim: usize) -> Result<Separable> {
        check_ndim(ndim)?;
        check_mode(self.mode)?;
        let size: Vec<f64> = self.size.iter().map(|&s| s as f64).collect();
        let size = per_axis("size", &size, ndim, 1.0)?;
        let mut passes = Vec::new();
        for (axis, &s) in size.iter().enumerate() {
            let s = s as usize;
            if s == 0 || s > MAX_SIZE {
                return Err(Error::param(
                    "size",
                    format!("box size {s} along axis {axis} (z, y, x): give 1 to {MAX_SIZE} voxels"),
                ));
            }
            if s > 1 {
                passes.push(Pass::centred(axis, vec![1.0 / s as f32; s]));
            }
        }
        Ok(Separable::chain(passes, self.mode))
    }
}

separable_filter!(Uniform, "uniform", cpu_staged);

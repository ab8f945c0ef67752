//! Volume and image filters. One file per kernel, each beside its WGSL twin in `shaders/filter/`.
//!
//! Every filter accepts 2D `(y, x)` and 3D `(z, y, x)` `ndarray` views through [`Spatial`], and
//! [`crate::Volume`]s, on either [`crate::Backend`].

pub mod gaussian;
pub(crate) mod rows;

pub use gaussian::{Gaussian, gaussian_filter};

use ndarray::{Array, Array3, ArrayView, ArrayView3, Axis, Dimension, Ix2, Ix3};

use crate::error::{Error, Result};

mod sealed {
    pub trait Sealed {}
    impl Sealed for ndarray::Ix2 {}
    impl Sealed for ndarray::Ix3 {}
}

/// Array dimensionalities the filters accept: 2D images `(y, x)` and 3D volumes `(z, y, x)`.
/// Internally a 2D image is a one-slice volume.
pub trait Spatial: Dimension + sealed::Sealed {
    /// Number of axes (2 or 3).
    const RANK: usize;
    /// Views the array as a volume (2D gains a leading axis of length 1).
    fn as_volume<'a>(view: ArrayView<'a, f32, Self>) -> ArrayView3<'a, f32>;
    /// Turns a volume produced from [`Spatial::as_volume`] back into this dimensionality.
    fn from_volume(volume: Array3<f32>) -> Result<Array<f32, Self>>;
}

impl Spatial for Ix2 {
    const RANK: usize = 2;
    fn as_volume<'a>(view: ArrayView<'a, f32, Ix2>) -> ArrayView3<'a, f32> {
        crate::volume::image_as_volume(view)
    }
    fn from_volume(volume: Array3<f32>) -> Result<Array<f32, Ix2>> {
        if volume.shape()[0] != 1 {
            return Err(Error::InvalidShape("expected a one-slice volume".into()));
        }
        Ok(volume.index_axis_move(Axis(0), 0))
    }
}

impl Spatial for Ix3 {
    const RANK: usize = 3;
    fn as_volume<'a>(view: ArrayView<'a, f32, Ix3>) -> ArrayView3<'a, f32> {
        view
    }
    fn from_volume(volume: Array3<f32>) -> Result<Array<f32, Ix3>> {
        Ok(volume)
    }
}

/// Expands a per-axis parameter given as one value (all axes) or one per axis of an `ndim`-D
/// array into `(z, y, x)` order, using `fill` for the axis a 2D image lacks.
pub(crate) fn per_axis(name: &'static str, values: &[f64], ndim: usize, fill: f64) -> Result<[f64; 3]> {
    let v: Vec<f64> = match values.len() {
        1 => vec![values[0]; ndim],
        n if n == ndim => values.to_vec(),
        n => {
            return Err(Error::param(
                name,
                format!("got {n} values for a {ndim}-D array; give one value or {ndim}"),
            ));
        }
    };
    let mut out = [fill; 3];
    out[3 - ndim..].copy_from_slice(&v);
    Ok(out)
}

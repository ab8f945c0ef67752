//! scipy.ndimage's arithmetic, bit for bit, on the CPU in double precision.
//!
//! `scipy.ndimage` computes every pass in double and stores it in the output's element type
//! before the next pass reads it (a Gaussian of int16 data is truncated to int16 after each
//! axis; a negative derivative wraps in uint16). The library's fast kernels compute in float32
//! with one final conversion, which is more precise but not scipy's bytes. This module is the
//! other half: the primitives scipy composes its filters from — 1D correlation, running means,
//! 1D minima and maxima, N-dimensional correlation, rank and min/max filters over arbitrary
//! footprints — in scipy's order of operations, with origins, even windows and per-pass
//! [`Dtype`] stores. The Python package composes scipy's functions from them for integer and
//! float64 data, windows the fast kernels do not take (even sizes, origins, footprints, `axes`,
//! per-axis modes) and any number of dimensions; Rust callers get double-precision filters.
//!
//! Arrays are any-dimensional `ndarray` views of `f64` holding values of the input's type
//! (integers exactly up to 2^53); results come back in C order. Every line or row runs in
//! parallel (rayon).

mod binary;
mod correlate;
mod correlate1d;
mod dtype;
mod footprint;
mod lines;
mod min_max;
mod min_max1d;
mod rank;
mod spline;
mod uniform1d;
mod zoom_shift;

pub use binary::binary_erosion;
pub use correlate::correlate;
pub use correlate1d::correlate1d;
pub use dtype::Dtype;
pub(crate) use lines::c_strides;
pub use min_max::min_or_max_filter;
pub use min_max1d::min_or_max_filter1d;
pub use rank::rank_filter;
pub use spline::{InterpolationMode, spline_filter1d};
pub use uniform1d::uniform_filter1d;
pub use zoom_shift::{Coordinates, geometric_transform, zoom_shift};

#[cfg(test)]
mod tests {
    use ndarray::{ArrayD, IxDyn, array};

    use super::*;
    use crate::boundary::BoundaryMode;

    fn line(values: &[f64]) -> ArrayD<f64> {
        ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).unwrap()
    }

    /// Runs an in-place line filter on a copy of `values`.
    fn filtered(values: &[f64], filter: impl FnOnce(ndarray::ArrayViewMutD<'_, f64>) -> crate::Result<()>) -> Vec<f64> {
        let mut a = line(values);
        filter(a.view_mut()).unwrap();
        a.into_raw_vec_and_offset().0
    }

    #[test]
    fn uniform_means_of_even_windows_truncate_into_integers() {
        // Windows of 2 cover samples i - 1 and i (size / 2 = 1 before): (5+5)/2, (5+8)/2, ...
        let data = [5.0, 8.0, 1.0, 4.0];
        let out = filtered(&data, |a| {
            uniform_filter1d(a, 2, 0, BoundaryMode::Reflect, 0.0, 0, Dtype::I16)
        });
        assert_eq!(out, [5.0, 6.0, 4.0, 2.0]);
        let shifted = filtered(&data, |a| {
            uniform_filter1d(a, 2, 0, BoundaryMode::Nearest, 0.0, -1, Dtype::F64)
        });
        assert_eq!(shifted, [6.5, 4.5, 2.5, 4.0]);
    }

    #[test]
    fn sliding_extremes_use_the_constant_as_a_double() {
        let data = [3.0, 1.0, 4.0, 1.0, 5.0];
        let min = filtered(&data, |a| {
            min_or_max_filter1d(a, 3, 0, BoundaryMode::Constant(0.0), -1.0, 0, true, Dtype::U8)
        });
        // The constant -1 wins at both ends and wraps to 255 in uint8, as scipy stores it.
        assert_eq!(min, [255.0, 1.0, 1.0, 1.0, 255.0]);
        let max = filtered(&data, |a| {
            min_or_max_filter1d(a, 2, 0, BoundaryMode::Reflect, 0.0, 0, false, Dtype::F64)
        });
        assert_eq!(max, [3.0, 3.0, 4.0, 4.0, 5.0]);
    }

    #[test]
    fn footprint_filters_read_the_constant_in_the_input_type() {
        let a = array![[1.0, 2.0], [3.0, 4.0]].into_dyn();
        let cross = [false, true, false, true, true, true, false, true, false];
        // Minimum of the cross: outside is cval -1 stored as uint16 (65535), so the interior wins.
        let out = min_or_max_filter(
            a.view(),
            &cross,
            &[3, 3],
            None,
            BoundaryMode::Constant(0.0),
            -1.0,
            &[0, 0],
            true,
            Dtype::U16,
            Dtype::U16,
        )
        .unwrap();
        assert_eq!(out.as_slice().unwrap(), &[1.0, 1.0, 1.0, 2.0]);
        let median = rank_filter(
            a.view(),
            2,
            &cross,
            &[3, 3],
            BoundaryMode::Nearest,
            0.0,
            &[0, 0],
            Dtype::F64,
            Dtype::F64,
        )
        .unwrap();
        assert_eq!(median.as_slice().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
        let kernel = array![[0.0, 1.0], [1.0, 0.0]].into_dyn();
        let sum = correlate(
            a.view(),
            kernel.view(),
            BoundaryMode::Constant(0.0),
            10.0,
            &[0, 0],
            Dtype::F64,
        )
        .unwrap();
        // Kernel centre at (1, 1): taps (-1, 0) and (0, -1).
        assert_eq!(sum.as_slice().unwrap(), &[20.0, 11.0, 11.0, 5.0]);
    }

    #[test]
    fn bad_parameters_are_errors_not_panics() {
        let a = array![[1.0, 2.0], [3.0, 4.0]].into_dyn();
        let all = [true; 4];
        assert!(
            rank_filter(
                a.view(),
                4,
                &all,
                &[2, 2],
                BoundaryMode::Reflect,
                0.0,
                &[0, 0],
                Dtype::F64,
                Dtype::F64
            )
            .is_err()
        );
        assert!(
            rank_filter(
                a.view(),
                0,
                &all,
                &[4],
                BoundaryMode::Reflect,
                0.0,
                &[0],
                Dtype::F64,
                Dtype::F64
            )
            .is_err()
        );
        assert!(
            rank_filter(
                a.view(),
                0,
                &[false; 4],
                &[2, 2],
                BoundaryMode::Reflect,
                0.0,
                &[0, 0],
                Dtype::F64,
                Dtype::F64
            )
            .is_err()
        );
        assert!(
            correlate(
                a.view(),
                ndarray::ArrayD::zeros(IxDyn(&[2])).view(),
                BoundaryMode::Reflect,
                0.0,
                &[0],
                Dtype::F64
            )
            .is_err()
        );
        let mut b = a.clone();
        assert!(correlate1d(b.view_mut(), &[], 0, BoundaryMode::Reflect, 0.0, 0, Dtype::F64).is_err());
        assert!(correlate1d(b.view_mut(), &[1.0], 2, BoundaryMode::Reflect, 0.0, 0, Dtype::F64).is_err());
        assert!(uniform_filter1d(b.view_mut(), 0, 0, BoundaryMode::Reflect, 0.0, 0, Dtype::F64).is_err());
        let mut transposed = a.clone().reversed_axes();
        assert!(uniform_filter1d(transposed.view_mut(), 3, 0, BoundaryMode::Reflect, 0.0, 0, Dtype::F64).is_err());
        let mut empty = ArrayD::<f64>::zeros(IxDyn(&[0, 3]));
        assert!(uniform_filter1d(empty.view_mut(), 3, 1, BoundaryMode::Reflect, 0.0, 0, Dtype::F64).is_ok());
        assert_eq!(
            rank_filter(
                empty.view(),
                1,
                &[true; 3],
                &[1, 3],
                BoundaryMode::Reflect,
                0.0,
                &[0, 0],
                Dtype::F64,
                Dtype::F64
            )
            .unwrap()
            .shape(),
            &[0, 3]
        );
    }
}

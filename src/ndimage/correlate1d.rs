//! `scipy.ndimage.correlate1d` in double with scipy's summation order: odd symmetric and
//! antisymmetric kernels fold the pairs of taps first (`(a + b) * w`), other kernels sum the
//! taps from the last one.

use ndarray::ArrayViewMutD;

use super::Dtype;
use super::lines::{along_axis, window};
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};

/// How scipy groups the taps of a kernel (it tests symmetry to within `f64::EPSILON`).
#[derive(Clone, Copy, PartialEq, Debug)]
enum Symmetry {
    Symmetric,
    Antisymmetric,
    General,
}

fn symmetry(weights: &[f64]) -> Symmetry {
    let n = weights.len();
    if n.is_multiple_of(2) {
        return Symmetry::General;
    }
    let c = n / 2;
    let pairs = 1..=c;
    if pairs
        .clone()
        .all(|k| (weights[c + k] - weights[c - k]).abs() <= f64::EPSILON)
    {
        Symmetry::Symmetric
    } else if pairs
        .into_iter()
        .all(|k| (weights[c + k] + weights[c - k]).abs() <= f64::EPSILON)
    {
        Symmetry::Antisymmetric
    } else {
        Symmetry::General
    }
}

/// Correlates every line of `data` along `axis` with `weights`, in place (output sample `i`
/// is `sum_k weights[k] * data[i + k - len / 2 - origin]`), storing each value as `output`.
///
/// `mode` extends the lines (`cval` is the constant of `BoundaryMode::Constant`; the mode's own
/// f32 is not used). Errors: empty weights, an origin that moves the window off its sample, an
/// axis out of range, `data` not in standard (C) layout.
pub fn correlate1d(
    data: ArrayViewMutD<'_, f64>,
    weights: &[f64],
    axis: usize,
    mode: BoundaryMode,
    cval: f64,
    origin: isize,
    output: Dtype,
) -> Result<()> {
    if weights.is_empty() {
        return Err(Error::param("weights", "give at least one weight"));
    }
    let n = weights.len();
    let (before, after) = window(n, origin)?;
    let size1 = n / 2;
    let size2 = n - size1 - 1;
    let kind = symmetry(weights);
    let w = weights.to_vec();
    along_axis(data, axis, before, after, mode, cval, output, move |line, out| {
        for (i, slot) in out.iter_mut().enumerate() {
            // `c`: the tap at offset 0 of output sample i in the extended line.
            let c = i + size1;
            *slot = match kind {
                Symmetry::Symmetric => {
                    let mut acc = line[c] * w[size1];
                    for k in (1..=size1).rev() {
                        acc += (line[c - k] + line[c + k]) * w[size1 - k];
                    }
                    acc
                }
                Symmetry::Antisymmetric => {
                    let mut acc = line[c] * w[size1];
                    for k in (1..=size1).rev() {
                        acc += (line[c - k] - line[c + k]) * w[size1 - k];
                    }
                    acc
                }
                Symmetry::General => {
                    let mut acc = line[c + size2] * w[n - 1];
                    for (k, wk) in w[..n - 1].iter().enumerate() {
                        acc += line[i + k] * wk;
                    }
                    acc
                }
            };
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::ArrayD;

    #[test]
    fn recognises_scipy_symmetries() {
        assert_eq!(symmetry(&[1.0, 2.0, 1.0]), Symmetry::Symmetric);
        assert_eq!(symmetry(&[-1.0, 0.0, 1.0]), Symmetry::Antisymmetric);
        assert_eq!(symmetry(&[1.0, 2.0]), Symmetry::General);
        assert_eq!(symmetry(&[1.0, 2.0, 3.0]), Symmetry::General);
    }

    #[test]
    fn derivative_into_unsigned_wraps_like_scipy() {
        let mut out = ArrayD::from_shape_vec(vec![4], vec![10.0, 5.0, 1.0, 1.0]).unwrap();
        correlate1d(
            out.view_mut(),
            &[-1.0, 0.0, 1.0],
            0,
            BoundaryMode::Reflect,
            0.0,
            0,
            Dtype::U16,
        )
        .unwrap();
        // What scipy 1.17 returns for this call.
        assert_eq!(out.as_slice().unwrap(), &[65531.0, 65527.0, 65532.0, 0.0]);
    }

    #[test]
    fn origin_shifts_the_window() {
        let a = ArrayD::from_shape_vec(vec![5], vec![0.0, 1.0, 2.0, 3.0, 4.0]).unwrap();
        let mut out = a.clone();
        correlate1d(
            out.view_mut(),
            &[1.0, 0.0, 0.0],
            0,
            BoundaryMode::Nearest,
            0.0,
            1,
            Dtype::F64,
        )
        .unwrap();
        // origin 1 moves the window one sample left: output i = input[i - 2].
        assert_eq!(out.as_slice().unwrap(), &[0.0, 0.0, 0.0, 1.0, 2.0]);
        let mut b = a.clone();
        assert!(
            correlate1d(
                b.view_mut(),
                &[1.0, 0.0, 0.0],
                0,
                BoundaryMode::Nearest,
                0.0,
                2,
                Dtype::F64
            )
            .is_err()
        );
    }
}

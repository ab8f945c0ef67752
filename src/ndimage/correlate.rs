//! `scipy.ndimage.correlate` with an N-dimensional kernel, in double: weights of magnitude up
//! to `f64::EPSILON` are skipped and the others summed in the kernel's C order, as scipy does.

use ndarray::{ArrayD, ArrayViewD};

use super::Dtype;
use super::footprint::Neighbourhood;
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};

/// Correlates `input` with `weights` (same number of axes), the kernel centred at
/// `shape / 2 + origins` (scipy's convention for odd and even sides); values outside the input
/// are `cval` in constant mode.
pub fn correlate(
    input: ArrayViewD<'_, f64>,
    weights: ArrayViewD<'_, f64>,
    mode: BoundaryMode,
    cval: f64,
    origins: &[isize],
    output: Dtype,
) -> Result<ArrayD<f64>> {
    if weights.ndim() != input.ndim() {
        return Err(Error::param(
            "weights",
            format!("the kernel has {} axes, the input {}", weights.ndim(), input.ndim()),
        ));
    }
    let w = weights.as_standard_layout();
    let w = w.as_slice().expect("standard layout is contiguous");
    let mask: Vec<bool> = w.iter().map(|v| v.abs() > f64::EPSILON).collect();
    let taps: Vec<f64> = w.iter().copied().filter(|v| v.abs() > f64::EPSILON).collect();
    if taps.is_empty() {
        // scipy sums nothing: every output is 0.
        return Ok(ArrayD::from_elem(input.raw_dim(), output.store(0.0)));
    }
    let hood = Neighbourhood::new(input.shape(), weights.shape(), &mask, origins, mode)?;
    let out = hood.map(input, cval, |values| {
        let mut acc = 0.0;
        for (v, t) in values.iter().zip(&taps) {
            acc += t * v;
        }
        output.store(acc)
    });
    Ok(out)
}

//! `scipy.ndimage.uniform_filter1d`: a running sum along each line (added, then divided by the
//! size for every sample), as scipy accumulates it.

use ndarray::ArrayViewMutD;

use super::Dtype;
use super::lines::{along_axis, window};
use crate::boundary::BoundaryMode;
use crate::error::Result;

/// The mean of `size` samples along `axis`, in place (window centred as scipy's, moved by `origin`).
pub fn uniform_filter1d(
    data: ArrayViewMutD<'_, f64>,
    size: usize,
    axis: usize,
    mode: BoundaryMode,
    cval: f64,
    origin: isize,
    output: Dtype,
) -> Result<()> {
    let (before, after) = window(size, origin)?;
    let divisor = size as f64;
    along_axis(data, axis, before, after, mode, cval, output, move |line, out| {
        // The running sum is the same double scipy keeps: each step adds (entering - leaving).
        let mut sum = 0.0;
        for v in &line[..size] {
            sum += v;
        }
        out[0] = sum / divisor;
        for i in 1..out.len() {
            sum += line[i + size - 1] - line[i - 1];
            out[i] = sum / divisor;
        }
    })
}

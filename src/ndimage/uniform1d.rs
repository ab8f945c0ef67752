//! `scipy.ndimage.uniform_filter1d`: a running sum along each line (added, then divided by the
//! size for every sample), as scipy accumulates it.

use ndarray::ArrayViewMutD;

use super::Dtype;
use super::lines::{along_axis, check_origin};
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};

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
    if size == 0 {
        return Err(Error::param("size", "give a window of at least 1 sample"));
    }
    check_origin(origin, size)?;
    let size1 = size / 2;
    let size2 = size - size1 - 1;
    let before = (size1 as isize + origin) as usize;
    let after = (size2 as isize - origin) as usize;
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

//! `scipy.ndimage.minimum_filter1d` / `maximum_filter1d`: the extreme of a sliding window by a
//! monotone queue (amortised O(1) per sample). Among equal extremes the latest sample wins, as
//! in scipy's ring buffer, so signed zeros come out as scipy's do.

use std::collections::VecDeque;

use ndarray::ArrayViewMutD;

use super::Dtype;
use super::lines::{along_axis, window};
use crate::boundary::BoundaryMode;
use crate::error::Result;

/// Minimum (`minimum = true`) or maximum of `size` samples along `axis`, in place.
#[allow(clippy::too_many_arguments)]
pub fn min_or_max_filter1d(
    data: ArrayViewMutD<'_, f64>,
    size: usize,
    axis: usize,
    mode: BoundaryMode,
    cval: f64,
    origin: isize,
    minimum: bool,
    output: Dtype,
) -> Result<()> {
    let (before, after) = window(size, origin)?;
    // `dominated(old, new)`: `old` can never again be the window's extreme once `new` entered.
    let dominated = move |old: f64, new: f64| if minimum { old >= new } else { old <= new };
    along_axis(data, axis, before, after, mode, cval, output, move |line, out| {
        let mut queue: VecDeque<(usize, f64)> = VecDeque::with_capacity(size);
        for (i, &v) in line.iter().enumerate() {
            while queue.back().is_some_and(|&(_, old)| dominated(old, v)) {
                queue.pop_back();
            }
            queue.push_back((i, v));
            if queue.front().is_some_and(|&(j, _)| j + size <= i) {
                queue.pop_front();
            }
            if i + 1 >= size
                && let Some(&(_, extreme)) = queue.front()
            {
                out[i + 1 - size] = extreme;
            }
        }
    })
}

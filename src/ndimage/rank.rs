//! `scipy.ndimage.rank_filter` (and `median_filter`, `percentile_filter`) over any footprint:
//! the value of a given rank among the footprint's samples, found by Hoare's selection with the
//! first sample as pivot (scipy's `NI_Select`), so ties of signed zeros resolve as scipy's do.

use ndarray::{ArrayD, ArrayViewD};

use super::Dtype;
use super::footprint::Neighbourhood;
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};

/// The value of rank `rank` (0 = smallest) in `values` (reordered). The negated comparisons
/// are deliberate: NaN stops both scans, as in scipy's C loops.
#[allow(clippy::neg_cmp_op_on_partial_ord)]
pub(crate) fn select(values: &mut [f64], rank: usize) -> f64 {
    let (mut lo, mut hi, mut rank) = (0usize, values.len() - 1, rank);
    loop {
        if lo == hi {
            return values[lo];
        }
        let pivot = values[lo];
        let mut i = lo as isize - 1;
        let mut j = hi as isize + 1;
        loop {
            loop {
                j -= 1;
                if !(values[j as usize] > pivot) {
                    break;
                }
            }
            loop {
                i += 1;
                if !(values[i as usize] < pivot) {
                    break;
                }
            }
            if i < j {
                values.swap(i as usize, j as usize);
            } else {
                break;
            }
        }
        let left = (j - lo as isize + 1) as usize;
        if rank < left {
            hi = j as usize;
        } else {
            lo = j as usize + 1;
            rank -= left;
        }
    }
}

/// The rank-`rank` value of each footprint (`footprint`: bool mask, C order, shape `fshape`).
/// Outside the input in constant mode the footprint reads `cval` converted to the input's type
/// `input_dtype` first (scipy reads it as an element of the input).
#[allow(clippy::too_many_arguments)]
pub fn rank_filter(
    input: ArrayViewD<'_, f64>,
    rank: usize,
    footprint: &[bool],
    fshape: &[usize],
    mode: BoundaryMode,
    cval: f64,
    origins: &[isize],
    input_dtype: Dtype,
    output: Dtype,
) -> Result<ArrayD<f64>> {
    let hood = Neighbourhood::new(input.shape(), fshape, footprint, origins, mode)?;
    if rank >= hood.len() {
        return Err(Error::param(
            "rank",
            format!("{rank} is not within a footprint of {} samples", hood.len()),
        ));
    }
    Ok(hood.map(input, input_dtype.store(cval), |values| {
        output.store(select(values, rank))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_finds_every_rank() {
        let data = [5.0, -1.0, 3.0, 3.0, 9.0, 0.0, 2.5];
        let mut sorted = data.to_vec();
        sorted.sort_by(f64::total_cmp);
        for (rank, expected) in sorted.iter().enumerate() {
            let mut v = data.to_vec();
            assert_eq!(select(&mut v, rank), *expected);
        }
    }
}

//! `scipy.ndimage.minimum_filter` / `maximum_filter` / `grey_erosion` / `grey_dilation` with a
//! footprint that is not a full box, or a (non-flat) structuring element: scipy's arithmetic in
//! the input's type (the constant and the structure values are converted to it first).

use ndarray::{ArrayD, ArrayViewD};

use super::Dtype;
use super::footprint::Neighbourhood;
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};

/// Minimum (`minimum = true`) or maximum over the footprint; with `structure` (one value per
/// footprint element, C order) each sample is offset by it first (subtracted for the minimum,
/// added for the maximum) — grey morphology with a non-flat element.
#[allow(clippy::too_many_arguments)]
pub fn min_or_max_filter(
    input: ArrayViewD<'_, f64>,
    footprint: &[bool],
    fshape: &[usize],
    structure: Option<&[f64]>,
    mode: BoundaryMode,
    cval: f64,
    origins: &[isize],
    minimum: bool,
    input_dtype: Dtype,
    output: Dtype,
) -> Result<ArrayD<f64>> {
    let hood = Neighbourhood::new(input.shape(), fshape, footprint, origins, mode)?;
    let offsets: Option<Vec<f64>> = match structure {
        None => None,
        Some(s) if s.len() != footprint.len() => {
            return Err(Error::param(
                "structure",
                format!("{} values for a footprint of {} elements", s.len(), footprint.len()),
            ));
        }
        Some(s) => Some(
            s.iter()
                .zip(footprint)
                .filter(|(_, on)| **on)
                .map(|(v, _)| if minimum { -v } else { *v })
                .collect(),
        ),
    };
    let better = move |candidate: f64, best: f64| if minimum { candidate < best } else { candidate > best };
    Ok(hood.map(input, input_dtype.store(cval), |values| {
        // The first sample's offset is added in double, the others in the input's type, as
        // scipy's macro does.
        let mut best = values[0] + offsets.as_ref().map_or(0.0, |o| o[0]);
        for (k, &v) in values.iter().enumerate().skip(1) {
            let candidate = match &offsets {
                Some(o) => input_dtype.store(v + input_dtype.store(o[k])),
                None => v,
            };
            if better(candidate, best) {
                best = candidate;
            }
        }
        output.store(best)
    }))
}

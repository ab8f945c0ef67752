//! The N-dimensional neighbourhood of scipy's footprint filters (`correlate`, `rank_filter`,
//! `minimum_filter` with a footprint, ...): the footprint's true points in C order, each
//! output sample's source samples mapped through the boundary mode.

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rayon::prelude::*;

use super::lines::{c_strides, check_origin};
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};

/// A footprint placed over every sample of an array of a given shape.
pub(crate) struct Neighbourhood {
    shape: Vec<usize>,
    /// C-order element strides of the (standard-layout) input.
    strides: Vec<usize>,
    /// Per axis: `table[a][p * fshape[a] + k]` is the input index footprint coordinate `k`
    /// reads for output position `p`, or `usize::MAX` outside the input in constant mode.
    tables: Vec<Vec<usize>>,
    fshape: Vec<usize>,
    /// Footprint coordinates of the true points, C order, `ndim` per point.
    points: Vec<usize>,
}

pub(crate) const OUTSIDE: usize = usize::MAX;

impl Neighbourhood {
    /// `mask` is the footprint (C order, shape `fshape`); `origins` move it as scipy's
    /// `origin` does.
    pub(crate) fn new(
        shape: &[usize],
        fshape: &[usize],
        mask: &[bool],
        origins: &[isize],
        mode: BoundaryMode,
    ) -> Result<Self> {
        let ndim = shape.len();
        if ndim == 0 {
            return Err(Error::InvalidShape("a 0-dimensional array has no neighbourhood".into()));
        }
        if fshape.len() != ndim || origins.len() != ndim {
            return Err(Error::param(
                "footprint",
                format!(
                    "the footprint has {} axes and {} origins for an array of {ndim} axes",
                    fshape.len(),
                    origins.len()
                ),
            ));
        }
        if fshape.iter().product::<usize>() != mask.len() || fshape.contains(&0) {
            return Err(Error::param(
                "footprint",
                format!("shape {fshape:?} does not hold {} values", mask.len()),
            ));
        }
        for (&o, &f) in origins.iter().zip(fshape) {
            check_origin(o, f)?;
        }
        let strides = c_strides(shape);
        let tables = (0..ndim)
            .map(|a| {
                let centre = (fshape[a] / 2) as isize + origins[a];
                let mut table = Vec::with_capacity(shape[a] * fshape[a]);
                for p in 0..shape[a] as isize {
                    for k in 0..fshape[a] as isize {
                        let source = mode.map_index(p + k - centre, 0, shape[a] as isize);
                        table.push(source.map_or(OUTSIDE, |s| s as usize));
                    }
                }
                table
            })
            .collect();
        let mut points = Vec::new();
        for (flat, &on) in mask.iter().enumerate() {
            if on {
                let mut rest = flat;
                let start = points.len();
                points.resize(start + ndim, 0);
                for a in (0..ndim).rev() {
                    points[start + a] = rest % fshape[a];
                    rest /= fshape[a];
                }
            }
        }
        if points.is_empty() {
            return Err(Error::param("footprint", "the footprint has no true element"));
        }
        Ok(Self {
            shape: shape.to_vec(),
            strides,
            tables,
            fshape: fshape.to_vec(),
            points,
        })
    }

    /// Number of true points of the footprint.
    pub(crate) fn len(&self) -> usize {
        self.points.len() / self.shape.len()
    }

    /// Calls `reduce(values)` for every output sample with its footprint's input values (C
    /// order of the footprint; `outside` where the footprint leaves the input in constant
    /// mode) and collects the results in C order, rows in parallel.
    pub(crate) fn map<F>(&self, input: ArrayViewD<'_, f64>, outside: f64, reduce: F) -> ArrayD<f64>
    where
        F: Fn(&mut [f64]) -> f64 + Sync,
    {
        let standard = input.as_standard_layout();
        let data = standard.as_slice().expect("standard layout is contiguous");
        let ndim = self.shape.len();
        let row = self.shape[ndim - 1];
        let mut out = vec![0.0; data.len()];
        let count = self.len();
        if !out.is_empty() {
            out.par_chunks_mut(row).enumerate().for_each_init(
                || (vec![0usize; count], vec![0.0f64; count], vec![0usize; ndim]),
                |(lead, values, coords), (r, out_row)| {
                    // Coordinates of this row along the leading axes.
                    let mut rest = r;
                    for a in (0..ndim - 1).rev() {
                        coords[a] = rest % self.shape[a];
                        rest /= self.shape[a];
                    }
                    // Offset of every point along the leading axes (OUTSIDE if any is).
                    for (p, slot) in lead.iter_mut().enumerate() {
                        let point = &self.points[p * ndim..(p + 1) * ndim];
                        let mut offset = 0usize;
                        for a in 0..ndim - 1 {
                            let s = self.tables[a][coords[a] * self.fshape[a] + point[a]];
                            if s == OUTSIDE {
                                offset = OUTSIDE;
                                break;
                            }
                            offset += s * self.strides[a];
                        }
                        *slot = offset;
                    }
                    let last = ndim - 1;
                    let table = &self.tables[last];
                    for (x, slot) in out_row.iter_mut().enumerate() {
                        for (p, value) in values.iter_mut().enumerate() {
                            let s = table[x * self.fshape[last] + self.points[p * ndim + last]];
                            *value = if lead[p] == OUTSIDE || s == OUTSIDE {
                                outside
                            } else {
                                data[lead[p] + s]
                            };
                        }
                        *slot = reduce(values);
                    }
                },
            );
        }
        ArrayD::from_shape_vec(IxDyn(&self.shape), out).expect("output has the input's shape")
    }
}

//! The CPU side of neighbourhood (stencil) kernels: for every output row `(z, y)` the input rows
//! of its `(2rz + 1) × (2ry + 1)` neighbourhood, each extended by `rx` voxels either side with
//! the boundary mode, so that the kernel's inner loop is branch-free, contiguous and
//! vectorisable along x. Rows of the output are processed in parallel.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::boundary::BoundaryMode;

/// Extra padding at the end of every extended row, so SIMD loads of a last partial chunk of
/// `LANES` voxels stay inside the buffer.
pub(crate) const TAIL: usize = 32;

/// The extended neighbour rows of one output row.
pub(crate) struct NeighbourRows<'a> {
    buf: &'a [f32],
    stride: usize,
    /// Number of rows: `(2rz + 1) × (2ry + 1)`, ordered by dz then dy.
    pub count: usize,
}

impl NeighbourRows<'_> {
    /// Length of every extended row: `nx + 2 rx` plus [`TAIL`].
    #[inline]
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Row `i` (dz-major), extended: element `x + rx` is input voxel `x`; `x + rx + dx` is the
    /// neighbour at offset `dx`.
    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.buf[i * self.stride..(i + 1) * self.stride]
    }
}

/// Calls `row_fn(z, y, rows, scratch, out_row)` for every output row, in parallel, and returns
/// the output. `scratch` is per-thread working memory made by `init`.
pub(crate) fn map_rows<S>(
    input: ArrayView3<'_, f32>,
    radius: [usize; 3],
    mode: BoundaryMode,
    init: impl Fn() -> S + Sync + Send,
    row_fn: impl Fn(usize, usize, &NeighbourRows<'_>, &mut S, &mut [f32]) + Sync,
) -> Array3<f32> {
    let [nz, ny, nx] = [input.shape()[0], input.shape()[1], input.shape()[2]];
    let mut out = crate::memory::zeroed_f32(nz * ny * nx);
    map_rows_into(input, radius, mode, init, row_fn, &mut out);
    Array3::from_shape_vec((nz, ny, nx), out).expect("shape matches length")
}

/// [`map_rows`] into `out` (the input's length, C order): iterative filters reuse one buffer
/// instead of faulting in a new volume every step.
pub(crate) fn map_rows_into<S>(
    input: ArrayView3<'_, f32>,
    radius: [usize; 3],
    mode: BoundaryMode,
    init: impl Fn() -> S + Sync + Send,
    row_fn: impl Fn(usize, usize, &NeighbourRows<'_>, &mut S, &mut [f32]) + Sync,
    out: &mut [f32],
) {
    let [nz, ny, nx] = [input.shape()[0], input.shape()[1], input.shape()[2]];
    assert_eq!(out.len(), nz * ny * nx, "map_rows_into: output of the input's size");
    let [rz, ry, rx] = radius;
    let input = input.as_standard_layout();
    let src = input.as_slice().expect("standard layout is contiguous");
    let stride = nx + 2 * rx + TAIL;
    let count = (2 * rz + 1) * (2 * ry + 1);
    let cval = mode.cval();
    out.par_chunks_mut(nx).enumerate().for_each_init(
        || (vec![0.0f32; count * stride], init()),
        |(buf, scratch), (row_index, out_row)| {
            let (z, y) = (row_index / ny, row_index % ny);
            for dz in 0..=2 * rz {
                let sz = mode.map_index(z as isize + dz as isize - rz as isize, 0, nz as isize);
                for dy in 0..=2 * ry {
                    let sy = mode.map_index(y as isize + dy as isize - ry as isize, 0, ny as isize);
                    let i = dz * (2 * ry + 1) + dy;
                    let dst = &mut buf[i * stride..(i + 1) * stride];
                    match (sz, sy) {
                        (Some(sz), Some(sy)) => {
                            let start = (sz as usize * ny + sy as usize) * nx;
                            extend_row(&src[start..start + nx], rx, mode, dst);
                        }
                        _ => dst.fill(cval),
                    }
                }
            }
            let rows = NeighbourRows { buf, stride, count };
            row_fn(z, y, &rows, scratch, out_row);
        },
    );
}

/// Writes `row` extended by `r` voxels either side with `mode` into `dst` (and zeroes the tail).
fn extend_row(row: &[f32], r: usize, mode: BoundaryMode, dst: &mut [f32]) {
    let n = row.len();
    dst[r..r + n].copy_from_slice(row);
    for i in (0..r).chain(r + n..n + 2 * r) {
        dst[i] = match mode.map_index(i as isize - r as isize, 0, n as isize) {
            Some(m) => row[m as usize],
            None => mode.cval(),
        };
    }
    dst[n + 2 * r..].fill(0.0);
}

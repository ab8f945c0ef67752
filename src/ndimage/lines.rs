//! Passes along one axis, as scipy's line buffers run them: each line is copied into a double
//! buffer extended by the boundary mode, a kernel fills the output line, and every value is
//! stored through the output's [`Dtype`].

use ndarray::parallel::prelude::*;
use ndarray::{ArrayViewMutD, Axis};

use super::Dtype;
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};

/// C-order element strides of an array of `shape`.
pub(crate) fn c_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        strides[a] = strides[a + 1] * shape[a + 1];
    }
    strides
}

/// Checks that `axis` exists in an array of `ndim` axes.
pub(crate) fn check_axis(axis: usize, ndim: usize) -> Result<()> {
    if ndim == 0 {
        return Err(Error::InvalidShape(
            "a 0-dimensional array has no axis to filter along".into(),
        ));
    }
    if axis >= ndim {
        return Err(Error::param(
            "axis",
            format!("{axis} is out of range for {ndim} dimensions"),
        ));
    }
    Ok(())
}

/// Checks scipy's rule for the origin of a window of `size` taps: the window must still cover
/// the output sample (`0 <= size / 2 + origin < size`).
pub(crate) fn check_origin(origin: isize, size: usize) -> Result<()> {
    let centre = (size / 2) as isize + origin;
    if centre < 0 || centre >= size as isize {
        return Err(Error::param(
            "origin",
            format!(
                "{origin} moves a window of {size} off its sample: use -{} <= origin <= {}",
                size / 2,
                (size as isize - 1) / 2
            ),
        ));
    }
    Ok(())
}

/// The samples a window of `size` taps moved by `origin` reads ahead of and behind each
/// output sample (scipy's `size / 2 + origin` and `size − size / 2 − 1 − origin`), after
/// checking the origin.
pub(crate) fn window(size: usize, origin: isize) -> Result<(usize, usize)> {
    if size == 0 {
        return Err(Error::param("size", "give a window of at least 1 sample"));
    }
    check_origin(origin, size)?;
    let before = size / 2;
    let after = size - before - 1;
    Ok(((before as isize + origin) as usize, (after as isize - origin) as usize))
}

/// The input sample each position of a line extended by `before` and `after` samples reads
/// (`None`: the constant), any extent folding repeatedly as scipy's `NI_ExtendLine` does.
fn extension(before: usize, len: usize, after: usize, mode: BoundaryMode) -> Vec<Option<usize>> {
    (0..before + len + after)
        .map(|p| {
            mode.map_index(p as isize - before as isize, 0, len as isize)
                .map(|r| r as usize)
        })
        .collect()
}

/// Lines processed together: read as contiguous row segments of this many lines (the lines
/// along an axis other than the last are strided; gathering a block of them row by row keeps
/// the reads sequential).
const BLOCK: usize = 64;

/// The longest extended line (data plus window) a pass takes: BLOCK lines of it are 1 GiB.
const MAX_EXTENDED_LINE: usize = (1 << 30) / (BLOCK * 8);

/// Runs `kernel(extended_line, output_line)` over every line of `data` along `axis`, in
/// place; the extended line has `before` samples ahead of the data and `after` behind it.
/// Lines run in parallel (slabs of the leading axes, blocks of [`BLOCK`] columns of the
/// trailing ones, each gathered before any is written). `data` must be in standard (C) layout.
#[allow(clippy::too_many_arguments)]
pub(crate) fn along_axis<F>(
    data: ArrayViewMutD<'_, f64>,
    axis: usize,
    before: usize,
    after: usize,
    mode: BoundaryMode,
    cval: f64,
    output: Dtype,
    kernel: F,
) -> Result<()>
where
    F: Fn(&[f64], &mut [f64]) + Sync,
{
    check_axis(axis, data.ndim())?;
    if data.is_empty() {
        return Ok(());
    }
    if !data.is_standard_layout() {
        return Err(Error::param(
            "data",
            "the array must be in standard (C-contiguous) layout",
        ));
    }
    let shape = data.shape().to_vec();
    let len = shape[axis];
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    // Each parallel task holds BLOCK extended lines: a window so wide that they would not fit
    // in memory is refused (scipy would try and fail to allocate too).
    let extended_len = before
        .checked_add(len)
        .and_then(|n| n.checked_add(after))
        .filter(|&n| n <= MAX_EXTENDED_LINE)
        .ok_or_else(|| {
            Error::TooLarge(format!(
                "a window reaching {before} samples before and {after} after a line of {len}: lines extended \
                 beyond {MAX_EXTENDED_LINE} samples are not supported (use a smaller size or sigma)"
            ))
        })?;
    let rows = extension(before, len, after, mode);
    if inner == 1 {
        // Lines along the last axis are contiguous rows: blocks of rows, one buffer each.
        let mut lines = data
            .into_shape_with_order((outer, len))
            .map_err(|e| Error::InvalidShape(format!("cannot view the array as lines: {e}")))?;
        lines
            .axis_chunks_iter_mut(Axis(0), BLOCK)
            .into_par_iter()
            .for_each(|mut block| {
                let mut line = vec![0.0; extended_len];
                let mut filtered = vec![0.0; len];
                for mut row in block.rows_mut() {
                    for (slot, source) in line.iter_mut().zip(&rows) {
                        *slot = source.map_or(cval, |r| row[r]);
                    }
                    kernel(&line, &mut filtered);
                    for (slot, v) in row.iter_mut().zip(&filtered) {
                        *slot = output.store(*v);
                    }
                }
            });
        return Ok(());
    }
    let mut slabs = data
        .into_shape_with_order((outer, len, inner))
        .map_err(|e| Error::InvalidShape(format!("cannot view the array as lines: {e}")))?;
    // Each block of columns reads and writes only its own columns: blocks are independent.
    slabs.axis_iter_mut(Axis(0)).into_par_iter().for_each(|mut slab| {
        slab.axis_chunks_iter_mut(Axis(1), BLOCK)
            .into_par_iter()
            .for_each(|mut block| {
                let width = block.ncols();
                let mut lines = vec![0.0; width * extended_len];
                for (p, row) in rows.iter().enumerate() {
                    match row {
                        Some(r) => {
                            for (c, v) in block.row(*r).iter().enumerate() {
                                lines[c * extended_len + p] = *v;
                            }
                        }
                        None => {
                            for c in 0..width {
                                lines[c * extended_len + p] = cval;
                            }
                        }
                    }
                }
                let mut filtered = vec![0.0; width * len];
                for (line, result) in lines.chunks(extended_len).zip(filtered.chunks_mut(len)) {
                    kernel(line, result);
                }
                for (l, mut row) in block.rows_mut().into_iter().enumerate() {
                    for (c, slot) in row.iter_mut().enumerate() {
                        *slot = output.store(filtered[c * len + l]);
                    }
                }
            });
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_folds_like_scipy_line_buffers() {
        // a b c d (1 2 3 4) with 6 samples either side; 0 stands for the constant.
        let spell = |mode| -> Vec<usize> {
            extension(6, 4, 6, mode)
                .iter()
                .map(|r| r.map_or(0, |i| i + 1))
                .collect()
        };
        assert_eq!(
            spell(BoundaryMode::Reflect),
            [3, 4, 4, 3, 2, 1, 1, 2, 3, 4, 4, 3, 2, 1, 1, 2]
        );
        assert_eq!(
            spell(BoundaryMode::Mirror),
            [1, 2, 3, 4, 3, 2, 1, 2, 3, 4, 3, 2, 1, 2, 3, 4]
        );
        assert_eq!(
            spell(BoundaryMode::Wrap),
            [3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2]
        );
        assert_eq!(
            spell(BoundaryMode::Nearest),
            [1, 1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4]
        );
        assert_eq!(
            spell(BoundaryMode::Constant(0.0)),
            [0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0]
        );
        // A one-sample mirror repeats the sample, as scipy's line buffers do.
        assert_eq!(extension(2, 1, 2, BoundaryMode::Mirror), [Some(0); 5]);
    }

    #[test]
    fn origin_rule_matches_scipy() {
        assert!(check_origin(1, 3).is_ok());
        assert!(check_origin(-1, 3).is_ok());
        assert!(check_origin(2, 3).is_err());
        assert!(check_origin(-2, 4).is_ok());
        assert!(check_origin(1, 4).is_ok());
        assert!(check_origin(2, 4).is_err());
        assert!(check_origin(-3, 4).is_err());
    }
}

//! `scipy.ndimage.zoom` and `shift`: B-spline interpolation of orders 0–5 at coordinates that
//! are, per axis, `(k + shift) · zoom` (or the grid-mode form), with scipy's mapping of
//! coordinates outside the input for each mode, its weights per order, its summation order and
//! its rounding conversion to integer outputs. The input holds spline coefficients for orders
//! above 1 (see [`super::spline_filter1d`]).

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rayon::prelude::*;

use super::Dtype;
use super::lines::c_strides;
use super::spline::InterpolationMode;
use crate::error::{Error, Result};

/// Where a coordinate outside `0..=len−1` reads, per mode (scipy's `map_coordinate`; `−1`
/// means the constant for `Constant`).
fn map_coordinate(x: f64, len: usize, mode: InterpolationMode) -> f64 {
    let n = len as f64;
    let last = n - 1.0;
    if x < 0.0 {
        match mode {
            InterpolationMode::Mirror if len > 1 => {
                let period = 2.0 * n - 2.0;
                let y = period * (-x / period).trunc() + x;
                if y <= 1.0 - n { y + period } else { -y }
            }
            InterpolationMode::Reflect if len > 1 => {
                let period = 2.0 * n;
                let y = if x < -period {
                    period * (-x / period).trunc() + x
                } else {
                    x
                };
                // scipy nudges coordinates within 1e-15 of 0 so that −y − 1 never reads −1.
                if y < -n {
                    y + period
                } else {
                    (if y > -1e-15 { 1e-15 } else { -y }) - 1.0
                }
            }
            InterpolationMode::Wrap if len > 1 => {
                let period = n - 1.0;
                x + period * ((-x / period).trunc() + 1.0)
            }
            InterpolationMode::GridWrap if len > 1 => x + n * ((-1.0 - x) / n).trunc() + n,
            InterpolationMode::Nearest => 0.0,
            InterpolationMode::Constant => -1.0,
            InterpolationMode::GridConstant => x,
            _ => 0.0,
        }
    } else if x > last {
        match mode {
            InterpolationMode::Mirror if len > 1 => {
                let period = 2.0 * n - 2.0;
                let y = x - period * (x / period).trunc();
                if y >= n { period - y } else { y }
            }
            InterpolationMode::Reflect if len > 1 => {
                let period = 2.0 * n;
                let y = x - period * (x / period).trunc();
                if y >= n { period - y - 1.0 } else { y }
            }
            InterpolationMode::Wrap if len > 1 => {
                let period = n - 1.0;
                x - period * (x / period).trunc()
            }
            InterpolationMode::GridWrap if len > 1 => x - n * (x / n).trunc(),
            InterpolationMode::Nearest => last,
            InterpolationMode::Constant => -1.0,
            InterpolationMode::GridConstant => x,
            _ => 0.0,
        }
    } else {
        x
    }
}

/// B-spline weights of the `order + 1` samples around `x` (scipy's closed forms; the last
/// weight is one minus the others).
fn weights(x: f64, order: usize, out: &mut [f64]) {
    let x = x - if order % 2 == 1 { x.floor() } else { (x + 0.5).floor() };
    let (mut y, mut z) = (x, 1.0 - x);
    match order {
        1 => out[0] = 1.0 - x,
        2 => {
            out[1] = 0.75 - x * x;
            y = 0.5 - x;
            out[0] = 0.5 * y * y;
        }
        3 => {
            out[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
            out[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
            out[0] = z * z * z / 6.0;
        }
        4 => {
            let t = x * x;
            out[2] = t * (t * 0.25 - 0.625) + 115.0 / 192.0;
            y = 1.0 + x;
            out[1] = y * (y * (y * (5.0 - y) / 6.0 - 1.25) + 5.0 / 24.0) + 55.0 / 96.0;
            out[3] = z * (z * (z * (5.0 - z) / 6.0 - 1.25) + 5.0 / 24.0) + 55.0 / 96.0;
            y = 0.5 - x;
            let t = y * y;
            out[0] = t * t / 24.0;
        }
        5 => {
            let t = y * y;
            out[2] = t * (t * (0.25 - y / 12.0) - 0.5) + 0.55;
            let t = z * z;
            out[3] = t * (t * (0.25 - z / 12.0) - 0.5) + 0.55;
            y += 1.0;
            out[1] = y * (y * (y * (y * (y / 24.0 - 0.375) + 1.25) - 1.75) + 0.625) + 0.425;
            z += 1.0;
            out[4] = z * (z * (z * (z * (z / 24.0 - 0.375) + 1.25) - 1.75) + 0.625) + 0.425;
            y = 1.0 - x;
            let t = y * y;
            out[0] = y * t * t / 120.0;
        }
        _ => {}
    }
    if order > 0 {
        out[order] = 1.0;
        for i in 0..order {
            out[order] -= out[i];
        }
    }
}

/// The index of row `r` (all axes but the last) of an array of `shape`, into `index`.
fn row_index(r: usize, shape: &[usize], index: &mut [usize]) {
    let mut rest = r;
    for a in (0..shape.len() - 1).rev() {
        index[a] = rest % shape[a];
        rest /= shape[a];
    }
}

/// One output position along one axis: the input samples its taps read (`None`: the
/// constant) and their weights; `None` for the whole position: the constant (mode Constant).
struct Tap {
    indices: Vec<Option<usize>>,
    weights: Vec<f64>,
}

/// The taps of the output position whose input coordinate (before prepadding) is `c`.
fn tap_at(c: f64, len: usize, order: usize, mode: InterpolationMode, nprepad: usize) -> Option<Tap> {
    let mut c = c + nprepad as f64;
    if !matches!(mode, InterpolationMode::GridConstant | InterpolationMode::Nearest) {
        c = map_coordinate(c, len, mode);
    }
    if !(c > -1.0 || matches!(mode, InterpolationMode::GridConstant | InterpolationMode::Nearest)) {
        return None;
    }
    let start = if order % 2 == 1 { c.floor() } else { (c + 0.5).floor() } as isize - (order / 2) as isize;
    // Taps beyond the edges read the mirrored sample (wrap and constant too: scipy's spline
    // boundary), or the constant in grid-constant mode.
    let edge_mode = match mode {
        InterpolationMode::Constant | InterpolationMode::Wrap => InterpolationMode::Mirror,
        m => m,
    };
    let indices = (0..=order as isize)
        .map(|t| {
            let i = start + t;
            if (0..len as isize).contains(&i) {
                Some(i as usize)
            } else if mode == InterpolationMode::GridConstant {
                None
            } else {
                Some(map_coordinate(i as f64, len, edge_mode) as isize as usize)
            }
        })
        .collect();
    let mut w = vec![1.0; order + 1];
    weights(c, order, &mut w);
    Some(Tap { indices, weights: w })
}

/// The zoomed and shifted coordinate of output index `k` along one axis.
fn zoomed(k: usize, zoom: Option<f64>, shift: Option<f64>, grid_mode: bool) -> f64 {
    let mut c = k as f64;
    if let Some(s) = shift {
        c += s;
    }
    if let Some(z) = zoom {
        c = if grid_mode { (c + 0.5) * z - 0.5 } else { c * z };
    }
    c
}

/// Sums the footprint of one output position (taps per axis) in scipy's order: C order over
/// the taps, each coefficient multiplied by the axes' weights in axis order.
fn interpolate(positions: &[&Tap], data: &[f64], strides: &[usize], order: usize, cval: f64, tap: &mut [usize]) -> f64 {
    let ndim = positions.len();
    let footprint = (order + 1).pow(ndim as u32);
    let mut sum = 0.0;
    tap.iter_mut().for_each(|t| *t = 0);
    for _ in 0..footprint {
        let mut index = Some(0usize);
        for a in 0..ndim {
            index = match (index, positions[a].indices[tap[a]]) {
                (Some(i), Some(j)) => Some(i + j * strides[a]),
                _ => None,
            };
        }
        let mut coefficient = index.map_or(cval, |i| data[i]);
        if order > 0 {
            for a in 0..ndim {
                coefficient *= positions[a].weights[tap[a]];
            }
        }
        sum += coefficient;
        for a in (0..ndim).rev() {
            if tap[a] < order {
                tap[a] += 1;
                break;
            }
            tap[a] = 0;
        }
    }
    sum
}

/// Where the output samples of [`geometric_transform`] read the input.
pub enum Coordinates<'a> {
    /// `input coordinate = matrix · output index + offset` (`matrix`: input axes × output
    /// axes, row-major), as `scipy.ndimage.affine_transform` with a 2D matrix.
    Affine { matrix: &'a [f64], offset: &'a [f64] },
    /// One input coordinate per output sample: shape `(input axes, *output shape)`, as
    /// `scipy.ndimage.map_coordinates`.
    Array(ArrayViewD<'a, f64>),
}

/// Interpolates `input` (spline coefficients for orders above 1) at arbitrary coordinates:
/// `scipy.ndimage.affine_transform` and `map_coordinates`, with the same taps, weights, modes
/// and stores as [`zoom_shift`].
#[allow(clippy::too_many_arguments)]
pub fn geometric_transform(
    input: ArrayViewD<'_, f64>,
    out_shape: &[usize],
    coordinates: Coordinates<'_>,
    order: usize,
    mode: InterpolationMode,
    cval: f64,
    nprepad: usize,
    output: Dtype,
) -> Result<ArrayD<f64>> {
    let ndim = input.ndim();
    let out_ndim = out_shape.len();
    if ndim == 0 || out_ndim == 0 {
        return Err(Error::InvalidShape("input and output need at least one axis".into()));
    }
    if order > 5 {
        return Err(Error::param(
            "order",
            format!("{order}: give a spline order from 0 to 5"),
        ));
    }
    match &coordinates {
        Coordinates::Affine { matrix, offset } => {
            if matrix.len() != ndim * out_ndim || offset.len() != ndim {
                return Err(Error::param(
                    "matrix",
                    format!("give a {ndim}×{out_ndim} matrix and {ndim} offsets"),
                ));
            }
        }
        Coordinates::Array(c) => {
            if c.ndim() != out_ndim + 1 || c.shape()[0] != ndim || c.shape()[1..] != *out_shape {
                return Err(Error::param(
                    "coordinates",
                    format!("shape {:?}: give ({ndim}, *{out_shape:?})", c.shape()),
                ));
            }
        }
    }
    let total: usize = out_shape.iter().product();
    if input.is_empty() && total > 0 {
        return Err(Error::InvalidShape(
            "an empty input cannot be interpolated to a non-empty output".into(),
        ));
    }
    let shape = input.shape().to_vec();
    let standard = input.as_standard_layout();
    let data = standard.as_slice().expect("standard layout is contiguous");
    let strides = c_strides(&shape);
    let coordinate_array = match &coordinates {
        Coordinates::Array(c) => Some(c.as_standard_layout()),
        Coordinates::Affine { .. } => None,
    };
    let coordinate_data = coordinate_array
        .as_ref()
        .map(|c| c.as_slice().expect("standard layout"));
    let row = out_shape[out_ndim - 1].max(1);
    let mut out = vec![0.0; total];
    out.par_chunks_mut(row).enumerate().for_each(|(r, out_row)| {
        let mut index = vec![0usize; out_ndim];
        row_index(r, out_shape, &mut index);
        let mut tap = vec![0usize; ndim];
        for (x, slot) in out_row.iter_mut().enumerate() {
            index[out_ndim - 1] = x;
            let flat = r * row + x;
            let taps: Option<Vec<Tap>> = (0..ndim)
                .map(|a| {
                    let c = match (&coordinates, coordinate_data) {
                        (Coordinates::Affine { matrix, offset }, _) => {
                            let mut sum = offset[a];
                            for (j, &i) in index.iter().enumerate() {
                                sum += i as f64 * matrix[a * out_ndim + j];
                            }
                            sum
                        }
                        (Coordinates::Array(_), Some(c)) => c[a * total + flat],
                        _ => unreachable!("a coordinate array has its data"),
                    };
                    tap_at(c, shape[a], order, mode, nprepad)
                })
                .collect();
            let value = match taps {
                None => cval,
                Some(t) => {
                    let refs: Vec<&Tap> = t.iter().collect();
                    interpolate(&refs, data, &strides, order, cval, &mut tap)
                }
            };
            *slot = output.store_interpolated(value);
        }
    });
    Ok(ArrayD::from_shape_vec(IxDyn(out_shape), out).expect("output has its shape"))
}

/// Interpolates `input` (spline coefficients for orders above 1) at the zoomed and shifted
/// coordinates of an output of `out_shape`, values stored as `output` (integers rounded half
/// away from zero and saturated, as scipy's interpolators store them).
#[allow(clippy::too_many_arguments)]
pub fn zoom_shift(
    input: ArrayViewD<'_, f64>,
    out_shape: &[usize],
    zoom: Option<&[f64]>,
    shift: Option<&[f64]>,
    order: usize,
    mode: InterpolationMode,
    cval: f64,
    nprepad: usize,
    grid_mode: bool,
    output: Dtype,
) -> Result<ArrayD<f64>> {
    let ndim = input.ndim();
    if ndim == 0 || out_shape.len() != ndim {
        return Err(Error::InvalidShape(format!(
            "an output of {} axes for an input of {ndim}",
            out_shape.len()
        )));
    }
    if order > 5 {
        return Err(Error::param(
            "order",
            format!("{order}: give a spline order from 0 to 5"),
        ));
    }
    for (name, values) in [("zoom", zoom), ("shift", shift)] {
        if let Some(v) = values
            && (v.len() != ndim || v.iter().any(|x| !x.is_finite()))
        {
            return Err(Error::param(name, format!("give {ndim} finite values")));
        }
    }
    if input.is_empty() && out_shape.iter().product::<usize>() > 0 {
        return Err(Error::InvalidShape(
            "an empty input cannot be interpolated to a non-empty output".into(),
        ));
    }
    let shape = input.shape().to_vec();
    let per_axis: Vec<Vec<Option<Tap>>> = (0..ndim)
        .map(|a| {
            (0..out_shape[a])
                .map(|k| {
                    let c = zoomed(k, zoom.map(|z| z[a]), shift.map(|s| s[a]), grid_mode);
                    tap_at(c, shape[a], order, mode, nprepad)
                })
                .collect()
        })
        .collect();
    let standard = input.as_standard_layout();
    let data = standard.as_slice().expect("standard layout is contiguous");
    let strides = c_strides(&shape);
    let total: usize = out_shape.iter().product();
    let row = out_shape[ndim - 1].max(1);
    let mut out = vec![0.0; total];
    out.par_chunks_mut(row).enumerate().for_each(|(r, out_row)| {
        let mut coords = vec![0usize; ndim];
        row_index(r, out_shape, &mut coords);
        let mut tap = vec![0usize; ndim];
        for (x, slot) in out_row.iter_mut().enumerate() {
            coords[ndim - 1] = x;
            let positions: Option<Vec<&Tap>> = (0..ndim).map(|a| per_axis[a][coords[a]].as_ref()).collect();
            let value = match positions {
                None => cval,
                Some(p) => interpolate(p.as_slice(), data, &strides, order, cval, &mut tap),
            };
            *slot = output.store_interpolated(value);
        }
    });
    Ok(ArrayD::from_shape_vec(IxDyn(out_shape), out).expect("output has its shape"))
}

#[cfg(test)]
mod tests {
    use ndarray::{ArrayD, IxDyn};

    use super::*;
    use crate::ndimage::spline_filter1d;

    fn line(values: &[f64]) -> ArrayD<f64> {
        ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).unwrap()
    }

    #[test]
    fn linear_zoom_rounds_integers_half_away_from_zero() {
        let a = line(&[0.0, 1.0, -3.0]);
        let zoom = [2.0 / 4.0]; // (3 − 1) / (5 − 1): corners map to corners
        let out = |dtype| {
            zoom_shift(
                a.view(),
                &[5],
                Some(&zoom),
                None,
                1,
                InterpolationMode::Constant,
                0.0,
                0,
                false,
                dtype,
            )
            .unwrap()
            .into_raw_vec_and_offset()
            .0
        };
        assert_eq!(out(Dtype::F64), [0.0, 0.5, 1.0, -1.0, -3.0]);
        assert_eq!(out(Dtype::I16), [0.0, 1.0, 1.0, -1.0, -3.0]);
        assert_eq!(out(Dtype::U8), [0.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn cubic_splines_reproduce_their_samples() {
        // Prefiltered coefficients interpolated at the sample positions give the samples back
        // (to 1e-8 for reflect, whose initialisation scipy truncates; exactly otherwise).
        let samples = [3.0, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0];
        for mode in [
            InterpolationMode::Mirror,
            InterpolationMode::Reflect,
            InterpolationMode::GridWrap,
        ] {
            let mut c = line(&samples);
            spline_filter1d(c.view_mut(), 3, 0, mode, Dtype::F64).unwrap();
            let back = zoom_shift(c.view(), &[7], None, Some(&[0.0]), 3, mode, 0.0, 0, false, Dtype::F64).unwrap();
            for (b, s) in back.iter().zip(samples) {
                let tolerance = if mode == InterpolationMode::Reflect {
                    1e-8
                } else {
                    1e-12
                };
                assert!((b - s).abs() < tolerance, "{mode:?}: {b} vs {s}");
            }
        }
    }

    #[test]
    fn identity_transforms_return_the_input() {
        let a = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![1.0, -2.0, 3.5, 4.0, 0.25, -6.0]).unwrap();
        let identity = [1.0, 0.0, 0.0, 1.0];
        let affine = geometric_transform(
            a.view(),
            &[2, 3],
            Coordinates::Affine {
                matrix: &identity,
                offset: &[0.0, 0.0],
            },
            1,
            InterpolationMode::Constant,
            0.0,
            0,
            Dtype::F64,
        )
        .unwrap();
        assert_eq!(affine, a);
        let grid =
            ArrayD::from_shape_vec(IxDyn(&[2, 2, 3]), vec![0., 0., 0., 1., 1., 1., 0., 1., 2., 0., 1., 2.]).unwrap();
        let mapped = geometric_transform(
            a.view(),
            &[2, 3],
            Coordinates::Array(grid.view()),
            0,
            InterpolationMode::Nearest,
            0.0,
            0,
            Dtype::F64,
        )
        .unwrap();
        assert_eq!(mapped, a);
        let wrong = ArrayD::zeros(IxDyn(&[1, 2, 3]));
        assert!(
            geometric_transform(
                a.view(),
                &[2, 3],
                Coordinates::Array(wrong.view()),
                0,
                InterpolationMode::Nearest,
                0.0,
                0,
                Dtype::F64
            )
            .is_err()
        );
    }

    #[test]
    fn bad_parameters_are_errors() {
        let a = line(&[1.0, 2.0]);
        let run = |order, zoom: &[f64], shape: &[usize]| {
            zoom_shift(
                a.view(),
                shape,
                Some(zoom),
                None,
                order,
                InterpolationMode::Nearest,
                0.0,
                0,
                false,
                Dtype::F64,
            )
        };
        assert!(run(6, &[1.0], &[2]).is_err());
        assert!(run(1, &[f64::NAN], &[2]).is_err());
        assert!(run(1, &[1.0, 1.0], &[2]).is_err());
        assert!(run(1, &[1.0], &[2, 2]).is_err());
        assert_eq!(run(1, &[1.0], &[0]).unwrap().len(), 0);
        let mut c = line(&[1.0, 2.0]);
        assert!(spline_filter1d(c.view_mut(), 1, 0, InterpolationMode::Mirror, Dtype::F64).is_err());
        assert!("bogus".parse::<InterpolationMode>().is_err());
    }
}

//! Chamfer distance transform — `scipy.ndimage.distance_transform_cdt(input, metric)`: the
//! number of structure steps from every true sample to the nearest false sample (`taxicab`:
//! face neighbours, `chessboard`: the whole cube, or any 3^n structure), and optionally that
//! sample's coordinates.
//!
//! scipy's two raster passes: forward in C order, each sample taking one more than the
//! smallest distance among the structure's points before its centre (first such point on
//! ties); then the same over the array reversed along every axis. Distances and features are
//! scipy's exactly. Samples never reached (no false sample at all) keep −1. The passes are
//! sequential — each sample depends on the one before it — as in scipy.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::error::{Error, Result};
use crate::ndimage::c_strides;

/// Chamfer distances and, when asked for, the feature transform.
#[derive(Debug, Clone, PartialEq)]
pub struct ChamferTransform {
    /// Steps to the nearest false sample (0 on false samples, −1 where none is reachable).
    pub distances: ArrayD<i32>,
    /// `(ndim, …shape)`: per axis, the coordinate of the nearest false sample, when asked for.
    pub indices: Option<ArrayD<i32>>,
}

/// The chamfer distance transform of `input` (true = object) with `metric`, a `3 × … × 3`
/// structure of the input's rank (`generate_binary_structure(ndim, 1)` is taxicab,
/// `generate_binary_structure(ndim, ndim)` chessboard).
pub fn distance_transform_cdt(
    input: ArrayViewD<'_, bool>,
    metric: ArrayViewD<'_, bool>,
    return_indices: bool,
) -> Result<ChamferTransform> {
    let shape = input.shape().to_vec();
    let ndim = shape.len();
    if metric.ndim() != ndim || metric.shape().iter().any(|&s| s != 3) {
        return Err(Error::param(
            "metric",
            format!(
                "shape {:?} for an input of {ndim} axes: the metric must be 3 long along each of the input's axes",
                metric.shape()
            ),
        ));
    }
    let n = input.len();
    if n > i32::MAX as usize {
        return Err(Error::TooLarge(format!(
            "{n} samples: at most 2^31 − 1 (scipy's int32 features)"
        )));
    }
    let strides = c_strides(&shape);
    let sstrides = c_strides(metric.shape());
    let points: Vec<bool> = metric.iter().copied().collect();
    // The structure's points before its centre, as displacements (C order of the structure).
    let steps: Vec<Vec<isize>> = (0..points.len() / 2)
        .filter(|&k| points[k])
        .map(|k| (0..ndim).map(|a| ((k / sstrides[a]) % 3) as isize - 1).collect())
        .collect();
    let mask = input.as_standard_layout();
    let mask = mask.as_slice().expect("standard layout");
    let mut dt: Vec<i32> = mask.iter().map(|&m| if m { -1 } else { 0 }).collect();
    let mut ft: Vec<i32> = if return_indices {
        (0..n as i32).collect()
    } else {
        Vec::new()
    };
    for sign in [1isize, -1] {
        sweep(&mut dt, &mut ft, &shape, &strides, &steps, sign);
    }
    let indices = return_indices.then(|| {
        let mut out_shape = vec![ndim];
        out_shape.extend(&shape);
        let mut planar = vec![0i32; n * ndim];
        for a in 0..ndim {
            for (i, &f) in ft.iter().enumerate() {
                planar[a * n + i] = ((f as usize / strides[a]) % shape[a]) as i32;
            }
        }
        ArrayD::from_shape_vec(IxDyn(&out_shape), planar).expect("ndim × shape")
    });
    Ok(ChamferTransform {
        distances: ArrayD::from_shape_vec(IxDyn(&shape), dt).expect("input shape"),
        indices,
    })
}

/// One raster pass: forward (`sign` 1) or over the array reversed along every axis (`sign`
/// −1: reverse C order, displacements mirrored).
fn sweep(dt: &mut [i32], ft: &mut [i32], shape: &[usize], strides: &[usize], steps: &[Vec<isize>], sign: isize) {
    let n = dt.len();
    let ndim = shape.len();
    let flat: Vec<isize> = steps
        .iter()
        .map(|s| sign * s.iter().zip(strides).map(|(&d, &st)| d * st as isize).sum::<isize>())
        .collect();
    let mut coords: Vec<usize> = if sign > 0 {
        vec![0; ndim]
    } else {
        shape.iter().map(|&s| s.saturating_sub(1)).collect()
    };
    for k in 0..n {
        let i = if sign > 0 { k } else { n - 1 - k };
        if dt[i] != 0 {
            let mut best = dt[i];
            let mut from = None;
            for (step, &off) in steps.iter().zip(&flat) {
                let inside = (0..ndim).all(|a| {
                    let c = coords[a] as isize + sign * step[a];
                    c >= 0 && (c as usize) < shape[a]
                });
                if inside {
                    let t = dt[(i as isize + off) as usize];
                    if t >= 0 && (best < 0 || t + 1 < best) {
                        best = t + 1;
                        from = Some(off);
                    }
                }
            }
            dt[i] = best;
            if let (Some(off), false) = (from, ft.is_empty()) {
                ft[i] = ft[(i as isize + off) as usize];
            }
        }
        // Next coordinates in the pass's order.
        for a in (0..ndim).rev() {
            if sign > 0 {
                coords[a] += 1;
                if coords[a] < shape[a] {
                    break;
                }
                coords[a] = 0;
            } else {
                if coords[a] > 0 {
                    coords[a] -= 1;
                    break;
                }
                coords[a] = shape[a] - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::generate_binary_structure;

    #[test]
    fn taxicab_and_chessboard_count_steps() {
        let mut input = ArrayD::from_elem(IxDyn(&[5, 7]), true);
        input[[2, 3]] = false;
        let taxi = generate_binary_structure(2, 1).unwrap();
        let chess = generate_binary_structure(2, 2).unwrap();
        let t = distance_transform_cdt(input.view(), taxi.view(), true).unwrap();
        let c = distance_transform_cdt(input.view(), chess.view(), false).unwrap();
        for ((y, x), _) in input
            .clone()
            .into_dimensionality::<ndarray::Ix2>()
            .unwrap()
            .indexed_iter()
        {
            let (dy, dx) = ((y as i32 - 2).abs(), (x as i32 - 3).abs());
            assert_eq!(t.distances[[y, x]], dy + dx);
            assert_eq!(c.distances[[y, x]], dy.max(dx));
        }
        let idx = t.indices.unwrap();
        assert!(idx.index_axis(ndarray::Axis(0), 0).iter().all(|&v| v == 2));
        assert!(idx.index_axis(ndarray::Axis(0), 1).iter().all(|&v| v == 3));
    }
}

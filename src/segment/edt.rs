//! Exact Euclidean distance transform — `scipy.ndimage.distance_transform_edt(input, sampling,
//! return_indices)`: for every true sample, the distance to the nearest false sample (voxel
//! spacing `sampling` per axis), and optionally that sample's coordinates (the feature
//! transform).
//!
//! The feature transform of Maurer, Qi & Raghavan ("A linear time algorithm for computing exact
//! Euclidean distance transforms of binary images in arbitrary dimensions", IEEE TPAMI 25,
//! 2003), one axis after the other (axis 0 first): along each line, the features found so far
//! that can still be nearest to some sample of the line are kept on a stack (a feature is
//! dropped when the two around it hide it, the paper's `RemoveFT` test), then the line is swept
//! to give every sample the nearest kept feature. Ties go where scipy sends them (the test
//! keeps a feature when the expression is ≤ 0, the sweep moves on only to a strictly nearer
//! feature), and the arithmetic is scipy's in float64, so indices and distances equal scipy's
//! bit for bit. Lines of an axis run in parallel.

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ndimage::c_strides;

/// Distances and, when asked for, the feature transform.
#[derive(Debug, Clone, PartialEq)]
pub struct DistanceTransform {
    /// Distance of every sample to its nearest false sample (0 on false samples), the input's
    /// shape.
    pub distances: ArrayD<f64>,
    /// `(ndim, …shape)`: per axis, the coordinate of the nearest false sample (scipy's
    /// `indices`), when asked for.
    pub indices: Option<ArrayD<i32>>,
}

/// Checks `sampling` (one finite spacing > 0 per axis; `None` = 1).
pub(crate) fn check_sampling(sampling: Option<&[f64]>, ndim: usize) -> Result<Vec<f64>> {
    match sampling {
        None => Ok(vec![1.0; ndim]),
        Some(s) if s.len() != ndim => Err(Error::param(
            "sampling",
            format!("{} spacings for an input of {ndim} axes: give one per axis", s.len()),
        )),
        Some(s) => match s.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            Some(bad) => Err(Error::param(
                "sampling",
                format!("spacing {bad} must be finite and > 0"),
            )),
            None => Ok(s.to_vec()),
        },
    }
}

/// Lines gathered together along a strided axis, so reads and writes touch whole cache lines.
const LINES_PER_TILE: usize = 16;

/// Squared distances (float64) by separable passes, axis 0 first: along axis 0 the distance to
/// the nearest false sample of the line (two scans over whole hyperplanes, vectorisable), then
/// along every further axis the lower envelope of the parabolas `g(q) + (s·(p − q))²`
/// (Felzenszwalb & Huttenlocher, "Distance transforms of sampled functions", Theory of
/// Computing 8, 2012). Each pass adds the new axis's term to the previous sum, so the sums are
/// formed in scipy's order (`(d0² + d1²) + d2²`) and give its values.
fn squared_distances(mask: &[bool], shape: &[usize], strides: &[usize], sampling: &[f64]) -> Vec<f64> {
    let n = mask.len();
    let (len0, plane) = (shape[0], strides[0]);
    let mut g = crate::memory::zeroed_f64(n);
    // Axis 0: nearest false sample before and after, per position of the hyperplane.
    let chunk = plane.div_ceil(rayon::current_num_threads() * 4).max(64);
    let columns: Vec<(usize, usize)> = (0..plane).step_by(chunk).map(|c| (c, (c + chunk).min(plane))).collect();
    let shared = Shared(g.as_mut_ptr());
    columns.par_iter().for_each(|&(c0, c1)| {
        let width = c1 - c0;
        let mut last = vec![i64::MIN / 4; width];
        // SAFETY: this task writes only columns c0..c1 of every hyperplane.
        let row = |z: usize| unsafe { std::slice::from_raw_parts_mut(shared.ptr().add(z * plane + c0), width) };
        for z in 0..len0 {
            let m = &mask[z * plane + c0..z * plane + c1];
            let out = row(z);
            for k in 0..width {
                if !m[k] {
                    last[k] = z as i64;
                }
                out[k] = (z as i64 - last[k]) as f64;
            }
        }
        let mut next = vec![i64::MAX / 4; width];
        for z in (0..len0).rev() {
            let m = &mask[z * plane + c0..z * plane + c1];
            let out = row(z);
            for k in 0..width {
                if !m[k] {
                    next[k] = z as i64;
                }
                let d = out[k].min((next[k] - z as i64) as f64);
                let t = d * sampling[0];
                out[k] = if d > len0 as f64 { f64::INFINITY } else { t * t };
            }
        }
    });
    for (axis, &s) in sampling.iter().enumerate().skip(1) {
        envelope_pass(&mut g, shape, strides, axis, s);
    }
    g
}

/// One pass of parabola envelopes along `axis` (> 0), tiles of adjacent lines in parallel.
fn envelope_pass(g: &mut [f64], shape: &[usize], strides: &[usize], axis: usize, s: f64) {
    let len = shape[axis];
    let inner = strides[axis];
    let outer = g.len() / (len * inner);
    let tiles_per_outer = inner.div_ceil(LINES_PER_TILE);
    let shared = Shared(g.as_mut_ptr());
    (0..outer * tiles_per_outer).into_par_iter().for_each_init(
        || Envelope::new(len, LINES_PER_TILE),
        |env, t| {
            let (o, tile) = (t / tiles_per_outer, t % tiles_per_outer);
            let c0 = tile * LINES_PER_TILE;
            let width = LINES_PER_TILE.min(inner - c0);
            let base = o * len * inner + c0;
            // SAFETY: this task reads and writes lines c0..c0+width of block `o` only.
            unsafe {
                for k in 0..len {
                    let src = shared.ptr().add(base + k * inner);
                    for w in 0..width {
                        env.lines[w * len + k] = *src.add(w);
                    }
                }
            }
            for w in 0..width {
                env.line(w, len, s);
            }
            unsafe {
                for k in 0..len {
                    let dst = shared.ptr().add(base + k * inner);
                    for w in 0..width {
                        *dst.add(w) = env.lines[w * len + k];
                    }
                }
            }
        },
    );
}

/// Scratch of the parabola envelope for a tile of lines.
struct Envelope {
    lines: Vec<f64>,
    out: Vec<f64>,
    /// Positions of the parabolas of the envelope.
    v: Vec<usize>,
    /// Where each parabola of the envelope starts to be the lowest.
    z: Vec<f64>,
}

impl Envelope {
    fn new(len: usize, lines: usize) -> Self {
        Envelope {
            lines: vec![0.0; len * lines],
            out: vec![0.0; len],
            v: vec![0; len],
            z: vec![0.0; len + 1],
        }
    }

    /// Replaces line `w` by `min_q g(q) + (s·(p − q))²`.
    fn line(&mut self, w: usize, len: usize, s: f64) {
        let g = &mut self.lines[w * len..(w + 1) * len];
        let s2 = s * s;
        let mut k = 0usize; // index of the rightmost parabola
        let mut started = false;
        for q in 0..len {
            if g[q] == f64::INFINITY {
                continue;
            }
            if !started {
                self.v[0] = q;
                self.z[0] = f64::NEG_INFINITY;
                self.z[1] = f64::INFINITY;
                started = true;
                continue;
            }
            // Drop the parabolas the new one hides (z[0] = −∞ keeps the first one).
            let cross = loop {
                let vk = self.v[k];
                // Where the parabola of q overtakes the one of v[k].
                let cross =
                    ((g[q] + s2 * (q * q) as f64) - (g[vk] + s2 * (vk * vk) as f64)) / (2.0 * s2 * (q - vk) as f64);
                if cross > self.z[k] || k == 0 {
                    break cross;
                }
                k -= 1;
            };
            k += 1;
            self.v[k] = q;
            self.z[k] = cross;
            self.z[k + 1] = f64::INFINITY;
        }
        if !started {
            return;
        }
        let mut k = 0;
        for p in 0..len {
            while self.z[k + 1] < p as f64 {
                k += 1;
            }
            let vk = self.v[k];
            let t = (vk as f64 - p as f64) * s;
            self.out[p] = g[vk] + t * t;
        }
        g.copy_from_slice(&self.out[..len]);
    }
}

/// A raw pointer the parallel line passes share (features or squared distances): each task
/// reads and writes only its own lines.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: tasks write disjoint samples (see the passes).
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// The pointer (a method, so closures capture the `Send` wrapper, not its field).
    fn ptr(self) -> *mut T {
        self.0
    }
}

/// The exact Euclidean distance transform of `input` (true = object) with `sampling` per axis,
/// plus the feature transform when `return_indices`. An input without any false sample gets
/// scipy's values (features that stay at −1 along axis 0).
pub fn distance_transform_edt(
    input: ArrayViewD<'_, bool>,
    sampling: Option<&[f64]>,
    return_indices: bool,
) -> Result<DistanceTransform> {
    let shape = input.shape().to_vec();
    let ndim = shape.len();
    if ndim == 0 {
        return Err(Error::InvalidShape("a 0-dimensional input has no distances".into()));
    }
    let sampling = check_sampling(sampling, ndim)?;
    let n = input.len();
    if shape.iter().any(|&s| s > i32::MAX as usize) || n.checked_mul(ndim).is_none_or(|t| t > isize::MAX as usize / 4) {
        return Err(Error::TooLarge(format!(
            "shape {shape:?}: every axis must be below 2^31"
        )));
    }
    let mask = input.as_standard_layout();
    let mask = mask.as_slice().expect("standard layout");
    let strides = c_strides(&shape);
    if !return_indices && mask.par_iter().any(|&m| !m) {
        // Distances alone: the lower envelopes of parabolas (see `envelope`), same values.
        let mut distances = squared_distances(mask, &shape, &strides, &sampling);
        distances.par_iter_mut().for_each(|d| *d = d.sqrt());
        return Ok(DistanceTransform {
            distances: ArrayD::from_shape_vec(IxDyn(&shape), distances).expect("input shape"),
            indices: None,
        });
    }
    // Features interleaved per sample (ndim values each); axis 0 seeded from the input.
    let mut features = vec![0i32; n * ndim];
    features
        .par_chunks_mut(ndim)
        .zip(mask.par_iter())
        .enumerate()
        .for_each(|(i, (f, &object))| {
            if object {
                f[0] = -1;
            } else {
                for a in 0..ndim {
                    f[a] = ((i / strides[a]) % shape[a]) as i32;
                }
            }
        });
    for axis in 0..ndim {
        pass(&mut features, &shape, &strides, axis, &sampling);
    }
    let mut distances = vec![0.0f64; n];
    distances.par_iter_mut().enumerate().for_each(|(i, d)| {
        // numpy's order: (feature − index) per axis, times the spacing, squared, summed over
        // the axes in order, square root.
        let mut sum = 0.0;
        for a in 0..ndim {
            let t = f64::from(features[i * ndim + a] - ((i / strides[a]) % shape[a]) as i32) * sampling[a];
            sum += t * t;
        }
        *d = sum.sqrt();
    });
    let indices = return_indices.then(|| {
        let mut out_shape = vec![ndim];
        out_shape.extend(&shape);
        let mut planar = vec![0i32; n * ndim];
        planar.par_chunks_mut(n.max(1)).enumerate().for_each(|(a, plane)| {
            for (i, v) in plane.iter_mut().enumerate() {
                *v = features[i * ndim + a];
            }
        });
        ArrayD::from_shape_vec(IxDyn(&out_shape), planar).expect("ndim × shape")
    });
    Ok(DistanceTransform {
        distances: ArrayD::from_shape_vec(IxDyn(&shape), distances).expect("input shape"),
        indices,
    })
}

/// One Voronoi pass along `axis` over every line of the array.
fn pass(features: &mut [i32], shape: &[usize], strides: &[usize], axis: usize, sampling: &[f64]) {
    let ndim = shape.len();
    let len = shape[axis];
    let inner = strides[axis];
    let lines = features.len() / ndim / len.max(1);
    let shared = Shared(features.as_mut_ptr());
    (0..lines).into_par_iter().for_each_init(
        || {
            (
                vec![0i32; len * ndim],
                vec![0usize; len],
                vec![0i64; ndim],
                vec![0i32; len * ndim],
            )
        },
        |(line, stack, coords, kept), l| {
            let (outer, within) = (l / inner, l % inner);
            let first = outer * len * inner + within;
            for (a, c) in coords.iter_mut().enumerate() {
                *c = ((first / strides[a]) % shape[a]) as i64;
            }
            // SAFETY: line `l` touches the samples `first + k·inner` (k < len), which no other
            // line of this pass touches; `features` outlives the parallel loop.
            unsafe {
                for k in 0..len {
                    let src = shared.ptr().add((first + k * inner) * ndim);
                    std::ptr::copy_nonoverlapping(src, line.as_mut_ptr().add(k * ndim), ndim);
                }
            }
            if voronoi_line(line, len, ndim, axis, coords, sampling, stack, kept) {
                unsafe {
                    for k in 0..len {
                        let dst = shared.ptr().add((first + k * inner) * ndim);
                        std::ptr::copy_nonoverlapping(line.as_ptr().add(k * ndim), dst, ndim);
                    }
                }
            }
        },
    );
}

/// Squared, scaled distance of feature `f` from the line's coordinates, axis `d` left out.
fn off_axis(f: &[i32], coords: &[i64], d: usize, sampling: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (a, (&fa, &c)) in f.iter().zip(coords).enumerate() {
        if a != d {
            let t = (i64::from(fa) - c) as f64 * sampling[a];
            sum += t * t;
        }
    }
    sum
}

/// Squared, scaled distance of feature `f` from sample `k` of the line (along axis `d`).
fn to_sample(f: &[i32], k: usize, coords: &[i64], d: usize, sampling: &[f64]) -> f64 {
    let mut sum = 0.0;
    for (a, (&fa, &c)) in f.iter().zip(coords).enumerate() {
        let t = (i64::from(fa) - if a == d { k as i64 } else { c }) as f64 * sampling[a];
        sum += t * t;
    }
    sum
}

/// The feature transform of one line in place; false when the line holds no feature (then it
/// is left as it was).
#[allow(clippy::too_many_arguments)]
fn voronoi_line(
    line: &mut [i32],
    len: usize,
    ndim: usize,
    d: usize,
    coords: &[i64],
    sampling: &[f64],
    stack: &mut [usize],
    kept: &mut [i32],
) -> bool {
    let mut top = 0usize; // stack holds `top` entries
    for k in 0..len {
        if line[k * ndim] < 0 {
            continue;
        }
        let fk = &line[k * ndim..(k + 1) * ndim];
        let w = off_axis(fk, coords, d, sampling);
        let fd = f64::from(fk[d]);
        while top >= 2 {
            let (u, v) = (
                &line[stack[top - 2] * ndim..][..ndim],
                &line[stack[top - 1] * ndim..][..ndim],
            );
            let a = (f64::from(v[d]) - f64::from(u[d])) * sampling[d];
            let b = (fd - f64::from(v[d])) * sampling[d];
            let c = a + b;
            let (ur, vr) = (off_axis(u, coords, d, sampling), off_axis(v, coords, d, sampling));
            // Keep `v` unless `u` and the new feature hide it from the whole line.
            if c * vr - b * ur - a * w - a * b * c <= 0.0 {
                break;
            }
            top -= 1;
        }
        stack[top] = k;
        top += 1;
    }
    if top == 0 {
        return false;
    }
    for (slot, &k) in stack[..top].iter().enumerate() {
        kept[slot * ndim..(slot + 1) * ndim].copy_from_slice(&line[k * ndim..(k + 1) * ndim]);
    }
    let kept = |slot: usize| &kept[slot * ndim..(slot + 1) * ndim];
    let mut l = 0;
    for k in 0..len {
        let mut near = to_sample(kept(l), k, coords, d, sampling);
        while l + 1 < top {
            let next = to_sample(kept(l + 1), k, coords, d, sampling);
            if near <= next {
                break;
            }
            near = next;
            l += 1;
        }
        line[k * ndim..(k + 1) * ndim].copy_from_slice(kept(l));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance to the nearest false sample by brute force.
    fn brute(mask: &[bool], shape: &[usize], sampling: &[f64]) -> Vec<f64> {
        let strides = c_strides(shape);
        let coords =
            |i: usize| -> Vec<f64> { (0..shape.len()).map(|a| ((i / strides[a]) % shape[a]) as f64).collect() };
        (0..mask.len())
            .map(|i| {
                let ci = coords(i);
                (0..mask.len())
                    .filter(|&j| !mask[j])
                    .map(|j| {
                        let cj = coords(j);
                        (0..shape.len())
                            .map(|a| ((ci[a] - cj[a]) * sampling[a]).powi(2))
                            .sum::<f64>()
                            .sqrt()
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .collect()
    }

    #[test]
    fn distances_equal_brute_force_and_features_are_nearest() {
        let mut rng = crate::rng::XorShift64::new(11);
        for case in 0..60 {
            let ndim = 1 + case % 3;
            let shape: Vec<usize> = (0..ndim)
                .map(|_| 1 + (rng.next_u64() % 13) as usize + if case % 4 == 0 && ndim < 3 { 20 } else { 0 })
                .collect();
            let n: usize = shape.iter().product();
            let mut mask: Vec<bool> = (0..n).map(|_| rng.next_f64_open() < 0.8).collect();
            mask[(rng.next_u64() as usize) % n] = false;
            let sampling: Vec<f64> = (0..ndim).map(|_| 0.5 + 2.0 * rng.next_f64_open()).collect();
            let input = ArrayD::from_shape_vec(IxDyn(&shape), mask.clone()).unwrap();
            let edt = distance_transform_edt(input.view(), Some(&sampling), true).unwrap();
            let want = brute(&mask, &shape, &sampling);
            let alone = distance_transform_edt(input.view(), Some(&sampling), false).unwrap();
            for ((got, alone), want) in edt.distances.iter().zip(&alone.distances).zip(&want) {
                assert!(
                    (got - want).abs() <= 1e-12 * want.max(1.0),
                    "case {case}: {got} vs {want}"
                );
                assert!(
                    (alone - want).abs() <= 1e-12 * want.max(1.0),
                    "case {case}: envelope {alone} vs {want}"
                );
            }
            // Every feature is a false sample.
            let strides = c_strides(&shape);
            let indices = edt.indices.unwrap();
            for i in 0..n {
                let flat: usize = (0..ndim)
                    .map(|a| indices.as_slice().unwrap()[a * n + i] as usize * strides[a])
                    .sum();
                assert!(!mask[flat], "case {case}: feature of {i} is an object sample");
            }
        }
    }

    #[test]
    fn bad_sampling_is_refused() {
        let input = ArrayD::from_elem(IxDyn(&[3, 3]), true);
        for s in [vec![1.0], vec![1.0, 0.0], vec![f64::NAN, 1.0], vec![-1.0, 1.0]] {
            assert!(distance_transform_edt(input.view(), Some(&s), false).is_err(), "{s:?}");
        }
    }
}

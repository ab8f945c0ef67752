//! The CPU back-projector for one-row detectors (fan beams, 2D parallel beams): the volume is
//! cut into rows of pixels along x, not z-columns. A one-row detector sees every slice alike,
//! so the z-columns of [`super::Backprojector`] are as short as the volume is thin — one voxel
//! for a fan-beam image, where each voxel paid a whole column's set-up in f64 (0.03 GUPS, where
//! the parallel FBP's row back-projector reached 1.7 GUPS).
//!
//! Along a row the matrix rows `U` and `W` are affine in x, so 8 pixels at a time get their
//! detector column (`U / W` on flat detectors, `atan2(U, W) · scale + centre` on arcs) and
//! distance weight (`1 / W²`, arcs `1 / (U² + W²)`) in f32, and read the filtered row by linear
//! interpolation ([`crate::recon::interpolate::pairs`], AVX2). Geometries that turn about z map
//! every slice alike; one slice is computed and copied. The arc's angle is measured from the
//! row's middle pixel where the row stays within ±20° of it ([`Relative`]: a degree-7
//! polynomial, no range reduction); otherwise it is the ratio of the smaller to the larger of
//! `|U|`, `|W|` and a degree-15 polynomial ([`atan_unit`]); the vector loop
//! takes reciprocals as the approximate reciprocal plus one Newton step, the scalar tail (and
//! CPUs without AVX2) divides: the two agree to f32 rounding. Blocks of rows share each view's
//! filtered row in cache.
//!
//! Full circular scans whose views come in quarter (or half) turns of each other, on a grid
//! centred on the axis, compute each pixel's column and weight once for the 4 (or 2) views
//! that see it alike ([`Symmetry`], checked on the matrices): each is added to its own image in
//! the turned frame, and the images are turned back and summed. That divides the arithmetic
//! of a fan-beam update — the angle, the weight, the interpolation plan — by 4; what remains
//! per view is the interpolation itself, as in parallel-beam FBP.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::recon::geometry::DetectorMap;
use crate::recon::interpolate::PAD;

/// Pixel rows per parallel task: each view's filtered row is read once for all of them.
const ROW_BLOCK: usize = 8;

/// Coefficients of `atan(x) ≈ x · P(x²)` on `[0, 1]`: a near-minimax fit (weighted least
/// squares iterated to equal ripple, fitted for this file), 1.4e-7 rad at most in f32.
const ATAN: [f32; 8] = [
    0.999_999_34,
    -0.333_298_6,
    0.199_465_66,
    -0.139_086_3,
    0.096_421_97,
    -0.055_912_327,
    0.021_862_958,
    -0.004_054_567,
];

/// Coefficients of `atan(x) ≈ x · P(x²)` on `[0, tan 20°]` (fitted likewise; 7e-8 rad in f32).
const ATAN_NEAR: [f32; 4] = [0.999_999_1, -0.333_238_84, 0.197_348_52, -0.114_590_74];

/// Largest `|tan|` of a pixel's angle from its row's reference direction for [`Relative`].
const NEAR: f64 = 0.363_970_234_266_202_4; // tan 20°

/// `atan(x)` for `|x| ≤ tan 20°`.
#[inline(always)]
fn atan_near(x: f32) -> f32 {
    let z = x * x;
    let mut p = ATAN_NEAR[3];
    for &c in ATAN_NEAR[..3].iter().rev() {
        p = p.mul_add(z, c);
    }
    p * x
}

/// An arc row measured from its middle pixel's direction: the angle of pixel `k` from it is
/// `atan((a + k b) / (c + k d))` (cross and dot products with the reference direction, affine
/// along the row), so the column is `base + scale · atan_near(…)` — a short polynomial, no
/// range reduction. Used when the row spans at most ±20° about the reference (every pixel of a
/// clinical fan image seen from the source).
#[derive(Clone, Copy)]
struct Relative {
    a: f32,
    b: f32,
    c: f32,
    d: f32,
    base: f32,
}

impl Relative {
    /// The relative form of a row with `U = u0 + k du`, `W = w0 + k dw` over `n` pixels on an
    /// arc `(scale, centre)`, if the row's pixels stay within ±20° of the middle pixel's
    /// direction, in front of the source.
    fn of(u0: f64, du: f64, w0: f64, dw: f64, n: usize, (scale, centre): (f64, f64)) -> Option<Relative> {
        let middle = (n as f64 - 1.0) / 2.0;
        let (ur, wr) = (u0 + middle * du, w0 + middle * dw);
        if wr.is_nan() || wr <= 0.0 {
            return None;
        }
        let (a, b) = (wr * u0 - ur * w0, wr * du - ur * dw);
        let (c, d) = (ur * u0 + wr * w0, ur * du + wr * dw);
        let last = n as f64 - 1.0;
        // Cross / dot is monotone along the row while the dot stays positive (checked at both
        // ends: it is affine), so its ends bound it.
        let near = |k: f64| c + k * d > 0.0 && ((a + k * b) / (c + k * d)).abs() <= NEAR;
        (near(0.0) && near(last)).then(|| Relative {
            a: a as f32,
            b: b as f32,
            c: c as f32,
            d: d as f32,
            base: (centre + scale * ur.atan2(wr)) as f32,
        })
    }
}

/// `atan(x)` for `x` in `[0, 1]`.
#[inline(always)]
fn atan_unit(x: f32) -> f32 {
    let z = x * x;
    let mut p = ATAN[7];
    for &c in ATAN[..7].iter().rev() {
        p = p.mul_add(z, c);
    }
    p * x
}

/// `atan2(u, w)` for `w > 0` with one division: the ratio of the smaller to the larger
/// magnitude lies in `[0, 1]`.
#[inline(always)]
fn atan2_front(u: f32, w: f32) -> f32 {
    let (au, aw) = (u.abs(), w.abs());
    let a = atan_unit(au.min(aw) / au.max(aw));
    let a = if au > aw { std::f32::consts::FRAC_PI_2 - a } else { a };
    a.copysign(u)
}

/// How one view maps a row of pixels: `U = u0 + k du`, `W = w0 + k dw` at pixel `k`.
#[derive(Clone, Copy)]
struct RowMap {
    u0: f32,
    du: f32,
    w0: f32,
    dw: f32,
    /// `Some((scale, centre))` on arc detectors.
    arc: Option<(f32, f32)>,
    /// The short form of the arc's angle, where it applies.
    relative: Option<Relative>,
    weight: f32,
    /// Arcs: `(U² + W²) / weight = q0 + k (q1 + k q2)`, so the distance weight is one
    /// reciprocal of a quadratic (computed in f64 from the row's description).
    q: [f32; 3],
    last: f32,
}

impl RowMap {
    /// The arc weight's quadratic for a row `U = u0 + k du`, `W = w0 + k dw` and a view weight.
    fn quadratic(u0: f64, du: f64, w0: f64, dw: f64, weight: f64) -> [f32; 3] {
        [
            ((u0 * u0 + w0 * w0) / weight) as f32,
            (2.0 * (u0 * du + w0 * dw) / weight) as f32,
            ((du * du + dw * dw) / weight) as f32,
        ]
    }

    #[inline(always)]
    fn arc_weight(&self, k: f32) -> f32 {
        1.0 / k.mul_add(k.mul_add(self.q[2], self.q[1]), self.q[0])
    }
}

impl RowMap {
    /// Detector column and weight of pixel `k` (`None` off the detector), as the vector loop
    /// computes them.
    #[inline(always)]
    fn column(&self, k: f32) -> Option<(f32, f32)> {
        let (u, w) = (k.mul_add(self.du, self.u0), k.mul_add(self.dw, self.w0));
        let (col, wgt) = match (self.arc, self.relative) {
            (None, _) => {
                let inv = 1.0 / w;
                (u * inv, inv * inv * self.weight)
            }
            (Some((scale, _)), Some(r)) => {
                let x = k.mul_add(r.b, r.a) / k.mul_add(r.d, r.c);
                (atan_near(x).mul_add(scale, r.base), self.arc_weight(k))
            }
            (Some((scale, centre)), None) => {
                if w.is_nan() || w <= 0.0 {
                    return None;
                }
                (atan2_front(u, w).mul_add(scale, centre), self.arc_weight(k))
            }
        };
        (col >= 0.0 && col <= self.last).then_some((col, wgt))
    }
}

/// Whether the one-row path applies: a one-row detector whose row coordinate is 0 everywhere
/// (what [`DetectorMap::new`] builds for fan and 2D parallel geometries), and an arc that spans
/// less than ±90° so that points behind the source (`W ≤ 0`) never land on it.
pub(super) fn applies(map: &DetectorMap) -> bool {
    map.rows == 1
        && map.matrices.iter().all(|m| m.rows[1] == [0.0; 4])
        && map.arc.is_none_or(|a| {
            let reach = a.centre_col.abs().max((map.cols as f64 - 1.0 - a.centre_col).abs()) / a.scale;
            reach < std::f64::consts::FRAC_PI_2 * 0.999
        })
}

/// `Σ_views view_weights[v] · w(voxel) · p_v(voxel)` for one-row projections (`views × 1 ×
/// cols`) into a `shape` volume; see the module documentation.
pub(super) fn backproject(
    map: &DetectorMap,
    shape: [usize; 3],
    projections: ArrayView3<'_, f32>,
    view_weights: &[f64],
) -> Array3<f32> {
    let (views, _, cols) = projections.dim();
    // Each filtered row gets trailing zeros: the interpolation can always read index i + 1, and
    // the vector loop's window loads stay in the row.
    let stride = cols + PAD;
    let mut rows = vec![0.0f32; views * stride];
    rows.par_chunks_mut(stride).enumerate().for_each(|(v, row)| {
        for (d, &s) in row.iter_mut().zip(projections.slice(ndarray::s![v, 0, ..])) {
            *d = s;
        }
    });
    let [nz, ny, nx] = shape;
    // Rotations about z (every circular geometry) map each slice alike: compute one.
    let same_slices = map.matrices.iter().all(|m| m.rows[0][2] == 0.0 && m.rows[2][2] == 0.0);
    let slices = if same_slices { 1 } else { nz };
    let symmetry = if same_slices {
        Symmetry::of(map, [ny, nx], view_weights)
    } else {
        Symmetry::NONE
    };
    let task = Task {
        map,
        rows: &rows,
        stride,
        shape: [slices, ny, nx],
        view_weights,
        step: views / symmetry.order,
    };
    let out = match symmetry.order {
        4 => symmetry.fold(task.accumulate::<4>(), [ny, nx]),
        2 => symmetry.fold(task.accumulate::<2>(), [ny, nx]),
        _ => task.accumulate::<1>(),
    };
    let out = Array3::from_shape_vec((slices, ny, nx), out).expect("one value per voxel");
    if same_slices && nz > 1 {
        return out.broadcast((nz, ny, nx)).expect("one slice broadcasts").to_owned();
    }
    out
}

/// A turn of the image grid about its centre (index space of one slice).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Turn {
    /// `(x, y) → (n − 1 − y, x)` on an `n × n` slice.
    Quarter,
    /// `(x, y) → (y, n − 1 − x)`.
    BackQuarter,
    /// `(x, y) → (nx − 1 − x, ny − 1 − y)`.
    Half,
}

impl Turn {
    fn apply(self, (x, y): (usize, usize), [ny, nx]: [usize; 2]) -> (usize, usize) {
        match self {
            Turn::Quarter => (nx - 1 - y, x),
            Turn::BackQuarter => (y, nx - 1 - x),
            Turn::Half => (nx - 1 - x, ny - 1 - y),
        }
    }

    fn inverse(self) -> Turn {
        match self {
            Turn::Quarter => Turn::BackQuarter,
            Turn::BackQuarter => Turn::Quarter,
            Turn::Half => Turn::Half,
        }
    }
}

/// A symmetry of the scan: view `v + step` sees pixel `turn(P)` exactly as view `v` sees pixel
/// `P` (same `U` and `W`, same view weight), for every view — a full circular scan whose number
/// of views is a multiple of 4 (or 2), on a grid centred on the rotation axis. Then one
/// detector position and weight per pixel serves `order` views, each added to its own image in
/// the turned frame, and the images are turned back and summed at the end: the angle, the
/// distance weight and the interpolation plan — most of the work of a fan-beam update — are
/// computed once for 4 (or 2) views.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Symmetry {
    order: usize,
    turn: Turn,
}

impl Symmetry {
    const NONE: Symmetry = Symmetry {
        order: 1,
        turn: Turn::Half,
    };

    /// The largest symmetry of `map`'s views over an `[ny, nx]` slice (slice 0), checked on the
    /// matrices themselves: `U` and `W` at the slice's corners agree to 1e-9 of their size
    /// (affine maps that agree at the corners agree on every pixel between them).
    fn of(map: &DetectorMap, [ny, nx]: [usize; 2], view_weights: &[f64]) -> Symmetry {
        let views = map.matrices.len();
        let corners = [(0, 0), (nx - 1, 0), (0, ny - 1), (nx - 1, ny - 1)];
        let at = |v: usize, (x, y): (usize, usize)| {
            let [u, _, w] = &map.matrices[v].rows;
            let f = |r: &[f64; 4]| r[0] * x as f64 + r[1] * y as f64 + r[3];
            (f(u), f(w))
        };
        let alike = |v: usize, step: usize, turn: Turn| {
            let (a, b) = (view_weights[v], view_weights[v + step]);
            // NaN weights compare unequal: no symmetry.
            let same_weight = (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
            if !same_weight {
                return false;
            }
            corners.iter().all(|&p| {
                let ((u0, w0), (u1, w1)) = (at(v, p), at(v + step, turn.apply(p, [ny, nx])));
                let size = u0.abs().max(w0.abs()).max(u1.abs()).max(w1.abs());
                (u0 - u1).abs() <= 1e-9 * size && (w0 - w1).abs() <= 1e-9 * size
            })
        };
        let candidates = [(4, Turn::Quarter), (4, Turn::BackQuarter), (2, Turn::Half)];
        candidates
            .into_iter()
            .filter(|&(order, _)| views >= order && views.is_multiple_of(order) && (order != 4 || nx == ny))
            .find(|&(order, turn)| {
                let step = views / order;
                (0..views - step).all(|v| alike(v, step, turn))
            })
            .map_or(Symmetry::NONE, |(order, turn)| Symmetry { order, turn })
    }

    /// The slice from the per-turn images (`[ny][order][nx]`): pixel `Q` sums image `r` at
    /// `turn⁻ʳ(Q)`.
    fn fold(self, images: Vec<f32>, [ny, nx]: [usize; 2]) -> Vec<f32> {
        let order = self.order;
        let back = self.turn.inverse();
        let mut out = vec![0.0f32; ny * nx];
        out.par_chunks_mut(nx).enumerate().for_each(|(y, line)| {
            for (x, value) in line.iter_mut().enumerate() {
                let mut p = (x, y);
                let mut sum = 0.0f32;
                for r in 0..order {
                    sum += images[(p.1 * order + r) * nx + p.0];
                    p = back.apply(p, [ny, nx]);
                }
                *value = sum;
            }
        });
        out
    }
}

/// One back-projection's inputs, shared by the parallel tasks.
struct Task<'a> {
    map: &'a DetectorMap,
    /// Filtered rows, `stride` apart, with trailing zeros.
    rows: &'a [f32],
    stride: usize,
    /// Slices computed, rows, columns.
    shape: [usize; 3],
    view_weights: &'a [f64],
    /// Views per turn of the symmetry (all of them without one).
    step: usize,
}

impl Task<'_> {
    /// The `G` images, `[slice][y][G][x]`: image `r` holds views `v + r · step` (`v < step`)
    /// in the frame turned `r` times.
    fn accumulate<const G: usize>(&self) -> Vec<f32> {
        let [slices, ny, nx] = self.shape;
        let (map, stride) = (self.map, self.stride);
        let arc_f64 = map.arc.map(|a| (a.scale, a.centre_col));
        let arc = arc_f64.map(|(s, c)| (s as f32, c as f32));
        let last = (map.cols - 1) as f32;
        let mut images = vec![0.0f32; slices * ny * G * nx];
        images
            .par_chunks_mut(G * nx * ROW_BLOCK)
            .enumerate()
            .for_each(|(block, pixels)| {
                for (v, matrix) in map.matrices[..self.step].iter().enumerate() {
                    let rows: [&[f32]; G] = std::array::from_fn(|r| {
                        let view = v + r * self.step;
                        &self.rows[view * stride..(view + 1) * stride]
                    });
                    for (i, lines) in pixels.chunks_mut(G * nx).enumerate() {
                        let index = block * ROW_BLOCK + i;
                        let (z, y) = ((index / ny) as f64, (index % ny) as f64);
                        let [ur, _, wr] = &matrix.rows;
                        let (u0, w0) = (ur[1] * y + ur[2] * z + ur[3], wr[1] * y + wr[2] * z + wr[3]);
                        let (du, dw) = (ur[0], wr[0]);
                        let span = detector_span(u0, du, w0, dw, nx, map.cols, arc_f64);
                        if span.is_empty() {
                            continue;
                        }
                        // The row from its first pixel on the detector.
                        let (u0, w0) = (u0 + span.start as f64 * du, w0 + span.start as f64 * dw);
                        let weight = self.view_weights[v];
                        let rm = RowMap {
                            u0: u0 as f32,
                            du: du as f32,
                            w0: w0 as f32,
                            dw: dw as f32,
                            arc,
                            relative: arc_f64.and_then(|a| Relative::of(u0, du, w0, dw, span.len(), a)),
                            weight: weight as f32,
                            q: RowMap::quadratic(u0, du, w0, dw, weight),
                            last,
                        };
                        let lines: [&mut [f32]; G] = {
                            let mut parts = lines.chunks_mut(nx).map(|line| &mut line[span.clone()]);
                            std::array::from_fn(|_| parts.next().expect("G lines per pixel row"))
                        };
                        add_view(lines, &rm, rows);
                    }
                }
            });
        images
    }
}

/// The pixels `k` of a row of `n` (`U = u0 + k du`, `W = w0 + k dw`) that can land on a
/// detector of `cols` columns, with two pixels to spare. Along a row in front of the source the
/// column is monotone, so the row splits at the pixels where it crosses the first and the last
/// column (`U − t W = 0`, `t` the column or the tangent of its angle on an arc) into pieces that
/// are wholly on or off the detector; the middle of each piece tells which. Rows that reach
/// behind the source keep every pixel (the per-pixel test decides). Pixels outside the field of
/// view then cost nothing.
fn detector_span(
    u0: f64,
    du: f64,
    w0: f64,
    dw: f64,
    n: usize,
    cols: usize,
    arc: Option<(f64, f64)>,
) -> std::ops::Range<usize> {
    let last = n as f64 - 1.0;
    if n < 2 || !(w0 > 0.0 && w0 + last * dw > 0.0) {
        return 0..n;
    }
    let last_col = cols as f64 - 1.0;
    let column = |k: f64| {
        let (u, w) = (u0 + k * du, w0 + k * dw);
        match arc {
            None => u / w,
            Some((scale, centre)) => u.atan2(w) * scale + centre,
        }
    };
    let crossing = |c: f64| {
        let t = match arc {
            None => c,
            Some((scale, centre)) => ((c - centre) / scale).tan(),
        };
        (t * w0 - u0) / (du - t * dw)
    };
    let mut cuts = vec![0.0, last];
    cuts.extend(
        [crossing(0.0), crossing(last_col)]
            .into_iter()
            .filter(|k| *k > 0.0 && *k < last),
    );
    cuts.sort_by(f64::total_cmp);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for piece in cuts.windows(2) {
        let c = column((piece[0] + piece[1]) / 2.0);
        if c.is_nan() || (-0.5..=last_col + 0.5).contains(&c) {
            lo = lo.min(piece[0]);
            hi = hi.max(piece[1]);
        }
    }
    if lo > hi {
        return 0..0;
    }
    let start = (lo.floor() - 2.0).clamp(0.0, n as f64) as usize;
    let end = (hi.ceil() + 3.0).clamp(0.0, n as f64) as usize;
    start..end.max(start)
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn spans_hold_every_pixel_on_the_detector() {
        let mut rng = crate::rng::XorShift64::new(21);
        let mut trimmed = 0;
        for case in 0..4000 {
            let arc = if case % 2 == 0 {
                None
            } else {
                Some((40.0 + rng.next_f64_open() * 40.0, 26.0))
            };
            let (u0, du) = ((rng.next_f64_open() - 0.5) * 120.0, (rng.next_f64_open() - 0.5) * 3.0);
            let (w0, dw) = (0.3 + rng.next_f64_open(), (rng.next_f64_open() - 0.5) * 0.02);
            let (u0, du) = if arc.is_some() {
                (u0 / 100.0, du / 100.0)
            } else {
                (u0, du)
            };
            let n = 1 + (rng.next_u64() % 64) as usize;
            let span = detector_span(u0, du, w0, dw, n, 53, arc);
            for k in 0..n {
                let (u, w) = (u0 + k as f64 * du, w0 + k as f64 * dw);
                let c = match arc {
                    None => u / w,
                    Some((scale, centre)) => u.atan2(w) * scale + centre,
                };
                if w > 0.0 && (0.0..=52.0).contains(&c) {
                    assert!(
                        span.contains(&k),
                        "case {case}: pixel {k} (column {c}) outside {span:?}"
                    );
                }
            }
            trimmed += usize::from(span.len() < n);
        }
        assert!(trimmed > 500, "{trimmed} rows trimmed");
    }
}

/// Adds views to rows of pixels: `rows[r]` (a filtered row with its trailing zeros) to
/// `lines[r]`, every view read at the detector positions and with the weights `rm` gives.
fn add_view<const G: usize>(mut lines: [&mut [f32]; G], rm: &RowMap, rows: [&[f32]; G]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            done = unsafe { add_view_avx2(&mut lines, rm, rows) };
        }
    }
    let len = lines[0].len();
    for k in done..len {
        if let Some((col, wgt)) = rm.column(k as f32) {
            let i = col as usize;
            let f = col - i as f32;
            for (line, row) in lines.iter_mut().zip(rows) {
                line[k] += wgt * f.mul_add(row[i + 1] - row[i], row[i]);
            }
        }
    }
}

/// Detector shapes of the vector loop: flat, arc (general angle), arc in its near form.
const FLAT: u8 = 0;
const ARC: u8 = 1;
const ARC_NEAR: u8 = 2;

/// The 8-wide part of [`add_view`]; returns how many pixels it did.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_view_avx2<const G: usize>(lines: &mut [&mut [f32]; G], rm: &RowMap, rows: [&[f32]; G]) -> usize {
    // One loop per detector shape, so neither carries the other's branch or registers.
    match rm.arc {
        None => unsafe { add_view_avx2_shaped::<FLAT, G>(lines, rm, rows) },
        Some(_) if rm.relative.is_some() => unsafe { add_view_avx2_shaped::<ARC_NEAR, G>(lines, rm, rows) },
        Some(_) => unsafe { add_view_avx2_shaped::<ARC, G>(lines, rm, rows) },
    }
}

/// `1 / d` from the approximate reciprocal and one Newton step (relative error ~1e-7: the
/// divisions were the slowest instructions of the loop).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn reciprocal(d: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let r = _mm256_rcp_ps(d);
    _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0)))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_view_avx2_shaped<const SHAPE: u8, const G: usize>(
    lines: &mut [&mut [f32]; G],
    rm: &RowMap,
    rows: [&[f32]; G],
) -> usize {
    use std::arch::x86_64::*;
    let len = lines[0].len();
    debug_assert!(lines.iter().all(|l| l.len() == len) && rows.iter().all(|r| r.len() == rows[0].len()));
    let full = len / 8 * 8;
    let (zero, last) = (_mm256_setzero_ps(), _mm256_set1_ps(rm.last));
    let (du, u0, dw, w0) = (
        _mm256_set1_ps(rm.du),
        _mm256_set1_ps(rm.u0),
        _mm256_set1_ps(rm.dw),
        _mm256_set1_ps(rm.w0),
    );
    let weight = _mm256_set1_ps(rm.weight);
    let [q0, q1, q2] = rm.q.map(|q| _mm256_set1_ps(q));
    let eight = _mm256_set1_ps(8.0);
    let sign = _mm256_set1_ps(-0.0);
    let half_pi = _mm256_set1_ps(std::f32::consts::FRAC_PI_2);
    let (scale, centre) = rm.arc.unwrap_or((0.0, 0.0));
    let (scale, centre) = (_mm256_set1_ps(scale), _mm256_set1_ps(centre));
    let coefficients = [
        _mm256_set1_ps(ATAN[0]),
        _mm256_set1_ps(ATAN[1]),
        _mm256_set1_ps(ATAN[2]),
        _mm256_set1_ps(ATAN[3]),
        _mm256_set1_ps(ATAN[4]),
        _mm256_set1_ps(ATAN[5]),
        _mm256_set1_ps(ATAN[6]),
        _mm256_set1_ps(ATAN[7]),
    ];
    let near = [
        _mm256_set1_ps(ATAN_NEAR[0]),
        _mm256_set1_ps(ATAN_NEAR[1]),
        _mm256_set1_ps(ATAN_NEAR[2]),
        _mm256_set1_ps(ATAN_NEAR[3]),
    ];
    let mut k = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
    let dst: [*mut f32; G] = std::array::from_fn(|r| lines[r].as_mut_ptr());
    let row_len = rows[0].len();
    for j in (0..full).step_by(8) {
        let u = _mm256_fmadd_ps(k, du, u0);
        let w = _mm256_fmadd_ps(k, dw, w0);
        let (col, wgt, front) = if SHAPE == ARC_NEAR {
            let r = rm.relative.expect("the near form");
            let x = _mm256_mul_ps(
                _mm256_fmadd_ps(k, _mm256_set1_ps(r.b), _mm256_set1_ps(r.a)),
                reciprocal(_mm256_fmadd_ps(k, _mm256_set1_ps(r.d), _mm256_set1_ps(r.c))),
            );
            let z = _mm256_mul_ps(x, x);
            let mut p = near[3];
            for c in near[..3].iter().rev() {
                p = _mm256_fmadd_ps(p, z, *c);
            }
            let col = _mm256_fmadd_ps(_mm256_mul_ps(p, x), scale, _mm256_set1_ps(r.base));
            let wgt = reciprocal(_mm256_fmadd_ps(_mm256_fmadd_ps(k, q2, q1), k, q0));
            (col, wgt, _mm256_cmp_ps::<_CMP_TRUE_UQ>(w, w))
        } else if SHAPE == ARC {
            // atan2_front, lane by lane; Estrin's scheme shortens the polynomial's chain.
            let (au, aw) = (_mm256_andnot_ps(sign, u), _mm256_andnot_ps(sign, w));
            let x = _mm256_mul_ps(_mm256_min_ps(au, aw), reciprocal(_mm256_max_ps(au, aw)));
            let z = _mm256_mul_ps(x, x);
            let z2 = _mm256_mul_ps(z, z);
            let [c0, c1, c2, c3, c4, c5, c6, c7] = coefficients;
            let low = _mm256_fmadd_ps(_mm256_fmadd_ps(c3, z, c2), z2, _mm256_fmadd_ps(c1, z, c0));
            let high = _mm256_fmadd_ps(_mm256_fmadd_ps(c7, z, c6), z2, _mm256_fmadd_ps(c5, z, c4));
            let p = _mm256_fmadd_ps(high, _mm256_mul_ps(z2, z2), low);
            let a = _mm256_mul_ps(p, x);
            let a = _mm256_blendv_ps(a, _mm256_sub_ps(half_pi, a), _mm256_cmp_ps::<_CMP_GT_OQ>(au, aw));
            let a = _mm256_or_ps(a, _mm256_and_ps(sign, u));
            let col = _mm256_fmadd_ps(a, scale, centre);
            let wgt = reciprocal(_mm256_fmadd_ps(_mm256_fmadd_ps(k, q2, q1), k, q0));
            (col, wgt, _mm256_cmp_ps::<_CMP_GT_OQ>(w, zero))
        } else {
            let inv = reciprocal(w);
            let wgt = _mm256_mul_ps(_mm256_mul_ps(inv, inv), weight);
            (_mm256_mul_ps(u, inv), wgt, _mm256_cmp_ps::<_CMP_TRUE_UQ>(w, w))
        };
        let inside = _mm256_and_ps(
            front,
            _mm256_and_ps(
                _mm256_cmp_ps::<_CMP_GE_OQ>(col, zero),
                _mm256_cmp_ps::<_CMP_LE_OQ>(col, last),
            ),
        );
        let clamped = _mm256_min_ps(_mm256_max_ps(col, zero), last);
        let i = _mm256_cvttps_epi32(clamped);
        let f = _mm256_sub_ps(clamped, _mm256_cvtepi32_ps(i));
        let plan = crate::recon::interpolate::PairIndex::new(row_len, i);
        for (row, dst) in rows.iter().zip(dst) {
            // SAFETY: 0 <= i <= cols - 1 and every row (all `row_len` long) holds more than
            // cols samples, so i and i + 1 are in bounds; j + 8 <= len for every line.
            unsafe {
                let (a, b) = plan.fetch(row);
                let value = _mm256_mul_ps(wgt, _mm256_fmadd_ps(f, _mm256_sub_ps(b, a), a));
                let acc = _mm256_loadu_ps(dst.add(j));
                // Masked after the product: a NaN sample read for a pixel off the detector
                // must not reach it.
                _mm256_storeu_ps(dst.add(j), _mm256_add_ps(acc, _mm256_and_ps(value, inside)));
            }
        }
        k = _mm256_add_ps(k, eight);
    }
    full
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recon::backproject::Backprojector;
    use crate::recon::fdk::centred_grid;
    use crate::recon::geometry::{Detector, Geometry};

    #[test]
    fn rows_of_pixels_equal_the_z_columns_on_every_one_row_geometry() {
        let angles: Vec<f64> = (0..37).map(|k| k as f64 * 9.7 + 0.3).collect();
        let cases = [
            (
                "fan flat",
                Geometry::fan(&angles, 150.0, 300.0, 53, 1.1, Detector::Flat, 0.7).unwrap(),
            ),
            (
                "fan arc",
                Geometry::fan(&angles, 150.0, 300.0, 53, 1.1, Detector::Arc, -1.3).unwrap(),
            ),
            ("parallel", Geometry::parallel_2d(&angles, 47, 0.8).unwrap()),
        ];
        let mut rng = crate::rng::XorShift64::new(11);
        for (name, g) in cases {
            for shape in [[1, 29, 35], [3, 9, 21]] {
                let mut grid = centred_grid(shape, [0.9, 1.1, 1.0]).unwrap();
                grid.origin[0] += 1.7;
                let bp = Backprojector::new(&g, shape, &grid).unwrap();
                assert!(applies(&bp.map), "{name}");
                let projections = Array3::from_shape_simple_fn((angles.len(), 1, g.cols), || rng.next_f32() - 0.3);
                let weights: Vec<f64> = (0..angles.len()).map(|k| 1.0 + k as f64 * 0.01).collect();
                let rows = bp.backproject_cpu(projections.view(), &weights).unwrap();
                let columns = bp.backproject_columns(projections.view(), &weights);
                let scale = columns.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let worst = rows.iter().zip(&columns).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                let touched = columns.iter().filter(|&&v| v != 0.0).count();
                assert!(touched * 2 > columns.len(), "{name} {shape:?}: {touched} voxels seen");
                assert!(worst <= 2e-5 * scale, "{name} {shape:?}: {worst:e} of {scale}");
            }
        }
    }

    #[test]
    fn symmetric_scans_share_each_pixel_position_across_views_and_equal_the_z_columns() {
        // Full circles of 36 views on grids centred on the axis: square slices turn by quarters,
        // oblong ones by halves; 40 views over 360° (a multiple of 4) too; uneven weights or
        // a shifted grid break the symmetry.
        let circle = |views: usize| {
            (0..views)
                .map(|k| k as f64 * 360.0 / views as f64 + 0.3)
                .collect::<Vec<_>>()
        };
        let geometries = |angles: &[f64]| {
            [
                (
                    "fan flat",
                    Geometry::fan(angles, 150.0, 300.0, 53, 1.1, Detector::Flat, 0.7).unwrap(),
                ),
                (
                    "fan arc",
                    Geometry::fan(angles, 150.0, 300.0, 53, 1.1, Detector::Arc, -1.3).unwrap(),
                ),
                ("parallel", Geometry::parallel_2d(angles, 47, 0.8).unwrap()),
            ]
        };
        let mut rng = crate::rng::XorShift64::new(12);
        for (views, shape, shift, uneven, order) in [
            (36, [1, 29, 29], 0.0, false, 4),
            (40, [1, 30, 30], 0.0, false, 4),
            (36, [3, 9, 9], 0.0, false, 4),
            (36, [1, 29, 35], 0.0, false, 2),
            (18, [1, 24, 24], 0.0, false, 2),
            (36, [1, 29, 29], 0.37, false, 1),
            (36, [1, 29, 29], 0.0, true, 1),
        ] {
            let angles = circle(views);
            for (name, g) in geometries(&angles) {
                let mut grid = centred_grid(shape, [1.0, 1.1, 1.1]).unwrap();
                grid.origin[1] += shift;
                let bp = Backprojector::new(&g, shape, &grid).unwrap();
                let weights: Vec<f64> = (0..views)
                    .map(|k| if uneven { 1.0 + k as f64 * 0.01 } else { 0.7 })
                    .collect();
                let found = Symmetry::of(&bp.map, [shape[1], shape[2]], &weights);
                assert_eq!(found.order, order, "{name} {views} views {shape:?}: {found:?}");
                let projections = Array3::from_shape_simple_fn((views, 1, g.cols), || rng.next_f32() - 0.3);
                let rows = bp.backproject_cpu(projections.view(), &weights).unwrap();
                let columns = bp.backproject_columns(projections.view(), &weights);
                let scale = columns.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let worst = rows.iter().zip(&columns).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                assert!(
                    worst <= 2e-5 * scale,
                    "{name} {views} views {shape:?}: {worst:e} of {scale}"
                );
            }
        }
    }

    #[test]
    fn turns_and_their_inverses_undo_each_other() {
        for turn in [Turn::Quarter, Turn::BackQuarter, Turn::Half] {
            let size = if turn == Turn::Half { [4, 7] } else { [5, 5] };
            for y in 0..size[0] {
                for x in 0..size[1] {
                    let p = turn.apply((x, y), size);
                    assert!(p.0 < size[1] && p.1 < size[0]);
                    assert_eq!(turn.inverse().apply(p, size), (x, y), "{turn:?}");
                }
            }
        }
        // A quarter turn four times, a half turn twice: the identity.
        let p = (1, 3);
        let mut q = p;
        for _ in 0..4 {
            q = Turn::Quarter.apply(q, [5, 5]);
        }
        assert_eq!(q, p);
    }

    #[test]
    fn the_arc_tangent_is_within_two_tenths_of_a_microradian() {
        let mut worst = 0.0f64;
        for i in -20_000..=20_000 {
            for w in [0.3f32, 1.0, 7.5] {
                let u = i as f32 * 1e-4 * 3.0;
                let err = (f64::from(atan2_front(u, w)) - f64::from(u).atan2(f64::from(w))).abs();
                worst = worst.max(err);
            }
        }
        assert!(worst < 2.5e-7, "{worst:e}");
        let mut near = 0.0f64;
        for i in -10_000..=10_000 {
            let x = (i as f64 / 10_000.0 * NEAR) as f32;
            near = near.max((f64::from(atan_near(x)) - f64::from(x).atan()).abs());
        }
        assert!(near < 1.5e-7, "{near:e}");
        assert_eq!(atan2_front(-0.0, 1.0).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn the_vector_loop_computes_what_the_scalar_loop_computes() {
        let row: Vec<f32> = (0..41)
            .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.3)
            .chain([0.0])
            .collect();
        let general = RowMap {
            u0: -0.6,
            du: 0.021,
            w0: 1.1,
            dw: -0.013,
            arc: Some((30.0, 20.3)),
            relative: None,
            weight: 1.3,
            q: RowMap::quadratic(-0.6, 0.021, 1.1, -0.013, 1.3),
            last: 40.0,
        };
        let flat = RowMap {
            u0: -20.0,
            du: 0.9,
            dw: -0.003,
            arc: None,
            ..general
        };
        // ±12° about the middle pixel: the near form.
        let near_row = (-0.2, 0.007, 1.0, 0.0005);
        let relative = Relative::of(near_row.0, near_row.1, near_row.2, near_row.3, 61, (100.0, 20.3));
        assert!(relative.is_some());
        assert!(Relative::of(-0.6, 0.021, 1.1, -0.013, 61, (30.0, 20.3)).is_none());
        let near = RowMap {
            u0: near_row.0 as f32,
            du: near_row.1 as f32,
            w0: near_row.2 as f32,
            dw: near_row.3 as f32,
            arc: Some((100.0, 20.3)),
            relative,
            q: RowMap::quadratic(near_row.0, near_row.1, near_row.2, near_row.3, 1.3),
            ..general
        };
        let others: Vec<Vec<f32>> = (1..4)
            .map(|r| row.iter().map(|v| v * r as f32 - 0.1).collect())
            .collect();
        for rm in [flat, general, near] {
            let arc = (rm.arc, rm.relative.is_some());
            let mut vector = vec![0.5f32; 61];
            add_view([&mut vector[..]], &rm, [&row[..]]);
            // Four rows at once read each at the same positions as alone.
            let mut four = [vec![0.5f32; 61], vec![0.5f32; 61], vec![0.5f32; 61], vec![0.5f32; 61]];
            let [l0, l1, l2, l3] = &mut four;
            add_view(
                [&mut l0[..], &mut l1[..], &mut l2[..], &mut l3[..]],
                &rm,
                [&row[..], &others[0][..], &others[1][..], &others[2][..]],
            );
            assert_eq!(four[0], vector, "{arc:?}");
            for (r, other) in others.iter().enumerate() {
                let mut alone = vec![0.5f32; 61];
                add_view([&mut alone[..]], &rm, [&other[..]]);
                assert_eq!(four[r + 1], alone, "{arc:?} row {}", r + 1);
            }
            let mut scalar = vec![0.5f32; 61];
            for (k, acc) in scalar.iter_mut().enumerate() {
                if let Some((col, wgt)) = rm.column(k as f32) {
                    let i = col as usize;
                    *acc += wgt * (col - i as f32).mul_add(row[i + 1] - row[i], row[i]);
                }
            }
            let touched = scalar.iter().filter(|&&v| v != 0.5).count();
            assert!(
                touched > 20 && touched < 61,
                "{arc:?}: {touched} pixels on the detector"
            );
            for (k, (a, b)) in vector.iter().zip(&scalar).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                    "{arc:?} pixel {k}: {a} vs {b}"
                );
            }
        }
    }
}

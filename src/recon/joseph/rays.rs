//! How a ray of Joseph's method steps through the volume and which voxels it taps, in one
//! description both directions of the projector use (so they are exact transposes).

use std::ops::Range;

use super::Joseph;
use crate::error::{Error, Result};
use crate::recon::{Beam, Detector, Geometry};
use crate::vec3::{cross, dot, sub};

/// How one ray steps through the volume (see [`Joseph::stepping_of`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct RaySteps {
    /// Main axis: 0 = x, 1 = y, 2 = z.
    pub(super) main: u8,
    /// Planes of the main axis the ray may have taps in, `k0..k1`.
    pub(super) k0: u32,
    pub(super) k1: u32,
    /// Position along the two other axes (`(main + 1) % 3`, `(main + 2) % 3`) at plane 0, and
    /// its change per plane, in voxels.
    pub(super) base: [f32; 2],
    pub(super) slope: [f32; 2],
    /// Path length per plane, mm.
    pub(super) step_mm: f32,
    /// Whether each other axis is a single slice.
    pub(super) single: [bool; 2],
    /// Planes where all interpolation corners are inside ([`Joseph::interior`]).
    pub(super) interior: (u32, u32),
}

/// The interior of a ray in a 2D image: linear interpolation along one axis, plane after plane.
pub(super) struct Line {
    pub(super) planes: std::ops::Range<u32>,
    /// Voxels along the interpolation axis.
    pub(super) count: usize,
    pub(super) k_base: u32,
    pub(super) plane_stride: usize,
    pub(super) stride: usize,
    pub(super) base: f32,
    pub(super) slope: f32,
    pub(super) step_mm: f32,
}

impl Line {
    /// Whether both corners of every plane lie inside the volume, checked on the positions the
    /// taps use: they are monotonic in `k` (a product then a sum of f32, then a truncation),
    /// so the first and last planes bound them. Guards the unchecked AVX2 paths.
    pub(super) fn corners_inside(&self) -> bool {
        let i = |k: u32| {
            let c = self.base + k as f32 * self.slope;
            if c >= 0.0 { c as usize } else { usize::MAX }
        };
        let last = self.planes.end - 1;
        [i(self.planes.start), i(last)]
            .iter()
            .all(|&i| i.saturating_add(1) < self.count)
    }

    /// The two taps at plane `k`: offset of the first voxel and both weights. The AVX2 paths
    /// repeat this arithmetic operation for operation (no fused multiply-add), so every path
    /// sees the same taps.
    #[inline(always)]
    pub(super) fn at(&self, k: u32) -> (usize, f32, f32) {
        let c = self.base + k as f32 * self.slope;
        // c ≥ 0 inside: truncation is the floor (and avoids a libm call without SSE4.1's
        // round instruction).
        let i = c as i32;
        let frac = c - i as f32;
        (
            (k - self.k_base) as usize * self.plane_stride + i as usize * self.stride,
            (1.0 - frac) * self.step_mm,
            frac * self.step_mm,
        )
    }
}

/// The interior of a ray in a 3D volume: bilinear interpolation in each plane it crosses.
pub(super) struct Bilinear {
    pub(super) planes: std::ops::Range<u32>,
    pub(super) k_base: u32,
    pub(super) plane_stride: usize,
    pub(super) strides: [usize; 2],
    pub(super) base: [f32; 2],
    pub(super) slope: [f32; 2],
    pub(super) step_mm: f32,
}

impl Bilinear {
    /// The four taps at plane `k`: offset of the first corner, then the weights of the corners
    /// at `+0`, `+s₀`, `+s₁`, `+s₀+s₁`. The AVX2 path repeats this operation for operation.
    #[inline(always)]
    pub(super) fn at(&self, k: u32) -> (usize, [f32; 4]) {
        let c0 = self.base[0] + k as f32 * self.slope[0];
        let c1 = self.base[1] + k as f32 * self.slope[1];
        let (i0, i1) = (c0 as i32, c1 as i32);
        let (w0, w1) = (c0 - i0 as f32, c1 - i1 as f32);
        let w = self.step_mm;
        (
            (k - self.k_base) as usize * self.plane_stride
                + i0 as usize * self.strides[0]
                + i1 as usize * self.strides[1],
            [
                (1.0 - w0) * (1.0 - w1) * w,
                w0 * (1.0 - w1) * w,
                (1.0 - w0) * w1 * w,
                w0 * w1 * w,
            ],
        )
    }
}

/// The rays of one detector row: affine in the column for flat and parallel detectors (set up
/// once per row, no normalisation), else each from [`Geometry::ray`].
pub(super) enum RowRays<'g> {
    /// Column `c`: through `point + c·point_step` along `direction + c·direction_step`.
    Affine {
        point: [f64; 3],
        point_step: [f64; 3],
        direction: [f64; 3],
        direction_step: [f64; 3],
        cols: usize,
    },
    Exact {
        geometry: &'g Geometry,
        view: usize,
        row: usize,
    },
}

impl RowRays<'_> {
    /// The stepping of column `col`'s ray (see [`Joseph::stepping_of`]).
    pub(super) fn stepping(&self, joseph: &Joseph, col: usize) -> Result<Option<RaySteps>> {
        match self {
            RowRays::Affine {
                point,
                point_step,
                direction,
                direction_step,
                cols,
            } => {
                if col >= *cols {
                    return Err(Error::param("column", format!("column {col} of {cols}")));
                }
                let c = col as f64;
                let p = std::array::from_fn(|a| point[a] + c * point_step[a]);
                let d = std::array::from_fn(|a| direction[a] + c * direction_step[a]);
                Ok(joseph.stepping_of(p, d))
            }
            RowRays::Exact { geometry, view, row } => {
                let (p, d) = geometry.ray(*view, *row, col)?;
                Ok(joseph.stepping_of(p, d))
            }
        }
    }
}

/// Where [`Joseph::ray_taps`] sends a ray's taps (voxel offset, weight).
pub(super) trait Taps {
    fn tap(&mut self, i: usize, w: f32);
    /// The interior of a 2D ray.
    #[inline(always)]
    fn line(&mut self, line: &Line) {
        for k in line.planes.clone() {
            let (at, w0, w1) = line.at(k);
            self.pair(at, at + line.stride, w0, w1);
        }
    }
    /// The interior of a 3D ray.
    #[inline(always)]
    fn bilinear(&mut self, patch: &Bilinear) {
        let [s0, s1] = patch.strides;
        for k in patch.planes.clone() {
            let (at, w) = patch.at(k);
            self.pair(at, at + s0, w[0], w[1]);
            self.pair(at + s1, at + s0 + s1, w[2], w[3]);
        }
    }
    /// Two taps at once (lets the forward sum them before its dependent accumulation).
    #[inline(always)]
    fn pair(&mut self, i: usize, j: usize, wi: f32, wj: f32) {
        self.tap(i, wi);
        self.tap(j, wj);
    }
}

/// `x.floor()` without a libm call (the crate is built for baseline x86-64, which has no
/// rounding instruction): exact for |x| < 2^52, where every f64 with a fraction lies;
/// larger magnitudes, infinities and NaN are already their own floor.
#[inline(always)]
fn floor(x: f64) -> f64 {
    if x.abs() < 4_503_599_627_370_496.0 {
        let t = x as i64 as f64;
        if t > x { t - 1.0 } else { t }
    } else {
        x
    }
}

/// `x.floor()` for f32, as [`floor`] (exact for |x| < 2^23).
#[inline(always)]
fn floor_f32(x: f32) -> f32 {
    if x.abs() < 8_388_608.0 {
        let t = x as i32 as f32;
        if t > x { t - 1.0 } else { t }
    } else {
        x
    }
}

/// `x.ceil()`, as [`floor`].
#[inline(always)]
fn ceil(x: f64) -> f64 {
    -floor(-x)
}

impl Joseph {
    /// The detector pixels of `view` whose rays can have taps: `(rows, cols)`, the bounding
    /// rectangle of the projections of the corners of the box the taps reach (voxel
    /// coordinates −1…n on every axis), one pixel of margin each side. The projection of a box
    /// lies in the hull of its corners' projections when every corner is in front of the
    /// source; arc detectors and degenerate views get the whole detector. Skipping the pixels
    /// outside saves setting up rays that miss (three quarters of a typical cone-beam detector).
    pub(super) fn detector_window(&self, view: usize) -> (Range<usize>, Range<usize>) {
        let g = &self.geometry;
        let full = (0..g.rows, 0..g.cols);
        if g.beam == Beam::Divergent && g.detector != Detector::Flat {
            return full;
        }
        let w = &g.views[view];
        let normal = cross(w.u, w.v);
        let (uu, uv, vv) = (dot(w.u, w.u), dot(w.u, w.v), dot(w.v, w.v));
        let gram = uu * vv - uv * uv;
        if gram.is_nan() || gram <= 0.0 {
            return full;
        }
        let [nz, ny, nx] = self.shape;
        let n = [nx, ny, nz];
        let sp = [self.grid.spacing[2], self.grid.spacing[1], self.grid.spacing[0]];
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for corner in 0..8 {
            let p: [f64; 3] = std::array::from_fn(|a| {
                let index = if corner >> a & 1 == 0 { -1.0 } else { n[a] as f64 };
                self.grid.origin[a] + index * sp[a]
            });
            // Where the ray through p meets the detector plane.
            let on_detector = match g.beam {
                Beam::Divergent => {
                    let t = dot(sub(w.detector_centre, w.source), normal) / dot(sub(p, w.source), normal);
                    if t.is_nan() || t <= 0.0 {
                        return full;
                    }
                    std::array::from_fn(|a| w.source[a] + t * (p[a] - w.source[a]))
                }
                Beam::Parallel => {
                    let t = dot(sub(w.detector_centre, p), normal) / dot(w.source, normal);
                    std::array::from_fn(|a| p[a] + t * w.source[a])
                }
            };
            let r = sub(on_detector, w.detector_centre);
            let (a, b) = (dot(r, w.u), dot(r, w.v));
            let (cu, cv) = ((vv * a - uv * b) / gram, (uu * b - uv * a) / gram);
            for (j, c) in [cv, cu].into_iter().enumerate() {
                lo[j] = lo[j].min(c);
                hi[j] = hi[j].max(c);
            }
        }
        let window = |lo: f64, hi: f64, count: usize, offset: f64| {
            let centre = (count as f64 - 1.0) / 2.0 - offset;
            let (first, last) = (floor(lo + centre) - 1.0, ceil(hi + centre) + 2.0);
            if !(first.is_finite() && last.is_finite()) {
                return 0..count;
            }
            (first.clamp(0.0, count as f64) as usize)..(last.clamp(0.0, count as f64) as usize)
        };
        (
            window(lo[0], hi[0], g.rows, g.offset_v),
            window(lo[1], hi[1], g.cols, g.offset_u),
        )
    }

    /// The stepping of the ray through detector pixel `(row, col)` of `view` (tests; the
    /// projector goes through [`Self::row_rays`]).
    #[cfg(test)]
    pub(super) fn stepping(&self, view: usize, row: usize, col: usize) -> Result<Option<RaySteps>> {
        self.row_rays(view, row)?.stepping(self, col)
    }

    /// The rays of detector row `row` of `view`, for [`RowRays::stepping`].
    pub(super) fn row_rays(&self, view: usize, row: usize) -> Result<RowRays<'_>> {
        let g = &self.geometry;
        let w = g
            .views
            .get(view)
            .ok_or_else(|| Error::param("view", format!("view {view} of {}", g.views.len())))?;
        if row >= g.rows {
            return Err(Error::param("row", format!("row {row} of a {}-row detector", g.rows)));
        }
        if g.beam == Beam::Divergent && g.detector != Detector::Flat {
            return Ok(RowRays::Exact { geometry: g, view, row });
        }
        // Column 0's pixel; the column step is u (as `Geometry::ray`'s pixel centres).
        let cu = -(g.cols as f64 - 1.0) / 2.0 + g.offset_u;
        let cv = row as f64 - (g.rows as f64 - 1.0) / 2.0 + g.offset_v;
        let first: [f64; 3] = std::array::from_fn(|a| w.detector_centre[a] + w.u[a] * cu + w.v[a] * cv);
        Ok(match g.beam {
            Beam::Parallel => RowRays::Affine {
                point: first,
                point_step: w.u,
                direction: w.source,
                direction_step: [0.0; 3],
                cols: g.cols,
            },
            Beam::Divergent => RowRays::Affine {
                point: w.source,
                point_step: [0.0; 3],
                direction: sub(first, w.source),
                direction_step: w.u,
                cols: g.cols,
            },
        })
    }

    /// The stepping of the ray through `p` along `d` (any length; `None` if it misses the
    /// volume): at plane `k` of its main axis the ray sits at `base + k · slope` along the two
    /// other axes, in voxel units. Both directions of the projector use this one description,
    /// in f32, so they are exact transposes.
    fn stepping_of(&self, p: [f64; 3], d: [f64; 3]) -> Option<RaySteps> {
        let [nz, ny, nx] = self.shape;
        // Continuous voxel coordinates (x, y, z) of the ray: c(t) = q + t·e.
        // Products with the reciprocal spacings (set once per projector): six divisions fewer
        // per ray.
        let per_mm = self.voxels_per_mm;
        let q = [
            (p[0] - self.grid.origin[0]) * per_mm[0],
            (p[1] - self.grid.origin[1]) * per_mm[1],
            (p[2] - self.grid.origin[2]) * per_mm[2],
        ];
        let e = [d[0] * per_mm[0], d[1] * per_mm[1], d[2] * per_mm[2]];
        let n = [nx, ny, nz];
        // Main axis: the largest step in voxels per mm, ties to the later axis (a thin volume
        // along z never drives).
        let mut main = usize::from(e[1].abs() >= e[0].abs());
        if nz > 1 && e[2].abs() >= e[main].abs() {
            main = 2;
        }
        if e[main] == 0.0 {
            return None;
        }
        let others = [(main + 1) % 3, (main + 2) % 3];
        let per_main = 1.0 / e[main];
        // Planes where the other coordinates can have taps (a conservative bound, one plane of
        // slack each side; the taps check exactly): no time spent outside the volume.
        let (mut k0, mut k1) = (0.0f64, n[main] as f64);
        let mut base = [0.0f32; 2];
        let mut slope = [0.0f32; 2];
        for (j, &a) in others.iter().enumerate() {
            // c(k) = q_a + (k − q_main) · e_a / e_main.
            let s = e[a] * per_main;
            base[j] = (q[a] - q[main] * s) as f32;
            slope[j] = s as f32;
            let (lo, hi) = if n[a] == 1 { (-0.5, 0.5) } else { (-1.0, n[a] as f64) };
            if e[a] == 0.0 {
                if !(q[a] >= lo && q[a] <= hi) {
                    return None;
                }
                continue;
            }
            let per_s = e[main] / e[a];
            let (ka, kb) = ((lo - q[a]) * per_s + q[main], (hi - q[a]) * per_s + q[main]);
            k0 = k0.max(floor(ka.min(kb)) - 1.0);
            k1 = k1.min(ceil(ka.max(kb)) + 2.0);
        }
        if k0 >= k1 {
            return None;
        }
        let ray = RaySteps {
            main: main as u8,
            k0: k0 as u32,
            k1: k1 as u32,
            base,
            slope,
            // mm per plane: |d| per |d_main| voxel units.
            step_mm: (crate::vec3::norm(d) * per_main.abs()) as f32,
            single: [n[others[0]] == 1, n[others[1]] == 1],
            interior: (0, 0),
        };
        Some(ray)
    }

    /// The stepping of pixel `(row, col)` of `view` with the planes where every corner is inside
    /// ([`RaySteps::interior`], what the tap-by-tap paths need; the padded forward does not).
    #[cfg(test)]
    pub(super) fn ray_steps(&self, view: usize, row: usize, col: usize) -> Result<Option<RaySteps>> {
        Ok(self.stepping(view, row, col)?.map(|ray| self.with_interior(ray)))
    }

    /// `ray` with its interior planes.
    pub(super) fn with_interior(&self, mut ray: RaySteps) -> RaySteps {
        ray.interior = self.interior(&ray);
        ray
    }

    /// The planes of `ray` (within `k0..k1`) where every interpolation corner is inside the
    /// volume: for each axis with more than one voxel 0 < c < n − 1 with a margin; a
    /// single-slice axis must hold c within ±0.5 and not move. Found in f64 and shrunk by one
    /// plane each side.
    fn interior(&self, ray: &RaySteps) -> (u32, u32) {
        let [nz, ny, nx] = self.shape;
        let n = [nx, ny, nz];
        let m = ray.main as usize;
        let na = [n[(m + 1) % 3], n[(m + 2) % 3]];
        let (mut lo, mut hi) = (f64::from(ray.k0), f64::from(ray.k1));
        for (j, &count) in na.iter().enumerate() {
            let (b, sl) = (f64::from(ray.base[j]), f64::from(ray.slope[j]));
            if count == 1 {
                if sl != 0.0 || b.abs() > 0.5 {
                    return (0, 0);
                }
                continue;
            }
            // A margin larger than the f32 evaluation error of base + k·slope (a few ulps of
            // the largest magnitude involved), so the interior holds for the f32 positions the
            // taps use, not only for exact ones (the AVX2 paths index without checks).
            let magnitude = b.abs().max((b + f64::from(ray.k1) * sl).abs()).max(count as f64);
            let margin = magnitude * f64::from(f32::EPSILON) * 8.0 + 1e-4;
            let (bottom, top) = (margin, count as f64 - 1.0 - margin);
            if sl == 0.0 {
                if !(b >= bottom && b <= top) {
                    return (0, 0);
                }
            } else {
                let per_slope = 1.0 / sl;
                let (ka, kb) = ((bottom - b) * per_slope, (top - b) * per_slope);
                lo = lo.max(ceil(ka.min(kb)) + 1.0);
                hi = hi.min(floor(ka.max(kb)) - 1.0);
            }
        }
        if hi > lo { (lo as u32, hi as u32) } else { (0, 0) }
    }

    /// Visits every tap of `ray` in planes `planes` (of its main axis): `tap(offset, weight)`
    /// with `offset = (k − k_base)·s[0] + i_a·s[1] + i_b·s[2]` for the voxel `(k, i_a, i_b)` along
    /// (main, `(main + 1) % 3`, `(main + 2) % 3`). Planes where every corner is inside the volume
    /// take a branch-free path (most of them); the others check each corner. Both directions of
    /// the projector call this, so they see the same taps.
    #[inline(always)]
    pub(super) fn ray_taps<S: Taps>(
        &self,
        ray: &RaySteps,
        planes: std::ops::Range<u32>,
        k_base: u32,
        s: [usize; 3],
        sink: &mut S,
    ) {
        let [nz, ny, nx] = self.shape;
        let n = [nx, ny, nz];
        let m = ray.main as usize;
        let na = [n[(m + 1) % 3], n[(m + 2) % 3]];
        let single = ray.single;
        let (ki0, ki1) = if ray.interior.0 < ray.interior.1 {
            (
                ray.interior.0.clamp(planes.start, planes.end),
                ray.interior.1.clamp(planes.start, planes.end),
            )
        } else {
            (planes.start, planes.start)
        };
        let edge = |k: u32, sink: &mut S| {
            let mut idx = [[0usize; 2]; 2];
            let mut wts = [[0.0f32; 2]; 2];
            let mut count = [0usize; 2];
            for j in 0..2 {
                let c = ray.base[j] + k as f32 * ray.slope[j];
                if single[j] {
                    // A single slice: the ray counts only where it crosses that slice's
                    // thickness (2D images as one-slice volumes: always, rays lie in-plane).
                    if c.abs() > 0.5 {
                        return;
                    }
                    wts[j][0] = 1.0;
                    count[j] = 1;
                    continue;
                }
                let f = floor_f32(c);
                let w = c - f;
                for (i, wi) in [(f, 1.0 - w), (f + 1.0, w)] {
                    if i >= 0.0 && (i as usize) < na[j] && wi > 0.0 {
                        idx[j][count[j]] = i as usize * s[1 + j];
                        wts[j][count[j]] = wi;
                        count[j] += 1;
                    }
                }
            }
            let plane = (k - k_base) as usize * s[0];
            for a in 0..count[0] {
                for b in 0..count[1] {
                    sink.tap(plane + idx[0][a] + idx[1][b], wts[0][a] * wts[1][b] * ray.step_mm);
                }
            }
        };
        for k in planes.start..ki0.min(planes.end) {
            edge(k, sink);
        }
        let w = ray.step_mm;
        match single {
            // 2D: interpolation along one axis.
            [true, false] | [false, true] => {
                let j = usize::from(single[0]);
                if ki0 < ki1 {
                    sink.line(&Line {
                        planes: ki0..ki1,
                        count: na[j],
                        k_base,
                        plane_stride: s[0],
                        stride: s[1 + j],
                        base: ray.base[j],
                        slope: ray.slope[j],
                        step_mm: w,
                    });
                }
            }
            [false, false] => {
                if ki0 < ki1 {
                    sink.bilinear(&Bilinear {
                        planes: ki0..ki1,
                        k_base,
                        plane_stride: s[0],
                        strides: [s[1], s[2]],
                        base: ray.base,
                        slope: ray.slope,
                        step_mm: w,
                    });
                }
            }
            // A single voxel thick along both other axes: no interior path.
            [true, true] => {
                for k in ki0..ki1 {
                    edge(k, sink);
                }
            }
        }
        for k in ki1.max(planes.start)..planes.end {
            edge(k, sink);
        }
    }
}

//! How a ray of Joseph's method steps through the volume and which voxels it taps, in one
//! description both directions of the projector use (so they are exact transposes).

use super::Joseph;
use crate::error::Result;

/// How one ray steps through the volume (see [`Joseph::ray_steps`]).
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
    /// Two taps at once (lets the forward sum them before its dependent accumulation).
    #[inline(always)]
    fn pair(&mut self, i: usize, j: usize, wi: f32, wj: f32) {
        self.tap(i, wi);
        self.tap(j, wj);
    }
}

impl Joseph {
    /// The stepping of the ray through detector pixel `(row, col)` of `view` (`None` if it
    /// misses the volume): at plane `k` of its main axis the ray sits at
    /// `base + k · slope` along the two other axes, in voxel units. Both directions of the
    /// projector use this one description, in f32, so they are exact transposes.
    pub(super) fn ray_steps(&self, view: usize, row: usize, col: usize) -> Result<Option<RaySteps>> {
        let (p, d) = self.geometry.ray(view, row, col)?;
        let [nz, ny, nx] = self.shape;
        // Continuous voxel coordinates (x, y, z) of the ray: c(t) = q + t·e.
        let sp = [self.grid.spacing[2], self.grid.spacing[1], self.grid.spacing[0]];
        let q = [
            (p[0] - self.grid.origin[0]) / sp[0],
            (p[1] - self.grid.origin[1]) / sp[1],
            (p[2] - self.grid.origin[2]) / sp[2],
        ];
        let e = [d[0] / sp[0], d[1] / sp[1], d[2] / sp[2]];
        let n = [nx, ny, nz];
        // Main axis: the largest step in voxels per mm (a thin volume along z never drives).
        let main = (0..3)
            .filter(|&a| n[a] > 1 || a < 2)
            .max_by(|&a, &b| e[a].abs().total_cmp(&e[b].abs()))
            .expect("axes");
        if e[main] == 0.0 {
            return Ok(None);
        }
        let others = [(main + 1) % 3, (main + 2) % 3];
        // Planes where the other coordinates can have taps (a conservative bound, one plane of
        // slack each side; the taps check exactly): no time spent outside the volume.
        let (mut k0, mut k1) = (0.0f64, n[main] as f64);
        let mut base = [0.0f32; 2];
        let mut slope = [0.0f32; 2];
        for (j, &a) in others.iter().enumerate() {
            // c(k) = q_a + (k − q_main) · e_a / e_main.
            let s = e[a] / e[main];
            base[j] = (q[a] - q[main] * s) as f32;
            slope[j] = s as f32;
            let (lo, hi) = if n[a] == 1 { (-0.5, 0.5) } else { (-1.0, n[a] as f64) };
            if e[a] == 0.0 {
                if !(q[a] >= lo && q[a] <= hi) {
                    return Ok(None);
                }
                continue;
            }
            let (ka, kb) = ((lo - q[a]) / s + q[main], (hi - q[a]) / s + q[main]);
            k0 = k0.max(ka.min(kb).floor() - 1.0);
            k1 = k1.min(ka.max(kb).ceil() + 2.0);
        }
        if k0 >= k1 {
            return Ok(None);
        }
        let mut ray = RaySteps {
            main: main as u8,
            k0: k0 as u32,
            k1: k1 as u32,
            base,
            slope,
            step_mm: (1.0 / e[main].abs()) as f32,
            single: [n[others[0]] == 1, n[others[1]] == 1],
            interior: (0, 0),
        };
        ray.interior = self.interior(&ray);
        Ok(Some(ray))
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
                let (ka, kb) = ((bottom - b) / sl, (top - b) / sl);
                lo = lo.max(ka.min(kb).ceil() + 1.0);
                hi = hi.min(ka.max(kb).floor() - 1.0);
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
    pub(super) fn ray_taps(
        &self,
        ray: &RaySteps,
        planes: std::ops::Range<u32>,
        k_base: u32,
        s: [usize; 3],
        sink: &mut impl Taps,
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
        let edge = |k: u32, sink: &mut dyn Taps| {
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
                let f = c.floor();
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
                for k in ki0..ki1 {
                    let c0 = ray.base[0] + k as f32 * ray.slope[0];
                    let c1 = ray.base[1] + k as f32 * ray.slope[1];
                    let (i0, i1) = (c0 as i32, c1 as i32);
                    let (w0, w1) = (c0 - i0 as f32, c1 - i1 as f32);
                    let at = (k - k_base) as usize * s[0] + i0 as usize * s[1] + i1 as usize * s[2];
                    sink.pair(at, at + s[1], (1.0 - w0) * (1.0 - w1) * w, w0 * (1.0 - w1) * w);
                    sink.pair(at + s[2], at + s[1] + s[2], (1.0 - w0) * w1 * w, w0 * w1 * w);
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

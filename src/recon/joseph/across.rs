//! The forward projection sixteen rays at a time (AVX-512): adjacent columns of one detector
//! row, one plane of their common main axis per step. At a plane those rays cross the volume
//! side by side, a voxel or two apart along the contiguous axis and on one or two rows of the
//! other: the four interpolation corners of each half of the group (eight rays) lie in a
//! segment of 16 voxels (32 in the wide variant, for rays up to about 3.7 voxels apart: coarse
//! detectors, oblique views) on two or three rows, read with whole-vector loads and spread to
//! the lanes with two-source permutes, where a ray-by-ray loop needs two scalar loads per plane
//! and ray. Planes where a half does not fit its segments (rays entering or leaving through a
//! side) use hardware gathers. Positions, floors and
//! weights are exactly those of the scalar taps ([`super::rays::Bilinear::at`] inside, the edge
//! taps' `floor` outside), as in [`super::simd::forward_ray_padded`]; each ray's taps are summed
//! plane by plane in its lane.

use super::Joseph;
use super::rays::{RaySteps, RowRays};

/// Rays per group: the lanes of one AVX-512 register.
pub(super) const LANES: usize = 16;

/// Voxels a half's segment spans along the contiguous axis: one 16-lane register, or two in
/// the wide variant (for detectors coarser than about two voxels per column, and oblique
/// views).
const SEGMENT: i32 = 16;
const WIDE_SEGMENT: i32 = 2 * SEGMENT;

/// Floats of zeros the padded volumes need past their end: a segment's load may start at the
/// last voxel of the last row it reads.
pub(super) const WINDOW_SLACK: usize = WIDE_SEGMENT as usize;

/// Up to [`LANES`] rays, as lanes (absent rays have no planes).
#[derive(Debug, Clone, Copy)]
pub(super) struct Group {
    base: [[f32; LANES]; 2],
    slope: [[f32; LANES]; 2],
    step_mm: [f32; LANES],
    k0: [i32; LANES],
    k1: [i32; LANES],
    main: [u8; LANES],
    /// Lanes holding a ray.
    present: u16,
}

impl Group {
    /// A group without rays.
    pub(super) fn new() -> Group {
        Group {
            base: [[0.0; LANES]; 2],
            slope: [[0.0; LANES]; 2],
            step_mm: [0.0; LANES],
            k0: [0; LANES],
            k1: [0; LANES],
            main: [0; LANES],
            present: 0,
        }
    }

    /// Puts `ray` in lane `l` (below [`LANES`]).
    #[inline(always)]
    pub(super) fn set(&mut self, l: usize, ray: &RaySteps) {
        for j in 0..2 {
            self.base[j][l] = ray.base[j];
            self.slope[j][l] = ray.slope[j];
        }
        self.step_mm[l] = ray.step_mm;
        (self.k0[l], self.k1[l]) = (ray.k0 as i32, ray.k1 as i32);
        self.main[l] = ray.main;
        self.present |= 1 << l;
    }

    /// The ray in lane `l`, if any (with the fields [`super::simd::forward_ray_padded`] reads).
    pub(super) fn ray(&self, l: usize) -> Option<RaySteps> {
        (self.present >> l & 1 == 1).then(|| RaySteps {
            main: self.main[l],
            k0: self.k0[l] as u32,
            k1: self.k1[l] as u32,
            base: [self.base[0][l], self.base[1][l]],
            slope: [self.slope[0][l], self.slope[1][l]],
            step_mm: self.step_mm[l],
            single: [false; 2],
            interior: (0, 0),
        })
    }

    /// The main axis shared by the group's rays, and whether they need the wide segments, when
    /// [`forward_group_avx512`] suits them: at least two rays, all stepping along the same main
    /// axis and, at the middle plane of their union, each half's within a [`SEGMENT`] (or a
    /// [`WIDE_SEGMENT`]) less three voxels along `contiguous(main)` (0 or 1: which other axis has
    /// stride 1) — where most planes will fit the segments (up to about 1.8 or 3.7 voxels
    /// between adjacent rays); `None` otherwise (the caller projects them ray by ray).
    pub(super) fn shared_main(&self, contiguous: impl Fn(u8) -> usize) -> Option<(usize, bool)> {
        if self.present.count_ones() < 2 {
            return None;
        }
        let first = self.present.trailing_zeros() as usize;
        let main = self.main[first];
        let (mut k_lo, mut k_hi) = (i32::MAX, i32::MIN);
        for l in 0..LANES {
            if self.present >> l & 1 == 1 {
                if self.main[l] != main {
                    return None;
                }
                k_lo = k_lo.min(self.k0[l]);
                k_hi = k_hi.max(self.k1[l]);
            }
        }
        let j = contiguous(main);
        let k = ((k_lo + k_hi) / 2) as f32;
        let mut wide = false;
        for half in [0..LANES / 2, LANES / 2..LANES] {
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for l in half {
                if self.present >> l & 1 == 1 {
                    let c = self.base[j][l] + k * self.slope[j][l];
                    lo = lo.min(c);
                    hi = hi.max(c);
                }
            }
            if hi - lo > (WIDE_SEGMENT - 3) as f32 {
                return None;
            }
            wide |= hi - lo > (SEGMENT - 3) as f32;
        }
        Some((main as usize, wide))
    }

    /// Lanes holding a ray.
    pub(super) fn present(&self) -> u16 {
        self.present
    }
}

impl Joseph {
    /// The group of columns `first..first + count` (at most [`LANES`]) of a detector row with
    /// affine rays (flat and parallel detectors), set up eight lanes at a time in f64 with the
    /// operations of [`Joseph::stepping_of`] in the same order (no fused multiply-adds), so
    /// every ray is bit for bit the one the transpose sees; `None` where a lane meets a value
    /// that is not finite (the caller then sets the rays up one by one, as `stepping_of`
    /// orders NaN through `max`/`min`). Volumes at least two voxels along every axis.
    pub(super) fn group_of_row(&self, rays: &RowRays<'_>, first: usize, count: usize) -> Option<Group> {
        let RowRays::Affine {
            point,
            point_step,
            direction,
            direction_step,
            cols,
        } = rays
        else {
            return None;
        };
        let [nz, ny, nx] = self.shape;
        if nx < 2 || ny < 2 || nz < 2 || !std::is_x86_feature_detected!("avx512f") {
            return None;
        }
        let count = count.min(LANES).min(cols.saturating_sub(first));
        let mut group = Group::new();
        for half in 0..2 {
            let lanes = (count.saturating_sub(half * 8)).min(8);
            if lanes > 0 {
                // SAFETY: AVX-512F was detected above.
                let ok = unsafe {
                    self.stepping_avx512(
                        [*point, *point_step, *direction, *direction_step],
                        first + half * 8,
                        lanes,
                        &mut group,
                        half * 8,
                    )
                };
                if !ok {
                    return None;
                }
            }
        }
        Some(group)
    }

    /// Eight lanes of [`Self::group_of_row`]: columns `first..first + lanes` into lanes
    /// `lane0..lane0 + lanes` of `group`; false when a value is not finite.
    #[target_feature(enable = "avx512f")]
    unsafe fn stepping_avx512(
        &self,
        [point, point_step, direction, direction_step]: [[f64; 3]; 4],
        first: usize,
        lanes: usize,
        group: &mut Group,
        lane0: usize,
    ) -> bool {
        use std::arch::x86_64::*;
        let [nz, ny, nx] = self.shape;
        let n = [nx as f64, ny as f64, nz as f64];
        let c = _mm512_add_pd(
            _mm512_set1_pd(first as f64),
            _mm512_setr_pd(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0),
        );
        let wanted: u8 = if lanes >= 8 { 0xff } else { (1u8 << lanes) - 1 };
        // q = (p − origin)·per_mm and e = d·per_mm along x, y, z (p = point + c·point_step,
        // d = direction + c·direction_step, as `RowRays::stepping`).
        let axis = |a: usize| {
            let p = _mm512_add_pd(
                _mm512_set1_pd(point[a]),
                _mm512_mul_pd(c, _mm512_set1_pd(point_step[a])),
            );
            let d = _mm512_add_pd(
                _mm512_set1_pd(direction[a]),
                _mm512_mul_pd(c, _mm512_set1_pd(direction_step[a])),
            );
            let per_mm = _mm512_set1_pd(self.voxels_per_mm[a]);
            let q = _mm512_mul_pd(_mm512_sub_pd(p, _mm512_set1_pd(self.grid.origin[a])), per_mm);
            (q, _mm512_mul_pd(d, per_mm), d)
        };
        let ((q0, e0, d0), (q1, e1, d1), (q2, e2, d2)) = (axis(0), axis(1), axis(2));
        let abs = |x: __m512d| _mm512_abs_pd(x);
        // Main axis: y where |e_y| ≥ |e_x|, then z where |e_z| ≥ |e_main| (and nz > 1).
        let is_y = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(abs(e1), abs(e0));
        let e_main_xy = _mm512_mask_blend_pd(is_y, e0, e1);
        let is_z = if nz > 1 {
            _mm512_cmp_pd_mask::<_CMP_GE_OQ>(abs(e2), abs(e_main_xy))
        } else {
            0
        };
        let is_y = is_y & !is_z;
        // (main, a, b) = (x, y, z), (y, z, x) or (z, x, y).
        let pick = |x: __m512d, y: __m512d, z: __m512d| _mm512_mask_blend_pd(is_z, _mm512_mask_blend_pd(is_y, x, y), z);
        let (em, ea, eb) = (pick(e0, e1, e2), pick(e1, e2, e0), pick(e2, e0, e1));
        let (qm, qa, qb) = (pick(q0, q1, q2), pick(q1, q2, q0), pick(q2, q0, q1));
        let nv = n.map(|v| _mm512_set1_pd(v));
        let (n_main, n_a, n_b) = (
            pick(nv[0], nv[1], nv[2]),
            pick(nv[1], nv[2], nv[0]),
            pick(nv[2], nv[0], nv[1]),
        );
        let zero = _mm512_setzero_pd();
        let mut hit = wanted & _mm512_cmp_pd_mask::<_CMP_NEQ_UQ>(em, zero);
        let per_main = _mm512_div_pd(_mm512_set1_pd(1.0), em);
        let mut k0 = zero;
        let mut k1 = n_main;
        let mut finite: u8 = 0xff;
        let is_finite = |x: __m512d| _mm512_cmp_pd_mask::<_CMP_LT_OQ>(abs(x), _mm512_set1_pd(f64::INFINITY));
        let minus_one = _mm512_set1_pd(-1.0);
        let mut base = [[0.0f32; 8]; 2];
        let mut slope = [[0.0f32; 8]; 2];
        for (j, (e, q, count)) in [(ea, qa, n_a), (eb, qb, n_b)].into_iter().enumerate() {
            let sl = _mm512_mul_pd(e, per_main);
            let b = _mm512_sub_pd(q, _mm512_mul_pd(qm, sl));
            // SAFETY: eight floats into eight-float arrays.
            unsafe {
                _mm256_storeu_ps(base[j].as_mut_ptr(), _mm512_cvtpd_ps(b));
                _mm256_storeu_ps(slope[j].as_mut_ptr(), _mm512_cvtpd_ps(sl));
            }
            // Every axis has at least two voxels here: the taps reach −1…n.
            let (lo, hi) = (minus_one, count);
            let still = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(e, zero);
            let inside = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(q, lo) & _mm512_cmp_pd_mask::<_CMP_LE_OQ>(q, hi);
            hit &= !still | inside;
            let per_s = _mm512_div_pd(em, e);
            let ka = _mm512_add_pd(_mm512_mul_pd(_mm512_sub_pd(lo, q), per_s), qm);
            let kb = _mm512_add_pd(_mm512_mul_pd(_mm512_sub_pd(hi, q), per_s), qm);
            finite &= still | (is_finite(ka) & is_finite(kb));
            let low = _mm512_roundscale_pd::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(_mm512_min_pd(ka, kb));
            let high = _mm512_roundscale_pd::<{ _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC }>(_mm512_max_pd(ka, kb));
            k0 = _mm512_mask_max_pd(k0, !still, k0, _mm512_add_pd(low, minus_one));
            k1 = _mm512_mask_min_pd(k1, !still, k1, _mm512_add_pd(high, _mm512_set1_pd(2.0)));
        }
        finite &= is_finite(per_main) | !hit;
        if finite & hit != hit {
            return false;
        }
        hit &= _mm512_cmp_pd_mask::<_CMP_LT_OQ>(k0, k1);
        // |d| per |e_main| voxel units: norm(d) = √(d·d), summed left to right.
        let norm = _mm512_sqrt_pd(_mm512_add_pd(
            _mm512_add_pd(_mm512_mul_pd(d0, d0), _mm512_mul_pd(d1, d1)),
            _mm512_mul_pd(d2, d2),
        ));
        let mut step = [0.0f32; 8];
        let (mut first_plane, mut last_plane) = ([0i32; 8], [0i32; 8]);
        // SAFETY: eight values into eight-element arrays.
        unsafe {
            _mm256_storeu_ps(step.as_mut_ptr(), _mm512_cvtpd_ps(_mm512_mul_pd(norm, abs(per_main))));
            _mm256_storeu_si256(first_plane.as_mut_ptr().cast(), _mm512_cvttpd_epi32(k0));
            _mm256_storeu_si256(last_plane.as_mut_ptr().cast(), _mm512_cvttpd_epi32(k1));
        }
        for l in 0..lanes {
            if hit >> l & 1 == 1 {
                let main = if is_z >> l & 1 == 1 {
                    2
                } else {
                    u8::from(is_y >> l & 1 == 1)
                };
                let lane = lane0 + l;
                for j in 0..2 {
                    group.base[j][lane] = base[j][l];
                    group.slope[j][lane] = slope[j][l];
                }
                group.step_mm[lane] = step[l];
                group.k0[lane] = first_plane[l];
                group.k1[lane] = last_plane[l];
                group.main[lane] = main;
                group.present |= 1 << lane;
            }
        }
        true
    }
}

/// The forward sums of the rays of `group` (all along one main axis) in a volume padded with one voxel of zeros on every
/// side and [`WINDOW_SLACK`] zeros past its end; lane `l` is ray `l`'s sum (0 for absent lanes).
///
/// # Safety
/// AVX-512F is available; `volume` holds the padded layout `strides` describes (along the main
/// axis and the two others, one of which has stride 1) for `counts` voxels along the two
/// others, followed by [`WINDOW_SLACK`] floats: every index up to
/// `(n_main + 1)·s₀ + (counts[0] + 1)·s₁ + (counts[1] + 1)·s₂ + WINDOW_SLACK` is in bounds and
/// below 2^31; every present ray's `k1` is at most `n_main`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn forward_group_avx512<const WIDE: bool>(
    volume: &[f32],
    group: &Group,
    strides: [usize; 3],
    counts: [usize; 2],
) -> [f32; LANES] {
    use std::arch::x86_64::*;
    // SAFETY (loads below): sixteen-element arrays read as one register.
    let load = |a: &[f32; LANES]| unsafe { _mm512_loadu_ps(a.as_ptr()) };
    let load_i = |a: &[i32; LANES]| unsafe { _mm512_loadu_si512(a.as_ptr().cast()) };
    let (base, slope) = (group.base.map(|b| load(&b)), group.slope.map(|s| load(&s)));
    let step = load(&group.step_mm);
    let (k0, k1) = (load_i(&group.k0), load_i(&group.k1));
    let one = _mm512_set1_ps(1.0);
    let minus_one = _mm512_set1_ps(-1.0);
    let ends = counts.map(|c| _mm512_set1_ps(c as f32));
    // Which of the two other axes has stride 1 (`u`, along the segments); the other is `r`.
    let u_axis = if strides[2] == 1 { 1 } else { 0 };
    let row_stride = strides[1 + (1 - u_axis)];
    let row_stride_v = _mm512_set1_epi32(row_stride as i32);
    let one_i = _mm512_set1_epi32(1);
    let reach = _mm512_set1_epi32(if WIDE { WIDE_SEGMENT } else { SEGMENT } - 2);
    // Narrow segments: one register per half, the upper half's permute indices starting at
    // the second source register. Wide: two registers per half, permuted separately.
    let upper = if WIDE {
        _mm512_setzero_si512()
    } else {
        _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 16, 16, 16, 16, 16, 16, 16, 16)
    };
    const LOWER_LANES: u16 = 0x00ff;
    let ptr = volume.as_ptr();
    let present = group.present;
    let mut k_first = i32::MAX;
    let mut k_last = i32::MIN;
    for l in 0..LANES {
        if present >> l & 1 == 1 {
            k_first = k_first.min(group.k0[l]);
            k_last = k_last.max(group.k1[l]);
        }
    }
    // The pilot lane of each half along `u` and along `r`: the present lane nearest the low
    // end at the first plane (rays of adjacent columns keep their order across the volume; where
    // they do not, the planes concerned fail the fit and gather).
    let k_first = k_first.max(0);
    let pilot_of = |j: usize, half: usize| -> usize {
        let lanes = half * LANES / 2..(half + 1) * LANES / 2;
        let at = |l: usize| group.base[j][l] + k_first as f32 * group.slope[j][l];
        lanes
            .clone()
            .filter(|&l| present >> l & 1 == 1)
            .min_by(|&a, &b| at(a).total_cmp(&at(b)))
            .unwrap_or(lanes.start)
    };
    let v_axis = 1 - u_axis;
    let pilots = [
        pilot_of(u_axis, 0),
        pilot_of(u_axis, 1),
        pilot_of(v_axis, 0),
        pilot_of(v_axis, 1),
    ];
    let axes = [u_axis, u_axis, v_axis, v_axis];
    let pilot_base = _mm_setr_ps(
        group.base[axes[0]][pilots[0]],
        group.base[axes[1]][pilots[1]],
        group.base[axes[2]][pilots[2]],
        group.base[axes[3]][pilots[3]],
    );
    let pilot_slope = _mm_setr_ps(
        group.slope[axes[0]][pilots[0]],
        group.slope[axes[1]][pilots[1]],
        group.slope[axes[2]][pilots[2]],
        group.slope[axes[3]][pilots[3]],
    );
    // Padded indices: u up to counts + 1 (a segment may run past its row into the next one or
    // the slack), r up to counts (its row r + 1 exists).
    let (u_count, r_count) = (counts[u_axis] as i32, counts[v_axis] as i32);
    let pilot_top = _mm_setr_epi32(u_count + 1, u_count + 1, r_count, r_count);
    let pick_u = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    let pick_r = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    let mut acc = [_mm512_setzero_ps(); 2];
    for k in k_first..k_last {
        let kv = _mm512_set1_epi32(k);
        let kf = _mm512_set1_ps(k as f32);
        let c0 = _mm512_add_ps(base[0], _mm512_mul_ps(kf, slope[0]));
        let c1 = _mm512_add_ps(base[1], _mm512_mul_ps(kf, slope[1]));
        // Taps where −1 ≤ c < n on both axes and k0 ≤ k < k1 (as the scalar path); NaN
        // positions compare false.
        let active = present
            & _mm512_cmp_ps_mask::<_CMP_GE_OQ>(c0, minus_one)
            & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(c0, ends[0])
            & _mm512_cmp_ps_mask::<_CMP_GE_OQ>(c1, minus_one)
            & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(c1, ends[1])
            & _mm512_cmple_epi32_mask(k0, kv)
            & _mm512_cmplt_epi32_mask(kv, k1);
        if active == 0 {
            continue;
        }
        let f0 = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(c0);
        let f1 = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(c1);
        let (w0, w1) = (_mm512_sub_ps(c0, f0), _mm512_sub_ps(c1, f1));
        let (v0, v1) = (_mm512_sub_ps(one, w0), _mm512_sub_ps(one, w1));
        // (1 − w0)(1 − w1)w, w0(1 − w1)w, (1 − w0)w1·w, w0·w1·w: products left to right, as the
        // scalar taps.
        let a00 = _mm512_mul_ps(_mm512_mul_ps(v0, v1), step);
        let a10 = _mm512_mul_ps(_mm512_mul_ps(w0, v1), step);
        let a01 = _mm512_mul_ps(_mm512_mul_ps(v0, w1), step);
        let a11 = _mm512_mul_ps(_mm512_mul_ps(w0, w1), step);
        // Padded indices (+1): ≥ 0 in active lanes.
        let i0 = _mm512_add_epi32(_mm512_cvtps_epi32(f0), one_i);
        let i1 = _mm512_add_epi32(_mm512_cvtps_epi32(f1), one_i);
        let (u, r) = if u_axis == 0 { (i0, i1) } else { (i1, i0) };
        let plane = (k as usize + 1) * strides[0];
        // Each half's segments start at its pilot lanes' (r, u), computed with the same
        // operations as the lanes (so equal to theirs) on the scalar side of the core, off the
        // vector work's critical path, and clamped into the padded volume.
        let pilot = _mm_add_ps(pilot_base, _mm_mul_ps(_mm_set1_ps(k as f32), pilot_slope));
        let pilot = _mm_add_epi32(_mm_cvtps_epi32(_mm_floor_ps(pilot)), _mm_set1_epi32(1));
        let pilot = _mm_max_epi32(_mm_min_epi32(pilot, pilot_top), _mm_setzero_si128());
        let (u_lo, u_hi) = (_mm_cvtsi128_si32(pilot), _mm_extract_epi32::<1>(pilot));
        let (r_lo, r_hi) = (_mm_extract_epi32::<2>(pilot), _mm_extract_epi32::<3>(pilot));
        let pilot = _mm512_castsi128_si512(pilot);
        let du = _mm512_sub_epi32(u, _mm512_permutexvar_epi32(pick_u, pilot));
        let dr = _mm512_sub_epi32(r, _mm512_permutexvar_epi32(pick_r, pilot));
        let fits = _mm512_mask_cmple_epu32_mask(active, du, reach) == active
            && _mm512_mask_cmple_epu32_mask(active, dr, one_i) == active;
        // Corners on the lower and upper row (`r`, `r + 1`), at `u` and `u + 1`.
        let [lo0, lo1, hi0, hi1] = if fits {
            let corner = |u: i32, r: i32| plane + r as usize * row_stride + u as usize;
            let (at_lo, at_hi) = (corner(u_lo, r_lo), corner(u_hi, r_hi));
            let index = _mm512_add_epi32(du, upper);
            let index1 = _mm512_add_epi32(index, one_i);
            // SAFETY: a half's rows r and r + 1 (and r + 2 when one of its lanes sits on r + 1)
            // lie in the padded volume (0 ≤ r ≤ counts + 1 by the clamp), the segment's last float at most
            // WINDOW_SLACK past the row's plane: the caller's contract.
            let row = |lo: usize, hi: usize| unsafe {
                if WIDE {
                    let segment = |at: usize| (_mm512_loadu_ps(ptr.add(at)), _mm512_loadu_ps(ptr.add(at + 16)));
                    let ((a, b), (c, d)) = (segment(lo), segment(hi));
                    let pick = |index| {
                        _mm512_mask_blend_ps(
                            !LOWER_LANES,
                            _mm512_permutex2var_ps(a, index, b),
                            _mm512_permutex2var_ps(c, index, d),
                        )
                    };
                    [pick(index), pick(index1)]
                } else {
                    let (a, b) = (_mm512_loadu_ps(ptr.add(lo)), _mm512_loadu_ps(ptr.add(hi)));
                    [
                        _mm512_permutex2var_ps(a, index, b),
                        _mm512_permutex2var_ps(a, index1, b),
                    ]
                }
            };
            let [a0, a1] = row(at_lo, at_hi);
            let (next_lo, next_hi) = (at_lo + row_stride, at_hi + row_stride);
            let [b0, b1] = row(next_lo, next_hi);
            let second = _mm512_mask_cmpeq_epi32_mask(active, dr, one_i);
            if second == 0 {
                [a0, a1, b0, b1]
            } else {
                // A half without lanes on its second row reads that row again (never selected).
                let third = |at: usize, mask: u16| if second & mask == 0 { at } else { at + row_stride };
                let [c0, c1] = row(third(next_lo, LOWER_LANES), third(next_hi, !LOWER_LANES));
                [
                    _mm512_mask_blend_ps(second, a0, b0),
                    _mm512_mask_blend_ps(second, a1, b1),
                    _mm512_mask_blend_ps(second, b0, c0),
                    _mm512_mask_blend_ps(second, b1, c1),
                ]
            }
        } else {
            let at = _mm512_add_epi32(
                _mm512_set1_epi32(plane as i32),
                _mm512_add_epi32(_mm512_mullo_epi32(r, row_stride_v), u),
            );
            let up = _mm512_add_epi32(at, row_stride_v);
            let zero = _mm512_setzero_ps();
            // SAFETY: active lanes index the padded volume (−1 ≤ c < n, k < k1 ≤ n_main);
            // inactive lanes are not read.
            unsafe {
                [
                    _mm512_mask_i32gather_ps::<4>(zero, active, at, ptr),
                    _mm512_mask_i32gather_ps::<4>(zero, active, _mm512_add_epi32(at, one_i), ptr),
                    _mm512_mask_i32gather_ps::<4>(zero, active, up, ptr),
                    _mm512_mask_i32gather_ps::<4>(zero, active, _mm512_add_epi32(up, one_i), ptr),
                ]
            }
        };
        // Corner +s₀ is `u + 1` when axis 0 is contiguous, the upper row otherwise.
        let (x00, x10, x01, x11) = if u_axis == 0 {
            (lo0, lo1, hi0, hi1)
        } else {
            (lo0, hi0, lo1, hi1)
        };
        // Inactive lanes keep their sums (their weights and corners are meaningless).
        acc[0] = _mm512_mask3_fmadd_ps(a00, x00, acc[0], active);
        acc[1] = _mm512_mask3_fmadd_ps(a10, x10, acc[1], active);
        acc[0] = _mm512_mask3_fmadd_ps(a01, x01, acc[0], active);
        acc[1] = _mm512_mask3_fmadd_ps(a11, x11, acc[1], active);
    }
    let mut sums = [0.0f32; LANES];
    // SAFETY: sixteen floats into a sixteen-float array.
    unsafe { _mm512_storeu_ps(sums.as_mut_ptr(), _mm512_add_ps(acc[0], acc[1])) };
    sums
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::XorShift64;

    /// The group kernel against the ray-by-ray padded kernel on random groups: adjacent rays
    /// 0.6, 1.5, 3 and 6 voxels apart (narrow segments, wide ones, gathers), rows crossed
    /// within a group, lanes absent or entering and leaving through the sides, both layouts.
    #[test]
    fn sixteen_rays_at_once_equal_one_at_a_time() {
        if !(std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("fma")) {
            eprintln!("no AVX-512F on this CPU: the group kernel is never used here");
            return;
        }
        let n = [37usize, 29, 33];
        let padded_len = (n[0] + 2) * (n[1] + 2) * (n[2] + 2);
        let mut rng = XorShift64::new(11);
        let mut volume: Vec<f32> = (0..padded_len).map(|_| rng.next_f32()).collect();
        volume.extend([0.0; WINDOW_SLACK]);
        let (px, py) = (n[0] + 2, n[1] + 2);
        // (main, strides, counts): rays along y in [z][y][x] (u = x), along z (u = x).
        let layouts = [
            (1u8, [px, px * py, 1], [n[2], n[0]]),
            (2u8, [px * py, 1, px], [n[0], n[1]]),
        ];
        let (mut groups, mut worst) = (0, 0.0f32);
        for (main, strides, counts) in layouts {
            let n_main = n[main as usize];
            let u_axis = usize::from(strides[2] == 1);
            for spacing in [0.6f32, 1.5, 3.0, 6.0] {
                for trial in 0..40 {
                    let mut group = Group::new();
                    let start = rng.next_f32() * 8.0 - 4.0;
                    let row = rng.next_f32() * counts[1 - u_axis] as f32;
                    let tilt = (rng.next_f32() - 0.5) * 0.3;
                    for l in 0..LANES {
                        if trial % 5 == 0 && rng.next_f32() < 0.3 {
                            continue;
                        }
                        let mut base = [0.0f32; 2];
                        let mut slope = [0.0f32; 2];
                        base[u_axis] = start + spacing * l as f32;
                        slope[u_axis] = (rng.next_f32() - 0.5) * 0.4 + 0.01 * l as f32;
                        base[1 - u_axis] = row + 0.05 * l as f32;
                        slope[1 - u_axis] = tilt + 0.002 * l as f32;
                        let k0 = (rng.next_f32() * 4.0) as u32;
                        let k1 = n_main as u32 - (rng.next_f32() * 4.0) as u32;
                        group.set(
                            l,
                            &RaySteps {
                                main,
                                k0,
                                k1,
                                base,
                                slope,
                                step_mm: 1.0 + rng.next_f32(),
                                single: [false; 2],
                                interior: (0, 0),
                            },
                        );
                    }
                    groups += 1;
                    for wide in [false, true] {
                        // SAFETY: AVX-512F and FMA detected; the padded layout with its slack,
                        // k1 ≤ n_main.
                        let sums = unsafe {
                            if wide {
                                forward_group_avx512::<true>(&volume, &group, strides, counts)
                            } else {
                                forward_group_avx512::<false>(&volume, &group, strides, counts)
                            }
                        };
                        for (l, &sum) in sums.iter().enumerate() {
                            let expected = match group.ray(l) {
                                // SAFETY: as above (AVX2 and FMA come with these CPUs).
                                Some(ray) => unsafe {
                                    super::super::simd::forward_ray_padded(&volume, &ray, strides, counts)
                                },
                                None => 0.0,
                            };
                            let error = (sum - expected).abs() / expected.abs().max(1.0);
                            worst = worst.max(error);
                            assert!(
                                error < 1e-5,
                                "main {main}, spacing {spacing}, trial {trial}, wide {wide}, lane {l}: \
                                 {sum} against {expected}"
                            );
                        }
                    }
                }
            }
        }
        eprintln!("{groups} groups, worst relative difference {worst:.1e}");
    }

    /// The vectorised set-up of a row's rays equals `stepping_of` bit for bit (the transpose
    /// sets its rays up one by one): flat and parallel detectors, offsets, an anisotropic
    /// volume off the axis, rays along every axis (a tilted orbit), rays that miss.
    #[test]
    fn rays_set_up_sixteen_at_a_time_equal_one_at_a_time() {
        use crate::recon::Geometry;
        use crate::volume::Grid;
        if !std::is_x86_feature_detected!("avx512f") {
            eprintln!("no AVX-512F on this CPU: the vectorised set-up is never used here");
            return;
        }
        let angles: Vec<f64> = (0..23).map(|k| 1.0 + k as f64 * 15.7).collect();
        let grid = Grid {
            spacing: [1.4, 0.9, 1.1],
            origin: [-12.0, -9.0, -8.0],
            ..Grid::default()
        };
        // Thin slices: the steeper rays of a tall detector step along z.
        let thin = Grid {
            spacing: [0.2, 1.0, 1.0],
            origin: [-4.0, -10.0, -12.0],
            ..Grid::default()
        };
        let cases = [
            (
                Geometry::cone(&angles, 60.0, 140.0, 53, 41, [1.3, 1.1], [2.5, -3.0]).unwrap(),
                grid,
                [17, 21, 25],
            ),
            (
                Geometry::parallel_3d(&angles, 47, 19, [0.9, 1.2]).unwrap(),
                grid,
                [17, 21, 25],
            ),
            (
                Geometry::cone(&angles, 30.0, 70.0, 40, 60, [2.0, 2.5], [0.0, 0.0]).unwrap(),
                thin,
                [41, 21, 25],
            ),
        ];
        let (mut compared, mut missed, mut mains) = (0, 0, [0usize; 3]);
        for (g, grid, shape) in &cases {
            let a = Joseph::new(g, *shape, grid).unwrap();
            for view in 0..angles.len() {
                for row in 0..g.rows {
                    let rays = a.row_rays(view, row).unwrap();
                    for first in (0..g.cols).step_by(LANES) {
                        let group = a.group_of_row(&rays, first, LANES).expect("finite rays");
                        for l in 0..LANES.min(g.cols - first) {
                            let one = a.stepping(view, row, first + l).unwrap();
                            let lane = group.ray(l);
                            match (one, lane) {
                                (None, None) => missed += 1,
                                (Some(one), Some(lane)) => {
                                    assert_eq!(
                                        (one.main, one.k0, one.k1),
                                        (lane.main, lane.k0, lane.k1),
                                        "view {view}, row {row}, column {}",
                                        first + l
                                    );
                                    let bits = |r: &RaySteps| {
                                        [r.base[0], r.base[1], r.slope[0], r.slope[1], r.step_mm].map(f32::to_bits)
                                    };
                                    assert_eq!(bits(&one), bits(&lane), "view {view}, row {row}, column {}", first + l);
                                    compared += 1;
                                    mains[one.main as usize] += 1;
                                }
                                (one, lane) => panic!(
                                    "view {view}, row {row}, column {}: {one:?} one by one, {lane:?} sixteen at a time",
                                    first + l
                                ),
                            }
                        }
                    }
                }
            }
        }
        eprintln!("{compared} rays equal (along x, y, z: {mains:?}), {missed} misses agree");
        assert!(compared > 10_000 && missed > 1_000, "{compared} rays, {missed} misses");
        assert!(mains.iter().all(|&m| m > 100), "rays along x, y, z: {mains:?}");
    }
}

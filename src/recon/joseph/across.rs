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

use super::rays::RaySteps;

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
}

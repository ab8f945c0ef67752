//! AVX2 paths of Joseph's pair, eight planes per step with offsets and weights exactly as the
//! scalar taps compute them (so every path sees the same taps): the interiors of 2D lines
//! (both directions) and whole 3D rays of the forward projection in a padded volume.

use super::rays::{Line, RaySteps};

/// Eight planes of a [`Line`] at a time: offsets and weights exactly as [`Line::at`] computes
/// them (`base + k·slope` as a multiply then an add, truncation, `(1 − frac)·step`).
#[target_feature(enable = "avx2")]
fn line_lanes(
    line: &Line,
    k: u32,
) -> (
    std::arch::x86_64::__m256i,
    std::arch::x86_64::__m256,
    std::arch::x86_64::__m256,
) {
    use std::arch::x86_64::*;
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let kv = _mm256_add_epi32(_mm256_set1_epi32(k as i32), lanes);
    let c = _mm256_add_ps(
        _mm256_set1_ps(line.base),
        _mm256_mul_ps(_mm256_cvtepi32_ps(kv), _mm256_set1_ps(line.slope)),
    );
    let i = _mm256_cvttps_epi32(c);
    let frac = _mm256_sub_ps(c, _mm256_cvtepi32_ps(i));
    let step = _mm256_set1_ps(line.step_mm);
    let w0 = _mm256_mul_ps(_mm256_sub_ps(_mm256_set1_ps(1.0), frac), step);
    let w1 = _mm256_mul_ps(frac, step);
    let at = _mm256_add_epi32(
        _mm256_mullo_epi32(
            _mm256_sub_epi32(kv, _mm256_set1_epi32(line.k_base as i32)),
            _mm256_set1_epi32(line.plane_stride as i32),
        ),
        _mm256_mullo_epi32(i, _mm256_set1_epi32(line.stride as i32)),
    );
    (at, w0, w1)
}

/// The forward interior of a line, eight planes per step with hardware gathers; returns the
/// sum and the first plane not done.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn gather_line_avx2(volume: &[f32], line: &Line) -> (f32, u32) {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    let mut k = line.planes.start;
    let stride = _mm256_set1_epi32(line.stride as i32);
    while k + 8 <= line.planes.end {
        let (at, w0, w1) = line_lanes(line, k);
        // SAFETY: both corners of every lane lie inside `volume` (`Line::corners_inside`).
        let (a, b) = unsafe {
            (
                _mm256_i32gather_ps::<4>(volume.as_ptr(), at),
                _mm256_i32gather_ps::<4>(volume.as_ptr(), _mm256_add_epi32(at, stride)),
            )
        };
        acc = _mm256_add_ps(acc, _mm256_add_ps(_mm256_mul_ps(w0, a), _mm256_mul_ps(w1, b)));
        k += 8;
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: eight floats into an eight-float array.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
    (lanes.iter().sum(), k)
}

/// The transpose's interior of a line: offsets and weights eight planes at a time, then the
/// scalar read-modify-writes (the planes differ, so the lanes never collide).
#[target_feature(enable = "avx2")]
pub(super) unsafe fn spread_line_avx2(out: &mut [f32], value: f32, line: &Line) {
    use std::arch::x86_64::*;
    let mut k = line.planes.start;
    let (mut at, mut w0, mut w1) = ([0i32; 8], [0.0f32; 8], [0.0f32; 8]);
    while k + 8 <= line.planes.end {
        let (a, x0, x1) = line_lanes(line, k);
        // SAFETY: eight lanes into eight-element arrays.
        unsafe {
            _mm256_storeu_si256(at.as_mut_ptr().cast(), a);
            _mm256_storeu_ps(w0.as_mut_ptr(), x0);
            _mm256_storeu_ps(w1.as_mut_ptr(), x1);
        }
        for l in 0..8 {
            let i = at[l] as usize;
            // SAFETY: both corners of every lane lie inside `out` (the caller checked
            // `Line::corners_inside`).
            unsafe {
                *out.get_unchecked_mut(i) += w0[l] * value;
                *out.get_unchecked_mut(i + line.stride) += w1[l] * value;
            }
        }
        k += 8;
    }
    for k in k..line.planes.end {
        let (i, a, b) = line.at(k);
        out[i] += a * value;
        out[i + line.stride] += b * value;
    }
}

/// The whole forward sum of a 3D ray, eight planes per step, in a volume padded with one voxel
/// of zeros on every side: corners that fall outside the volume read the padding, so there are
/// no edge planes. Positions, floors and weights exactly as the scalar taps compute them
/// ([`super::rays::Bilinear::at`] inside, the edge taps' `floor` outside); lanes whose position lies
/// outside −1 ≤ c < n (where the scalar path has no taps) and planes past the ray's end are
/// masked to weight 0 at offset 0. The axis of stride 1 in `strides` (one of the two
/// interpolation axes) supplies each pair of corners with one 64-bit load.
///
/// # Safety
/// AVX2 and FMA are available; `volume` holds the padded layout `strides` describes: indices
/// up to `(n_main + 1)·s₀ + (counts[0] + 1)·s₁ + (counts[1] + 1)·s₂` are in bounds and below
/// 2^31, and `s₁ = 1` or `s₂ = 1`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn forward_ray_padded(
    volume: &[f32],
    ray: &RaySteps,
    strides: [usize; 3],
    counts: [usize; 2],
) -> f32 {
    use std::arch::x86_64::*;
    let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let one = _mm256_set1_ps(1.0);
    let minus_one = _mm256_set1_ps(-1.0);
    let step = _mm256_set1_ps(ray.step_mm);
    let [sm, s0, s1] = strides.map(|s| _mm256_set1_epi32(s as i32));
    let ends = [_mm256_set1_ps(counts[0] as f32), _mm256_set1_ps(counts[1] as f32)];
    let (base, slope) = (
        ray.base.map(|b| _mm256_set1_ps(b)),
        ray.slope.map(|s| _mm256_set1_ps(s)),
    );
    // The padding shifts every index by one along every axis.
    let shift = _mm256_set1_epi32((strides[0] + strides[1] + strides[2]) as i32);
    let end = _mm256_set1_epi32(ray.k1 as i32);
    let second_is_pair = strides[2] == 1;
    let other = if second_is_pair { strides[1] } else { strides[2] } as i32;
    let ptr = volume.as_ptr();
    let mut acc = [_mm256_setzero_ps(); 2];
    let mut k = ray.k0;
    // Offsets of the eight planes (exact integers, so kept as a running sum).
    let mut planes = _mm256_add_epi32(
        shift,
        _mm256_mullo_epi32(_mm256_add_epi32(_mm256_set1_epi32(k as i32), lanes), sm),
    );
    let planes_step = _mm256_set1_epi32(8 * strides[0] as i32);
    while k < ray.k1 {
        let kv = _mm256_add_epi32(_mm256_set1_epi32(k as i32), lanes);
        let kf = _mm256_cvtepi32_ps(kv);
        let c0 = _mm256_add_ps(base[0], _mm256_mul_ps(kf, slope[0]));
        let c1 = _mm256_add_ps(base[1], _mm256_mul_ps(kf, slope[1]));
        let (f0, f1) = (_mm256_floor_ps(c0), _mm256_floor_ps(c1));
        let (w0, w1) = (_mm256_sub_ps(c0, f0), _mm256_sub_ps(c1, f1));
        let inside = _mm256_and_ps(
            _mm256_and_ps(
                _mm256_cmp_ps::<_CMP_GE_OQ>(c0, minus_one),
                _mm256_cmp_ps::<_CMP_LT_OQ>(c0, ends[0]),
            ),
            _mm256_and_ps(
                _mm256_and_ps(
                    _mm256_cmp_ps::<_CMP_GE_OQ>(c1, minus_one),
                    _mm256_cmp_ps::<_CMP_LT_OQ>(c1, ends[1]),
                ),
                _mm256_castsi256_ps(_mm256_cmpgt_epi32(end, kv)),
            ),
        );
        let (v0, v1) = (_mm256_sub_ps(one, w0), _mm256_sub_ps(one, w1));
        // (1 − w0)(1 − w1)w, w0(1 − w1)w, (1 − w0)w1·w, w0·w1·w: products left to right, as
        // the scalar taps.
        // Masking the step masks all four (the products are ≥ 0, so they become +0).
        let step = _mm256_and_ps(step, inside);
        let a00 = _mm256_mul_ps(_mm256_mul_ps(v0, v1), step);
        let a10 = _mm256_mul_ps(_mm256_mul_ps(w0, v1), step);
        let a01 = _mm256_mul_ps(_mm256_mul_ps(v0, w1), step);
        let a11 = _mm256_mul_ps(_mm256_mul_ps(w0, w1), step);
        let at = _mm256_add_epi32(
            planes,
            _mm256_add_epi32(
                _mm256_mullo_epi32(_mm256_cvtps_epi32(f0), s0),
                _mm256_mullo_epi32(_mm256_cvtps_epi32(f1), s1),
            ),
        );
        planes = _mm256_add_epi32(planes, planes_step);
        let at = _mm256_and_si256(at, _mm256_castps_si256(inside));
        // SAFETY: masked lanes read offset 0; the others lie in the padded volume (−1 ≤ c < n
        // on both axes, k < k1 ≤ n_main), the caller's contract.
        let (p0, p1) = unsafe {
            (
                pair_rows(ptr, at),
                pair_rows(ptr, _mm256_add_epi32(at, _mm256_set1_epi32(other))),
            )
        };
        let (x00, x10, x01, x11) = if second_is_pair {
            // s₂ = 1: p0 = (+0, +s₂), p1 = (+s₁, +s₁+s₂).
            (p0.0, p1.0, p0.1, p1.1)
        } else {
            // s₁ = 1: p0 = (+0, +s₁), p1 = (+s₂, +s₁+s₂).
            (p0.0, p0.1, p1.0, p1.1)
        };
        // Two accumulators: half the dependent chain of additions per step.
        acc[0] = _mm256_fmadd_ps(a00, x00, acc[0]);
        acc[1] = _mm256_fmadd_ps(a10, x10, acc[1]);
        acc[0] = _mm256_fmadd_ps(a01, x01, acc[0]);
        acc[1] = _mm256_fmadd_ps(a11, x11, acc[1]);
        k += 8;
    }
    let acc = _mm256_add_ps(acc[0], acc[1]);
    let mut sums = [0.0f32; 8];
    // SAFETY: eight floats into an eight-float array.
    unsafe { _mm256_storeu_ps(sums.as_mut_ptr(), acc) };
    sums.iter().sum()
}

/// `(f[at], f[at + 1])` for eight lanes: eight scalar 64-bit loads, split into the first and
/// second members in lane order.
///
/// # Safety
/// `at` and `at + 1` index the allocation behind `ptr` in every lane.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn pair_rows(
    ptr: *const f32,
    at: std::arch::x86_64::__m256i,
) -> (std::arch::x86_64::__m256, std::arch::x86_64::__m256) {
    use std::arch::x86_64::*;
    // Eight scalar 64-bit loads: on current cores cheaper than the microcoded gathers. Lanes
    // (0, 1, 4, 5) go to the low register and (2, 3, 6, 7) to the high one, so the in-lane
    // shuffles below leave every member in its own lane's position.
    let mut index = [0i32; 8];
    // SAFETY: eight i32 into an eight-element array.
    unsafe { _mm256_storeu_si256(index.as_mut_ptr().cast(), at) };
    // SAFETY: the caller's contract: `at` and `at + 1` are in bounds.
    let pair = |l: usize| unsafe { ptr.add(index[l] as usize).cast::<f64>().read_unaligned() };
    let lo = _mm256_castpd_ps(_mm256_setr_pd(pair(0), pair(1), pair(4), pair(5)));
    let hi = _mm256_castpd_ps(_mm256_setr_pd(pair(2), pair(3), pair(6), pair(7)));
    (
        _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi),
        _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi),
    )
}

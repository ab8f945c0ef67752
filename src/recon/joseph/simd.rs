//! AVX2 interiors of 2D lines: eight planes per step, offsets and weights exactly as
//! [`Line::at`] computes them, so every path sees the same taps.

use super::rays::Line;

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

//! Linear interpolation of a row at 8 positions at once, shared by the CPU back-projectors
//! (parallel FBP, fan-beam, FDK's z-columns).
//!
//! Neighbouring pixels read neighbouring detector samples: 8 consecutive pixels usually need
//! samples within 15 of each other. Then two 8-wide loads and lane permutations fetch the
//! pairs `(f[i], f[i + 1])`, instead of two hardware gathers (16 scattered loads, the most
//! expensive instruction of these loops on current x86 cores); otherwise the gathers.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Samples a row keeps readable past its last index so that the window loads stay inside it
/// (rows shorter than that take the gathers near their end).
pub(crate) const PAD: usize = 16;

/// `(f[i], f[i + 1])` for the 8 lanes of `i`.
///
/// # Safety
/// The CPU supports AVX2, and `0 <= i` and `i + 1 < f.len()` in every lane.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn pairs(f: &[f32], i: __m256i) -> (__m256, __m256) {
    // SAFETY: the caller's contract is PairIndex's.
    unsafe { PairIndex::new(f.len(), i).fetch(f) }
}

/// How [`pairs`] reads 8 lanes of indices from rows of one length: worked out once, it serves
/// every row read at the same positions (the views that a symmetry of the scan maps onto the
/// same pixels).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct PairIndex {
    /// The window's first sample, or `None` for the gathers.
    base: Option<usize>,
    i: __m256i,
    /// Lane positions of `f[i]` and `f[i + 1]` in the window, and which come from its upper half.
    rel: __m256i,
    next: __m256i,
    upper: __m256,
    upper_next: __m256,
}

#[cfg(target_arch = "x86_64")]
impl PairIndex {
    /// The reading plan for indices `i` into rows of `len` samples.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn new(len: usize, i: __m256i) -> PairIndex {
        let base = _mm256_cvtsi256_si32(i).min(_mm256_extract_epi32::<7>(i));
        let rel = _mm256_sub_epi32(i, _mm256_set1_epi32(base));
        let seven = _mm256_set1_epi32(7);
        let next = _mm256_add_epi32(rel, _mm256_set1_epi32(1));
        let mut plan = PairIndex {
            base: None,
            i,
            rel,
            next,
            upper: _mm256_castsi256_ps(_mm256_cmpgt_epi32(rel, seven)),
            upper_next: _mm256_castsi256_ps(_mm256_cmpgt_epi32(next, seven)),
        };
        if base >= 0 && base as usize + 16 <= len {
            let outside = _mm256_or_si256(
                _mm256_cmpgt_epi32(rel, _mm256_set1_epi32(14)),
                _mm256_cmpgt_epi32(_mm256_setzero_si256(), rel),
            );
            if _mm256_testz_si256(outside, outside) == 1 {
                plan.base = Some(base as usize);
            }
        }
        plan
    }

    /// `(f[i], f[i + 1])` for the 8 lanes.
    ///
    /// # Safety
    /// The CPU supports AVX2, `f` has the length the plan was made for, and `0 <= i` and
    /// `i + 1 < f.len()` in every lane.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn fetch(&self, f: &[f32]) -> (__m256, __m256) {
        match self.base {
            Some(base) => {
                // SAFETY: base + 16 <= f.len() (checked when planned for this length).
                let p = unsafe { f.as_ptr().add(base) };
                let (lo, hi) = unsafe { (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))) };
                // Lanes 0..=7 of the window come from `lo`, 8..=15 from `hi` (the permutation
                // reads the low three bits of each index).
                let a = _mm256_blendv_ps(
                    _mm256_permutevar8x32_ps(lo, self.rel),
                    _mm256_permutevar8x32_ps(hi, self.rel),
                    self.upper,
                );
                let b = _mm256_blendv_ps(
                    _mm256_permutevar8x32_ps(lo, self.next),
                    _mm256_permutevar8x32_ps(hi, self.next),
                    self.upper_next,
                );
                (a, b)
            }
            // SAFETY: every lane's i and i + 1 index `f` (the caller's contract).
            None => unsafe {
                (
                    _mm256_i32gather_ps::<4>(f.as_ptr(), self.i),
                    _mm256_i32gather_ps::<4>(f.as_ptr().add(1), self.i),
                )
            },
        }
    }
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn windows_and_gathers_fetch_the_same_pairs() {
        if !std::is_x86_feature_detected!("avx2") {
            return;
        }
        let f: Vec<f32> = (0..60).map(|k| (k * k) as f32 * 0.5 - 3.0).collect();
        let mut rng = crate::rng::XorShift64::new(5);
        let (mut windows, mut gathers) = (0, 0);
        for case in 0..2000 {
            // Increasing, decreasing, spread and random lanes, some near the end of the row.
            let start = (rng.next_u64() % 58) as i32;
            let step = [0, 1, 2, -1, -2, 7][case % 6];
            let lanes: [i32; 8] = std::array::from_fn(|l| {
                let v = if case % 7 == 6 {
                    (rng.next_u64() % 59) as i32
                } else {
                    start + step * l as i32
                };
                v.clamp(0, 58)
            });
            let i = unsafe { _mm256_loadu_si256(lanes.as_ptr().cast()) };
            let (a, b) = unsafe { pairs(&f, i) };
            let (mut got_a, mut got_b) = ([0.0f32; 8], [0.0f32; 8]);
            unsafe {
                _mm256_storeu_ps(got_a.as_mut_ptr(), a);
                _mm256_storeu_ps(got_b.as_mut_ptr(), b);
            }
            for (l, &k) in lanes.iter().enumerate() {
                assert_eq!((got_a[l], got_b[l]), (f[k as usize], f[k as usize + 1]), "{lanes:?}");
            }
            let lo = lanes.iter().min().unwrap();
            if lanes.iter().max().unwrap() - lo <= 14 && *lo as usize + 16 <= f.len() {
                windows += 1;
            } else {
                gathers += 1;
            }
        }
        assert!(windows > 500 && gathers > 200, "{windows} windows, {gathers} gathers");
    }
}

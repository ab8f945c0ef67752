//! The data's range on the CPU — smallest and largest non-NaN value and the NaN count — for
//! the edges of a histogram over the data and for Otsu's threshold. One read of the data and
//! no sums: the pass is as fast as memory delivers, where the full moments (mean and variance
//! in f64) are bound by arithmetic.

use ndarray::ArrayView3;
use rayon::prelude::*;

use crate::gpu::reduce::Moments;

/// What the data-range rules read of a volume.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Extremes {
    /// NaN values.
    pub nan_count: u64,
    /// Smallest non-NaN value (`+inf` when there is none).
    pub min: f64,
    /// Largest non-NaN value (`-inf` when there is none).
    pub max: f64,
}

impl From<&Moments> for Extremes {
    fn from(m: &Moments) -> Self {
        Extremes {
            nan_count: m.nan_count,
            min: m.min,
            max: m.max,
        }
    }
}

impl Extremes {
    fn merge(self, other: Extremes) -> Extremes {
        Extremes {
            nan_count: self.nan_count + other.nan_count,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }
}

/// How far ahead (values) the pass asks for the data.
const STREAM_AHEAD: usize = 2048;

/// Values per parallel task (the per-lane NaN counts are `u32`).
const CHUNK: usize = 64 * 1024;

/// [`Extremes`] of a volume.
pub(super) fn extremes_cpu(input: ArrayView3<'_, f32>) -> Extremes {
    let input = input.as_standard_layout();
    let values = input.as_slice().expect("standard layout is contiguous");
    values.par_chunks(CHUNK).map(extremes_of).reduce(
        || Extremes {
            nan_count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        },
        Extremes::merge,
    )
}

fn extremes_of(values: &[f32]) -> Extremes {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { extremes_avx2(values) };
        }
    }
    extremes_lanes(values)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn extremes_avx2(values: &[f32]) -> Extremes {
    extremes_lanes(values)
}

/// Sixteen independent lanes (two vectors of eight), so that the loop vectorises into
/// compare-and-select steps with no dependence between neighbouring values.
#[inline(always)]
fn extremes_lanes(values: &[f32]) -> Extremes {
    const L: usize = 16;
    let mut nan = [0u32; L];
    let (mut lo, mut hi) = ([f32::INFINITY; L], [f32::NEG_INFINITY; L]);
    let blocks = values.chunks_exact(L);
    let tail = blocks.remainder();
    let mut take = |l: usize, v: f32| {
        // NaN compares false: it leaves the minimum and maximum alone.
        nan[l] += u32::from(v.is_nan());
        lo[l] = if v < lo[l] { v } else { lo[l] };
        hi[l] = if v > hi[l] { v } else { hi[l] };
    };
    for block in blocks {
        // One line per block: memory streams at its rate instead of the hardware prefetcher's.
        crate::memory::prefetch(block.as_ptr().wrapping_add(STREAM_AHEAD));
        for (l, &v) in block.iter().enumerate() {
            take(l, v);
        }
    }
    for (l, &v) in tail.iter().enumerate() {
        take(l, v);
    }
    Extremes {
        nan_count: nan.iter().map(|&n| u64::from(n)).sum(),
        min: f64::from(lo.iter().fold(f32::INFINITY, |a, &b| a.min(b))),
        max: f64::from(hi.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_equal_the_moments_range_with_nan_and_infinities() {
        let mut rng = crate::rng::XorShift64::new(5);
        for len in [0usize, 1, 15, 16, 17, 1000, 200_003] {
            let mut values: Vec<f32> = (0..len).map(|_| rng.next_f32() * 7.0 - 3.0).collect();
            for (i, v) in values.iter_mut().enumerate() {
                match i % 97 {
                    3 => *v = f32::NAN,
                    50 if len > 10_000 => *v = f32::INFINITY,
                    _ => {}
                }
            }
            let volume = ndarray::Array3::from_shape_vec((1, 1, len), values.clone()).unwrap();
            let got = extremes_cpu(volume.view());
            let m = Moments::of_values(&values);
            assert_eq!(got, Extremes::from(&m), "{len} values");
        }
    }
}

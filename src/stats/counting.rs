//! Counting values into histogram bins on the CPU, with numpy's rule: a value's bin is
//! estimated from its position in the range and corrected against the f32 edges; the last bin
//! includes its right edge; NaN and values outside the edges are not counted.
//!
//! With AVX2, 16 values at a time and no table look-up: the position `e = (x − lo) · scale` is
//! monotone in `x` (each f32 operation rounds monotonically), so if every edge `k` has its own
//! position within `margin` of `k`, a value whose position has a fractional part in
//! `(margin, 1 − margin)` lies in bin `⌊e⌋` exactly (a value of bin `b'` has its position in
//! `[b' − margin, b' + 1 + margin]`). Groups with a value closer to an edge than that (a few in
//! ten thousand for equal-width bins) take the scalar rule; uneven edges take it throughout.
//! Each lane counts into its own sub-histogram (u32, summed per chunk), so runs of equal
//! values — the air of a CT — do not wait on one counter's store.

use ndarray::ArrayView3;
use rayon::prelude::*;

/// Values per parallel task.
const CHUNK: usize = 256 * 1024;

/// How far ahead (values) the vector loop asks for the data: its counter stores fill the
/// store buffer, which otherwise limits how many cache lines of input are in flight.
const PREFETCH_AHEAD: usize = 1024;

/// Lanes of the vector loop (two vectors of eight), each with its own sub-histogram.
const LANES: usize = 16;

/// Bins up to which the lanes keep sub-histograms: a value's slot, lane × (bins + 1) + bin,
/// must fit the `u16` the loop packs it into (16 × 4096 × 4 bytes at most, in L2); above, one
/// histogram and the scalar rule.
const MAX_LANE_BINS: usize = (1 << 16) / LANES - 1;

/// Groups of values whose slots wait in a ring before they are counted, and how many groups
/// later they are counted (see [`count_avx2`]).
const RING: usize = 8;
const DELAY: usize = 4;

/// The bin of `x` for f32 `edges` (numpy's rule), or `None` outside them or for NaN.
#[inline]
pub(super) fn bin_of(x: f32, edges: &[f32]) -> Option<usize> {
    let nb = edges.len() - 1;
    let (lo, hi) = (edges[0], edges[nb]);
    if !(x >= lo && x <= hi) {
        return None;
    }
    let mut b = (((x - lo) / (hi - lo) * nb as f32) as usize).min(nb - 1);
    loop {
        if b > 0 && x < edges[b] {
            b -= 1;
        } else if b + 1 < nb && x >= edges[b + 1] {
            b += 1;
        } else {
            return Some(b);
        }
    }
}

/// Counts of `input` per bin of `edges` (ascending, at least 2).
pub(super) fn histogram_cpu(input: ArrayView3<'_, f32>, edges: &[f32]) -> Vec<u64> {
    let input = input.as_standard_layout();
    let values = input.as_slice().expect("standard layout is contiguous");
    let bins = edges.len() - 1;
    let positions = Positions::of(edges);
    values
        .par_chunks(CHUNK)
        .fold(
            || (vec![0u64; bins], Vec::new()),
            |(mut counts, mut lanes), chunk| {
                count_chunk(chunk, edges, positions, &mut counts, &mut lanes);
                (counts, lanes)
            },
        )
        .map(|(counts, _)| counts)
        .reduce(
            || vec![0u64; bins],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

/// The position of a value among the bins, `(x − lo) · scale`, and how far the edges' own
/// positions stray from their indices.
#[derive(Debug, Clone, Copy)]
struct Positions {
    lo: f32,
    hi: f32,
    scale: f32,
    margin: f32,
}

impl Positions {
    fn of(edges: &[f32]) -> Positions {
        let bins = edges.len() - 1;
        let (lo, hi) = (edges[0], edges[bins]);
        let scale = bins as f32 / (hi - lo);
        let margin = edges
            .iter()
            .enumerate()
            .map(|(k, &e)| (f64::from((e - lo) * scale) - k as f64).abs())
            .fold(0.0f64, f64::max);
        Positions {
            lo,
            hi,
            scale,
            // Rounded up so that the f32 comparison stays on the safe side.
            margin: (margin as f32).next_up(),
        }
    }

    /// Whether the vector loop pays: equal-width bins (positions of the edges within a tenth of
    /// a bin of their indices) and a finite scale.
    fn even(&self) -> bool {
        self.scale.is_finite() && self.margin < 0.1
    }
}

/// Adds the counts of `chunk` (at most `u32::MAX` values) to `counts`; `lanes` is scratch.
fn count_chunk(chunk: &[f32], edges: &[f32], positions: Positions, counts: &mut [u64], lanes: &mut Vec<u32>) {
    let bins = edges.len() - 1;
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if bins <= MAX_LANE_BINS && positions.even() && std::is_x86_feature_detected!("avx2") {
            // One sub-histogram per lane, plus a slot for values not counted.
            let stride = bins + 1;
            lanes.clear();
            lanes.resize(LANES * stride, 0);
            // SAFETY: the CPU supports the features the function is compiled for.
            done = unsafe { count_avx2(chunk, edges, positions, lanes) };
            for lane in lanes.chunks_exact(stride) {
                counts
                    .iter_mut()
                    .zip(&lane[..bins])
                    .for_each(|(c, &n)| *c += u64::from(n));
            }
        }
    }
    for &x in &chunk[done..] {
        if let Some(b) = bin_of(x, edges) {
            counts[b] += 1;
        }
    }
}

/// One group's slots, sixteen `u16` packed into four words, read back as words and split by
/// shifts (a load per four values).
type Slots = [u64; LANES / 4];

/// The 16-wide part of [`count_chunk`] into `lanes` (`LANES` sub-histograms of `bins + 1`
/// slots, the last for values not counted); returns how many values it counted.
///
/// A group's slots are counted [`DELAY`] groups after they are computed. Counted at once, each
/// counter's address comes out of a long vector chain after the loads of later increments are
/// ready to go; the CPU then cannot tell whether those loads may pass the earlier increments'
/// stores, and on the 2-core EPYC the loop took ~0.47 ns a value where the increments alone
/// take ~0.36. Delayed, the addresses wait in the ring and the loop runs at the increments'
/// rate (0.36 ns, in L2, best of 40).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn count_avx2(chunk: &[f32], edges: &[f32], p: Positions, lanes: &mut [u32]) -> usize {
    use std::arch::x86_64::*;
    let bins = edges.len() - 1;
    let stride = bins + 1;
    let (lo, hi, scale) = (_mm256_set1_ps(p.lo), _mm256_set1_ps(p.hi), _mm256_set1_ps(p.scale));
    // 1 − margin rounded down, so that the test stays on the safe side.
    let (margin, far) = (_mm256_set1_ps(p.margin), _mm256_set1_ps((1.0 - p.margin).next_down()));
    let not_counted = _mm256_set1_epi32(bins as i32);
    let s = stride as i32;
    let offsets = [
        _mm256_setr_epi32(0, s, 2 * s, 3 * s, 4 * s, 5 * s, 6 * s, 7 * s),
        _mm256_setr_epi32(8 * s, 9 * s, 10 * s, 11 * s, 12 * s, 13 * s, 14 * s, 15 * s),
    ];
    // Eight values' slots, and a mask of those inside the edges but too close to one for the
    // vector rule.
    let slots_of = |values: *const f32, offsets: __m256i| {
        // SAFETY: the caller passes 8 values.
        let x = unsafe { _mm256_loadu_ps(values) };
        // Ordered comparisons: NaN is outside.
        let inside = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(x, lo), _mm256_cmp_ps::<_CMP_LE_OQ>(x, hi));
        let position = _mm256_mul_ps(_mm256_sub_ps(x, lo), scale);
        let b = _mm256_cvttps_epi32(position);
        let fraction = _mm256_sub_ps(position, _mm256_cvtepi32_ps(b));
        let certain = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GT_OQ>(fraction, margin),
            _mm256_cmp_ps::<_CMP_LT_OQ>(fraction, far),
        );
        let bin = _mm256_blendv_epi8(not_counted, b, _mm256_castps_si256(inside));
        (_mm256_add_epi32(bin, offsets), _mm256_andnot_ps(certain, inside))
    };
    let mut ring: [Slots; RING] = [[0; LANES / 4]; RING];
    let groups = chunk.len() / LANES;
    for (g, group) in chunk[..groups * LANES].chunks_exact(LANES).enumerate() {
        crate::memory::prefetch(group.as_ptr().wrapping_add(PREFETCH_AHEAD));
        let (low, low_near) = slots_of(group.as_ptr(), offsets[0]);
        let (high, high_near) = slots_of(group[8..].as_ptr(), offsets[1]);
        let slots = &mut ring[g % RING];
        if _mm256_movemask_ps(_mm256_or_ps(low_near, high_near)) != 0 {
            *slots = scalar_slots(group, edges);
        } else {
            // Slots are below 2^16 (see `MAX_LANE_BINS`): the saturating pack keeps them. Its
            // order of values (128-bit halves interleaved) does not matter to the counts.
            let packed = _mm256_packus_epi32(low, high);
            // SAFETY: 32 bytes.
            unsafe { _mm256_storeu_si256(slots.as_mut_ptr().cast(), packed) };
        }
        if g >= DELAY {
            // SAFETY: see `add_slots`.
            unsafe { add_slots(lanes, &ring[(g - DELAY) % RING]) };
        }
    }
    for g in groups.saturating_sub(DELAY)..groups {
        // SAFETY: see `add_slots`.
        unsafe { add_slots(lanes, &ring[g % RING]) };
    }
    groups * LANES
}

/// A group's slots by the scalar rule (values near an edge, NaN and the rest outside): kept out
/// of the vector loop, whose constants then stay in registers.
#[cold]
#[inline(never)]
fn scalar_slots(group: &[f32], edges: &[f32]) -> Slots {
    let bins = edges.len() - 1;
    let mut slots = [0; LANES / 4];
    for (l, &v) in group.iter().enumerate() {
        let slot = (l * (bins + 1) + bin_of(v, edges).unwrap_or(bins)) as u64;
        slots[l / 4] |= slot << (16 * (l % 4));
    }
    slots
}

/// Counts one group's slots.
///
/// # Safety
/// Every slot must be below `lanes.len()`. [`count_avx2`]'s are lane × stride + bin with
/// bin ≤ bins, and `lanes` holds LANES × stride: a value inside the edges has a position in
/// [0, bins + margin] with margin < 0.1 (positions are monotone and the last edge's is within
/// margin of bins), so its truncation is at most bins; the rest is `bin_of`'s bin or `bins`.
#[inline(always)]
unsafe fn add_slots(lanes: &mut [u32], slots: &Slots) {
    for &word in slots {
        for k in 0..4 {
            let slot = usize::from((word >> (16 * k)) as u16);
            debug_assert!(slot < lanes.len());
            // SAFETY: the caller's promise.
            unsafe { *lanes.get_unchecked_mut(slot) += 1 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_counts_equal_the_scalar_rule_on_edges_nan_and_uneven_bins() {
        let mut rng = crate::rng::XorShift64::new(9);
        let uniform: Vec<f32> = (0..=256).map(|i| -1000.0 + i as f32 * 7.8125).collect();
        let integers: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        let uneven: Vec<f32> = (0..=40).map(|i| (i * i) as f32 * 0.37 - 50.0).collect();
        // The most bins the lanes count (their last slot is 2^16 − 1), and one more (one histogram).
        let most: Vec<f32> = (0..=MAX_LANE_BINS).map(|i| i as f32 * 0.5).collect();
        let beyond: Vec<f32> = (0..=MAX_LANE_BINS + 1).map(|i| i as f32 * 0.5).collect();
        for edges in [uniform, integers, uneven, most, beyond] {
            let (lo, hi) = (edges[0], *edges.last().unwrap());
            for (len, awkward) in [
                (0usize, true),
                (5, true),
                (8, true),
                // Fewer groups of 16 than the ring delays, and as many.
                (40, false),
                (64, false),
                (1003, true),
                (70_001, true),
                (70_001, false),
            ] {
                // `awkward`: NaN, infinities, values on and next to edges in most groups of 8
                // (the scalar rule); otherwise values of the range only (the vector loop).
                let values: Vec<f32> = (0..len)
                    .map(|i| match if awkward { i % 11 } else { 10 } {
                        0 => f32::NAN,
                        // Exactly on an edge, and one ulp either side.
                        1 => edges[i % edges.len()],
                        2 => edges[i % edges.len()].next_up(),
                        3 => edges[i % edges.len()].next_down(),
                        4 => hi,
                        5 => lo - 1.0,
                        6 => f32::INFINITY,
                        _ => lo + (hi - lo) * (rng.next_f32() * 1.1 - 0.05),
                    })
                    .collect();
                let mut want = vec![0u64; edges.len() - 1];
                for &v in &values {
                    if let Some(b) = bin_of(v, &edges) {
                        want[b] += 1;
                    }
                }
                let input = ndarray::Array3::from_shape_vec((1, 1, len), values).unwrap();
                let got = histogram_cpu(input.view(), &edges);
                assert_eq!(got, want, "{} edges, {len} values, awkward {awkward}", edges.len());
                if len > 1000 {
                    assert!(want.iter().sum::<u64>() > len as u64 / 2);
                }
            }
        }
    }
}

//! Two-stage reductions with a small read-back: moments (min, max, count, mean, M2, NaNs) and
//! histograms with numpy's bins.
//!
//! Stage one runs on the GPU: each workgroup of 256 threads reduces a chunk of 16,384 voxels
//! (coalesced reads) to one partial. Stage two merges the partials on the host in f64 — a few
//! thousand values for a 512³ volume, so the read-back is kilobytes — which keeps the mean and
//! the variance accurate where an f32 tree over 10⁸ voxels would not be. Means and variances
//! merge with the pairwise update of Chan, Golub & LeVeque (1979), never through raw sums of
//! squares, so a large mean does not cancel the variance.
//!
//! Recording and reading are split (`record_*` → [`PendingMoments`] / [`PendingHistogram`] →
//! `finish` after the submission) so that a reduction can sit at the end of a pipeline's single
//! submission.

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{Binding, uniform};
use crate::gpu::kernel::{KernelSpec, wgsl};
use crate::gpu::recorder::{BufferWindow, Readback, Recorder};
use crate::gpu::tiling::for_each_window;
use crate::gpu::volume::GpuVolume;

// Threads per workgroup (WG) and values per thread of both reduction shaders; histograms with
// at most LOCAL_BINS bins count in workgroup memory first.
crate::wgsl_constants!(REDUCTION: u32 { WG = 256, PER_THREAD = 64, LOCAL_BINS = 4096 });

/// Values one workgroup reduces.
const VALUES_PER_GROUP: u64 = WG as u64 * PER_THREAD as u64;

pub(crate) static MOMENTS: KernelSpec = KernelSpec {
    name: "gpu/moments",
    sources: &[wgsl::FLOAT, include_str!("../../shaders/gpu/moments.wgsl")],
    entry: "moments",
    bindings: &[uniform::<WindowParams>(), Binding::Read, Binding::ReadWrite],
    constants: &[REDUCTION],
};
pub(crate) static HISTOGRAM_LOCAL: KernelSpec = histogram_kernel("gpu/histogram_local", "histogram_local");
pub(crate) static HISTOGRAM_GLOBAL: KernelSpec = histogram_kernel("gpu/histogram_global", "histogram_global");

/// Both histogram kernels: one shader, two entry points (counts in workgroup memory or not).
const fn histogram_kernel(name: &'static str, entry: &'static str) -> KernelSpec {
    KernelSpec {
        name,
        sources: &[wgsl::FLOAT, include_str!("../../shaders/gpu/histogram.wgsl")],
        entry,
        bindings: HISTOGRAM_BINDINGS,
        constants: &[REDUCTION],
    }
}

const HISTOGRAM_BINDINGS: &[Binding] = &[
    uniform::<WindowParams>(),
    Binding::Read,
    Binding::Read,
    Binding::ReadWrite,
];

/// Twin of `Params` in `moments.wgsl` and `histogram.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct WindowParams {
    offset: u32,
    count: u32,
    groups: u32,
    extra: u32,
}

/// Count, extremes, mean and M2 (sum of squared deviations from the mean) of the non-NaN
/// values, and the number of NaNs. Mergeable: the unit of both reduction stages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// Non-NaN values.
    pub count: u64,
    /// NaN values (excluded from everything else).
    pub nan_count: u64,
    /// Smallest non-NaN value (`+inf` when there is none).
    pub min: f64,
    /// Largest non-NaN value (`-inf` when there is none).
    pub max: f64,
    /// Mean of the non-NaN values (0 when there is none).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments {
            count: 0,
            nan_count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            mean: 0.0,
            m2: 0.0,
        }
    }
}

/// How far ahead (values) the CPU reductions ask for the data they stream.
const STREAM_AHEAD: usize = 2048;

impl Moments {
    /// The moments of a slice of values (one chunk of the CPU reduction): two passes over data
    /// that is in cache, the second around the chunk's own mean. Each pass keeps 8 lanes of
    /// f64 sums (independent chains that vectorise; one running sum was bound by the latency
    /// of its additions), combined at the end.
    pub fn of_values(values: &[f32]) -> Moments {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { Self::of_values_avx512(values) };
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { Self::of_values_avx2(values) };
            }
        }
        Self::of_values_lanes(values)
    }

    /// The first pass of the vector kernels from their lanes: `values` values, NaN counts,
    /// extremes, and the sum of the numbers (asked for only when there is one); M2 follows.
    fn of_lanes(values: usize, nans: &[u32], lo: &[f32], hi: &[f32], sum: impl FnOnce() -> f64) -> Moments {
        let nan_count: u64 = nans.iter().map(|&n| u64::from(n)).sum();
        let count = values as u64 - nan_count;
        Moments {
            count,
            nan_count,
            min: f64::from(lo.iter().fold(f32::INFINITY, |a, &b| a.min(b))),
            max: f64::from(hi.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b))),
            mean: if count > 0 { sum() / count as f64 } else { 0.0 },
            m2: 0.0,
        }
    }

    /// [`Moments::of_values_avx2`] with 16 values per register: the same sixteen f64 lanes
    /// (value `i` of a group into lane `i`), summed in the same order, so both give the same
    /// bits at half the instructions (the two passes are otherwise bound by the vector rate, not
    /// by memory).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn of_values_avx512(values: &[f32]) -> Moments {
        use std::arch::x86_64::*;
        let split = values.len() / 16 * 16;
        let (body, tail) = values.split_at(split);
        let mut m = Self::of_values_lanes(&[]);
        if !body.is_empty() {
            // Values 0–7 and 8–15 of each group, widened to f64.
            let halves = |x: __m512| {
                (
                    _mm512_cvtps_pd(_mm512_castps512_ps256(x)),
                    _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(x)))),
                )
            };
            // The AVX2 kernel's final sum: its four accumulators are these registers' halves.
            let total = |first: __m512d, second: __m512d| {
                let quarters = |v: __m512d| (_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd::<1>(v));
                let ((s0, s1), (s2, s3)) = (quarters(first), quarters(second));
                let mut lanes = [0.0f64; 4];
                // SAFETY: 4 f64.
                unsafe {
                    _mm256_storeu_pd(
                        lanes.as_mut_ptr(),
                        _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)),
                    )
                };
                lanes.iter().sum::<f64>()
            };
            let (mut first, mut second) = (_mm512_setzero_pd(), _mm512_setzero_pd());
            let (mut lo, mut hi) = (_mm512_set1_ps(f32::INFINITY), _mm512_set1_ps(f32::NEG_INFINITY));
            let (mut nan, one) = (_mm512_setzero_si512(), _mm512_set1_epi32(1));
            for group in body.chunks_exact(16) {
                crate::memory::prefetch(group.as_ptr().wrapping_add(STREAM_AHEAD));
                // SAFETY: 16 values.
                let x = unsafe { _mm512_loadu_ps(group.as_ptr()) };
                let ordered = _mm512_cmp_ps_mask::<_CMP_ORD_Q>(x, x);
                nan = _mm512_mask_add_epi32(nan, !ordered, nan, one);
                // min/max return the second operand when the first is NaN.
                lo = _mm512_min_ps(x, lo);
                hi = _mm512_max_ps(x, hi);
                let (a, b) = halves(_mm512_maskz_mov_ps(ordered, x));
                first = _mm512_add_pd(first, a);
                second = _mm512_add_pd(second, b);
            }
            let (mut lanes_lo, mut lanes_hi, mut nans) = ([0.0f32; 16], [0.0f32; 16], [0u32; 16]);
            // SAFETY: the arrays hold 16 f32 and 16 u32.
            unsafe {
                _mm512_storeu_ps(lanes_lo.as_mut_ptr(), lo);
                _mm512_storeu_ps(lanes_hi.as_mut_ptr(), hi);
                _mm512_storeu_si512(nans.as_mut_ptr().cast(), nan);
            }
            m = Moments::of_lanes(body.len(), &nans, &lanes_lo, &lanes_hi, || total(first, second));
            if m.count > 0 {
                let mean = _mm512_set1_pd(m.mean);
                let (mut first, mut second) = (_mm512_setzero_pd(), _mm512_setzero_pd());
                let masked = m.nan_count > 0;
                for group in body.chunks_exact(16) {
                    // The values after this chunk, as in the AVX2 kernel.
                    crate::memory::prefetch(group.as_ptr().wrapping_add(values.len()));
                    // SAFETY: 16 values.
                    let (a, b) = halves(unsafe { _mm512_loadu_ps(group.as_ptr()) });
                    let (mut da, mut db) = (_mm512_sub_pd(a, mean), _mm512_sub_pd(b, mean));
                    if masked {
                        da = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask::<_CMP_ORD_Q>(da, da), da);
                        db = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask::<_CMP_ORD_Q>(db, db), db);
                    }
                    first = _mm512_fmadd_pd(da, da, first);
                    second = _mm512_fmadd_pd(db, db, second);
                }
                m.m2 = total(first, second);
            }
        }
        m.merge(Self::of_values_lanes(tail))
    }

    /// [`Moments::of_values_lanes`] with explicit vectors: 16 values per step in four f64
    /// accumulators, NaN lanes masked to 0.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn of_values_avx2(values: &[f32]) -> Moments {
        use std::arch::x86_64::*;
        let split = values.len() / 16 * 16;
        let (body, tail) = values.split_at(split);
        let mut m = Self::of_values_lanes(&[]);
        if !body.is_empty() {
            let (mut s0, mut s1, mut s2, mut s3) = (
                _mm256_setzero_pd(),
                _mm256_setzero_pd(),
                _mm256_setzero_pd(),
                _mm256_setzero_pd(),
            );
            let (mut lo, mut hi) = (_mm256_set1_ps(f32::INFINITY), _mm256_set1_ps(f32::NEG_INFINITY));
            let mut nan = _mm256_setzero_si256();
            let widen = |x: __m256| {
                (
                    _mm256_cvtps_pd(_mm256_castps256_ps128(x)),
                    _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(x)),
                )
            };
            for pair in body.chunks_exact(16) {
                crate::memory::prefetch(pair.as_ptr().wrapping_add(STREAM_AHEAD));
                // SAFETY: 16 values.
                let (a, b) = unsafe { (_mm256_loadu_ps(pair.as_ptr()), _mm256_loadu_ps(pair.as_ptr().add(8))) };
                let (oa, ob) = (_mm256_cmp_ps::<_CMP_ORD_Q>(a, a), _mm256_cmp_ps::<_CMP_ORD_Q>(b, b));
                // Unordered lanes are all ones (−1): subtracting counts them.
                nan = _mm256_sub_epi32(nan, _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(a, a)));
                nan = _mm256_sub_epi32(nan, _mm256_castps_si256(_mm256_cmp_ps::<_CMP_UNORD_Q>(b, b)));
                // min/max return the second operand when the first is NaN.
                lo = _mm256_min_ps(b, _mm256_min_ps(a, lo));
                hi = _mm256_max_ps(b, _mm256_max_ps(a, hi));
                let (a0, a1) = widen(_mm256_and_ps(a, oa));
                let (b0, b1) = widen(_mm256_and_ps(b, ob));
                s0 = _mm256_add_pd(s0, a0);
                s1 = _mm256_add_pd(s1, a1);
                s2 = _mm256_add_pd(s2, b0);
                s3 = _mm256_add_pd(s3, b1);
            }
            let (mut sums, mut lanes_lo, mut lanes_hi, mut nans) = ([0.0f64; 4], [0.0f32; 8], [0.0f32; 8], [0u32; 8]);
            // SAFETY: the arrays hold 4 f64, 8 f32 and 8 u32.
            unsafe {
                let total = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
                _mm256_storeu_pd(sums.as_mut_ptr(), total);
                _mm256_storeu_ps(lanes_lo.as_mut_ptr(), lo);
                _mm256_storeu_ps(lanes_hi.as_mut_ptr(), hi);
                _mm256_storeu_si256(nans.as_mut_ptr().cast(), nan);
            }
            m = Moments::of_lanes(body.len(), &nans, &lanes_lo, &lanes_hi, || sums.iter().sum());
            if m.count > 0 {
                let mean = _mm256_set1_pd(m.mean);
                let (mut q0, mut q1, mut q2, mut q3) = (
                    _mm256_setzero_pd(),
                    _mm256_setzero_pd(),
                    _mm256_setzero_pd(),
                    _mm256_setzero_pd(),
                );
                // NaN deviations are masked to 0, only when there are NaNs (the mask costs as
                // much as the sum).
                let masked = m.nan_count > 0;
                for pair in body.chunks_exact(16) {
                    // The values that follow this chunk (most often the same thread's next
                    // chunk), so that memory keeps streaming while this pass reads the cache.
                    crate::memory::prefetch(pair.as_ptr().wrapping_add(values.len()));
                    // SAFETY: 16 values.
                    let (a, b) = unsafe { (_mm256_loadu_ps(pair.as_ptr()), _mm256_loadu_ps(pair.as_ptr().add(8))) };
                    let (a0, a1) = widen(a);
                    let (b0, b1) = widen(b);
                    let mut d = [
                        _mm256_sub_pd(a0, mean),
                        _mm256_sub_pd(a1, mean),
                        _mm256_sub_pd(b0, mean),
                        _mm256_sub_pd(b1, mean),
                    ];
                    if masked {
                        for x in &mut d {
                            *x = _mm256_and_pd(*x, _mm256_cmp_pd::<_CMP_ORD_Q>(*x, *x));
                        }
                    }
                    q0 = _mm256_fmadd_pd(d[0], d[0], q0);
                    q1 = _mm256_fmadd_pd(d[1], d[1], q1);
                    q2 = _mm256_fmadd_pd(d[2], d[2], q2);
                    q3 = _mm256_fmadd_pd(d[3], d[3], q3);
                }
                let mut m2 = [0.0f64; 4];
                // SAFETY: 4 f64.
                unsafe {
                    _mm256_storeu_pd(
                        m2.as_mut_ptr(),
                        _mm256_add_pd(_mm256_add_pd(q0, q1), _mm256_add_pd(q2, q3)),
                    )
                };
                m.m2 = m2.iter().sum();
            }
        }
        m.merge(Self::of_values_lanes(tail))
    }

    #[inline(always)]
    fn of_values_lanes(values: &[f32]) -> Moments {
        const L: usize = 8;
        let (mut sum, mut nan) = ([0.0f64; L], [0u64; L]);
        let (mut lo, mut hi) = ([f32::INFINITY; L], [f32::NEG_INFINITY; L]);
        let blocks = values.chunks_exact(L);
        let tail = blocks.remainder();
        for block in blocks {
            for l in 0..L {
                let v = block[l];
                // NaN compares false: it leaves the minimum and maximum alone.
                let number = !v.is_nan();
                nan[l] += u64::from(!number);
                sum[l] += if number { f64::from(v) } else { 0.0 };
                lo[l] = if v < lo[l] { v } else { lo[l] };
                hi[l] = if v > hi[l] { v } else { hi[l] };
            }
        }
        for (l, &v) in tail.iter().enumerate() {
            let number = !v.is_nan();
            nan[l] += u64::from(!number);
            sum[l] += if number { f64::from(v) } else { 0.0 };
            lo[l] = if v < lo[l] { v } else { lo[l] };
            hi[l] = if v > hi[l] { v } else { hi[l] };
        }
        let nan_count: u64 = nan.iter().sum();
        let mut m = Moments {
            count: values.len() as u64 - nan_count,
            nan_count,
            min: f64::from(lo.iter().fold(f32::INFINITY, |a, &b| a.min(b))),
            max: f64::from(hi.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b))),
            ..Moments::default()
        };
        if m.count > 0 {
            m.mean = sum.iter().sum::<f64>() / m.count as f64;
            let mut m2 = [0.0f64; L];
            let deviation = |v: f32| if !v.is_nan() { f64::from(v) - m.mean } else { 0.0 };
            let blocks = values.chunks_exact(L);
            let tail = blocks.remainder();
            for block in blocks {
                for l in 0..L {
                    let d = deviation(block[l]);
                    m2[l] += d * d;
                }
            }
            for (l, &v) in tail.iter().enumerate() {
                let d = deviation(v);
                m2[l] += d * d;
            }
            m.m2 = m2.iter().sum();
        }
        m
    }

    /// Merges two sets of moments (Chan et al.'s pairwise update).
    pub fn merge(self, other: Moments) -> Moments {
        let count = self.count + other.count;
        let (mean, m2) = if other.count == 0 {
            (self.mean, self.m2)
        } else if self.count == 0 {
            (other.mean, other.m2)
        } else {
            let (na, nb, n) = (self.count as f64, other.count as f64, count as f64);
            let d = other.mean - self.mean;
            (self.mean + d * nb / n, self.m2 + other.m2 + d * d * na * nb / n)
        };
        Moments {
            count,
            nan_count: self.nan_count + other.nan_count,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            mean,
            m2,
        }
    }
}

/// Moments recorded on the GPU, readable once the recording has been submitted.
#[derive(Debug)]
pub struct PendingMoments {
    readback: Readback,
}

impl PendingMoments {
    /// Reads the partials back and merges them.
    pub fn finish(self, ctx: &GpuContext) -> Result<Moments> {
        let bytes = self.readback.read(ctx)?;
        let partials: &[[f32; 8]] = bytemuck::cast_slice(&bytes);
        Ok(partials.iter().fold(Moments::default(), |acc, p| {
            acc.merge(Moments {
                count: p[2] as u64,
                nan_count: p[5] as u64,
                min: f64::from(p[0]),
                max: f64::from(p[1]),
                mean: f64::from(p[3]),
                m2: f64::from(p[4]),
            })
        }))
    }
}

/// Workgroups for `elems` values, and the number of windows of a volume (for sizing outputs).
fn groups_of(elems: u64) -> Result<u32> {
    u32::try_from(elems.div_ceil(VALUES_PER_GROUP))
        .map_err(|_| Error::TooLarge(format!("{elems} values are more than one reduction can address")))
}

/// Records the moments of `input`.
pub fn record_moments(rec: &mut Recorder<'_>, input: &GpuVolume) -> Result<PendingMoments> {
    let (partials, total) = record_moment_partials(rec, input)?;
    Ok(PendingMoments {
        readback: rec.read_back(&partials, u64::from(total) * 32),
    })
}

/// Records the per-workgroup moments of `input` and returns their buffer (8 f32 per
/// workgroup: min, max, count, mean, m2, NaN count) and count, for kernels that merge them on
/// the device instead of reading them back.
pub(crate) fn record_moment_partials(rec: &mut Recorder<'_>, input: &GpuVolume) -> Result<(wgpu::Buffer, u32)> {
    // Partials of all windows, each window's after the previous one's.
    let mut windows = Vec::new();
    for_each_window(rec, input, |_, _, _, _, elems| {
        windows.push(groups_of(elems)?);
        Ok(())
    })?;
    let total: u64 = windows.iter().map(|&g| u64::from(g)).sum();
    let partials = rec.scratch(total * 32);
    let mut next = 0u32;
    for_each_window(rec, input, |rec, win, offset, _, elems| {
        let groups = groups_of(elems)?;
        let params = rec.uniform(&WindowParams {
            offset,
            count: elems as u32,
            groups,
            extra: next,
        });
        rec.dispatch_folded(
            &MOMENTS,
            &[BufferWindow::whole(&params), win, BufferWindow::whole(&partials)],
            u64::from(groups),
        )?;
        next += groups;
        Ok(())
    })?;
    Ok((partials, next))
}

/// A histogram recorded on the GPU, readable once the recording has been submitted.
#[derive(Debug)]
pub struct PendingHistogram {
    readback: Readback,
}

impl PendingHistogram {
    /// The counts per bin.
    pub fn finish(self, ctx: &GpuContext) -> Result<Vec<u64>> {
        let bytes = self.readback.read(ctx)?;
        Ok(bytemuck::cast_slice::<u8, u32>(&bytes)
            .iter()
            .map(|&c| u64::from(c))
            .collect())
    }
}

/// Records the histogram of `input` over the bins whose f32 `edges` (increasing, `bins + 1`
/// of them) are given: numpy's rules (values outside the edges and NaN are not counted; the
/// last bin includes its right edge).
pub fn record_histogram(rec: &mut Recorder<'_>, input: &GpuVolume, edges: &[f32]) -> Result<PendingHistogram> {
    if edges.len() < 2
        || edges
            .windows(2)
            .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
    {
        return Err(Error::param(
            "edges",
            "histogram edges must be at least two strictly increasing values",
        ));
    }
    let bins = edges.len() - 1;
    if input.len() as u64 > u64::from(u32::MAX) {
        return Err(Error::TooLarge(format!(
            "{} voxels overflow the GPU histogram's 32-bit counters; histogram sub-volumes and add them",
            input.len()
        )));
    }
    let counts = rec.scratch(bins as u64 * 4);
    let edge_buffer = rec.constants(edges);
    let kernel = if bins <= LOCAL_BINS as usize {
        &HISTOGRAM_LOCAL
    } else {
        &HISTOGRAM_GLOBAL
    };
    for_each_window(rec, input, |rec, win, offset, _, elems| {
        let groups = groups_of(elems)?;
        let params = rec.uniform(&WindowParams {
            offset,
            count: elems as u32,
            groups,
            extra: bins as u32,
        });
        rec.dispatch_folded(
            kernel,
            &[
                BufferWindow::whole(&params),
                win,
                BufferWindow::whole(&edge_buffer),
                BufferWindow::whole(&counts),
            ],
            u64::from(groups),
        )
    })?;
    Ok(PendingHistogram {
        readback: rec.read_back(&counts, bins as u64 * 4),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook two-pass moments in f64.
    fn reference(values: &[f32]) -> Moments {
        let numbers: Vec<f64> = values.iter().filter(|v| !v.is_nan()).map(|&v| f64::from(v)).collect();
        let n = numbers.len();
        let mean = if n > 0 {
            numbers.iter().sum::<f64>() / n as f64
        } else {
            0.0
        };
        Moments {
            count: n as u64,
            nan_count: (values.len() - n) as u64,
            min: numbers.iter().copied().fold(f64::INFINITY, f64::min),
            max: numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean,
            m2: numbers.iter().map(|v| (v - mean).powi(2)).sum(),
        }
    }

    /// The AVX-512 kernel sums the AVX2 kernel's lanes in its order: the same bits.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx512_moments_are_the_avx2_moments() {
        if !(std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma"))
        {
            eprintln!("not run: this CPU lacks AVX-512F, AVX2 or FMA (the kernels compared)");
            return;
        }
        let mut rng = crate::rng::XorShift64::new(11);
        for len in [0usize, 16, 17, 1000, 16_384, 40_007] {
            for nan_every in [0usize, 7] {
                let values: Vec<f32> = (0..len)
                    .map(|i| match i {
                        _ if nan_every > 0 && i % nan_every == 0 => f32::NAN,
                        _ if i % 13 == 5 => -0.0,
                        _ => rng.next_f32() * 3000.0 - 1000.0,
                    })
                    .collect();
                // SAFETY: the CPU has the features (checked above).
                let (wide, narrow) = unsafe { (Moments::of_values_avx512(&values), Moments::of_values_avx2(&values)) };
                let bits = |m: Moments| {
                    (
                        m.count,
                        m.nan_count,
                        m.min.to_bits(),
                        m.max.to_bits(),
                        m.mean.to_bits(),
                        m.m2.to_bits(),
                    )
                };
                assert_eq!(bits(wide), bits(narrow), "{len} values, NaN every {nan_every}");
            }
        }
    }

    #[test]
    fn vector_moments_equal_the_textbook_ones_with_nan_and_every_tail() {
        let mut rng = crate::rng::XorShift64::new(3);
        for len in [0usize, 1, 7, 15, 16, 17, 33, 100, 1000, 4099] {
            for nan_every in [0usize, 1, 3, 50] {
                let values: Vec<f32> = (0..len)
                    .map(|i| {
                        if nan_every > 0 && i % nan_every == 0 {
                            f32::NAN
                        } else {
                            1e4 + (rng.next_f32() - 0.5) * 300.0
                        }
                    })
                    .collect();
                let (got, want) = (Moments::of_values(&values), reference(&values));
                let what = format!("{len} values, NaN every {nan_every}");
                assert_eq!((got.count, got.nan_count), (want.count, want.nan_count), "{what}");
                assert_eq!((got.min, got.max), (want.min, want.max), "{what}");
                assert!((got.mean - want.mean).abs() <= 1e-12 * want.mean.abs(), "{what}");
                assert!(
                    (got.m2 - want.m2).abs() <= 1e-9 * want.m2.max(1.0),
                    "{what}: {} vs {}",
                    got.m2,
                    want.m2
                );
                assert_eq!(Moments::of_values_lanes(&values).count, want.count, "{what}");
            }
        }
    }
}

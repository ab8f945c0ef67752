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

impl Moments {
    /// The moments of a slice of values (one chunk of the CPU reduction): two passes over data
    /// that is in cache, the second around the chunk's own mean.
    pub fn of_values(values: &[f32]) -> Moments {
        let mut m = Moments::default();
        let mut sum = 0.0f64;
        for &v in values {
            if v.is_nan() {
                m.nan_count += 1;
            } else {
                m.count += 1;
                sum += f64::from(v);
                m.min = m.min.min(f64::from(v));
                m.max = m.max.max(f64::from(v));
            }
        }
        if m.count > 0 {
            m.mean = sum / m.count as f64;
            m.m2 = values
                .iter()
                .filter(|v| !v.is_nan())
                .map(|&v| (f64::from(v) - m.mean).powi(2))
                .sum();
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

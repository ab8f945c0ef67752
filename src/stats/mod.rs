//! Statistics of images and volumes as reductions: min, max, mean, standard deviation,
//! histograms with `numpy.histogram`'s bins, and Otsu's threshold equal to
//! `skimage.filters.threshold_otsu`.
//!
//! **NaN handling.** [`statistics`] ignores NaN voxels and counts them
//! ([`Statistics::nan_count`]): its min/max/mean/std are numpy's `nanmin`/`nanmax`/`nanmean`/
//! `nanstd`. [`histogram`] does not count NaN (as `numpy.histogram` with an explicit range); with
//! `range = None` the range comes from the data and NaN there is an error, as in numpy.
//! [`threshold_otsu`] rejects NaN (scikit-image would fail inside numpy). Infinite values take
//! part in min/max and make the mean and std non-finite, as in numpy.
//!
//! The GPU path is the runtime's two-stage reduction ([`crate::gpu::reduce`]); the CPU path
//! reduces chunks in parallel and merges them in the same way, in f64.

use ndarray::{ArrayView, ArrayView3};
use rayon::prelude::*;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::filter::Spatial;
use crate::gpu::reduce::{Moments, record_histogram, record_moments};
use crate::gpu::{GpuContext, GpuVolume, Recorder};
use crate::volume::check_shape;

mod counting;
mod extremes;
#[cfg(test)]
use counting::bin_of;
use counting::histogram_cpu;
use extremes::{Extremes, extremes_cpu};

/// Values per chunk of the CPU reductions (fits L1/L2; many chunks per thread).
const CHUNK: usize = 16 * 1024;

/// Summary statistics of the non-NaN voxels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Statistics {
    /// Number of non-NaN voxels.
    pub count: u64,
    /// Number of NaN voxels (excluded from every other field).
    pub nan_count: u64,
    /// Smallest value (`numpy.nanmin`); NaN when every voxel is NaN.
    pub min: f32,
    /// Largest value (`numpy.nanmax`); NaN when every voxel is NaN.
    pub max: f32,
    /// Mean (`numpy.nanmean`, accumulated in f64); NaN when every voxel is NaN.
    pub mean: f64,
    /// Population standard deviation, `ddof = 0` (`numpy.nanstd`); NaN when every voxel is NaN.
    pub std: f64,
}

impl Statistics {
    fn from_moments(m: Moments) -> Statistics {
        if m.count == 0 {
            return Statistics {
                count: 0,
                nan_count: m.nan_count,
                min: f32::NAN,
                max: f32::NAN,
                mean: f64::NAN,
                std: f64::NAN,
            };
        }
        Statistics {
            count: m.count,
            nan_count: m.nan_count,
            min: m.min as f32,
            max: m.max as f32,
            mean: m.mean,
            std: (m.m2 / m.count as f64).sqrt(),
        }
    }

    /// Sample standard deviation with `ddof` delta degrees of freedom (`numpy.nanstd(ddof=..)`);
    /// NaN when `count <= ddof`.
    pub fn std_ddof(&self, ddof: u32) -> f64 {
        let n = self.count as f64;
        if self.count <= u64::from(ddof) {
            return f64::NAN;
        }
        (self.std * self.std * n / (n - f64::from(ddof))).sqrt()
    }
}

/// Min, max, mean and standard deviation of a 2D or 3D array, on `backend`.
///
/// ```
/// use hounsfield::{Backend, stats::statistics};
/// let image = ndarray::array![[1.0f32, 2.0], [3.0, f32::NAN]];
/// let s = statistics(&Backend::Cpu, image.view())?;
/// assert_eq!((s.count, s.nan_count, s.min, s.max), (3, 1, 1.0, 3.0));
/// assert!((s.mean - 2.0).abs() < 1e-12);
/// # Ok::<(), hounsfield::Error>(())
/// ```
pub fn statistics<D: Spatial>(backend: &Backend, input: ArrayView<'_, f32, D>) -> Result<Statistics> {
    check_shape(input.shape())?;
    let volume = D::as_volume(input);
    match backend {
        Backend::Cpu => Ok(Statistics::from_moments(moments_cpu(volume))),
        Backend::Gpu(ctx) => statistics_gpu(ctx, &GpuVolume::upload(ctx, volume)?),
    }
}

/// [`statistics`] of a resident volume (reads back a few kilobytes, not the volume).
pub fn statistics_gpu(ctx: &GpuContext, input: &GpuVolume) -> Result<Statistics> {
    input.check_context(ctx)?;
    let mut rec = Recorder::new(ctx);
    let pending = record_moments(&mut rec, input)?;
    rec.submit()?;
    Ok(Statistics::from_moments(pending.finish(ctx)?))
}

fn moments_cpu(input: ArrayView3<'_, f32>) -> Moments {
    let input = input.as_standard_layout();
    let values = input.as_slice().expect("standard layout is contiguous");
    values
        .par_chunks(CHUNK)
        .map(Moments::of_values)
        .reduce(Moments::default, Moments::merge)
}

// ---------------------------------------------------------------------------------------------
// Histograms

/// Counts per bin and the bin edges, as `numpy.histogram` returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Voxels per bin (`bins` values).
    pub counts: Vec<u64>,
    /// Bin edges (`bins + 1` values, the f32 edges numpy computes for f32 data, widened).
    pub edges: Vec<f64>,
}

impl Histogram {
    /// Bin centres `(edges[i] + edges[i + 1]) / 2`, in f32 as scikit-image computes them.
    pub fn centers(&self) -> Vec<f32> {
        self.edges
            .windows(2)
            .map(|e| (e[0] as f32 + e[1] as f32) / 2.0)
            .collect()
    }
}

/// Where the edges of a histogram come from.
#[derive(Debug, Clone, Copy)]
enum EdgeSource {
    /// A range the caller gave (numpy computes its edges in f64, then rounds them to f32).
    Given(f64, f64),
    /// The data's min and max (f32 scalars: numpy computes the edges in f32).
    Data(f32, f32),
}

/// numpy's equal-width bin edges for f32 data: `linspace(lo, hi, bins + 1)` evaluated as numpy
/// does (`i * step + lo`, last edge exactly `hi`) in the precision numpy uses, then as f32.
fn numpy_edges(bins: usize, source: EdgeSource) -> Result<Vec<f32>> {
    let edges: Vec<f32> = match source {
        EdgeSource::Given(mut lo, mut hi) => {
            if lo == hi {
                lo -= 0.5;
                hi += 0.5;
            }
            let step = (hi - lo) / bins as f64;
            (0..=bins)
                .map(|i| if i == bins { hi } else { i as f64 * step + lo } as f32)
                .collect()
        }
        EdgeSource::Data(mut lo, mut hi) => {
            if lo == hi {
                lo -= 0.5;
                hi += 0.5;
            }
            let step = (hi - lo) / bins as f32;
            (0..=bins)
                .map(|i| if i == bins { hi } else { i as f32 * step + lo })
                .collect()
        }
    };
    if edges
        .windows(2)
        .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
    {
        return Err(Error::param(
            "bins",
            format!(
                "{bins} bins are too many for the range {} .. {} in f32; use fewer bins or a wider range",
                edges[0], edges[bins]
            ),
        ));
    }
    Ok(edges)
}

/// `numpy.histogram(input, bins, range)` of a 2D or 3D f32 array, on `backend`.
///
/// `range = None` uses the data's min and max (NaN in the data is then an error, as in numpy);
/// with a range, values outside it and NaN are not counted. The last bin includes its right edge.
///
/// ```
/// use hounsfield::{Backend, stats::histogram};
/// let image = ndarray::array![[0.0f32, 1.0], [2.0, 4.0]];
/// let h = histogram(&Backend::Cpu, image.view(), 4, Some((0.0, 4.0)))?;
/// assert_eq!(h.counts, vec![1, 1, 1, 1]);
/// assert_eq!(h.edges, vec![0.0, 1.0, 2.0, 3.0, 4.0]);
/// # Ok::<(), hounsfield::Error>(())
/// ```
pub fn histogram<D: Spatial>(
    backend: &Backend,
    input: ArrayView<'_, f32, D>,
    bins: usize,
    range: Option<(f64, f64)>,
) -> Result<Histogram> {
    check_shape(input.shape())?;
    let volume = D::as_volume(input);
    match backend {
        Backend::Cpu => {
            let source = match range {
                Some((lo, hi)) => given_range(bins, lo, hi)?,
                None => data_range(bins, extremes_cpu(volume))?,
            };
            let edges = numpy_edges(bins, source)?;
            Ok(Histogram {
                counts: histogram_cpu(volume, &edges),
                edges: edges.iter().map(|&e| f64::from(e)).collect(),
            })
        }
        Backend::Gpu(ctx) => histogram_gpu(ctx, &GpuVolume::upload(ctx, volume)?, bins, range),
    }
}

/// [`histogram`] of a resident volume.
pub fn histogram_gpu(ctx: &GpuContext, input: &GpuVolume, bins: usize, range: Option<(f64, f64)>) -> Result<Histogram> {
    input.check_context(ctx)?;
    let source = match range {
        Some((lo, hi)) => given_range(bins, lo, hi)?,
        None => {
            let mut rec = Recorder::new(ctx);
            let pending = record_moments(&mut rec, input)?;
            rec.submit()?;
            data_range(bins, Extremes::from(&pending.finish(ctx)?))?
        }
    };
    let edges = numpy_edges(bins, source)?;
    let mut rec = Recorder::new(ctx);
    let pending = record_histogram(&mut rec, input, &edges)?;
    rec.submit()?;
    Ok(Histogram {
        counts: pending.finish(ctx)?,
        edges: edges.iter().map(|&e| f64::from(e)).collect(),
    })
}

fn check_bins(bins: usize) -> Result<()> {
    if bins == 0 || bins > 1 << 24 {
        return Err(Error::param(
            "bins",
            format!("{bins} bins: give between 1 and 16,777,216"),
        ));
    }
    Ok(())
}

fn given_range(bins: usize, lo: f64, hi: f64) -> Result<EdgeSource> {
    check_bins(bins)?;
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(Error::param("range", format!("range ({lo}, {hi}) must be finite")));
    }
    if lo > hi {
        return Err(Error::param(
            "range",
            format!("range ({lo}, {hi}): the lower end must not exceed the upper end"),
        ));
    }
    Ok(EdgeSource::Given(lo, hi))
}

fn data_range(bins: usize, m: Extremes) -> Result<EdgeSource> {
    check_bins(bins)?;
    if m.nan_count > 0 || !(m.min.is_finite() && m.max.is_finite()) {
        return Err(Error::param(
            "range",
            format!(
                "the data's range is not finite ({} NaN voxels, min {}, max {}); give an explicit range \
                 or replace NaN/inf first",
                m.nan_count, m.min, m.max
            ),
        ));
    }
    Ok(EdgeSource::Data(m.min as f32, m.max as f32))
}

/// The f32 bin edges [`histogram`] uses: `range` if given, else the data's `(min, max)` (the
/// whole data's, when it arrives in blocks). With [`histogram_counts`] and [`otsu_from_counts`]
/// this lets data split into blocks (Dask chunks, slabs read from disk) give exactly the
/// histogram and threshold of one call: edges from the global min/max, counts summed per block.
pub fn histogram_edges(bins: usize, range: Option<(f64, f64)>, data_min_max: (f32, f32)) -> Result<Vec<f32>> {
    let source = match range {
        Some((lo, hi)) => given_range(bins, lo, hi)?,
        None => {
            let (min, max) = data_min_max;
            data_range(bins, Extremes::from(&Moments::of_values(&[min, max])))?
        }
    };
    numpy_edges(bins, source)
}

/// Counts of `input` in the bins of `edges` (ascending f32 edges, e.g. from [`histogram_edges`];
/// numpy's rule: the last bin includes its right edge; NaN and values outside are not counted).
pub fn histogram_counts<D: Spatial>(
    backend: &Backend,
    input: ArrayView<'_, f32, D>,
    edges: &[f32],
) -> Result<Vec<u64>> {
    check_shape(input.shape())?;
    if edges.len() < 2 || edges.len() > (1 << 24) + 1 {
        return Err(Error::param(
            "edges",
            format!("{} edges: give between 2 and 16,777,217", edges.len()),
        ));
    }
    if edges
        .windows(2)
        .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
    {
        return Err(Error::param("edges", "edges must be finite and strictly ascending"));
    }
    let volume = D::as_volume(input);
    match backend {
        Backend::Cpu => Ok(histogram_cpu(volume, edges)),
        Backend::Gpu(ctx) => {
            let input = GpuVolume::upload(ctx, volume)?;
            let mut rec = Recorder::new(ctx);
            let pending = record_histogram(&mut rec, &input, edges)?;
            rec.submit()?;
            pending.finish(ctx)
        }
    }
}

/// Otsu's threshold of a histogram (counts per bin of `edges`), exactly as [`threshold_otsu`]
/// computes it from its own histogram: for counts summed over the blocks of a larger image.
pub fn otsu_from_counts(counts: &[u64], edges: &[f32]) -> Result<f32> {
    if counts.is_empty() || edges.len() != counts.len() + 1 {
        return Err(Error::param(
            "edges",
            format!(
                "{} counts need {} edges, not {}",
                counts.len(),
                counts.len() + 1,
                edges.len()
            ),
        ));
    }
    Ok(otsu_from_histogram(counts, edges))
}

// ---------------------------------------------------------------------------------------------
// Otsu

/// Otsu's threshold, equal to `skimage.filters.threshold_otsu(image, nbins)`: the centre of the
/// histogram bin that maximises the between-class variance, computed in f32 exactly as
/// scikit-image does. Voxels above the threshold are foreground. A constant image returns its
/// value. NaN or infinite voxels are an error.
///
/// ```
/// use hounsfield::{Backend, stats::threshold_otsu};
/// let image = ndarray::array![[0.0f32, 0.1, 0.2], [5.0, 5.1, 5.2]];
/// let t = threshold_otsu(&Backend::Cpu, image.view(), 256)?;
/// assert!(t > 0.1 && t < 5.0);
/// # Ok::<(), hounsfield::Error>(())
/// ```
pub fn threshold_otsu<D: Spatial>(backend: &Backend, input: ArrayView<'_, f32, D>, nbins: usize) -> Result<f32> {
    check_shape(input.shape())?;
    let volume = D::as_volume(input);
    match backend {
        Backend::Cpu => {
            let m = extremes_cpu(volume);
            if let Some(t) = constant_value(&m)? {
                return Ok(t);
            }
            let edges = numpy_edges(nbins, data_range(nbins, m)?)?;
            Ok(otsu_from_histogram(&histogram_cpu(volume, &edges), &edges))
        }
        Backend::Gpu(ctx) => threshold_otsu_gpu(ctx, &GpuVolume::upload(ctx, volume)?, nbins),
    }
}

/// [`threshold_otsu`] of a resident volume (two reductions; reads back kilobytes).
pub fn threshold_otsu_gpu(ctx: &GpuContext, input: &GpuVolume, nbins: usize) -> Result<f32> {
    input.check_context(ctx)?;
    let mut rec = Recorder::new(ctx);
    let pending = record_moments(&mut rec, input)?;
    rec.submit()?;
    let m = Extremes::from(&pending.finish(ctx)?);
    if let Some(t) = constant_value(&m)? {
        return Ok(t);
    }
    let edges = numpy_edges(nbins, data_range(nbins, m)?)?;
    let mut rec = Recorder::new(ctx);
    let pending = record_histogram(&mut rec, input, &edges)?;
    rec.submit()?;
    Ok(otsu_from_histogram(&pending.finish(ctx)?, &edges))
}

/// scikit-image returns the value of a constant image unchanged.
fn constant_value(m: &Extremes) -> Result<Option<f32>> {
    if m.nan_count > 0 || !(m.min.is_finite() && m.max.is_finite()) {
        return Err(Error::param(
            "input",
            format!(
                "Otsu's threshold needs finite data; found {} NaN voxels, min {}, max {}",
                m.nan_count, m.min, m.max
            ),
        ));
    }
    Ok((m.min == m.max).then_some(m.min as f32))
}

/// scikit-image's `threshold_otsu` on a histogram, in its f32 arithmetic (sequential cumulative
/// sums, `weight1[:-1] * weight2[1:] * (mean1[:-1] - mean2[1:]) ** 2`, first maximum).
fn otsu_from_histogram(counts: &[u64], edges: &[f32]) -> f32 {
    let centers: Vec<f32> = edges.windows(2).map(|e| (e[0] + e[1]) / 2.0).collect();
    let n = counts.len();
    let c: Vec<f32> = counts.iter().map(|&v| v as f32).collect();
    let cumsum = |v: &mut dyn Iterator<Item = f32>| -> Vec<f32> {
        let mut acc = 0.0f32;
        v.map(|x| {
            acc += x;
            acc
        })
        .collect()
    };
    let weight1 = cumsum(&mut c.iter().copied());
    let mut weight2 = cumsum(&mut c.iter().rev().copied());
    weight2.reverse();
    let mean1: Vec<f32> = cumsum(&mut c.iter().zip(&centers).map(|(a, b)| a * b))
        .iter()
        .zip(&weight1)
        .map(|(s, w)| s / w)
        .collect();
    // mean2 = (cumsum((c * centres)[::-1]) / weight2[::-1])[::-1]
    let rev_sums = cumsum(&mut c.iter().zip(&centers).rev().map(|(a, b)| a * b));
    let mut mean2: Vec<f32> = rev_sums.iter().zip(weight2.iter().rev()).map(|(s, w)| s / w).collect();
    mean2.reverse();
    let mut best = 0;
    let mut best_v = f32::NEG_INFINITY;
    for i in 0..n.saturating_sub(1) {
        let d = mean1[i] - mean2[i + 1];
        let v = weight1[i] * weight2[i + 1] * (d * d);
        // numpy's argmax: the first maximum; a NaN wins (it cannot occur: both classes are
        // non-empty because the range comes from the data).
        if v > best_v || (v.is_nan() && !best_v.is_nan()) {
            best = i;
            best_v = v;
        }
    }
    centers[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_follow_numpy_linspace() {
        // np.histogram(np.float32 data, bins=4, range=(0, 1)) edges.
        let e = numpy_edges(4, EdgeSource::Given(0.0, 1.0)).unwrap();
        assert_eq!(e, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let e = numpy_edges(2, EdgeSource::Data(3.0, 3.0)).unwrap();
        assert_eq!(e, vec![2.5, 3.0, 3.5]);
        assert!(numpy_edges(1 << 24, EdgeSource::Data(1.0, 1.0000001)).is_err());
    }

    #[test]
    fn bin_of_puts_the_right_edge_in_the_last_bin_and_skips_nan() {
        let e = [0.0f32, 1.0, 2.0];
        assert_eq!(bin_of(0.0, &e), Some(0));
        assert_eq!(bin_of(0.999, &e), Some(0));
        assert_eq!(bin_of(1.0, &e), Some(1));
        assert_eq!(bin_of(2.0, &e), Some(1));
        assert_eq!(bin_of(2.0001, &e), None);
        assert_eq!(bin_of(-0.0001, &e), None);
        assert_eq!(bin_of(f32::NAN, &e), None);
    }
}

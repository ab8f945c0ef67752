//! Per-label measurements — the reductions behind scipy.ndimage's `sum_labels`, `mean`,
//! `variance`, `standard_deviation`, `minimum`, `maximum`, `minimum_position`,
//! `maximum_position`, `extrema`, `center_of_mass`, `histogram` and `find_objects`, and scikit-image's
//! `remove_small_objects` / a largest-component helper.
//!
//! Labels are whole numbers `0..=max_label` (0 is background but measured like any label, as
//! `np.bincount` does). The array is cut into as many row blocks as there are threads (fewer
//! when the per-label accumulators would not fit a memory budget); blocks reduce in parallel
//! and merge in raster order, so first-occurrence positions are scipy's (the first sample in
//! C order holding the extreme value). Sums are float64; their order differs from numpy's
//! sequential `bincount` only by rounding (exact for integer data below 2^53).

use ndarray::{ArrayD, ArrayViewD};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ndimage::c_strides;

/// The reductions of every label `0..=max_label`.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelStatistics {
    /// Samples per label.
    pub count: Vec<u64>,
    /// Sum of the values per label.
    pub sum: Vec<f64>,
    /// Smallest value per label (`+inf` where a label has no sample).
    pub minimum: Vec<f64>,
    /// Largest value per label (`-inf` where a label has no sample).
    pub maximum: Vec<f64>,
    /// Flat C-order index of the first sample holding the minimum (0 where none).
    pub minimum_position: Vec<usize>,
    /// Flat C-order index of the first sample holding the maximum (0 where none).
    pub maximum_position: Vec<usize>,
    /// Per label, `ndim` sums of `value × coordinate` (centre of mass = these / `sum`); empty
    /// unless asked for.
    pub weighted_coordinates: Vec<f64>,
    /// Whether any value was NaN (the extremes then ignore NaNs, unlike numpy's `min`).
    pub saw_nan: bool,
}

/// Bytes of per-label accumulators all blocks together may hold.
const ACCUMULATOR_BUDGET: usize = 1 << 30;

fn check_labels(values_shape: &[usize], labels: &ArrayViewD<'_, i64>) -> Result<()> {
    if labels.shape() != values_shape {
        return Err(Error::InvalidShape(format!(
            "labels of shape {:?} for values of shape {values_shape:?}: they must have the same shape",
            labels.shape()
        )));
    }
    Ok(())
}

/// The largest label, checking that none is negative.
pub fn max_label(labels: ArrayViewD<'_, i64>) -> Result<usize> {
    let (low, high) = labels
        .as_standard_layout()
        .as_slice()
        .expect("standard layout")
        .par_iter()
        .fold(|| (0i64, 0i64), |(lo, hi), &v| (lo.min(v), hi.max(v)))
        .reduce(|| (0, 0), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    if low < 0 {
        return Err(Error::param(
            "labels",
            format!("label {low} is negative: labels must be ≥ 0"),
        ));
    }
    usize::try_from(high).map_err(|_| Error::TooLarge(format!("label {high}")))
}

/// Row blocks for a reduction holding `per_label` bytes per label per block.
fn blocks(n: usize, labels: usize, per_label: usize) -> usize {
    let fit = ACCUMULATOR_BUDGET / (labels.max(1) * per_label).max(1);
    rayon::current_num_threads().min(fit).clamp(1, n.max(1))
}

/// Counts, sums, extremes with their first positions and (with `coordinates`) value-weighted
/// coordinate sums of every label `0..=max_label`. Labels above `max_label` are skipped.
pub fn label_statistics(
    values: ArrayViewD<'_, f64>,
    labels: ArrayViewD<'_, i64>,
    max_label: usize,
    coordinates: bool,
) -> Result<LabelStatistics> {
    check_labels(values.shape(), &labels)?;
    if max_label >= 1 << 31 {
        return Err(Error::TooLarge(format!("{max_label} labels: at most 2^31")));
    }
    let shape = values.shape().to_vec();
    let ndim = shape.len();
    let strides = c_strides(&shape);
    let values = values.as_standard_layout();
    let labels = labels.as_standard_layout();
    let (values, labels) = (
        values.as_slice().expect("standard"),
        labels.as_slice().expect("standard"),
    );
    let nlab = max_label + 1;
    let wc = if coordinates { ndim } else { 0 };
    let n = values.len();
    let nblocks = blocks(n, nlab, 48 + 8 * wc);
    let block = n.div_ceil(nblocks).max(1);
    let empty = || LabelStatistics {
        count: vec![0; nlab],
        sum: vec![0.0; nlab],
        minimum: vec![f64::INFINITY; nlab],
        maximum: vec![f64::NEG_INFINITY; nlab],
        minimum_position: vec![usize::MAX; nlab],
        maximum_position: vec![usize::MAX; nlab],
        weighted_coordinates: vec![0.0; nlab * wc],
        saw_nan: false,
    };
    let partial: Vec<LabelStatistics> = (0..n.div_ceil(block))
        .into_par_iter()
        .map(|b| {
            let mut s = empty();
            for i in b * block..((b + 1) * block).min(n) {
                let l = labels[i];
                if l < 0 || l as usize > max_label {
                    continue;
                }
                let (l, v) = (l as usize, values[i]);
                s.count[l] += 1;
                s.sum[l] += v;
                if v.is_nan() {
                    s.saw_nan = true;
                    continue;
                }
                if v < s.minimum[l] || s.minimum_position[l] == usize::MAX {
                    s.minimum[l] = v;
                    s.minimum_position[l] = i;
                }
                if v > s.maximum[l] || s.maximum_position[l] == usize::MAX {
                    s.maximum[l] = v;
                    s.maximum_position[l] = i;
                }
                for a in 0..wc {
                    s.weighted_coordinates[l * wc + a] += v * ((i / strides[a]) % shape[a]) as f64;
                }
            }
            s
        })
        .collect();
    let mut out = empty();
    for p in partial {
        out.saw_nan |= p.saw_nan;
        for l in 0..nlab {
            out.count[l] += p.count[l];
            out.sum[l] += p.sum[l];
            // Blocks merge in raster order: a later block wins only with a strictly better value.
            if p.minimum_position[l] != usize::MAX
                && (out.minimum_position[l] == usize::MAX || p.minimum[l] < out.minimum[l])
            {
                out.minimum[l] = p.minimum[l];
                out.minimum_position[l] = p.minimum_position[l];
            }
            if p.maximum_position[l] != usize::MAX
                && (out.maximum_position[l] == usize::MAX || p.maximum[l] > out.maximum[l])
            {
                out.maximum[l] = p.maximum[l];
                out.maximum_position[l] = p.maximum_position[l];
            }
        }
        for (o, w) in out.weighted_coordinates.iter_mut().zip(&p.weighted_coordinates) {
            *o += w;
        }
    }
    for p in out.minimum_position.iter_mut().chain(out.maximum_position.iter_mut()) {
        if *p == usize::MAX {
            *p = 0;
        }
    }
    Ok(out)
}

/// Which samples [`label_histograms`] counts, and into how many histograms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistogramLabels {
    /// Every sample, one histogram (scipy's `labels=None`).
    All,
    /// Samples with a label above 0, one histogram (scipy's `index=None`).
    Positive,
    /// One histogram per label `first..=last`; other labels are skipped.
    Range {
        /// The first label.
        first: i64,
        /// The last label (≥ `first`).
        last: i64,
    },
}

/// The most histogram cells (histograms × bins) [`label_histograms`] accumulates.
const MAX_HISTOGRAM_CELLS: usize = 1 << 26;

/// Histograms of `values` over the bins between consecutive `edges` (increasing; numpy's
/// `histogram` with explicit edges: bin `k` counts `edges[k] ≤ v < edges[k + 1]`, the last bin
/// also `v = edges[last]`; values outside and NaN are not counted), for the samples and labels
/// `which` selects — the counting behind `scipy.ndimage.histogram`. `labels` (same shape as
/// `values`) is needed unless `which` is [`HistogramLabels::All`]. Values of any type that
/// converts to `f64` exactly (`f32`, `f64`, integers up to 32 bits), labels of any integer type.
pub fn label_histograms<V, L>(
    values: ArrayViewD<'_, V>,
    labels: Option<ArrayViewD<'_, L>>,
    which: HistogramLabels,
    edges: &[f64],
) -> Result<LabelHistograms>
where
    V: Copy + Into<f64> + Sync,
    L: Copy + Into<i64> + Sync,
{
    if edges.len() < 2 || edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[1] < w[0]) {
        return Err(Error::param(
            "bins",
            format!(
                "{} bin edges: give two or more finite, non-decreasing edges",
                edges.len()
            ),
        ));
    }
    let histograms = match which {
        HistogramLabels::All | HistogramLabels::Positive => 1,
        HistogramLabels::Range { first, last } if last >= first => {
            usize::try_from(last.abs_diff(first)).map_or(usize::MAX, |d| d.saturating_add(1))
        }
        HistogramLabels::Range { first, last } => {
            return Err(Error::param(
                "index",
                format!("labels {first}..={last}: the range is empty"),
            ));
        }
    };
    let bins = edges.len() - 1;
    if histograms.saturating_mul(bins) > MAX_HISTOGRAM_CELLS {
        return Err(Error::TooLarge(format!(
            "{histograms} histograms of {bins} bins: at most 2^26 cells"
        )));
    }
    let labels = match (which, &labels) {
        (HistogramLabels::All, _) => None,
        (_, Some(l)) => {
            if l.shape() != values.shape() {
                return Err(Error::InvalidShape(format!(
                    "labels of shape {:?} for values of shape {:?}: they must have the same shape",
                    l.shape(),
                    values.shape()
                )));
            }
            Some(l.as_standard_layout())
        }
        (_, None) => return Err(Error::param("labels", "this selection needs the labels")),
    };
    let values = values.as_standard_layout();
    let values = values.as_slice().expect("standard layout");
    let labels = labels.as_ref().map(|l| l.as_slice().expect("standard layout"));
    let (first_edge, last_edge) = (edges[0], edges[bins]);
    // A guess from the value's position (exact for numpy's evenly spaced edges but for
    // rounding), kept when the edges confirm it; a binary search otherwise.
    let scale = bins as f64 / (last_edge - first_edge);
    let bin_of = |v: f64| -> Option<usize> {
        let guess = (((v - first_edge) * scale) as usize).min(bins - 1);
        if edges[guess] <= v && v < edges[guess + 1] {
            return Some(guess);
        }
        let p = edges.partition_point(|&e| e <= v);
        match p {
            0 => None,
            p if p <= bins => Some(p - 1),
            _ => (v == last_edge).then_some(bins - 1),
        }
    };
    // Per block: the bins of every histogram, then each histogram's samples (whatever their
    // values: scipy gives a label with samples a histogram, one without none).
    let cells = histograms * bins;
    let n = values.len();
    let nblocks = blocks(n, cells + histograms, 8);
    let block = n.div_ceil(nblocks).max(1);
    let counts = (0..n.div_ceil(block))
        .into_par_iter()
        .map(|b| {
            let mut counts = vec![0u64; cells + histograms];
            let range = b * block..((b + 1) * block).min(n);
            let mut count = |h: usize, v: V| {
                counts[cells + h] += 1;
                if let Some(k) = bin_of(v.into()) {
                    counts[h * bins + k] += 1;
                }
            };
            // One loop per selection, so the selection is not decided again for every sample.
            match (which, labels) {
                (HistogramLabels::All, _) => values[range].iter().for_each(|&v| count(0, v)),
                (HistogramLabels::Positive, Some(l)) => {
                    for (&v, &label) in values[range.clone()].iter().zip(&l[range]) {
                        if label.into() > 0 {
                            count(0, v);
                        }
                    }
                }
                (HistogramLabels::Range { first, last }, Some(l)) => {
                    // One unsigned comparison: labels below `first` wrap to large offsets.
                    let span = last.wrapping_sub(first) as u64;
                    for (&v, &label) in values[range.clone()].iter().zip(&l[range]) {
                        let offset = label.into().wrapping_sub(first) as u64;
                        if offset <= span {
                            count(offset as usize, v);
                        }
                    }
                }
                _ => {}
            }
            counts
        })
        .reduce(
            || vec![0u64; cells + histograms],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    Ok(LabelHistograms {
        counts: counts[..cells].chunks(bins).map(<[u64]>::to_vec).collect(),
        samples: counts[cells..].to_vec(),
    })
}

/// What [`label_histograms`] counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelHistograms {
    /// One histogram per selected label (one in all for `All` and `Positive`).
    pub counts: Vec<Vec<u64>>,
    /// Samples per histogram, in or out of the bins.
    pub samples: Vec<u64>,
}

/// Per label `0..=max_label`, the sum of `(value − means[label])²` (scipy's centred sums for
/// `variance`).
pub fn centred_sum_of_squares(
    values: ArrayViewD<'_, f64>,
    labels: ArrayViewD<'_, i64>,
    means: &[f64],
) -> Result<Vec<f64>> {
    check_labels(values.shape(), &labels)?;
    let values = values.as_standard_layout();
    let labels = labels.as_standard_layout();
    let (values, labels) = (
        values.as_slice().expect("standard"),
        labels.as_slice().expect("standard"),
    );
    let nlab = means.len();
    let n = values.len();
    let block = n.div_ceil(blocks(n, nlab, 8)).max(1);
    let partial: Vec<Vec<f64>> = values
        .par_chunks(block)
        .zip(labels.par_chunks(block))
        .map(|(v, l)| {
            let mut sums = vec![0.0; nlab];
            for (&v, &l) in v.iter().zip(l) {
                if l >= 0 && (l as usize) < nlab {
                    let d = v - means[l as usize];
                    sums[l as usize] += d * d;
                }
            }
            sums
        })
        .collect();
    let mut out = vec![0.0; nlab];
    for p in partial {
        for (o, s) in out.iter_mut().zip(p) {
            *o += s;
        }
    }
    Ok(out)
}

/// `[start, stop)` along every axis.
pub type BoundingBox = Vec<(usize, usize)>;

/// `scipy.ndimage.find_objects`: per label `1..=max_label`, the bounding box of its samples as
/// `[start, stop)` per axis, `None` for labels without samples. Labels ≤ 0 or above
/// `max_label` are skipped.
pub fn find_objects(labels: ArrayViewD<'_, i64>, max_label: usize) -> Result<Vec<Option<BoundingBox>>> {
    let shape = labels.shape().to_vec();
    let ndim = shape.len();
    if max_label >= 1 << 31 {
        return Err(Error::TooLarge(format!("{max_label} labels: at most 2^31")));
    }
    let strides = c_strides(&shape);
    let labels = labels.as_standard_layout();
    let labels = labels.as_slice().expect("standard");
    let n = labels.len();
    let block = n.div_ceil(blocks(n, max_label, 16 * ndim.max(1))).max(1);
    let partial: Vec<Vec<(usize, usize)>> = labels
        .par_chunks(block)
        .enumerate()
        .map(|(b, chunk)| {
            let mut boxes = vec![(usize::MAX, 0usize); max_label * ndim];
            for (k, &l) in chunk.iter().enumerate() {
                if l < 1 || l as usize > max_label {
                    continue;
                }
                let i = b * block + k;
                let at = (l as usize - 1) * ndim;
                for a in 0..ndim {
                    let c = (i / strides[a]) % shape[a];
                    let bx = &mut boxes[at + a];
                    bx.0 = bx.0.min(c);
                    bx.1 = bx.1.max(c + 1);
                }
            }
            boxes
        })
        .collect();
    let mut boxes = vec![(usize::MAX, 0usize); max_label * ndim];
    for p in partial {
        for (o, q) in boxes.iter_mut().zip(p) {
            o.0 = o.0.min(q.0);
            o.1 = o.1.max(q.1);
        }
    }
    Ok((0..max_label)
        .map(|l| {
            let b = &boxes[l * ndim..(l + 1) * ndim];
            (ndim > 0 && b[0].0 != usize::MAX).then(|| b.to_vec())
        })
        .collect())
}

/// Keeps the components of a labelling whose sample count passes `keep(label, count)`, setting
/// the others to 0 (labels keep their numbers).
pub fn select_labels(labels: &mut ArrayD<u32>, keep: impl Fn(u32, u64) -> bool + Sync) {
    let nlab = labels.iter().copied().max().unwrap_or(0) as usize + 1;
    let mut counts = vec![0u64; nlab];
    for &l in labels.iter() {
        counts[l as usize] += 1;
    }
    let kept: Vec<bool> = (0..nlab).map(|l| l > 0 && keep(l as u32, counts[l])).collect();
    labels.par_mapv_inplace(|l| if kept[l as usize] { l } else { 0 });
}

#[cfg(test)]
mod tests {
    use ndarray::{IxDyn, array};

    use super::*;

    #[test]
    fn statistics_match_a_direct_count() {
        let values = array![[1.0, 5.0, 5.0], [-2.0, 0.5, -2.0]].into_dyn();
        let labels = array![[1i64, 2, 2], [1, 0, 1]].into_dyn();
        let s = label_statistics(values.view(), labels.view(), 2, true).unwrap();
        assert_eq!(s.count, [1, 3, 2]);
        assert_eq!(s.sum, [0.5, -3.0, 10.0]);
        assert_eq!((s.minimum[1], s.minimum_position[1]), (-2.0, 3));
        assert_eq!((s.maximum[2], s.maximum_position[2]), (5.0, 1));
        // Label 2: rows 0, 0; columns 1, 2, weighted by 5 each.
        assert_eq!(&s.weighted_coordinates[4..6], &[0.0, 15.0]);
        let c = centred_sum_of_squares(values.view(), labels.view(), &[0.5, -1.0, 5.0]).unwrap();
        assert_eq!(c, [0.0, 6.0, 0.0]);
        let boxes = find_objects(labels.view(), 3).unwrap();
        assert_eq!(boxes, [Some(vec![(0, 2), (0, 3)]), Some(vec![(0, 1), (1, 3)]), None]);
        let negative = array![[-1i64]].into_dyn();
        assert!(max_label(negative.view()).is_err());
        assert!(label_statistics(values.view(), ndarray::ArrayD::zeros(IxDyn(&[3, 2])).view(), 1, false).is_err());
    }

    #[test]
    fn histograms_follow_numpy_bins() {
        // Edges 0, 1, 2, 2, 3: the equal edges make an empty bin; 3 lands in the closed last bin.
        let values = array![[0.0, 0.5, 1.0, 2.0], [3.0, 3.5, -0.1, f64::NAN]].into_dyn();
        let labels = array![[1i64, 2, 2, 1], [2, 2, 0, 2]].into_dyn();
        let edges = [0.0, 1.0, 2.0, 2.0, 3.0];
        let none: Option<ArrayViewD<'_, i64>> = None;
        let all = label_histograms(values.view(), none.clone(), HistogramLabels::All, &edges).unwrap();
        assert_eq!((all.counts, all.samples), (vec![vec![2, 1, 0, 2]], vec![8]));
        let positive = label_histograms(values.view(), Some(labels.view()), HistogramLabels::Positive, &edges).unwrap();
        assert_eq!((positive.counts, positive.samples), (vec![vec![2, 1, 0, 2]], vec![7]));
        let range = HistogramLabels::Range { first: 1, last: 3 };
        let each = label_histograms(values.view(), Some(labels.view()), range, &edges).unwrap();
        assert_eq!(each.counts, [vec![1, 0, 0, 1], vec![1, 1, 0, 1], vec![0, 0, 0, 0]]);
        assert_eq!(each.samples, [2, 5, 0]);
        // f32 values and i32 labels count alike.
        let (v32, l32) = (values.mapv(|v| v as f32), labels.mapv(|l| l as i32));
        let each32 = label_histograms(v32.view(), Some(l32.view()), range, &edges).unwrap();
        assert_eq!(each32, each);
        for bad in [&[1.0][..], &[0.0, f64::NAN], &[1.0, 0.0]] {
            assert!(label_histograms(values.view(), none.clone(), HistogramLabels::All, bad).is_err());
        }
        let huge = HistogramLabels::Range {
            first: 0,
            last: 1 << 40,
        };
        assert!(label_histograms(values.view(), Some(labels.view()), huge, &edges).is_err());
        assert!(label_histograms(values.view(), none, HistogramLabels::Positive, &edges).is_err());
    }

    #[test]
    fn the_guessed_bin_is_the_searched_bin_on_and_beside_every_edge() {
        // numpy's linspace edges (one rounded off its grid position), uneven and repeated
        // edges: values on each edge, one ulp either side, outside, NaN and ±∞.
        let even: Vec<f64> = (0..=64).map(|k| -1000.0 + 2000.0 * k as f64 / 64.0).collect();
        let thirds: Vec<f64> = (0..=30).map(|k| k as f64 / 3.0).collect();
        let uneven: Vec<f64> = (0..=20).map(|k| (k * k) as f64 * 0.37 - 5.0).collect();
        let repeated = vec![0.0, 1.0, 1.0, 1.0, 2.5, 2.5, 7.0];
        for edges in [even, thirds, uneven, repeated] {
            let mut values = vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
            for &e in &edges {
                values.extend([e, e.next_up(), e.next_down(), e + 0.25]);
            }
            let bins = edges.len() - 1;
            let searched = |v: f64| -> Option<usize> {
                let p = edges.partition_point(|&e| e <= v);
                match p {
                    0 => None,
                    p if p <= bins => Some(p - 1),
                    _ => (v == edges[bins]).then_some(bins - 1),
                }
            };
            let mut want = vec![0u64; bins];
            for &v in &values {
                if let Some(k) = searched(v) {
                    want[k] += 1;
                }
            }
            let input = ndarray::Array1::from(values.clone()).into_dyn();
            let none: Option<ArrayViewD<'_, i64>> = None;
            let got = label_histograms(input.view(), none, HistogramLabels::All, &edges).unwrap();
            assert_eq!(got.counts, [want], "edges {edges:?}");
        }
    }

    #[test]
    fn select_labels_keeps_large_components() {
        let mut labels = array![[1u32, 1, 0, 2], [1, 0, 3, 3]].into_dyn();
        select_labels(&mut labels, |_, count| count >= 2);
        assert_eq!(labels, array![[1u32, 1, 0, 0], [1, 0, 3, 3]].into_dyn());
    }
}

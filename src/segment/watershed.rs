//! Marker-based watershed — `skimage.segmentation.watershed(image, markers, connectivity,
//! offset, mask, compactness, watershed_line)`, label for label.
//!
//! A priority flood: the markers' samples enter a binary min-heap, then the sample with the
//! lowest (value, arrival) leaves it and its unlabelled neighbours inside the mask enter with
//! their own value and the next arrival number. Without compactness or watershed lines a sample
//! takes its label when it enters the heap; otherwise when it leaves (the compact cost adds
//! `compactness × distance to its marker`; with lines and no compactness, a sample touching
//! another label stays 0 and leaves the mask, and still passes the flood on). A sample's cost
//! is at least the cost of the sample it was reached from. Arrival numbers are unique, so only
//! markers (all arrival 0) can tie; the heap is scikit-image's array heap
//! ([`super::priority::ArrayHeap`]) so equal markers leave in its order. Neighbours are visited
//! nearest first (stable by the footprint's C order), as scikit-image orders them. The flood
//! is sequential by nature; the classic flood (no compactness, no lines) runs on a radix queue
//! instead, replaying the heap only where its order can change a label
//! (`watershed_flood.rs`).

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};
use rayon::prelude::*;

use super::priority::{ArrayHeap, HeapItem};
use super::watershed_flood::Grid;
use crate::error::{Error, Result};
use crate::ndimage::c_strides;

#[derive(Clone, Copy)]
struct Item {
    value: f64,
    age: u64,
    index: usize,
    source: usize,
}

impl HeapItem for Item {
    fn before(&self, other: &Self) -> bool {
        self.value < other.value || (self.value == other.value && self.age < other.age)
    }
}

/// The options of [`watershed`] beyond the image and markers.
#[derive(Debug, Clone, Default)]
pub struct WatershedOptions<'a> {
    /// Samples that may be flooded (`None`: all).
    pub mask: Option<ArrayViewD<'a, bool>>,
    /// The neighbourhood (`None`: faces, `generate_binary_structure(ndim, 1)`).
    pub footprint: Option<ArrayViewD<'a, bool>>,
    /// The footprint's centre (`None`: its middle; every axis must then be odd).
    pub offset: Option<Vec<usize>>,
    /// Compact watershed weight (0: classic).
    pub compactness: f64,
    /// Leave one-sample lines (label 0) between the basins.
    pub watershed_line: bool,
}

/// Floods `image` from `markers` (non-zero samples are seeds with their label; the markers are
/// used inside the mask only). Returns the labels, the image's shape.
///
/// The labels have the markers' type (any integer type), as in scikit-image.
pub fn watershed<M: Copy + Ord + Default + Send + Sync>(
    image: ArrayViewD<'_, f64>,
    markers: ArrayViewD<'_, M>,
    options: &WatershedOptions<'_>,
) -> Result<ArrayD<M>> {
    flood_with(image, markers, options, true)
}

/// [`watershed`]; `radix: false` keeps the classic flood on the heap too (the tests' reference).
fn flood_with<M: Copy + Ord + Default + Send + Sync>(
    image: ArrayViewD<'_, f64>,
    markers: ArrayViewD<'_, M>,
    options: &WatershedOptions<'_>,
    radix: bool,
) -> Result<ArrayD<M>> {
    let shape = image.shape().to_vec();
    let ndim = shape.len();
    if ndim == 0 {
        return Err(Error::InvalidShape("a 0-dimensional image has nothing to flood".into()));
    }
    check_shapes(&shape, markers.shape(), options)?;
    if !(options.compactness >= 0.0 && options.compactness.is_finite()) {
        return Err(Error::param(
            "compactness",
            format!("{} must be finite and ≥ 0", options.compactness),
        ));
    }
    let footprint = footprint_of(options, ndim)?;
    let footprint = footprint.view();
    if footprint.ndim() != ndim {
        return Err(Error::param(
            "connectivity",
            format!("a footprint of {} axes for an image of {ndim} axes", footprint.ndim()),
        ));
    }
    let offset = match &options.offset {
        Some(o) if o.len() != ndim => {
            return Err(Error::param("offset", format!("{} values for {ndim} axes", o.len())));
        }
        Some(o) => o.clone(),
        None => {
            if footprint.shape().iter().any(|s| s % 2 == 0) {
                return Err(Error::param(
                    "connectivity",
                    "the footprint has an even axis, so no unambiguous centre: give offset",
                ));
            }
            footprint.shape().iter().map(|s| s / 2).collect()
        }
    };
    for (a, (&o, &s)) in offset.iter().zip(footprint.shape()).enumerate() {
        if o >= s || s - 1 - o > o {
            return Err(Error::param(
                "offset",
                format!(
                    "{o} along axis {a} of a footprint {s} long: the footprint must reach no further after its centre than before"
                ),
            ));
        }
    }
    // scikit-image pads every axis by the offset (mask 0 there), so neighbours never leave the
    // array; the same here.
    let padded: Vec<usize> = shape.iter().zip(&offset).map(|(&n, &o)| n + 2 * o).collect();
    let total = padded
        .iter()
        .try_fold(1usize, |a, &n| a.checked_mul(n))
        .ok_or_else(|| Error::TooLarge(format!("shape {shape:?}")))?;
    let pstrides = c_strides(&padded);
    let neighbours = neighbour_offsets(footprint.view(), &offset, &padded, &pstrides);
    let nx = shape[ndim - 1];
    let rows = image.len() / nx.max(1);
    // Components of the mask refine the classic flood's contested heights for the footprints
    // `label` takes.
    let centred = footprint.shape().iter().all(|&s| s == 3) && offset.iter().all(|&o| o == 1);
    let grid = Grid {
        shape: &shape,
        offset: &offset,
        padded: &padded,
        neighbours: &neighbours,
        footprint: centred.then(|| footprint.view()),
    };
    let image = image.as_standard_layout();
    let markers = markers.as_standard_layout();
    let mask_in = options.mask.as_ref().map(|m| m.as_standard_layout());
    let (image, markers) = (
        image.as_slice().expect("standard"),
        markers.as_slice().expect("standard"),
    );
    let mask_in = mask_in.as_ref().map(|m| m.as_slice().expect("standard"));
    let classic = options.compactness == 0.0 && !options.watershed_line;
    if radix && classic && total < (u32::MAX - 2) as usize {
        // One read of the heights for both questions: NaN (the heap's comparisons, as
        // scikit-image's) and whether float32 holds them all (the flood's 4-byte cells).
        let (nan, exact_f32) = image
            .par_iter()
            .fold(
                || (false, true),
                |(nan, exact), &h| (nan || h.is_nan(), exact && f64::from(h as f32) == h),
            )
            .reduce(|| (false, true), |a, b| (a.0 || b.0, a.1 && b.1));
        if !nan {
            let out = super::watershed_flood::flood(&grid, image, markers, mask_in, exact_f32);
            return Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("the image's shape"));
        }
    }
    let mut values = vec![0.0f64; total];
    let mut mask = vec![false; total];
    let mut output = vec![M::default(); total];
    for r in 0..rows {
        let (src, dst) = (r * nx, grid.row_start(r));
        values[dst..dst + nx].copy_from_slice(&image[src..src + nx]);
        for x in 0..nx {
            let inside = mask_in.is_none_or(|m| m[src + x]);
            mask[dst + x] = inside;
            if inside {
                output[dst + x] = markers[src + x];
            }
        }
    }
    let compact = options.compactness > 0.0;
    let wsl = options.watershed_line;
    let filler = Item {
        value: 0.0,
        age: 0,
        index: 0,
        source: 0,
    };
    let mut heap = ArrayHeap::with_capacity(1024, filler);
    for (at, &label) in output.iter().enumerate() {
        if label != M::default() {
            heap.push(Item {
                value: values[at],
                age: 0,
                index: at,
                source: at,
            });
        }
    }
    let mut age = 1u64;
    while let Some(elem) = heap.pop() {
        if compact || wsl {
            if output[elem.index] != M::default() && elem.index != elem.source {
                continue;
            }
            // With lines (and no compactness: scikit-image does not combine them), a sample
            // touching another label stays 0 — it still passes the flood on.
            if compact || !differs_from_neighbours(&output, &neighbours, &mut mask, elem.index, output[elem.source]) {
                output[elem.index] = output[elem.source];
            }
        }
        for &off in &neighbours {
            let n = (elem.index as isize + off) as usize;
            if !mask[n] || output[n] != M::default() {
                continue;
            }
            age += 1;
            let mut value = values[n];
            if compact {
                value += options.compactness * distance(n, elem.source, &pstrides);
            } else if !wsl {
                output[n] = output[elem.index];
            }
            // Flooding never goes down: a sample costs at least what the one it came from did.
            if value < elem.value {
                value = elem.value;
            }
            heap.push(Item {
                value,
                age,
                index: n,
                source: elem.source,
            });
        }
    }
    let mut out = Vec::with_capacity(rows * nx);
    for r in 0..rows {
        let start = grid.row_start(r);
        out.extend_from_slice(&output[start..start + nx]);
    }
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("the image's shape"))
}

/// The options' footprint, or faces (`generate_binary_structure(ndim, 1)`).
pub(super) fn footprint_of<'a>(
    options: &'a WatershedOptions<'_>,
    ndim: usize,
) -> Result<ndarray::CowArray<'a, bool, IxDyn>> {
    Ok(match &options.footprint {
        Some(f) => f.view().into(),
        None => super::generate_binary_structure(ndim, 1)?.into(),
    })
}

/// Markers and mask must have the image's shape.
pub(super) fn check_shapes(image: &[usize], markers: &[usize], options: &WatershedOptions<'_>) -> Result<()> {
    if markers != image {
        return Err(Error::InvalidShape(format!(
            "markers of shape {markers:?} for an image of shape {image:?}: they must have the same shape"
        )));
    }
    if let Some(m) = &options.mask
        && m.shape() != image
    {
        return Err(Error::InvalidShape(format!(
            "a mask of shape {:?} for an image of shape {image:?}: they must have the same shape",
            m.shape()
        )));
    }
    Ok(())
}

/// With watershed lines: whether a sample about to take `label` touches another label (then
/// it becomes part of a line: it leaves the mask and stays 0).
fn differs_from_neighbours<M: Copy + PartialEq + Default>(
    output: &[M],
    neighbours: &[isize],
    mask: &mut [bool],
    index: usize,
    label: M,
) -> bool {
    if !mask[index] {
        return true;
    }
    for &off in neighbours {
        let n = (index as isize + off) as usize;
        if mask[n] && output[n] != M::default() && output[n] != label {
            mask[index] = false;
            return true;
        }
    }
    false
}

/// Euclidean distance between two flat indices of the padded array, axis by axis.
fn distance(a: usize, b: usize, strides: &[usize]) -> f64 {
    let (mut a, mut b) = (a, b);
    let mut sum = 0.0;
    for &s in strides {
        let d = (a / s) as f64 - (b / s) as f64;
        sum += d * d;
        a %= s;
        b %= s;
    }
    sum.sqrt()
}

/// The footprint's points as flat offsets in the padded array, nearest first (stable in the
/// footprint's C order), without the first one (the centre when the footprint holds it, as in
/// scikit-image).
fn neighbour_offsets(
    footprint: ArrayViewD<'_, bool>,
    centre: &[usize],
    padded: &[usize],
    strides: &[usize],
) -> Vec<isize> {
    let mut points: Vec<(f64, isize)> = footprint
        .indexed_iter()
        .filter(|&(_, &v)| v)
        .map(|(index, _)| {
            let steps: Vec<isize> = index
                .slice()
                .iter()
                .zip(centre)
                .map(|(&i, &c)| i as isize - c as isize)
                .collect();
            let d = steps.iter().map(|&s| (s * s) as f64).sum::<f64>().sqrt();
            (d, steps.iter().zip(strides).map(|(&s, &st)| s * st as isize).sum())
        })
        .collect();
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Footprints wider than the (padded) array repeat offsets: keep the first of each.
    if padded.iter().zip(footprint.shape()).any(|(&n, &s)| n < s) {
        let mut seen = std::collections::HashSet::new();
        points.retain(|p| seen.insert(p.1));
    }
    points.into_iter().skip(1).map(|p| p.1).collect()
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn two_basins_meet_at_the_ridge() {
        // A ridge at x = 4 between two valleys; seeds at both ends.
        let image = array![[0.0, 1.0, 2.0, 3.0, 9.0, 3.0, 2.0, 1.0, 0.0]].into_dyn();
        let markers = array![[1i64, 0, 0, 0, 0, 0, 0, 0, 2]].into_dyn();
        let plain = watershed(image.view(), markers.view(), &WatershedOptions::default()).unwrap();
        // The ridge goes to the basin that reaches it first: equal costs, earlier arrival (1).
        assert_eq!(plain, array![[1i64, 1, 1, 1, 1, 2, 2, 2, 2]].into_dyn());
        let lines = WatershedOptions {
            watershed_line: true,
            ..Default::default()
        };
        let with_line = watershed(image.view(), markers.view(), &lines).unwrap();
        assert_eq!(with_line, array![[1i64, 1, 1, 1, 0, 2, 2, 2, 2]].into_dyn());
        let masked = ndarray::Array2::from_shape_fn((1, 9), |(_, x)| x != 2).into_dyn();
        let options = WatershedOptions {
            mask: Some(masked.view()),
            ..Default::default()
        };
        let cut = watershed(image.view(), markers.view(), &options).unwrap();
        assert_eq!(cut, array![[1i64, 1, 0, 2, 2, 2, 2, 2, 2]].into_dyn());
        let wrong = array![[1i64, 2]].into_dyn();
        assert!(watershed(image.view(), wrong.view(), &WatershedOptions::default()).is_err());
    }

    #[test]
    fn the_radix_flood_equals_the_heap_replay() {
        // Few heights, repeated labels, masks that split the grid, 1D to 3D, every
        // connectivity: ties between markers everywhere, some contested and some not.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for case in 0..600 {
            let ndim = 1 + case % 3;
            let shape: Vec<usize> = (0..ndim).map(|_| 2 + next(10) as usize).collect();
            let n: usize = shape.iter().product();
            let levels = [2, 3, 6, 1000][case % 4];
            // Every other group of four: thirds, which float32 does not hold (the flood's
            // 16-byte cells instead of its 4-byte ones).
            let scale = if (case / 4) % 2 == 0 { 1.0 } else { 3.0 };
            let image = ArrayD::from_shape_fn(IxDyn(&shape), |_| {
                let v = (next(levels) as f64 - 1.0) / scale;
                match next(40) {
                    // Infinite heights: the 4-byte cells must tell them from their NaN tags.
                    0 => f64::INFINITY,
                    1 => f64::NEG_INFINITY,
                    // NaN, in a few cases: the heap's comparisons, both ways.
                    2 if case % 50 == 7 => f64::NAN,
                    _ if v == 0.0 && next(2) == 0 => -0.0,
                    _ => v,
                }
            });
            let mut markers = ArrayD::<i64>::zeros(IxDyn(&shape));
            for _ in 0..1 + next(3 + n as u64 / 4) {
                // Small blobs along the last axis, so some markers are interior.
                let at = next(n as u64) as usize;
                let label = 1 + next(4) as i64;
                for i in at..(at + 1 + next(3) as usize).min(n) {
                    markers.as_slice_mut().unwrap()[i] = label;
                }
            }
            let mask = ArrayD::from_shape_fn(IxDyn(&shape), |_| next(100) < 75);
            let footprint = crate::segment::generate_binary_structure(ndim, 1 + next(ndim as u64) as i64).unwrap();
            let options = WatershedOptions {
                mask: (case % 2 == 0).then(|| mask.view()),
                footprint: Some(footprint.view()),
                ..Default::default()
            };
            let want = flood_with(image.view(), markers.view(), &options, false).unwrap();
            let got = flood_with(image.view(), markers.view(), &options, true).unwrap();
            assert_eq!(got, want, "case {case}");
        }
    }
}

//! `scipy.ndimage.binary_erosion`'s rule, from which scipy builds binary dilation, opening,
//! closing, propagation, hole filling and hit-or-miss: any structuring element, origins, a mask
//! of the samples allowed to change, the value outside the array, repeated or iterated to a
//! fixed point.
//!
//! One erosion step: a sample inside the mask becomes true when every true point of the
//! structure, placed at the sample (moved by `origin`), covers a true input sample (outside the
//! array: `border_value`); a sample outside the mask keeps its input. Any non-zero input is
//! true. `invert` complements the input, the border value and the result, which turns the
//! erosion by the mirrored structure into a dilation (scipy's `binary_dilation` mirrors the
//! structure and origins itself before calling it).
//!
//! When the structure covers its own centre an erosion only clears samples, so further steps
//! only need to look around the samples the previous step cleared: after one full pass the
//! cleared samples are propagated layer by layer (each sample visited once per change, like
//! scipy's coordinate lists) instead of repeating full passes. Without the centre, steps are
//! full passes.

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rayon::prelude::*;

use super::lines::{c_strides, check_origin};
use crate::error::{Error, Result};

/// The structuring element's true points as displacements from the sample they are placed at.
struct Placement {
    shape: Vec<usize>,
    strides: Vec<usize>,
    /// `ndim` displacements per true point, C order of the structure.
    steps: Vec<isize>,
    /// Per point, the same displacement as a flat index step.
    flat: Vec<isize>,
    /// Per axis, the smallest and largest displacement (0 for an empty structure).
    low: Vec<isize>,
    high: Vec<isize>,
}

impl Placement {
    fn new(shape: &[usize], structure: &[bool], sshape: &[usize], origins: &[isize]) -> Result<Self> {
        let ndim = shape.len();
        if sshape.len() != ndim || origins.len() != ndim {
            return Err(Error::param(
                "structure",
                format!(
                    "the structure has {} axes and {} origins for an array of {ndim} axes",
                    sshape.len(),
                    origins.len()
                ),
            ));
        }
        if sshape.contains(&0) || sshape.iter().product::<usize>() != structure.len() {
            return Err(Error::param(
                "structure",
                format!(
                    "shape {sshape:?} does not hold {} values (it must not be empty)",
                    structure.len()
                ),
            ));
        }
        for (&o, &s) in origins.iter().zip(sshape) {
            check_origin(o, s)?;
        }
        let strides = c_strides(shape);
        let (mut steps, mut flat) = (Vec::new(), Vec::new());
        let (mut low, mut high) = (vec![0isize; ndim], vec![0isize; ndim]);
        let mut first = true;
        for (index, _) in structure.iter().enumerate().filter(|(_, on)| **on) {
            let mut rest = index;
            let mut point = vec![0isize; ndim];
            for a in (0..ndim).rev() {
                let k = (rest % sshape[a]) as isize;
                rest /= sshape[a];
                point[a] = k - (sshape[a] / 2) as isize - origins[a];
            }
            for a in 0..ndim {
                low[a] = if first { point[a] } else { low[a].min(point[a]) };
                high[a] = if first { point[a] } else { high[a].max(point[a]) };
            }
            first = false;
            flat.push(point.iter().zip(&strides).map(|(&d, &s)| d * s as isize).sum());
            steps.extend(point);
        }
        Ok(Self {
            shape: shape.to_vec(),
            strides,
            steps,
            flat,
            low,
            high,
        })
    }

    fn coordinates(&self, mut index: usize, coords: &mut [isize]) {
        for a in (0..self.shape.len()).rev() {
            coords[a] = (index % self.shape[a]) as isize;
            index /= self.shape[a];
        }
    }

    /// Whether every point placed at `coords` lands inside the array.
    fn interior(&self, coords: &[isize]) -> bool {
        coords
            .iter()
            .enumerate()
            .all(|(a, &c)| c + self.low[a] >= 0 && c + self.high[a] < self.shape[a] as isize)
    }

    /// The flat index of `coords + sign * point`, or `None` outside the array.
    fn neighbour(&self, coords: &[isize], point: usize, sign: isize) -> Option<usize> {
        let ndim = coords.len();
        let mut index = 0usize;
        for (a, (&coordinate, &step)) in coords.iter().zip(&self.steps[point * ndim..]).enumerate() {
            let c = coordinate + sign * step;
            if c < 0 || c >= self.shape[a] as isize {
                return None;
            }
            index += c as usize * self.strides[a];
        }
        Some(index)
    }

    /// One erosion step of `from` (true = not yet cleared) into `to`; whether anything changed.
    fn step(&self, from: &[bool], to: &mut [bool], mask: Option<&[bool]>, border: bool) -> bool {
        let ndim = self.shape.len();
        let row = self.shape[ndim - 1].max(1);
        to.par_chunks_mut(row)
            .enumerate()
            .map_init(
                || vec![0isize; ndim],
                |coords, (r, out)| {
                    let mut changed = false;
                    for (x, value) in out.iter_mut().enumerate() {
                        let p = r * row + x;
                        *value = if mask.is_some_and(|m| !m[p]) {
                            from[p]
                        } else {
                            self.coordinates(p, coords);
                            if self.interior(coords) {
                                self.flat.iter().all(|&d| from[(p as isize + d) as usize])
                            } else {
                                (0..self.flat.len()).all(|k| self.neighbour(coords, k, 1).map_or(border, |q| from[q]))
                            }
                        };
                        changed |= *value != from[p];
                    }
                    changed
                },
            )
            .reduce(|| false, |a, b| a || b)
    }
}

/// scipy's `_binary_erosion(input, structure, iterations, mask, output, border_value, origin,
/// invert)`: the erosion of the non-zero samples of `input` by the true points of `structure`
/// (shape `sshape`, C order, moved by `origins`), `iterations` times (`< 1`: until nothing
/// changes). `mask`, if given, has the input's shape; samples where it is false keep their
/// input. Returns a bool array in C order.
#[allow(clippy::too_many_arguments)]
pub fn binary_erosion(
    input: ArrayViewD<'_, bool>,
    structure: &[bool],
    sshape: &[usize],
    origins: &[isize],
    mask: Option<ArrayViewD<'_, bool>>,
    border_value: bool,
    invert: bool,
    iterations: i64,
) -> Result<ArrayD<bool>> {
    let shape = input.shape().to_vec();
    if shape.is_empty() {
        return Err(Error::InvalidShape("a 0-dimensional array has no neighbourhood".into()));
    }
    let place = Placement::new(&shape, structure, sshape, origins)?;
    let mask: Option<Vec<bool>> = match mask {
        Some(m) if m.shape() != shape.as_slice() => {
            return Err(Error::param(
                "mask",
                format!("shape {:?} differs from the input's {shape:?}", m.shape()),
            ));
        }
        Some(m) => Some(m.iter().copied().collect()),
        None => None,
    };
    let mask = mask.as_deref();
    // Work in the erosion's sense: true = present; `invert` complements in and out.
    let mut current: Vec<bool> = input.iter().map(|&v| v != invert).collect();
    let border = border_value != invert;
    let mut next = vec![false; current.len()];
    if current.is_empty() {
        return Ok(ArrayD::from_shape_vec(IxDyn(&shape), current).expect("shape holds the samples"));
    }
    let mut changed = place.step(&current, &mut next, mask, border);
    let mut passes = 1i64;
    let centre: Vec<usize> = sshape
        .iter()
        .zip(origins)
        .map(|(&s, &o)| ((s / 2) as isize + o) as usize)
        .collect();
    let centre_index = centre.iter().zip(c_strides(sshape)).map(|(c, s)| c * s).sum::<usize>();
    let more = |passes: i64, changed: bool| if iterations < 1 { changed } else { passes < iterations };
    if structure[centre_index] {
        // Anti-extensive: only cleared samples can clear others. Propagate from the samples
        // the first pass cleared, one layer per step.
        let mut frontier: Vec<usize> = (0..current.len()).filter(|&p| current[p] && !next[p]).collect();
        std::mem::swap(&mut current, &mut next);
        let mut coords = vec![0isize; shape.len()];
        while !frontier.is_empty() && more(passes, true) {
            let mut cleared = Vec::new();
            for &p in &frontier {
                place.coordinates(p, &mut coords);
                for k in 0..place.flat.len() {
                    // q's structure covers p when q + point = p.
                    if let Some(q) = place.neighbour(&coords, k, -1)
                        && current[q]
                        && mask.is_none_or(|m| m[q])
                    {
                        current[q] = false;
                        cleared.push(q);
                    }
                }
            }
            frontier = cleared;
            passes += 1;
        }
    } else {
        std::mem::swap(&mut current, &mut next);
        // Without its centre an erosion can also set samples, and repeating it need not
        // settle: stop with an error on a two-step cycle or after as many passes as samples.
        let mut two_back: Option<Vec<bool>> = None;
        while more(passes, changed) {
            if iterations < 1 {
                if two_back.as_ref() == Some(&current) {
                    return Err(Error::param(
                        "iterations",
                        "repeating this erosion never settles (it alternates between two results): give a number of iterations",
                    ));
                }
                if passes as usize > current.len() + 1 {
                    return Err(Error::param(
                        "iterations",
                        "repeating this erosion did not settle: give a number of iterations",
                    ));
                }
                // `next` holds the state before `current`.
                two_back = Some(next.clone());
            }
            changed = place.step(&current, &mut next, mask, border);
            std::mem::swap(&mut current, &mut next);
            passes += 1;
        }
    }
    if invert {
        current.iter_mut().for_each(|v| *v = !*v);
    }
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), current).expect("shape holds the samples"))
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    const CROSS: [bool; 9] = [false, true, false, true, true, true, false, true, false];

    fn ints(a: &ArrayD<bool>) -> Vec<u8> {
        a.iter().map(|&v| v as u8).collect()
    }

    #[test]
    fn erosion_and_dilation_by_a_cross() {
        let a = array![
            [0, 0, 0, 0, 0],
            [0, 1, 1, 1, 0],
            [0, 1, 1, 1, 0],
            [0, 1, 1, 1, 0],
            [0, 0, 0, 0, 0]
        ]
        .mapv(|v| v == 1)
        .into_dyn();
        let eroded = binary_erosion(a.view(), &CROSS, &[3, 3], &[0, 0], None, false, false, 1).unwrap();
        assert_eq!(ints(&eroded).iter().filter(|&&v| v == 1).count(), 1);
        assert!(eroded[[2, 2]]);
        // Dilation = inverted erosion by the mirrored (here symmetric) cross.
        let dilated = binary_erosion(a.view(), &CROSS, &[3, 3], &[0, 0], None, false, true, 1).unwrap();
        assert_eq!(ints(&dilated).iter().filter(|&&v| v == 1).count(), 21);
        assert!(!dilated[[0, 0]] && dilated[[0, 1]]);
    }

    #[test]
    fn iterating_to_a_fixed_point_equals_repeated_passes() {
        let a = array![
            [1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 0, 1]
        ]
        .mapv(|v| v == 1)
        .into_dyn();
        let mask = array![
            [1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 1],
            [1, 1, 0, 1, 1, 1],
            [1, 1, 1, 1, 1, 1]
        ]
        .mapv(|v| v == 1)
        .into_dyn();
        let mut repeated = a.clone();
        for _ in 0..10 {
            repeated = binary_erosion(
                repeated.view(),
                &CROSS,
                &[3, 3],
                &[0, 0],
                Some(mask.view()),
                true,
                false,
                1,
            )
            .unwrap();
        }
        let fixed = binary_erosion(a.view(), &CROSS, &[3, 3], &[0, 0], Some(mask.view()), true, false, -1).unwrap();
        assert_eq!(fixed, repeated);
        // Everything is cleared from the hole, except the masked sample which keeps its input.
        assert_eq!(ints(&fixed).iter().filter(|&&v| v == 1).count(), 1);
        assert!(fixed[[2, 2]]);
        let two = binary_erosion(a.view(), &CROSS, &[3, 3], &[0, 0], Some(mask.view()), true, false, 2).unwrap();
        assert!(two[[0, 4]] && !two[[1, 4]] && !two[[2, 3]] && two[[1, 1]]);
    }

    #[test]
    fn even_structures_origins_and_bad_arguments() {
        let a = array![[1, 1, 0], [1, 1, 0]].mapv(|v| v == 1).into_dyn();
        // A 1x2 structure covers the sample and the one before it (size / 2 = 1 ahead of it).
        let out = binary_erosion(a.view(), &[true, true], &[1, 2], &[0, 0], None, true, false, 1).unwrap();
        assert_eq!(ints(&out), [1, 1, 0, 1, 1, 0]);
        let moved = binary_erosion(a.view(), &[true, true], &[1, 2], &[0, -1], None, false, false, 1).unwrap();
        assert_eq!(ints(&moved), [1, 0, 0, 1, 0, 0]);
        assert!(binary_erosion(a.view(), &[true, true], &[1, 2], &[0, 1], None, false, false, 1).is_err());
        assert!(binary_erosion(a.view(), &[true; 3], &[1, 2], &[0, 0], None, false, false, 1).is_err());
        let wrong_mask = ArrayD::from_elem(IxDyn(&[3, 2]), true);
        assert!(
            binary_erosion(
                a.view(),
                &[true],
                &[1, 1],
                &[0, 0],
                Some(wrong_mask.view()),
                false,
                false,
                1
            )
            .is_err()
        );
        // Without the centre, a checkerboard flips back and forth forever: an error, not a hang.
        let board = array![[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]]
            .mapv(|v| v == 1)
            .into_dyn();
        let ring = [false, true, false, true, false, true, false, true, false];
        assert!(binary_erosion(board.view(), &ring, &[3, 3], &[0, 0], None, true, false, 0).is_err());
    }
}

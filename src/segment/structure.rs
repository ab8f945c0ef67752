//! Structuring elements as scipy.ndimage builds them: `generate_binary_structure(rank,
//! connectivity)` — the points of the 3^rank cube whose squared distance from the centre is at
//! most `connectivity` — and `iterate_structure(structure, iterations)` — the structure dilated
//! by itself `iterations − 1` times.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::error::{Error, Result};
use crate::ndimage::binary_erosion;

/// `scipy.ndimage.generate_binary_structure(rank, connectivity)`: a `3 × … × 3` boolean array
/// (rank axes) holding the neighbours reached through at most `connectivity` axes at once
/// (1 or less: faces, 2: faces and edges, rank or more: the whole cube). A
/// rank of 0 gives scipy's 0-dimensional `True`.
pub fn generate_binary_structure(rank: usize, connectivity: i64) -> Result<ArrayD<bool>> {
    if rank > 32 {
        return Err(Error::param(
            "rank",
            format!("{rank} axes would make a structure of 3^{rank} elements; at most 32 axes"),
        ));
    }
    Ok(ArrayD::from_shape_fn(IxDyn(&vec![3; rank]), |index| {
        let moved = ndarray::Dimension::slice(&index).iter().filter(|&&i| i != 1).count() as i64;
        moved <= connectivity.max(1)
    }))
}

/// `scipy.ndimage.iterate_structure(structure, iterations)`: the structure dilated by itself
/// `iterations − 1` times (each axis grows to `(n − 1) · iterations + 1`); `iterations < 2`
/// returns a copy. Returns the structure and the origin scaled with it (`origin · iterations`).
pub fn iterate_structure(
    structure: ArrayViewD<'_, bool>,
    iterations: i64,
    origin: Option<&[isize]>,
) -> Result<(ArrayD<bool>, Option<Vec<isize>>)> {
    let ndim = structure.ndim();
    if let Some(o) = origin
        && o.len() != ndim
    {
        return Err(Error::param(
            "origin",
            format!("{} origins for a structure of {ndim} axes", o.len()),
        ));
    }
    if iterations < 2 {
        return Ok((structure.to_owned(), origin.map(<[isize]>::to_vec)));
    }
    let k = iterations as usize;
    let shape: Vec<usize> = structure.shape().iter().map(|&n| (n.max(1) - 1) * k + 1).collect();
    let total = shape.iter().try_fold(1usize, |acc, &n| acc.checked_mul(n));
    if total.is_none_or(|t| t > 1 << 31) || iterations > 1 << 20 {
        return Err(Error::TooLarge(format!(
            "iterating a structure of shape {:?} {iterations} times makes shape {shape:?}",
            structure.shape()
        )));
    }
    // scipy: place the structure in the grown array (at `ni · (n / 2)` along each axis), then
    // dilate it by the structure `iterations − 1` times (a dilation is the erosion of the
    // complement by the mirrored structure, origins negated and moved one back on even axes).
    let ni = k - 1;
    let mut seed = ArrayD::from_elem(IxDyn(&shape), false);
    for (index, &v) in structure.indexed_iter() {
        let at: Vec<usize> = (0..ndim).map(|a| index[a] + ni * (structure.shape()[a] / 2)).collect();
        seed[IxDyn(&at)] = v;
    }
    let mut mirrored: Vec<bool> = structure.iter().copied().collect();
    mirrored.reverse();
    let origins: Vec<isize> = structure.shape().iter().map(|&n| -((n % 2 == 0) as isize)).collect();
    let out = if structure.is_empty() || ndim == 0 {
        seed
    } else {
        binary_erosion(
            seed.view(),
            &mirrored,
            structure.shape(),
            &origins,
            None,
            false,
            true,
            ni as i64,
        )?
    };
    Ok((out, origin.map(|o| scale(o, k))))
}

fn scale(origin: &[isize], k: usize) -> Vec<isize> {
    origin.iter().map(|&o| o * k as isize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectivity_counts_match_the_cube_shells() {
        // 3D: 1 centre + 6 faces + 12 edges + 8 corners; scipy raises a connectivity below 1 to 1.
        let count = |c| generate_binary_structure(3, c).unwrap().iter().filter(|&&v| v).count();
        assert_eq!([count(-3), count(1), count(2), count(3), count(7)], [7, 7, 19, 27, 27]);
        assert_eq!(generate_binary_structure(0, 1).unwrap().ndim(), 0);
    }

    #[test]
    fn iterating_a_cross_gives_a_diamond() {
        let cross = generate_binary_structure(2, 1).unwrap();
        let (diamond, origin) = iterate_structure(cross.view(), 2, Some(&[1, -1])).unwrap();
        assert_eq!(diamond.shape(), [5, 5]);
        assert_eq!(origin, Some(vec![2, -2]));
        for ((y, x), &v) in diamond
            .clone()
            .into_dimensionality::<ndarray::Ix2>()
            .unwrap()
            .indexed_iter()
        {
            assert_eq!(v, (y as i64 - 2).abs() + (x as i64 - 2).abs() <= 2, "({y}, {x})");
        }
    }
}

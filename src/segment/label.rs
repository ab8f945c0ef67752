//! Connected-component labelling — `scipy.ndimage.label(input, structure)`: the true samples
//! joined through the structure's neighbours get one label each, numbered 1, 2, … in the raster
//! order of each component's first sample (scipy's numbering), background 0.
//!
//! CPU: a parallel union-find over the runs of true samples along the last axis. Every union links the larger root to the
//! smaller one, so a component's root is its first run in raster order whatever order the
//! threads merged in; numbering the roots in increasing order gives scipy's labels. Threads
//! take blocks of rows and join each run with the runs it touches in the backward neighbour
//! rows (the first half of the symmetric structure) with a lock-free link (compare and swap on a
//! root; path halving stores only ancestors), then flatten every run to its root, count the
//! roots per block, number them from the blocks' prefix sums and write the labels run by run.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::ndimage::c_strides;

/// A labelling: the label of every sample (0 = background) and the number of components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// Labels in C order, the input's shape.
    pub labels: ArrayD<u32>,
    /// The number of components (the largest label).
    pub count: usize,
}

/// A neighbour reached through the structure: per-axis displacement and flat offset.
#[derive(Debug, Clone)]
pub(crate) struct Neighbour {
    pub(crate) step: Vec<isize>,
    pub(crate) flat: isize,
}

/// Checks scipy's rules for a labelling structure (the input's rank, 3 along every axis,
/// symmetric) and returns its backward neighbours: the true points before the centre in C
/// order (the points after it mirror them).
pub(crate) fn backward_neighbours(shape: &[usize], structure: Option<ArrayViewD<'_, bool>>) -> Result<Vec<Neighbour>> {
    let ndim = shape.len();
    let default;
    let structure = match structure {
        Some(s) => s,
        None => {
            default = super::generate_binary_structure(ndim, 1)?;
            default.view()
        }
    };
    if structure.ndim() != ndim {
        return Err(Error::param(
            "structure",
            format!(
                "a structure of {} axes for an input of {ndim} axes: they must have equal rank",
                structure.ndim()
            ),
        ));
    }
    if structure.shape().iter().any(|&n| n != 3) {
        return Err(Error::param(
            "structure",
            format!(
                "shape {:?}: every axis of a labelling structure must be 3 long",
                structure.shape()
            ),
        ));
    }
    let flat: Vec<bool> = structure.iter().copied().collect();
    if flat.iter().ne(flat.iter().rev()) {
        return Err(Error::param(
            "structure",
            "the structuring element is not symmetric (it must equal itself mirrored through its centre)",
        ));
    }
    let strides = c_strides(shape);
    let sstrides = c_strides(structure.shape());
    Ok((0..flat.len() / 2)
        .filter(|&k| flat[k])
        .map(|k| {
            let step: Vec<isize> = (0..ndim).map(|a| ((k / sstrides[a]) % 3) as isize - 1).collect();
            let flat = step.iter().zip(&strides).map(|(&s, &st)| s * st as isize).sum();
            Neighbour { step, flat }
        })
        .collect())
}

/// Labels the true samples of `input` (any number of axes) joined through `structure`
/// (`None`: faces only, scipy's default `generate_binary_structure(ndim, 1)`).
///
/// ```
/// use hounsfield::segment::label;
/// let mask = ndarray::array![[true, false, true], [false, true, false], [true, false, true]];
/// let faces = label(mask.view().into_dyn(), None)?;
/// assert_eq!(faces.count, 5);
/// let full = hounsfield::segment::generate_binary_structure(2, 2)?;
/// let corners = label(mask.view().into_dyn(), Some(full.view()))?;
/// assert_eq!(corners.count, 1);
/// # Ok::<(), hounsfield::Error>(())
/// ```
pub fn label(input: ArrayViewD<'_, bool>, structure: Option<ArrayViewD<'_, bool>>) -> Result<Labels> {
    let shape = input.shape().to_vec();
    let neighbours = backward_neighbours(&shape, structure)?;
    let n = input.len();
    if n >= u32::MAX as usize {
        return Err(Error::TooLarge(format!(
            "labelling {n} samples: at most {} (label a smaller region, or split the array)",
            u32::MAX - 1
        )));
    }
    if n == 0 || shape.is_empty() {
        let count = usize::from(n == 1 && input.iter().any(|&v| v));
        return Ok(Labels {
            labels: ArrayD::from_elem(IxDyn(&shape), count as u32),
            count,
        });
    }
    let mask = input.as_standard_layout();
    let mask = mask.as_slice().expect("standard layout");
    let (labels, count) = label_flat(mask, &shape, &neighbours);
    Ok(Labels {
        labels: ArrayD::from_shape_vec(IxDyn(&shape), labels).expect("labels have the input's size"),
        count,
    })
}

/// Background in a parent array.
pub(crate) const BACKGROUND: u32 = u32::MAX;

fn find(parent: &[AtomicU32], mut x: u32) -> u32 {
    loop {
        let p = parent[x as usize].load(Relaxed);
        if p == x {
            return x;
        }
        let grand = parent[p as usize].load(Relaxed);
        if grand != p {
            // Path halving: `grand` is an ancestor of `x`, so storing it keeps every tree intact
            // even when another thread stores to `x` at the same time.
            parent[x as usize].store(grand, Relaxed);
        }
        x = grand;
    }
}

/// Joins the trees of `a` and `b`, the larger root under the smaller.
fn union(parent: &[AtomicU32], mut a: u32, mut b: u32) {
    loop {
        a = find(parent, a);
        b = find(parent, b);
        if a == b {
            return;
        }
        let (low, high) = if a < b { (a, b) } else { (b, a) };
        if parent[high as usize]
            .compare_exchange(high, low, Relaxed, Relaxed)
            .is_ok()
        {
            return;
        }
        // Another thread linked `high` meanwhile: retry from the new roots.
    }
}

/// Rows (runs along the last axis) per parallel block.
fn rows_per_block(rows: usize) -> usize {
    rows.div_ceil(rayon::current_num_threads() * 8).max(1)
}

/// 64 samples from `x` as bits (bit k = sample x + k; samples past the row are false).
fn bits64(line: &[bool], x: usize) -> u64 {
    const PACK: u64 = 0x0102_0408_1020_4080; // byte k (0 or 1) → bit k of the top byte
    #[cfg(target_arch = "x86_64")]
    if x + 64 <= line.len() {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_movemask_epi8, _mm_slli_epi16};
        let mut bits = 0u64;
        for q in 0..4 {
            // SAFETY: SSE2 is part of x86-64; the 16 bytes lie inside `line`. A `bool` byte is
            // 0 or 1, so shifting it left by 7 moves it into the sign bit that movemask gathers.
            let lanes = unsafe {
                let v = _mm_loadu_si128(line.as_ptr().add(x + 16 * q).cast::<__m128i>());
                _mm_movemask_epi8(_mm_slli_epi16(v, 7)) as u16
            };
            bits |= u64::from(lanes) << (16 * q);
        }
        return bits;
    }
    let mut bits = 0u64;
    let end = (x + 64).min(line.len());
    let whole = (end - x) / 8;
    for w in 0..whole {
        // SAFETY: `bool` is one byte holding 0 or 1; the 8 bytes lie inside `line`.
        let bytes: [u8; 8] = unsafe { std::ptr::read_unaligned(line.as_ptr().add(x + 8 * w).cast()) };
        bits |= (u64::from_le_bytes(bytes).wrapping_mul(PACK) >> 56) << (8 * w);
    }
    for (k, &v) in line[x + 8 * whole..end].iter().enumerate() {
        bits |= u64::from(v) << (8 * whole + k);
    }
    bits
}

/// Appends the runs of true samples of `line` as `[start, end)` (single samples unless
/// `along_row`), finding them 64 samples at a time from the bits' edges.
fn find_runs(line: &[bool], along_row: bool, runs: &mut Vec<(u32, u32)>) {
    let mut open: Option<u32> = None;
    let mut previous = 0u64; // the last bit of the previous word
    let mut x = 0;
    while x < line.len() {
        let bits = bits64(line, x);
        if !along_row {
            let mut b = bits;
            while b != 0 {
                let k = x as u32 + b.trailing_zeros();
                runs.push((k, k + 1));
                b &= b - 1;
            }
        } else {
            // Set bits of `edges`: where a run starts or ends (a bit differs from the one before).
            let mut edges = bits ^ ((bits << 1) | previous);
            while edges != 0 {
                let k = x as u32 + edges.trailing_zeros();
                match open.take() {
                    Some(start) => runs.push((start, k)),
                    None => open = Some(k),
                }
                edges &= edges - 1;
            }
            previous = bits >> 63;
        }
        x += 64;
    }
    if let Some(start) = open {
        runs.push((start, line.len() as u32));
    }
}

/// Per block of rows: the number of runs of each row, and the runs `(start, end)`.
type BlockRuns = (Vec<u32>, Vec<(u32, u32)>);

/// A row displacement of the structure (all axes but the last) and the displacements along
/// the last axis it joins with.
struct RowStep {
    outer: Vec<isize>,
    /// Flat offset between the rows.
    rows: isize,
    dx: Vec<isize>,
    dx_min: isize,
    dx_max: isize,
}

/// The backward neighbours grouped by row (the same row, if present, only joins `x − 1`).
fn row_steps(shape: &[usize], neighbours: &[Neighbour]) -> (Vec<RowStep>, bool) {
    let ndim = shape.len();
    let mut steps: Vec<RowStep> = Vec::new();
    let mut along_row = false;
    for nb in neighbours {
        let outer = &nb.step[..ndim - 1];
        if outer.iter().all(|&s| s == 0) {
            along_row = true;
            continue;
        }
        let dx = nb.step[ndim - 1];
        match steps.iter_mut().find(|s| s.outer == outer) {
            Some(s) => s.dx.push(dx),
            None => steps.push(RowStep {
                outer: outer.to_vec(),
                rows: (nb.flat - dx) / shape[ndim - 1] as isize,
                dx: vec![dx],
                dx_min: dx,
                dx_max: dx,
            }),
        }
    }
    for s in &mut steps {
        s.dx_min = *s.dx.iter().min().expect("one displacement at least");
        s.dx_max = *s.dx.iter().max().expect("one displacement at least");
    }
    (steps, along_row)
}

/// Labels of a C-order mask, computed over runs ([`run_forest`]), numbered in raster order and
/// written run by run.
pub(crate) fn label_flat(mask: &[bool], shape: &[usize], neighbours: &[Neighbour]) -> (Vec<u32>, usize) {
    let n = mask.len();
    let nx = shape[shape.len() - 1];
    let forest = run_forest(mask, shape, neighbours);
    let RunForest {
        first_run,
        runs,
        parent,
        block_rows,
    } = &forest;
    // The forest is flat already: only its roots need numbers.
    let (number, count) = number_roots(parent);
    let mut out = crate::memory::zeroed_u32(n);
    out.par_chunks_mut(block_rows * nx).enumerate().for_each(|(b, chunk)| {
        for (k, line) in chunk.chunks_mut(nx).enumerate() {
            let row = b * block_rows + k;
            for (r, &(s, e)) in runs[first_run[row]..first_run[row + 1]].iter().enumerate() {
                let root = parent[first_run[row] + r].load(Relaxed) as usize;
                line[s as usize..e as usize].fill(number[root]);
            }
        }
    });
    (out, count)
}

/// The components of a C-order mask as a forest over its runs: each row's maximal runs of true
/// samples (single samples when the structure does not join along the last axis) are the
/// union-find's nodes, numbered in raster order, and runs of neighbouring rows that touch
/// through the structure are joined (the larger root under the smaller, so a component's root
/// is its first run). Every run points straight at its root.
pub(crate) struct RunForest {
    /// `first_run[row]..first_run[row + 1]` index the runs of each row (rows along the last axis).
    pub first_run: Vec<usize>,
    /// Each run's `[start, end)` along its row.
    pub runs: Vec<(u32, u32)>,
    /// Each run's root.
    pub parent: Vec<AtomicU32>,
    /// Rows per parallel block.
    pub block_rows: usize,
}

/// The [`RunForest`] of `mask` (C order, `shape`), joined through `neighbours` (from
/// [`backward_neighbours`]).
pub(crate) fn run_forest(mask: &[bool], shape: &[usize], neighbours: &[Neighbour]) -> RunForest {
    let n = mask.len();
    let ndim = shape.len();
    let nx = shape[ndim - 1];
    let rows = n / nx;
    let block_rows = rows_per_block(rows);
    let blocks = rows.div_ceil(block_rows);
    let (steps, along_row) = row_steps(shape, neighbours);

    // Runs of every row: `(start, end)` along the row; `first_run[row]` indexes them.
    let block_runs: Vec<BlockRuns> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let mut counts = Vec::with_capacity(block_rows);
            let mut runs = Vec::new();
            for row in b * block_rows..((b + 1) * block_rows).min(rows) {
                let line = &mask[row * nx..(row + 1) * nx];
                // A line's runs take little time: ask for the lines 8 KiB ahead now, so that
                // enough of the mask is in flight (the hardware prefetcher alone left the loop
                // waiting: 6.0 → 5.3 ms on the harness's CT mask).
                for k in (0..nx).step_by(64) {
                    crate::memory::prefetch(mask.as_ptr().wrapping_add(row * nx + k + 8192));
                }
                let before = runs.len();
                find_runs(line, along_row, &mut runs);
                counts.push((runs.len() - before) as u32);
            }
            (counts, runs)
        })
        .collect();
    let mut first_run = Vec::with_capacity(rows + 1);
    let mut total = 0usize;
    for (counts, _) in &block_runs {
        for &c in counts {
            first_run.push(total);
            total += c as usize;
        }
    }
    first_run.push(total);
    // The blocks' runs side by side, copied in parallel (noise has tens of millions).
    let mut runs = vec![(0u32, 0u32); total];
    let mut rest = &mut runs[..];
    let mut pieces = Vec::with_capacity(block_runs.len());
    for (_, r) in &block_runs {
        let (piece, after) = rest.split_at_mut(r.len());
        pieces.push((piece, r));
        rest = after;
    }
    pieces.into_par_iter().for_each(|(piece, r)| piece.copy_from_slice(r));
    let parent: Vec<AtomicU32> = (0..total as u32).into_par_iter().map(AtomicU32::new).collect();

    // Join the runs of every row with the touching runs of its backward neighbour rows.
    (0..blocks).into_par_iter().for_each(|b| {
        let mut coords = vec![0usize; ndim - 1];
        for row in b * block_rows..((b + 1) * block_rows).min(rows) {
            let mine = &runs[first_run[row]..first_run[row + 1]];
            if mine.is_empty() {
                continue;
            }
            let mut r = row;
            for a in (0..ndim - 1).rev() {
                coords[a] = r % shape[a];
                r /= shape[a];
            }
            for step in &steps {
                let inside = (0..ndim - 1).all(|a| {
                    let c = coords[a] as isize + step.outer[a];
                    c >= 0 && (c as usize) < shape[a]
                });
                if !inside {
                    continue;
                }
                let other_row = (row as isize + step.rows) as usize;
                let (o0, o1) = (first_run[other_row], first_run[other_row + 1]);
                let theirs = &runs[o0..o1];
                // Two pointers over both sorted run lists; run [s, e) touches [s2, e2) through a
                // displacement d when s + d < e2 and s2 < e + d.
                let (dmin, dmax) = (step.dx_min, step.dx_max);
                let mut j = 0;
                for (i, &(s, e)) in mine.iter().enumerate() {
                    let (s, e) = (s as isize, e as isize);
                    // Runs ending at or before s + dmin touch neither this run nor later ones.
                    while j < theirs.len() && theirs[j].1 as isize <= s + dmin {
                        j += 1;
                    }
                    for (k, &(s2, e2)) in theirs.iter().enumerate().skip(j) {
                        let (s2, e2) = (s2 as isize, e2 as isize);
                        if s2 >= e + dmax {
                            break;
                        }
                        if step.dx.iter().any(|&d| s + d < e2 && s2 < e + d) {
                            union(&parent, (first_run[row] + i) as u32, (o0 + k) as u32);
                        }
                    }
                }
            }
        }
    });

    flatten(&parent);
    RunForest {
        first_run,
        runs,
        parent,
        block_rows,
    }
}

/// Points every member of a forest straight at its root, in parallel.
fn flatten(parent: &[AtomicU32]) {
    let block = parent.len().div_ceil(rayon::current_num_threads() * 8).max(1);
    parent.par_chunks(block).enumerate().for_each(|(b, chunk)| {
        for (k, p) in chunk.iter().enumerate() {
            if p.load(Relaxed) != BACKGROUND {
                p.store(find(parent, (b * block + k) as u32), Relaxed);
            }
        }
    });
}

/// Points every member of a forest (entries other than [`BACKGROUND`]) straight at its root and
/// numbers the roots ([`number_roots`]). Returns each root's number (0 elsewhere) and the count.
fn flatten_and_number(parent: &[AtomicU32]) -> (Vec<u32>, usize) {
    flatten(parent);
    number_roots(parent)
}

/// Numbers the roots of a forest 1, 2, … in index order (blocks count their roots in parallel, a
/// prefix sum gives each block its first number). Returns each root's number (0 elsewhere) and
/// the count.
fn number_roots(parent: &[AtomicU32]) -> (Vec<u32>, usize) {
    let block = parent.len().div_ceil(rayon::current_num_threads() * 8).max(1);
    let is_root = |i: usize| parent[i].load(Relaxed) == i as u32;
    let roots: Vec<u32> = (0..parent.len().div_ceil(block))
        .into_par_iter()
        .map(|b| {
            (b * block..((b + 1) * block).min(parent.len()))
                .map(|i| u32::from(is_root(i)))
                .sum()
        })
        .collect();
    let mut next = 1u32;
    let firsts: Vec<u32> = roots
        .iter()
        .map(|&r| {
            let first = next;
            next += r;
            first
        })
        .collect();
    let mut number = vec![0u32; parent.len()];
    number.par_chunks_mut(block).enumerate().for_each(|(b, chunk)| {
        let mut label = firsts[b];
        for (k, slot) in chunk.iter_mut().enumerate() {
            if is_root(b * block + k) {
                *slot = label;
                label += 1;
            }
        }
    });
    (number, next as usize - 1)
}

/// Finishes a voxel forest the GPU built slab by slab (`parent`: global indices, roots their
/// own, [`BACKGROUND`] for background; slabs of `slab_nz` slices of a `(z, y, x)` volume):
/// joins the voxels of each slab's first slice with their backward neighbours in the slab
/// before, then numbers the roots in raster order. Returns the labels and the count.
pub(crate) fn finish_voxel_forest(
    parent: Vec<u32>,
    shape: [usize; 3],
    neighbours: &[Neighbour],
    slab_nz: usize,
) -> (Vec<u32>, usize) {
    let [nz, ny, nx] = shape;
    let plane = ny * nx;
    let parent: Vec<AtomicU32> = parent.into_par_iter().map(AtomicU32::new).collect();
    let across: Vec<&Neighbour> = neighbours.iter().filter(|nb| nb.step[0] < 0).collect();
    let borders: Vec<usize> = (slab_nz..nz).step_by(slab_nz.max(1)).collect();
    borders.par_iter().for_each(|&z| {
        for y in 0..ny {
            for x in 0..nx {
                let i = z * plane + y * nx + x;
                if parent[i].load(Relaxed) == BACKGROUND {
                    continue;
                }
                for nb in &across {
                    let (yy, xx) = (y as isize + nb.step[1], x as isize + nb.step[2]);
                    if yy >= 0 && xx >= 0 && (yy as usize) < ny && (xx as usize) < nx {
                        let j = (i as isize + nb.flat) as usize;
                        if parent[j].load(Relaxed) != BACKGROUND {
                            union(&parent, i as u32, j as u32);
                        }
                    }
                }
            }
        }
    });
    let (number, count) = flatten_and_number(&parent);
    let labels = parent
        .par_iter()
        .map(|p| match p.load(Relaxed) {
            BACKGROUND => 0,
            root => number[root as usize],
        })
        .collect();
    (labels, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels by breadth-first search over the full neighbourhood, numbered in raster order.
    fn reference(mask: &[bool], shape: &[usize], neighbours: &[Neighbour]) -> Vec<u32> {
        let strides = c_strides(shape);
        let coords = |i: usize| -> Vec<isize> {
            (0..shape.len())
                .map(|a| ((i / strides[a]) % shape[a]) as isize)
                .collect()
        };
        let mut out = vec![0u32; mask.len()];
        let mut next = 0;
        for start in 0..mask.len() {
            if !mask[start] || out[start] != 0 {
                continue;
            }
            next += 1;
            out[start] = next;
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                let c = coords(i);
                for nb in neighbours {
                    for sign in [-1isize, 1] {
                        let inside = (0..shape.len()).all(|a| {
                            let v = c[a] + sign * nb.step[a];
                            v >= 0 && (v as usize) < shape[a]
                        });
                        if inside {
                            let j = (i as isize + sign * nb.flat) as usize;
                            if mask[j] && out[j] == 0 {
                                out[j] = next;
                                stack.push(j);
                            }
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn parallel_union_find_equals_a_flood_in_raster_order() {
        let mut rng = crate::rng::XorShift64::new(7);
        for case in 0..200 {
            let ndim = 1 + case % 3;
            let mut shape: Vec<usize> = (0..ndim).map(|_| 1 + (rng.next_u64() % 23) as usize).collect();
            if case % 5 == 0 {
                // Rows longer than the 64-sample words the runs are found in.
                shape[ndim - 1] = 60 + (rng.next_u64() % 140) as usize;
            }
            let n: usize = shape.iter().product();
            let density = 0.3 + 0.4 * rng.next_f64_open();
            let mask: Vec<bool> = (0..n).map(|_| rng.next_f64_open() < density).collect();
            let connectivity = 1 + (case / 3) % ndim;
            let mut structure = super::super::generate_binary_structure(ndim, connectivity as i64).unwrap();
            if case % 4 == 3 {
                // A random symmetric structure (it may skip the row neighbour or the centre).
                let len = structure.len();
                let half: Vec<bool> = (0..len / 2).map(|_| rng.next_u64().is_multiple_of(2)).collect();
                for (k, v) in structure.iter_mut().enumerate() {
                    *v = if k < len / 2 {
                        half[k]
                    } else if k > len / 2 {
                        half[len - 1 - k]
                    } else {
                        rng.next_u64().is_multiple_of(2)
                    };
                }
            }
            let nbs = backward_neighbours(&shape, Some(structure.view())).unwrap();
            let want = reference(&mask, &shape, &nbs);
            let (got, count) = label_flat(&mask, &shape, &nbs);
            assert_eq!(got, want, "case {case} {shape:?}");
            assert_eq!(count, want.iter().copied().max().unwrap_or(0) as usize);
        }
    }

    #[test]
    fn bad_structures_are_refused() {
        let mask = ndarray::ArrayD::from_elem(IxDyn(&[4, 4]), true);
        let wrong_rank = ndarray::ArrayD::from_elem(IxDyn(&[3, 3, 3]), true);
        let even = ndarray::ArrayD::from_elem(IxDyn(&[2, 2]), true);
        let mut lopsided = ndarray::ArrayD::from_elem(IxDyn(&[3, 3]), false);
        lopsided[[0, 0]] = true;
        for s in [wrong_rank, even, lopsided] {
            assert!(matches!(
                label(mask.view(), Some(s.view())),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }
}

//! The classic watershed flood (no compactness, no watershed lines) at radix-queue speed, label
//! for label equal to scikit-image.
//!
//! scikit-image releases samples by (value, arrival); arrivals are unique except for the
//! markers, which all arrive at 0, so the only order a priority queue cannot reproduce is the
//! order in which its binary heap releases markers of equal height. That order matters only
//! where it can change a label:
//! - a marker none of whose neighbours is free (inside the mask, not a marker) floods nothing,
//!   so only *frontier* markers count;
//! - equal-height frontier markers of one label can leave in any order: the samples they reach
//!   get the same labels and heights, in permuted arrivals, and that holds through every later
//!   step;
//! - floods in different connected components of the mask never meet.
//!
//! So when no height is held by frontier markers of two labels in one component, a FIFO radix
//! queue over (height, arrival) floods exactly as scikit-image. Otherwise scikit-image's heap
//! is replayed, operation for operation, until the highest contested height has left it; only
//! samples below that height are held in it: a sample above it can never be compared with one
//! below except as larger, so it enters the heap as a placeholder (the heap's shape depends on
//! how many items it holds, not on their values) and the radix queue holds it; then the radix
//! queue takes over.

use std::collections::HashMap;

use ndarray::{ArrayViewD, IxDyn};
use rayon::prelude::*;

use super::priority::{ArrayHeap, FifoRadixQueue, HeapItem, prefetch};
use crate::memory::{zeroed_u32, zeroed_u64};

/// The padded grid of the flood (scikit-image pads every axis by the footprint's offset).
pub(crate) struct Grid<'a> {
    pub shape: &'a [usize],
    pub offset: &'a [usize],
    pub padded: &'a [usize],
    /// Flat offsets of the neighbours in the padded grid, nearest first.
    pub neighbours: &'a [isize],
    /// The footprint, when `label` can split the mask into components with it (3 × … × 3,
    /// centred); `None` treats the mask as one component.
    pub footprint: Option<ArrayViewD<'a, bool>>,
}

/// State codes of the padded samples: outside the mask (or padding), free, or a label's code
/// (2 + its rank among the markers' labels).
const OUTSIDE: u32 = 0;
const FREE: u32 = 1;
const CONTESTED: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Aged {
    key: u64,
    age: u32,
    at: u32,
}

impl HeapItem for Aged {
    fn before(&self, other: &Self) -> bool {
        self.key < other.key || (self.key == other.key && self.age < other.age)
    }
}

/// A heap item above every real one: it keeps the heap's shape, never its order.
const PLACEHOLDER: Aged = Aged {
    key: u64::MAX,
    age: u32::MAX,
    at: 0,
};

#[derive(Clone, Copy)]
struct Seed {
    key: u64,
    at: u32,
    frontier: bool,
}

/// An order-preserving `u64` of a (non-NaN) height; -0 and +0 are one height, as for `<`.
fn key_of(value: f64) -> u64 {
    let bits = if value == 0.0 { 0 } else { value.to_bits() };
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// Floods `image` (no NaN) from `markers` inside `mask`; the labels in the image's layout.
/// The padded grid must hold fewer than `u32::MAX - 2` samples.
pub(crate) fn flood(grid: &Grid<'_>, image: &[f64], markers: &[i64], mask: Option<&[bool]>) -> Vec<i64> {
    if image.is_empty() {
        return Vec::new();
    }
    let ndim = grid.shape.len();
    let (nx, pnx, ox) = (grid.shape[ndim - 1], grid.padded[ndim - 1], grid.offset[ndim - 1]);
    let total: usize = grid.padded.iter().product();
    let inside = |i: usize| mask.is_none_or(|m| m[i]);
    let labels = distinct_labels(markers, &inside);
    let code_of = |m: i64| 2 + labels.binary_search(&m).expect("collected") as u32;
    // The image row of a padded row, `None` in the padding.
    let image_row = |mut pr: usize| -> Option<usize> {
        let (mut row, mut scale) = (0, 1);
        for a in (0..ndim - 1).rev() {
            let c = (pr % grid.padded[a])
                .checked_sub(grid.offset[a])
                .filter(|&c| c < grid.shape[a])?;
            pr /= grid.padded[a];
            row += c * scale;
            scale *= grid.shape[a];
        }
        Some(row)
    };
    let mut state = zeroed_u32(total);
    let mut keys = zeroed_u64(total);
    state
        .par_chunks_mut(pnx)
        .zip(keys.par_chunks_mut(pnx))
        .enumerate()
        .for_each(|(pr, (codes, heights))| {
            let Some(row) = image_row(pr) else { return };
            let (mut last, mut code) = (0, FREE);
            for x in 0..nx {
                let i = row * nx + x;
                if inside(i) {
                    let m = markers[i];
                    if m != last {
                        (last, code) = (m, if m == 0 { FREE } else { code_of(m) });
                    }
                    codes[ox + x] = code;
                    heights[ox + x] = key_of(image[i]);
                }
            }
        });
    // The markers in raster order (scikit-image pushes them so).
    let seeds: Vec<Seed> = state
        .par_chunks(pnx)
        .enumerate()
        .flat_map_iter(|(pr, row)| {
            let (state, keys) = (&state, &keys);
            row.iter().enumerate().filter(|c| *c.1 > FREE).map(move |(x, _)| {
                let at = pr * pnx + x;
                let frontier = grid
                    .neighbours
                    .iter()
                    .any(|&o| state[at.wrapping_add_signed(o)] == FREE);
                Seed {
                    key: keys[at],
                    at: at as u32,
                    frontier,
                }
            })
        })
        .collect();
    let contested = |component: &(dyn Fn(&Seed) -> u32 + Sync)| -> Option<u64> {
        let mark = |map: &mut HashMap<(u64, u32), u32>, key, code| {
            let held = map.entry(key).or_insert(code);
            if *held != code {
                *held = CONTESTED;
            }
        };
        seeds
            .par_chunks(1 << 16)
            .fold(HashMap::new, |mut map, chunk| {
                for s in chunk.iter().filter(|s| s.frontier) {
                    mark(&mut map, (s.key, component(s)), state[s.at as usize]);
                }
                map
            })
            .reduce(HashMap::new, |mut a, b| {
                for (key, code) in b {
                    mark(&mut a, key, code);
                }
                a
            })
            .into_iter()
            .filter(|e| e.1 == CONTESTED)
            .map(|e| e.0.0)
            .max()
    };
    let mut highest_tie = contested(&|_| 0);
    if highest_tie.is_some()
        && let Some(components) = mask_components(grid, &state)
    {
        highest_tie = contested(&|s: &Seed| components[s.at as usize]);
    }
    let mut queue = FifoRadixQueue::<u32>::new();
    if let Some(tie) = highest_tie {
        let mut heap = ArrayHeap::with_capacity(seeds.len(), PLACEHOLDER);
        let mut held = 0usize;
        for s in &seeds {
            if s.key <= tie {
                heap.push(Aged {
                    key: s.key,
                    age: 0,
                    at: s.at,
                });
                held += 1;
            } else {
                heap.push(PLACEHOLDER);
                if s.frontier {
                    queue.push(s.key, s.at);
                }
            }
        }
        let mut age = 0u32;
        while held > 0 {
            let e = heap.pop().expect("real items come before placeholders");
            held -= 1;
            if let Some(next) = heap.peek() {
                fetch_neighbourhood(grid, &state, &keys, next.at);
            }
            let code = state[e.at as usize];
            for &o in grid.neighbours {
                let n = (e.at as usize).wrapping_add_signed(o);
                if state[n] == FREE {
                    state[n] = code;
                    let key = keys[n].max(e.key);
                    age += 1;
                    if key < tie {
                        heap.push(Aged { key, age, at: n as u32 });
                        held += 1;
                    } else {
                        heap.push(PLACEHOLDER);
                        queue.push(key, n as u32);
                    }
                }
            }
        }
    } else {
        for s in seeds.iter().filter(|s| s.frontier) {
            queue.push(s.key, s.at);
        }
    }
    drop(seeds);
    // Flooding never goes down: a sample costs at least what the one it came from did.
    while let Some((key, at)) = queue.pop() {
        // The level order scatters the samples over the volume: while this one floods, the
        // next one's neighbourhood is on its way from memory.
        if let Some(next) = queue.peek() {
            fetch_neighbourhood(grid, &state, &keys, next);
        }
        let code = state[at as usize];
        for &o in grid.neighbours {
            let n = (at as usize).wrapping_add_signed(o);
            if state[n] == FREE {
                state[n] = code;
                queue.push(keys[n].max(key), n as u32);
            }
        }
    }
    drop(keys);
    let table: Vec<i64> = [0, 0].into_iter().chain(labels).collect();
    let mut out = vec![0i64; image.len()];
    out.par_chunks_mut(nx).enumerate().for_each(|(row, labels)| {
        // The padded start of image row `row`.
        let (mut r, mut at) = (row, ox);
        let mut stride = pnx;
        for a in (0..ndim - 1).rev() {
            at += (r % grid.shape[a] + grid.offset[a]) * stride;
            r /= grid.shape[a];
            stride *= grid.padded[a];
        }
        for (label, &code) in labels.iter_mut().zip(&state[at..at + nx]) {
            *label = table[code as usize];
        }
    });
    out
}

/// Prefetches the state and heights of a sample's neighbours (placeholders point at 0).
#[inline(always)]
fn fetch_neighbourhood(grid: &Grid<'_>, state: &[u32], keys: &[u64], at: u32) {
    for &o in grid.neighbours {
        let n = (at as usize).wrapping_add_signed(o);
        if let (Some(s), Some(k)) = (state.get(n), keys.get(n)) {
            prefetch(s);
            prefetch(k);
        }
    }
}

/// The markers' distinct non-zero labels inside the mask, sorted.
pub(super) fn distinct_labels(markers: &[i64], inside: &(dyn Fn(usize) -> bool + Sync)) -> Vec<i64> {
    const CHUNK: usize = 1 << 16;
    markers
        .par_chunks(CHUNK)
        .enumerate()
        .fold(Vec::new, |mut found, (c, chunk)| {
            let mut last = 0;
            for (i, &m) in chunk.iter().enumerate() {
                if m != 0 && m != last && inside(c * CHUNK + i) {
                    found.push(m);
                    last = m;
                }
            }
            found.sort_unstable();
            found.dedup();
            found
        })
        .reduce(Vec::new, |mut a, b| {
            a.extend(b);
            a.sort_unstable();
            a.dedup();
            a
        })
}

/// Connected components of the padded mask under the footprint, or `None` when `label`
/// cannot take the footprint.
fn mask_components(grid: &Grid<'_>, state: &[u32]) -> Option<Vec<u32>> {
    let footprint = grid.footprint.as_ref()?;
    let inside: Vec<bool> = state.par_iter().map(|&c| c != OUTSIDE).collect();
    let inside = ArrayViewD::from_shape(IxDyn(grid.padded), &inside).ok()?;
    let labels = super::label(inside, Some(footprint.view())).ok()?;
    Some(labels.labels.into_raw_vec_and_offset().0)
}

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
use crate::memory::zeroed_u32;
use crate::ndimage::c_strides;

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
}

/// An order-preserving `u64` of a (non-NaN) height; -0 and +0 are one height, as for `<`.
fn key_of(value: f64) -> u64 {
    let bits = if value == 0.0 { 0 } else { value.to_bits() };
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// The height of a [`key_of`] key.
fn height_of(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key & !(1 << 63) } else { !key })
}

/// [`key_of`] for float32 heights, in the same order: the 4-byte cells' queue holds 8-byte
/// items instead of 16.
#[inline(always)]
fn key32(value: f32) -> u32 {
    let bits = if value == 0.0 { 0 } else { value.to_bits() };
    if bits >> 31 == 1 { !bits } else { bits | 1 << 31 }
}

impl Grid<'_> {
    /// The padded start of image row `row` (all axes but the last).
    pub(super) fn row_start(&self, row: usize) -> usize {
        let ndim = self.shape.len();
        let (mut r, mut at, mut stride) = (row, self.offset[ndim - 1], self.padded[ndim - 1]);
        for a in (0..ndim - 1).rev() {
            at += (r % self.shape[a] + self.offset[a]) * stride;
            r /= self.shape[a];
            stride *= self.padded[a];
        }
        at
    }

    /// The flat offset in the image of each neighbour (the padded offsets' twins).
    fn image_offsets(&self) -> Vec<isize> {
        let ndim = self.shape.len();
        let (strides, padded_strides) = (c_strides(self.shape), c_strides(self.padded));
        self.neighbours
            .iter()
            .map(|&o| {
                // The padded offset's steps along each axis: each step is at most the axis's
                // padding, so the rest is below half the axis's stride and rounding recovers it.
                let (mut rest, mut flat) = (o, 0);
                for a in 0..ndim {
                    let stride = padded_strides[a] as isize;
                    let step = (rest as f64 / stride as f64).round() as isize;
                    rest -= step * stride;
                    flat += step * strides[a] as isize;
                }
                flat
            })
            .collect()
    }
}

/// Floods `image` (no NaN) from `markers` inside `mask`; the labels in the image's layout and
/// the markers' type. The padded grid must hold fewer than `u32::MAX - 2` samples.
/// `exact_f32`: float32 holds every height exactly.
pub(crate) fn flood<M: Copy + Ord + Default + Send + Sync>(
    grid: &Grid<'_>,
    image: &[f64],
    markers: &[M],
    mask: Option<&[bool]>,
    exact_f32: bool,
) -> Vec<M> {
    if image.is_empty() {
        return Vec::new();
    }
    let ndim = grid.shape.len();
    let nx = grid.shape[ndim - 1];
    let total: usize = grid.padded.iter().product();
    let inside = |i: usize| mask.is_none_or(|m| m[i]);
    let labels = distinct_labels(markers, &inside);
    let code_of = |m: M| 2 + labels.binary_search(&m).expect("collected") as u32;
    let mut state = zeroed_u32(total);
    let rows = image.len() / nx;
    {
        let shared = SharedCodes(state.as_mut_ptr());
        (0..rows).into_par_iter().for_each(|row| {
            let start = grid.row_start(row);
            // SAFETY: image rows map to disjoint padded rows inside `state`.
            let codes = unsafe { std::slice::from_raw_parts_mut(shared.at(start), nx) };
            let (mut last, mut code) = (M::default(), FREE);
            for (x, c) in codes.iter_mut().enumerate() {
                let i = row * nx + x;
                if inside(i) {
                    let m = markers[i];
                    if m != last {
                        (last, code) = (m, if m == M::default() { FREE } else { code_of(m) });
                    }
                    *c = code;
                }
            }
        });
    }
    let offsets = grid.image_offsets();
    let image_index = ImageIndex::new(grid, rows);
    // Frontier markers (a free neighbour) in raster order; the others flood nothing.
    let (seeds, marker_count): (Vec<Seed>, usize) = {
        let per_row: Vec<(Vec<Seed>, usize)> = (0..rows)
            .into_par_iter()
            .map(|row| {
                let start = grid.row_start(row);
                let mut found = Vec::new();
                let mut count = 0;
                for x in 0..nx {
                    let at = start + x;
                    if state[at] > FREE {
                        count += 1;
                        if grid
                            .neighbours
                            .iter()
                            .any(|&o| state[at.wrapping_add_signed(o)] == FREE)
                        {
                            found.push(Seed {
                                key: key_of(image[row * nx + x]),
                                at: at as u32,
                            });
                        }
                    }
                }
                (found, count)
            })
            .collect();
        let count = per_row.iter().map(|r| r.1).sum();
        (per_row.into_iter().flat_map(|r| r.0).collect(), count)
    };
    let contested = |component: &(dyn Fn(&Seed) -> u32 + Sync)| -> Option<u64> {
        let mark = |map: &mut HashMap<(u64, u32), u32>, key, code| {
            let held = map.entry(key).or_insert(code);
            if *held != code {
                *held = CONTESTED;
            }
        };
        seeds
            .par_chunks(1 << 12)
            .fold(HashMap::new, |mut map, chunk| {
                for s in chunk {
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
    let table: Vec<M> = [M::default(), M::default()].into_iter().chain(labels).collect();
    if let Some(tie) = highest_tie {
        let flood = Flood {
            grid,
            image,
            offsets: &offsets,
            image_index: &image_index,
        };
        flood.replay_heap(&mut state, &mut queue, &seeds, marker_count, tie);
        drop(seeds);
        // The replay did most of the flood; the rest runs where it is.
        flood.radix(&mut state, queue);
        return labels_of(grid, image.len(), &table, &state, |&code| code);
    }
    // Heights that float32 holds exactly (CT values, float32 images) fit 4-byte cells with up
    // to 2^22 labels; other heights take 16-byte ones.
    if exact_f32 && table.len() < PACKED_CODES as usize {
        return packed_flood(grid, image, state, rows, &seeds, &table);
    }
    for s in &seeds {
        queue.push(s.key, s.at);
    }
    drop(seeds);
    radix_flood(grid, image, state, rows, queue, &table)
}

/// The labels in the image's layout from the padded grid's `codes` (`table[code]`).
fn labels_of<M: Copy + Default + Send + Sync, T: Sync>(
    grid: &Grid<'_>,
    len: usize,
    table: &[M],
    codes: &[T],
    code: impl Fn(&T) -> u32 + Sync,
) -> Vec<M> {
    let nx = grid.shape[grid.shape.len() - 1];
    // Written in parallel on huge pages where possible: the first touch of a fresh volume by
    // 4 KiB faults cost this VM as much as the rest of the copy.
    let mut out: Vec<M> = Vec::with_capacity(len);
    crate::memory::advise_huge_capacity(&mut out);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(nx)
        .enumerate()
        .for_each(|(row, labels)| {
            let at = grid.row_start(row);
            for (label, c) in labels.iter_mut().zip(&codes[at..at + nx]) {
                label.write(table[code(c) as usize]);
            }
        });
    // SAFETY: every row, so every element below `len`, was written.
    unsafe { out.set_len(len) };
    out
}

/// How many places ahead of the sample being flooded the flood asks for a neighbourhood: one
/// place leaves a cache miss about one pop to arrive, and a pop is shorter than a miss
/// (measured on the 2-core Xeon VM: 6–10 places 15–20 % faster than one; the queue knows that
/// far ahead while a run, a key's items or its lowest buckets hold that many — on the harness's
/// watershed row, all but 0.4 % of pops since the lowest buckets count; on the 2-core EPYC VM
/// 8 places beat 4, 16, 32 and 64).
const FETCH_AHEAD: usize = 8;

/// The radix queue's flood from the seeds in `queue`, on cells (see [`Cell`]); the labels in
/// the image's layout.
fn radix_flood<M: Copy + Default + Send + Sync>(
    grid: &Grid<'_>,
    image: &[f64],
    state: Vec<u32>,
    rows: usize,
    mut queue: FifoRadixQueue<u32>,
    table: &[M],
) -> Vec<M> {
    let mut cells = cells_of(grid, image, &state, rows);
    drop(state);
    // Flooding never goes down: a sample costs at least what the one it came from did.
    while let Some((key, at)) = queue.pop() {
        // The level order scatters the samples over the volume: while this one floods, the
        // neighbourhoods of the next ones are on their way from memory.
        if let Some(next) = queue.ahead(FETCH_AHEAD).or_else(|| queue.peek()) {
            fetch_neighbourhood(grid.neighbours, &cells, next);
        }
        let code = cells[at as usize].code;
        for &o in grid.neighbours {
            let n = (at as usize).wrapping_add_signed(o);
            let cell = &mut cells[n];
            if cell.code == FREE {
                cell.code = code;
                queue.push(cell.key.max(key), n as u32);
            }
        }
    }
    labels_of(grid, image.len(), table, &cells, |c| c.code)
}

/// The radix flood on 4-byte cells: a free sample holds its float32 height's bits (never NaN),
/// a claimed one a quiet NaN with its state code in the payload, and outside samples all ones,
/// each stored inverted (so that zeroed memory is outside). A quarter of [`Cell`]'s bytes: the
/// flood waits on cache lines, and more samples fit each line and the caches (on the 2-core
/// VM the loop ran about 7 % faster than on 8-byte cells; bricks of 4 × 2 × 2 cells per line,
/// fewer lines per sample, gained nothing more). The cells take the state's place.
fn packed_flood<M: Copy + Default + Send + Sync>(
    grid: &Grid<'_>,
    image: &[f64],
    mut state: Vec<u32>,
    rows: usize,
    seeds: &[Seed],
    table: &[M],
) -> Vec<M> {
    let nx = grid.shape[grid.shape.len() - 1];
    let packed = |code: u32, h: f64| !match code {
        OUTSIDE => PACKED_OUTSIDE,
        FREE => (h as f32).to_bits(),
        code => PACKED_CLAIMED | code,
    };
    let decode = |&c: &u32| {
        let bits = !c;
        match bits {
            PACKED_OUTSIDE => OUTSIDE,
            _ if is_height(bits) => FREE,
            _ => bits & (PACKED_CODES - 1),
        }
    };
    let mut queue = FifoRadixQueue::<u32, u32>::new();
    {
        // In the state's place: padding stays zero, which is OUTSIDE in both.
        let shared = SharedCodes(state.as_mut_ptr());
        (0..rows).into_par_iter().for_each(|row| {
            let start = grid.row_start(row);
            // SAFETY: image rows map to disjoint padded rows inside `state`.
            let row_cells = unsafe { std::slice::from_raw_parts_mut(shared.at(start), nx) };
            for (cell, &h) in row_cells.iter_mut().zip(&image[row * nx..(row + 1) * nx]) {
                *cell = packed(*cell, h);
            }
        });
    }
    for s in seeds {
        queue.push(u64::from(key32(height_of(s.key) as f32)), s.at);
    }
    flood_cells(&mut state, queue, grid.neighbours);
    labels_of(grid, image.len(), table, &state, decode)
}

/// Whether packed cell bits (not inverted) are a height, not NaN.
#[inline(always)]
fn is_height(bits: u32) -> bool {
    bits & 0x7fff_ffff <= 0x7f80_0000
}

/// The packed cells' flood from the seeds in `queue`.
fn flood_cells(cells: &mut [u32], mut queue: FifoRadixQueue<u32, u32>, neighbours: &[isize]) {
    while let Some((key, at)) = queue.pop() {
        // The level order scatters the samples over the volume: while this one floods, the
        // neighbourhoods of the next ones are on their way from memory.
        if let Some(next) = queue.ahead(FETCH_AHEAD).or_else(|| queue.peek()) {
            fetch_neighbourhood(neighbours, cells, next);
        }
        let claimed = cells[at as usize];
        for &o in neighbours {
            let n = (at as usize).wrapping_add_signed(o);
            let bits = !cells[n];
            if is_height(bits) {
                cells[n] = claimed;
                // Flooding never goes down: a sample costs at least what the one it came from did.
                queue.push(u64::from(key32(f32::from_bits(bits))).max(key), n as u32);
            }
        }
    }
}

/// The packed cells' tags: a claimed sample's quiet NaN (its code in the low 22 bits, below
/// `PACKED_CODES`), and an outside sample's bits.
const PACKED_CLAIMED: u32 = 0x7fc0_0000;
const PACKED_CODES: u32 = 1 << 22;
const PACKED_OUTSIDE: u32 = u32::MAX;

/// A sample of the radix flood: its state code and, for a free sample, its height's key, side
/// by side, so that a neighbour's code and height come in one cache line instead of two (the
/// flood's order scatters its samples over the volume, and lines in flight are its limit).
#[derive(Clone, Copy)]
#[repr(C)]
struct Cell {
    key: u64,
    code: u32,
}

// SAFETY: all-zero bytes are a valid cell (key 0, the code OUTSIDE).
unsafe impl bytemuck::Zeroable for Cell {}

/// The padded grid's cells: the codes of `state`, with the heights of the free samples.
fn cells_of(grid: &Grid<'_>, image: &[f64], state: &[u32], rows: usize) -> Vec<Cell> {
    let nx = grid.shape[grid.shape.len() - 1];
    // Zeroed: padding and the rows outside the image stay OUTSIDE.
    let mut cells: Vec<Cell> = bytemuck::zeroed_vec(state.len());
    crate::memory::advise_huge_capacity(&mut cells);
    let shared = SharedCells(cells.as_mut_ptr());
    (0..rows).into_par_iter().for_each(|row| {
        let start = grid.row_start(row);
        // SAFETY: image rows map to disjoint padded rows inside `cells`.
        let row_cells = unsafe { std::slice::from_raw_parts_mut(shared.at(start), nx) };
        let heights = &image[row * nx..(row + 1) * nx];
        for ((cell, &code), &h) in row_cells.iter_mut().zip(&state[start..start + nx]).zip(heights) {
            *cell = Cell {
                key: if code == FREE { key_of(h) } else { 0 },
                code,
            };
        }
    });
    cells
}

struct SharedCells<C>(*mut C);
// SAFETY: writers touch disjoint rows (see the one use).
unsafe impl<C> Sync for SharedCells<C> {}
impl<C> SharedCells<C> {
    fn at(&self, offset: usize) -> *mut C {
        // SAFETY: the caller keeps `offset` inside the allocation.
        unsafe { self.0.add(offset) }
    }
}

/// The image index of a sample of the padded grid: each padded row's image row start.
struct ImageIndex {
    row_starts: Vec<u32>,
    padded_nx: usize,
    offset_x: usize,
}

impl ImageIndex {
    fn new(grid: &Grid<'_>, rows: usize) -> Self {
        let ndim = grid.shape.len();
        let (nx, padded_nx) = (grid.shape[ndim - 1], grid.padded[ndim - 1]);
        let mut row_starts = vec![u32::MAX; grid.padded.iter().product::<usize>() / padded_nx];
        for row in 0..rows {
            row_starts[grid.row_start(row) / padded_nx] = (row * nx) as u32;
        }
        ImageIndex {
            row_starts,
            padded_nx,
            offset_x: grid.offset[ndim - 1],
        }
    }

    #[inline(always)]
    fn of(&self, at: usize) -> usize {
        self.row_starts[at / self.padded_nx] as usize + at % self.padded_nx - self.offset_x
    }
}

/// What the heap replay reads.
struct Flood<'a, 'g> {
    grid: &'a Grid<'g>,
    image: &'a [f64],
    offsets: &'a [isize],
    image_index: &'a ImageIndex,
}

impl Flood<'_, '_> {
    /// The radix queue's flood of what the heap replay left, on the padded codes and the image
    /// as they are (building cells would cost more than the little flood left saves).
    fn radix(&self, state: &mut [u32], mut queue: FifoRadixQueue<u32>) {
        while let Some((key, at)) = queue.pop() {
            if let Some(next) = queue.ahead(FETCH_AHEAD).or_else(|| queue.peek()) {
                fetch_neighbourhood(self.grid.neighbours, state, next);
                fetch_neighbourhood(self.offsets, self.image, self.image_index.of(next as usize) as u32);
            }
            let code = state[at as usize];
            let index = self.image_index.of(at as usize);
            for (&o, &step) in self.grid.neighbours.iter().zip(self.offsets) {
                let n = (at as usize).wrapping_add_signed(o);
                if state[n] == FREE {
                    state[n] = code;
                    let i = index.wrapping_add_signed(step);
                    queue.push(key_of(self.image[i]).max(key), n as u32);
                }
            }
        }
    }

    /// scikit-image's heap, replayed until the highest contested height (`tie`) has left it:
    /// every marker enters in raster order (a placeholder above `tie`), samples below `tie`
    /// enter it and the rest only the radix `queue`, which takes over afterwards.
    fn replay_heap(
        &self,
        state: &mut [u32],
        queue: &mut FifoRadixQueue<u32>,
        seeds: &[Seed],
        marker_count: usize,
        tie: u64,
    ) {
        let mut heap = ArrayHeap::with_capacity(marker_count, PLACEHOLDER);
        let mut held = 0usize;
        let mut frontier = seeds.iter().peekable();
        for (at, &code) in state.iter().enumerate() {
            if code <= FREE {
                continue;
            }
            let (key, seed) = match frontier.next_if(|s| s.at as usize == at) {
                Some(s) => (s.key, Some(s)),
                None => (key_of(self.image[self.image_index.of(at)]), None),
            };
            if key <= tie {
                heap.push(Aged {
                    key,
                    age: 0,
                    at: at as u32,
                });
                held += 1;
            } else {
                heap.push_greatest(PLACEHOLDER);
                if let Some(s) = seed {
                    queue.push(s.key, s.at);
                }
            }
        }
        let mut age = 0u32;
        while held > 0 {
            let e = heap.pop().expect("real items come before placeholders");
            held -= 1;
            if let Some(next) = heap.peek().filter(|n| n.key != u64::MAX) {
                fetch_neighbourhood(self.grid.neighbours, state, next.at);
                // Markers are mostly interior (nothing to flood, no heights read).
                if next.age != 0 {
                    fetch_neighbourhood(self.offsets, self.image, self.image_index.of(next.at as usize) as u32);
                }
            }
            let code = state[e.at as usize];
            let index = self.image_index.of(e.at as usize);
            for (&o, &step) in self.grid.neighbours.iter().zip(self.offsets) {
                let n = (e.at as usize).wrapping_add_signed(o);
                if state[n] == FREE {
                    state[n] = code;
                    let i = index.wrapping_add_signed(step);
                    let key = key_of(self.image[i]).max(e.key);
                    age += 1;
                    if key < tie {
                        heap.push(Aged { key, age, at: n as u32 });
                        held += 1;
                    } else {
                        heap.push_greatest(PLACEHOLDER);
                        queue.push(key, n as u32);
                    }
                }
            }
        }
    }
}

struct SharedCodes(*mut u32);
// SAFETY: writers touch disjoint rows (see the one use).
unsafe impl Sync for SharedCodes {}
impl SharedCodes {
    fn at(&self, offset: usize) -> *mut u32 {
        // SAFETY: the caller keeps `offset` inside the allocation.
        unsafe { self.0.add(offset) }
    }
}

/// Prefetches a sample's neighbours in `values` (the padded state with the grid's offsets, or
/// the image with the image's; indices outside are skipped).
#[inline(always)]
fn fetch_neighbourhood<T>(offsets: &[isize], values: &[T], at: u32) {
    for &o in offsets {
        if let Some(v) = values.get((at as usize).wrapping_add_signed(o)) {
            prefetch(v);
        }
    }
}

/// The markers' distinct non-zero labels inside the mask, sorted.
pub(super) fn distinct_labels<M: Copy + Ord + Default + Send + Sync>(
    markers: &[M],
    inside: &(dyn Fn(usize) -> bool + Sync),
) -> Vec<M> {
    const CHUNK: usize = 1 << 16;
    markers
        .par_chunks(CHUNK)
        .enumerate()
        .fold(Vec::new, |mut found, (c, chunk)| {
            let mut last = M::default();
            for (i, &m) in chunk.iter().enumerate() {
                if m != M::default() && m != last && inside(c * CHUNK + i) {
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

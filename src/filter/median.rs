//! Median filter, exact, over a box neighbourhood — `scipy.ndimage.median_filter(size=2r+1)`.
//!
//! * radius per axis (one value or one per axis), the neighbourhood is `(2rz+1)(2ry+1)(2rx+1)`
//!   voxels (for a 2D image `(2ry+1)(2rx+1)`); every [`BoundaryMode`] (default `Reflect`, as
//!   scipy);
//! * NaN: as in scipy, a neighbourhood holding NaN has no defined median; the result there is
//!   unspecified (it is never a panic).
//!
//! CPU path: every output row gets its neighbour rows extended along x
//! (`filter/neighbourhood.rs`); 32 voxels at a time share sorted columns, prune the candidates
//! by rank and select their median with a merge network (see [`CpuPlan`]), written as
//! lane-wise min/max on `[f32; 32]` so that it compiles to SIMD with no branches.
//! Neighbourhoods above 125 voxels use a per-voxel quickselect.
//!
//! GPU path (`shaders/filter/median.wgsl`): 8×8×4 workgroups stage their neighbourhood in
//! workgroup memory (radius ≤ 3). Staged neighbourhoods of at most 125 voxels (5×5×5) run the
//! same forgetful selection, generated as straight-line code on scalars (no private arrays, no
//! dynamic indexing: ~4,000 min/max for 5×5×5, all in registers); larger ones, and radii beyond
//! the staging radius, find the median by bisection on the f32 bit order (32 counting passes
//! over the neighbourhood, exact for any radius). On lavapipe the 5×5×5 network took 275 ms on
//! 16×128×128 where the bisection took 36.4 s (3×3×3: 67 ms).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use ndarray::{Array, Array3, ArrayView, ArrayView3};

use crate::backend::Backend;
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::correlate1d::check_mode;
use crate::filter::neighbourhood::{NeighbourRows, map_rows};
use crate::filter::{Filter, Spatial, check_ndim};
use crate::gpu::{Binding, TILE, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_slab, wgsl};

/// Largest radius along any axis.
pub const MAX_RADIUS: usize = 25;
/// Neighbourhoods up to this size use sorted columns and a selection network on the CPU (a
/// 5×5×5 box); larger ones a per-voxel quickselect.
const CPU_NETWORK_MAX: usize = 125;
/// Neighbourhoods up to this size use the generated selection network on the GPU.
const GPU_NETWORK_MAX: usize = 125;
/// Radius up to which the GPU stages the neighbourhood in workgroup memory (`stage.wgsl`).
const GPU_SHARED_RADIUS: usize = 3;
/// Voxels selected together: four AVX2 vectors, so that the dependent min/max chains of the
/// selection run four at a time (one chain is latency-bound).
const LANES: usize = 32;

/// Twin of `Params` in `median.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rz: u32,
    ry: u32,
    rx: u32,
    mode: u32,
    cval: f32,
    use_cache: u32,
    _pad: [u32; 2],
}

/// The median filter.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::Median;
/// let mut image = ndarray::Array2::<f32>::zeros((5, 5));
/// image[[2, 2]] = 100.0; // an isolated outlier
/// let out = Median::new(&[1]).apply(&Backend::Cpu, image.view())?;
/// assert_eq!(out[[2, 2]], 0.0);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Median {
    radius: Vec<usize>,
    mode: BoundaryMode,
}

impl Median {
    /// Radius in voxels: one value for every axis, or one per axis (`(y, x)` or `(z, y, x)`).
    /// The neighbourhood is `2r + 1` voxels wide along each axis.
    pub fn new(radius: &[usize]) -> Self {
        Median {
            radius: radius.to_vec(),
            mode: BoundaryMode::default(),
        }
    }

    /// Boundary mode (default [`BoundaryMode::Reflect`], as scipy).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self, ndim: usize) -> Result<[usize; 3]> {
        check_ndim(ndim)?;
        let r: Vec<f64> = self.radius.iter().map(|&r| r as f64).collect();
        let r = super::per_axis("radius", &r, ndim, 0.0)?;
        let r = [r[0] as usize, r[1] as usize, r[2] as usize];
        if let Some(&bad) = r.iter().find(|&&r| r > MAX_RADIUS) {
            return Err(Error::param(
                "radius",
                format!("radius {bad} is larger than the supported {MAX_RADIUS}; downsample first"),
            ));
        }
        check_mode(self.mode)?;
        Ok(r)
    }
}

/// `scipy.ndimage.median_filter(input, size=2*radius+1)` (mode reflect) on `backend`.
pub fn median_filter<D: Spatial>(
    backend: &Backend,
    input: ArrayView<'_, f32, D>,
    radius: usize,
) -> Result<Array<f32, D>> {
    Median::new(&[radius]).apply(backend, input)
}

impl Filter for Median {
    fn name(&self) -> &'static str {
        "median"
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let r = self.plan(ndim)?;
        Ok(run_cpu(input, r, self.mode))
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let r = self.plan(ndim)?;
        record_gpu(rec, input, r, self.mode)
    }
}

// ---------------------------------------------------------------------------------------------
// CPU path

type Lanes = [f32; LANES];

// `f32::min`/`max` rather than `if a < b`: LLVM turns a select whose operand is already in
// memory into a masked store, which stalls the next load of that slot (measured: 4× slower).
#[inline(always)]
fn vmin(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|i| a[i].min(b[i]))
}

#[inline(always)]
fn vmax(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|i| a[i].max(b[i]))
}

/// How the CPU path selects the median of a `C × W` neighbourhood (`C` voxels along z and y
/// per x offset — a "column" — and `W = 2rx + 1` offsets along x).
///
/// Each column is sorted once per output row and shared by the `W` outputs that read it. For
/// one output the `C × W` matrix of its sorted columns is then sorted along each row (the
/// columns stay sorted), so element `(i, j)` has at least `(i+1)(j+1) - 1` values at or below
/// it and `(C-i)(W-j) - 1` at or above it. Only elements that can be rank `n/2` by those bounds
/// remain candidates — 13 of 27 for a 3×3×3 box, 3 of 9 for 3×3, 71 of 125 for 5×5×5 — and by
/// symmetry the median is the median of the candidates. Each matrix row's candidates are a
/// sorted run; a network of odd–even merges of those runs, cut down to the exchanges the
/// median depends on, selects it ([`median_of_runs`]).
struct CpuPlan {
    c: usize,
    w: usize,
    column_network: Vec<(usize, usize)>,
    row_network: Vec<(usize, usize)>,
    /// For each matrix row `i` that holds candidates: the ranks `j` taken from it.
    candidates: Vec<(usize, Vec<usize>)>,
    count: usize,
    /// The compare-exchanges that bring the median of the candidates to `median_wire`.
    selection: Vec<Exchange>,
    median_wire: usize,
}

/// One step of a selection network on wires `a < b`: both outputs, or only the one a later
/// step (or the median) reads.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Exchange {
    /// `a ← min, b ← max`.
    Both(u16, u16),
    /// `a ← min(a, b)`; `b` is not read again.
    Min(u16, u16),
    /// `b ← max(a, b)`; `a` is not read again.
    Max(u16, u16),
}

impl CpuPlan {
    fn new(r: [usize; 3]) -> CpuPlan {
        let c = (2 * r[0] + 1) * (2 * r[1] + 1);
        let w = 2 * r[2] + 1;
        let n = c * w;
        let k = n / 2;
        let mut candidates = Vec::new();
        let mut count = 0;
        for i in 0..c {
            let js: Vec<usize> = (0..w)
                .filter(|&j| (i + 1) * (j + 1) <= k + 1 && (c - i) * (w - j) <= n - k)
                .collect();
            if !js.is_empty() {
                count += js.len();
                candidates.push((i, js));
            }
        }
        // The candidates of one matrix row are sorted (the row is): merge those runs.
        let mut runs = Vec::new();
        let mut wire = 0;
        for (_, js) in &candidates {
            runs.push((wire..wire + js.len()).collect::<Vec<usize>>());
            wire += js.len();
        }
        let (selection, median_wire) = median_of_runs(runs);
        CpuPlan {
            c,
            w,
            column_network: sorting_network(c),
            row_network: sorting_network(w),
            candidates,
            count,
            selection,
            median_wire,
        }
    }
}

/// Batcher's odd–even merge of two sorted runs of wires of any lengths (Batcher 1968; Knuth,
/// TAOCP vol. 3, §5.3.4): merge the runs' odd-position and even-position elements
/// recursively, then one layer of compare-exchanges between the two results. Returns the wires
/// in sorted order.
fn odd_even_merge(a: &[usize], b: &[usize], network: &mut Vec<(usize, usize)>) -> Vec<usize> {
    if a.is_empty() || b.is_empty() {
        return [a, b].concat();
    }
    if a.len() == 1 && b.len() == 1 {
        network.push((a[0], b[0]));
        return vec![a[0], b[0]];
    }
    let odd = |r: &[usize]| r.iter().step_by(2).copied().collect::<Vec<_>>();
    let even = |r: &[usize]| r.iter().skip(1).step_by(2).copied().collect::<Vec<_>>();
    let w = odd_even_merge(&odd(a), &odd(b), network);
    let v = odd_even_merge(&even(a), &even(b), network);
    let mut out = vec![w[0]];
    let mut i = 0;
    while i < v.len() && i + 1 < w.len() {
        network.push((v[i], w[i + 1]));
        out.extend([v[i], w[i + 1]]);
        i += 1;
    }
    out.extend_from_slice(&v[i..]);
    out.extend_from_slice(&w[i + 1..]);
    out
}

/// A network that brings the median of the values on `runs` (each run's wires hold sorted
/// values) to the returned wire: the runs merged two by two, shortest first, then only the
/// compare-exchanges the median depends on (for 5×5×5: 483 of 609, against ~1,300 for the
/// forgetful selection of the same 71 candidates).
fn median_of_runs(mut runs: Vec<Vec<usize>>) -> (Vec<Exchange>, usize) {
    let mut network = Vec::new();
    while runs.len() > 1 {
        runs.sort_by_key(|r| std::cmp::Reverse(r.len()));
        let (a, b) = (runs.pop().expect("two runs"), runs.pop().expect("two runs"));
        runs.push(odd_even_merge(&a, &b, &mut network));
    }
    let sorted = runs.pop().unwrap_or_default();
    let median = sorted[sorted.len() / 2];
    // Walk back from the median: keep an exchange if a wire it writes is read later.
    let mut needed = vec![false; sorted.len()];
    needed[median] = true;
    let mut kept = Vec::new();
    for &(a, b) in network.iter().rev() {
        let (x, y) = (a as u16, b as u16);
        match (needed[a], needed[b]) {
            (false, false) => continue,
            (true, true) => kept.push(Exchange::Both(x, y)),
            (true, false) => kept.push(Exchange::Min(x, y)),
            (false, true) => kept.push(Exchange::Max(x, y)),
        }
        needed[a] = true;
        needed[b] = true;
    }
    kept.reverse();
    (kept, median)
}

/// Runs a selection network lane-wise.
#[inline(always)]
fn select(v: &mut [Lanes], network: &[Exchange]) {
    for &e in network {
        match e {
            Exchange::Both(a, b) => {
                let (x, y) = (v[a as usize], v[b as usize]);
                v[a as usize] = vmin(x, y);
                v[b as usize] = vmax(x, y);
            }
            Exchange::Min(a, b) => v[a as usize] = vmin(v[a as usize], v[b as usize]),
            Exchange::Max(a, b) => v[b as usize] = vmax(v[a as usize], v[b as usize]),
        }
    }
}

/// Batcher's odd–even merge sort as a list of compare-exchange pairs, for any `n` (Knuth, TAOCP
/// vol. 3, 5.3.4).
fn sorting_network(n: usize) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut p = 1;
    while p < n {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < n {
                for i in 0..k.min(n - j - k) {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        pairs.push((i + j, i + j + k));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    pairs
}

#[inline(always)]
fn compare_exchange(v: &mut [Lanes], network: &[(usize, usize)]) {
    for &(a, b) in network {
        let (x, y) = (v[a], v[b]);
        v[a] = vmin(x, y);
        v[b] = vmax(x, y);
    }
}

/// Per-thread working memory of the CPU path.
#[derive(Default)]
struct Scratch {
    /// Sorted columns of the current output row, `C` rows of the extended row's length.
    columns: Vec<f32>,
    values: Vec<f32>,
}

fn run_cpu(input: ArrayView3<'_, f32>, r: [usize; 3], mode: BoundaryMode) -> Array3<f32> {
    let n = (2 * r[0] + 1) * (2 * r[1] + 1) * (2 * r[2] + 1);
    if n > CPU_NETWORK_MAX {
        return map_rows(input, r, mode, Scratch::default, |_, _, rows, scratch, out| {
            quickselect_row(rows, r[2], &mut scratch.values, out)
        });
    }
    let plan = CpuPlan::new(r);
    map_rows(input, r, mode, Scratch::default, |_, _, rows, scratch, out| {
        median_row(&plan, rows, scratch, out)
    })
}

/// Large neighbourhoods: a quickselect per voxel.
fn quickselect_row(rows: &NeighbourRows<'_>, rx: usize, v: &mut Vec<f32>, out: &mut [f32]) {
    let width = 2 * rx + 1;
    let n = rows.count * width;
    for (x, o) in out.iter_mut().enumerate() {
        v.clear();
        for i in 0..rows.count {
            v.extend_from_slice(&rows.row(i)[x..x + width]);
        }
        let (_, m, _) = v.select_nth_unstable_by(n / 2, |a, b| a.total_cmp(b));
        *o = *m;
    }
}

fn median_row(plan: &CpuPlan, rows: &NeighbourRows<'_>, scratch: &mut Scratch, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { median_row_avx2(plan, rows, scratch, out) };
            return;
        }
    }
    median_row_generic(plan, rows, scratch, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn median_row_avx2(plan: &CpuPlan, rows: &NeighbourRows<'_>, scratch: &mut Scratch, out: &mut [f32]) {
    median_row_generic(plan, rows, scratch, out)
}

#[inline(always)]
fn median_row_generic(plan: &CpuPlan, rows: &NeighbourRows<'_>, scratch: &mut Scratch, out: &mut [f32]) {
    let nx = out.len();
    let stride = rows.stride();
    let (c, w) = (plan.c, plan.w);
    scratch.columns.resize(c * stride, 0.0);
    let columns = &mut scratch.columns;
    let mut v = [[0.0f32; LANES]; CPU_NETWORK_MAX];

    // 1. Sort the columns of every x position of the extended row, LANES at a time.
    for x0 in (0..nx + w - 1).step_by(LANES) {
        for (i, lanes) in v[..c].iter_mut().enumerate() {
            lanes.copy_from_slice(&rows.row(i)[x0..x0 + LANES]);
        }
        compare_exchange(&mut v[..c], &plan.column_network);
        for (i, lanes) in v[..c].iter().enumerate() {
            columns[i * stride + x0..i * stride + x0 + LANES].copy_from_slice(lanes);
        }
    }

    // 2. Per output chunk: sort the rows of the matrix that hold candidates, gather the
    //    candidates, select their median.
    let mut row = [[0.0f32; LANES]; 2 * MAX_RADIUS + 1];
    for x0 in (0..nx).step_by(LANES) {
        let mut k = 0;
        for (i, js) in &plan.candidates {
            let base = i * stride + x0;
            for (dx, lanes) in row[..w].iter_mut().enumerate() {
                lanes.copy_from_slice(&columns[base + dx..base + dx + LANES]);
            }
            compare_exchange(&mut row[..w], &plan.row_network);
            for &j in js {
                v[k] = row[j];
                k += 1;
            }
        }
        select(&mut v[..plan.count], &plan.selection);
        let m = v[plan.median_wire];
        let take = LANES.min(nx - x0);
        out[x0..x0 + take].copy_from_slice(&m[..take]);
    }
}

// ---------------------------------------------------------------------------------------------
// GPU path

const SHADER: &str = include_str!("../../shaders/filter/median.wgsl");

/// What both median kernels bind.
const BINDINGS: &[Binding] = &[TILE, uniform::<Params>(), Binding::Read, Binding::ReadWrite];

/// The kernel for radius `r`: the selection network generated for small neighbourhoods, the
/// bisection kernel otherwise. Generated sources are built once per process.
pub(crate) fn kernel(r: [usize; 3]) -> &'static KernelSpec {
    static BISECT: KernelSpec = KernelSpec {
        name: "filter/median_bisect",
        sources: &[
            wgsl::BOUNDARY,
            wgsl::TILE,
            wgsl::STAGE,
            "const NETWORK: bool = false;\nfn network_median(lx: i32, ly: i32, lz: i32, sx: i32, sy: i32) -> f32 { return 0.0; }\n",
            SHADER,
        ],
        entry: "median",
        bindings: BINDINGS,
        constants: &[],
    };
    let n = (2 * r[0] + 1) * (2 * r[1] + 1) * (2 * r[2] + 1);
    // The network reads the staged neighbourhood, which exists only up to the staging radius.
    if n > GPU_NETWORK_MAX || r.iter().any(|&r| r > GPU_SHARED_RADIUS) {
        return &BISECT;
    }
    static NETWORKS: OnceLock<Mutex<HashMap<[usize; 3], &'static KernelSpec>>> = OnceLock::new();
    let mut map = NETWORKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(r).or_insert_with(|| {
        let name: &'static str =
            Box::leak(format!("filter/median_network_{}_{}_{}", r[0], r[1], r[2]).into_boxed_str());
        let network: &'static str = Box::leak(network_source(r).into_boxed_str());
        let sources: &'static [&'static str] =
            Box::leak(Box::new([wgsl::BOUNDARY, wgsl::TILE, wgsl::STAGE, network, SHADER]));
        Box::leak(Box::new(KernelSpec {
            name,
            sources,
            entry: "median",
            bindings: BINDINGS,
            constants: &[],
        }))
    })
}

/// WGSL of `network_median`: Paeth's *forgetful selection* (load `n/2 + 2` values, repeatedly
/// drop the minimum and maximum and load one more), unrolled on scalars `a0, a1, ...` read from
/// the workgroup cache.
fn network_source(r: [usize; 3]) -> String {
    let mut s = String::from(
        "const NETWORK: bool = true;\n\
         fn network_median(lx: i32, ly: i32, lz: i32, sx: i32, sy: i32) -> f32 {\n",
    );
    let mut n = 0;
    for dz in 0..=2 * r[0] {
        for dy in 0..=2 * r[1] {
            for dx in 0..=2 * r[2] {
                let _ = writeln!(
                    s,
                    "    var a{n} = cache[u32(((lz + {dz}) * sy + ly + {dy}) * sx + lx + {dx})];"
                );
                n += 1;
            }
        }
    }
    if n == 1 {
        s.push_str("    return a0;\n}\n");
        return s;
    }
    // Slot i of the algorithm holds variable a{slot[i]}.
    let mut slot: Vec<usize> = (0..n).collect();
    let (mut start, stop) = (0, (n / 2 + 2).min(n));
    let mut next = stop;
    loop {
        let lo = slot[start];
        for &x in &slot[start + 1..stop] {
            let _ = writeln!(
                s,
                "    {{ let t = a{x}; a{x} = max(a{lo}, t); a{lo} = min(a{lo}, t); }}"
            );
        }
        let hi = slot[stop - 1];
        for &x in &slot[start + 1..stop - 1] {
            let _ = writeln!(
                s,
                "    {{ let t = a{x}; a{x} = min(t, a{hi}); a{hi} = max(t, a{hi}); }}"
            );
        }
        if next == n {
            let _ = writeln!(s, "    return a{};\n}}", slot[start + 1]);
            return s;
        }
        start += 1;
        slot[stop - 1] = slot[next];
        next += 1;
    }
}

fn record_gpu(rec: &mut Recorder<'_>, input: &GpuVolume, r: [usize; 3], mode: BoundaryMode) -> Result<GpuVolume> {
    // The bisection's loops: up to 32 halvings, each a pass over the z, y and x offsets (plus
    // the staging loop); the networks of small neighbourhoods loop far less.
    let [nz, ny, nx] = r.map(|r| 2 * r as u64 + 1);
    rec.check_loop_budget(
        &format!("a median of radius {r:?} (z, y, x)"),
        16 + 32 * (1 + nz + nz * ny + nz * ny * nx),
    )?;
    let output = rec.volume(input.shape())?;
    let use_cache = r.iter().all(|&r| r <= GPU_SHARED_RADIUS);
    let kernel = kernel(r);
    let params = rec.uniform(&Params {
        rz: r[0] as u32,
        ry: r[1] as u32,
        rx: r[2] as u32,
        mode: mode.code(),
        cval: mode.cval(),
        use_cache: u32::from(use_cache),
        _pad: [0; 2],
    });
    for_each_slab(rec, &[input], &output, r[0], mode, |rec, slab| {
        rec.dispatch_grid(
            kernel,
            &[
                BufferWindow::whole(&slab.tile),
                BufferWindow::whole(&params),
                slab.inputs[0],
                slab.output,
            ],
            slab.grid(),
        )
    })?;
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_runs_give_the_median_for_every_plan_with_ties() {
        let mut rng = crate::rng::XorShift64::new(7);
        for rz in 0..=2 {
            for ry in 0..=2 {
                for rx in 0..=2 {
                    let plan = CpuPlan::new([rz, ry, rx]);
                    if plan.c * plan.w > CPU_NETWORK_MAX {
                        continue;
                    }
                    for _ in 0..20 {
                        // Each candidate row's values sorted, as the row sort leaves them.
                        let mut v: Vec<Lanes> = Vec::new();
                        for (_, js) in &plan.candidates {
                            let mut run: Vec<Lanes> = js
                                .iter()
                                .map(|_| std::array::from_fn(|_| (rng.next_u64() % 7) as f32))
                                .collect();
                            for lane in 0..LANES {
                                let mut col: Vec<f32> = run.iter().map(|l| l[lane]).collect();
                                col.sort_by(f32::total_cmp);
                                run.iter_mut().zip(col).for_each(|(l, x)| l[lane] = x);
                            }
                            v.extend(run);
                        }
                        assert_eq!(v.len(), plan.count);
                        let expected: Lanes = std::array::from_fn(|lane| {
                            let mut col: Vec<f32> = v.iter().map(|l| l[lane]).collect();
                            col.sort_by(f32::total_cmp);
                            col[col.len() / 2]
                        });
                        select(&mut v, &plan.selection);
                        assert_eq!(v[plan.median_wire], expected, "radius {:?}", [rz, ry, rx]);
                    }
                }
            }
        }
        // The 5×5×5 plan: 71 candidates, and far fewer exchanges than a forgetful selection.
        let plan = CpuPlan::new([2, 2, 2]);
        assert_eq!(plan.count, 71);
        assert!(plan.selection.len() < 500, "{}", plan.selection.len());
    }

    #[test]
    fn odd_even_merges_sort_every_zero_one_pair_of_runs() {
        for la in 0..=6usize {
            for lb in 0..=7usize {
                let (a, b): (Vec<usize>, Vec<usize>) = ((0..la).collect(), (la..la + lb).collect());
                let mut network = Vec::new();
                let order = odd_even_merge(&a, &b, &mut network);
                // Sorted 0/1 runs: i leading zeros in a, j in b.
                for i in 0..=la {
                    for j in 0..=lb {
                        let mut v: Vec<u8> = (0..la)
                            .map(|k| u8::from(k >= i))
                            .chain((0..lb).map(|k| u8::from(k >= j)))
                            .collect();
                        for &(x, y) in &network {
                            if v[x] > v[y] {
                                v.swap(x, y);
                            }
                        }
                        let merged: Vec<u8> = order.iter().map(|&w| v[w]).collect();
                        assert!(merged.windows(2).all(|w| w[0] <= w[1]), "{la}+{lb}: {i}, {j}");
                    }
                }
            }
        }
    }

    #[test]
    fn sorting_networks_sort_every_zero_one_input() {
        // The 0-1 principle: a network that sorts every 0/1 input sorts everything.
        for n in 1..=13usize {
            let net = sorting_network(n);
            for bits in 0u32..(1 << n) {
                let mut v: Vec<u8> = (0..n).map(|i| ((bits >> i) & 1) as u8).collect();
                for &(a, b) in &net {
                    if v[a] > v[b] {
                        v.swap(a, b);
                    }
                }
                assert!(v.windows(2).all(|w| w[0] <= w[1]), "n = {n}, input {bits:b}");
            }
        }
    }

    #[test]
    fn candidates_of_a_3x3x3_box_are_13() {
        let plan = CpuPlan::new([1, 1, 1]);
        assert_eq!((plan.c, plan.w, plan.count), (9, 3, 13));
        let plan = CpuPlan::new([0, 1, 1]);
        assert_eq!(plan.count, 3);
    }

    #[test]
    fn generated_network_reads_every_neighbour_once() {
        let src = network_source([1, 1, 1]);
        assert_eq!(src.matches("cache[").count(), 27);
        assert!(src.contains("return a"));
    }
}

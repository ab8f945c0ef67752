//! 1D correlation along one axis — `scipy.ndimage.correlate1d` — and the separable engine that
//! the box, derivative and Gaussian-derivative filters are built from.
//!
//! A `Pass` correlates along one axis with weights `w[0..n]` placed so that
//! `out[i] = Σ_k w[k] · in[i + k - left]` (scipy: `left = n / 2 + origin`), the input extended by
//! the boundary mode. A `Separable` plan is a sum of *terms*, each a chain of passes (e.g. the
//! Sobel derivative along x is `[-1 0 1]` along x, then `[1 2 1]` along z and y), combined as a
//! plain sum (Laplacians) or a root of the sum of squares (gradient magnitudes) by a pointwise
//! program. On the GPU, a plan whose passes each reach at most `STAGE_RADIUS` (with an axis used
//! once per chain and a bounded number of multiply-adds) runs in one dispatch from one staged
//! block (`separable_staged.wgsl`: Sobel, Prewitt, Laplace, gradient magnitudes, small boxes);
//! other plans run pass by pass in one recording, ping-ponging between pooled volumes.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::check_ndim;
use crate::filter::pointwise::{self, Op};
use crate::filter::rows::{extend_row_into, general_rows};
use crate::gpu::{Binding, STAGE_RADIUS, TILE, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_slab, wgsl};

/// Longest 1D kernel accepted.
pub const MAX_WEIGHTS: usize = 1 << 16;

/// The line through a voxel along a pass's axis, shared by the 1D pass kernels.
const CORRELATE_LINE: &str = include_str!("../../shaders/filter/correlate_line.wgsl");

pub(crate) static KERNEL: KernelSpec = KernelSpec {
    name: "filter/correlate1d",
    sources: &[
        wgsl::BOUNDARY,
        wgsl::TILE,
        CORRELATE_LINE,
        include_str!("../../shaders/filter/correlate1d.wgsl"),
    ],
    entry: "correlate1d",
    bindings: &[
        TILE,
        uniform::<PassParams>(),
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[],
};

pub(crate) static STAGED: KernelSpec = KernelSpec {
    name: "filter/separable_staged",
    sources: &[
        wgsl::BOUNDARY,
        wgsl::TILE,
        wgsl::STAGE,
        include_str!("../../shaders/filter/separable_staged.wgsl"),
    ],
    entry: "separable_staged",
    bindings: &[TILE, uniform::<StagedParams>(), Binding::Read, Binding::ReadWrite],
    constants: &[COMBINE_CODES],
};

crate::wgsl_constants!(COMBINE_CODES: u32 { COMBINE_SUM = 0, COMBINE_ROOT_SUM_OF_SQUARES = 1, COMBINE_NONE = 2 });

pub(crate) static MULTI: KernelSpec = KernelSpec {
    name: "filter/correlate1d_multi",
    sources: &[
        wgsl::BOUNDARY,
        wgsl::TILE,
        CORRELATE_LINE,
        include_str!("../../shaders/filter/correlate1d_multi.wgsl"),
    ],
    entry: "correlate1d_multi",
    bindings: &[
        TILE,
        uniform::<MultiParams>(),
        Binding::Read,
        Binding::Read,
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    constants: &[COMBINE_CODES],
};

/// Twin of `Params` in `correlate1d_multi.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MultiParams {
    lines: [[u32; 4]; 3],
    axis: u32,
    count: u32,
    mode: u32,
    cval: f32,
    combine: u32,
    _pad: [u32; 3],
}

/// One line of a multi-line pass: its source (an index into the sources) and its pass.
struct Line<'p> {
    source: usize,
    pass: &'p Pass,
}

/// Records up to three passes along one axis in one dispatch: `lines` read `sources`; with
/// `combine` `None` line l writes `outputs[l]`, else every line is combined into `outputs[0]`.
fn record_multi(
    rec: &mut Recorder<'_>,
    sources: &[&GpuVolume],
    lines: &[Line<'_>],
    outputs: &[&GpuVolume],
    combine: Option<Combine>,
    mode: BoundaryMode,
) -> Result<()> {
    let mut params = MultiParams {
        lines: [[0; 4]; 3],
        axis: lines[0].pass.axis as u32,
        count: lines.len() as u32,
        mode: mode.code(),
        cval: mode.cval(),
        combine: match combine {
            None => COMBINE_NONE,
            Some(Combine::Sum) => COMBINE_SUM,
            Some(Combine::RootSumOfSquares) => COMBINE_ROOT_SUM_OF_SQUARES,
        },
        _pad: [0; 3],
    };
    let mut weights: Vec<f32> = Vec::new();
    for (l, line) in lines.iter().enumerate() {
        params.lines[l] = [
            line.source as u32,
            line.pass.weights.len() as u32,
            line.pass.left as u32,
            weights.len() as u32,
        ];
        weights.extend(&line.pass.weights);
    }
    let halo = lines.iter().map(|l| l.pass.halo()).max().unwrap_or(0);
    let halo_z = if params.axis == 0 { halo } else { 0 };
    let uniform = rec.uniform(&params);
    let weights = rec.constants(&weights);
    // Unused outputs bind small buffers of their own (writable bindings may not alias).
    let spare = [rec.scratch(16), rec.scratch(16)];
    let align = rec.context().storage_offset_alignment().max(4);
    for_each_slab(rec, sources, outputs[0], halo_z, mode, |rec, slab| {
        let placeholder = rec.context().placeholder();
        let input = |k: usize| slab.inputs.get(k).copied().unwrap_or(BufferWindow::whole(placeholder));
        let slice = (slab.shape[1] * slab.shape[2]) as u64;
        let output = |k: usize| match outputs.get(k) {
            Some(v) if k > 0 => {
                crate::gpu::storage_window(v.buffer(), slab.z0 as u64 * slice, slab.shape[0] as u64 * slice, align).0
            }
            Some(_) => slab.output,
            None => BufferWindow::whole(&spare[k - 1]),
        };
        rec.dispatch_linear(
            &MULTI,
            &[
                BufferWindow::whole(&slab.tile),
                BufferWindow::whole(&uniform),
                BufferWindow::whole(&weights),
                input(0),
                input(1),
                input(2),
                output(0),
                output(1),
                output(2),
            ],
            slab.items,
        )
    })
}

/// Chains, passes per chain and weights the staged kernel holds.
const STAGED_CHAINS: usize = 3;
const STAGED_WEIGHTS: usize = 64;
/// Multiply-adds per output voxel above which the pass-by-pass path is cheaper: a GPU streams
/// a voxel in and out in the time of ~50-100 fused multiply-adds (H200: 4.8 TB/s against
/// 67 TFLOP/s), so 128 keeps the fused kernel within about twice its memory time.
const STAGED_MAX_MADS: usize = 128;

/// Twin of `Params` in `separable_staged.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct StagedParams {
    passes: [[u32; 4]; 9],
    halo: [u32; 4],
    weights: [[f32; 4]; 16],
    mode: u32,
    cval: f32,
    combine: u32,
    chains: u32,
}

/// Twin of `Params` in `correlate1d.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PassParams {
    axis: u32,
    taps: u32,
    left: u32,
    mode: u32,
    cval: f32,
    _pad: [u32; 3],
}

/// One 1D correlation along `axis` (0 = z, 1 = y, 2 = x).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pass {
    pub axis: usize,
    pub weights: Vec<f32>,
    pub left: usize,
}

impl Pass {
    /// A pass centred as scipy centres a kernel of this length with origin 0.
    pub fn centred(axis: usize, weights: Vec<f32>) -> Pass {
        let left = weights.len() / 2;
        Pass { axis, weights, left }
    }

    /// How far the pass reaches along its axis, either side.
    fn halo(&self) -> usize {
        self.left.max(self.weights.len() - 1 - self.left)
    }
}

/// How the terms of a [`Separable`] plan are combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Combine {
    /// `Σ term` (Laplacians).
    Sum,
    /// `sqrt(Σ term²)` (gradient magnitudes).
    RootSumOfSquares,
}

/// A sum of chains of 1D passes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Separable {
    pub terms: Vec<Vec<Pass>>,
    pub combine: Combine,
    pub mode: BoundaryMode,
}

impl Separable {
    /// One chain of passes, no combination.
    pub fn chain(passes: Vec<Pass>, mode: BoundaryMode) -> Separable {
        Separable {
            terms: vec![passes],
            combine: Combine::Sum,
            mode,
        }
    }

    pub fn cpu(&self, input: ArrayView3<'_, f32>) -> Array3<f32> {
        self.cpu_with(input, true, |passes, spare| self.chain_cpu(input, passes, spare))
    }

    /// [`Self::cpu`] with each chain of even or odd centred kernels (the Gaussian derivatives')
    /// on the Gaussian's register kernels (`gaussian::run_separable_into`: passes across slices
    /// and rows computed in registers, scipy's paired taps); other chains as [`Self::cpu`].
    pub(crate) fn cpu_staged(&self, input: ArrayView3<'_, f32>) -> Array3<f32> {
        let shape = [input.shape()[0], input.shape()[1], input.shape()[2]];
        self.cpu_with(input, false, |passes, spare| {
            let chain: Vec<(usize, &[f32])> = passes
                .iter()
                .filter(|p| 2 * p.left + 1 == p.weights.len())
                .map(|p| (p.axis, &p.weights[..]))
                .collect();
            let plan = (chain.len() == passes.len())
                .then(|| crate::filter::gaussian::Plan::separable(&chain, self.mode, shape))
                .flatten();
            match plan {
                Some(plan) => {
                    // Every value is written: a spare term's buffer saves a fresh one's zeroing.
                    let mut out = match spare {
                        Some(a) if a.is_standard_layout() => a.into_raw_vec_and_offset().0,
                        _ => crate::memory::zeroed_f32(input.len()),
                    };
                    crate::filter::gaussian::run_separable_into(&plan, input, &mut out);
                    Array3::from_shape_vec(shape, out).expect("the input's shape")
                }
                None => self.chain_cpu(input, passes, spare),
            }
        })
    }

    /// One chain of passes on the general path (`spare`: a volume of the input's shape whose
    /// memory the result may take).
    fn chain_cpu(&self, input: ArrayView3<'_, f32>, passes: &[Pass], spare: Option<Array3<f32>>) -> Array3<f32> {
        if let Some(out) = chain_by_slabs(input, passes, self.mode, spare) {
            return out;
        }
        let mut current: Option<Array3<f32>> = None;
        for pass in passes {
            let src = current.as_ref().map_or(input, |c| c.view());
            current = Some(correlate_cpu(src, pass, self.mode));
        }
        current.unwrap_or_else(|| input.to_owned())
    }

    /// The terms, each computed by `term` from its chain of passes (and, to reuse, the previous
    /// term once it is combined), combined in place: squares summed then the root, or the sum.
    /// With `by_slabs`, a chain [`chain_by_slabs`] can run combines each row of its last pass
    /// into the sum as it is computed (the same operations as combining whole terms), so no
    /// term is stored.
    fn cpu_with(
        &self,
        input: ArrayView3<'_, f32>,
        by_slabs: bool,
        term: impl Fn(&[Pass], Option<Array3<f32>>) -> Array3<f32>,
    ) -> Array3<f32> {
        let rss = self.combine == Combine::RootSumOfSquares;
        let (mut acc, mut spare): (Option<Array3<f32>>, Option<Array3<f32>>) = (None, None);
        for (t, passes) in self.terms.iter().enumerate() {
            let last = t + 1 == self.terms.len();
            if by_slabs && self.terms.len() > 1 {
                let store = match (&acc, rss, last) {
                    (None, false, _) => Store::Write,
                    (None, true, _) => Store::Square,
                    (Some(_), false, _) => Store::Add,
                    (Some(_), true, false) => Store::AddSquare,
                    (Some(_), true, true) => Store::AddSquareRoot,
                };
                let mut fresh = None;
                let out = match acc.as_mut() {
                    Some(a) => a.as_slice_mut(),
                    None => {
                        fresh = Some(crate::memory::zeroed_f32(input.len()));
                        fresh.as_deref_mut()
                    }
                };
                // (The sum is in C order: fresh, or a chain's output; another layout would take
                // the terms' path below.)
                if let Some(out) = out
                    && chain_by_slabs_into(input, passes, self.mode, out, store)
                {
                    if let Some(f) = fresh {
                        acc = Some(Array3::from_shape_vec(input.raw_dim(), f).expect("the input's shape"));
                    }
                    continue;
                }
            }
            let mut term = term(passes, spare.take());
            match acc.as_mut() {
                None => {
                    if rss {
                        term.par_mapv_inplace(|x| x * x);
                    }
                    acc = Some(term);
                }
                Some(a) => {
                    ndarray::Zip::from(a.view_mut()).and(&term).par_for_each(|x, &b| {
                        if !rss {
                            *x += b;
                        } else if last {
                            *x = (*x + b * b).sqrt();
                        } else {
                            *x += b * b;
                        }
                    });
                    spare = Some(term);
                }
            }
        }
        let mut out = acc.unwrap_or_else(|| input.to_owned());
        if rss && self.terms.len() == 1 {
            out.par_mapv_inplace(f32::sqrt);
        }
        out
    }

    /// The staged kernel's parameters, or `None` when the plan does not fit it (passes that
    /// reach beyond the staged radius, an axis twice in a chain, too many chains or
    /// multiply-adds).
    fn staged_params(&self) -> Option<StagedParams> {
        let passes: usize = self.terms.iter().map(Vec::len).sum();
        if passes < 2 || self.terms.len() > STAGED_CHAINS {
            return None;
        }
        let mut params = StagedParams {
            passes: [[0; 4]; 9],
            halo: [0; 4],
            weights: [[0.0; 4]; 16],
            mode: self.mode.code(),
            cval: self.mode.cval(),
            combine: match self.combine {
                Combine::Sum => COMBINE_SUM,
                Combine::RootSumOfSquares => COMBINE_ROOT_SUM_OF_SQUARES,
            },
            chains: self.terms.len() as u32,
        };
        let mut weights: Vec<f32> = Vec::with_capacity(STAGED_WEIGHTS);
        let mut mads = 0;
        for (t, chain) in self.terms.iter().enumerate() {
            if chain.len() > 3 {
                return None;
            }
            let mut seen = [false; 3];
            let mut product = 1;
            for (j, pass) in chain.iter().enumerate() {
                if seen[pass.axis] || pass.halo() > STAGE_RADIUS as usize {
                    return None;
                }
                seen[pass.axis] = true;
                params.halo[pass.axis] = params.halo[pass.axis].max(pass.halo() as u32);
                params.passes[t * 3 + j] = [
                    pass.axis as u32,
                    pass.weights.len() as u32,
                    pass.left as u32,
                    weights.len() as u32,
                ];
                weights.extend(&pass.weights);
                product *= pass.weights.len();
            }
            mads += product;
        }
        // Identity passes (one tap of weight 1) fill the short chains.
        let identity = weights.len() as u32;
        weights.push(1.0);
        if mads > STAGED_MAX_MADS || weights.len() > STAGED_WEIGHTS {
            return None;
        }
        for (t, chain) in self.terms.iter().enumerate() {
            for j in chain.len()..3 {
                params.passes[t * 3 + j] = [2, 1, 0, identity];
            }
        }
        for (i, w) in weights.into_iter().enumerate() {
            params.weights[i / 4][i % 4] = w;
        }
        Some(params)
    }

    /// Plans whose chains are equally long, step along the same axes in the same order and
    /// number at most three (Gaussian gradient magnitudes and Laplacians, in 2D and 3D): one
    /// multi-line pass per distinct intermediate's children, the shared prefixes computed once
    /// (a Gaussian gradient magnitude: the input's Gaussian and derivative along z, then three
    /// y-passes, then the three x-passes combined — 4 dispatches where the engine took 12).
    fn record_shared_passes(&self, rec: &mut Recorder<'_>, input: &GpuVolume) -> Result<Option<GpuVolume>> {
        let terms = &self.terms;
        let length = terms[0].len();
        // A single chain has nothing to share: the plain passes serve it.
        if length < 2
            || !(2..=3).contains(&terms.len())
            || terms
                .iter()
                .any(|t| t.len() != length || t.iter().zip(&terms[0]).any(|(p, q)| p.axis != q.axis))
        {
            return Ok(None);
        }
        // The current level: distinct intermediates (volumes) and which one each term reached.
        let mut level: Vec<GpuVolume> = Vec::new();
        let mut reached = vec![usize::MAX; terms.len()]; // usize::MAX: the input
        for k in 0..length - 1 {
            // Distinct (parent, pass) pairs of this level, in term order.
            let mut nodes: Vec<(usize, &Pass)> = Vec::new();
            let mut next = vec![0; terms.len()];
            for (t, term) in terms.iter().enumerate() {
                let key = (reached[t], &term[k]);
                next[t] = match nodes.iter().position(|n| n.0 == key.0 && n.1 == key.1) {
                    Some(i) => i,
                    None => {
                        nodes.push(key);
                        nodes.len() - 1
                    }
                };
            }
            let outputs = nodes
                .iter()
                .map(|_| rec.volume(input.shape()))
                .collect::<Result<Vec<_>>>()?;
            let mut parents: Vec<usize> = nodes.iter().map(|n| n.0).collect();
            parents.sort_unstable();
            parents.dedup();
            for parent in parents {
                let source = if parent == usize::MAX { input } else { &level[parent] };
                let children: Vec<usize> = (0..nodes.len()).filter(|&i| nodes[i].0 == parent).collect();
                let lines: Vec<Line<'_>> = children
                    .iter()
                    .map(|&i| Line {
                        source: 0,
                        pass: nodes[i].1,
                    })
                    .collect();
                let dsts: Vec<&GpuVolume> = children.iter().map(|&i| &outputs[i]).collect();
                record_multi(rec, &[source], &lines, &dsts, None, self.mode)?;
            }
            for done in std::mem::replace(&mut level, outputs) {
                rec.recycle(done);
            }
            reached = next;
        }
        // The last passes, combined.
        let mut sources: Vec<usize> = reached.clone();
        sources.sort_unstable();
        sources.dedup();
        let source_volumes: Vec<&GpuVolume> = sources.iter().map(|&s| &level[s]).collect();
        let lines: Vec<Line<'_>> = terms
            .iter()
            .zip(&reached)
            .map(|(term, r)| Line {
                source: sources.iter().position(|s| s == r).expect("listed above"),
                pass: &term[length - 1],
            })
            .collect();
        let out = rec.volume(input.shape())?;
        record_multi(rec, &source_volumes, &lines, &[&out], Some(self.combine), self.mode)?;
        for done in level {
            rec.recycle(done);
        }
        Ok(Some(out))
    }

    pub fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume) -> Result<GpuVolume> {
        // Passes longer than one invocation may loop over on this adapter go one by one, split
        // (a multi-line dispatch loops over up to three passes).
        let run = taps_per_dispatch(rec);
        if self.terms.iter().flatten().any(|p| 3 * p.weights.len() > run) {
            return self.record_passes(rec, input);
        }
        if let Some(params) = self.staged_params() {
            let out = rec.volume(input.shape())?;
            let uniform = rec.uniform(&params);
            for_each_slab(rec, &[input], &out, params.halo[0] as usize, self.mode, |rec, slab| {
                rec.dispatch_grid(
                    &STAGED,
                    &[
                        BufferWindow::whole(&slab.tile),
                        BufferWindow::whole(&uniform),
                        slab.inputs[0],
                        slab.output,
                    ],
                    slab.grid(),
                )
            })?;
            return Ok(out);
        }
        if let Some(out) = self.record_shared_passes(rec, input)? {
            return Ok(out);
        }
        self.record_passes(rec, input)
    }

    /// Every chain pass by pass, the terms combined pointwise.
    fn record_passes(&self, rec: &mut Recorder<'_>, input: &GpuVolume) -> Result<GpuVolume> {
        let mut acc: Option<GpuVolume> = None;
        for (t, passes) in self.terms.iter().enumerate() {
            let term = record_chain(rec, input, passes, self.mode)?;
            let next = match (&acc, self.combine) {
                (None, Combine::Sum) => None,
                (None, Combine::RootSumOfSquares) => Some(pointwise::record(rec, &[Op::Square], &term, None)?),
                (Some(a), combine) => {
                    let op = if combine == Combine::Sum {
                        Op::AddSecond
                    } else {
                        Op::AddSecondSquared
                    };
                    let last = t + 1 == self.terms.len() && combine == Combine::RootSumOfSquares;
                    let ops: &[Op] = if last { &[op, Op::Sqrt] } else { &[op] };
                    Some(pointwise::record(rec, ops, a, Some(&term))?)
                }
            };
            acc = match next {
                Some(n) => {
                    rec.recycle(term);
                    if let Some(old) = acc.replace(n) {
                        rec.recycle(old);
                    }
                    acc
                }
                None => Some(term),
            };
        }
        let out = match acc {
            Some(a) => a,
            None => return rec.duplicate(input),
        };
        if self.combine == Combine::RootSumOfSquares && self.terms.len() == 1 {
            let root = pointwise::record(rec, &[Op::Sqrt], &out, None)?;
            rec.recycle(out);
            return Ok(root);
        }
        Ok(out)
    }
}

/// Records a chain of passes; the result is a new pooled volume (a copy if there is no pass).
fn record_chain(rec: &mut Recorder<'_>, input: &GpuVolume, passes: &[Pass], mode: BoundaryMode) -> Result<GpuVolume> {
    let mut current: Option<GpuVolume> = None;
    for pass in passes {
        let src = current.as_ref().unwrap_or(input);
        let dst = record_pass(rec, src, pass, mode)?;
        if let Some(done) = current.replace(dst) {
            rec.recycle(done);
        }
    }
    match current {
        Some(c) => Ok(c),
        None => rec.duplicate(input),
    }
}

/// Taps one invocation may sum on this adapter (one loop iteration each, with room for the
/// kernel's other loops): beyond it a pass is split (see [`record_pass`]).
fn taps_per_dispatch(rec: &Recorder<'_>) -> usize {
    usize::try_from(rec.loop_limit().saturating_sub(64))
        .unwrap_or(usize::MAX)
        .max(1)
}

/// One pass into a new pooled volume. A pass with more taps than one invocation may loop over
/// on this adapter (see [`AdapterSummary::loop_limit`](crate::gpu::AdapterSummary::loop_limit))
/// is summed in runs of consecutive taps, each a partial correlation, added up pointwise.
fn record_pass(rec: &mut Recorder<'_>, src: &GpuVolume, pass: &Pass, mode: BoundaryMode) -> Result<GpuVolume> {
    let run = taps_per_dispatch(rec);
    let mut total: Option<GpuVolume> = None;
    for (i, weights) in pass.weights.chunks(run).enumerate() {
        let part = rec.volume(src.shape())?;
        // Taps a.. of the pass are taps 0.. of a pass starting `a` voxels further on.
        let left = pass.left as i64 - (i * run) as i64;
        record_taps(rec, src, &part, pass, weights, left, mode)?;
        total = Some(match total {
            None => part,
            Some(sum) => {
                let added = pointwise::record(rec, &[Op::AddSecond], &sum, Some(&part))?;
                rec.recycle(sum);
                rec.recycle(part);
                added
            }
        });
    }
    total.ok_or_else(|| Error::param("weights", "a pass without weights"))
}

/// `dst[c] = Σ_k weights[k] · src[c + k − left]` along the pass's axis (`left` may be negative
/// for the later runs of a split pass; the slabs' halo is the whole pass's).
fn record_taps(
    rec: &mut Recorder<'_>,
    src: &GpuVolume,
    dst: &GpuVolume,
    pass: &Pass,
    weights: &[f32],
    left: i64,
    mode: BoundaryMode,
) -> Result<()> {
    let params = rec.uniform(&PassParams {
        axis: pass.axis as u32,
        taps: weights.len() as u32,
        // The kernel reads it as i32 (WGSL's i32(u32) keeps the bits).
        left: left as i32 as u32,
        mode: mode.code(),
        cval: mode.cval(),
        _pad: [0; 3],
    });
    let weights = rec.constants(weights);
    let halo_z = if pass.axis == 0 { pass.halo() } else { 0 };
    for_each_slab(rec, &[src], dst, halo_z, mode, |rec, slab| {
        rec.dispatch_linear(
            &KERNEL,
            &[
                BufferWindow::whole(&slab.tile),
                BufferWindow::whole(&params),
                BufferWindow::whole(&weights),
                slab.inputs[0],
                slab.output,
            ],
            slab.items,
        )
    })
}

/// One pass on the CPU: every output row in parallel. Along z and y a row is a weighted sum of
/// whole input rows; along x the row is extended by the mode and summed at shifted offsets. All
/// three are the same vectorised row primitive.
fn correlate_cpu(input: ArrayView3<'_, f32>, pass: &Pass, mode: BoundaryMode) -> Array3<f32> {
    let shape = [input.shape()[0], input.shape()[1], input.shape()[2]];
    let input = input.as_standard_layout();
    let src = input.as_slice().expect("standard layout is contiguous");
    let mut out = crate::memory::zeroed_f32(src.len());
    correlate_rows_into(src, shape, pass, mode, 0, &mut out, Store::Write);
    Array3::from_shape_vec(shape, out).expect("shape matches length")
}

/// One pass over a C-order volume `src` of `shape`, for the rows (along x) from `first_row` on
/// that `out` holds, stored as `store` says.
fn correlate_rows_into(
    src: &[f32],
    shape: [usize; 3],
    pass: &Pass,
    mode: BoundaryMode,
    first_row: usize,
    out: &mut [f32],
    store: Store,
) {
    let [nz, ny, nx] = shape;
    let (w, left, cval) = (&pass.weights[..], pass.left, mode.cval());
    let right = w.len() - 1 - left;
    out.par_chunks_mut(nx).enumerate().for_each_init(
        || (Vec::new(), vec![0.0f32; nx]),
        |(pad, row), (k, out_row)| {
            // Written rows are computed in place; others through a row of scratch.
            let dst: &mut [f32] = if store == Store::Write {
                &mut *out_row
            } else {
                &mut row[..]
            };
            let r = first_row + k;
            let (z, y) = ((r / ny) as isize, (r % ny) as isize);
            match pass.axis {
                0 => general_rows(dst, w, left, cval, |d| {
                    mode.map_index(z + d, 0, nz as isize).map(|m| {
                        let start = (m as usize * ny + y as usize) * nx;
                        &src[start..start + nx]
                    })
                }),
                1 => general_rows(dst, w, left, cval, |d| {
                    mode.map_index(y + d, 0, ny as isize).map(|m| {
                        let start = (z as usize * ny + m as usize) * nx;
                        &src[start..start + nx]
                    })
                }),
                _ => {
                    extend_row_into(&src[r * nx..(r + 1) * nx], left, right, mode, pad);
                    let pad: &[f32] = pad;
                    general_rows(dst, w, left, cval, |d| Some(&pad[(left as isize + d) as usize..]));
                }
            }
            if store != Store::Write {
                store.row(out_row, row);
            }
        },
    );
}

/// Slices of output per block of [`chain_by_slabs`].
const CHAIN_SLAB: usize = 8;

/// A chain of passes computed slab by slab along z, so that its intermediates stay in cache
/// instead of making a round trip to memory (and a fresh volume) per pass: each slab is
/// computed with the slices around it that its z-passes reach, by the same row code as the
/// whole-volume passes (so the same values), and only its own slices are kept. `None` where
/// slabs do not pay or cannot give the same values: a single pass, passes reaching far along
/// z, few slices, or `Wrap` with a pass along z (its extension reads the far end).
fn chain_by_slabs(
    input: ArrayView3<'_, f32>,
    passes: &[Pass],
    mode: BoundaryMode,
    spare: Option<Array3<f32>>,
) -> Option<Array3<f32>> {
    if passes.len() < 2 {
        return None;
    }
    // Every value is written: a spare volume saves a fresh one's zeroing.
    let mut out = match spare {
        Some(a) if a.is_standard_layout() && a.len() == input.len() => a.into_raw_vec_and_offset().0,
        _ => crate::memory::zeroed_f32(input.len()),
    };
    chain_by_slabs_into(input, passes, mode, &mut out, Store::Write)
        .then(|| Array3::from_shape_vec(input.raw_dim(), out).expect("shape matches length"))
}

/// How the last pass of a chain stores each value `b` into the output `x`: written, squared,
/// or combined with a sum of terms (`x + b`, `x + b²`, and for the last term `√(x + b²)`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Store {
    Write,
    Square,
    Add,
    AddSquare,
    AddSquareRoot,
}

impl Store {
    fn row(self, dst: &mut [f32], row: &[f32]) {
        for (x, &b) in dst.iter_mut().zip(row) {
            *x = match self {
                Store::Write => b,
                Store::Square => b * b,
                Store::Add => *x + b,
                Store::AddSquare => *x + b * b,
                Store::AddSquareRoot => (*x + b * b).sqrt(),
            };
        }
    }
}

/// [`chain_by_slabs`] into `out` (C order, the input's length), stored as `store` says; false
/// (nothing written) where slabs do not apply.
fn chain_by_slabs_into(
    input: ArrayView3<'_, f32>,
    passes: &[Pass],
    mode: BoundaryMode,
    out: &mut [f32],
    store: Store,
) -> bool {
    let [nz, ny, nx] = [input.shape()[0], input.shape()[1], input.shape()[2]];
    let reach = |p: &Pass| p.left.max(p.weights.len() - 1 - p.left);
    let halo: usize = passes.iter().filter(|p| p.axis == 0).map(reach).sum();
    if passes.is_empty() || 4 * halo > CHAIN_SLAB || nz < 2 * CHAIN_SLAB || (halo > 0 && mode == BoundaryMode::Wrap) {
        return false;
    }
    let input = input.as_standard_layout();
    let src = input.as_slice().expect("standard layout is contiguous");
    let plane = ny * nx;
    let most = (CHAIN_SLAB + 2 * halo) * plane;
    let (mut a, mut b) = (vec![0.0f32; most], vec![0.0f32; most]);
    for z0 in (0..nz).step_by(CHAIN_SLAB) {
        let z1 = (z0 + CHAIN_SLAB).min(nz);
        // The slab with its halo; its outer faces are the volume's where they meet it, so the
        // mode extends there exactly as on the whole volume (every pass reaches at most `halo`
        // slices, and the slab holds more than that).
        let (lo, hi) = (z0.saturating_sub(halo), (z1 + halo).min(nz));
        let shape = [hi - lo, ny, nx];
        let len = (hi - lo) * plane;
        let mut current: &[f32] = &src[lo * plane..hi * plane];
        for (k, pass) in passes.iter().enumerate() {
            if k + 1 == passes.len() {
                // The last pass stores the slab's own rows straight into the output.
                let own = &mut out[z0 * plane..z1 * plane];
                correlate_rows_into(current, shape, pass, mode, (z0 - lo) * ny, own, store);
            } else {
                correlate_rows_into(current, shape, pass, mode, 0, &mut a[..len], Store::Write);
                std::mem::swap(&mut a, &mut b);
                current = &b[..len];
            }
        }
    }
    true
}

/// Checks a boundary mode's constant.
pub(crate) fn check_mode(mode: BoundaryMode) -> Result<()> {
    match mode {
        BoundaryMode::Constant(c) if !c.is_finite() => {
            Err(Error::param("mode", format!("constant value {c} must be finite")))
        }
        _ => Ok(()),
    }
}

/// Checks user weights and converts them to f32.
pub(crate) fn check_weights(weights: &[f64]) -> Result<Vec<f32>> {
    if weights.is_empty() || weights.len() > MAX_WEIGHTS {
        return Err(Error::param(
            "weights",
            format!("{} weights: give between 1 and {MAX_WEIGHTS}", weights.len()),
        ));
    }
    if let Some(bad) = weights.iter().find(|w| !w.is_finite() || w.abs() > f64::from(f32::MAX)) {
        return Err(Error::param(
            "weights",
            format!("weight {bad} is not a finite f32 value"),
        ));
    }
    Ok(weights.iter().map(|&w| w as f32).collect())
}

/// Maps a user axis of an `ndim`-D array to the volume axis (2D images are one-slice volumes).
pub(crate) fn volume_axis(axis: usize, ndim: usize) -> Result<usize> {
    if axis >= ndim {
        return Err(Error::param(
            "axis",
            format!("axis {axis} does not exist in a {ndim}-D array (axes are 0..{ndim})"),
        ));
    }
    Ok(axis + 3 - ndim)
}

/// `scipy.ndimage.correlate1d(input, weights, axis, mode, cval, origin)`.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::Correlate1d;
/// let row = ndarray::array![[0.0f32, 1.0, 4.0, 9.0]];
/// // A backward difference along x, nearest extension.
/// let d = Correlate1d::new(&[-1.0, 1.0], 1).mode(BoundaryMode::Nearest).apply(&Backend::Cpu, row.view())?;
/// assert_eq!(d, ndarray::array![[0.0f32, 1.0, 3.0, 5.0]]);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Correlate1d {
    weights: Vec<f64>,
    axis: usize,
    origin: isize,
    mode: BoundaryMode,
}

impl Correlate1d {
    /// Weights and axis (of the array as given: `0..2` for images, `0..3` for volumes).
    pub fn new(weights: &[f64], axis: usize) -> Self {
        Correlate1d {
            weights: weights.to_vec(),
            axis,
            origin: 0,
            mode: BoundaryMode::default(),
        }
    }

    /// scipy's `origin`: shifts the kernel; `-(n/2) <= origin <= (n-1)/2`.
    pub fn origin(mut self, origin: isize) -> Self {
        self.origin = origin;
        self
    }

    /// Boundary mode (default `Reflect`).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self, ndim: usize) -> Result<Separable> {
        check_ndim(ndim)?;
        check_mode(self.mode)?;
        let weights = check_weights(&self.weights)?;
        let n = weights.len() as isize;
        let left = n / 2 + self.origin;
        if !(0..n).contains(&left) {
            return Err(Error::param(
                "origin",
                format!(
                    "origin {} is outside {}..={} for {n} weights",
                    self.origin,
                    -(n / 2),
                    (n - 1) / 2
                ),
            ));
        }
        let pass = Pass {
            axis: volume_axis(self.axis, ndim)?,
            weights,
            left: left as usize,
        };
        Ok(Separable::chain(vec![pass], self.mode))
    }
}

separable_filter!(Correlate1d, "correlate1d");

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain on whole-volume passes, one after another (what the slabs must reproduce).
    fn whole(input: ArrayView3<'_, f32>, passes: &[Pass], mode: BoundaryMode) -> Array3<f32> {
        passes
            .iter()
            .fold(input.to_owned(), |v, p| correlate_cpu(v.view(), p, mode))
    }

    #[test]
    fn chains_by_slabs_equal_whole_volume_passes_bit_for_bit() {
        let mut rng = crate::rng::XorShift64::new(11);
        let modes = [
            BoundaryMode::Reflect,
            BoundaryMode::Mirror,
            BoundaryMode::Nearest,
            BoundaryMode::Constant(0.0),
            BoundaryMode::Constant(-3.5),
        ];
        for case in 0..30 {
            let shape = [
                2 * CHAIN_SLAB + (rng.next_u64() % 23) as usize,
                1 + (rng.next_u64() % 9) as usize,
                1 + (rng.next_u64() % 40) as usize,
            ];
            let n: usize = shape.iter().product();
            // CT-like values: a large offset with small differences.
            let values: Vec<f32> = (0..n).map(|_| 1000.0 + 7.0 * rng.next_f64_open() as f32).collect();
            let input = Array3::from_shape_vec(shape, values).unwrap();
            // Sobel-like chains with the derivative on each axis in turn, an off-centre pass and
            // a chain with two passes along z.
            let d = |axis| Pass::centred(axis, vec![-1.0, 0.0, 1.0]);
            let s = |axis| Pass::centred(axis, vec![1.0, 2.0, 1.0]);
            let chains = [
                vec![d(0), s(1), s(2)],
                vec![d(1), s(0), s(2)],
                vec![d(2), s(0), s(1)],
                vec![
                    Pass {
                        axis: 0,
                        weights: vec![0.5, -1.0, 0.25],
                        left: 2,
                    },
                    s(2),
                ],
                vec![s(1), d(0), s(0)],
            ];
            let mode = modes[case % modes.len()];
            for (k, passes) in chains.iter().enumerate() {
                let got = chain_by_slabs(input.view(), passes, mode, None).expect("slabs apply");
                let want = whole(input.view(), passes, mode);
                let same = got.iter().zip(want.iter()).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "case {case} chain {k} {shape:?} {mode:?}");
            }
        }
        // Wrap reads the far end along z: the whole-volume passes run instead.
        let input = Array3::<f32>::zeros([40, 3, 3]);
        let sobel = [
            Pass::centred(1, vec![-1.0, 0.0, 1.0]),
            Pass::centred(0, vec![1.0, 2.0, 1.0]),
        ];
        assert!(chain_by_slabs(input.view(), &sobel, BoundaryMode::Wrap, None).is_none());
    }

    #[test]
    fn terms_combined_row_by_row_equal_whole_terms_combined_bit_for_bit() {
        let mut rng = crate::rng::XorShift64::new(12);
        let d = |axis| Pass::centred(axis, vec![-1.0, 0.0, 1.0]);
        let s = |axis| Pass::centred(axis, vec![1.0, 2.0, 1.0]);
        let l = |axis| Pass::centred(axis, vec![1.0, -2.0, 1.0]);
        for case in 0..12 {
            let shape = [
                2 * CHAIN_SLAB + (rng.next_u64() % 9) as usize,
                7,
                1 + (rng.next_u64() % 30) as usize,
            ];
            let n: usize = shape.iter().product();
            let values: Vec<f32> = (0..n).map(|_| 1000.0 + 9.0 * rng.next_f64_open() as f32).collect();
            let input = Array3::from_shape_vec(shape, values).unwrap();
            let mode = [BoundaryMode::Reflect, BoundaryMode::Nearest, BoundaryMode::Wrap][case % 3];
            let plans = [
                // Sobel's magnitude: three chains, the root of the sum of squares.
                Separable {
                    terms: vec![vec![d(0), s(1), s(2)], vec![d(1), s(0), s(2)], vec![d(2), s(0), s(1)]],
                    combine: Combine::RootSumOfSquares,
                    mode,
                },
                // Laplace: one pass a chain, summed.
                Separable {
                    terms: vec![vec![l(0)], vec![l(1)], vec![l(2)]],
                    combine: Combine::Sum,
                    mode,
                },
            ];
            for plan in &plans {
                let terms: Vec<Array3<f32>> = plan.terms.iter().map(|t| whole(input.view(), t, mode)).collect();
                let rss = plan.combine == Combine::RootSumOfSquares;
                let mut want = terms[0].mapv(|x| if rss { x * x } else { x });
                for (k, t) in terms.iter().enumerate().skip(1) {
                    let last = k + 1 == terms.len();
                    ndarray::Zip::from(&mut want).and(t).for_each(|x, &b| {
                        *x = match (rss, last) {
                            (false, _) => *x + b,
                            (true, false) => *x + b * b,
                            (true, true) => (*x + b * b).sqrt(),
                        }
                    });
                }
                let got = plan.cpu(input.view());
                let same = got.iter().zip(want.iter()).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "case {case} {shape:?} {mode:?} {:?}", plan.combine);
            }
        }
    }
}

//! Mathematical morphology with flat structuring elements.
//!
//! * [`GreyMorphology`]: `scipy.ndimage.grey_erosion` / `grey_dilation` / `grey_opening` /
//!   `grey_closing` with a box (`size = 2r + 1` per axis) or a ball footprint
//!   (`dz² + dy² + dx² <= r²`, `skimage.morphology.ball`), every boundary mode (default
//!   `Reflect`, as scipy). Boxes run as separable 1D min/max passes; balls as rows of the
//!   footprint, each an interval along x.
//! * [`BinaryMorphology`]: `scipy.ndimage.binary_erosion` / `binary_dilation` /
//!   `binary_opening` / `binary_closing` on masks (non-zero = true, NaN counts as true as in
//!   numpy), `iterations`, `border_value = 0`; output 0/1. The default structuring element is
//!   scipy's: the cross of connectivity 1 (`Footprint::Ball(1)`).
//!
//! NaN in grey-level data: the result near a NaN is unspecified (min/max with NaN differ between
//! CPUs and GPUs); it is never a panic.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::correlate1d::check_mode;
use crate::filter::neighbourhood::map_rows;
use crate::filter::pointwise::{self, Op};
use crate::filter::rows::extend_row_into;
use crate::filter::{Filter, check_ndim, per_axis};
use crate::gpu::{Binding, TILE, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_slab, wgsl};

/// Largest radius of a footprint along any axis.
pub const MAX_RADIUS: usize = 32;
/// Ball radius up to which the GPU stages the neighbourhood in workgroup memory.
const GPU_STAGE_RADIUS: usize = 3;

pub(crate) static AXIS: KernelSpec = KernelSpec {
    name: "filter/morphology_axis",
    sources: &[
        wgsl::BOUNDARY,
        wgsl::TILE,
        wgsl::STAGE,
        include_str!("../../shaders/filter/morphology.wgsl"),
    ],
    entry: "extreme_axis",
    bindings: &[
        TILE,
        uniform::<Params>(),
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[],
};
pub(crate) static FOOTPRINT: KernelSpec = KernelSpec {
    name: "filter/morphology_footprint",
    sources: &[
        wgsl::BOUNDARY,
        wgsl::TILE,
        wgsl::STAGE,
        include_str!("../../shaders/filter/morphology.wgsl"),
    ],
    entry: "extreme_footprint",
    bindings: &[
        TILE,
        uniform::<Params>(),
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[],
};

/// Twin of `Params` in `morphology.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    axis: u32,
    radius: u32,
    is_max: u32,
    mode: u32,
    cval: f32,
    rows: u32,
    use_cache: u32,
    footprint_radius: u32,
    /// 1: combine with what `dst` holds (a later part of a footprint split into parts).
    resume: u32,
    _pad: [u32; 3],
}

/// A flat structuring element.
#[derive(Debug, Clone, PartialEq)]
pub enum Footprint {
    /// A box of `2r + 1` voxels per axis (one radius, or one per axis).
    Box(Vec<usize>),
    /// The voxels with `dz² + dy² + dx² <= r²` (a disk in 2D). `Ball(1)` is the cross of
    /// connectivity 1.
    Ball(usize),
}

/// Erosion, dilation, opening (erosion then dilation), closing (dilation then erosion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MorphOp {
    /// Minimum over the footprint.
    Erosion,
    /// Maximum over the footprint.
    Dilation,
    /// Dilation of the erosion.
    Opening,
    /// Erosion of the dilation.
    Closing,
}

impl MorphOp {
    /// The elementary steps, `true` for a maximum.
    fn steps(self) -> &'static [bool] {
        match self {
            MorphOp::Erosion => &[false],
            MorphOp::Dilation => &[true],
            MorphOp::Opening => &[false, true],
            MorphOp::Closing => &[true, false],
        }
    }
}

/// The validated footprint for an `ndim`-D input.
#[derive(Debug, Clone)]
enum Plan {
    /// Radius per volume axis.
    Box([usize; 3]),
    /// Rows `(dz, dy, half-width along x)` and the radius.
    Rows(Vec<[i32; 4]>, usize),
}

fn plan(footprint: &Footprint, ndim: usize) -> Result<Plan> {
    check_ndim(ndim)?;
    match footprint {
        Footprint::Box(radius) => {
            let r: Vec<f64> = radius.iter().map(|&r| r as f64).collect();
            let r = per_axis("radius", &r, ndim, 0.0)?;
            let r = [r[0] as usize, r[1] as usize, r[2] as usize];
            if let Some(bad) = r.iter().find(|&&r| r > MAX_RADIUS) {
                return Err(Error::param(
                    "radius",
                    format!("radius {bad} is above the supported {MAX_RADIUS}"),
                ));
            }
            Ok(Plan::Box(r))
        }
        Footprint::Ball(r) => {
            let r = *r;
            if r > MAX_RADIUS {
                return Err(Error::param(
                    "radius",
                    format!("ball radius {r} is above the supported {MAX_RADIUS}"),
                ));
            }
            let rz = if ndim == 3 { r as i32 } else { 0 };
            let ri = r as i32;
            let mut rows = Vec::new();
            for dz in -rz..=rz {
                for dy in -ri..=ri {
                    let rest = ri * ri - dz * dz - dy * dy;
                    if rest >= 0 {
                        rows.push([dz, dy, (rest as f64).sqrt().floor() as i32, 0]);
                    }
                }
            }
            Ok(Plan::Rows(rows, r))
        }
    }
}

/// Grey-level morphology.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::{Footprint, GreyMorphology};
/// let image = ndarray::array![[5.0f32, 1.0, 7.0, 3.0]];
/// let eroded = GreyMorphology::erosion(Footprint::Box(vec![0, 1])).apply(&Backend::Cpu, image.view())?;
/// assert_eq!(eroded, ndarray::array![[1.0f32, 1.0, 1.0, 3.0]]);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GreyMorphology {
    op: MorphOp,
    footprint: Footprint,
    mode: BoundaryMode,
}

impl GreyMorphology {
    /// `op` with `footprint`, `Reflect` boundary.
    pub fn new(op: MorphOp, footprint: Footprint) -> Self {
        GreyMorphology {
            op,
            footprint,
            mode: BoundaryMode::default(),
        }
    }

    /// `scipy.ndimage.grey_erosion`.
    pub fn erosion(footprint: Footprint) -> Self {
        GreyMorphology::new(MorphOp::Erosion, footprint)
    }

    /// `scipy.ndimage.grey_dilation`.
    pub fn dilation(footprint: Footprint) -> Self {
        GreyMorphology::new(MorphOp::Dilation, footprint)
    }

    /// `scipy.ndimage.grey_opening`.
    pub fn opening(footprint: Footprint) -> Self {
        GreyMorphology::new(MorphOp::Opening, footprint)
    }

    /// `scipy.ndimage.grey_closing`.
    pub fn closing(footprint: Footprint) -> Self {
        GreyMorphology::new(MorphOp::Closing, footprint)
    }

    /// Boundary mode (default `Reflect`).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }
}

impl Filter for GreyMorphology {
    fn name(&self) -> &'static str {
        "grey_morphology"
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        check_mode(self.mode)?;
        let plan = plan(&self.footprint, ndim)?;
        let mut current: Option<Array3<f32>> = None;
        for &is_max in self.op.steps() {
            let src = current.as_ref().map_or(input, |c| c.view());
            current = Some(extreme_cpu(src, &plan, is_max, self.mode));
        }
        Ok(current.expect("every op has a step"))
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        check_mode(self.mode)?;
        let plan = plan(&self.footprint, ndim)?;
        let mut current: Option<GpuVolume> = None;
        for &is_max in self.op.steps() {
            let next = record_extreme(rec, current.as_ref().unwrap_or(input), &plan, is_max, self.mode)?;
            if let Some(done) = current.replace(next) {
                rec.recycle(done);
            }
        }
        Ok(current.expect("every op has a step"))
    }
}

// ---------------------------------------------------------------------------------------------
// CPU path

fn extreme_cpu(input: ArrayView3<'_, f32>, plan: &Plan, is_max: bool, mode: BoundaryMode) -> Array3<f32> {
    match plan {
        Plan::Box(r) => {
            let mut current: Option<Array3<f32>> = None;
            for (axis, &r) in r.iter().enumerate() {
                if r > 0 {
                    let src = current.as_ref().map_or(input, |c| c.view());
                    current = Some(extreme_axis_cpu(src, axis, r, is_max, mode));
                }
            }
            current.unwrap_or_else(|| input.to_owned())
        }
        Plan::Rows(rows, r) => {
            let rz = rows.iter().map(|row| row[0].unsigned_abs() as usize).max().unwrap_or(0);
            let radius = [rz, *r, *r];
            let width = 2 * r + 1;
            map_rows(
                input,
                radius,
                mode,
                || (),
                |_, _, nb, _, out| {
                    out.fill(if is_max { f32::NEG_INFINITY } else { f32::INFINITY });
                    for row in rows {
                        let i = (row[0] + rz as i32) as usize * width + (row[1] + *r as i32) as usize;
                        let src = nb.row(i);
                        for dx in -row[2]..=row[2] {
                            let shifted = &src[(*r as i32 + dx) as usize..];
                            combine_into(out, shifted, is_max);
                        }
                    }
                },
            )
        }
    }
}

#[inline]
fn combine_into(out: &mut [f32], src: &[f32], is_max: bool) {
    let n = out.len();
    if is_max {
        out.iter_mut().zip(&src[..n]).for_each(|(o, &s)| *o = o.max(s));
    } else {
        out.iter_mut().zip(&src[..n]).for_each(|(o, &s)| *o = o.min(s));
    }
}

/// Min or max of `2r + 1` voxels along `axis`, every output row in parallel.
fn extreme_axis_cpu(
    input: ArrayView3<'_, f32>,
    axis: usize,
    r: usize,
    is_max: bool,
    mode: BoundaryMode,
) -> Array3<f32> {
    let [nz, ny, nx] = [input.shape()[0], input.shape()[1], input.shape()[2]];
    let input = input.as_standard_layout();
    let src = input.as_slice().expect("standard layout is contiguous");
    let mut out = crate::memory::zeroed_f32(src.len());
    let cval = vec![mode.cval(); nx];
    out.par_chunks_mut(nx)
        .enumerate()
        .for_each_init(Vec::new, |pad, (i, dst)| {
            let (z, y) = (i / ny, i % ny);
            let row_at = |z: usize, y: usize| &src[(z * ny + y) * nx..(z * ny + y + 1) * nx];
            match axis {
                0 | 1 => {
                    let (c, n) = if axis == 0 { (z, nz) } else { (y, ny) };
                    dst.copy_from_slice(row_at(z, y));
                    for d in -(r as isize)..=r as isize {
                        let other = match mode.map_index(c as isize + d, 0, n as isize) {
                            Some(m) if axis == 0 => row_at(m as usize, y),
                            Some(m) => row_at(z, m as usize),
                            None => &cval[..],
                        };
                        combine_into(dst, other, is_max);
                    }
                }
                _ => {
                    extend_row_into(row_at(z, y), r, r, mode, pad);
                    dst.copy_from_slice(&pad[r..r + nx]);
                    for d in 0..=2 * r {
                        combine_into(dst, &pad[d..], is_max);
                    }
                }
            }
        });
    Array3::from_shape_vec((nz, ny, nx), out).expect("shape matches length")
}

// ---------------------------------------------------------------------------------------------
// GPU path

fn record_extreme(
    rec: &mut Recorder<'_>,
    input: &GpuVolume,
    plan: &Plan,
    is_max: bool,
    mode: BoundaryMode,
) -> Result<GpuVolume> {
    let base = Params {
        axis: 0,
        radius: 0,
        is_max: u32::from(is_max),
        mode: mode.code(),
        cval: mode.cval(),
        rows: 0,
        use_cache: 0,
        footprint_radius: 0,
        resume: 0,
        _pad: [0; 3],
    };
    match plan {
        Plan::Box(r) => {
            let mut current: Option<GpuVolume> = None;
            let dummy_rows = rec.constants(&[[0i32; 4]]);
            for (axis, &ra) in r.iter().enumerate() {
                if ra == 0 {
                    continue;
                }
                let src = current.as_ref().unwrap_or(input);
                let dst = rec.volume(input.shape())?;
                let params = rec.uniform(&Params {
                    axis: axis as u32,
                    radius: ra as u32,
                    ..base
                });
                let halo = if axis == 0 { ra } else { 0 };
                for_each_slab(rec, &[src], &dst, halo, mode, |rec, slab| {
                    rec.dispatch_linear(
                        &AXIS,
                        &[
                            BufferWindow::whole(&slab.tile),
                            BufferWindow::whole(&params),
                            BufferWindow::whole(&dummy_rows),
                            slab.inputs[0],
                            slab.output,
                        ],
                        slab.items,
                    )
                })?;
                if let Some(done) = current.replace(dst) {
                    rec.recycle(done);
                }
            }
            match current {
                Some(c) => Ok(c),
                None => rec.duplicate(input),
            }
        }
        Plan::Rows(rows, r) => {
            let output = rec.volume(input.shape())?;
            let rz = rows.iter().map(|row| row[0].unsigned_abs() as usize).max().unwrap_or(0);
            for (part, rows) in footprint_parts(rows, rec.loop_limit()).into_iter().enumerate() {
                let params = rec.uniform(&Params {
                    rows: rows.len() as u32,
                    use_cache: u32::from(*r <= GPU_STAGE_RADIUS),
                    footprint_radius: *r as u32,
                    resume: u32::from(part > 0),
                    ..base
                });
                let rows = rec.constants(rows);
                for_each_slab(rec, &[input], &output, rz.max(*r), mode, |rec, slab| {
                    rec.dispatch_grid(
                        &FOOTPRINT,
                        &[
                            BufferWindow::whole(&slab.tile),
                            BufferWindow::whole(&params),
                            BufferWindow::whole(&rows),
                            slab.inputs[0],
                            slab.output,
                        ],
                        slab.grid(),
                    )
                })?;
            }
            Ok(output)
        }
    }
}

/// A footprint's rows in consecutive parts that each stay within `loop_limit` iterations of
/// `extreme_footprint`'s loops (a row of half-width `w` costs `2w + 3`, its loops' exits
/// counted, with a fifth spare for how llvmpipe's drivers count): a ball of radius 32 has
/// ~137,000 voxels, past llvmpipe's 65,535, which ended the loops early and dropped the rest.
/// Minimum and maximum are exact in any grouping, so later parts combine with the earlier
/// result. One part where loops have no limit.
fn footprint_parts(rows: &[[i32; 4]], loop_limit: u64) -> Vec<&[[i32; 4]]> {
    let budget = loop_limit.saturating_mul(4) / 5;
    let mut parts = Vec::new();
    let (mut start, mut cost) = (0, 16u64);
    for (i, row) in rows.iter().enumerate() {
        let row_cost = 2 * row[2].unsigned_abs() as u64 + 3;
        if cost + row_cost > budget && i > start {
            parts.push(&rows[start..i]);
            (start, cost) = (i, 16);
        }
        cost += row_cost;
    }
    parts.push(&rows[start..]);
    parts
}

// ---------------------------------------------------------------------------------------------
// Binary morphology

/// Binary morphology on masks, scipy's `binary_*` with `border_value = 0`.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::BinaryMorphology;
/// let mut mask = ndarray::Array2::<f32>::zeros((5, 5));
/// mask.slice_mut(ndarray::s![1..4, 1..4]).fill(1.0);
/// // The default cross keeps a voxel whose four neighbours are all set: only the centre.
/// let eroded = BinaryMorphology::erosion().apply(&Backend::Cpu, mask.view())?;
/// assert_eq!(eroded.sum(), 1.0);
/// assert_eq!(eroded[[2, 2]], 1.0);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryMorphology {
    op: MorphOp,
    footprint: Footprint,
    iterations: usize,
}

impl BinaryMorphology {
    /// `op` with scipy's default structuring element (the cross), one iteration.
    pub fn new(op: MorphOp) -> Self {
        BinaryMorphology {
            op,
            footprint: Footprint::Ball(1),
            iterations: 1,
        }
    }

    /// `scipy.ndimage.binary_erosion`.
    pub fn erosion() -> Self {
        BinaryMorphology::new(MorphOp::Erosion)
    }

    /// `scipy.ndimage.binary_dilation`.
    pub fn dilation() -> Self {
        BinaryMorphology::new(MorphOp::Dilation)
    }

    /// `scipy.ndimage.binary_opening`.
    pub fn opening() -> Self {
        BinaryMorphology::new(MorphOp::Opening)
    }

    /// `scipy.ndimage.binary_closing`.
    pub fn closing() -> Self {
        BinaryMorphology::new(MorphOp::Closing)
    }

    /// Another structuring element (scipy's `structure`).
    pub fn footprint(mut self, footprint: Footprint) -> Self {
        self.footprint = footprint;
        self
    }

    /// Repeats each elementary step `n` times (scipy's `iterations`, at least 1).
    pub fn iterations(mut self, n: usize) -> Self {
        self.iterations = n;
        self
    }

    /// The grey-level steps: each elementary step `iterations` times, outside = 0.
    fn steps(&self) -> Result<Vec<GreyMorphology>> {
        if self.iterations == 0 || self.iterations > 4096 {
            return Err(Error::param(
                "iterations",
                format!(
                    "{} iterations: give 1 to 4096 (scipy's 'until stable' is not offered)",
                    self.iterations
                ),
            ));
        }
        let mut steps = Vec::new();
        for &is_max in self.op.steps() {
            let op = if is_max { MorphOp::Dilation } else { MorphOp::Erosion };
            for _ in 0..self.iterations {
                steps.push(GreyMorphology::new(op, self.footprint.clone()).mode(BoundaryMode::Constant(0.0)));
            }
        }
        Ok(steps)
    }
}

/// Non-zero (and NaN, as numpy's bool) → 1, zero → 0.
pub(crate) const BINARIZE: [Op; 1] = [Op::Threshold {
    lo: 0.0,
    hi: 0.0,
    inside: 0.0,
    outside: 1.0,
}];

impl Filter for BinaryMorphology {
    fn name(&self) -> &'static str {
        "binary_morphology"
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let steps = self.steps()?;
        plan(&self.footprint, ndim)?;
        let mut current = pointwise::run_cpu(&BINARIZE, input, None);
        for step in steps {
            current = step.cpu(current.view(), ndim)?;
        }
        Ok(current)
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let steps = self.steps()?;
        plan(&self.footprint, ndim)?;
        let mut current = pointwise::record(rec, &BINARIZE, input, None)?;
        for step in steps {
            let next = step.record(rec, &current, ndim)?;
            rec.recycle(std::mem::replace(&mut current, next));
        }
        Ok(current)
    }
}

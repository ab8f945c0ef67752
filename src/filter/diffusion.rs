//! Anisotropic diffusion with ITK's semantics (SimpleITK `GradientAnisotropicDiffusion` and
//! `CurvatureAnisotropicDiffusion`):
//!
//! * [`AnisotropicDiffusion::gradient`]: Perona–Malik, conductance `exp(-|∇I|² / (2 κ² ⟨|∇I|²⟩))`
//!   on half-voxel gradients (ITK's `GradientNDAnisotropicDiffusionFunction`);
//! * [`AnisotropicDiffusion::curvature`]: Whitaker's modified curvature diffusion equation
//!   (ITK's `CurvatureNDAnisotropicDiffusionFunction`);
//! * `⟨|∇I|²⟩` is recomputed from the current image before every iteration (ITK's conductance
//!   scaling interval 1); derivatives are divided by the spacing (mm), boundaries are zero-flux;
//! * explicit steps `I ← I + dt · update`: `dt` must not exceed `min_spacing / 2^(N+1)` (N = 2 or
//!   3) — ITK only warns; here an unstable step is an error that states the limit. The default
//!   time step is that limit.
//!
//! Per iteration the GPU runs one gradient pass, a reduction, a one-workgroup kernel that turns
//! the reduction's partials into K on the device (`diffusion_k.wgsl`), and one update pass on
//! 8×8×4 staged blocks that reads K from a buffer, ping-ponging two volumes: every iteration of
//! a call is recorded into one submission, with no read-back.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
#[cfg(test)]
use crate::filter::neighbourhood::map_rows;
use crate::filter::neighbourhood::{NeighbourRows, map_rows_into};
use crate::filter::pointwise::exp_f32;
use crate::filter::{Filter, check_ndim, per_axis};
use crate::gpu::reduce::{Moments, record_moment_partials};
use crate::gpu::{Binding, TILE, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_slab, wgsl};
use crate::volume::Grid;

pub(crate) static UPDATE: KernelSpec = KernelSpec {
    name: "filter/diffusion_update",
    sources: &[
        wgsl::BOUNDARY,
        wgsl::TILE,
        wgsl::STAGE,
        include_str!("../../shaders/filter/diffusion.wgsl"),
    ],
    entry: "update",
    bindings: &[
        TILE,
        uniform::<Params>(),
        Binding::Read,
        Binding::ReadWrite,
        Binding::Read,
    ],
    constants: &[],
};
/// K from the squared-gradient moments, on the device (`diffusion_k.wgsl`).
pub(crate) static CONDUCTANCE_SCALE: KernelSpec = KernelSpec {
    name: "filter/diffusion_conductance_scale",
    sources: &[include_str!("../../shaders/filter/diffusion_k.wgsl")],
    entry: "conductance_scale",
    bindings: &[uniform::<ScaleParams>(), Binding::Read, Binding::ReadWrite],
    constants: &[],
};

/// Twin of `Params` in `diffusion_k.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ScaleParams {
    partials: u32,
    _pad0: u32,
    factor: f32,
    _pad1: f32,
}
pub(crate) static GRAD_SQ: KernelSpec = KernelSpec {
    name: "filter/diffusion_grad_sq",
    sources: &[
        wgsl::BOUNDARY,
        wgsl::TILE,
        wgsl::STAGE,
        include_str!("../../shaders/filter/diffusion.wgsl"),
    ],
    entry: "grad_sq",
    bindings: &[TILE, uniform::<Params>(), Binding::Read, Binding::ReadWrite],
    constants: &[],
};

/// Largest number of iterations accepted.
pub const MAX_ITERATIONS: usize = 100_000;
const MIN_NORM: f32 = 1.0e-10;

/// Twin of `Params` in `diffusion.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    scale: [f32; 4],
    /// Unused: K comes from a device buffer (kept for the WGSL struct's layout).
    _unused_k: f32,
    dt: f32,
    curvature: u32,
    three_d: u32,
}

/// Anisotropic diffusion.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::AnisotropicDiffusion;
/// let noisy = ndarray::Array2::from_shape_fn((32, 32), |(y, x)| {
///     (if x < 16 { 0.0 } else { 100.0 }) + ((y * 7 + x * 13) % 5) as f32
/// });
/// let smooth = AnisotropicDiffusion::gradient(10, 3.0).apply(&Backend::Cpu, noisy.view())?;
/// assert!(smooth[[16, 10]] > 1.0 && smooth[[16, 10]] < 3.0);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AnisotropicDiffusion {
    curvature: bool,
    iterations: usize,
    conductance: f64,
    time_step: Option<f64>,
    spacing: Vec<f64>,
    /// A fixed `⟨|∇I|²⟩` instead of the image's own (see [`AnisotropicDiffusion::mean_gradient_squared`]).
    mean_gradient_squared: Option<f64>,
}

struct Plan {
    scale: [f32; 4],
    dt: f32,
    three_d: bool,
}

impl AnisotropicDiffusion {
    /// Perona–Malik (ITK `GradientAnisotropicDiffusion`), `iterations` steps, conductance κ.
    pub fn gradient(iterations: usize, conductance: f64) -> Self {
        AnisotropicDiffusion {
            curvature: false,
            iterations,
            conductance,
            time_step: None,
            spacing: vec![1.0],
            mean_gradient_squared: None,
        }
    }

    /// Modified curvature diffusion (ITK `CurvatureAnisotropicDiffusion`).
    pub fn curvature(iterations: usize, conductance: f64) -> Self {
        AnisotropicDiffusion {
            curvature: true,
            ..AnisotropicDiffusion::gradient(iterations, conductance)
        }
    }

    /// Time step per iteration (default: the stability limit `min_spacing / 2^(N+1)`).
    pub fn time_step(mut self, dt: f64) -> Self {
        self.time_step = Some(dt);
        self
    }

    /// Voxel spacing in mm (one value or one per axis; default 1).
    pub fn spacing(mut self, spacing: &[f64]) -> Self {
        self.spacing = spacing.to_vec();
        self
    }

    /// The spacing of a volume's grid.
    pub fn for_grid(self, grid: &Grid) -> Self {
        self.spacing(&grid.spacing)
    }

    /// Scales the conductance by this `⟨|∇I|²⟩` (central differences over the whole image,
    /// mm⁻²) in every iteration instead of measuring it from the data being filtered. A volume
    /// split into blocks (Dask chunks) needs the mean of the whole volume, which no block sees:
    /// the caller measures it across blocks and runs one iteration at a time with it.
    pub fn mean_gradient_squared(mut self, mean: f64) -> Self {
        self.mean_gradient_squared = Some(mean);
        self
    }

    fn plan(&self, ndim: usize) -> Result<Plan> {
        check_ndim(ndim)?;
        if self.iterations > MAX_ITERATIONS {
            return Err(Error::param(
                "iterations",
                format!("{} iterations: at most {MAX_ITERATIONS}", self.iterations),
            ));
        }
        if !(self.conductance.is_finite() && self.conductance > 0.0) {
            return Err(Error::param(
                "conductance",
                format!("conductance {} must be positive and finite", self.conductance),
            ));
        }
        if let Some(m) = self.mean_gradient_squared
            && !(m.is_finite() && m >= 0.0)
        {
            return Err(Error::param(
                "mean_gradient_squared",
                format!("mean squared gradient {m} must be finite and not negative"),
            ));
        }
        let spacing = per_axis("spacing", &self.spacing, ndim, 1.0)?;
        if let Some(bad) = spacing.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::param(
                "spacing",
                format!("spacing {bad} must be positive and finite"),
            ));
        }
        let min_spacing = spacing[3 - ndim..].iter().cloned().fold(f64::INFINITY, f64::min);
        let limit = min_spacing / 2f64.powi(ndim as i32 + 1);
        let dt = self.time_step.unwrap_or(limit);
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::param(
                "time_step",
                format!("time step {dt} must be positive and finite"),
            ));
        }
        if dt > limit * (1.0 + 1e-12) {
            return Err(Error::param(
                "time_step",
                format!(
                    "time step {dt} is unstable for {ndim}-D data with minimum spacing {min_spacing} mm: it must be at \
                     most min_spacing / 2^{} = {limit}",
                    ndim + 1
                ),
            ));
        }
        let mut scale = [0.0f32; 4];
        for a in 3 - ndim..3 {
            scale[a] = (1.0 / spacing[a]) as f32;
        }
        Ok(Plan {
            scale,
            dt: dt as f32,
            three_d: ndim == 3,
        })
    }

    /// `⟨|∇I|²⟩` of `current` with central differences (zero-flux edges), as ITK's conductance
    /// scaling.
    /// `scratch` (the volume's length) receives `|∇I|²`.
    fn mean_gradient_squared_cpu(&self, current: ArrayView3<'_, f32>, plan: &Plan, scratch: &mut [f32]) -> f64 {
        let rz = usize::from(plan.three_d);
        map_rows_into(
            current,
            [rz, 1, 1],
            BoundaryMode::Nearest,
            || (),
            |_, _, rows, _, out| {
                let nb = neighbour_slices(rows, out.len(), plan.three_d);
                if plan.three_d {
                    grad_sq_row::<true>(&nb, plan, out)
                } else {
                    grad_sq_row::<false>(&nb, plan, out)
                }
            },
            scratch,
        );
        scratch
            .par_chunks(1 << 16)
            .map(Moments::of_values)
            .reduce(Moments::default, Moments::merge)
            .mean
    }

    /// K = -2 κ² ⟨|∇I|²⟩ from the mean squared gradient.
    fn k(&self, mean_grad_sq: f64) -> f32 {
        (-2.0 * self.conductance * self.conductance * mean_grad_sq) as f32
    }
}

/// Axes of the data (1.. for 2D images).
fn axes(three_d: bool) -> std::ops::Range<usize> {
    if three_d { 0..3 } else { 1..3 }
}

/// The 27 neighbour rows of an output row of `nx` voxels, each `nx` long: entry
/// `(dz + 1) · 9 + (dy + 1) · 3 + dx + 1` holds the neighbours at that offset (2D: only dz = 0;
/// the other entries repeat the centre).
fn neighbour_slices<'a>(rows: &'a NeighbourRows<'_>, nx: usize, three_d: bool) -> [&'a [f32]; 27] {
    std::array::from_fn(|i| {
        let (dz, dy, dx) = (i / 9, i / 3 % 3, i % 3);
        // A 2D image has rows for dy only: every dz reads the centre plane.
        let row = if three_d { dz * 3 + dy } else { dy };
        &rows.row(row)[dx..dx + nx]
    })
}

/// Reads neighbour `d` of voxel `x` through the starts of [`neighbour_slices`].
///
/// # Safety
/// `x` is below the slices' length.
#[inline(always)]
unsafe fn neighbour(nb: &[*const f32; 27], x: usize, d: [i32; 3]) -> f32 {
    let i = ((d[0] + 1) * 9 + (d[1] + 1) * 3 + d[2] + 1) as usize;
    // SAFETY: the caller's contract; d is within ±1, so i < 27.
    unsafe { *nb[i].add(x) }
}

/// One output row of an iteration: the update at every voxel, in loops that vectorise (the
/// dimension and the equation are constants, the exponential is arithmetic).
fn update_row<const THREE_D: bool, const CURVATURE: bool>(nb: &[&[f32]; 27], plan: &Plan, k: f32, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { update_row_avx2::<THREE_D, CURVATURE>(nb, plan, k, out) };
            return;
        }
    }
    update_row_lanes::<THREE_D, CURVATURE>(nb, plan, k, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_row_avx2<const THREE_D: bool, const CURVATURE: bool>(
    nb: &[&[f32]; 27],
    plan: &Plan,
    k: f32,
    out: &mut [f32],
) {
    update_row_lanes::<THREE_D, CURVATURE>(nb, plan, k, out)
}

#[inline(always)]
fn update_row_lanes<const THREE_D: bool, const CURVATURE: bool>(
    nb: &[&[f32]; 27],
    plan: &Plan,
    k: f32,
    out: &mut [f32],
) {
    // Raw starts: the loop reads them as loop-invariant bases (slices kept it scalar).
    let starts = nb.map(|s| {
        assert!(s.len() >= out.len());
        s.as_ptr()
    });
    let full = out.len() / 8 * 8;
    for (x0, o) in (0..full).step_by(8).zip(out.chunks_exact_mut(8)) {
        // SAFETY: x0 + 8 <= out.len() <= every slice's length.
        let read = |d| Eight(std::array::from_fn(|l| unsafe { neighbour(&starts, x0 + l, d) }));
        o.copy_from_slice(&update_at::<Eight, THREE_D, CURVATURE>(read, plan, k).0);
    }
    for (x, o) in out.iter_mut().enumerate().skip(full) {
        // SAFETY: x < out.len() <= every slice's length.
        *o = update_at::<f32, THREE_D, CURVATURE>(|d| unsafe { neighbour(&starts, x, d) }, plan, k);
    }
}

/// `|∇I|²` (central differences) of one row, vectorised like [`update_row`].
fn grad_sq_row<const THREE_D: bool>(nb: &[&[f32]; 27], plan: &Plan, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { grad_sq_row_avx2::<THREE_D>(nb, plan, out) };
            return;
        }
    }
    grad_sq_row_lanes::<THREE_D>(nb, plan, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn grad_sq_row_avx2<const THREE_D: bool>(nb: &[&[f32]; 27], plan: &Plan, out: &mut [f32]) {
    grad_sq_row_lanes::<THREE_D>(nb, plan, out)
}

#[inline(always)]
fn grad_sq_row_lanes<const THREE_D: bool>(nb: &[&[f32]; 27], plan: &Plan, out: &mut [f32]) {
    let starts = nb.map(|s| {
        assert!(s.len() >= out.len());
        s.as_ptr()
    });
    for (x, o) in out.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for a in axes(THREE_D) {
            let e = [i32::from(a == 0), i32::from(a == 1), i32::from(a == 2)];
            // SAFETY: x < out.len() <= every slice's length.
            let (f, b) = unsafe { (neighbour(&starts, x, e), neighbour(&starts, x, [-e[0], -e[1], -e[2]])) };
            let d = (f - b) / -2.0 * plan.scale[a];
            acc += d * d;
        }
        *o = acc;
    }
}

/// What the update computes on: one voxel (`f32`) or eight neighbours along x ([`Eight`]),
/// with the same operations in the same order, so both give the same values.
trait Value:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    fn splat(v: f32) -> Self;
    fn min(self, o: Self) -> Self;
    fn max(self, o: Self) -> Self;
    fn sqrt(self) -> Self;
    fn exp(self) -> Self;
    /// `if self > 0 { a } else { b }`, lane by lane.
    fn positive_or(self, a: Self, b: Self) -> Self;
}

impl Value for f32 {
    #[inline(always)]
    fn splat(v: f32) -> Self {
        v
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        f32::min(self, o)
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        f32::max(self, o)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        exp_f32(self)
    }
    #[inline(always)]
    fn positive_or(self, a: Self, b: Self) -> Self {
        if self > 0.0 { a } else { b }
    }
}

/// Eight voxels along x: lane-wise arrays that compile to one AVX2 vector each.
#[derive(Clone, Copy)]
struct Eight([f32; 8]);

macro_rules! eight_op {
    ($trait:ident, $method:ident, $op:tt) => {
        impl std::ops::$trait for Eight {
            type Output = Eight;
            #[inline(always)]
            fn $method(self, o: Eight) -> Eight {
                Eight(std::array::from_fn(|i| self.0[i] $op o.0[i]))
            }
        }
    };
}
eight_op!(Add, add, +);
eight_op!(Sub, sub, -);
eight_op!(Mul, mul, *);
eight_op!(Div, div, /);

impl Value for Eight {
    #[inline(always)]
    fn splat(v: f32) -> Self {
        Eight([v; 8])
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        Eight(std::array::from_fn(|i| self.0[i].min(o.0[i])))
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Eight(std::array::from_fn(|i| self.0[i].max(o.0[i])))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        Eight(std::array::from_fn(|i| self.0[i].sqrt()))
    }
    #[inline(always)]
    fn exp(self) -> Self {
        Eight(std::array::from_fn(|i| exp_f32(self.0[i])))
    }
    #[inline(always)]
    fn positive_or(self, a: Self, b: Self) -> Self {
        Eight(std::array::from_fn(|i| if self.0[i] > 0.0 { a.0[i] } else { b.0[i] }))
    }
}

/// The update at one voxel (or eight); `p([dz, dy, dx])` reads a neighbour (zero-flux
/// extended).
#[inline(always)]
fn update_at<T: Value, const THREE_D: bool, const CURVATURE: bool>(
    p: impl Fn([i32; 3]) -> T,
    plan: &Plan,
    k: f32,
) -> T {
    let unit = |a: usize| {
        let mut e = [0i32; 3];
        e[a] = 1;
        e
    };
    let add = |a: [i32; 3], b: [i32; 3], s: i32| [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]];
    let neg = |a: [i32; 3]| [-a[0], -a[1], -a[2]];
    let c = T::splat;
    let zero = c(0.0);
    let centre = p([0, 0, 0]);
    let (mut dx, mut fwd, mut bwd) = ([zero; 3], [zero; 3], [zero; 3]);
    for i in axes(THREE_D) {
        let e = unit(i);
        let s = c(plan.scale[i]);
        dx[i] = (p(e) - p(neg(e))) / c(2.0) * s;
        fwd[i] = (p(e) - centre) * s;
        bwd[i] = (centre - p(neg(e))) * s;
    }
    let mut delta = zero;
    for i in axes(THREE_D) {
        let e = unit(i);
        let (mut accum, mut accum_d) = (zero, zero);
        for j in axes(THREE_D) {
            if j != i {
                let f = unit(j);
                let s = c(plan.scale[j]);
                let aug = (p(add(e, f, 1)) - p(add(e, f, -1))) / c(2.0) * s;
                let dim = (p(add(neg(e), f, 1)) - p(add(neg(e), f, -1))) / c(2.0) * s;
                accum = accum + c(0.25) * (dx[j] + aug) * (dx[j] + aug);
                accum_d = accum_d + c(0.25) * (dx[j] + dim) * (dx[j] + dim);
            }
        }
        let gf = fwd[i] * fwd[i] + accum;
        let gb = bwd[i] * bwd[i] + accum_d;
        let (cf, cb) = if k != 0.0 {
            ((gf / c(k)).exp(), (gb / c(k)).exp())
        } else {
            (zero, zero)
        };
        if CURVATURE {
            delta = delta + (fwd[i] / (c(MIN_NORM) + gf).sqrt() * cf - bwd[i] / (c(MIN_NORM) + gb).sqrt() * cb);
        } else {
            delta = delta + (fwd[i] * cf - bwd[i] * cb);
        }
    }
    if CURVATURE {
        let mut prop = zero;
        for i in axes(THREE_D) {
            let (b, f) = (bwd[i], fwd[i]);
            let rising = b.min(zero) * b.min(zero) + f.max(zero) * f.max(zero);
            let falling = b.max(zero) * b.max(zero) + f.min(zero) * f.min(zero);
            prop = prop + delta.positive_or(rising, falling);
        }
        delta = delta * prop.sqrt();
    }
    centre + c(plan.dt) * delta
}

impl Filter for AnisotropicDiffusion {
    fn name(&self) -> &'static str {
        "anisotropic_diffusion"
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let plan = self.plan(ndim)?;
        let rz = usize::from(plan.three_d);
        let mut current = input.as_standard_layout().into_owned();
        // Two volumes, swapped every step: no new volume per iteration.
        let mut next = Array3::<f32>::zeros(current.raw_dim());
        for _ in 0..self.iterations {
            let k = match self.mean_gradient_squared {
                Some(mean) => self.k(mean),
                // `next` is overwritten below: it holds |∇I|² meanwhile.
                None => self.k(self.mean_gradient_squared_cpu(
                    current.view(),
                    &plan,
                    next.as_slice_mut().expect("a new array is contiguous"),
                )),
            };
            let curvature = self.curvature;
            map_rows_into(
                current.view(),
                [rz, 1, 1],
                BoundaryMode::Nearest,
                || (),
                |_, _, rows, _, out| {
                    let nb = neighbour_slices(rows, out.len(), plan.three_d);
                    match (plan.three_d, curvature) {
                        (true, true) => update_row::<true, true>(&nb, &plan, k, out),
                        (true, false) => update_row::<true, false>(&nb, &plan, k, out),
                        (false, true) => update_row::<false, true>(&nb, &plan, k, out),
                        (false, false) => update_row::<false, false>(&nb, &plan, k, out),
                    }
                },
                next.as_slice_mut().expect("a new array is contiguous"),
            );
            std::mem::swap(&mut current, &mut next);
        }
        Ok(current)
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let plan = self.plan(ndim)?;
        let rz = usize::from(plan.three_d);
        let mut current = rec.duplicate(input)?;
        let mut next = rec.volume(input.shape())?;
        let grad = rec.volume(input.shape())?;
        let params = rec.uniform(&Params {
            scale: plan.scale,
            _unused_k: 0.0,
            dt: plan.dt,
            curvature: u32::from(self.curvature),
            three_d: u32::from(plan.three_d),
        });
        // K stays on the device: measured per iteration into `k`, or given once.
        let k = match self.mean_gradient_squared {
            Some(mean) => rec.constants(&[self.k(mean)]),
            None => rec.scratch(4),
        };
        let mut scale_params: Option<wgpu::Buffer> = None;
        for _ in 0..self.iterations {
            if self.mean_gradient_squared.is_none() {
                for_each_slab(rec, &[&current], &grad, rz, BoundaryMode::Nearest, |rec, slab| {
                    rec.dispatch_linear(
                        &GRAD_SQ,
                        &[
                            BufferWindow::whole(&slab.tile),
                            BufferWindow::whole(&params),
                            slab.inputs[0],
                            slab.output,
                        ],
                        slab.items,
                    )
                })?;
                let (partials, count) = record_moment_partials(rec, &grad)?;
                // The partials' count is the same every iteration: one parameter block.
                let scale_params = scale_params.get_or_insert_with(|| {
                    rec.uniform(&ScaleParams {
                        partials: count,
                        _pad0: 0,
                        factor: (-2.0 * self.conductance * self.conductance) as f32,
                        _pad1: 0.0,
                    })
                });
                rec.dispatch_groups(
                    &CONDUCTANCE_SCALE,
                    &[
                        BufferWindow::whole(scale_params),
                        BufferWindow::whole(&partials),
                        BufferWindow::whole(&k),
                    ],
                    [1, 1, 1],
                )?;
            }
            for_each_slab(rec, &[&current], &next, rz, BoundaryMode::Nearest, |rec, slab| {
                rec.dispatch_grid(
                    &UPDATE,
                    &[
                        BufferWindow::whole(&slab.tile),
                        BufferWindow::whole(&params),
                        slab.inputs[0],
                        slab.output,
                        BufferWindow::whole(&k),
                    ],
                    slab.grid(),
                )
            })?;
            std::mem::swap(&mut current, &mut next);
        }
        rec.recycle(next);
        rec.recycle(grad);
        Ok(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_voxel_updates_equal_one_voxel_updates_bit_for_bit() {
        let mut rng = crate::rng::XorShift64::new(4);
        let volume = Array3::from_shape_simple_fn((3, 5, 21), || rng.next_f32() * 40.0 - 20.0);
        for three_d in [true, false] {
            let plan = Plan {
                scale: [1.0, 0.8, 1.25, 0.0],
                dt: 0.05,
                three_d,
            };
            for (k, curvature) in [(-3.0f32, true), (-3.0, false), (0.0, true)] {
                let rz = usize::from(three_d);
                let mismatches = map_rows(
                    volume.view(),
                    [rz, 1, 1],
                    BoundaryMode::Nearest,
                    || (),
                    |_, _, rows, _, out| {
                        let nb = neighbour_slices(rows, out.len(), three_d);
                        match (three_d, curvature) {
                            (true, true) => update_row::<true, true>(&nb, &plan, k, out),
                            (true, false) => update_row::<true, false>(&nb, &plan, k, out),
                            (false, true) => update_row::<false, true>(&nb, &plan, k, out),
                            (false, false) => update_row::<false, false>(&nb, &plan, k, out),
                        }
                        let starts = nb.map(|s| s.as_ptr());
                        for (x, o) in out.iter_mut().enumerate() {
                            // SAFETY: x < out.len(), the slices' length.
                            let p = |d| unsafe { neighbour(&starts, x, d) };
                            let one = match (three_d, curvature) {
                                (true, true) => update_at::<f32, true, true>(p, &plan, k),
                                (true, false) => update_at::<f32, true, false>(p, &plan, k),
                                (false, true) => update_at::<f32, false, true>(p, &plan, k),
                                (false, false) => update_at::<f32, false, false>(p, &plan, k),
                            };
                            *o = f32::from(o.to_bits() != one.to_bits());
                        }
                    },
                );
                assert_eq!(mismatches.sum(), 0.0, "3D {three_d}, k {k}, curvature {curvature}");
            }
        }
    }
}

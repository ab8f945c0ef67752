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

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::neighbourhood::map_rows;
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
    fn mean_gradient_squared_cpu(&self, current: ArrayView3<'_, f32>, plan: &Plan) -> f64 {
        let rz = usize::from(plan.three_d);
        let grad = map_rows(
            current,
            [rz, 1, 1],
            BoundaryMode::Nearest,
            || (),
            |_, _, rows, _, out| {
                let w = 3;
                let at = |dz: i32, dy: i32, dx: i32, x: usize| {
                    rows.row(((dz + rz as i32) * w + dy + 1) as usize)[(x as i32 + 1 + dx) as usize]
                };
                for (x, o) in out.iter_mut().enumerate() {
                    let mut acc = 0.0f32;
                    for a in axes(plan.three_d) {
                        let e = [i32::from(a == 0), i32::from(a == 1), i32::from(a == 2)];
                        let d = (at(e[0], e[1], e[2], x) - at(-e[0], -e[1], -e[2], x)) / -2.0 * plan.scale[a];
                        acc += d * d;
                    }
                    *o = acc;
                }
            },
        );
        Moments::of_values(grad.as_slice().expect("standard layout")).mean
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

/// The update at one voxel; `p([dz, dy, dx])` reads a neighbour (zero-flux extended).
#[inline]
fn update_at(p: impl Fn([i32; 3]) -> f32, plan: &Plan, k: f32, curvature: bool) -> f32 {
    let unit = |a: usize| {
        let mut e = [0i32; 3];
        e[a] = 1;
        e
    };
    let add = |a: [i32; 3], b: [i32; 3], s: i32| [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]];
    let neg = |a: [i32; 3]| [-a[0], -a[1], -a[2]];
    let centre = p([0, 0, 0]);
    let (mut dx, mut fwd, mut bwd) = ([0.0f32; 3], [0.0f32; 3], [0.0f32; 3]);
    for i in axes(plan.three_d) {
        let e = unit(i);
        let s = plan.scale[i];
        dx[i] = (p(e) - p(neg(e))) / 2.0 * s;
        fwd[i] = (p(e) - centre) * s;
        bwd[i] = (centre - p(neg(e))) * s;
    }
    let mut delta = 0.0f32;
    for i in axes(plan.three_d) {
        let e = unit(i);
        let (mut accum, mut accum_d) = (0.0f32, 0.0f32);
        for j in axes(plan.three_d) {
            if j != i {
                let f = unit(j);
                let s = plan.scale[j];
                let aug = (p(add(e, f, 1)) - p(add(e, f, -1))) / 2.0 * s;
                let dim = (p(add(neg(e), f, 1)) - p(add(neg(e), f, -1))) / 2.0 * s;
                accum += 0.25 * (dx[j] + aug) * (dx[j] + aug);
                accum_d += 0.25 * (dx[j] + dim) * (dx[j] + dim);
            }
        }
        let gf = fwd[i] * fwd[i] + accum;
        let gb = bwd[i] * bwd[i] + accum_d;
        let (cf, cb) = if k != 0.0 {
            ((gf / k).exp(), (gb / k).exp())
        } else {
            (0.0, 0.0)
        };
        if curvature {
            delta += fwd[i] / (MIN_NORM + gf).sqrt() * cf - bwd[i] / (MIN_NORM + gb).sqrt() * cb;
        } else {
            delta += fwd[i] * cf - bwd[i] * cb;
        }
    }
    if curvature {
        let mut prop = 0.0f32;
        for i in axes(plan.three_d) {
            prop += if delta > 0.0 {
                bwd[i].min(0.0).powi(2) + fwd[i].max(0.0).powi(2)
            } else {
                bwd[i].max(0.0).powi(2) + fwd[i].min(0.0).powi(2)
            };
        }
        delta *= prop.sqrt();
    }
    centre + plan.dt * delta
}

impl Filter for AnisotropicDiffusion {
    fn name(&self) -> &'static str {
        "anisotropic_diffusion"
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let plan = self.plan(ndim)?;
        let rz = usize::from(plan.three_d);
        let mut current = input.to_owned();
        for _ in 0..self.iterations {
            let k = match self.mean_gradient_squared {
                Some(mean) => self.k(mean),
                None => self.k(self.mean_gradient_squared_cpu(current.view(), &plan)),
            };
            let curvature = self.curvature;
            current = map_rows(
                current.view(),
                [rz, 1, 1],
                BoundaryMode::Nearest,
                || (),
                |_, _, rows, _, out| {
                    for (x, o) in out.iter_mut().enumerate() {
                        let p = |d: [i32; 3]| {
                            rows.row(((d[0] + rz as i32) * 3 + d[1] + 1) as usize)[(x as i32 + 1 + d[2]) as usize]
                        };
                        *o = update_at(p, &plan, k, curvature);
                    }
                },
            );
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

//! Isotropic total variation for FISTA-TV, CPU and GPU twins (`shaders/recon/tv.wgsl`):
//! forward differences with a Neumann boundary (0 at each axis's last index), their adjoint
//! (the divergence `−∇ᵀ`), and the proximal step of `μ TV` by Chambolle's projection algorithm
//! (J. Math. Imaging Vis. 20, 2004):
//! `p ← (p + τ ∇(div p − z/μ)) / (1 + τ |∇(div p − z/μ)|)`, then `x = z − μ div p`, with
//! `τ = 1 / (4 · dims)` (the algorithm's bound for forward differences in `dims` dimensions).
//!
//! Both paths evaluate the same expressions in the same order (one fused pass per step, the
//! dual field stored as one volume per axis), so they agree to f32 rounding. Axes of length 1
//! contribute nothing: a 2D image is a volume of one slice.

use ndarray::Array3;
use rayon::prelude::*;

use crate::boundary::BoundaryMode;
use crate::error::Result;
use crate::gpu::scalars::{DeviceScalar, record_sum_scalar};
use crate::gpu::vector_ops::{VectorOp, record_vector_op};
use crate::gpu::{
    Binding, BufferWindow, GpuContext, GpuVolume, KernelSpec, Recorder, TILE, for_each_slab, uniform, wgsl,
};

pub(crate) static COMBINE_DIVERGENCE: KernelSpec = tv_kernel(
    "recon/tv_combine_divergence",
    "combine_divergence",
    &[
        TILE,
        uniform::<Params>(),
        Binding::Read,
        Binding::ReadWrite,
        Binding::Read,
        Binding::Read,
        Binding::Read,
    ],
);
pub(crate) static DUAL_STEP: KernelSpec = tv_kernel("recon/tv_dual_step", "dual_step", ONE_IN_ONE_OUT);
pub(crate) static GRADIENT_MAGNITUDE: KernelSpec =
    tv_kernel("recon/tv_gradient_magnitude", "gradient_magnitude", ONE_IN_ONE_OUT);

const ONE_IN_ONE_OUT: &[Binding] = &[TILE, uniform::<Params>(), Binding::Read, Binding::ReadWrite];

const fn tv_kernel(name: &'static str, entry: &'static str, bindings: &'static [Binding]) -> KernelSpec {
    KernelSpec {
        name,
        sources: &[wgsl::TILE, include_str!("../../../shaders/recon/tv.wgsl")],
        entry,
        bindings,
        constants: &[],
    }
}

/// Twin of `Params` in `tv.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    alpha: f32,
    beta: f32,
    tau: f32,
    axis: u32,
}

/// Chambolle's step for a volume of `shape`: `1 / (4 · axes longer than 1)`.
fn tau(shape: [usize; 3]) -> f32 {
    let dims = shape.iter().filter(|&&n| n > 1).count().max(1);
    1.0 / (4.0 * dims as f32)
}

/// Forward differences of `src` (shape `[nz, ny, nx]`) at voxel `(z, y, x)`, as (z, y, x).
#[inline]
fn forward_gradient(src: &[f32], [nz, ny, nx]: [usize; 3], z: usize, y: usize, x: usize) -> [f32; 3] {
    let k = (z * ny + y) * nx + x;
    let c = src[k];
    [
        if z + 1 < nz { src[k + ny * nx] - c } else { 0.0 },
        if y + 1 < ny { src[k + nx] - c } else { 0.0 },
        if x + 1 < nx { src[k + 1] - c } else { 0.0 },
    ]
}

#[inline]
fn magnitude(g: [f32; 3]) -> f32 {
    (g[0] * g[0] + g[1] * g[1] + g[2] * g[2]).sqrt()
}

/// `out = alpha · src + beta · div p`.
fn combine_divergence_cpu(src: &[f32], p: &[Vec<f32>; 3], alpha: f32, beta: f32, shape: [usize; 3], out: &mut [f32]) {
    let [nz, ny, nx] = shape;
    out.par_chunks_mut(ny * nx).enumerate().for_each(|(z, plane)| {
        for y in 0..ny {
            for x in 0..nx {
                let k = (z * ny + y) * nx + x;
                let mut div = 0.0;
                if z + 1 < nz {
                    div += p[0][k];
                }
                if z > 0 {
                    div -= p[0][k - ny * nx];
                }
                if y + 1 < ny {
                    div += p[1][k];
                }
                if y > 0 {
                    div -= p[1][k - nx];
                }
                if x + 1 < nx {
                    div += p[2][k];
                }
                if x > 0 {
                    div -= p[2][k - 1];
                }
                plane[y * nx + x] = alpha * src[k] + beta * div;
            }
        }
    });
}

/// One step of Chambolle's algorithm on all components of `p`, from `w = div p − z/μ`.
fn dual_step_cpu(w: &[f32], p: &mut [Vec<f32>; 3], tau: f32, shape: [usize; 3]) {
    let [_, ny, nx] = shape;
    let [p0, p1, p2] = p;
    p0.par_chunks_mut(ny * nx)
        .zip(p1.par_chunks_mut(ny * nx))
        .zip(p2.par_chunks_mut(ny * nx))
        .enumerate()
        .for_each(|(z, ((p0, p1), p2))| {
            for y in 0..ny {
                for x in 0..nx {
                    let g = forward_gradient(w, shape, z, y, x);
                    let d = 1.0 + tau * magnitude(g);
                    let k = y * nx + x;
                    p0[k] = (p0[k] + tau * g[0]) / d;
                    p1[k] = (p1[k] + tau * g[1]) / d;
                    p2[k] = (p2[k] + tau * g[2]) / d;
                }
            }
        });
}

/// `argmin_x ½‖x − z‖² + mu · TV(x)` with `iterations` steps of Chambolle's algorithm.
pub(super) fn prox_cpu(z: &Array3<f32>, mu: f32, iterations: usize) -> Array3<f32> {
    if mu <= 0.0 {
        return z.clone();
    }
    let shape = [
        z.len_of(ndarray::Axis(0)),
        z.len_of(ndarray::Axis(1)),
        z.len_of(ndarray::Axis(2)),
    ];
    let n = z.len();
    let zs = z.as_slice().expect("standard layout");
    let tau = tau(shape);
    let mut p = [vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]];
    let mut w = vec![0.0f32; n];
    for _ in 0..iterations {
        combine_divergence_cpu(zs, &p, -1.0 / mu, 1.0, shape, &mut w);
        dual_step_cpu(&w, &mut p, tau, shape);
    }
    combine_divergence_cpu(zs, &p, 1.0, -mu, shape, &mut w);
    Array3::from_shape_vec(shape, w).expect("same shape")
}

/// Isotropic total variation `Σ |∇x|` (forward differences, Neumann boundary, voxel units).
pub fn total_variation(x: &Array3<f32>) -> f64 {
    let shape = [
        x.len_of(ndarray::Axis(0)),
        x.len_of(ndarray::Axis(1)),
        x.len_of(ndarray::Axis(2)),
    ];
    let [nz, ny, nx] = shape;
    let owned;
    let xs = match x.as_slice() {
        Some(s) => s,
        None => {
            owned = x.iter().copied().collect::<Vec<f32>>();
            &owned
        }
    };
    (0..nz)
        .into_par_iter()
        .map(|z| {
            let mut sum = 0.0f64;
            for y in 0..ny {
                for x in 0..nx {
                    sum += f64::from(magnitude(forward_gradient(xs, shape, z, y, x)));
                }
            }
            sum
        })
        .sum()
}

/// The GPU proximal step's buffers (the dual field and one scratch volume), allocated once per
/// run.
pub(super) struct GpuTv {
    p: [GpuVolume; 3],
    scratch: GpuVolume,
    shape: [usize; 3],
}

impl GpuTv {
    pub(super) fn new(ctx: &GpuContext, shape: [usize; 3]) -> Result<GpuTv> {
        Ok(GpuTv {
            p: [
                GpuVolume::zeros(ctx, shape)?,
                GpuVolume::zeros(ctx, shape)?,
                GpuVolume::zeros(ctx, shape)?,
            ],
            scratch: GpuVolume::zeros(ctx, shape)?,
            shape,
        })
    }

    /// The `Params` uniform of [`GpuTv::combine`].
    fn combine_params(rec: &Recorder<'_>, alpha: f32, beta: f32) -> wgpu::Buffer {
        rec.uniform(&Params {
            alpha,
            beta,
            tau: 0.0,
            axis: 0,
        })
    }

    /// `out = alpha · src + beta · div p`, with `params` from [`GpuTv::combine_params`].
    fn combine(&self, rec: &mut Recorder<'_>, src: &GpuVolume, params: &wgpu::Buffer, out: &GpuVolume) -> Result<()> {
        let inputs = [src, &self.p[0], &self.p[1], &self.p[2]];
        for_each_slab(rec, &inputs, out, 1, BoundaryMode::Nearest, |rec, slab| {
            rec.dispatch_linear(
                &COMBINE_DIVERGENCE,
                &[
                    BufferWindow::whole(&slab.tile),
                    BufferWindow::whole(params),
                    slab.inputs[0],
                    slab.output,
                    slab.inputs[1],
                    slab.inputs[2],
                    slab.inputs[3],
                ],
                slab.items,
            )
        })
    }

    /// Records `out = argmin_x ½‖x − z‖² + mu · TV(x)` (`out` must not be `z`).
    pub(super) fn record_prox(
        &self,
        rec: &mut Recorder<'_>,
        z: &GpuVolume,
        mu: f32,
        iterations: usize,
        out: &GpuVolume,
    ) -> Result<()> {
        if mu <= 0.0 {
            return record_vector_op(rec, VectorOp::Lincomb { alpha: 1.0, beta: 0.0 }, out, Some(z), Some(z));
        }
        let axes: Vec<usize> = (0..3).filter(|&a| self.shape[a] > 1).collect();
        for p in &self.p {
            record_vector_op(rec, VectorOp::Fill(0.0), p, None, None)?;
        }
        // The step's uniforms are made once and reused by every Chambolle iteration.
        let tau = tau(self.shape);
        let inner = Self::combine_params(rec, -1.0 / mu, 1.0);
        let duals: Vec<(usize, wgpu::Buffer)> = axes
            .iter()
            .map(|&axis| {
                let params = rec.uniform(&Params {
                    alpha: 0.0,
                    beta: 0.0,
                    tau,
                    axis: axis as u32,
                });
                (axis, params)
            })
            .collect();
        for _ in 0..iterations {
            self.combine(rec, z, &inner, &self.scratch)?;
            for (axis, params) in &duals {
                for_each_slab(
                    rec,
                    &[&self.scratch],
                    &self.p[*axis],
                    1,
                    BoundaryMode::Nearest,
                    |rec, slab| {
                        rec.dispatch_linear(
                            &DUAL_STEP,
                            &[
                                BufferWindow::whole(&slab.tile),
                                BufferWindow::whole(params),
                                slab.inputs[0],
                                slab.output,
                            ],
                            slab.items,
                        )
                    },
                )?;
            }
        }
        let last = Self::combine_params(rec, 1.0, -mu);
        self.combine(rec, z, &last, out)
    }

    /// Records `TV(x)`; read it with [`tv_from_moments`] after the submission.
    pub(super) fn record_total_variation(&self, rec: &mut Recorder<'_>, x: &GpuVolume) -> Result<DeviceScalar> {
        let params = rec.uniform(&Params {
            alpha: 1.0,
            beta: 0.0,
            tau: 0.0,
            axis: 0,
        });
        for_each_slab(rec, &[x], &self.scratch, 1, BoundaryMode::Nearest, |rec, slab| {
            rec.dispatch_linear(
                &GRADIENT_MAGNITUDE,
                &[
                    BufferWindow::whole(&slab.tile),
                    BufferWindow::whole(&params),
                    slab.inputs[0],
                    slab.output,
                ],
                slab.items,
            )
        })?;
        record_sum_scalar(rec, &self.scratch)
    }
}

//! The iterative methods on the GPU: after the upload every iteration runs on the device —
//! Joseph's pair (`record_forward` / `record_backward`, volume slabs and view batches past the
//! binding limit), elementwise updates and squared norms from [`crate::gpu::vector_ops`] — with
//! one submission per iteration (one per subset with ordered subsets; two for CGLS, whose step
//! length needs a norm mid-iteration) and a read-back of a few kilobytes of reduction partials
//! for the callback. Buffers are allocated once per run.

use ndarray::{ArrayView3, Axis};

use super::tv::{GpuTv, tv_from_moments};
use super::{
    Constraint, Control, Iterative, Method, POWER_ITERATIONS, Progress, Reconstruction, Run, Stopped, Subset,
    lipschitz_bound, norm,
};
use crate::error::Result;
use crate::gpu::vector_ops::{
    PendingNorm, VectorOp, record_norm2, record_projections_norm2, record_projections_op, record_vector_op,
};
use crate::gpu::{GpuContext, GpuProjections, GpuVolume, Recorder};

/// What a GPU method works on: the subsets' projectors and data, the mask, the bounds.
struct Device<'a> {
    ctx: &'a GpuContext,
    subsets: &'a [Subset],
    data: Vec<GpuProjections>,
    mask: Option<GpuVolume>,
    lo: f32,
    hi: f32,
}

impl Device<'_> {
    fn zeros_like(&self, s: usize) -> Result<GpuProjections> {
        GpuProjections::zeros(self.ctx, self.data[s].shape())
    }

    /// `out = A_s x` (overwriting).
    fn forward(&self, rec: &mut Recorder<'_>, s: usize, x: &GpuVolume, out: &GpuProjections) -> Result<()> {
        record_projections_op(rec, VectorOp::Fill(0.0), out, None, None)?;
        self.subsets[s].joseph.record_forward(rec, x, out)
    }

    /// `out = A_sᵀ y` (overwriting).
    fn backward(&self, rec: &mut Recorder<'_>, s: usize, y: &GpuProjections, out: &GpuVolume) -> Result<()> {
        record_vector_op(rec, VectorOp::Fill(0.0), out, None, None)?;
        self.subsets[s].joseph.record_backward(rec, y, out)
    }

    fn apply_mask(&self, rec: &mut Recorder<'_>, x: &GpuVolume) -> Result<()> {
        match &self.mask {
            Some(m) => record_vector_op(rec, VectorOp::Mul, x, Some(m), None),
            None => Ok(()),
        }
    }

    /// Records `r_s = b_s − A_s x` into `r` (using `ax` as scratch) and the squared norms.
    fn residual(
        &self,
        rec: &mut Recorder<'_>,
        x: &GpuVolume,
        ax: &[GpuProjections],
        r: &[GpuProjections],
    ) -> Result<Vec<PendingNorm>> {
        (0..self.subsets.len())
            .map(|s| {
                self.forward(rec, s, x, &ax[s])?;
                record_projections_op(rec, VectorOp::DiffTo, &r[s], Some(&self.data[s]), Some(&ax[s]))?;
                record_projections_norm2(rec, &r[s])
            })
            .collect()
    }
}

fn finish_norms(ctx: &GpuContext, norms: Vec<PendingNorm>) -> Result<f64> {
    let mut sum = 0.0;
    for n in norms {
        sum += n.finish(ctx)?;
    }
    Ok(sum.sqrt())
}

impl Iterative {
    /// Runs on the GPU: the projections are uploaded once, every iteration runs on the device,
    /// and the volume is downloaded at the end. Same options, callback and results as
    /// [`Iterative::run_cpu`] (to the projectors' f32 rounding).
    pub fn run_gpu(
        &self,
        ctx: &GpuContext,
        projections: ArrayView3<'_, f32>,
        mut callback: impl FnMut(&Progress) -> Control,
    ) -> Result<Reconstruction> {
        self.validate(projections)?;
        let subsets = self.subsets()?;
        let data = subsets
            .iter()
            .map(|s| GpuProjections::upload(ctx, projections.select(Axis(0), &s.views).view()))
            .collect::<Result<Vec<_>>>()?;
        let mask = match &self.mask {
            Some(m) => Some(GpuVolume::upload(ctx, m.mapv(|v| if v { 1.0f32 } else { 0.0 }).view())?),
            None => None,
        };
        let (lo, hi) = match self.constraint {
            Constraint::None => (f32::NEG_INFINITY, f32::INFINITY),
            Constraint::NonNegative => (0.0, f32::INFINITY),
            Constraint::Box { min, max } => (min, max),
        };
        let em = matches!(self.method, Method::Mlem | Method::Osem { .. });
        let mut x = match &self.initial {
            Some(x0) => GpuVolume::upload(ctx, x0.view())?,
            None => {
                let x = GpuVolume::zeros(ctx, self.shape)?;
                if em {
                    let mut rec = Recorder::new(ctx);
                    record_vector_op(&mut rec, VectorOp::Fill(1.0), &x, None, None)?;
                    rec.submit()?;
                }
                x
            }
        };
        let device = Device {
            ctx,
            subsets: &subsets,
            data,
            mask,
            lo,
            hi,
        };
        {
            // The initial volume obeys the constraint and mask, as on the CPU.
            let mut rec = Recorder::new(ctx);
            if self.constraint != Constraint::None {
                record_vector_op(&mut rec, VectorOp::Clamp { lo, hi }, &x, None, None)?;
            }
            device.apply_mask(&mut rec, &x)?;
            rec.submit()?;
        }
        let mut run = Run {
            history: Vec::new(),
            b_norm: norm(projections.iter().copied()).max(f64::MIN_POSITIVE),
            tolerance: self.tolerance,
            callback: &mut callback,
        };
        let stopped = match self.method {
            Method::Sirt | Method::OsSart { .. } => self.sart_gpu(&device, &x, &mut run)?,
            Method::Cgls => self.cgls_gpu(&device, &x, &mut run)?,
            Method::Mlem | Method::Osem { .. } => self.em_gpu(&device, &x, &mut run)?,
            Method::FistaTv { lambda, tv_iterations } => {
                self.fista_gpu(&device, &mut x, lambda, tv_iterations, &mut run)?
            }
        };
        Ok(Reconstruction {
            volume: x.download(ctx)?,
            history: run.history,
            stopped,
        })
    }

    fn sart_gpu(&self, d: &Device<'_>, x: &GpuVolume, run: &mut Run<'_>) -> Result<Stopped> {
        let ctx = d.ctx;
        let k = d.subsets.len();
        // R_s = 1 / A_s 1, C_s = 1 / A_sᵀ 1, once.
        let mut rec = Recorder::new(ctx);
        let ones = GpuVolume::zeros(ctx, self.shape)?;
        record_vector_op(&mut rec, VectorOp::Fill(1.0), &ones, None, None)?;
        let mut row_weights = Vec::with_capacity(k);
        let mut col_weights = Vec::with_capacity(k);
        for s in 0..k {
            let r = d.zeros_like(s)?;
            d.forward(&mut rec, s, &ones, &r)?;
            record_projections_op(&mut rec, VectorOp::Reciprocal, &r, None, None)?;
            let ones_p = d.zeros_like(s)?;
            record_projections_op(&mut rec, VectorOp::Fill(1.0), &ones_p, None, None)?;
            let c = GpuVolume::zeros(ctx, self.shape)?;
            d.backward(&mut rec, s, &ones_p, &c)?;
            record_vector_op(&mut rec, VectorOp::Reciprocal, &c, None, None)?;
            row_weights.push(r);
            col_weights.push(c);
            // One submission per subset keeps each wait short on slow adapters (a software GPU
            // needs minutes per subset at 300³); on real GPUs it costs a few microseconds.
            if k > 1 {
                rec.flush()?;
            }
        }
        rec.submit()?;
        drop(ones);
        let ax: Vec<GpuProjections> = (0..k).map(|s| d.zeros_like(s)).collect::<Result<_>>()?;
        let r: Vec<GpuProjections> = (0..k).map(|s| d.zeros_like(s)).collect::<Result<_>>()?;
        let update = GpuVolume::zeros(ctx, self.shape)?;
        let lambda = self.relaxation as f32;
        // With one subset the residual of the last iteration is the next one's start.
        let mut fresh = false;
        for iteration in 1..=self.iterations {
            let mut rec = Recorder::new(ctx);
            for s in 0..k {
                if !fresh {
                    d.forward(&mut rec, s, x, &ax[s])?;
                    record_projections_op(&mut rec, VectorOp::DiffTo, &r[s], Some(&d.data[s]), Some(&ax[s]))?;
                }
                record_projections_op(&mut rec, VectorOp::MulTo, &ax[s], Some(&r[s]), Some(&row_weights[s]))?;
                d.backward(&mut rec, s, &ax[s], &update)?;
                record_vector_op(
                    &mut rec,
                    VectorOp::Update {
                        lambda,
                        lo: d.lo,
                        hi: d.hi,
                    },
                    x,
                    Some(&update),
                    Some(&col_weights[s]),
                )?;
                d.apply_mask(&mut rec, x)?;
                if k > 1 {
                    rec.flush()?;
                }
            }
            let norms = d.residual(&mut rec, x, &ax, &r)?;
            rec.submit()?;
            fresh = k == 1;
            if let Some(stop) = run.report(iteration, finish_norms(ctx, norms)?, None) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    fn cgls_gpu(&self, d: &Device<'_>, x: &GpuVolume, run: &mut Run<'_>) -> Result<Stopped> {
        let ctx = d.ctx;
        let (q, r) = (d.zeros_like(0)?, d.zeros_like(0)?);
        let (p, s) = (GpuVolume::zeros(ctx, self.shape)?, GpuVolume::zeros(ctx, self.shape)?);
        // r = b − A x, s = Aᵀ r (masked), p = s, γ = ‖s‖².
        let mut rec = Recorder::new(ctx);
        d.forward(&mut rec, 0, x, &q)?;
        record_projections_op(&mut rec, VectorOp::DiffTo, &r, Some(&d.data[0]), Some(&q))?;
        d.backward(&mut rec, 0, &r, &s)?;
        d.apply_mask(&mut rec, &s)?;
        record_vector_op(&mut rec, VectorOp::Xpby(0.0), &p, Some(&s), None)?;
        let gamma_pending = record_norm2(&mut rec, &s)?;
        let r_pending = record_projections_norm2(&mut rec, &r)?;
        rec.submit()?;
        let mut gamma = gamma_pending.finish(ctx)?;
        let mut residual = r_pending.finish(ctx)?.sqrt();
        for iteration in 1..=self.iterations {
            if gamma == 0.0 {
                return Ok(run.report(iteration, residual, None).unwrap_or(Stopped::Tolerance));
            }
            let mut rec = Recorder::new(ctx);
            d.forward(&mut rec, 0, &p, &q)?;
            let q_pending = record_projections_norm2(&mut rec, &q)?;
            rec.submit()?;
            let alpha = (gamma / q_pending.finish(ctx)?) as f32;
            let mut rec = Recorder::new(ctx);
            record_vector_op(&mut rec, VectorOp::Axpy(alpha), x, Some(&p), None)?;
            record_projections_op(&mut rec, VectorOp::Axpy(-alpha), &r, Some(&q), None)?;
            d.backward(&mut rec, 0, &r, &s)?;
            d.apply_mask(&mut rec, &s)?;
            let s_pending = record_norm2(&mut rec, &s)?;
            let r_pending = record_projections_norm2(&mut rec, &r)?;
            rec.submit()?;
            let gamma_next = s_pending.finish(ctx)?;
            residual = r_pending.finish(ctx)?.sqrt();
            let beta = (gamma_next / gamma) as f32;
            gamma = gamma_next;
            let mut rec = Recorder::new(ctx);
            record_vector_op(&mut rec, VectorOp::Xpby(beta), &p, Some(&s), None)?;
            rec.submit()?;
            if let Some(stop) = run.report(iteration, residual, None) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    fn em_gpu(&self, d: &Device<'_>, x: &GpuVolume, run: &mut Run<'_>) -> Result<Stopped> {
        let ctx = d.ctx;
        let k = d.subsets.len();
        let mut rec = Recorder::new(ctx);
        let mut sensitivity = Vec::with_capacity(k);
        for s in 0..k {
            let ones_p = d.zeros_like(s)?;
            record_projections_op(&mut rec, VectorOp::Fill(1.0), &ones_p, None, None)?;
            let sens = GpuVolume::zeros(ctx, self.shape)?;
            d.backward(&mut rec, s, &ones_p, &sens)?;
            sensitivity.push(sens);
        }
        rec.submit()?;
        let ax: Vec<GpuProjections> = (0..k).map(|s| d.zeros_like(s)).collect::<Result<_>>()?;
        let t: Vec<GpuProjections> = (0..k).map(|s| d.zeros_like(s)).collect::<Result<_>>()?;
        let back = GpuVolume::zeros(ctx, self.shape)?;
        let mut fresh = false;
        for iteration in 1..=self.iterations {
            let mut rec = Recorder::new(ctx);
            for s in 0..k {
                if !fresh {
                    d.forward(&mut rec, s, x, &ax[s])?;
                }
                record_projections_op(&mut rec, VectorOp::DivTo, &t[s], Some(&d.data[s]), Some(&ax[s]))?;
                d.backward(&mut rec, s, &t[s], &back)?;
                record_vector_op(
                    &mut rec,
                    VectorOp::EmUpdate { lo: d.lo, hi: d.hi },
                    x,
                    Some(&back),
                    Some(&sensitivity[s]),
                )?;
                d.apply_mask(&mut rec, x)?;
                if k > 1 {
                    rec.flush()?;
                }
            }
            // The residual leaves A x in `ax`: with one subset, the next iteration's start.
            let norms = d.residual(&mut rec, x, &ax, &t)?;
            rec.submit()?;
            fresh = k == 1;
            if let Some(stop) = run.report(iteration, finish_norms(ctx, norms)?, None) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    /// Largest eigenvalue of AᵀA by power iteration, as [`Iterative::lipschitz`] on the CPU.
    fn lipschitz_gpu(&self, d: &Device<'_>) -> Result<f64> {
        let ctx = d.ctx;
        let mut v = GpuVolume::zeros(ctx, self.shape)?;
        let mut w = GpuVolume::zeros(ctx, self.shape)?;
        let q = d.zeros_like(0)?;
        let mut rec = Recorder::new(ctx);
        record_vector_op(&mut rec, VectorOp::Fill(1.0), &v, None, None)?;
        let pending = record_norm2(&mut rec, &v)?;
        rec.submit()?;
        let mut n = pending.finish(ctx)?.sqrt();
        let mut estimate = 0.0;
        for _ in 0..POWER_ITERATIONS {
            if n == 0.0 {
                break;
            }
            let mut rec = Recorder::new(ctx);
            record_vector_op(&mut rec, VectorOp::Scale((1.0 / n) as f32), &v, None, None)?;
            d.forward(&mut rec, 0, &v, &q)?;
            d.backward(&mut rec, 0, &q, &w)?;
            let pending = record_norm2(&mut rec, &w)?;
            rec.submit()?;
            estimate = pending.finish(ctx)?.sqrt();
            n = estimate;
            std::mem::swap(&mut v, &mut w);
        }
        lipschitz_bound(estimate)
    }

    /// FISTA-TV as [`Iterative::fista`]: one submission per iteration (gradient step, the
    /// proximal step's Chambolle iterations, momentum, residual and TV reductions). `x` ends
    /// as the last iterate (buffers swap roles each iteration).
    fn fista_gpu(
        &self,
        d: &Device<'_>,
        x: &mut GpuVolume,
        lambda: f64,
        tv_iterations: usize,
        run: &mut Run<'_>,
    ) -> Result<Stopped> {
        let ctx = d.ctx;
        let step = (1.0 / self.lipschitz_gpu(d)?) as f32;
        let mu = lambda as f32 * step;
        let tv = GpuTv::new(ctx, self.shape)?;
        let data = &d.data[0];
        let volume = || GpuVolume::zeros(ctx, self.shape);
        let (mut x_next, y, z, grad) = (volume()?, volume()?, volume()?, volume()?);
        let (mut ax, mut ax_next, ay, r) = (d.zeros_like(0)?, d.zeros_like(0)?, d.zeros_like(0)?, d.zeros_like(0)?);
        // y = x, A y = A x (kept by linearity: one forward projection per iteration).
        let copy = VectorOp::Lincomb { alpha: 1.0, beta: 0.0 };
        let mut rec = Recorder::new(ctx);
        record_vector_op(&mut rec, copy, &y, Some(x), Some(x))?;
        d.forward(&mut rec, 0, x, &ax)?;
        record_projections_op(&mut rec, copy, &ay, Some(&ax), Some(&ax))?;
        rec.submit()?;
        let mut t = 1.0f64;
        for iteration in 1..=self.iterations {
            let mut rec = Recorder::new(ctx);
            // z = y − step · Aᵀ(A y − b); x_next = prox(z), constrained and masked.
            record_projections_op(&mut rec, VectorOp::DiffTo, &r, Some(&ay), Some(data))?;
            d.backward(&mut rec, 0, &r, &grad)?;
            record_vector_op(
                &mut rec,
                VectorOp::Lincomb {
                    alpha: 1.0,
                    beta: -step,
                },
                &z,
                Some(&y),
                Some(&grad),
            )?;
            tv.record_prox(&mut rec, &z, mu, tv_iterations, &x_next)?;
            if self.constraint != Constraint::None {
                record_vector_op(&mut rec, VectorOp::Clamp { lo: d.lo, hi: d.hi }, &x_next, None, None)?;
            }
            d.apply_mask(&mut rec, &x_next)?;
            d.forward(&mut rec, 0, &x_next, &ax_next)?;
            // Momentum: y = x_next + β (x_next − x), and A y alike.
            let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
            let beta = ((t - 1.0) / t_next) as f32;
            t = t_next;
            record_vector_op(&mut rec, VectorOp::Extrapolate(beta), &y, Some(&x_next), Some(x))?;
            record_projections_op(&mut rec, VectorOp::Extrapolate(beta), &ay, Some(&ax_next), Some(&ax))?;
            std::mem::swap(x, &mut x_next);
            std::mem::swap(&mut ax, &mut ax_next);
            record_projections_op(&mut rec, VectorOp::DiffTo, &r, Some(&ax), Some(data))?;
            let residual = record_projections_norm2(&mut rec, &r)?;
            let total_variation = tv.record_total_variation(&mut rec, x)?;
            rec.submit()?;
            let residual = residual.finish(ctx)?.sqrt();
            let total_variation = tv_from_moments(ctx, total_variation)?;
            if let Some(stop) = run.report(iteration, residual, Some(total_variation)) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }
}

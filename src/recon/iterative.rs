//! Iterative reconstruction on the [`Joseph`] projector pair: SIRT, SART / OS-SART, CGLS, MLEM /
//! OSEM and FISTA with total-variation regularisation, for every geometry of [`Geometry`].
//!
//! Semantics follow ASTRA and TIGRE:
//! * **SIRT**: `x ← x + λ C Aᵀ R (b − A x)`, `R = 1 / (A 1)`, `C = 1 / (Aᵀ 1)` (rays and voxels
//!   the operator never reaches get 0).
//! * **OS-SART**: the SIRT update on one subset of views at a time (`subsets = views` is
//!   classical SART, `subsets = 1` is SIRT); subsets in [`SubsetOrder`].
//! * **CGLS**: conjugate gradients on the normal equations `AᵀA x = Aᵀ b`; its residual
//!   `‖b − A x‖` never increases.
//! * **MLEM / OSEM**: `x ← x / (Aᵀ 1) · Aᵀ (b / A x)` (per subset for OSEM), for non-negative data
//!   (counts or line integrals); the volume stays non-negative and, for MLEM, `Σ A x = Σ b` after
//!   every iteration.
//! * **FISTA-TV** (Beck & Teboulle 2009): gradient steps on `½‖A x − b‖²` with step `1/L` (`L`,
//!   the largest eigenvalue of `AᵀA`, by power iteration), each followed by the proximal step of
//!   `λ TV(x)` (isotropic TV in voxel units, Chambolle's 2004 projection algorithm), with
//!   Nesterov momentum — for sparse-view data.
//!
//! Options: iterations, relaxation (SIRT/SART), an initial volume (an FBP/FDK result, say), a box
//! constraint (`x ≥ 0` or `[min, max]`), a reconstruction mask (voxels outside stay 0), a
//! relative-residual tolerance, and a callback after each iteration that receives the iteration
//! number, the residual norm `‖b − A x‖` of the new iterate (and TV where relevant) and can stop
//! the run; a stopped run returns its last iterate.

mod gpu;
mod tv;

pub use tv::total_variation;

use ndarray::{Array3, ArrayView3, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::recon::{Geometry, Joseph};
use crate::volume::Grid;

/// The algorithm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Simultaneous iterative reconstruction (all views per update).
    Sirt,
    /// Ordered-subsets SART: one update per subset of views (`subsets = views`: SART).
    OsSart {
        /// Number of subsets, 1 ..= views.
        subsets: usize,
    },
    /// Conjugate gradients least squares.
    Cgls,
    /// Maximum-likelihood expectation maximisation.
    Mlem,
    /// Ordered-subsets EM.
    Osem {
        /// Number of subsets, 1 ..= views.
        subsets: usize,
    },
    /// FISTA with an isotropic total-variation penalty `lambda · TV(x)`.
    FistaTv {
        /// Weight of the TV term (in the units of `½‖A x − b‖²`), ≥ 0.
        lambda: f64,
        /// Iterations of the TV proximal step (Chambolle's algorithm), ≥ 1; 20 is typical.
        tv_iterations: usize,
    },
}

impl Method {
    fn name(&self) -> &'static str {
        match self {
            Method::Sirt => "SIRT",
            Method::OsSart { .. } => "OS-SART",
            Method::Cgls => "CGLS",
            Method::Mlem => "MLEM",
            Method::Osem { .. } => "OSEM",
            Method::FistaTv { .. } => "FISTA-TV",
        }
    }

    fn subsets(&self) -> usize {
        match *self {
            Method::OsSart { subsets } | Method::Osem { subsets } => subsets,
            _ => 1,
        }
    }
}

/// How views are grouped into subsets (OS-SART, OSEM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubsetOrder {
    /// Subset `s` holds views `s, s + k, s + 2k, …` (k subsets): each subset spans all angles.
    #[default]
    Interleaved,
    /// Contiguous blocks of views, in order.
    Sequential,
    /// Views shuffled once with the given seed, then split into blocks.
    Random(u64),
}

/// Values the volume is kept within after every update.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Constraint {
    /// None.
    #[default]
    None,
    /// `x ≥ 0`.
    NonNegative,
    /// `min ≤ x ≤ max`.
    Box {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

/// What the callback sees after each iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// 1 after the first iteration.
    pub iteration: usize,
    /// `‖b − A x‖₂` of the new iterate.
    pub residual: f64,
    /// `residual / ‖b‖₂`.
    pub relative_residual: f64,
    /// Total variation of the new iterate (FISTA-TV).
    pub tv: Option<f64>,
}

/// The callback's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop now and return the current iterate.
    Stop,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// All iterations ran.
    Iterations,
    /// The relative residual fell below the tolerance.
    Tolerance,
    /// The callback asked to stop.
    Callback,
}

/// A run's result.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    /// The last iterate.
    pub volume: Array3<f32>,
    /// One entry per iteration run.
    pub history: Vec<Progress>,
    /// Why it ended.
    pub stopped: Stopped,
}

/// An iterative reconstruction: method, projector and options.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::recon::{Geometry, Phantom, SheppLogan, centred_grid};
/// use hounsfield::recon::iterative::{Iterative, Method};
/// let angles: Vec<f64> = (0..60).map(|k| k as f64 * 3.0).collect();
/// let geometry = Geometry::parallel_2d(&angles, 48, 1.0)?;
/// let sinogram = geometry.project_exact(&Phantom::shepp_logan_2d(SheppLogan::Modified, 20.0)?)?;
/// let grid = centred_grid([1, 40, 40], [1.0, 1.0, 1.0])?;
/// let result = Iterative::new(&geometry, [1, 40, 40], &grid, Method::Cgls)?
///     .iterations(10)
///     .run_cpu(sinogram.view(), |_| hounsfield::recon::iterative::Control::Continue)?;
/// assert!(result.history[9].relative_residual < result.history[0].relative_residual);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Iterative {
    geometry: Geometry,
    shape: [usize; 3],
    grid: Grid,
    method: Method,
    iterations: usize,
    relaxation: f64,
    order: SubsetOrder,
    initial: Option<Array3<f32>>,
    constraint: Constraint,
    mask: Option<Array3<bool>>,
    tolerance: Option<f64>,
}

/// One subset of views: its projector, the views it holds, and SIRT/EM normalisations.
struct Subset {
    joseph: Joseph,
    views: Vec<usize>,
}

impl Iterative {
    /// `method` for a `shape = [nz, ny, nx]` volume on `grid`, with defaults: 100 iterations,
    /// relaxation 1, no constraint (MLEM/OSEM: non-negative by construction), no mask, no
    /// tolerance, interleaved subsets.
    pub fn new(geometry: &Geometry, shape: [usize; 3], grid: &Grid, method: Method) -> Result<Iterative> {
        Joseph::new(geometry, shape, grid)?;
        Ok(Iterative {
            geometry: geometry.clone(),
            shape,
            grid: *grid,
            method,
            iterations: 100,
            relaxation: 1.0,
            order: SubsetOrder::default(),
            initial: None,
            constraint: Constraint::None,
            mask: None,
            tolerance: None,
        })
    }

    /// Number of iterations (full passes over the views), ≥ 1.
    pub fn iterations(mut self, n: usize) -> Self {
        self.iterations = n;
        self
    }

    /// Relaxation λ of SIRT / OS-SART, in (0, 2).
    pub fn relaxation(mut self, lambda: f64) -> Self {
        self.relaxation = lambda;
        self
    }

    /// Subset order (OS-SART, OSEM).
    pub fn order(mut self, order: SubsetOrder) -> Self {
        self.order = order;
        self
    }

    /// Start from `volume` (default: zeros; ones for MLEM/OSEM).
    pub fn initial(mut self, volume: Array3<f32>) -> Self {
        self.initial = Some(volume);
        self
    }

    /// Keep the volume within bounds after every update.
    pub fn constraint(mut self, constraint: Constraint) -> Self {
        self.constraint = constraint;
        self
    }

    /// Reconstruct only where `mask` is true; other voxels stay 0.
    pub fn mask(mut self, mask: Array3<bool>) -> Self {
        self.mask = Some(mask);
        self
    }

    /// Stop once `‖b − A x‖ / ‖b‖` falls below `tolerance`.
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = Some(tolerance);
        self
    }

    fn validate(&self, projections: ArrayView3<'_, f32>) -> Result<()> {
        let g = &self.geometry;
        let views = g.views.len();
        if projections.dim() != (views, g.rows, g.cols) {
            return Err(Error::InvalidShape(format!(
                "projections {:?} do not match the geometry's {views} views × {} rows × {} columns",
                projections.dim(),
                g.rows,
                g.cols
            )));
        }
        if self.iterations == 0 {
            return Err(Error::param("iterations", "0 iterations: give at least 1"));
        }
        if matches!(self.method, Method::Sirt | Method::OsSart { .. })
            && !(self.relaxation > 0.0 && self.relaxation < 2.0)
        {
            return Err(Error::param(
                "relaxation",
                format!("{}: SIRT and SART converge for 0 < λ < 2", self.relaxation),
            ));
        }
        let subsets = self.method.subsets();
        if subsets == 0 || subsets > views {
            return Err(Error::param(
                "subsets",
                format!("{subsets} subsets of {views} views: give 1 ..= {views}"),
            ));
        }
        if let Method::FistaTv { lambda, tv_iterations } = self.method {
            if !(lambda >= 0.0 && lambda.is_finite()) {
                return Err(Error::param(
                    "lambda",
                    format!("{lambda}: the TV weight must be finite and ≥ 0"),
                ));
            }
            if tv_iterations == 0 {
                return Err(Error::param(
                    "tv_iterations",
                    "0: the TV step needs at least 1 iteration",
                ));
            }
        }
        if let Some(t) = self.tolerance
            && !(t >= 0.0 && t.is_finite())
        {
            return Err(Error::param("tolerance", format!("{t}: must be finite and ≥ 0")));
        }
        if let Constraint::Box { min, max } = self.constraint
            && (min > max || min.is_nan() || max.is_nan())
        {
            return Err(Error::param(
                "constraint",
                format!("box [{min}, {max}]: need min ≤ max"),
            ));
        }
        if self.method == Method::Cgls && self.constraint != Constraint::None {
            return Err(Error::param(
                "constraint",
                "CGLS is unconstrained (a clamp breaks its conjugate directions); use SIRT, OS-SART or FISTA-TV",
            ));
        }
        let shape = (self.shape[0], self.shape[1], self.shape[2]);
        if let Some(x0) = &self.initial {
            if x0.dim() != shape {
                return Err(Error::InvalidShape(format!(
                    "initial volume {:?} does not match the reconstruction's {:?}",
                    x0.dim(),
                    self.shape
                )));
            }
            if x0.iter().any(|v| !v.is_finite()) {
                return Err(Error::param(
                    "initial",
                    "the initial volume holds NaN or infinite values",
                ));
            }
        }
        if let Some(m) = &self.mask
            && m.dim() != shape
        {
            return Err(Error::InvalidShape(format!(
                "mask {:?} does not match the reconstruction's {:?}",
                m.dim(),
                self.shape
            )));
        }
        if let Some((i, v)) = projections.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            let (row, col) = ((i / g.cols) % g.rows, i % g.cols);
            return Err(Error::param(
                "projections",
                format!("value {v} at view {}, row {row}, column {col}", i / (g.rows * g.cols)),
            ));
        }
        if matches!(self.method, Method::Mlem | Method::Osem { .. }) {
            if let Some((i, v)) = projections.iter().enumerate().find(|(_, v)| **v < 0.0) {
                return Err(Error::param(
                    "projections",
                    format!(
                        "{} needs non-negative data (counts or line integrals); value {v} at view {} — \
                         clip the data at 0 or use SIRT/CGLS",
                        self.method.name(),
                        i / (g.rows * g.cols)
                    ),
                ));
            }
            if let Some(x0) = &self.initial
                && x0.iter().any(|&v| v < 0.0)
            {
                return Err(Error::param("initial", "MLEM/OSEM need a non-negative initial volume"));
            }
        }
        Ok(())
    }

    fn subsets(&self) -> Result<Vec<Subset>> {
        let views = self.geometry.views.len();
        let k = self.method.subsets();
        let mut order: Vec<usize> = (0..views).collect();
        let groups: Vec<Vec<usize>> = match self.order {
            SubsetOrder::Interleaved => (0..k).map(|s| (s..views).step_by(k).collect()).collect(),
            SubsetOrder::Sequential | SubsetOrder::Random(_) => {
                if let SubsetOrder::Random(seed) = self.order {
                    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
                    for i in (1..views).rev() {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        order.swap(i, (state % (i as u64 + 1)) as usize);
                    }
                }
                (0..k)
                    .map(|s| order[s * views / k..(s + 1) * views / k].to_vec())
                    .collect()
            }
        };
        groups
            .into_iter()
            .map(|views| {
                let mut geometry = self.geometry.clone();
                geometry.views = views.iter().map(|&v| self.geometry.views[v]).collect();
                Ok(Subset {
                    joseph: Joseph::new(&geometry, self.shape, &self.grid)?,
                    views,
                })
            })
            .collect()
    }

    /// Runs on the CPU. `callback` is called after each iteration; returning
    /// [`Control::Stop`] ends the run with the current iterate.
    pub fn run_cpu(
        &self,
        projections: ArrayView3<'_, f32>,
        mut callback: impl FnMut(&Progress) -> Control,
    ) -> Result<Reconstruction> {
        self.validate(projections)?;
        let subsets = self.subsets()?;
        let b: Vec<Array3<f32>> = subsets.iter().map(|s| projections.select(Axis(0), &s.views)).collect();
        let b_norm = norm(projections.iter().copied()).max(f64::MIN_POSITIVE);
        let mask: Option<Vec<f32>> = self
            .mask
            .as_ref()
            .map(|m| m.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect());
        let em = matches!(self.method, Method::Mlem | Method::Osem { .. });
        let mut x: Array3<f32> = match &self.initial {
            Some(x0) => x0.clone(),
            None if em => Array3::ones(self.shape),
            None => Array3::zeros(self.shape),
        };
        self.finish_update(&mut x, mask.as_deref());
        let mut run = Run {
            history: Vec::new(),
            b_norm,
            tolerance: self.tolerance,
            callback: &mut callback,
        };
        let stopped = match self.method {
            Method::Sirt | Method::OsSart { .. } => self.sart(&subsets, &b, &mut x, mask.as_deref(), &mut run)?,
            Method::Cgls => self.cgls(&subsets[0], &b[0], &mut x, mask.as_deref(), &mut run)?,
            Method::Mlem | Method::Osem { .. } => self.em(&subsets, &b, &mut x, mask.as_deref(), &mut run)?,
            Method::FistaTv { lambda, tv_iterations } => self.fista(
                &subsets[0],
                &b[0],
                &mut x,
                mask.as_deref(),
                lambda,
                tv_iterations,
                &mut run,
            )?,
        };
        Ok(Reconstruction {
            volume: x,
            history: run.history,
            stopped,
        })
    }

    /// Constraint and mask, after every update.
    fn finish_update(&self, x: &mut Array3<f32>, mask: Option<&[f32]>) {
        let xs = x.as_slice_mut().expect("standard layout");
        match self.constraint {
            Constraint::None => {}
            Constraint::NonNegative => xs.par_iter_mut().for_each(|v| *v = v.max(0.0)),
            Constraint::Box { min, max } => xs.par_iter_mut().for_each(|v| *v = v.clamp(min, max)),
        }
        if let Some(m) = mask {
            xs.par_iter_mut().zip(m).for_each(|(v, m)| *v *= m);
        }
    }

    fn sart(
        &self,
        subsets: &[Subset],
        b: &[Array3<f32>],
        x: &mut Array3<f32>,
        mask: Option<&[f32]>,
        run: &mut Run<'_>,
    ) -> Result<Stopped> {
        // R = 1 / A1 per subset, C = 1 / Aᵀ1 per subset (0 where the operator does not reach).
        let ones = Array3::<f32>::ones(self.shape);
        let weights: Vec<(Array3<f32>, Array3<f32>)> = subsets
            .iter()
            .map(|s| -> Result<_> {
                let r = s.joseph.forward_cpu(ones.view())?.mapv(reciprocal);
                let ones_b = Array3::<f32>::ones(r.raw_dim());
                let c = s.joseph.backward_cpu(ones_b.view())?.mapv(reciprocal);
                Ok((r, c))
            })
            .collect::<Result<_>>()?;
        let lambda = self.relaxation as f32;
        let mut cached = None;
        for iteration in 1..=self.iterations {
            for (s, (subset, (r, c))) in subsets.iter().zip(&weights).enumerate() {
                let ax = match cached.take() {
                    Some(ax) => ax,
                    None => subset.joseph.forward_cpu(x.view())?,
                };
                let weighted = par_zip3(&b[s], &ax, r, |b, ax, r| (b - ax) * r);
                let update = subset.joseph.backward_cpu(weighted.view())?;
                axpy_mul(x, lambda, &update, c);
                self.finish_update(x, mask);
            }
            let (residual, ax) = self.residual(subsets, b, x)?;
            cached = ax;
            if let Some(stop) = run.report(iteration, residual, None) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    fn cgls(
        &self,
        subset: &Subset,
        b: &Array3<f32>,
        x: &mut Array3<f32>,
        mask: Option<&[f32]>,
        run: &mut Run<'_>,
    ) -> Result<Stopped> {
        let a = &subset.joseph;
        let masked = |mut v: Array3<f32>| {
            if let Some(m) = mask {
                v.as_slice_mut()
                    .expect("standard layout")
                    .iter_mut()
                    .zip(m)
                    .for_each(|(v, m)| *v *= m);
            }
            v
        };
        // r = b − A x, s = Aᵀ r, p = s; with a mask the operator is A·M (M diagonal 0/1).
        let mut r = par_zip3(b, &a.forward_cpu(x.view())?, b, |b, ax, _| b - ax);
        let mut p = masked(a.backward_cpu(r.view())?);
        let mut gamma = norm2(&p);
        for iteration in 1..=self.iterations {
            if gamma == 0.0 {
                // The normal equations are solved (or the data are zero).
                let residual = norm(r.iter().copied());
                return Ok(run.report(iteration, residual, None).unwrap_or(Stopped::Tolerance));
            }
            let q = a.forward_cpu(p.view())?;
            let alpha = (gamma / norm2(&q)) as f32;
            axpy(x, alpha, &p);
            axpy(&mut r, -alpha, &q);
            let s = masked(a.backward_cpu(r.view())?);
            let gamma_next = norm2(&s);
            let beta = (gamma_next / gamma) as f32;
            gamma = gamma_next;
            p.as_slice_mut()
                .expect("standard layout")
                .par_iter_mut()
                .zip(s.as_slice().expect("standard layout"))
                .for_each(|(p, s)| *p = s + beta * *p);
            let residual = norm(r.iter().copied());
            if let Some(stop) = run.report(iteration, residual, None) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    fn em(
        &self,
        subsets: &[Subset],
        b: &[Array3<f32>],
        x: &mut Array3<f32>,
        mask: Option<&[f32]>,
        run: &mut Run<'_>,
    ) -> Result<Stopped> {
        // Sensitivity Aᵀ1 per subset.
        let sensitivity: Vec<Array3<f32>> = subsets
            .iter()
            .zip(b)
            .map(|(s, b)| s.joseph.backward_cpu(Array3::<f32>::ones(b.raw_dim()).view()))
            .collect::<Result<_>>()?;
        let mut cached = None;
        for iteration in 1..=self.iterations {
            for (s, subset) in subsets.iter().enumerate() {
                let ax = match cached.take() {
                    Some(ax) => ax,
                    None => subset.joseph.forward_cpu(x.view())?,
                };
                // b / A x, with 0 where A x is 0 (no estimate to correct along that ray).
                let ratio = par_zip3(&b[s], &ax, &ax, |b, ax, _| if ax > 0.0 { b / ax } else { 0.0 });
                let back = subset.joseph.backward_cpu(ratio.view())?;
                x.as_slice_mut()
                    .expect("standard layout")
                    .par_iter_mut()
                    .zip(back.as_slice().expect("standard layout"))
                    .zip(sensitivity[s].as_slice().expect("standard layout"))
                    .for_each(|((x, back), sens)| *x = if *sens > 0.0 { *x * back / sens } else { 0.0 });
                self.finish_update(x, mask);
            }
            let (residual, ax) = self.residual(subsets, b, x)?;
            cached = ax;
            if let Some(stop) = run.report(iteration, residual, None) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    #[allow(clippy::too_many_arguments)]
    fn fista(
        &self,
        subset: &Subset,
        b: &Array3<f32>,
        x: &mut Array3<f32>,
        mask: Option<&[f32]>,
        lambda: f64,
        tv_iterations: usize,
        run: &mut Run<'_>,
    ) -> Result<Stopped> {
        let a = &subset.joseph;
        let lipschitz = self.lipschitz(a)?;
        let step = (1.0 / lipschitz) as f32;
        // y: the extrapolated point; A y kept by linearity (one forward per iteration).
        let mut y = x.clone();
        let mut ax = a.forward_cpu(x.view())?;
        let mut ay = ax.clone();
        let mut t = 1.0f64;
        for iteration in 1..=self.iterations {
            let grad = a.backward_cpu(par_zip3(&ay, b, b, |ay, b, _| ay - b).view())?;
            let mut z = y.clone();
            axpy(&mut z, -step, &grad);
            let mut x_next = tv::prox_cpu(&z, lambda as f32 * step, tv_iterations);
            self.finish_update(&mut x_next, mask);
            let ax_next = a.forward_cpu(x_next.view())?;
            let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
            let beta = ((t - 1.0) / t_next) as f32;
            y = par_zip3(&x_next, x, x, |xn, x, _| xn + beta * (xn - x));
            ay = par_zip3(&ax_next, &ax, &ax, |an, a, _| an + beta * (an - a));
            *x = x_next;
            ax = ax_next;
            t = t_next;
            let residual = norm(ax.iter().zip(b).map(|(a, b)| a - b));
            if let Some(stop) = run.report(iteration, residual, Some(total_variation(x))) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    /// Largest eigenvalue of AᵀA by power iteration (20 steps, then 1 % headroom: an
    /// underestimate would make FISTA's step too long).
    fn lipschitz(&self, a: &Joseph) -> Result<f64> {
        let mut v = Array3::<f32>::ones(self.shape);
        let mut estimate = 0.0;
        for _ in 0..POWER_ITERATIONS {
            let n = norm(v.iter().copied());
            if n == 0.0 {
                break;
            }
            v.mapv_inplace(|x| (f64::from(x) / n) as f32);
            let w = a.backward_cpu(a.forward_cpu(v.view())?.view())?;
            estimate = norm(w.iter().copied());
            v = w;
        }
        lipschitz_bound(estimate)
    }

    /// `‖b − A x‖`, and `A x` itself when there is one subset (SIRT, MLEM: the next
    /// iteration starts from it, so a residual costs no extra projection; with subsets it costs
    /// one more forward projection per iteration).
    fn residual(&self, subsets: &[Subset], b: &[Array3<f32>], x: &Array3<f32>) -> Result<(f64, Option<Array3<f32>>)> {
        let mut sum = 0.0;
        let mut last = None;
        for (s, b) in subsets.iter().zip(b) {
            let ax = s.joseph.forward_cpu(x.view())?;
            sum += ax
                .as_slice()
                .expect("standard layout")
                .par_iter()
                .zip(b.as_slice().expect("standard layout"))
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum::<f64>();
            last = Some(ax);
        }
        Ok((sum.sqrt(), if subsets.len() == 1 { last } else { None }))
    }
}

/// Progress bookkeeping shared by the methods.
struct Run<'c> {
    history: Vec<Progress>,
    b_norm: f64,
    tolerance: Option<f64>,
    callback: &'c mut dyn FnMut(&Progress) -> Control,
}

impl Run<'_> {
    /// Records an iteration; `Some(reason)` when the run must stop.
    fn report(&mut self, iteration: usize, residual: f64, tv: Option<f64>) -> Option<Stopped> {
        let progress = Progress {
            iteration,
            residual,
            relative_residual: residual / self.b_norm,
            tv,
        };
        self.history.push(progress);
        if (self.callback)(&progress) == Control::Stop {
            return Some(Stopped::Callback);
        }
        match self.tolerance {
            Some(t) if progress.relative_residual < t => Some(Stopped::Tolerance),
            _ => None,
        }
    }
}

/// The power iteration's estimate with 1 % headroom, or an error when the operator is zero.
fn lipschitz_bound(estimate: f64) -> Result<f64> {
    if estimate <= 0.0 {
        return Err(Error::param(
            "geometry",
            "the projector is zero on this volume: no ray crosses it",
        ));
    }
    Ok(estimate * 1.01)
}

/// Power-iteration steps for the Lipschitz constant.
const POWER_ITERATIONS: usize = 20;

fn reciprocal(v: f32) -> f32 {
    if v > 1e-6 { 1.0 / v } else { 0.0 }
}

fn norm(values: impl Iterator<Item = f32>) -> f64 {
    values.map(|v| f64::from(v).powi(2)).sum::<f64>().sqrt()
}

fn norm2(a: &Array3<f32>) -> f64 {
    a.as_slice()
        .expect("standard layout")
        .par_iter()
        .map(|&v| f64::from(v).powi(2))
        .sum()
}

/// `f(a, b, c)` elementwise, in parallel.
fn par_zip3(a: &Array3<f32>, b: &Array3<f32>, c: &Array3<f32>, f: impl Fn(f32, f32, f32) -> f32 + Sync) -> Array3<f32> {
    let (a_s, b_s, c_s) = (
        a.as_slice().expect("standard layout"),
        b.as_slice().expect("standard layout"),
        c.as_slice().expect("standard layout"),
    );
    let out: Vec<f32> = a_s
        .par_iter()
        .zip(b_s)
        .zip(c_s)
        .map(|((&a, &b), &c)| f(a, b, c))
        .collect();
    Array3::from_shape_vec(a.raw_dim(), out).expect("same shape")
}

/// `x += alpha · y`.
fn axpy(x: &mut Array3<f32>, alpha: f32, y: &Array3<f32>) {
    x.as_slice_mut()
        .expect("standard layout")
        .par_iter_mut()
        .zip(y.as_slice().expect("standard layout"))
        .for_each(|(x, y)| *x += alpha * y);
}

/// `x += alpha · y · w`.
fn axpy_mul(x: &mut Array3<f32>, alpha: f32, y: &Array3<f32>, w: &Array3<f32>) {
    x.as_slice_mut()
        .expect("standard layout")
        .par_iter_mut()
        .zip(y.as_slice().expect("standard layout"))
        .zip(w.as_slice().expect("standard layout"))
        .for_each(|((x, y), w)| *x += alpha * y * w);
}

//! Iterative reconstruction with any [`Projector`] pair (Joseph's by default): SIRT, SART /
//! OS-SART, CGLS, MLEM / OSEM and FISTA with total-variation regularisation, for every geometry
//! of [`Geometry`]. Each method is written once, against the vector space of `space.rs`, and
//! runs on the CPU ([`Iterative::run_cpu`]) or stays on the GPU after the upload
//! ([`Iterative::run_gpu`]: one submission and one read-back of a few scalars per iteration —
//! step lengths such as CGLS's ratios of norms stay on the device as coefficients of the
//! updates; very large problems also submit between subsets).
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

mod space;
pub(crate) mod tv;

pub use tv::total_variation;

use std::sync::Arc;

use ndarray::{Array3, ArrayView3, Axis};

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::gpu::vector_ops::VectorOp;
use crate::recon::{Geometry, Projector, ProjectorKind};
use space::{Coef, CpuSpace, GpuSpace, Space};

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

    /// The method's name in [`crate::registry::OPERATIONS`] (and Python's `method=`).
    pub fn key(&self) -> &'static str {
        match self {
            Method::Sirt => "sirt",
            Method::OsSart { .. } => "os_sart",
            Method::Cgls => "cgls",
            Method::Mlem => "mlem",
            Method::Osem { .. } => "osem",
            Method::FistaTv { .. } => "fista_tv",
        }
    }

    /// The method called `name` ([`Method::key`]; `"sart"` is OS-SART too), taking the options it
    /// has from `subsets`, `lambda` and `tv_iterations`.
    pub fn from_name(name: &str, subsets: usize, lambda: f64, tv_iterations: usize) -> Result<Method> {
        Ok(match name {
            "sirt" => Method::Sirt,
            "os_sart" | "sart" => Method::OsSart { subsets },
            "cgls" => Method::Cgls,
            "mlem" => Method::Mlem,
            "osem" => Method::Osem { subsets },
            "fista_tv" => Method::FistaTv { lambda, tv_iterations },
            other => {
                let names: Vec<&str> = crate::registry::OPERATIONS
                    .iter()
                    .filter(|op| op.family == crate::registry::Family::Iterative)
                    .map(|op| op.name)
                    .collect();
                return Err(Error::param(
                    "method",
                    format!("{other:?}: use one of {}", names.join(", ")),
                ));
            }
        })
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
    projector: Arc<dyn Projector>,
    geometry: Geometry,
    shape: [usize; 3],
    method: Method,
    iterations: usize,
    relaxation: f64,
    order: SubsetOrder,
    initial: Option<Array3<f32>>,
    constraint: Constraint,
    mask: Option<Array3<bool>>,
    tolerance: Option<f64>,
}

impl Iterative {
    /// `method` with Joseph's projector for a `shape = [nz, ny, nx]` volume on `grid`, with
    /// defaults: 100 iterations, relaxation 1, no constraint (MLEM/OSEM: non-negative by
    /// construction), no mask, no tolerance, interleaved subsets.
    pub fn new(
        geometry: &Geometry,
        shape: [usize; 3],
        grid: &crate::volume::Grid,
        method: Method,
    ) -> Result<Iterative> {
        Ok(Iterative::with_projector(
            ProjectorKind::Joseph.build(geometry, shape, grid)?,
            method,
        ))
    }

    /// `method` with `projector` (its geometry, volume shape and grid), defaults as
    /// [`Iterative::new`]. [`ProjectorKind::build`] makes one by kind.
    pub fn with_projector(projector: Arc<dyn Projector>, method: Method) -> Iterative {
        Iterative {
            geometry: projector.geometry().clone(),
            shape: projector.volume_shape(),
            projector,
            method,
            iterations: 100,
            relaxation: 1.0,
            order: SubsetOrder::default(),
            initial: None,
            constraint: Constraint::None,
            mask: None,
            tolerance: None,
        }
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

    /// The subsets' views, in the order they are visited.
    fn subset_views(&self) -> Vec<Vec<usize>> {
        let views = self.geometry.views.len();
        let k = self.method.subsets();
        let mut order: Vec<usize> = (0..views).collect();
        match self.order {
            SubsetOrder::Interleaved => (0..k).map(|s| (s..views).step_by(k).collect()).collect(),
            SubsetOrder::Sequential | SubsetOrder::Random(_) => {
                if let SubsetOrder::Random(seed) = self.order {
                    let mut rng = crate::rng::XorShift64::new(seed ^ 0x9E37_79B9_7F4A_7C15);
                    for i in (1..views).rev() {
                        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
                    }
                }
                (0..k)
                    .map(|s| order[s * views / k..(s + 1) * views / k].to_vec())
                    .collect()
            }
        }
    }

    /// The projector of each subset (the whole projector when a subset is all views in order).
    fn subset_projectors(&self, subsets: &[Vec<usize>]) -> Result<Vec<Arc<dyn Projector>>> {
        let all: Vec<usize> = (0..self.geometry.views.len()).collect();
        subsets
            .iter()
            .map(|views| {
                if *views == all {
                    Ok(self.projector.clone())
                } else {
                    self.projector.restrict(views)
                }
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
        let subsets = self.subset_views();
        let mask = self
            .mask
            .as_ref()
            .map(|m| m.iter().map(|&v| if v { 1.0 } else { 0.0 }).collect());
        let mut space = CpuSpace::new(self.subset_projectors(&subsets)?, self.shape, mask);
        self.solve(&mut space, &subsets, projections, &mut callback)
    }

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
        let subsets = self.subset_views();
        let mask = self.mask.as_ref().map(|m| m.mapv(|v| if v { 1.0f32 } else { 0.0 }));
        let mut space = GpuSpace::new(
            ctx,
            self.subset_projectors(&subsets)?,
            self.shape,
            mask.as_ref().map(|m| m.view()),
        )?;
        self.solve(&mut space, &subsets, projections, &mut callback)
    }

    /// Bounds of the constraint (±∞ for none).
    fn bounds(&self) -> (f32, f32) {
        match self.constraint {
            Constraint::None => (f32::NEG_INFINITY, f32::INFINITY),
            Constraint::NonNegative => (0.0, f32::INFINITY),
            Constraint::Box { min, max } => (min, max),
        }
    }

    /// The run on either backend: data and start volume into the space, the method, the
    /// volume back.
    fn solve<S: Space>(
        &self,
        space: &mut S,
        subsets: &[Vec<usize>],
        projections: ArrayView3<'_, f32>,
        callback: &mut dyn FnMut(&Progress) -> Control,
    ) -> Result<Reconstruction> {
        let data = subsets
            .iter()
            .map(|views| space.upload_projections(projections.select(Axis(0), views).view()))
            .collect::<Result<Vec<_>>>()?;
        let em = matches!(self.method, Method::Mlem | Method::Osem { .. });
        let mut x = match &self.initial {
            Some(x0) => space.upload_volume(x0.view())?,
            None => {
                let mut x = space.volume()?;
                if em {
                    space.vol_op(VectorOp::Fill(1.0), &mut x, None, None)?;
                }
                x
            }
        };
        // The initial volume obeys the constraint and mask, as every update does.
        if self.constraint != Constraint::None {
            let (lo, hi) = self.bounds();
            space.vol_op(VectorOp::Clamp { lo, hi }, &mut x, None, None)?;
        }
        space.mask(&mut x)?;
        let mut run = Run {
            history: Vec::new(),
            b_norm: norm(projections.iter().copied()).max(f64::MIN_POSITIVE),
            tolerance: self.tolerance,
            callback,
        };
        let stopped = match self.method {
            Method::Sirt | Method::OsSart { .. } => self.sart(space, &data, &mut x, &mut run)?,
            Method::Cgls => self.cgls(space, &data[0], &mut x, &mut run)?,
            Method::Mlem | Method::Osem { .. } => self.em(space, &data, &mut x, &mut run)?,
            Method::FistaTv { lambda, tv_iterations } => {
                self.fista(space, &data[0], &mut x, lambda, tv_iterations, &mut run)?
            }
        };
        Ok(Reconstruction {
            volume: space.download(&x)?,
            history: run.history,
            stopped,
        })
    }

    /// Records `r_s = b_s − A_s x` for every subset (`ax` holds `A_s x` afterwards) and returns
    /// `‖b − A x‖`. With one subset `ax` is the next iteration's start, so the residual costs
    /// no extra projection; with subsets it costs one forward projection per iteration.
    fn residual<S: Space>(
        &self,
        space: &mut S,
        data: &[S::Proj],
        x: &S::Vol,
        ax: &mut [S::Proj],
        r: &mut [S::Proj],
    ) -> Result<f64> {
        let mut norms = Vec::with_capacity(data.len());
        for s in 0..data.len() {
            space.forward(s, x, &mut ax[s])?;
            space.proj_op(VectorOp::DiffTo, &mut r[s], Some(&data[s]), Some(&ax[s]))?;
            norms.push(space.proj_norm2(&r[s])?);
        }
        let norms: Vec<&S::Scalar> = norms.iter().collect();
        Ok(space.read_all(&norms)?.iter().sum::<f64>().sqrt())
    }

    /// Projections of every subset, zero.
    fn subset_projections<S: Space>(space: &mut S, k: usize) -> Result<Vec<S::Proj>> {
        (0..k).map(|s| space.projections(s)).collect()
    }

    /// SIRT (one subset) and OS-SART: `x ← x + λ C_s A_sᵀ R_s (b_s − A_s x)` subset by subset.
    fn sart<S: Space>(&self, space: &mut S, data: &[S::Proj], x: &mut S::Vol, run: &mut Run<'_>) -> Result<Stopped> {
        let k = data.len();
        // R_s = 1 / A_s 1, C_s = 1 / A_sᵀ 1 (0 where the operator does not reach), once.
        let mut ones = space.volume()?;
        space.vol_op(VectorOp::Fill(1.0), &mut ones, None, None)?;
        let mut row_weights = Vec::with_capacity(k);
        let mut col_weights = Vec::with_capacity(k);
        for s in 0..k {
            let mut r = space.projections(s)?;
            space.forward(s, &ones, &mut r)?;
            space.proj_op(VectorOp::Reciprocal, &mut r, None, None)?;
            let mut ones_p = space.projections(s)?;
            space.proj_op(VectorOp::Fill(1.0), &mut ones_p, None, None)?;
            let mut c = space.volume()?;
            space.backward(s, &ones_p, &mut c)?;
            space.vol_op(VectorOp::Reciprocal, &mut c, None, None)?;
            row_weights.push(r);
            col_weights.push(c);
            space.checkpoint()?;
        }
        drop(ones);
        let mut ax = Self::subset_projections(space, k)?;
        let mut r = Self::subset_projections(space, k)?;
        let mut update = space.volume()?;
        let (lo, hi) = self.bounds();
        let lambda = self.relaxation as f32;
        // With one subset the residual of the last iteration is the next one's start.
        let mut fresh = false;
        for iteration in 1..=self.iterations {
            for s in 0..k {
                if !fresh {
                    space.forward(s, x, &mut ax[s])?;
                    space.proj_op(VectorOp::DiffTo, &mut r[s], Some(&data[s]), Some(&ax[s]))?;
                }
                space.proj_op(VectorOp::MulTo, &mut ax[s], Some(&r[s]), Some(&row_weights[s]))?;
                space.backward(s, &ax[s], &mut update)?;
                space.vol_op(
                    VectorOp::Update { lambda, lo, hi },
                    x,
                    Some(&update),
                    Some(&col_weights[s]),
                )?;
                space.mask(x)?;
                space.checkpoint()?;
            }
            let residual = self.residual(space, data, x, &mut ax, &mut r)?;
            fresh = k == 1;
            if let Some(stop) = run.report(iteration, residual, None) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    /// CGLS on `AᵀA x = Aᵀ b`; with a mask the operator is `A·M` (`M` diagonal 0/1). The step
    /// lengths α = γ / ‖q‖² and β = γ' / γ are coefficients of the updates, so on the GPU an
    /// iteration is one submission and one read-back (γ' and the residual, for the callback).
    fn cgls<S: Space>(&self, space: &mut S, data: &S::Proj, x: &mut S::Vol, run: &mut Run<'_>) -> Result<Stopped> {
        let (mut q, mut r) = (space.projections(0)?, space.projections(0)?);
        let (mut p, mut s) = (space.volume()?, space.volume()?);
        // r = b − A x, s = Aᵀ r (masked), p = s, γ = ‖s‖².
        space.forward(0, x, &mut q)?;
        space.proj_op(VectorOp::DiffTo, &mut r, Some(data), Some(&q))?;
        space.backward(0, &r, &mut s)?;
        space.mask(&mut s)?;
        space.vol_op(VectorOp::Xpby(0.0), &mut p, Some(&s), None)?;
        let mut gamma = space.vol_norm2(&s)?;
        let r_norm = space.proj_norm2(&r)?;
        let values = space.read_all(&[&gamma, &r_norm])?;
        let (mut gamma_value, mut residual) = (values[0], values[1].sqrt());
        for iteration in 1..=self.iterations {
            if gamma_value == 0.0 {
                // The normal equations are solved (or the data are zero).
                return Ok(run.report(iteration, residual, None).unwrap_or(Stopped::Tolerance));
            }
            space.forward(0, &p, &mut q)?;
            let q_norm = space.proj_norm2(&q)?;
            let alpha = Coef::Ratio(&gamma, &q_norm);
            space.vol_op_by(VectorOp::Axpy(1.0), x, Some(&p), None, alpha)?;
            space.proj_op_by(VectorOp::Axpy(-1.0), &mut r, Some(&q), None, alpha)?;
            space.backward(0, &r, &mut s)?;
            space.mask(&mut s)?;
            let gamma_next = space.vol_norm2(&s)?;
            let r_norm = space.proj_norm2(&r)?;
            space.vol_op_by(
                VectorOp::Xpby(1.0),
                &mut p,
                Some(&s),
                None,
                Coef::Ratio(&gamma_next, &gamma),
            )?;
            let values = space.read_all(&[&gamma_next, &r_norm])?;
            (gamma, gamma_value, residual) = (gamma_next, values[0], values[1].sqrt());
            if let Some(stop) = run.report(iteration, residual, None) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    /// MLEM (one subset) and OSEM: `x ← x / (A_sᵀ 1) · A_sᵀ (b_s / A_s x)` subset by subset.
    fn em<S: Space>(&self, space: &mut S, data: &[S::Proj], x: &mut S::Vol, run: &mut Run<'_>) -> Result<Stopped> {
        let k = data.len();
        // Sensitivity A_sᵀ 1 per subset.
        let mut sensitivity = Vec::with_capacity(k);
        for s in 0..k {
            let mut ones_p = space.projections(s)?;
            space.proj_op(VectorOp::Fill(1.0), &mut ones_p, None, None)?;
            let mut sens = space.volume()?;
            space.backward(s, &ones_p, &mut sens)?;
            sensitivity.push(sens);
            space.checkpoint()?;
        }
        let mut ax = Self::subset_projections(space, k)?;
        let mut t = Self::subset_projections(space, k)?;
        let mut back = space.volume()?;
        let (lo, hi) = self.bounds();
        let mut fresh = false;
        for iteration in 1..=self.iterations {
            for s in 0..k {
                if !fresh {
                    space.forward(s, x, &mut ax[s])?;
                }
                // b / A x, with 0 where A x is 0 (no estimate to correct along that ray).
                space.proj_op(VectorOp::DivTo, &mut t[s], Some(&data[s]), Some(&ax[s]))?;
                space.backward(s, &t[s], &mut back)?;
                space.vol_op(VectorOp::EmUpdate { lo, hi }, x, Some(&back), Some(&sensitivity[s]))?;
                space.mask(x)?;
                space.checkpoint()?;
            }
            // The residual leaves A x in `ax`: with one subset, the next iteration's start.
            let residual = self.residual(space, data, x, &mut ax, &mut t)?;
            fresh = k == 1;
            if let Some(stop) = run.report(iteration, residual, None) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
    }

    /// Largest eigenvalue of AᵀA by power iteration (20 steps, then 1 % headroom: an
    /// underestimate would make FISTA's step too long).
    fn lipschitz<S: Space>(&self, space: &mut S) -> Result<f64> {
        let (mut v, mut w) = (space.volume()?, space.volume()?);
        let mut q = space.projections(0)?;
        space.vol_op(VectorOp::Fill(1.0), &mut v, None, None)?;
        // v ← v / ‖v‖ on the device; one read at the end (a zero operator gives 0).
        let mut norm2 = space.vol_norm2(&v)?;
        for _ in 0..POWER_ITERATIONS {
            space.vol_op_by(VectorOp::Scale(1.0), &mut v, None, None, Coef::InverseRoot(&norm2))?;
            space.forward(0, &v, &mut q)?;
            space.backward(0, &q, &mut w)?;
            norm2 = space.vol_norm2(&w)?;
            std::mem::swap(&mut v, &mut w);
            space.checkpoint()?;
        }
        lipschitz_bound(space.read(&norm2)?.sqrt())
    }

    /// FISTA-TV: gradient step on `½‖A x − b‖²`, TV proximal step, constraint and mask,
    /// Nesterov momentum; `A y` is kept by linearity (one forward projection per iteration).
    fn fista<S: Space>(
        &self,
        space: &mut S,
        data: &S::Proj,
        x: &mut S::Vol,
        lambda: f64,
        tv_iterations: usize,
        run: &mut Run<'_>,
    ) -> Result<Stopped> {
        let step = (1.0 / self.lipschitz(space)?) as f32;
        let mu = lambda as f32 * step;
        let (mut x_next, mut y, mut z, mut grad) = (space.volume()?, space.volume()?, space.volume()?, space.volume()?);
        let (mut ax, mut ax_next) = (space.projections(0)?, space.projections(0)?);
        let (mut ay, mut r) = (space.projections(0)?, space.projections(0)?);
        // y = x, A y = A x.
        let copy = VectorOp::Lincomb { alpha: 1.0, beta: 0.0 };
        space.vol_op(copy, &mut y, Some(x), Some(x))?;
        space.forward(0, x, &mut ax)?;
        space.proj_op(copy, &mut ay, Some(&ax), Some(&ax))?;
        let (lo, hi) = self.bounds();
        let mut t = 1.0f64;
        for iteration in 1..=self.iterations {
            // z = y − step · Aᵀ(A y − b); x_next = prox(z), constrained and masked.
            space.proj_op(VectorOp::DiffTo, &mut r, Some(&ay), Some(data))?;
            space.backward(0, &r, &mut grad)?;
            space.vol_op(
                VectorOp::Lincomb {
                    alpha: 1.0,
                    beta: -step,
                },
                &mut z,
                Some(&y),
                Some(&grad),
            )?;
            space.tv_prox(&z, mu, tv_iterations, &mut x_next)?;
            if self.constraint != Constraint::None {
                space.vol_op(VectorOp::Clamp { lo, hi }, &mut x_next, None, None)?;
            }
            space.mask(&mut x_next)?;
            space.forward(0, &x_next, &mut ax_next)?;
            // Momentum: y = x_next + β (x_next − x), and A y alike.
            let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
            let beta = ((t - 1.0) / t_next) as f32;
            t = t_next;
            space.vol_op(VectorOp::Extrapolate(beta), &mut y, Some(&x_next), Some(x))?;
            space.proj_op(VectorOp::Extrapolate(beta), &mut ay, Some(&ax_next), Some(&ax))?;
            std::mem::swap(x, &mut x_next);
            std::mem::swap(&mut ax, &mut ax_next);
            space.proj_op(VectorOp::DiffTo, &mut r, Some(&ax), Some(data))?;
            let residual = space.proj_norm2(&r)?;
            let total_variation = space.total_variation(x)?;
            let values = space.read_all(&[&residual, &total_variation])?;
            if let Some(stop) = run.report(iteration, values[0].sqrt(), Some(values[1])) {
                return Ok(stop);
            }
        }
        Ok(Stopped::Iterations)
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

fn norm(values: impl Iterator<Item = f32>) -> f64 {
    values.map(|v| f64::from(v).powi(2)).sum::<f64>().sqrt()
}

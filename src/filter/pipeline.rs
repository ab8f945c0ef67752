//! A pipeline: an ordered list of filters run as one [`Filter`].
//!
//! On the GPU every step records into the same [`Recorder`], so the whole chain is one
//! submission with no download between steps, and intermediates are recycled through the
//! recorder's pool (a chain of any length holds about three volumes). On the CPU the steps run
//! one after another. Both paths give the same result, as for any single filter.

use std::fmt;

use ndarray::{Array3, ArrayView3};

use crate::error::{Error, Result};
use crate::filter::{Filter, check_ndim};
use crate::gpu::{GpuVolume, Recorder};
use crate::volume::Grid;

/// An ordered list of filters, itself a [`Filter`].
///
/// ```
/// use hounsfield::prelude::*;
/// let pipeline = Pipeline::new()
///     .then(Gaussian::new(&[1.0]))
///     .then(Gaussian::new(&[0.0, 2.0, 2.0]).mode(BoundaryMode::Nearest));
/// let volume = ndarray::Array3::<f32>::zeros((4, 16, 16));
/// let out = pipeline.apply(&Backend::Cpu, volume.view())?;
/// assert_eq!(out.dim(), (4, 16, 16));
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Default)]
pub struct Pipeline {
    steps: Vec<Box<dyn Filter>>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.steps).finish()
    }
}

impl Pipeline {
    /// An empty pipeline (the identity).
    pub fn new() -> Self {
        Pipeline::default()
    }

    /// Appends a step.
    pub fn then(mut self, step: impl Filter + 'static) -> Self {
        self.steps.push(Box::new(step));
        self
    }

    /// Appends a boxed step (for steps chosen at run time, e.g. from a command line).
    pub fn push(&mut self, step: Box<dyn Filter>) {
        self.steps.push(step);
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True when the pipeline has no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// A pipeline from a textual specification, as command lines and scripts write it: steps
    /// separated by spaces, each `keyword:number:number…`, lengths in mm where the step has one
    /// (converted with `grid`'s spacing). The keywords are the [`Step`](crate::registry::Step)s
    /// of [`crate::registry::OPERATIONS`]; [`Pipeline::help`] lists them:
    ///
    /// | step | meaning |
    /// |---|---|
    /// | `gaussian:SIGMA_MM` | [`Gaussian`](crate::filter::Gaussian) with sigma in mm |
    /// | `median:RADIUS` | exact [`Median`](crate::filter::Median), radius in voxels |
    /// | `bilateral:DOMAIN_SIGMA_MM:RANGE_SIGMA` | ITK's [`Bilateral`](crate::filter::Bilateral) |
    /// | `unsharp:SIGMA:AMOUNT` | [`UnsharpMask`](crate::filter::UnsharpMask), sigma in voxels |
    /// | `diffusion:ITERATIONS:CONDUCTANCE` | ITK gradient [`AnisotropicDiffusion`](crate::filter::AnisotropicDiffusion) |
    /// | `curvature:ITERATIONS:CONDUCTANCE` | ITK curvature anisotropic diffusion |
    /// | `opening:RADIUS`, `closing:RADIUS`, `erosion:RADIUS`, `dilation:RADIUS` | grey morphology with a ball, radius in voxels |
    /// | `clip:LO:HI` | [`Clip`](crate::filter::Clip) |
    /// | `sigmoid:CUTOFF:GAIN` | [`Sigmoid`](crate::filter::Sigmoid) contrast curve |
    ///
    /// ```
    /// use hounsfield::prelude::*;
    /// let grid = Grid::with_spacing([2.0, 0.5, 0.5])?;
    /// let pipeline = Pipeline::parse("median:1 gaussian:1.0 clip:-1000:3000", &grid)?;
    /// assert_eq!(pipeline.describe(), "median → gaussian → clip");
    /// assert!(Pipeline::parse("median:1.5", &grid).is_err());
    /// # Ok::<(), hounsfield::Error>(())
    /// ```
    pub fn parse(spec: &str, grid: &Grid) -> Result<Pipeline> {
        let mut pipeline = Pipeline::new();
        for text in spec.split_whitespace() {
            let mut parts = text.split(':');
            let keyword = parts.next().unwrap_or("");
            let Some(step) = crate::registry::step(keyword) else {
                return Err(Error::param(
                    "steps",
                    format!("unknown step '{keyword}'; use one of: {}", Pipeline::help()),
                ));
            };
            let numbers: Vec<f64> = parts
                .map(|p| match p.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err(Error::param(
                        "steps",
                        format!("step '{text}': '{p}' is not a finite number"),
                    )),
                })
                .collect::<Result<_>>()?;
            if numbers.len() != step.params.len() {
                return Err(Error::param(
                    "steps",
                    format!(
                        "step '{text}' needs {} number(s) after '{keyword}:' ({keyword}:{}), got {}",
                        step.params.len(),
                        step.params.join(":"),
                        numbers.len()
                    ),
                ));
            }
            let filter = (step.build)(&numbers, grid).map_err(|e| match e {
                Error::InvalidParameter { name, reason } => Error::InvalidParameter {
                    name,
                    reason: format!("step '{text}': {reason}"),
                },
                other => other,
            })?;
            pipeline.push(filter);
        }
        if pipeline.is_empty() {
            return Err(Error::param("steps", "no step given (e.g. \"median:1 gaussian:0.8\")"));
        }
        Ok(pipeline)
    }

    /// Every step keyword with its numbers (`gaussian:SIGMA_MM, median:RADIUS, …`).
    pub fn help() -> String {
        crate::registry::steps()
            .map(|(_, s)| format!("{}:{}", s.keyword, s.params.join(":")))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The steps' names, in order (`"gaussian → median → ..."`).
    pub fn describe(&self) -> String {
        self.steps.iter().map(|s| s.name()).collect::<Vec<_>>().join(" → ")
    }
}

impl Filter for Pipeline {
    fn name(&self) -> &'static str {
        "pipeline"
    }

    fn output_shape(&self, shape: [usize; 3], ndim: usize) -> Result<[usize; 3]> {
        self.steps.iter().try_fold(shape, |s, step| step.output_shape(s, ndim))
    }

    fn output_grid(&self, grid: &Grid, shape: [usize; 3], ndim: usize) -> Result<Grid> {
        let mut grid = *grid;
        let mut shape = shape;
        for step in &self.steps {
            grid = step.output_grid(&grid, shape, ndim)?;
            shape = step.output_shape(shape, ndim)?;
        }
        Ok(grid)
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        check_ndim(ndim)?;
        let mut current: Option<Array3<f32>> = None;
        for step in &self.steps {
            let next = step.cpu(current.as_ref().map_or(input, |c| c.view()), ndim)?;
            current = Some(next);
        }
        Ok(current.unwrap_or_else(|| input.to_owned()))
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        check_ndim(ndim)?;
        // Validate every step (and the shapes between them) before recording anything.
        self.output_shape(input.shape(), ndim)?;
        let mut current: Option<GpuVolume> = None;
        for step in &self.steps {
            let next = step.record(rec, current.as_ref().unwrap_or(input), ndim)?;
            if let Some(done) = current.replace(next) {
                rec.recycle(done);
            }
        }
        match current {
            Some(out) => Ok(out),
            None => rec.duplicate(input),
        }
    }
}

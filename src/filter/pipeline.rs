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
    /// separated by spaces, each `name:number:number…`, lengths in mm where the step has one
    /// (converted with `grid`'s spacing):
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
        use crate::filter::{
            AnisotropicDiffusion, Bilateral, Clip, Footprint, Gaussian, GreyMorphology, Median, MorphOp, UnsharpMask,
        };
        let mut pipeline = Pipeline::new();
        for step in spec.split_whitespace() {
            let mut parts = step.split(':');
            let name = parts.next().unwrap_or("");
            let nums: Vec<f64> = parts
                .map(|p| match p.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err(Error::param(
                        "steps",
                        format!("step '{step}': '{p}' is not a finite number"),
                    )),
                })
                .collect::<Result<_>>()?;
            let need = |n: usize| -> Result<()> {
                if nums.len() == n {
                    Ok(())
                } else {
                    Err(Error::param(
                        "steps",
                        format!("step '{step}' needs {n} number(s) after '{name}:', got {}", nums.len()),
                    ))
                }
            };
            // Radii and iteration counts: whole, non-negative numbers.
            let count = |v: f64| -> Result<usize> {
                if v >= 0.0 && v.fract() == 0.0 && v <= 1e6 {
                    Ok(v as usize)
                } else {
                    Err(Error::param(
                        "steps",
                        format!("step '{step}': {v} must be a whole number ≥ 0"),
                    ))
                }
            };
            let morphology = |op: MorphOp| -> Result<Box<dyn Filter>> {
                need(1)?;
                Ok(Box::new(GreyMorphology::new(op, Footprint::Ball(count(nums[0])?))))
            };
            let next: Box<dyn Filter> = match name {
                "gaussian" => {
                    need(1)?;
                    Box::new(Gaussian::from_mm(&[nums[0]], grid)?)
                }
                "median" => {
                    need(1)?;
                    Box::new(Median::new(&[count(nums[0])?]))
                }
                "bilateral" => {
                    need(2)?;
                    Box::new(Bilateral::new(&[nums[0]], nums[1]).for_grid(grid))
                }
                "unsharp" => {
                    need(2)?;
                    Box::new(UnsharpMask::new(&[nums[0]], nums[1]))
                }
                "diffusion" => {
                    need(2)?;
                    Box::new(AnisotropicDiffusion::gradient(count(nums[0])?, nums[1]).for_grid(grid))
                }
                "curvature" => {
                    need(2)?;
                    Box::new(AnisotropicDiffusion::curvature(count(nums[0])?, nums[1]).for_grid(grid))
                }
                "erosion" => morphology(MorphOp::Erosion)?,
                "dilation" => morphology(MorphOp::Dilation)?,
                "opening" => morphology(MorphOp::Opening)?,
                "closing" => morphology(MorphOp::Closing)?,
                "clip" => {
                    need(2)?;
                    Box::new(Clip {
                        lo: nums[0],
                        hi: nums[1],
                    })
                }
                _ => {
                    return Err(Error::param(
                        "steps",
                        format!(
                            "unknown step '{name}'; use gaussian, median, bilateral, unsharp, diffusion, \
                             curvature, erosion, dilation, opening, closing or clip"
                        ),
                    ));
                }
            };
            pipeline.push(next);
        }
        if pipeline.is_empty() {
            return Err(Error::param("steps", "no step given (e.g. \"median:1 gaussian:0.8\")"));
        }
        Ok(pipeline)
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

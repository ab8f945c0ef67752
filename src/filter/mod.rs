//! Volume and image filters. One file per kernel, each beside its WGSL twin in `shaders/filter/`.
//!
//! Every filter implements [`Filter`]: it writes its parameter validation, its CPU path
//! ([`Filter::cpu`]) and its GPU recording ([`Filter::record`]); the trait's provided methods do
//! the rest — backend dispatch, upload/download, 2D images, grids — the same way for every
//! kernel. Filters accept 2D `(y, x)` and 3D `(z, y, x)` `ndarray` views through [`Spatial`] and
//! [`crate::Volume`]s, on either [`crate::Backend`], and chain into a [`Pipeline`] that runs on
//! the GPU without downloads between steps.

/// Implements [`Filter`] for a type with `fn plan(&self, ndim) -> Result<Separable>` (the
/// separable filters of `correlate1d.rs`). Defined before the modules that use it.
macro_rules! separable_filter {
    ($ty:ty, $name:literal) => {
        separable_filter!($ty, $name, cpu);
    };
    // `$cpu`: the `Separable` method the CPU path calls (`cpu`, or `cpu_staged` for chains the
    // Gaussian's register kernels can run).
    ($ty:ty, $name:literal, $cpu:ident) => {
        impl $crate::filter::Filter for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn cpu(
                &self,
                input: ndarray::ArrayView3<'_, f32>,
                ndim: usize,
            ) -> $crate::error::Result<ndarray::Array3<f32>> {
                Ok(self.plan(ndim)?.$cpu(input))
            }

            fn record(
                &self,
                rec: &mut $crate::gpu::Recorder<'_>,
                input: &$crate::gpu::GpuVolume,
                ndim: usize,
            ) -> $crate::error::Result<$crate::gpu::GpuVolume> {
                self.plan(ndim)?.record(rec, input)
            }
        }
    };
}

pub mod bilateral;
pub mod correlate;
pub mod correlate1d;
pub mod derivative;
pub mod diffusion;
pub mod fill_holes;
pub mod gaussian;
pub mod intensity;
pub mod median;
pub mod mip_render;
pub mod morphology;
pub(crate) mod neighbourhood;
pub mod orthogonal;
pub mod pipeline;
pub(crate) mod pointwise;
pub mod projection;
pub mod resample;
pub(crate) mod rows;
pub mod uniform;
pub mod unsharp;

pub use bilateral::Bilateral;
pub use correlate::Correlate;
pub use correlate1d::Correlate1d;
pub use derivative::{
    GaussianGradientMagnitude, GaussianLaplace, GradientMagnitude, Laplace, Prewitt, Sobel, gaussian_kernel_1d,
};
pub use diffusion::AnisotropicDiffusion;
pub use fill_holes::FillHoles;
pub use gaussian::{Gaussian, gaussian_filter};
pub use intensity::{Clip, Rescale, Sigmoid, Threshold, VoiFunction, WindowLevel, WindowPreset, rescale};
pub use median::{Median, median_filter};
pub use mip_render::MipRender;
pub use morphology::{BinaryMorphology, Footprint, GreyMorphology, MorphOp};
pub use orthogonal::{OrthogonalView, orthogonal_projections};
pub use pipeline::Pipeline;
pub use projection::{Projection, ProjectionKind};
pub use resample::{Interpolation, Resample, ResampleWindow};
pub use uniform::Uniform;
pub use unsharp::UnsharpMask;

use std::fmt;

use ndarray::{Array, Array3, ArrayView, ArrayView3, ArrayViewMut, ArrayViewMut3, Axis, Dimension, Ix2, Ix3};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuVolume, KernelTime, Recorder};
use crate::volume::{Grid, Volume, check_shape};

/// The shape every filter shares.
///
/// A kernel implements the required methods — what is its own:
///
/// * [`Filter::cpu`]: validate the parameters for an `ndim`-D input and run the CPU path;
/// * [`Filter::record`]: validate, then record the GPU passes into a [`Recorder`] (asking it for
///   output volumes with [`Recorder::volume`]) without submitting, so that pipelines put many
///   kernels in one submission;
/// * [`Filter::output_shape`] / [`Filter::output_grid`], only if the output differs from the
///   input in shape or geometry (resampling, projections).
///
/// The provided methods give every filter the same public surface: [`Filter::apply`] (2D or 3D
/// arrays, any backend) and [`Filter::apply_into`] (into a caller's buffer),
/// [`Filter::apply_volume`] (keeps or updates the grid), [`Filter::apply_cpu`], and
/// [`Filter::apply_gpu`] / [`Filter::apply_gpu_timed`] on resident volumes.
///
/// `ndim` is the dimensionality the user gave (2 for a `(y, x)` image, which kernels see as a
/// one-slice volume; 3 otherwise): per-axis parameters and neighbourhoods follow it, so a 3×3
/// median of an image does not become a 3×3×3 one.
pub trait Filter: fmt::Debug + Send + Sync {
    /// Short name for messages (e.g. `"gaussian"`).
    fn name(&self) -> &'static str;

    /// CPU path on a volume; `ndim` as described on the trait.
    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>>;

    /// Records the GPU path into `rec` and returns the output volume (valid once `rec` is
    /// submitted). Must not modify `input`.
    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume>;

    /// CPU path into `output`, which has the output's shape (see [`Filter::apply_cpu_into`]).
    /// Default: [`Filter::cpu`], then a copy; pointwise filters write `output` directly.
    fn cpu_into(&self, input: ArrayView3<'_, f32>, ndim: usize, output: ArrayViewMut3<'_, f32>) -> Result<()> {
        let mut output = output;
        output.assign(&self.cpu(input, ndim)?);
        Ok(())
    }

    /// Output shape for an input of `shape` (default: the same).
    fn output_shape(&self, shape: [usize; 3], _ndim: usize) -> Result<[usize; 3]> {
        Ok(shape)
    }

    /// Output grid for an input on `grid` (default: the same).
    fn output_grid(&self, grid: &Grid, _shape: [usize; 3], _ndim: usize) -> Result<Grid> {
        Ok(*grid)
    }

    /// Filters a 2D `(y, x)` or 3D `(z, y, x)` array on `backend`.
    fn apply<D: Spatial>(&self, backend: &Backend, input: ArrayView<'_, f32, D>) -> Result<Array<f32, D>>
    where
        Self: Sized,
    {
        check_shape(input.shape())?;
        let volume = D::as_volume(input);
        let out = match backend {
            Backend::Cpu => self.cpu(volume, D::RANK)?,
            Backend::Gpu(ctx) => round_trip(self, ctx, volume, D::RANK)?,
        };
        D::from_volume(out)
    }

    /// [`Filter::apply`] into a buffer the caller owns (numpy's `out=`), 2D or 3D, any layout:
    /// on the CPU the filter writes it directly where it can (see [`Filter::apply_cpu_into`]),
    /// on a GPU the result is downloaded into it. `output` must have the output's shape.
    fn apply_into<D: Spatial>(
        &self,
        backend: &Backend,
        input: ArrayView<'_, f32, D>,
        output: ArrayViewMut<'_, f32, D>,
    ) -> Result<()>
    where
        Self: Sized,
    {
        check_shape(input.shape())?;
        let volume = D::as_volume(input);
        let mut output = D::as_volume_mut(output);
        check_output(self, volume.shape(), output.shape(), D::RANK)?;
        match backend {
            Backend::Cpu => self.cpu_into(volume, D::RANK, output),
            Backend::Gpu(ctx) => {
                output.assign(&round_trip(self, ctx, volume, D::RANK)?);
                Ok(())
            }
        }
    }

    /// Filters a [`Volume`], returning the result on its (possibly updated) grid.
    fn apply_volume(&self, backend: &Backend, volume: &Volume) -> Result<Volume>
    where
        Self: Sized,
    {
        let grid = self.output_grid(volume.grid(), volume.shape(), 3)?;
        let data = self.apply(backend, volume.data())?;
        Volume::new(data, grid)
    }

    /// CPU path on a 3D array (the reference the GPU path is tested against).
    fn apply_cpu(&self, input: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        check_shape(input.shape())?;
        self.cpu(input, 3)
    }

    /// [`Filter::apply_cpu`] into a buffer the caller owns, numpy's `out=`: the way to filter
    /// many volumes through one buffer. A fresh output is zeroed page by page by the OS on first
    /// touch, which for a memory-bound filter (window, clip, rescale…) costs about as much as the
    /// filter itself; a buffer already touched skips that. `output` must have the shape
    /// [`Filter::output_shape`] gives.
    fn apply_cpu_into(&self, input: ArrayView3<'_, f32>, output: ArrayViewMut3<'_, f32>) -> Result<()> {
        check_shape(input.shape())?;
        check_output(self, input.shape(), output.shape(), 3)?;
        self.cpu_into(input, 3, output)
    }

    /// GPU path on a resident volume; the result stays on the GPU for further kernels.
    fn apply_gpu(&self, ctx: &GpuContext, input: &GpuVolume) -> Result<GpuVolume> {
        Ok(self.apply_gpu_timed(ctx, input)?.0)
    }

    /// Like [`Filter::apply_gpu`], also returning the GPU time of the kernel's passes.
    fn apply_gpu_timed(&self, ctx: &GpuContext, input: &GpuVolume) -> Result<(GpuVolume, KernelTime)> {
        input.check_context(ctx)?;
        let mut rec = Recorder::new(ctx);
        let out = self.record(&mut rec, input, 3)?;
        let time = rec.submit()?;
        Ok((out, time))
    }
}

/// Checks a caller's output buffer (`output`, volume-shaped) against what `filter` makes of an
/// input of volume shape `input` given as an `ndim`-D array; shapes are named as the caller
/// gave them.
fn check_output<F: Filter + ?Sized>(filter: &F, input: &[usize], output: &[usize], ndim: usize) -> Result<()> {
    let want = filter.output_shape([input[0], input[1], input[2]], ndim)?;
    if output != want {
        return Err(Error::InvalidShape(format!(
            "output of shape {:?} for a {} output of shape {:?}",
            &output[3 - ndim..],
            filter.name(),
            &want[3 - ndim..]
        )));
    }
    Ok(())
}

/// Uploads `volume`, runs `filter`'s GPU path on it in one submission and downloads the result.
fn round_trip<F: Filter + ?Sized>(
    filter: &F,
    ctx: &GpuContext,
    volume: ArrayView3<'_, f32>,
    ndim: usize,
) -> Result<Array3<f32>> {
    let resident = GpuVolume::upload(ctx, volume)?;
    let mut rec = Recorder::new(ctx);
    let out = filter.record(&mut rec, &resident, ndim)?;
    rec.submit()?;
    out.download(ctx)
}

/// Checks the `ndim` a filter was given (2 or 3).
pub(crate) fn check_ndim(ndim: usize) -> Result<()> {
    if ndim == 2 || ndim == 3 {
        Ok(())
    } else {
        Err(Error::InvalidShape(format!(
            "filters take 2D (y, x) or 3D (z, y, x) data, not {ndim}-D"
        )))
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for ndarray::Ix2 {}
    impl Sealed for ndarray::Ix3 {}
}

/// Array dimensionalities the filters accept: 2D images `(y, x)` and 3D volumes `(z, y, x)`.
/// Internally a 2D image is a one-slice volume.
pub trait Spatial: Dimension + sealed::Sealed {
    /// Number of axes (2 or 3).
    const RANK: usize;
    /// Views the array as a volume (2D gains a leading axis of length 1).
    fn as_volume<'a>(view: ArrayView<'a, f32, Self>) -> ArrayView3<'a, f32>;
    /// Views a mutable array as a volume, as [`Spatial::as_volume`].
    fn as_volume_mut<'a>(view: ArrayViewMut<'a, f32, Self>) -> ArrayViewMut3<'a, f32>;
    /// Turns a volume produced from [`Spatial::as_volume`] back into this dimensionality.
    fn from_volume(volume: Array3<f32>) -> Result<Array<f32, Self>>;
}

impl Spatial for Ix2 {
    const RANK: usize = 2;
    fn as_volume<'a>(view: ArrayView<'a, f32, Ix2>) -> ArrayView3<'a, f32> {
        crate::volume::image_as_volume(view)
    }
    fn as_volume_mut<'a>(view: ArrayViewMut<'a, f32, Ix2>) -> ArrayViewMut3<'a, f32> {
        view.insert_axis(Axis(0))
    }
    fn from_volume(volume: Array3<f32>) -> Result<Array<f32, Ix2>> {
        if volume.shape()[0] != 1 {
            return Err(Error::InvalidShape("expected a one-slice volume".into()));
        }
        Ok(volume.index_axis_move(Axis(0), 0))
    }
}

impl Spatial for Ix3 {
    const RANK: usize = 3;
    fn as_volume<'a>(view: ArrayView<'a, f32, Ix3>) -> ArrayView3<'a, f32> {
        view
    }
    fn as_volume_mut<'a>(view: ArrayViewMut<'a, f32, Ix3>) -> ArrayViewMut3<'a, f32> {
        view
    }
    fn from_volume(volume: Array3<f32>) -> Result<Array<f32, Ix3>> {
        Ok(volume)
    }
}

/// Expands a per-axis parameter given as one value (all axes) or one per axis of an `ndim`-D
/// array into `(z, y, x)` order, using `fill` for the axis a 2D image lacks.
pub(crate) fn per_axis(name: &'static str, values: &[f64], ndim: usize, fill: f64) -> Result<[f64; 3]> {
    let v: Vec<f64> = match values.len() {
        1 => vec![values[0]; ndim],
        n if n == ndim => values.to_vec(),
        n => {
            return Err(Error::param(
                name,
                format!("got {n} values for a {ndim}-D array; give one value or {ndim}"),
            ));
        }
    };
    let mut out = [fill; 3];
    out[3 - ndim..].copy_from_slice(&v);
    Ok(out)
}

//! Projector pairs as operators: a forward projection `A` (volume → projections) and its exact
//! transpose `Aᵀ`, on the CPU and recorded on the GPU, behind one trait. The iterative methods,
//! the Python bindings and the benchmark harness take a [`Projector`] (or its
//! [`ProjectorKind`] by name) and never name a particular one, so a new pair is one module plus
//! its shaders and one entry in [`ProjectorKind`]:
//!
//! * [`Joseph`] — ray-driven, interpolating along each ray (the default);
//! * [`VoxelDriven`] — voxel-driven ("pixel-driven"): each voxel centre is projected onto the
//!   detector and splatted into its neighbouring pixels with (bi)linear weights; its transpose is
//!   the interpolating voxel-driven back-projection;
//! * [`SeparableFootprint`] — separable footprints (SF-TR): each voxel a box whose shadow, a
//!   trapezoid across the columns times a rectangle along the rows, is integrated over every
//!   pixel it covers; the pair for voxels coarser than the detector's sampling.
//!
//! Every pair satisfies `⟨A x, y⟩ = ⟨x, Aᵀ y⟩` to rounding; `tests/projectors.rs` checks it for
//! every kind on both backends.

use std::fmt::Debug;
use std::sync::Arc;

use ndarray::{Array3, ArrayView3};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuProjections, GpuVolume, Recorder};
use crate::recon::{Geometry, Joseph, SeparableFootprint, VoxelDriven};
use crate::volume::Grid;

/// A matched projector pair for one geometry and one volume shape and grid.
pub trait Projector: Debug + Send + Sync {
    /// The pair's name, as [`ProjectorKind::name`].
    fn kind(&self) -> ProjectorKind;

    /// What the pair was built for: geometry, volume `[nz, ny, nx]` and grid.
    fn parts(&self) -> (&Geometry, [usize; 3], &Grid);

    /// The acquisition geometry.
    fn geometry(&self) -> &Geometry {
        self.parts().0
    }

    /// The volume `[nz, ny, nx]`.
    fn volume_shape(&self) -> [usize; 3] {
        self.parts().1
    }

    /// The volume's grid.
    fn grid(&self) -> &Grid {
        self.parts().2
    }

    /// The projections `[views, rows, cols]`.
    fn projection_shape(&self) -> [usize; 3] {
        let g = self.geometry();
        [g.views.len(), g.rows, g.cols]
    }

    /// `A x` on the CPU.
    fn forward_cpu(&self, volume: ArrayView3<'_, f32>) -> Result<Array3<f32>>;

    /// `Aᵀ y` on the CPU.
    fn backward_cpu(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>>;

    /// Records `out += A volume` (resident to resident); the caller submits.
    fn record_forward(&self, rec: &mut Recorder<'_>, volume: &GpuVolume, out: &GpuProjections) -> Result<()>;

    /// Records `out += Aᵀ projections`; the caller submits.
    fn record_backward(&self, rec: &mut Recorder<'_>, projections: &GpuProjections, out: &GpuVolume) -> Result<()>;

    /// The same pair restricted to `views` of the geometry, in that order (ordered subsets).
    fn restrict(&self, views: &[usize]) -> Result<Arc<dyn Projector>> {
        let g = self.geometry();
        let mut sub = g.clone();
        sub.views = views
            .iter()
            .map(|&v| {
                g.views
                    .get(v)
                    .copied()
                    .ok_or_else(|| Error::param("views", format!("view {v} of {}", g.views.len())))
            })
            .collect::<Result<_>>()?;
        self.kind().build(&sub, self.volume_shape(), self.grid())
    }

    /// `A x` on the GPU, resident to resident, in one submission.
    fn forward_gpu(&self, ctx: &GpuContext, volume: &GpuVolume) -> Result<GpuProjections> {
        let out = GpuProjections::zeros(ctx, self.projection_shape())?;
        let mut rec = Recorder::new(ctx);
        self.record_forward(&mut rec, volume, &out)?;
        rec.submit()?;
        Ok(out)
    }

    /// `Aᵀ y` on the GPU, resident to resident, in one submission.
    fn backward_gpu(&self, ctx: &GpuContext, projections: &GpuProjections) -> Result<GpuVolume> {
        let out = GpuVolume::zeros(ctx, self.volume_shape())?;
        let mut rec = Recorder::new(ctx);
        self.record_backward(&mut rec, projections, &out)?;
        rec.submit()?;
        Ok(out)
    }
}

/// Every projector pair of the library: the one place a new pair is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProjectorKind {
    /// [`Joseph`]: ray-driven, interpolating along each ray.
    #[default]
    Joseph,
    /// [`VoxelDriven`]: voxel-driven splatting and its interpolating transpose.
    VoxelDriven,
    /// [`SeparableFootprint`]: trapezoid × rectangle footprints over the pixels each voxel
    /// shadows, and their gather.
    SeparableFootprint,
}

impl ProjectorKind {
    /// Every kind, for tests, the harness and error messages.
    pub const ALL: [ProjectorKind; 3] = [
        ProjectorKind::Joseph,
        ProjectorKind::VoxelDriven,
        ProjectorKind::SeparableFootprint,
    ];

    /// The name used by Python (`projector="joseph"`) and the harness.
    pub fn name(self) -> &'static str {
        match self {
            ProjectorKind::Joseph => "joseph",
            ProjectorKind::VoxelDriven => "voxel_driven",
            ProjectorKind::SeparableFootprint => "separable_footprint",
        }
    }

    /// The kind called `name` (see [`ProjectorKind::name`]).
    pub fn from_name(name: &str) -> Result<ProjectorKind> {
        Self::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
            Error::param("projector", format!("{name:?}: use one of {}", names.join(", ")))
        })
    }

    /// The pair for `geometry` and a `shape = [nz, ny, nx]` volume on `grid`.
    pub fn build(self, geometry: &Geometry, shape: [usize; 3], grid: &Grid) -> Result<Arc<dyn Projector>> {
        Ok(match self {
            ProjectorKind::Joseph => Arc::new(Joseph::new(geometry, shape, grid)?),
            ProjectorKind::VoxelDriven => Arc::new(VoxelDriven::new(geometry, shape, grid)?),
            ProjectorKind::SeparableFootprint => Arc::new(SeparableFootprint::new(geometry, shape, grid)?),
        })
    }
}

/// The most values a projector's volume or projection stack may hold: 2^34 (64 GiB of f32), as
/// FDK's volumes. Larger requests are refused up front: an allocation that fails aborts the
/// process rather than returning an error.
const MAX_VALUES: usize = 1 << 34;

/// Refuses volumes and projection stacks above [`MAX_VALUES`] (or whose size overflows).
pub(crate) fn check_sizes(geometry: &Geometry, shape: [usize; 3]) -> Result<()> {
    let voxels = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    let values = geometry
        .views
        .len()
        .checked_mul(geometry.rows)
        .and_then(|n| n.checked_mul(geometry.cols));
    for (what, count) in [("volume", voxels), ("projection stack", values)] {
        if count.is_none_or(|n| n > MAX_VALUES) {
            return Err(Error::TooLarge(format!(
                "a {what} of {} values (volume {shape:?}, {} views of {}×{}): at most 2^34",
                count.map_or("more than 2^64".to_string(), |n| n.to_string()),
                geometry.views.len(),
                geometry.rows,
                geometry.cols
            )));
        }
    }
    Ok(())
}

/// Shape checks shared by the pairs.
pub(crate) fn check_volume(volume: [usize; 3], expected: [usize; 3]) -> Result<()> {
    if volume != expected {
        return Err(Error::InvalidShape(format!(
            "volume {volume:?} does not match the projector's {expected:?}"
        )));
    }
    Ok(())
}

/// Shape checks shared by the pairs.
pub(crate) fn check_projections(projections: [usize; 3], geometry: &Geometry) -> Result<()> {
    let g = geometry;
    if projections != [g.views.len(), g.rows, g.cols] {
        return Err(Error::InvalidShape(format!(
            "projections {projections:?} do not match the geometry's {} views × {} rows × {} columns",
            g.views.len(),
            g.rows,
            g.cols
        )));
    }
    Ok(())
}

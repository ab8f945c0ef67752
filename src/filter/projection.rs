//! Intensity projections along an axis: maximum (MIP), minimum (MinIP) and mean, as
//! `numpy.nanmax` / `nanmin` / `nanmean(volume, axis, keepdims=True)`: NaN voxels are ignored and
//! a line of NaN only projects to NaN. The output keeps the projected axis with length 1 (a
//! `(1, y, x)` volume for a projection along z); its grid keeps the origin and spacing.
//!
//! GPU: one thread per output voxel walks its line. Along y and x each output slab reads the
//! same input slab; along z one output slice reads the whole volume, which the runtime binds in
//! chunks when it exceeds a storage binding, the kernel carrying the running value over.

use ndarray::{Array3, ArrayView3, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::filter::correlate1d::volume_axis;
use crate::filter::{Filter, check_ndim};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_mapped_slab, wgsl};

static KERNEL: KernelSpec = KernelSpec {
    name: "filter/projection",
    sources: &[
        wgsl::FLOAT,
        wgsl::TILE,
        include_str!("../../shaders/filter/projection.wgsl"),
    ],
    entry: "project",
};

/// What a projection keeps of each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectionKind {
    /// Maximum intensity projection (MIP).
    Max,
    /// Minimum intensity projection (MinIP).
    Min,
    /// Mean (average) intensity projection.
    Mean,
}

/// A projection along one axis of the array as given (0 = z for volumes).
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::{Projection, ProjectionKind};
/// let vol = ndarray::Array3::from_shape_fn((4, 2, 3), |(z, y, x)| (z * 10 + y + x) as f32);
/// let mip = Projection::new(ProjectionKind::Max, 0).apply(&Backend::Cpu, vol.view())?;
/// assert_eq!(mip.dim(), (1, 2, 3));
/// assert_eq!(mip[[0, 1, 2]], 33.0);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    kind: ProjectionKind,
    axis: usize,
}

impl Projection {
    /// `kind` along `axis`.
    pub fn new(kind: ProjectionKind, axis: usize) -> Self {
        Projection { kind, axis }
    }

    /// Maximum intensity projection along `axis`.
    pub fn max(axis: usize) -> Self {
        Projection::new(ProjectionKind::Max, axis)
    }
}

impl Filter for Projection {
    fn name(&self) -> &'static str {
        "projection"
    }

    fn output_shape(&self, shape: [usize; 3], ndim: usize) -> Result<[usize; 3]> {
        check_ndim(ndim)?;
        let mut out = shape;
        out[volume_axis(self.axis, ndim)?] = 1;
        Ok(out)
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let shape = self.output_shape([input.shape()[0], input.shape()[1], input.shape()[2]], ndim)?;
        let axis = volume_axis(self.axis, ndim)?;
        let kind = self.kind;
        // Fold slices along the axis with the running (value, count) per output voxel.
        let lanes = input.lanes(Axis(axis));
        let mut out = Array3::<f32>::zeros(shape);
        let values: Vec<f32> = lanes
            .into_iter()
            .collect::<Vec<_>>()
            .par_iter()
            .map(|lane| {
                let (mut acc, mut n) = (0.0f32, 0u32);
                for &v in lane.iter() {
                    if v.is_nan() {
                        continue;
                    }
                    acc = if n == 0 {
                        v
                    } else {
                        match kind {
                            ProjectionKind::Max => acc.max(v),
                            ProjectionKind::Min => acc.min(v),
                            ProjectionKind::Mean => acc + v,
                        }
                    };
                    n += 1;
                }
                match (n, kind) {
                    (0, _) => f32::NAN,
                    (n, ProjectionKind::Mean) => acc / n as f32,
                    _ => acc,
                }
            })
            .collect();
        out.iter_mut().zip(values).for_each(|(o, v)| *o = v);
        Ok(out)
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let shape = self.output_shape(input.shape(), ndim)?;
        let axis = volume_axis(self.axis, ndim)?;
        let output = rec.volume(shape)?;
        let slice = (shape[1] * shape[2]) as u64;
        let counts = rec.scratch(slice * 4 * if axis == 0 { 1 } else { 0 } + 4);
        let kind = match self.kind {
            ProjectionKind::Max => 0u32,
            ProjectionKind::Min => 1,
            ProjectionKind::Mean => 2,
        };
        let nz = input.shape()[0];
        for_each_mapped_slab(
            rec,
            input,
            &output,
            |z0, z1| if axis == 0 { (0, nz) } else { (z0, z1) },
            |rec, slab| {
                if axis != 0 && slab.chunks > 1 {
                    return Err(Error::TooLarge("a slice does not fit one storage binding".into()));
                }
                let params = rec.uniform(&[
                    kind,
                    axis as u32,
                    u32::from(slab.chunk == 0),
                    u32::from(slab.chunk + 1 == slab.chunks),
                ]);
                rec.dispatch_linear(
                    &KERNEL,
                    &[
                        BufferWindow::whole(&slab.mapping),
                        BufferWindow::whole(&params),
                        slab.input,
                        slab.output,
                        BufferWindow::whole(&counts),
                    ],
                    slab.items,
                )
            },
        )?;
        Ok(output)
    }
}

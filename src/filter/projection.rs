//! Intensity projections along an axis: maximum (MIP), minimum (MinIP) and mean, as
//! `numpy.nanmax` / `nanmin` / `nanmean(volume, axis, keepdims=True)`: NaN voxels are ignored and
//! a line of NaN only projects to NaN. The output keeps the projected axis with length 1 (a
//! `(1, y, x)` volume for a projection along z); its grid keeps the origin and spacing.
//!
//! GPU: one thread per output voxel walks its line. Along y and x each output slab reads the
//! same input slab; along z one output slice reads the whole volume, which the runtime binds in
//! chunks when it exceeds a storage binding, the kernel carrying the running value over.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::filter::correlate1d::volume_axis;
use crate::filter::{Filter, check_ndim};
use crate::gpu::{Binding, MAPPING, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_mapped_slab, wgsl};

pub(crate) static KERNEL: KernelSpec = KernelSpec {
    name: "filter/projection",
    sources: &[
        wgsl::FLOAT,
        wgsl::TILE,
        include_str!("../../shaders/filter/projection.wgsl"),
    ],
    entry: "project",
    bindings: &[
        MAPPING,
        uniform::<[u32; 4]>(),
        Binding::Read,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    constants: &[],
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
        let dims = [input.shape()[0], input.shape()[1], input.shape()[2]];
        let input = input.as_standard_layout();
        let src = input.as_slice().expect("standard layout");
        // View the volume as (outer, len, inner) and reduce over len, so that the inner loop
        // always runs over contiguous memory (whole slices for a projection along z).
        let len = dims[axis];
        let inner: usize = dims[axis + 1..].iter().product();
        let mut out = vec![0.0f32; src.len() / len];
        const BLOCK: usize = 16384;
        // Blocks of at most BLOCK outputs that never straddle two `outer` rows.
        let blocks = out.par_chunks_mut(inner).enumerate().flat_map(|(outer, row)| {
            row.par_chunks_mut(BLOCK)
                .enumerate()
                .map(move |(b, ch)| (outer, b * BLOCK, ch))
        });
        blocks.for_each(|(outer, i0, chunk)| {
            let m = chunk.len();
            // The running value starts as NaN: f32::max/min return the non-NaN operand, so
            // NaN voxels are skipped and an all-NaN line stays NaN, with no branch per voxel.
            chunk.fill(f32::NAN);
            let (mut sum, mut count) = (vec![0.0f32; m], vec![0.0f32; m]);
            for k in 0..len {
                let line: &[f32] = if inner == 1 {
                    &src[outer * len + k..outer * len + k + 1]
                } else {
                    let start = (outer * len + k) * inner + i0;
                    &src[start..start + m]
                };
                match kind {
                    ProjectionKind::Max => chunk.iter_mut().zip(line).for_each(|(a, &v)| *a = a.max(v)),
                    ProjectionKind::Min => chunk.iter_mut().zip(line).for_each(|(a, &v)| *a = a.min(v)),
                    ProjectionKind::Mean => {
                        for ((s, n), &v) in sum.iter_mut().zip(count.iter_mut()).zip(line) {
                            let ok = !v.is_nan();
                            *s += if ok { v } else { 0.0 };
                            *n += if ok { 1.0 } else { 0.0 };
                        }
                    }
                }
            }
            if kind == ProjectionKind::Mean {
                for ((a, &s), &n) in chunk.iter_mut().zip(&sum).zip(&count) {
                    *a = if n == 0.0 { f32::NAN } else { s / n };
                }
            }
        });
        let out = Array3::from_shape_vec(shape, out).expect("shape matches length");
        Ok(out)
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let shape = self.output_shape(input.shape(), ndim)?;
        let axis = volume_axis(self.axis, ndim)?;
        rec.check_loop_budget(
            &format!("a projection along an axis of {} voxels", input.shape()[axis]),
            input.shape()[axis] as u64 + 16,
        )?;
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

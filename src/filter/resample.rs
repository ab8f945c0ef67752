//! Resampling to a new shape or spacing with nearest or (tri)linear interpolation, keeping the
//! physical position of the first voxel and updating the grid.
//!
//! * [`Resample::to_shape`]: `scipy.ndimage.zoom(input, out/in, order, grid_mode=False)` — the
//!   first and last voxels of each axis keep their positions (corners aligned), so the spacing
//!   becomes `spacing · (n_in - 1) / (n_out - 1)`;
//! * [`Resample::to_spacing`]: a new spacing in mm (e.g. isotropic voxels), `n_out =
//!   round(n_in · spacing_in / spacing_out)`, output voxel `o` at input coordinate
//!   `o · spacing_out / spacing_in`; samples past the last voxel repeat it.
//!
//! Coordinates are computed in f32 on both backends, so nearest-neighbour results agree exactly.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::filter::{Filter, check_ndim, per_axis};
use crate::gpu::{Binding, MAPPING, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_mapped_slab, wgsl};
use crate::volume::Grid;

/// Twin of `Params` in `resample.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ResampleParams {
    scale: [f32; 4],
    linear: u32,
    _pad: [u32; 3],
}

pub(crate) static KERNEL: KernelSpec = KernelSpec {
    name: "filter/resample",
    sources: &[wgsl::TILE, include_str!("../../shaders/filter/resample.wgsl")],
    entry: "resample",
    bindings: &[MAPPING, uniform::<ResampleParams>(), Binding::Read, Binding::ReadWrite],
    constants: &[],
};

/// Largest output axis accepted.
pub const MAX_AXIS: usize = 1 << 16;

/// Interpolation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// Nearest neighbour (`order=0`): labels and masks stay labels.
    Nearest,
    /// Linear along each axis, trilinear in 3D (`order=1`).
    #[default]
    Linear,
}

#[derive(Debug, Clone, PartialEq)]
enum Target {
    Shape(Vec<usize>),
    Spacing { from: [f64; 3], to: Vec<f64> },
}

/// Resampling to a new shape or spacing.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::Resample;
/// let grid = Grid::with_spacing([3.0, 0.75, 0.75])?;
/// let vol = Volume::new(ndarray::Array3::<f32>::zeros((10, 64, 64)), grid)?;
/// let iso = Resample::to_spacing(vol.grid(), &[1.5]).apply_volume(&Backend::Cpu, &vol)?;
/// assert_eq!(iso.shape(), [20, 32, 32]);
/// assert_eq!(iso.grid().spacing, [1.5, 1.5, 1.5]);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Resample {
    target: Target,
    interpolation: Interpolation,
}

/// Per volume axis: output length and the input coordinate step per output voxel.
struct Plan {
    shape: [usize; 3],
    scale: [f32; 3],
}

impl Resample {
    /// To `shape` (one per axis of the array as given), corners aligned (scipy `zoom`).
    pub fn to_shape(shape: &[usize]) -> Self {
        Resample {
            target: Target::Shape(shape.to_vec()),
            interpolation: Interpolation::default(),
        }
    }

    /// From the spacing of `grid` to `spacing` mm (one value, or one per axis of the array).
    pub fn to_spacing(grid: &Grid, spacing: &[f64]) -> Self {
        Resample {
            target: Target::Spacing {
                from: grid.spacing,
                to: spacing.to_vec(),
            },
            interpolation: Interpolation::default(),
        }
    }

    /// Interpolation (default linear).
    pub fn interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    fn plan(&self, input: [usize; 3], ndim: usize) -> Result<Plan> {
        check_ndim(ndim)?;
        let mut shape = input;
        let mut scale = [1.0f32; 3];
        match &self.target {
            Target::Shape(s) => {
                if s.len() != ndim {
                    return Err(Error::param(
                        "shape",
                        format!("got {} lengths for a {ndim}-D array", s.len()),
                    ));
                }
                for (k, &n) in s.iter().enumerate() {
                    let a = k + 3 - ndim;
                    if n == 0 || n > MAX_AXIS {
                        return Err(Error::param("shape", format!("length {n}: give 1 to {MAX_AXIS}")));
                    }
                    shape[a] = n;
                    scale[a] = if n > 1 {
                        ((input[a] - 1) as f64 / (n - 1) as f64) as f32
                    } else {
                        0.0
                    };
                }
            }
            Target::Spacing { from, to } => {
                let to = per_axis("spacing", to, ndim, 1.0)?;
                for a in 3 - ndim..3 {
                    if !(to[a].is_finite() && to[a] > 0.0 && from[a].is_finite() && from[a] > 0.0) {
                        return Err(Error::param(
                            "spacing",
                            format!("spacing {} mm → {} mm must be positive and finite", from[a], to[a]),
                        ));
                    }
                    let n = (input[a] as f64 * from[a] / to[a]).round().max(1.0);
                    if n > MAX_AXIS as f64 {
                        return Err(Error::param(
                            "spacing",
                            format!("{} mm would make {n} voxels along axis {a}; at most {MAX_AXIS}", to[a]),
                        ));
                    }
                    shape[a] = n as usize;
                    scale[a] = (to[a] / from[a]) as f32;
                }
            }
        }
        Ok(Plan { shape, scale })
    }
}

/// Input index and weight of the upper neighbour for output index `o` (linear), or the nearest.
#[inline]
fn coordinate(o: usize, scale: f32, n: usize) -> f32 {
    (o as f32 * scale).clamp(0.0, (n - 1) as f32)
}

impl Filter for Resample {
    fn name(&self) -> &'static str {
        "resample"
    }

    fn output_shape(&self, shape: [usize; 3], ndim: usize) -> Result<[usize; 3]> {
        Ok(self.plan(shape, ndim)?.shape)
    }

    fn output_grid(&self, grid: &Grid, shape: [usize; 3], ndim: usize) -> Result<Grid> {
        let plan = self.plan(shape, ndim)?;
        let mut out = *grid;
        for (a, spacing) in out.spacing.iter_mut().enumerate() {
            if plan.shape[a] > 1 && shape[a] > 1 {
                *spacing = grid.spacing[a] * f64::from(plan.scale[a]);
            }
        }
        if let Target::Spacing { to, .. } = &self.target {
            let to = per_axis("spacing", to, ndim, 1.0)?;
            out.spacing[3 - ndim..].copy_from_slice(&to[3 - ndim..]);
        }
        out.validate()?;
        Ok(out)
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let in_shape = [input.shape()[0], input.shape()[1], input.shape()[2]];
        let plan = self.plan(in_shape, ndim)?;
        let input = input.as_standard_layout();
        let src = input.as_slice().expect("standard layout is contiguous");
        let [nz, ny, nx] = in_shape;
        let [oz, oy, ox] = plan.shape;
        let linear = self.interpolation == Interpolation::Linear;
        // Per output x: lower index, upper index, weight (linear) or nearest index.
        let xs: Vec<(usize, usize, f32)> = (0..ox)
            .map(|o| {
                let c = coordinate(o, plan.scale[2], nx);
                let x0 = c as usize;
                (x0, (x0 + 1).min(nx - 1), c - x0 as f32)
            })
            .collect();
        let mut out = crate::memory::zeroed_f32(oz * oy * ox);
        out.par_chunks_mut(ox).enumerate().for_each_init(
            || vec![0.0f32; nx],
            |blend, (r, dst)| {
                let (z, y) = (r / oy, r % oy);
                let cz = coordinate(z, plan.scale[0], nz);
                let cy = coordinate(y, plan.scale[1], ny);
                let row = |z: usize, y: usize| &src[(z * ny + y) * nx..(z * ny + y + 1) * nx];
                if !linear {
                    let s = row((cz + 0.5).floor() as usize, (cy + 0.5).floor() as usize);
                    for (o, d) in dst.iter_mut().enumerate() {
                        *d = s[(coordinate(o, plan.scale[2], nx) + 0.5).floor() as usize];
                    }
                    return;
                }
                let (z0, y0) = (cz as usize, cy as usize);
                let (z1, y1) = ((z0 + 1).min(nz - 1), (y0 + 1).min(ny - 1));
                let (wz, wy) = (cz - z0 as f32, cy - y0 as f32);
                let (a, b, c, d) = ((1.0 - wz) * (1.0 - wy), (1.0 - wz) * wy, wz * (1.0 - wy), wz * wy);
                let (r00, r01, r10, r11) = (row(z0, y0), row(z0, y1), row(z1, y0), row(z1, y1));
                for x in 0..nx {
                    blend[x] = a * r00[x] + b * r01[x] + c * r10[x] + d * r11[x];
                }
                for (dst, &(x0, x1, wx)) in dst.iter_mut().zip(&xs) {
                    *dst = (1.0 - wx) * blend[x0] + wx * blend[x1];
                }
            },
        );
        Ok(Array3::from_shape_vec(plan.shape, out).expect("shape matches length"))
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let plan = self.plan(input.shape(), ndim)?;
        let output = rec.volume(plan.shape)?;
        let nz = input.shape()[0];
        let sz = plan.scale[0];
        let params = rec.uniform(&ResampleParams {
            scale: [plan.scale[0], plan.scale[1], plan.scale[2], 0.0],
            linear: u32::from(self.interpolation == Interpolation::Linear),
            _pad: [0; 3],
        });
        for_each_mapped_slab(
            rec,
            input,
            &output,
            |z0, z1| {
                let lo = coordinate(z0, sz, nz).floor() as usize;
                let hi = coordinate(z1 - 1, sz, nz).ceil() as usize + 2;
                (lo, hi.min(nz))
            },
            |rec, slab| {
                if slab.chunks > 1 {
                    return Err(Error::TooLarge(
                        "an output slice needs more input than a binding holds".into(),
                    ));
                }
                rec.dispatch_linear(
                    &KERNEL,
                    &[
                        BufferWindow::whole(&slab.mapping),
                        BufferWindow::whole(&params),
                        slab.input,
                        slab.output,
                    ],
                    slab.items,
                )
            },
        )?;
        Ok(output)
    }
}

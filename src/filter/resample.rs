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
    out_start: [u32; 4],
    last: [f32; 4],
    in_start: [f32; 4],
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
    window: Option<ResampleWindow>,
}

/// One block of a larger [`Resample::to_shape`]: the output voxels `output_start ..
/// output_start + output_shape` of resampling a `input_shape` array, computed from the input
/// block that starts at `input_start` (the array the filter is given). Every coordinate is the
/// one the whole call computes, shifted by an integer (exact in f32), so blocks reassemble the
/// whole result exactly on the CPU (Dask chunks, out-of-core volumes). The input block must hold
/// every voxel its outputs interpolate from; otherwise the filter says which axis falls short.
#[derive(Debug, Clone, PartialEq)]
pub struct ResampleWindow {
    /// Shape of the whole input (one length per axis of the array).
    pub input_shape: Vec<usize>,
    /// Where the input block starts in the whole input.
    pub input_start: Vec<usize>,
    /// Where the output block starts in the whole output.
    pub output_start: Vec<usize>,
    /// Shape of the output block.
    pub output_shape: Vec<usize>,
}

/// Per volume axis: output length, the input coordinate step per output voxel, and for a
/// window the whole call's first output index, last input coordinate and the block's start.
struct Plan {
    shape: [usize; 3],
    scale: [f32; 3],
    out_start: [usize; 3],
    last: [f32; 3],
    in_start: [usize; 3],
}

impl Plan {
    /// The input coordinate (in the block) sampled by output index `o` (in the block) on `axis`:
    /// the whole call's clamped coordinate, shifted by the block's integer start (exact).
    #[inline]
    fn coordinate(&self, axis: usize, o: usize) -> f32 {
        ((o + self.out_start[axis]) as f32 * self.scale[axis]).clamp(0.0, self.last[axis]) - self.in_start[axis] as f32
    }
}

impl Resample {
    /// To `shape` (one per axis of the array as given), corners aligned (scipy `zoom`).
    pub fn to_shape(shape: &[usize]) -> Self {
        Resample {
            target: Target::Shape(shape.to_vec()),
            interpolation: Interpolation::default(),
            window: None,
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
            window: None,
        }
    }

    /// Computes only `window`, one block of the whole [`Resample::to_shape`] (see
    /// [`ResampleWindow`]); the shape given to `to_shape` stays the whole output's.
    pub fn window(mut self, window: ResampleWindow) -> Self {
        self.window = Some(window);
        self
    }

    /// Interpolation (default linear).
    pub fn interpolation(mut self, interpolation: Interpolation) -> Self {
        self.interpolation = interpolation;
        self
    }

    fn plan(&self, block: [usize; 3], ndim: usize) -> Result<Plan> {
        check_ndim(ndim)?;
        let input = match &self.window {
            None => block,
            Some(w) => self.whole_input(w, block, ndim)?,
        };
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
        let mut plan = Plan {
            shape,
            scale,
            out_start: [0; 3],
            last: input.map(|n| (n - 1) as f32),
            in_start: [0; 3],
        };
        if let Some(w) = &self.window {
            self.place(&mut plan, w, block, ndim)?;
        }
        Ok(plan)
    }

    /// The whole input's shape of a window, checked against the block given.
    fn whole_input(&self, w: &ResampleWindow, block: [usize; 3], ndim: usize) -> Result<[usize; 3]> {
        if !matches!(self.target, Target::Shape(_)) {
            return Err(Error::param("window", "windows apply to Resample::to_shape only"));
        }
        for (name, v) in [
            ("input_shape", &w.input_shape),
            ("input_start", &w.input_start),
            ("output_start", &w.output_start),
            ("output_shape", &w.output_shape),
        ] {
            if v.len() != ndim {
                return Err(Error::param(
                    "window",
                    format!("{name} has {} values for {ndim} axes", v.len()),
                ));
            }
        }
        let mut whole = block;
        for k in 0..ndim {
            let a = k + 3 - ndim;
            whole[a] = w.input_shape[k];
            if w.input_start[k] + block[a] > whole[a] {
                return Err(Error::param(
                    "window",
                    format!(
                        "axis {k}: an input block of {} from {} overruns the whole input's {}",
                        block[a], w.input_start[k], whole[a]
                    ),
                ));
            }
        }
        Ok(whole)
    }

    /// Moves a whole call's plan onto one window and checks the block covers its outputs.
    fn place(&self, plan: &mut Plan, w: &ResampleWindow, block: [usize; 3], ndim: usize) -> Result<()> {
        for k in 0..ndim {
            let a = k + 3 - ndim;
            let (start, len) = (w.output_start[k], w.output_shape[k]);
            if len == 0 || start + len > plan.shape[a] {
                return Err(Error::param(
                    "window",
                    format!(
                        "axis {k}: output block {start}..{} is empty or beyond the whole output's {}",
                        start + len,
                        plan.shape[a]
                    ),
                ));
            }
            plan.shape[a] = len;
            plan.out_start[a] = start;
            plan.in_start[a] = w.input_start[k];
            // The first and last outputs bound every tap (coordinates grow with o).
            let low = plan.coordinate(a, 0);
            let high = plan.coordinate(a, len - 1);
            let needed_high = (high.floor() + 1.0).min(plan.last[a] - plan.in_start[a] as f32);
            if low < 0.0 || needed_high > (block[a] - 1) as f32 {
                return Err(Error::param(
                    "window",
                    format!(
                        "axis {k}: outputs {start}..{} read input {}..={} but the block holds {}..{}",
                        start + len,
                        (low + plan.in_start[a] as f32).floor(),
                        needed_high + plan.in_start[a] as f32,
                        plan.in_start[a],
                        plan.in_start[a] + block[a]
                    ),
                ));
            }
        }
        Ok(())
    }
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
                let c = plan.coordinate(2, o);
                let x0 = c as usize;
                (x0, (x0 + 1).min(nx - 1), c - x0 as f32)
            })
            .collect();
        let mut out = crate::memory::zeroed_f32(oz * oy * ox);
        out.par_chunks_mut(ox).enumerate().for_each_init(
            || vec![0.0f32; nx],
            |blend, (r, dst)| {
                let (z, y) = (r / oy, r % oy);
                let cz = plan.coordinate(0, z);
                let cy = plan.coordinate(1, y);
                let row = |z: usize, y: usize| &src[(z * ny + y) * nx..(z * ny + y + 1) * nx];
                if !linear {
                    let s = row((cz + 0.5).floor() as usize, (cy + 0.5).floor() as usize);
                    for (o, d) in dst.iter_mut().enumerate() {
                        *d = s[(plan.coordinate(2, o) + 0.5).floor() as usize];
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
        let params = rec.uniform(&ResampleParams {
            scale: [plan.scale[0], plan.scale[1], plan.scale[2], 0.0],
            linear: u32::from(self.interpolation == Interpolation::Linear),
            _pad: [0; 3],
            out_start: [
                plan.out_start[0] as u32,
                plan.out_start[1] as u32,
                plan.out_start[2] as u32,
                0,
            ],
            last: [plan.last[0], plan.last[1], plan.last[2], 0.0],
            in_start: [
                plan.in_start[0] as f32,
                plan.in_start[1] as f32,
                plan.in_start[2] as f32,
                0.0,
            ],
        });
        for_each_mapped_slab(
            rec,
            input,
            &output,
            |z0, z1| {
                let lo = plan.coordinate(0, z0).floor() as usize;
                let hi = plan.coordinate(0, z1 - 1).ceil() as usize + 2;
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

//! Rendered maximum intensity projection at any angle about the z (head–foot) axis, for
//! rotating-MIP views: parallel rays in each slice, bilinear samples every half output pixel.
//!
//! Geometry (array axes, physical mm): a ray of slice `z` runs along `(cos θ, sin θ)` in
//! `(x, y)`; θ = 0 looks along +x (the result is then the MIP along x), θ = 90° along +y. The
//! output row of slice `z` has `width = ceil(diagonal / pixel)` pixels along
//! `(-sin θ, cos θ)`, centred on the slice centre, `pixel = min(spacing_x, spacing_y)`, so every
//! angle fits. Rays that miss the slice give `background` (default NaN). NaN voxels win no
//! comparison. Output shape `(nz, 1, width)`, grid spacing `(sz, 1, pixel)`.
//! Samples lie in the slices, so trilinear sampling reduces to bilinear.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::gpu::{Binding, MAPPING, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_mapped_slab, wgsl};
use crate::volume::Grid;

pub(crate) static KERNEL: KernelSpec = KernelSpec {
    name: "filter/mip_render",
    sources: &[wgsl::TILE, include_str!("../../shaders/filter/mip_render.wgsl")],
    entry: "render",
    bindings: &[MAPPING, uniform::<Params>(), Binding::Read, Binding::ReadWrite],
    constants: &[],
};

/// Twin of `Params` in `mip_render.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    dir: [f32; 2],
    spacing: [f32; 2],
    centre: [f32; 2],
    pixel: f32,
    step: f32,
    samples: u32,
    background: f32,
    _pad: [u32; 2],
}

/// A rendered MIP view at `angle` degrees about z.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::MipRender;
/// let vol = ndarray::Array3::<f32>::zeros((4, 30, 40));
/// let view = MipRender::new(30.0).apply(&Backend::Cpu, vol.view())?;
/// assert_eq!(view.dim(), (4, 1, 50)); // ceil(hypot(40, 30))
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MipRender {
    angle_degrees: f64,
    spacing: [f64; 2],
    background: f32,
}

impl MipRender {
    /// The view at `angle_degrees` (unit in-plane spacing, background NaN).
    pub fn new(angle_degrees: f64) -> Self {
        MipRender {
            angle_degrees,
            spacing: [1.0, 1.0],
            background: f32::NAN,
        }
    }

    /// Uses the in-plane (y, x) spacing of a grid.
    pub fn for_grid(mut self, grid: &Grid) -> Self {
        self.spacing = [grid.spacing[1], grid.spacing[2]];
        self
    }

    /// Value of rays that miss the slice (default NaN; e.g. -1024 for air in HU).
    pub fn background(mut self, value: f32) -> Self {
        self.background = value;
        self
    }

    fn params(&self, shape: [usize; 3]) -> Result<(Params, usize)> {
        if !self.angle_degrees.is_finite() {
            return Err(Error::param(
                "angle",
                format!("angle {} must be finite", self.angle_degrees),
            ));
        }
        let [sy, sx] = self.spacing;
        if !(sy.is_finite() && sy > 0.0 && sx.is_finite() && sx > 0.0) {
            return Err(Error::param("spacing", "in-plane spacing must be positive and finite"));
        }
        let [_, ny, nx] = shape;
        let pixel = sx.min(sy);
        let diagonal = (nx as f64 * sx).hypot(ny as f64 * sy);
        let width = (diagonal / pixel).ceil().max(1.0) as usize;
        if width > 1 << 16 {
            return Err(Error::TooLarge(format!("a {width}-pixel wide rendering")));
        }
        let theta = self.angle_degrees.to_radians();
        Ok((
            Params {
                dir: [theta.cos() as f32, theta.sin() as f32],
                spacing: [sx as f32, sy as f32],
                centre: [((nx - 1) as f64 * 0.5 * sx) as f32, ((ny - 1) as f64 * 0.5 * sy) as f32],
                pixel: pixel as f32,
                step: (pixel * 0.5) as f32,
                samples: (2 * width + 1) as u32,
                background: self.background,
                _pad: [0; 2],
            },
            width,
        ))
    }
}

/// Tolerance, in voxels, for samples on the edge of a slice.
const EDGE: f32 = 1e-3;

/// One output pixel: the CPU twin of the WGSL loop, same f32 expressions.
fn render_pixel(p: &Params, slice: &[f32], nx: usize, ny: usize, k: usize, width: usize) -> f32 {
    let u = (k as f32 - (width as f32 - 1.0) * 0.5) * p.pixel;
    let e_u = [-p.dir[1], p.dir[0]];
    let half = (p.samples - 1) as f32 * 0.5;
    let mut best = p.background;
    let mut hit = false;
    for s in 0..p.samples {
        let t = (s as f32 - half) * p.step;
        let px = p.centre[0] + u * e_u[0] + t * p.dir[0];
        let py = p.centre[1] + u * e_u[1] + t * p.dir[1];
        let (fx, fy) = (px / p.spacing[0], py / p.spacing[1]);
        // Samples on the slice's edge count even when rounding puts them a hair outside.
        let (mx, my) = ((nx - 1) as f32, (ny - 1) as f32);
        if fx >= -EDGE && fy >= -EDGE && fx <= mx + EDGE && fy <= my + EDGE {
            let (fx, fy) = (fx.clamp(0.0, mx), fy.clamp(0.0, my));
            let (x0, y0) = (fx as usize, fy as usize);
            let (x1, y1) = ((x0 + 1).min(nx - 1), (y0 + 1).min(ny - 1));
            let (wx, wy) = (fx - x0 as f32, fy - y0 as f32);
            let at = |y: usize, x: usize| slice[y * nx + x];
            let top = (1.0 - wx) * at(y0, x0) + wx * at(y0, x1);
            let bottom = (1.0 - wx) * at(y1, x0) + wx * at(y1, x1);
            let v = (1.0 - wy) * top + wy * bottom;
            if !hit || v > best {
                best = v;
                hit = true;
            }
        }
    }
    best
}

impl Filter for MipRender {
    fn name(&self) -> &'static str {
        "mip_render"
    }

    fn output_shape(&self, shape: [usize; 3], ndim: usize) -> Result<[usize; 3]> {
        if ndim != 3 {
            return Err(Error::InvalidShape("a rendered MIP needs a 3D volume".into()));
        }
        Ok([shape[0], 1, self.params(shape)?.1])
    }

    fn output_grid(&self, grid: &Grid, shape: [usize; 3], _ndim: usize) -> Result<Grid> {
        let (p, _) = self.params(shape)?;
        let mut out = *grid;
        out.spacing = [grid.spacing[0], 1.0, f64::from(p.pixel)];
        Ok(out)
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let shape = [input.shape()[0], input.shape()[1], input.shape()[2]];
        let out_shape = self.output_shape(shape, ndim)?;
        let (p, width) = self.params(shape)?;
        let input = input.as_standard_layout();
        let src = input.as_slice().expect("standard layout");
        let [nz, ny, nx] = shape;
        let mut out = vec![0.0f32; nz * width];
        out.par_chunks_mut(width).enumerate().for_each(|(z, row)| {
            let slice = &src[z * ny * nx..(z + 1) * ny * nx];
            for (k, o) in row.iter_mut().enumerate() {
                *o = render_pixel(&p, slice, nx, ny, k, width);
            }
        });
        Ok(Array3::from_shape_vec(out_shape, out).expect("shape matches length"))
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let out_shape = self.output_shape(input.shape(), ndim)?;
        let (p, _) = self.params(input.shape())?;
        rec.check_loop_budget(
            &format!("a rotating MIP of {} samples per ray", p.samples),
            u64::from(p.samples) + 16,
        )?;
        let output = rec.volume(out_shape)?;
        let params = rec.uniform(&p);
        for_each_mapped_slab(
            rec,
            input,
            &output,
            |z0, z1| (z0, z1),
            |rec, slab| {
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

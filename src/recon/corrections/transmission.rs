//! Raw counts → line integrals, in one pass: flat/dark normalisation, an optional cut-off,
//! −log with an optional floor, and a water beam-hardening polynomial. Each step is optional;
//! they apply in that order. The normalisation and the −log follow tomopy
//! (`tomopy.prep.normalize.normalize` and `minus_log`): flat and dark stacks are averaged over
//! their first axis in f32, the denominator `flat − dark` is raised to 1e-6 where smaller, the
//! cut-off lowers values above it, and −log of 0 is +∞ (of a negative value, NaN) unless a floor
//! raises the transmission first.

use ndarray::{Array2, Array3, ArrayView3, Axis};
use rayon::prelude::*;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::gpu::{Binding, BufferWindow, GpuContext, GpuProjections, KernelSpec, Recorder, uniform, wgsl};
use crate::recon::corrections::WaterCorrection;

/// tomopy's smallest denominator `flat − dark`.
const DENOMINATOR_FLOOR: f32 = 1e-6;

/// A correction program for projection stacks (`views × rows × cols`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transmission {
    /// Per detector pixel: the dark mean and the floored denominator `flat − dark`.
    normalize: Option<(Array2<f32>, Array2<f32>)>,
    cutoff: Option<f32>,
    /// `Some(floor)`: take −log; the floor (if any) raises transmissions below it first.
    minus_log: Option<Option<f32>>,
    /// `c₁ … c_d` of `Σ c_k p^k`, applied to the line integral.
    polynomial: Vec<f32>,
}

/// Mean over the first axis in f32, in order (numpy's `mean(axis=0, dtype=float32)` adds the
/// images one after the other).
fn mean_image(stack: ArrayView3<'_, f32>) -> Array2<f32> {
    let n = stack.len_of(Axis(0));
    let mut sum = Array2::<f32>::zeros((stack.len_of(Axis(1)), stack.len_of(Axis(2))));
    for image in stack.axis_iter(Axis(0)) {
        sum += &image;
    }
    sum.mapv_into(|v| v / n as f32)
}

impl Transmission {
    /// The identity: add steps with the methods below.
    pub fn new() -> Self {
        Self::default()
    }

    /// Flat/dark normalisation, `(p − dark) / max(flat − dark, 1e-6)`, with `flat` and `dark`
    /// stacks (`n × rows × cols`, any number of images each) averaged over their first axis.
    pub fn normalize(mut self, flat: ArrayView3<'_, f32>, dark: ArrayView3<'_, f32>) -> Result<Self> {
        crate::volume::check_shape(flat.shape())?;
        crate::volume::check_shape(dark.shape())?;
        if flat.shape()[1..] != dark.shape()[1..] {
            return Err(Error::InvalidShape(format!(
                "flat images of {}×{} and dark images of {}×{}: both must have the detector's rows × columns",
                flat.shape()[1],
                flat.shape()[2],
                dark.shape()[1],
                dark.shape()[2]
            )));
        }
        if flat.iter().chain(dark.iter()).any(|v| !v.is_finite()) {
            return Err(Error::param(
                "flat",
                "the flat or dark images hold NaN or infinite values; they would spread to every view",
            ));
        }
        let (flat, dark) = (mean_image(flat), mean_image(dark));
        let denominator = ndarray::Zip::from(&flat).and(&dark).map_collect(|&f, &d| {
            let q = f - d;
            if q < DENOMINATOR_FLOOR { DENOMINATOR_FLOOR } else { q }
        });
        self.normalize = Some((dark, denominator));
        Ok(self)
    }

    /// Values above `cutoff` become `cutoff` (after the normalisation; tomopy's `cutoff`).
    pub fn cutoff(mut self, cutoff: f32) -> Result<Self> {
        if !cutoff.is_finite() {
            return Err(Error::param("cutoff", format!("the cut-off {cutoff} must be finite")));
        }
        self.cutoff = Some(cutoff);
        Ok(self)
    }

    /// −log of the transmission; with `floor`, transmissions below it (zero or negative counts)
    /// are raised to it first, so they give `−log(floor)` instead of +∞ or NaN.
    pub fn minus_log(mut self, floor: Option<f32>) -> Result<Self> {
        if let Some(f) = floor
            && !(f.is_finite() && f > 0.0)
        {
            return Err(Error::param(
                "floor",
                format!("the floor {f} must be positive and finite (e.g. 1e-6, or 1 / the flat field's counts)"),
            ));
        }
        self.minus_log = Some(floor);
        Ok(self)
    }

    /// The water beam-hardening linearisation, applied to the line integrals last.
    pub fn water(mut self, correction: &WaterCorrection) -> Self {
        self.polynomial = correction.coefficients().iter().map(|&c| c as f32).collect();
        self
    }

    /// Detector size the normalisation was set up for, if any.
    fn detector(&self) -> Option<(usize, usize)> {
        self.normalize.as_ref().map(|(d, _)| d.dim())
    }

    fn check(&self, shape: [usize; 3]) -> Result<()> {
        crate::volume::check_shape(&shape)?;
        if let Some((rows, cols)) = self.detector()
            && (rows, cols) != (shape[1], shape[2])
        {
            return Err(Error::InvalidShape(format!(
                "projections of {}×{} pixels, flat and dark images of {rows}×{cols}",
                shape[1], shape[2]
            )));
        }
        Ok(())
    }

    /// One value through the program (the WGSL twin computes the same expressions in order).
    #[inline(always)]
    fn value(&self, v: f32, dark: f32, denominator: f32) -> f32 {
        let mut v = if self.normalize.is_some() {
            (v - dark) / denominator
        } else {
            v
        };
        if let Some(c) = self.cutoff
            && v > c
        {
            v = c;
        }
        if let Some(floor) = self.minus_log {
            if let Some(f) = floor
                && v < f
            {
                v = f;
            }
            v = -v.ln();
        }
        if let Some((&last, rest)) = self.polynomial.split_last() {
            // Horner's scheme for c₁p + … + c_d p^d.
            let mut acc = last;
            for &c in rest.iter().rev() {
                acc = acc * v + c;
            }
            v *= acc;
        }
        v
    }

    /// The corrected stack, on the CPU.
    pub fn apply_cpu(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        let (views, rows, cols) = projections.dim();
        self.check([views, rows, cols])?;
        let input = projections.as_standard_layout();
        let input = input.as_slice().expect("standard layout");
        let mut out = vec![0.0f32; input.len()];
        let pixels = rows * cols;
        let unit = (Array2::<f32>::zeros((0, 0)), Array2::<f32>::zeros((0, 0)));
        let (dark, denominator) = self.normalize.as_ref().unwrap_or(&unit);
        out.par_chunks_mut(pixels)
            .zip(input.par_chunks(pixels))
            .for_each(|(o, i)| match (dark.as_slice(), denominator.as_slice()) {
                (Some(d), Some(q)) if !d.is_empty() => {
                    for (((o, &v), &d), &q) in o.iter_mut().zip(i).zip(d).zip(q) {
                        *o = self.value(v, d, q);
                    }
                }
                _ => {
                    for (o, &v) in o.iter_mut().zip(i) {
                        *o = self.value(v, 0.0, 1.0);
                    }
                }
            });
        Ok(Array3::from_shape_vec((views, rows, cols), out).expect("shape matches length"))
    }

    /// The steps as `params.flags` of transmission.wgsl.
    fn flags(&self) -> u32 {
        let step = |on: bool, flag: u32| if on { flag } else { 0 };
        step(self.normalize.is_some(), TR_NORMALIZE)
            | step(self.cutoff.is_some(), TR_CUTOFF)
            | step(self.minus_log.is_some(), TR_MINUS_LOG)
            | step(matches!(self.minus_log, Some(Some(_))), TR_FLOOR)
    }

    /// The corrected stack of resident projections, as a new resident stack (batch by batch).
    pub fn apply_gpu(&self, ctx: &GpuContext, projections: &GpuProjections) -> Result<GpuProjections> {
        let shape = projections.shape();
        self.check(shape)?;
        let out = GpuProjections::zeros(ctx, shape)?;
        let pixels = shape[1] * shape[2];
        let mut rec = Recorder::new(ctx);
        // The dark mean and the denominator as two tables of one view's size each: a view fits
        // one binding (the batches are made so), so each table does too.
        let (dark, denominator) = match &self.normalize {
            Some((d, q)) => (d.iter().copied().collect(), q.iter().copied().collect()),
            None => (vec![0.0f32], vec![1.0f32]),
        };
        let (dark, denominator) = (rec.constants(&dark), rec.constants(&denominator));
        let coefficients = rec.constants(if self.polynomial.is_empty() {
            &[0.0f32]
        } else {
            &self.polynomial
        });
        for ((_, batch), (_, target)) in projections.batches().zip(out.batches()) {
            let count = batch.len() as u64;
            let params = rec.uniform(&TransmissionParams {
                count: count as u32,
                pixels: pixels as u32,
                flags: self.flags(),
                degree: self.polynomial.len() as u32,
                cutoff: self.cutoff.unwrap_or(0.0),
                floor: self.minus_log.flatten().unwrap_or(0.0),
                _pad: [0; 2],
            });
            rec.dispatch_linear(
                &KERNEL,
                &[
                    BufferWindow::whole(&params),
                    BufferWindow::whole(&dark),
                    BufferWindow::whole(&denominator),
                    BufferWindow::whole(&coefficients),
                    BufferWindow::whole(batch.buffer()),
                    BufferWindow::whole(target.buffer()),
                ],
                count,
            )?;
        }
        rec.submit()?;
        Ok(out)
    }

    /// The corrected stack of host projections on the GPU (upload, correct, download).
    pub fn apply_gpu_host(&self, ctx: &GpuContext, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        let (views, rows, cols) = projections.dim();
        self.check([views, rows, cols])?;
        let resident = GpuProjections::upload(ctx, projections)?;
        self.apply_gpu(ctx, &resident)?.download(ctx)
    }

    /// The corrected stack on `backend`.
    pub fn apply(&self, backend: &Backend, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        match backend {
            Backend::Cpu => self.apply_cpu(projections),
            Backend::Gpu(ctx) => self.apply_gpu_host(ctx, projections),
        }
    }
}

// Steps of the program (`params.flags` in transmission.wgsl).
crate::wgsl_constants!(TRANSMISSION_FLAGS: u32 { TR_NORMALIZE = 1, TR_CUTOFF = 2, TR_MINUS_LOG = 4, TR_FLOOR = 8 });

/// Twin of `Params` in `shaders/recon/transmission.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct TransmissionParams {
    count: u32,
    pixels: u32,
    flags: u32,
    degree: u32,
    cutoff: f32,
    floor: f32,
    _pad: [u32; 2],
}

static KERNEL: KernelSpec = KernelSpec {
    name: "recon/transmission",
    sources: &[
        wgsl::FLOAT,
        wgsl::TILE,
        include_str!("../../../shaders/recon/transmission.wgsl"),
    ],
    entry: "transmission",
    bindings: &[
        uniform::<TransmissionParams>(),
        Binding::Read,
        Binding::Read,
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[TRANSMISSION_FLAGS],
};

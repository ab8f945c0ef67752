//! Dense correlation and convolution with small kernels — `scipy.ndimage.correlate` /
//! `convolve(input, weights, mode, cval)` with kernels of at most 7 taps per axis (odd or even
//! sizes, scipy's centring), every boundary mode.
//!
//! CPU: each output row is a weighted sum of its neighbour rows shifted along x
//! (`filter/neighbourhood.rs`), vectorised multiply-adds. GPU: 8×8×4 workgroups stage their block
//! plus halo in workgroup memory and every thread sums its taps from there.

use ndarray::{Array3, ArrayD, ArrayView3, ArrayViewD};

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::correlate1d::check_mode;
use crate::filter::neighbourhood::map_rows;
use crate::filter::{Filter, check_ndim};
use crate::gpu::{Binding, TILE, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_slab, wgsl};

/// Most taps along one axis.
pub const MAX_TAPS: usize = 7;

pub(crate) static KERNEL: KernelSpec = KernelSpec {
    name: "filter/correlate",
    sources: &[
        wgsl::BOUNDARY,
        wgsl::TILE,
        wgsl::STAGE,
        include_str!("../../shaders/filter/correlate.wgsl"),
    ],
    entry: "correlate",
    bindings: &[
        TILE,
        uniform::<Params>(),
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[],
};

/// Twin of `Params` in `correlate.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    size: [u32; 4],
    left: [u32; 4],
    halo: [u32; 4],
    mode: u32,
    cval: f32,
    _pad: [u32; 2],
}

/// Dense correlation (or convolution) with a 2D or 3D kernel.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::Correlate;
/// let image = ndarray::array![[0.0f32, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]];
/// let kernel = ndarray::array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
/// // Correlating an impulse gives the kernel flipped; convolving gives the kernel.
/// let c = Correlate::convolve(kernel.view().into_dyn()).apply(&Backend::Cpu, image.view())?;
/// assert_eq!(c[[0, 0]], 1.0);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Correlate {
    weights: ArrayD<f64>,
    flip: bool,
    mode: BoundaryMode,
}

struct Plan {
    size: [usize; 3],
    left: [usize; 3],
    halo: [usize; 3],
    /// Taps in (z, y, x) order, already flipped for a convolution.
    weights: Vec<f32>,
}

impl Correlate {
    /// `scipy.ndimage.correlate(input, weights)`; the kernel has the input's dimensionality.
    pub fn new(weights: ArrayViewD<'_, f64>) -> Self {
        Correlate {
            weights: weights.to_owned(),
            flip: false,
            mode: BoundaryMode::default(),
        }
    }

    /// `scipy.ndimage.convolve(input, weights)`.
    pub fn convolve(weights: ArrayViewD<'_, f64>) -> Self {
        Correlate {
            flip: true,
            ..Correlate::new(weights)
        }
    }

    /// Boundary mode (default `Reflect`, as scipy).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self, ndim: usize) -> Result<Plan> {
        check_ndim(ndim)?;
        check_mode(self.mode)?;
        if self.weights.ndim() != ndim {
            return Err(Error::param(
                "weights",
                format!(
                    "a {}-D kernel for {ndim}-D data; give the kernel the data's dimensions",
                    self.weights.ndim()
                ),
            ));
        }
        let mut size = [1usize; 3];
        size[3 - ndim..].copy_from_slice(self.weights.shape());
        if let Some(bad) = size.iter().find(|&&n| n == 0 || n > MAX_TAPS) {
            return Err(Error::param(
                "weights",
                format!(
                    "kernel shape {:?}: {bad} taps; give 1 to {MAX_TAPS} per axis",
                    self.weights.shape()
                ),
            ));
        }
        if let Some(bad) = self
            .weights
            .iter()
            .find(|w| !w.is_finite() || w.abs() > f64::from(f32::MAX))
        {
            return Err(Error::param(
                "weights",
                format!("weight {bad} is not a finite f32 value"),
            ));
        }
        // scipy: correlate centres at n // 2; convolve flips the kernel and, for even sizes,
        // shifts the origin by one (left = n // 2 - 1).
        let left = size.map(|n| if self.flip && n % 2 == 0 { n / 2 - 1 } else { n / 2 });
        let halo = [0, 1, 2].map(|a| left[a].max(size[a] - 1 - left[a]));
        let mut weights: Vec<f32> = self.weights.iter().map(|&w| w as f32).collect();
        if self.flip {
            weights.reverse(); // reversing C order reverses every axis
        }
        Ok(Plan {
            size,
            left,
            halo,
            weights,
        })
    }
}

impl Filter for Correlate {
    fn name(&self) -> &'static str {
        if self.flip { "convolve" } else { "correlate" }
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let plan = self.plan(ndim)?;
        let [hz, hy, hx] = plan.halo;
        let rows_y = 2 * hy + 1;
        Ok(map_rows(
            input,
            plan.halo,
            self.mode,
            || (),
            |_, _, rows, _, out| {
                let nx = out.len();
                out.fill(0.0);
                let mut k = 0;
                for kz in 0..plan.size[0] {
                    for ky in 0..plan.size[1] {
                        let row = rows.row((kz + hz - plan.left[0]) * rows_y + ky + hy - plan.left[1]);
                        for kx in 0..plan.size[2] {
                            let w = plan.weights[k];
                            k += 1;
                            let start = kx + hx - plan.left[2];
                            for (o, &v) in out.iter_mut().zip(&row[start..start + nx]) {
                                *o += w * v;
                            }
                        }
                    }
                }
            },
        ))
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let plan = self.plan(ndim)?;
        let output = rec.volume(input.shape())?;
        let params = rec.uniform(&Params {
            size: [plan.size[0] as u32, plan.size[1] as u32, plan.size[2] as u32, 0],
            left: [plan.left[0] as u32, plan.left[1] as u32, plan.left[2] as u32, 0],
            halo: [plan.halo[0] as u32, plan.halo[1] as u32, plan.halo[2] as u32, 0],
            mode: self.mode.code(),
            cval: self.mode.cval(),
            _pad: [0; 2],
        });
        let weights = rec.constants(&plan.weights);
        for_each_slab(rec, &[input], &output, plan.halo[0], self.mode, |rec, slab| {
            rec.dispatch_grid(
                &KERNEL,
                &[
                    BufferWindow::whole(&slab.tile),
                    BufferWindow::whole(&params),
                    BufferWindow::whole(&weights),
                    slab.inputs[0],
                    slab.output,
                ],
                slab.grid(),
            )
        })?;
        Ok(output)
    }
}

//! Ring-artefact removal in the sinogram by sorting (N. T. Vo, R. C. Atwood and M. Drakopoulos,
//! "Superior techniques for eliminating ring artifacts in X-ray micro-tomography", Opt.
//! Express 26(22), 28396, 2018, algorithm 3; algotom's `remove_stripe_based_sorting`): in each
//! detector row's sinogram every detector column is sorted along the views, the sorted sinogram
//! is median-filtered across columns (a `1 × size` window; `size × size` in the 2D variant), and
//! the values go back to their views. A defective pixel makes a stripe in the sinogram (a ring
//! in the image); sorting turns the object's structure into smooth ramps the median keeps while
//! the stripe, an offset of one column, is removed.
//!
//! The median is [`Median`](crate::filter::Median) (scipy's `median_filter`, mode reflect), on
//! the CPU or the GPU; on the GPU the columns are sorted by a bitonic network in workgroup
//! memory (`shaders/recon/sort_columns.wgsl`) and scattered back there too. Equal values in a
//! column keep their view order on both paths, so they agree bit for bit (numpy's default sort
//! may order ties otherwise; the sorted values, and so the result on data without ties, are
//! the same).

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::filter::{Filter, Median};
use crate::gpu::{Binding, BufferWindow, GpuContext, GpuVolume, KernelSpec, Recorder, uniform, wgsl};

/// Sorting-based stripe removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StripeRemoval {
    size: usize,
    two_d: bool,
}

impl StripeRemoval {
    /// A median window `size` columns wide (odd, ≥ 3; algotom's default is 21): wider than the
    /// widest stripe, narrower than the object's features along the detector.
    pub fn sorting(size: usize) -> Result<Self> {
        if size < 3 || size.is_multiple_of(2) || size > 2 * crate::filter::median::MAX_RADIUS + 1 {
            return Err(Error::param(
                "size",
                format!(
                    "a median window of {size} columns: give an odd size from 3 to {} (e.g. 21)",
                    2 * crate::filter::median::MAX_RADIUS + 1
                ),
            ));
        }
        Ok(StripeRemoval { size, two_d: false })
    }

    /// The 2D variant: a `size × size` window over (sorted views, columns) (algotom `dim=2`).
    pub fn two_dimensional(mut self) -> Self {
        self.two_d = true;
        self
    }

    fn check(projections: ArrayView3<'_, f32>) -> Result<()> {
        crate::volume::check_shape(projections.shape())?;
        if projections.iter().any(|v| v.is_nan()) {
            return Err(Error::param(
                "projections",
                "the projections hold NaN, which has no place in a sorted column; repair or mask it first",
            ));
        }
        Ok(())
    }

    /// The median over (rank, row, column) of the sorted stack: one sinogram per detector row.
    fn median(&self) -> Median {
        let r = self.size / 2;
        Median::new(&[if self.two_d { r } else { 0 }, 0, r])
    }

    /// The corrected stack (`views × rows × cols`), on the CPU.
    pub fn apply_cpu(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        Self::check(projections)?;
        let (sorted, from) = sort_columns(projections);
        let filtered = self.median().cpu(sorted.view(), 3)?;
        Ok(scatter_back(filtered.view(), &from))
    }

    /// The corrected stack on the GPU: each pixel's column sorted by a bitonic network in
    /// workgroup memory, the median, the values put back — in slabs of detector rows that fit
    /// one binding (each row's sinogram is independent). Above 2048 views the sort
    /// and the scatter run on the CPU and only the median on the GPU.
    pub fn apply_gpu(&self, ctx: &GpuContext, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        Self::check(projections)?;
        let (views, rows, cols) = projections.dim();
        if views > SORT_MAX as usize {
            let (sorted, from) = sort_columns(projections);
            let resident = GpuVolume::upload(ctx, sorted.view())?;
            let mut rec = Recorder::new(ctx);
            let out = self.median().record(&mut rec, &resident, 3)?;
            rec.submit()?;
            let filtered = out.download(ctx)?;
            return Ok(scatter_back(filtered.view(), &from));
        }
        let limit = ctx.max_storage_binding().min(ctx.adapter().max_buffer_size);
        let row_bytes = (views * cols * 4) as u64;
        let chunk = (limit / row_bytes) as usize;
        if chunk == 0 {
            return Err(Error::TooLarge(format!(
                "one detector row's sinogram ({views} views × {cols} columns) exceeds this adapter's storage binding \
                 limit; use the CPU backend"
            )));
        }
        let n = views.next_power_of_two().max(2) as u32;
        let mut out = Array3::<f32>::zeros((views, rows, cols));
        for r0 in (0..rows).step_by(chunk) {
            let r1 = (r0 + chunk).min(rows);
            let pixels = (r1 - r0) * cols;
            let input = GpuVolume::upload(ctx, projections.slice(ndarray::s![.., r0..r1, ..]))?;
            let mut rec = Recorder::new(ctx);
            let params = rec.uniform(&ColumnParams {
                views: views as u32,
                pixels: pixels as u32,
                n,
                _pad: 0,
            });
            let sorted = rec.volume([views, r1 - r0, cols])?;
            let from = rec.scratch((views * pixels * 4) as u64);
            rec.dispatch_folded(
                &SORT,
                &[
                    BufferWindow::whole(&params),
                    BufferWindow::whole(input.buffer()),
                    BufferWindow::whole(sorted.buffer()),
                    BufferWindow::whole(&from),
                ],
                pixels as u64,
            )?;
            let filtered = self.median().record(&mut rec, &sorted, 3)?;
            let output = rec.volume([views, r1 - r0, cols])?;
            rec.dispatch_linear(
                &SCATTER,
                &[
                    BufferWindow::whole(&params),
                    BufferWindow::whole(filtered.buffer()),
                    BufferWindow::whole(&from),
                    BufferWindow::whole(output.buffer()),
                ],
                (views * pixels) as u64,
            )?;
            rec.submit()?;
            out.slice_mut(ndarray::s![.., r0..r1, ..])
                .assign(&output.download(ctx)?);
        }
        Ok(out)
    }

    /// The corrected stack on `backend`.
    pub fn apply(&self, backend: &Backend, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        match backend {
            Backend::Cpu => self.apply_cpu(projections),
            Backend::Gpu(ctx) => self.apply_gpu(ctx, projections),
        }
    }
}

/// Every (row, column) sorted along the views: the sorted stack `(rank, row, column)` and,
/// pixel by pixel, the view each rank came from (`[pixel · views + rank]`).
fn sort_columns(projections: ArrayView3<'_, f32>) -> (Array3<f32>, Vec<u32>) {
    let (views, rows, cols) = projections.dim();
    let input = projections.as_standard_layout();
    let input = input.as_slice().expect("standard layout");
    let pixels = rows * cols;
    let mut columns: Vec<(f32, u32)> = vec![(0.0, 0); views * pixels];
    columns.par_chunks_mut(views).enumerate().for_each(|(pixel, column)| {
        for (view, c) in column.iter_mut().enumerate() {
            *c = (input[view * pixels + pixel], view as u32);
        }
        column.sort_by(|a, b| a.0.total_cmp(&b.0));
    });
    let mut sorted = vec![0.0f32; views * pixels];
    sorted.par_chunks_mut(pixels).enumerate().for_each(|(rank, values)| {
        for (pixel, v) in values.iter_mut().enumerate() {
            *v = columns[pixel * views + rank].0;
        }
    });
    let from = columns.into_par_iter().map(|(_, view)| view).collect();
    (
        Array3::from_shape_vec((views, rows, cols), sorted).expect("shape matches length"),
        from,
    )
}

/// Each filtered value back to the view it was sorted from: per pixel into view order, then
/// transposed into `(view, row, column)` (both passes write contiguously).
fn scatter_back(filtered: ArrayView3<'_, f32>, from: &[u32]) -> Array3<f32> {
    let (views, rows, cols) = filtered.dim();
    let pixels = rows * cols;
    let filtered = filtered.as_standard_layout();
    let filtered = filtered.as_slice().expect("standard layout");
    let mut by_pixel = vec![0.0f32; views * pixels];
    by_pixel.par_chunks_mut(views).enumerate().for_each(|(pixel, column)| {
        for rank in 0..views {
            column[from[pixel * views + rank] as usize] = filtered[rank * pixels + pixel];
        }
    });
    let mut out = vec![0.0f32; views * pixels];
    out.par_chunks_mut(pixels).enumerate().for_each(|(view, image)| {
        for (pixel, v) in image.iter_mut().enumerate() {
            *v = by_pixel[pixel * views + view];
        }
    });
    Array3::from_shape_vec((views, rows, cols), out).expect("shape matches length")
}

// The bitonic sort's largest network (values and views in 16 KiB of workgroup memory, the
// WebGPU minimum) and its threads.
crate::wgsl_constants!(pub(crate) SORT_CONSTANTS: u32 { SORT_MAX = 2048, SORT_THREADS = 256 });

/// Twin of `Params` in `shaders/recon/sort_columns.wgsl` and `scatter_columns.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ColumnParams {
    views: u32,
    pixels: u32,
    n: u32,
    _pad: u32,
}

static SORT: KernelSpec = KernelSpec {
    name: "recon/sort_columns",
    sources: &[include_str!("../../../shaders/recon/sort_columns.wgsl")],
    entry: "sort_columns",
    bindings: &[
        uniform::<ColumnParams>(),
        Binding::Read,
        Binding::ReadWrite,
        Binding::ReadWrite,
    ],
    constants: &[SORT_CONSTANTS],
};

static SCATTER: KernelSpec = KernelSpec {
    name: "recon/scatter_columns",
    sources: &[wgsl::TILE, include_str!("../../../shaders/recon/scatter_columns.wgsl")],
    entry: "scatter_columns",
    bindings: &[
        uniform::<ColumnParams>(),
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[],
};

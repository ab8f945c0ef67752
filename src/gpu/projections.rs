//! Projection stacks resident on the GPU: `views × rows × cols` f32, held as batches of whole
//! views, each batch one buffer that fits one storage binding. A stack can therefore exceed
//! both the binding and the buffer limit (RabbitCT's 2.4 GB of projections on an adapter with
//! 128 MiB bindings and 2 GiB buffers), and kernels work batch by batch.

use ndarray::{Array3, ArrayView3, Axis, s};

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::volume::GpuVolume;

/// A projection stack on the GPU, in batches of consecutive views.
#[derive(Debug)]
pub struct GpuProjections {
    batches: Vec<(usize, GpuVolume)>,
    shape: [usize; 3],
}

/// Loop iterations the back-projecting kernels spend per view of a batch, at most (a
/// back-projection 5, Joseph's transpose ~10–20, a separable footprint its shadow's rows × columns).
const LOOP_ITERATIONS_PER_VIEW: u64 = 256;

/// Views per batch for `rows × cols` detectors on `ctx`: as many as one binding holds, and on
/// adapters that stop long loops (see [`AdapterSummary::loop_limit`](crate::gpu::AdapterSummary::loop_limit))
/// few enough that a kernel looping over a batch's views stays within the limit (255 on
/// llvmpipe, where 70,000 views in one batch came back wrong).
pub(crate) fn views_per_batch(ctx: &GpuContext, rows: usize, cols: usize) -> Result<usize> {
    let view_bytes = (rows as u64) * (cols as u64) * 4;
    let limit = ctx.max_storage_binding().min(ctx.adapter().max_buffer_size);
    let views = limit / view_bytes.max(1);
    if views == 0 {
        return Err(Error::TooLarge(format!(
            "one {rows}×{cols} projection takes {:.1} MiB, more than this adapter's storage binding limit \
             ({:.0} MiB); bin the detector or use the CPU backend",
            view_bytes as f64 / 1048576.0,
            limit as f64 / 1048576.0
        )));
    }
    let loop_cap = ctx
        .adapter()
        .loop_limit
        .map_or(u64::MAX, |l| (l / LOOP_ITERATIONS_PER_VIEW).max(1));
    Ok(views.min(loop_cap) as usize)
}

impl GpuProjections {
    /// Copies `views × rows × cols` projections to the GPU.
    pub fn upload(ctx: &GpuContext, data: ArrayView3<'_, f32>) -> Result<Self> {
        let (views, rows, cols) = data.dim();
        crate::volume::check_shape(&[views, rows, cols])?;
        let per_batch = views_per_batch(ctx, rows, cols)?;
        let mut batches = Vec::with_capacity(views.div_ceil(per_batch));
        for first in (0..views).step_by(per_batch) {
            let last = (first + per_batch).min(views);
            batches.push((first, GpuVolume::upload(ctx, data.slice(s![first..last, .., ..]))?));
        }
        Ok(GpuProjections {
            batches,
            shape: [views, rows, cols],
        })
    }

    /// A zero-filled stack of `[views, rows, cols]`.
    pub fn zeros(ctx: &GpuContext, shape: [usize; 3]) -> Result<Self> {
        crate::volume::check_shape(&shape)?;
        let [views, rows, cols] = shape;
        let per_batch = views_per_batch(ctx, rows, cols)?;
        let batches = (0..views)
            .step_by(per_batch)
            .map(|first| {
                Ok((
                    first,
                    GpuVolume::zeros(ctx, [(views - first).min(per_batch), rows, cols])?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(GpuProjections { batches, shape })
    }

    /// `[views, rows, cols]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The batches: first view and its `count × rows × cols` buffer.
    pub fn batches(&self) -> impl Iterator<Item = (usize, &GpuVolume)> {
        self.batches.iter().map(|(first, v)| (*first, v))
    }

    /// Copies the stack back to the host.
    pub fn download(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        let mut out = Array3::<f32>::zeros((self.shape[0], self.shape[1], self.shape[2]));
        for (first, batch) in &self.batches {
            let data = batch.download(ctx)?;
            out.slice_mut(s![*first..*first + data.len_of(Axis(0)), .., ..])
                .assign(&data);
        }
        Ok(out)
    }
}

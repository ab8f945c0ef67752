//! Filtered back-projection as stages, as RTK composes its FDK (weighting → ramp filter →
//! back-projection): [`Weighting`] (optional cosine pre-weights per detector pixel and optional
//! short-scan weights per view and column), a ramp response, and the voxel-driven
//! back-projection of a [`DetectorMap`] with per-view weights and an optional circular mask.
//! FDK, fan-beam FBP (a one-row FDK) and the GPU path of parallel FBP configure one
//! [`FilteredBackprojection`] each; the stages are tested alone (`ramp.rs`, `backproject.rs`)
//! and together by the reconstruction tests.

use ndarray::{Array3, ArrayView3, Axis, s};

use crate::error::Result;
use crate::gpu::{GpuContext, GpuProjections, GpuVolume, Recorder, views_per_batch};
use crate::recon::backproject::{Backprojector, Mask};
use crate::recon::geometry::DetectorMap;
use crate::recon::ramp::{GpuRamp, filter_rows_with};

/// Per-sample weights applied before the ramp filter; `None` is weight 1.
#[derive(Debug, Clone, Default)]
pub(crate) struct Weighting {
    /// `rows × cols`, the same for every view (FDK's cosine weights).
    pub(crate) cosine: Option<Vec<f32>>,
    /// `views × cols`, the same for every row (Parker's short-scan weights).
    pub(crate) short_scan: Option<Vec<f32>>,
}

impl Weighting {
    /// Multiplies `views × rows × cols` projections by the weights, in place.
    pub(crate) fn apply_cpu(&self, projections: &mut Array3<f32>) {
        let cols = projections.dim().2;
        for (view, mut stack) in projections.axis_iter_mut(Axis(0)).enumerate() {
            let short = self.short_scan.as_ref().map(|w| &w[view * cols..(view + 1) * cols]);
            for (row, mut line) in stack.axis_iter_mut(Axis(0)).enumerate() {
                let cosine = self.cosine.as_ref().map(|w| &w[row * cols..(row + 1) * cols]);
                for (col, v) in line.iter_mut().enumerate() {
                    // The product of both weights first, as the GPU's pack kernel computes it.
                    let w = cosine.map_or(1.0, |c| c[col]) * short.map_or(1.0, |p| p[col]);
                    *v *= w;
                }
            }
        }
    }
}

/// A filtered back-projection: weighting, ramp response (`n/2 + 1` frequencies of the padded
/// rows, see `ramp::frequency_response`), and back-projection with per-view weights.
#[derive(Debug, Clone)]
pub(crate) struct FilteredBackprojection {
    pub(crate) weighting: Weighting,
    pub(crate) response: Vec<f64>,
    pub(crate) map: DetectorMap,
    pub(crate) view_weights: Vec<f64>,
    /// Voxels outside this circle are 0 (GPU back-projection only; the CPU paths mask apart).
    pub(crate) mask: Option<Mask>,
}

impl FilteredBackprojection {
    /// Weighted and ramp-filtered projections on the CPU.
    pub(crate) fn filter_cpu(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        let mut weighted = projections.to_owned();
        self.weighting.apply_cpu(&mut weighted);
        filter_rows_with(weighted.view(), &self.response)
    }

    /// The whole chain on the CPU into a `shape` volume.
    pub(crate) fn reconstruct_cpu(&self, projections: ArrayView3<'_, f32>, shape: [usize; 3]) -> Result<Array3<f32>> {
        let filtered = self.filter_cpu(projections)?;
        Backprojector::from_map(self.map.clone(), shape)?.backproject_cpu(filtered.view(), &self.view_weights)
    }

    /// Host projections on the GPU: views go up one batch (one binding) at a time, are weighted
    /// and ramp-filtered in place and back-projected into the resident volume, slab by slab; one
    /// submission per batch, so GPU memory holds one batch and the volume, whatever the number
    /// of views. `progress(views done, views)` after each batch.
    pub(crate) fn reconstruct_gpu(
        &self,
        ctx: &GpuContext,
        projections: ArrayView3<'_, f32>,
        shape: [usize; 3],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<GpuVolume> {
        let (views, rows, cols) = projections.dim();
        let volume = GpuVolume::zeros(ctx, shape)?;
        let per_batch = views_per_batch(ctx, rows, cols)?;
        let (ramp, table) = {
            let rec = Recorder::new(ctx);
            (
                GpuRamp::new(&rec, &self.response, &self.weighting, rows, cols)?,
                rec.constants(&self.map.gpu_table(&self.view_weights)),
            )
        };
        // Two batches in flight: the host copies batch k + 1 to the GPU while the GPU filters and
        // back-projects batch k (waiting after each batch left the GPU idle during every copy).
        let mut in_flight = std::collections::VecDeque::new();
        for first in (0..views).step_by(per_batch) {
            let last = (first + per_batch).min(views);
            let batch = GpuVolume::upload(ctx, projections.slice(s![first..last, .., ..]))?;
            let mut rec = Recorder::new(ctx);
            ramp.record(&mut rec, &batch, first)?;
            self.map
                .record_batch(&mut rec, &table, &batch, first, &volume, self.mask)?;
            in_flight.push_back((rec.submit_without_waiting()?, last));
            if in_flight.len() == 2
                && let Some((earlier, done)) = in_flight.pop_front()
            {
                earlier.wait()?;
                progress(done, views);
            }
        }
        for (submitted, done) in in_flight {
            submitted.wait()?;
            progress(done, views);
        }
        Ok(volume)
    }

    /// Projections already on the GPU (left unchanged: each batch is filtered in a copy), in
    /// one submission.
    pub(crate) fn reconstruct_resident(
        &self,
        ctx: &GpuContext,
        projections: &GpuProjections,
        shape: [usize; 3],
    ) -> Result<GpuVolume> {
        let [_, rows, cols] = projections.shape();
        let volume = GpuVolume::zeros(ctx, shape)?;
        let mut rec = Recorder::new(ctx);
        let ramp = GpuRamp::new(&rec, &self.response, &self.weighting, rows, cols)?;
        let table = rec.constants(&self.map.gpu_table(&self.view_weights));
        for (first, batch) in projections.batches() {
            let copy = rec.duplicate(batch)?;
            ramp.record(&mut rec, &copy, first)?;
            self.map
                .record_batch(&mut rec, &table, &copy, first, &volume, self.mask)?;
            rec.recycle(copy);
        }
        rec.submit()?;
        Ok(volume)
    }
}

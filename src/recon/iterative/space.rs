//! The vector spaces the iterative methods work in: volumes and projection stacks on one
//! backend, the projectors of the subsets, elementwise operations ([`VectorOp`]), squared norms
//! and the TV step. The methods in `iterative.rs` are written once against [`Space`];
//! [`CpuSpace`] runs each operation at once, [`GpuSpace`] records it and submits at
//! [`Space::flush`] (one submission per iteration, or per subset), reading back only the
//! kilobytes of reduction partials behind a [`Space::read`].

use std::sync::Arc;

use ndarray::{Array3, ArrayView3};

use super::tv::{GpuTv, prox_cpu, total_variation, tv_from_moments};
use crate::error::Result;
use crate::gpu::reduce::PendingMoments;
use crate::gpu::vector_ops::{
    PendingNorm, VectorOp, norm2_cpu, record_norm2, record_projections_norm2, record_projections_op, record_vector_op,
};
use crate::gpu::{GpuContext, GpuProjections, GpuVolume, Recorder};
use crate::recon::Projector;

/// Volumes, projections and the operators between them, on one backend.
pub(super) trait Space {
    /// A volume of the reconstruction's shape.
    type Vol;
    /// The projections of one subset.
    type Proj;
    /// A scalar being computed (available after [`Space::read`]).
    type Scalar;

    /// A zero volume.
    fn volume(&mut self) -> Result<Self::Vol>;
    /// Zero projections of subset `s`.
    fn projections(&mut self, s: usize) -> Result<Self::Proj>;
    /// A volume holding `values`.
    fn upload_volume(&mut self, values: ArrayView3<'_, f32>) -> Result<Self::Vol>;
    /// Projections holding `values`.
    fn upload_projections(&mut self, values: ArrayView3<'_, f32>) -> Result<Self::Proj>;
    /// The volume's values on the host (after everything recorded has run).
    fn download(&mut self, x: &Self::Vol) -> Result<Array3<f32>>;

    /// `out = A_s x`.
    fn forward(&mut self, s: usize, x: &Self::Vol, out: &mut Self::Proj) -> Result<()>;
    /// `out = A_sᵀ y`.
    fn backward(&mut self, s: usize, y: &Self::Proj, out: &mut Self::Vol) -> Result<()>;

    /// `op` on volumes (`a` the destination).
    fn vol_op(&mut self, op: VectorOp, a: &mut Self::Vol, b: Option<&Self::Vol>, c: Option<&Self::Vol>) -> Result<()>;
    /// `op` on projections of one subset.
    fn proj_op(
        &mut self,
        op: VectorOp,
        a: &mut Self::Proj,
        b: Option<&Self::Proj>,
        c: Option<&Self::Proj>,
    ) -> Result<()>;
    /// `x = x · mask` when the run has a mask.
    fn mask(&mut self, x: &mut Self::Vol) -> Result<()>;

    /// `Σ v²` of a volume.
    fn vol_norm2(&mut self, v: &Self::Vol) -> Result<Self::Scalar>;
    /// `Σ v²` of projections.
    fn proj_norm2(&mut self, p: &Self::Proj) -> Result<Self::Scalar>;

    /// `out = argmin_x ½‖x − z‖² + mu · TV(x)` by `iterations` of Chambolle's algorithm.
    fn tv_prox(&mut self, z: &Self::Vol, mu: f32, iterations: usize, out: &mut Self::Vol) -> Result<()>;
    /// `TV(x)`.
    fn total_variation(&mut self, x: &Self::Vol) -> Result<Self::Scalar>;

    /// Runs what has been recorded (a submission on the GPU; nothing on the CPU).
    fn flush(&mut self) -> Result<()>;
    /// The scalar's value (flushing first if needed).
    fn read(&mut self, scalar: Self::Scalar) -> Result<f64>;
}

/// The CPU: arrays, every operation run at once on all cores.
pub(super) struct CpuSpace {
    projectors: Vec<Arc<dyn Projector>>,
    shape: [usize; 3],
    mask: Option<Vec<f32>>,
}

impl CpuSpace {
    pub(super) fn new(projectors: Vec<Arc<dyn Projector>>, shape: [usize; 3], mask: Option<Vec<f32>>) -> Self {
        CpuSpace {
            projectors,
            shape,
            mask,
        }
    }
}

fn slice(a: &Array3<f32>) -> &[f32] {
    a.as_slice().expect("the space's arrays are in standard layout")
}

fn slice_mut(a: &mut Array3<f32>) -> &mut [f32] {
    a.as_slice_mut().expect("the space's arrays are in standard layout")
}

/// `op` on arrays (volumes and projections alike on the CPU).
fn apply_cpu(op: VectorOp, a: &mut Array3<f32>, b: Option<&Array3<f32>>, c: Option<&Array3<f32>>) -> Result<()> {
    op.apply_cpu(slice_mut(a), b.map(slice), c.map(slice))
}

impl Space for CpuSpace {
    type Vol = Array3<f32>;
    type Proj = Array3<f32>;
    type Scalar = f64;

    fn volume(&mut self) -> Result<Array3<f32>> {
        Ok(Array3::zeros(self.shape))
    }

    fn projections(&mut self, s: usize) -> Result<Array3<f32>> {
        Ok(Array3::zeros(self.projectors[s].projection_shape()))
    }

    fn upload_volume(&mut self, values: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        Ok(values.as_standard_layout().into_owned())
    }

    fn upload_projections(&mut self, values: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        Ok(values.as_standard_layout().into_owned())
    }

    fn download(&mut self, x: &Array3<f32>) -> Result<Array3<f32>> {
        Ok(x.clone())
    }

    fn forward(&mut self, s: usize, x: &Array3<f32>, out: &mut Array3<f32>) -> Result<()> {
        *out = self.projectors[s].forward_cpu(x.view())?;
        Ok(())
    }

    fn backward(&mut self, s: usize, y: &Array3<f32>, out: &mut Array3<f32>) -> Result<()> {
        *out = self.projectors[s].backward_cpu(y.view())?;
        Ok(())
    }

    fn vol_op(
        &mut self,
        op: VectorOp,
        a: &mut Array3<f32>,
        b: Option<&Array3<f32>>,
        c: Option<&Array3<f32>>,
    ) -> Result<()> {
        apply_cpu(op, a, b, c)
    }

    fn proj_op(
        &mut self,
        op: VectorOp,
        a: &mut Array3<f32>,
        b: Option<&Array3<f32>>,
        c: Option<&Array3<f32>>,
    ) -> Result<()> {
        apply_cpu(op, a, b, c)
    }

    fn mask(&mut self, x: &mut Array3<f32>) -> Result<()> {
        match &self.mask {
            Some(m) => VectorOp::Mul.apply_cpu(slice_mut(x), Some(m), None),
            None => Ok(()),
        }
    }

    fn vol_norm2(&mut self, v: &Array3<f32>) -> Result<f64> {
        Ok(norm2_cpu(slice(v)))
    }

    fn proj_norm2(&mut self, p: &Array3<f32>) -> Result<f64> {
        Ok(norm2_cpu(slice(p)))
    }

    fn tv_prox(&mut self, z: &Array3<f32>, mu: f32, iterations: usize, out: &mut Array3<f32>) -> Result<()> {
        *out = prox_cpu(z, mu, iterations);
        Ok(())
    }

    fn total_variation(&mut self, x: &Array3<f32>) -> Result<f64> {
        Ok(total_variation(x))
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn read(&mut self, scalar: f64) -> Result<f64> {
        Ok(scalar)
    }
}

/// The GPU: resident buffers, operations recorded into one recorder, submitted at each flush.
pub(super) struct GpuSpace<'c> {
    ctx: &'c GpuContext,
    rec: Recorder<'c>,
    /// Whether anything was recorded since the last submission.
    pending: bool,
    projectors: Vec<Arc<dyn Projector>>,
    shape: [usize; 3],
    mask: Option<GpuVolume>,
    /// The TV step's buffers, made on first use.
    tv: Option<GpuTv>,
}

/// A reduction recorded on the GPU.
pub(super) enum GpuScalar {
    /// A squared norm.
    Norm(PendingNorm),
    /// A sum (the total variation).
    Sum(PendingMoments),
}

impl<'c> GpuSpace<'c> {
    pub(super) fn new(
        ctx: &'c GpuContext,
        projectors: Vec<Arc<dyn Projector>>,
        shape: [usize; 3],
        mask: Option<ArrayView3<'_, f32>>,
    ) -> Result<Self> {
        Ok(GpuSpace {
            ctx,
            rec: Recorder::new(ctx),
            pending: false,
            projectors,
            shape,
            mask: mask.map(|m| GpuVolume::upload(ctx, m)).transpose()?,
            tv: None,
        })
    }

    /// The recorder, marked as holding work.
    fn rec(&mut self) -> &mut Recorder<'c> {
        self.pending = true;
        &mut self.rec
    }
}

impl<'c> Space for GpuSpace<'c> {
    type Vol = GpuVolume;
    type Proj = GpuProjections;
    type Scalar = GpuScalar;

    fn volume(&mut self) -> Result<GpuVolume> {
        GpuVolume::zeros(self.ctx, self.shape)
    }

    fn projections(&mut self, s: usize) -> Result<GpuProjections> {
        GpuProjections::zeros(self.ctx, self.projectors[s].projection_shape())
    }

    fn upload_volume(&mut self, values: ArrayView3<'_, f32>) -> Result<GpuVolume> {
        GpuVolume::upload(self.ctx, values)
    }

    fn upload_projections(&mut self, values: ArrayView3<'_, f32>) -> Result<GpuProjections> {
        GpuProjections::upload(self.ctx, values)
    }

    fn download(&mut self, x: &GpuVolume) -> Result<Array3<f32>> {
        self.flush()?;
        x.download(self.ctx)
    }

    fn forward(&mut self, s: usize, x: &GpuVolume, out: &mut GpuProjections) -> Result<()> {
        let projector = self.projectors[s].clone();
        let rec = self.rec();
        record_projections_op(rec, VectorOp::Fill(0.0), out, None, None)?;
        projector.record_forward(rec, x, out)
    }

    fn backward(&mut self, s: usize, y: &GpuProjections, out: &mut GpuVolume) -> Result<()> {
        let projector = self.projectors[s].clone();
        let rec = self.rec();
        record_vector_op(rec, VectorOp::Fill(0.0), out, None, None)?;
        projector.record_backward(rec, y, out)
    }

    fn vol_op(&mut self, op: VectorOp, a: &mut GpuVolume, b: Option<&GpuVolume>, c: Option<&GpuVolume>) -> Result<()> {
        record_vector_op(self.rec(), op, a, b, c)
    }

    fn proj_op(
        &mut self,
        op: VectorOp,
        a: &mut GpuProjections,
        b: Option<&GpuProjections>,
        c: Option<&GpuProjections>,
    ) -> Result<()> {
        record_projections_op(self.rec(), op, a, b, c)
    }

    fn mask(&mut self, x: &mut GpuVolume) -> Result<()> {
        match &self.mask {
            Some(m) => {
                self.pending = true;
                record_vector_op(&mut self.rec, VectorOp::Mul, x, Some(m), None)
            }
            None => Ok(()),
        }
    }

    fn vol_norm2(&mut self, v: &GpuVolume) -> Result<GpuScalar> {
        Ok(GpuScalar::Norm(record_norm2(self.rec(), v)?))
    }

    fn proj_norm2(&mut self, p: &GpuProjections) -> Result<GpuScalar> {
        Ok(GpuScalar::Norm(record_projections_norm2(self.rec(), p)?))
    }

    fn tv_prox(&mut self, z: &GpuVolume, mu: f32, iterations: usize, out: &mut GpuVolume) -> Result<()> {
        if self.tv.is_none() {
            self.tv = Some(GpuTv::new(self.ctx, self.shape)?);
        }
        self.pending = true;
        let tv = self.tv.as_ref().expect("made above");
        tv.record_prox(&mut self.rec, z, mu, iterations, out)
    }

    fn total_variation(&mut self, x: &GpuVolume) -> Result<GpuScalar> {
        if self.tv.is_none() {
            self.tv = Some(GpuTv::new(self.ctx, self.shape)?);
        }
        self.pending = true;
        let tv = self.tv.as_ref().expect("made above");
        Ok(GpuScalar::Sum(tv.record_total_variation(&mut self.rec, x)?))
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending {
            self.rec.flush()?;
            self.pending = false;
        }
        Ok(())
    }

    fn read(&mut self, scalar: GpuScalar) -> Result<f64> {
        self.flush()?;
        match scalar {
            GpuScalar::Norm(n) => n.finish(self.ctx),
            GpuScalar::Sum(m) => tv_from_moments(self.ctx, m),
        }
    }
}

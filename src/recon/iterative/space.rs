//! The vector spaces the iterative methods work in: volumes and projection stacks on one
//! backend, the projectors of the subsets, elementwise operations ([`VectorOp`]), squared norms
//! and the TV step. The methods in `iterative.rs` are written once against [`Space`];
//! [`CpuSpace`] runs each operation at once, [`GpuSpace`] records it and submits when the
//! method reads scalars ([`Space::read_all`]: one submission and one 4-byte-per-scalar
//! read-back, once per iteration) or at a [`Space::checkpoint`] after much work. Scalars stay on
//! the device until read: step lengths that are ratios of norms (CGLS, the power iteration)
//! are coefficients of later kernels ([`Coef`]), not host round trips.

use std::sync::Arc;

use ndarray::{Array3, ArrayView3};

use super::tv::{GpuTv, prox_cpu, total_variation};
use crate::error::Result;
use crate::gpu::scalars::{
    DeviceCoefficient, DeviceScalar, record_norm2_scalar, record_projections_norm2_scalar, record_read,
};
use crate::gpu::vector_ops::{
    VectorOp, norm2_cpu, record_projections_op, record_projections_op_scaled, record_vector_op, record_vector_op_scaled,
};
use crate::gpu::{GpuContext, GpuProjections, GpuVolume, Recorder};
use crate::recon::Projector;

/// A factor made of scalars that may still be on the device: `num / den`, or `1 / √den`; 0
/// where `den` is not positive.
pub(super) enum Coef<'s, T> {
    Ratio(&'s T, &'s T),
    InverseRoot(&'s T),
}

// By hand: the derives would ask `T: Copy` of the referenced scalars.
impl<T> Clone for Coef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Coef<'_, T> {}

/// Volume × views updates a GPU space records before a [`Space::checkpoint`] submits them: a
/// fraction of a second on a GPU, seconds on a software adapter (whose long waits for a single
/// submission are what checkpoints avoid; a small problem runs an iteration per submission).
const CHECKPOINT_UPDATES: u64 = 1 << 28;

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
    /// `op` on volumes with its first scalar multiplied by `coef` (see `VectorOp::scaled`).
    fn vol_op_by(
        &mut self,
        op: VectorOp,
        a: &mut Self::Vol,
        b: Option<&Self::Vol>,
        c: Option<&Self::Vol>,
        coef: Coef<'_, Self::Scalar>,
    ) -> Result<()>;
    /// `op` on projections with its first scalar multiplied by `coef`.
    fn proj_op_by(
        &mut self,
        op: VectorOp,
        a: &mut Self::Proj,
        b: Option<&Self::Proj>,
        c: Option<&Self::Proj>,
        coef: Coef<'_, Self::Scalar>,
    ) -> Result<()>;
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
    /// Submits if much work has been recorded since the last submission.
    fn checkpoint(&mut self) -> Result<()>;
    /// The scalars' values, all with one host round trip.
    fn read_all(&mut self, scalars: &[&Self::Scalar]) -> Result<Vec<f64>>;
    /// One scalar's value.
    fn read(&mut self, scalar: &Self::Scalar) -> Result<f64> {
        Ok(self.read_all(&[scalar])?[0])
    }
}

/// The factor of `coef` from the scalars' values (the CPU space's twin of the device
/// coefficient in `vector_ops.wgsl`).
fn coef_value(coef: Coef<'_, f64>) -> f32 {
    let (num, den, root) = match coef {
        Coef::Ratio(num, den) => (*num, *den, false),
        Coef::InverseRoot(den) => (1.0, *den, true),
    };
    match (den > 0.0, root) {
        (false, _) => 0.0,
        (true, true) => (1.0 / den.sqrt()) as f32,
        (true, false) => (num / den) as f32,
    }
}

fn device_coef<'s>(coef: Coef<'s, DeviceScalar>) -> DeviceCoefficient<'s> {
    match coef {
        Coef::Ratio(num, den) => DeviceCoefficient::Ratio { num, den },
        Coef::InverseRoot(den) => DeviceCoefficient::InverseRoot(den),
    }
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

    fn vol_op_by(
        &mut self,
        op: VectorOp,
        a: &mut Array3<f32>,
        b: Option<&Array3<f32>>,
        c: Option<&Array3<f32>>,
        coef: Coef<'_, f64>,
    ) -> Result<()> {
        apply_cpu(op.scaled(coef_value(coef)), a, b, c)
    }

    fn proj_op_by(
        &mut self,
        op: VectorOp,
        a: &mut Array3<f32>,
        b: Option<&Array3<f32>>,
        c: Option<&Array3<f32>>,
        coef: Coef<'_, f64>,
    ) -> Result<()> {
        apply_cpu(op.scaled(coef_value(coef)), a, b, c)
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

    fn checkpoint(&mut self) -> Result<()> {
        Ok(())
    }

    fn read_all(&mut self, scalars: &[&f64]) -> Result<Vec<f64>> {
        Ok(scalars.iter().map(|&&s| s).collect())
    }
}

/// The GPU: resident buffers, operations recorded into one recorder, submitted at each flush.
pub(super) struct GpuSpace<'c> {
    ctx: &'c GpuContext,
    rec: Recorder<'c>,
    /// Whether anything was recorded since the last submission.
    pending: bool,
    /// Projector updates (voxels × views) recorded since the last submission.
    pending_updates: u64,
    projectors: Vec<Arc<dyn Projector>>,
    shape: [usize; 3],
    mask: Option<GpuVolume>,
    /// The TV step's buffers, made on first use.
    tv: Option<GpuTv>,
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
            pending_updates: 0,
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

    /// Counts a projection of subset `s` towards the next checkpoint.
    fn count_updates(&mut self, s: usize) {
        let views = self.projectors[s].projection_shape()[0] as u64;
        let voxels: u64 = self.shape.iter().map(|&n| n as u64).product();
        self.pending_updates += views * voxels;
    }
}

impl<'c> Space for GpuSpace<'c> {
    type Vol = GpuVolume;
    type Proj = GpuProjections;
    type Scalar = DeviceScalar;

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
        self.count_updates(s);
        let projector = self.projectors[s].clone();
        let rec = self.rec();
        record_projections_op(rec, VectorOp::Fill(0.0), out, None, None)?;
        projector.record_forward(rec, x, out)
    }

    fn backward(&mut self, s: usize, y: &GpuProjections, out: &mut GpuVolume) -> Result<()> {
        self.count_updates(s);
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

    fn vol_op_by(
        &mut self,
        op: VectorOp,
        a: &mut GpuVolume,
        b: Option<&GpuVolume>,
        c: Option<&GpuVolume>,
        coef: Coef<'_, DeviceScalar>,
    ) -> Result<()> {
        record_vector_op_scaled(self.rec(), op, a, b, c, device_coef(coef))
    }

    fn proj_op_by(
        &mut self,
        op: VectorOp,
        a: &mut GpuProjections,
        b: Option<&GpuProjections>,
        c: Option<&GpuProjections>,
        coef: Coef<'_, DeviceScalar>,
    ) -> Result<()> {
        record_projections_op_scaled(self.rec(), op, a, b, c, device_coef(coef))
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

    fn vol_norm2(&mut self, v: &GpuVolume) -> Result<DeviceScalar> {
        record_norm2_scalar(self.rec(), v)
    }

    fn proj_norm2(&mut self, p: &GpuProjections) -> Result<DeviceScalar> {
        record_projections_norm2_scalar(self.rec(), p)
    }

    fn tv_prox(&mut self, z: &GpuVolume, mu: f32, iterations: usize, out: &mut GpuVolume) -> Result<()> {
        if self.tv.is_none() {
            self.tv = Some(GpuTv::new(self.ctx, self.shape)?);
        }
        self.pending = true;
        let tv = self.tv.as_ref().expect("made above");
        tv.record_prox(&mut self.rec, z, mu, iterations, out)
    }

    fn total_variation(&mut self, x: &GpuVolume) -> Result<DeviceScalar> {
        if self.tv.is_none() {
            self.tv = Some(GpuTv::new(self.ctx, self.shape)?);
        }
        self.pending = true;
        let tv = self.tv.as_ref().expect("made above");
        tv.record_total_variation(&mut self.rec, x)
    }

    fn flush(&mut self) -> Result<()> {
        if self.pending {
            self.rec.flush()?;
            self.pending = false;
            self.pending_updates = 0;
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> Result<()> {
        if self.pending_updates >= CHECKPOINT_UPDATES {
            self.flush()?;
        }
        Ok(())
    }

    fn read_all(&mut self, scalars: &[&DeviceScalar]) -> Result<Vec<f64>> {
        let pending = record_read(self.rec(), scalars);
        self.flush()?;
        pending.finish(self.ctx)
    }
}

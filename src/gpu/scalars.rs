//! Scalars that stay on the device: a reduction's result (a squared norm, a sum) merged into a
//! 4-byte buffer by one workgroup (`scalar_merge.wgsl`), which later kernels in the same
//! recording read as a coefficient ([`DeviceCoefficient`], e.g. CGLS's step lengths as ratios
//! of norms), and which the host reads only when it needs the value — several at once with one
//! read-back ([`record_read`]). Iterative methods thereby wait for the host once per
//! iteration, not once per scalar.

use crate::error::Result;
use crate::gpu::kernel::{Binding, KernelSpec, uniform};
use crate::gpu::projections::GpuProjections;
use crate::gpu::recorder::{BufferWindow, Readback, Recorder};
use crate::gpu::reduce::record_moment_partials;
use crate::gpu::volume::GpuVolume;

pub(crate) static SCALAR_MERGE: KernelSpec = KernelSpec {
    name: "gpu/scalar_merge",
    sources: &[include_str!("../../shaders/gpu/scalar_merge.wgsl")],
    entry: "merge",
    bindings: &[uniform::<MergeParams>(), Binding::Read, Binding::ReadWrite],
    constants: &[WHAT],
};

crate::wgsl_constants!(WHAT: u32 { SCALAR_SUM = 0, SCALAR_SUM_OF_SQUARES = 1 });

/// Twin of `Params` in `scalar_merge.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MergeParams {
    partials: u32,
    what: u32,
    accumulate: u32,
    _pad: u32,
}

/// An f32 on the device, written by the kernels that record it.
#[derive(Debug)]
pub struct DeviceScalar {
    buffer: wgpu::Buffer,
}

impl DeviceScalar {
    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }
}

/// How a vector operation's first scalar is multiplied by device scalars (see
/// `VectorOp::encode`'s `s0`): 0 where the denominator is not positive.
#[derive(Debug, Clone, Copy, Default)]
pub enum DeviceCoefficient<'a> {
    /// × 1.
    #[default]
    One,
    /// × num / den.
    Ratio {
        /// Numerator.
        num: &'a DeviceScalar,
        /// Denominator.
        den: &'a DeviceScalar,
    },
    /// × 1 / √den.
    InverseRoot(&'a DeviceScalar),
}

// Coefficient codes of `vector_ops.wgsl`.
crate::wgsl_constants!(pub(crate) COEFFICIENTS: u32 { COEF_ONE = 0, COEF_RATIO = 1, COEF_INVERSE_ROOT = 2 });

impl<'a> DeviceCoefficient<'a> {
    /// The shader's code and the scalars it binds as numerator and denominator.
    pub(crate) fn encode(self) -> (u32, [Option<&'a wgpu::Buffer>; 2]) {
        match self {
            DeviceCoefficient::One => (COEF_ONE, [None, None]),
            DeviceCoefficient::Ratio { num, den } => (COEF_RATIO, [Some(num.buffer()), Some(den.buffer())]),
            DeviceCoefficient::InverseRoot(den) => (COEF_INVERSE_ROOT, [None, Some(den.buffer())]),
        }
    }
}

fn merge_into(rec: &mut Recorder<'_>, v: &GpuVolume, what: u32, out: &DeviceScalar, accumulate: bool) -> Result<()> {
    let (partials, count) = record_moment_partials(rec, v)?;
    let params = rec.uniform(&MergeParams {
        partials: count,
        what,
        accumulate: u32::from(accumulate),
        _pad: 0,
    });
    rec.dispatch_groups(
        &SCALAR_MERGE,
        &[
            BufferWindow::whole(&params),
            BufferWindow::whole(&partials),
            BufferWindow::whole(out.buffer()),
        ],
        [1, 1, 1],
    )
}

fn new_scalar(rec: &Recorder<'_>) -> DeviceScalar {
    DeviceScalar { buffer: rec.scratch(4) }
}

/// `Σ v²` of a volume (NaNs excluded), on the device.
pub fn record_norm2_scalar(rec: &mut Recorder<'_>, v: &GpuVolume) -> Result<DeviceScalar> {
    let out = new_scalar(rec);
    merge_into(rec, v, SCALAR_SUM_OF_SQUARES, &out, false)?;
    Ok(out)
}

/// `Σ v²` of a projection stack (NaNs excluded), on the device.
pub fn record_projections_norm2_scalar(rec: &mut Recorder<'_>, p: &GpuProjections) -> Result<DeviceScalar> {
    let out = new_scalar(rec);
    for (k, (_, batch)) in p.batches().enumerate() {
        merge_into(rec, batch, SCALAR_SUM_OF_SQUARES, &out, k > 0)?;
    }
    Ok(out)
}

/// `Σ v` of a volume (NaNs excluded), on the device.
pub fn record_sum_scalar(rec: &mut Recorder<'_>, v: &GpuVolume) -> Result<DeviceScalar> {
    let out = new_scalar(rec);
    merge_into(rec, v, SCALAR_SUM, &out, false)?;
    Ok(out)
}

/// Scalars on their way to the host together (one read-back).
#[derive(Debug)]
pub struct PendingScalars {
    readback: Readback,
    count: usize,
}

impl PendingScalars {
    /// The values, once the recording has been submitted.
    pub fn finish(self, ctx: &crate::gpu::GpuContext) -> Result<Vec<f64>> {
        let bytes = self.readback.read(ctx)?;
        Ok(bytemuck::pod_collect_to_vec::<u8, f32>(&bytes[..self.count * 4])
            .into_iter()
            .map(f64::from)
            .collect())
    }
}

/// Records copies of `scalars` into one buffer and its read-back.
pub fn record_read(rec: &mut Recorder<'_>, scalars: &[&DeviceScalar]) -> PendingScalars {
    if let [one] = scalars {
        return PendingScalars {
            readback: rec.read_back(one.buffer(), 4),
            count: 1,
        };
    }
    let gather = rec.scratch(4 * scalars.len() as u64);
    for (i, s) in scalars.iter().enumerate() {
        rec.copy(s.buffer(), 0, &gather, 4 * i as u64, 4);
    }
    PendingScalars {
        readback: rec.read_back(&gather, 4 * scalars.len() as u64),
        count: scalars.len(),
    }
}

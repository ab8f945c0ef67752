//! Elementwise vector operations and squared norms on resident volumes and projection stacks,
//! for algorithms that stay on the GPU for many iterations (the iterative methods): one
//! dispatch per binding window, operands of equal shape windowed alike, squared norms through
//! the moments reduction (two stages, partials merged on the host in f64).
//!
//! [`VectorOp::apply_cpu`] is the CPU twin, a line-by-line port of the shader's cases: the
//! iterative methods run the same operations on either backend.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::gpu::kernel::KernelSpec;
use crate::gpu::kernel::{Binding, uniform};
use crate::gpu::projections::GpuProjections;
use crate::gpu::recorder::{BufferWindow, Recorder};
use crate::gpu::reduce::{PendingMoments, record_moments};
use crate::gpu::scalars::{COEFFICIENTS, DeviceCoefficient};
use crate::gpu::tiling::{for_each_window, window};
use crate::gpu::volume::GpuVolume;

pub(crate) static VECTOR_OP: KernelSpec = KernelSpec {
    name: "gpu/vector_op",
    sources: &[include_str!("../../shaders/gpu/vector_ops.wgsl")],
    entry: "vector_op",
    bindings: &[
        uniform::<Params>(),
        Binding::ReadWrite,
        Binding::Read,
        Binding::Read,
        Binding::Read,
        Binding::Read,
    ],
    constants: &[OP_CODES, CUTOFFS, COEFFICIENTS],
};

/// An elementwise operation; `a` is the destination (twin of the cases in `vector_ops.wgsl`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VectorOp {
    /// `a = value`.
    Fill(f32),
    /// `a = b · c`.
    MulTo,
    /// `a = clamp(a + λ · b · c, lo, hi)`.
    Update {
        /// Step λ.
        lambda: f32,
        /// Lower bound (−∞ for none).
        lo: f32,
        /// Upper bound (+∞ for none).
        hi: f32,
    },
    /// `a = b − c`.
    DiffTo,
    /// `a = a + α · b`.
    Axpy(f32),
    /// `a = b + β · a`.
    Xpby(f32),
    /// `a = b / c` where `c > 0`, else 0.
    DivTo,
    /// `a = clamp(a · b / c, lo, hi)` where `c > 0`, else 0.
    EmUpdate {
        /// Lower bound.
        lo: f32,
        /// Upper bound.
        hi: f32,
    },
    /// `a = 1 / a` where `a > 10⁻⁶`, else 0.
    Reciprocal,
    /// `a = a · b`.
    Mul,
    /// `a = clamp(a, lo, hi)`.
    Clamp {
        /// Lower bound.
        lo: f32,
        /// Upper bound.
        hi: f32,
    },
    /// `a = s · a`.
    Scale(f32),
    /// `a = α · b + β · c`.
    Lincomb {
        /// Weight of `b`.
        alpha: f32,
        /// Weight of `c`.
        beta: f32,
    },
    /// `a = b + β · (b − c)`: FISTA's momentum step.
    Extrapolate(f32),
}

impl VectorOp {
    /// Shader code, scalars, and how many inputs besides `a` it reads.
    fn encode(self) -> (u32, [f32; 3], usize) {
        match self {
            VectorOp::Fill(v) => (OP_FILL, [v, 0.0, 0.0], 0),
            VectorOp::MulTo => (OP_MUL_TO, [0.0; 3], 2),
            VectorOp::Update { lambda, lo, hi } => (OP_UPDATE, [lambda, lo, hi], 2),
            VectorOp::DiffTo => (OP_DIFF_TO, [0.0; 3], 2),
            VectorOp::Axpy(alpha) => (OP_AXPY, [alpha, 0.0, 0.0], 1),
            VectorOp::Xpby(beta) => (OP_XPBY, [beta, 0.0, 0.0], 1),
            VectorOp::DivTo => (OP_DIV_TO, [0.0; 3], 2),
            VectorOp::EmUpdate { lo, hi } => (OP_EM_UPDATE, [0.0, lo, hi], 2),
            VectorOp::Reciprocal => (OP_RECIPROCAL, [0.0; 3], 0),
            VectorOp::Mul => (OP_MUL, [0.0; 3], 1),
            VectorOp::Clamp { lo, hi } => (OP_CLAMP, [0.0, lo, hi], 0),
            VectorOp::Scale(v) => (OP_SCALE, [v, 0.0, 0.0], 0),
            VectorOp::Lincomb { alpha, beta } => (OP_LINCOMB, [alpha, beta, 0.0], 2),
            VectorOp::Extrapolate(beta) => (OP_EXTRAPOLATE, [beta, 0.0, 0.0], 2),
        }
    }
}

// Values at or below RECIPROCAL_CUTOFF are treated as 0 by `VectorOp::Reciprocal` (rays or
// voxels the projector barely reaches would otherwise get huge weights).
crate::wgsl_constants!(pub CUTOFFS: f32 { RECIPROCAL_CUTOFF = 1e-6 });

// The op codes `vector_ops.wgsl` switches on, emitted into it from here.
crate::wgsl_constants!(OP_CODES: u32 {
    OP_FILL = 0,
    OP_MUL_TO = 1,
    OP_UPDATE = 2,
    OP_DIFF_TO = 3,
    OP_AXPY = 4,
    OP_XPBY = 5,
    OP_DIV_TO = 6,
    OP_EM_UPDATE = 7,
    OP_RECIPROCAL = 8,
    OP_MUL = 9,
    OP_CLAMP = 10,
    OP_SCALE = 11,
    OP_LINCOMB = 12,
    OP_EXTRAPOLATE = 13,
});

/// Elements per rayon task of [`VectorOp::apply_cpu`].
const CPU_CHUNK: usize = 1 << 14;

impl VectorOp {
    /// The operation on one element: `a` the destination's value, `b` and `c` the inputs' (0
    /// where the op reads none). Twin of the `switch` in `vector_ops.wgsl`.
    #[inline(always)]
    fn element(self, a: f32, b: f32, c: f32) -> f32 {
        match self {
            VectorOp::Fill(v) => v,
            VectorOp::MulTo => b * c,
            VectorOp::Update { lambda, lo, hi } => (a + lambda * b * c).clamp(lo, hi),
            VectorOp::DiffTo => b - c,
            VectorOp::Axpy(alpha) => a + alpha * b,
            VectorOp::Xpby(beta) => b + beta * a,
            VectorOp::DivTo => {
                if c > 0.0 {
                    b / c
                } else {
                    0.0
                }
            }
            VectorOp::EmUpdate { lo, hi } => {
                if c > 0.0 {
                    (a * b / c).clamp(lo, hi)
                } else {
                    0.0
                }
            }
            VectorOp::Reciprocal => {
                if a > RECIPROCAL_CUTOFF {
                    1.0 / a
                } else {
                    0.0
                }
            }
            VectorOp::Mul => a * b,
            VectorOp::Clamp { lo, hi } => a.clamp(lo, hi),
            VectorOp::Scale(v) => v * a,
            VectorOp::Lincomb { alpha, beta } => alpha * b + beta * c,
            VectorOp::Extrapolate(beta) => b + beta * (b - c),
        }
    }

    /// The operation with its first scalar (`s0` of the shader) multiplied by `k`: the host
    /// twin of [`record_vector_op_scaled`].
    pub fn scaled(self, k: f32) -> VectorOp {
        match self {
            VectorOp::Fill(v) => VectorOp::Fill(v * k),
            VectorOp::Update { lambda, lo, hi } => VectorOp::Update {
                lambda: lambda * k,
                lo,
                hi,
            },
            VectorOp::Axpy(alpha) => VectorOp::Axpy(alpha * k),
            VectorOp::Xpby(beta) => VectorOp::Xpby(beta * k),
            VectorOp::Scale(v) => VectorOp::Scale(v * k),
            VectorOp::Lincomb { alpha, beta } => VectorOp::Lincomb { alpha: alpha * k, beta },
            VectorOp::Extrapolate(beta) => VectorOp::Extrapolate(beta * k),
            VectorOp::MulTo
            | VectorOp::DiffTo
            | VectorOp::DivTo
            | VectorOp::EmUpdate { .. }
            | VectorOp::Reciprocal
            | VectorOp::Mul
            | VectorOp::Clamp { .. } => self,
        }
    }

    /// How many inputs besides `a` the operation reads.
    pub fn inputs(self) -> usize {
        self.encode().2
    }

    /// The operation on host slices of equal length, in parallel (the CPU twin of
    /// [`record_vector_op`]).
    pub fn apply_cpu(self, a: &mut [f32], b: Option<&[f32]>, c: Option<&[f32]>) -> Result<()> {
        let inputs = self.inputs();
        for (k, operand) in [b, c].iter().enumerate().take(inputs) {
            match operand {
                Some(v) if v.len() != a.len() => {
                    return Err(Error::InvalidShape(format!(
                        "vector operation {self:?}: operand {} has {} elements, the destination {}",
                        k + 1,
                        v.len(),
                        a.len()
                    )));
                }
                Some(_) => {}
                None => return Err(Error::param("operand", format!("{self:?} needs {inputs} input(s)"))),
            }
        }
        let (b, c) = (b.filter(|_| inputs >= 1), c.filter(|_| inputs >= 2));
        a.par_chunks_mut(CPU_CHUNK).enumerate().for_each(|(chunk, a)| {
            let at = chunk * CPU_CHUNK;
            let b = b.map(|b| &b[at..at + a.len()]);
            let c = c.map(|c| &c[at..at + a.len()]);
            for (i, a) in a.iter_mut().enumerate() {
                *a = self.element(*a, b.map_or(0.0, |b| b[i]), c.map_or(0.0, |c| c[i]));
            }
        });
        Ok(())
    }
}

/// `Σ v²` in f64 on the CPU, NaNs excluded (the twin of [`record_norm2`]).
pub fn norm2_cpu(values: &[f32]) -> f64 {
    values
        .par_chunks(CPU_CHUNK)
        .map(|chunk| {
            chunk
                .iter()
                .filter(|v| !v.is_nan())
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
        })
        .sum()
}

/// Twin of `Params` in `vector_ops.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    op: u32,
    count: u32,
    off_a: u32,
    off_b: u32,
    off_c: u32,
    s0: f32,
    s1: f32,
    s2: f32,
    coefficient: u32,
    _pad: [u32; 3],
}

/// Records `op` on volumes of one shape (`b`, `c` as the op needs them; none may be `a`).
pub fn record_vector_op(
    rec: &mut Recorder<'_>,
    op: VectorOp,
    a: &GpuVolume,
    b: Option<&GpuVolume>,
    c: Option<&GpuVolume>,
) -> Result<()> {
    record_vector_op_scaled(rec, op, a, b, c, DeviceCoefficient::One)
}

/// [`record_vector_op`] with the op's first scalar (α of `Axpy`, β of `Xpby`, the factor of
/// `Scale`, …) multiplied by `coefficient`, a value still on the device.
pub fn record_vector_op_scaled(
    rec: &mut Recorder<'_>,
    op: VectorOp,
    a: &GpuVolume,
    b: Option<&GpuVolume>,
    c: Option<&GpuVolume>,
    coefficient: DeviceCoefficient<'_>,
) -> Result<()> {
    let (code, s, inputs) = op.encode();
    let (coefficient, [num, den]) = coefficient.encode();
    let given = [b, c];
    for (k, operand) in given.iter().enumerate().take(inputs) {
        match operand {
            Some(v) if v.shape() != a.shape() => {
                return Err(Error::InvalidShape(format!(
                    "vector operation {op:?}: operand {} is {:?}, the destination {:?}",
                    k + 1,
                    v.shape(),
                    a.shape()
                )));
            }
            Some(_) => {}
            None => return Err(Error::param("operand", format!("{op:?} needs {inputs} input(s)"))),
        }
    }
    // Unused inputs bind the device's placeholder (a binding may not alias the destination).
    let ctx = rec.context();
    let placeholder = ctx.placeholder();
    let align = rec.context().storage_offset_alignment().max(4);
    for_each_window(rec, a, |rec, win_a, off_a, first, elems| {
        let (win_b, off_b) = match b.filter(|_| inputs >= 1) {
            Some(v) => window(v.buffer(), first, elems, align),
            None => (BufferWindow::whole(placeholder), 0),
        };
        let (win_c, off_c) = match c.filter(|_| inputs >= 2) {
            Some(v) => window(v.buffer(), first, elems, align),
            None => (BufferWindow::whole(placeholder), 0),
        };
        let params = rec.uniform(&Params {
            op: code,
            count: elems as u32,
            off_a,
            off_b,
            off_c,
            s0: s[0],
            s1: s[1],
            s2: s[2],
            coefficient,
            _pad: [0; 3],
        });
        rec.dispatch_linear(
            &VECTOR_OP,
            &[
                BufferWindow::whole(&params),
                win_a,
                win_b,
                win_c,
                BufferWindow::whole(num.unwrap_or(placeholder)),
                BufferWindow::whole(den.unwrap_or(placeholder)),
            ],
            elems,
        )
    })
}

/// Records `op` on projection stacks of one shape, batch by batch.
pub fn record_projections_op(
    rec: &mut Recorder<'_>,
    op: VectorOp,
    a: &GpuProjections,
    b: Option<&GpuProjections>,
    c: Option<&GpuProjections>,
) -> Result<()> {
    record_projections_op_scaled(rec, op, a, b, c, DeviceCoefficient::One)
}

/// [`record_projections_op`] with the op's first scalar multiplied by `coefficient`.
pub fn record_projections_op_scaled(
    rec: &mut Recorder<'_>,
    op: VectorOp,
    a: &GpuProjections,
    b: Option<&GpuProjections>,
    c: Option<&GpuProjections>,
    coefficient: DeviceCoefficient<'_>,
) -> Result<()> {
    for operand in [b, c].into_iter().flatten() {
        if operand.shape() != a.shape() {
            return Err(Error::InvalidShape(format!(
                "vector operation {op:?}: projections {:?} and {:?}",
                operand.shape(),
                a.shape()
            )));
        }
    }
    let bs: Vec<Option<&GpuVolume>> = match b {
        Some(b) => b.batches().map(|(_, v)| Some(v)).collect(),
        None => a.batches().map(|_| None).collect(),
    };
    let cs: Vec<Option<&GpuVolume>> = match c {
        Some(c) => c.batches().map(|(_, v)| Some(v)).collect(),
        None => a.batches().map(|_| None).collect(),
    };
    for (((_, a), b), c) in a.batches().zip(bs).zip(cs) {
        record_vector_op_scaled(rec, op, a, b, c, coefficient)?;
    }
    Ok(())
}

/// A squared norm recorded on the GPU, readable after the submission.
#[derive(Debug)]
pub struct PendingNorm {
    parts: Vec<PendingMoments>,
}

impl PendingNorm {
    /// `Σ v²` (NaNs excluded), from the merged moments: `M2 + n · mean²`.
    pub fn finish(self, ctx: &crate::gpu::GpuContext) -> Result<f64> {
        let mut sum = 0.0;
        for part in self.parts {
            let m = part.finish(ctx)?;
            sum += m.m2 + m.count as f64 * m.mean * m.mean;
        }
        Ok(sum)
    }
}

/// Records `Σ v²` of a volume.
pub fn record_norm2(rec: &mut Recorder<'_>, v: &GpuVolume) -> Result<PendingNorm> {
    Ok(PendingNorm {
        parts: vec![record_moments(rec, v)?],
    })
}

/// Records `Σ v²` of a projection stack.
pub fn record_projections_norm2(rec: &mut Recorder<'_>, p: &GpuProjections) -> Result<PendingNorm> {
    Ok(PendingNorm {
        parts: p
            .batches()
            .map(|(_, v)| record_moments(rec, v))
            .collect::<Result<_>>()?,
    })
}

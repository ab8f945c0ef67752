//! Pointwise programs: a short list of per-voxel operations (affine, clip, VOI LUT windows,
//! thresholds, squares, roots, sums with a second volume) run in one pass over the data.
//!
//! The intensity filters ([`super::intensity`]) and the magnitude/sum steps of the derivative
//! filters are pointwise programs, so a chain such as rescale → window → clip costs one read
//! and one write of the volume, on either backend. The GPU kernel (`pointwise.wgsl`) walks the
//! same op list for every voxel: the loop is uniform across threads, so it costs nothing next
//! to the memory traffic.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::Result;
use crate::gpu::{Binding, TILE, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_slab, wgsl};

pub(crate) static KERNEL: KernelSpec = KernelSpec {
    name: "filter/pointwise",
    sources: &[
        wgsl::FLOAT,
        wgsl::TILE,
        include_str!("../../shaders/filter/pointwise.wgsl"),
    ],
    entry: "pointwise",
    bindings: &[
        TILE,
        uniform::<[u32; 4]>(),
        Binding::Read,
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[OP_CODES],
};

/// One operation of a pointwise program; `v` is the running value, `b` the second input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Op {
    /// `v * scale + offset`.
    Affine { scale: f32, offset: f32 },
    /// `v` limited to `[lo, hi]`; NaN stays NaN.
    Clip { lo: f32, hi: f32 },
    /// DICOM VOI LUT function LINEAR (PS3.3 C.11.2.1.2.1).
    WindowLinear {
        center: f32,
        width: f32,
        y_min: f32,
        y_max: f32,
    },
    /// DICOM VOI LUT function LINEAR_EXACT (PS3.3 C.11.2.1.3.2).
    WindowLinearExact {
        center: f32,
        width: f32,
        y_min: f32,
        y_max: f32,
    },
    /// DICOM VOI LUT function SIGMOID (PS3.3 C.11.2.1.3.1).
    WindowSigmoid {
        center: f32,
        width: f32,
        y_min: f32,
        y_max: f32,
    },
    /// `inside` where `lo <= v <= hi`, else `outside` (NaN is outside).
    Threshold {
        lo: f32,
        hi: f32,
        inside: f32,
        outside: f32,
    },
    /// `v * v`.
    Square,
    /// `sqrt(v)`.
    Sqrt,
    /// `v + b`.
    AddSecond,
    /// `v + b * b`.
    AddSecondSquared,
    /// `v + (v - b) * amount` (unsharp masking with `b` the blurred image).
    SharpenWithSecond { amount: f32 },
    /// `1 / (1 + exp(gain · (cutoff − v)))`: scikit-image's sigmoid contrast curve.
    Sigmoid { cutoff: f32, gain: f32 },
}

// The op codes `pointwise.wgsl` switches on, emitted into it from here.
crate::wgsl_constants!(OP_CODES: u32 {
    PW_AFFINE = 0,
    PW_CLIP = 1,
    PW_WINDOW_LINEAR = 2,
    PW_WINDOW_LINEAR_EXACT = 3,
    PW_WINDOW_SIGMOID = 4,
    PW_THRESHOLD = 5,
    PW_SQUARE = 6,
    PW_SQRT = 7,
    PW_ADD_SECOND = 8,
    PW_ADD_SECOND_SQUARED = 9,
    PW_SHARPEN_WITH_SECOND = 10,
    PW_SIGMOID = 11,
});

/// Twin of `Op` in `pointwise.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuOp {
    code: u32,
    _pad: [u32; 3],
    p: [f32; 4],
}

impl Op {
    fn encode(self) -> GpuOp {
        let (code, p) = match self {
            Op::Affine { scale, offset } => (PW_AFFINE, [scale, offset, 0.0, 0.0]),
            Op::Clip { lo, hi } => (PW_CLIP, [lo, hi, 0.0, 0.0]),
            Op::WindowLinear {
                center,
                width,
                y_min,
                y_max,
            } => (PW_WINDOW_LINEAR, [center, width, y_min, y_max]),
            Op::WindowLinearExact {
                center,
                width,
                y_min,
                y_max,
            } => (PW_WINDOW_LINEAR_EXACT, [center, width, y_min, y_max]),
            Op::WindowSigmoid {
                center,
                width,
                y_min,
                y_max,
            } => (PW_WINDOW_SIGMOID, [center, width, y_min, y_max]),
            Op::Threshold {
                lo,
                hi,
                inside,
                outside,
            } => (PW_THRESHOLD, [lo, hi, inside, outside]),
            Op::Square => (PW_SQUARE, [0.0; 4]),
            Op::Sqrt => (PW_SQRT, [0.0; 4]),
            Op::AddSecond => (PW_ADD_SECOND, [0.0; 4]),
            Op::AddSecondSquared => (PW_ADD_SECOND_SQUARED, [0.0; 4]),
            Op::SharpenWithSecond { amount } => (PW_SHARPEN_WITH_SECOND, [amount, 0.0, 0.0, 0.0]),
            Op::Sigmoid { cutoff, gain } => (PW_SIGMOID, [cutoff, gain, 0.0, 0.0]),
        };
        GpuOp { code, _pad: [0; 3], p }
    }

    /// Whether the op reads the second input.
    fn uses_second(self) -> bool {
        matches!(
            self,
            Op::AddSecond | Op::AddSecondSquared | Op::SharpenWithSecond { .. }
        )
    }

    /// Applies the op to a chunk (`b`: the second input's chunk, if any). Each op is one
    /// vectorisable loop; the WGSL twin computes the same expressions in the same order.
    fn apply(self, v: &mut [f32], b: Option<&[f32]>) {
        match self {
            Op::Affine { scale, offset } => v.iter_mut().for_each(|x| *x = *x * scale + offset),
            Op::Clip { lo, hi } => v.iter_mut().for_each(|x| {
                *x = if *x < lo {
                    lo
                } else if *x > hi {
                    hi
                } else {
                    *x
                }
            }),
            // The piecewise DICOM definitions equal the clamped line (it is 0 and 1 at the
            // breakpoints); clamping keeps the loop branch-free and vectorised. NaN stays NaN.
            Op::WindowLinear {
                center,
                width,
                y_min,
                y_max,
            } => {
                let (c, w) = (center - 0.5, width - 1.0);
                if w == 0.0 {
                    // Width 1: a step at c (the line's slope is infinite).
                    v.iter_mut().for_each(|x| {
                        if !x.is_nan() {
                            *x = if *x <= c { y_min } else { y_max };
                        }
                    });
                } else {
                    v.iter_mut()
                        .for_each(|x| *x = window_line((*x - c) / w + 0.5, y_min, y_max));
                }
            }
            Op::WindowLinearExact {
                center,
                width,
                y_min,
                y_max,
            } => v
                .iter_mut()
                .for_each(|x| *x = window_line((*x - center) / width + 0.5, y_min, y_max)),
            Op::WindowSigmoid {
                center,
                width,
                y_min,
                y_max,
            } => v
                .iter_mut()
                .for_each(|x| *x = (y_max - y_min) / (1.0 + (-4.0 * (*x - center) / width).exp()) + y_min),
            Op::Threshold {
                lo,
                hi,
                inside,
                outside,
            } => v
                .iter_mut()
                .for_each(|x| *x = if *x >= lo && *x <= hi { inside } else { outside }),
            Op::Square => v.iter_mut().for_each(|x| *x *= *x),
            Op::Sqrt => v.iter_mut().for_each(|x| *x = x.sqrt()),
            Op::AddSecond => {
                let b = b.expect("second input");
                v.iter_mut().zip(b).for_each(|(x, b)| *x += b);
            }
            Op::AddSecondSquared => {
                let b = b.expect("second input");
                v.iter_mut().zip(b).for_each(|(x, b)| *x += b * b);
            }
            Op::SharpenWithSecond { amount } => {
                let b = b.expect("second input");
                v.iter_mut().zip(b).for_each(|(x, b)| *x += (*x - b) * amount);
            }
            Op::Sigmoid { cutoff, gain } => v
                .iter_mut()
                .for_each(|x| *x = 1.0 / (1.0 + (gain * (cutoff - *x)).exp())),
        }
    }
}

/// `t` clamped to [0, 1] and mapped to [y_min, y_max]; NaN stays NaN.
#[inline(always)]
fn window_line(t: f32, y_min: f32, y_max: f32) -> f32 {
    t.clamp(0.0, 1.0) * (y_max - y_min) + y_min
}

/// Values per chunk of the CPU path (each op sweeps a chunk that stays in L1).
const CHUNK: usize = 4096;

/// Runs `ops` over `a` (and `b`, for ops that read a second input) on the CPU: each chunk is
/// copied into the output (one read of the input, one write of the output) and transformed
/// there while it is in L1.
pub(crate) fn run_cpu(ops: &[Op], a: ArrayView3<'_, f32>, b: Option<ArrayView3<'_, f32>>) -> Array3<f32> {
    let shape = a.raw_dim();
    let a = a.as_standard_layout();
    let src = a.as_slice().expect("standard layout");
    let b = b.map(|b| b.as_standard_layout().into_owned());
    let mut out = crate::memory::zeroed_f32(src.len());
    let run = |o: &mut [f32], s: &[f32], b: Option<&[f32]>| {
        o.copy_from_slice(s);
        for op in ops {
            op.apply(o, b);
        }
    };
    match &b {
        Some(b) => {
            let bs = b.as_slice().expect("standard layout");
            out.par_chunks_mut(CHUNK)
                .zip(src.par_chunks(CHUNK))
                .zip(bs.par_chunks(CHUNK))
                .for_each(|((o, s), b)| run(o, s, Some(b)));
        }
        None => out
            .par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(|(o, s)| run(o, s, None)),
    }
    Array3::from_shape_vec(shape, out).expect("shape matches length")
}

/// Records `ops` over `a` (and `b`) into a new volume.
pub(crate) fn record(rec: &mut Recorder<'_>, ops: &[Op], a: &GpuVolume, b: Option<&GpuVolume>) -> Result<GpuVolume> {
    let output = rec.volume(a.shape())?;
    record_into(rec, ops, a, b, &output)?;
    Ok(output)
}

/// Records `ops` over `a` (and `b`) into `output`, a volume distinct from both (a buffer cannot
/// be bound read-only and read-write in one dispatch).
pub(crate) fn record_into(
    rec: &mut Recorder<'_>,
    ops: &[Op],
    a: &GpuVolume,
    b: Option<&GpuVolume>,
    output: &GpuVolume,
) -> Result<()> {
    debug_assert_eq!(ops.iter().any(|o| o.uses_second()), b.is_some());
    let encoded: Vec<GpuOp> = ops.iter().map(|o| o.encode()).collect();
    let ops_buffer = rec.constants(if encoded.is_empty() {
        &[GpuOp {
            code: 0,
            _pad: [0; 3],
            p: [1.0, 0.0, 0.0, 0.0],
        }]
    } else {
        &encoded
    });
    let params = rec.uniform(&[encoded.len() as u32, 0, 0, 0]);
    let inputs = [a, b.unwrap_or(a)];
    for_each_slab(rec, &inputs, output, 0, crate::BoundaryMode::Nearest, |rec, slab| {
        rec.dispatch_linear(
            &KERNEL,
            &[
                BufferWindow::whole(&slab.tile),
                BufferWindow::whole(&params),
                BufferWindow::whole(&ops_buffer),
                slab.inputs[0],
                slab.inputs[1],
                slab.output,
            ],
            slab.items,
        )
    })
}

//! Pointwise programs: a short list of per-voxel operations (affine, clip, VOI LUT windows,
//! thresholds, squares, roots, sums with a second volume) run in one pass over the data.
//!
//! The intensity filters ([`super::intensity`]) and the magnitude/sum steps of the derivative
//! filters are pointwise programs, so a chain such as rescale → window → clip costs one read
//! and one write of the volume, on either backend. The GPU kernel (`pointwise.wgsl`) walks the
//! same op list for every voxel: the loop is uniform across threads, so it costs nothing next
//! to the memory traffic.

use ndarray::{Array3, ArrayView3, ArrayViewMut3};
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

    /// Applies the op to a chunk (`b`: the second input's chunk, if any), 16 or 8 lanes wide
    /// where the CPU has AVX-512 or AVX2 (the same operations, unfused, so the values do not
    /// depend on it).
    fn apply(self, v: &mut [f32], b: Option<&[f32]>) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports the features the function is compiled for.
                unsafe { self.apply_avx512(v, b) };
                return;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function is compiled for.
                unsafe { self.apply_avx2(v, b) };
                return;
            }
        }
        self.apply_lanes(v, b)
    }

    /// Eight lanes; FMA for the logistic curves' fused multiply-adds (without it `mul_add`
    /// would be a library call per value).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn apply_avx2(self, v: &mut [f32], b: Option<&[f32]>) {
        self.apply_lanes(v, b)
    }

    /// 16 lanes: the arithmetic ops (the sigmoid's `exp` and division) are bound by the vector
    /// rate, not by memory. The logistic curves scale by `2ⁿ` in one instruction (`vscalefps`)
    /// instead of the portable build's integer exponent arithmetic: the same value.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn apply_avx512(self, v: &mut [f32], b: Option<&[f32]>) {
        use std::arch::x86_64::*;
        match self {
            Op::Sigmoid { cutoff, gain } => {
                let (cutoff, gain) = (_mm512_set1_ps(cutoff), _mm512_set1_ps(gain));
                logistic_avx512(v, |x| _mm512_mul_ps(gain, _mm512_sub_ps(cutoff, x)), 1.0, None);
                let tail = v.len() - v.len() % 16;
                self.apply_lanes(&mut v[tail..], b);
            }
            Op::WindowSigmoid {
                center,
                width,
                y_min,
                y_max,
            } => {
                let (minus_four, center, width) = (_mm512_set1_ps(-4.0), _mm512_set1_ps(center), _mm512_set1_ps(width));
                let exponent = |x| _mm512_div_ps(_mm512_mul_ps(minus_four, _mm512_sub_ps(x, center)), width);
                logistic_avx512(v, exponent, y_max - y_min, Some(y_min));
                let tail = v.len() - v.len() % 16;
                self.apply_lanes(&mut v[tail..], b);
            }
            _ => self.apply_lanes(v, b),
        }
    }

    /// Each op is one vectorisable loop; the WGSL twin computes the same expressions in the
    /// same order.
    #[inline(always)]
    fn apply_lanes(self, v: &mut [f32], b: Option<&[f32]>) {
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
                .for_each(|x| *x = (y_max - y_min) / (1.0 + exp_fused(-4.0 * (*x - center) / width)) + y_min),
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
                .for_each(|x| *x = 1.0 / (1.0 + exp_fused(gain * (cutoff - *x)))),
        }
    }
}

/// `e^x` in f32 with arithmetic only (no libm call per value), so that loops over it
/// vectorise: `x = n ln 2 + r` with `ln 2` split in two (Cody & Waite: `n · LN2_HI` is exact),
/// `e^r` by its Taylor series to `r⁷` (|r| ≤ ln 2 / 2: truncation below 1e-8 relative), and
/// `2^n` as two exponent-field products so that results down to the subnormals and up to
/// overflow (∞) come out right. Within 2 ulp of the exact value (tested); NaN stays NaN.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75; // 0x3f317200: ln 2 with 12 trailing zero bits
    const LN2_LO: f32 = 1.428_606_8e-6; // ln 2 − LN2_HI
    // Round to nearest by the 1.5 · 2²³ trick (no rounding call; |x log2 e| < 2²²).
    const ROUNDER: f32 = 12_582_912.0;
    // max/min take the number when one operand is NaN: `clamped` is finite, so the
    // unchecked conversion below is sound (a saturating `as` does not vectorise).
    #[allow(clippy::manual_clamp)] // clamp keeps NaN, which the conversion must not see
    let clamped = x.max(-104.0).min(89.0);
    let n = (clamped * std::f32::consts::LOG2_E + ROUNDER) - ROUNDER;
    let r = (clamped - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p * r + c;
    }
    // SAFETY: |n| ≤ 151, finite.
    let n = unsafe { n.to_int_unchecked::<i32>() };
    let (n1, n2) = (n >> 1, n - (n >> 1));
    let power = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    let value = p * power(n1) * power(n2);
    if x.is_nan() { x } else { value }
}

/// Where [`exp_fused`] clamps its argument: below, `e^x` rounds to 0; above, to ∞.
const EXP_DOMAIN: (f32, f32) = (-104.0, 89.0);
/// `ln 2` in two parts (Cody & Waite): `n · LN2_HI` is exact for the `n` that occur.
const LN2_HI: f32 = 0.693_145_75; // 0x3f317200: ln 2 with 12 trailing zero bits
const LN2_LO: f32 = 1.428_606_8e-6; // ln 2 − LN2_HI
/// `e^r = 1 + r + r² q(r)` on |r| ≤ ln 2 / 2: `q`'s coefficients (degree 0 to 4), fitted here for
/// the least maximum relative error of `e^r` (Lawson's iteration on Chebyshev points; 3.8e-9
/// with the coefficients rounded to f32, 0.06 ulp).
const EXP_Q: [f32; 5] = [0.499_999_94, 0.166_665_21, 0.041_668_39, 0.008_368_71, 0.001_381_461_3];

/// `e^x` like [`exp_f32`], with fused multiply-adds and a fitted polynomial of degree 6 instead
/// of the Taylor series to `r⁷`: six multiply-adds instead of seven multiplies and seven adds.
/// For the logistic curves, whose cost is their arithmetic (a sigmoid over a volume runs at
/// half the copy bandwidth without this). `mul_add` is one instruction where the target has
/// FMA (every AVX2 and AArch64 CPU; the AVX-512 kernel uses the same operations) and an exact
/// library call otherwise, so every build gives the same bits. Within 2 ulp (tested); NaN
/// stays NaN.
#[inline(always)]
pub(crate) fn exp_fused(x: f32) -> f32 {
    const ROUNDER: f32 = 12_582_912.0; // 1.5 · 2²³: (y + ROUNDER) − ROUNDER rounds y to even
    #[allow(clippy::manual_clamp)] // clamp keeps NaN, which the conversion must not see
    let clamped = x.max(EXP_DOMAIN.0).min(EXP_DOMAIN.1);
    let n = (clamped * std::f32::consts::LOG2_E + ROUNDER) - ROUNDER;
    let r = (-n).mul_add(LN2_HI, clamped);
    let r = (-n).mul_add(LN2_LO, r);
    let q = EXP_Q[..4].iter().rev().fold(EXP_Q[4], |q, &c| q.mul_add(r, c));
    let p = q.mul_add(r, 1.0).mul_add(r, 1.0);
    // SAFETY: |n| ≤ 151, finite.
    let n = unsafe { n.to_int_unchecked::<i32>() };
    // Two exponent-field products: the first is exact (a normal number), so the value is
    // rounded once, as `vscalefps` rounds it.
    let (n1, n2) = (n >> 1, n - (n >> 1));
    let power = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    let value = p * power(n1) * power(n2);
    if x.is_nan() { x } else { value }
}

/// [`exp_fused`] on 16 lanes, the same operations: `vroundscaleps` rounds to even as the
/// portable rounder does, `vscalefps` multiplies by `2ⁿ` rounding once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn exp_fused_avx512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    // `_mm512_max_ps(a, b)` returns `b` when either is NaN, as `f32::max` returns the number.
    let clamped = _mm512_min_ps(
        _mm512_max_ps(x, _mm512_set1_ps(EXP_DOMAIN.0)),
        _mm512_set1_ps(EXP_DOMAIN.1),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(
        clamped,
        _mm512_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), clamped);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut q = _mm512_set1_ps(EXP_Q[4]);
    for &c in EXP_Q[..4].iter().rev() {
        q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(c));
    }
    let one = _mm512_set1_ps(1.0);
    let p = _mm512_fmadd_ps(_mm512_fmadd_ps(q, r, one), r, one);
    let value = _mm512_scalef_ps(p, n);
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
    _mm512_mask_blend_ps(nan, value, x)
}

/// `numerator / (1 + e^t(x)) + offset` over the whole 16-value groups of `v` (the caller does
/// the rest with the portable loop, which computes the same bits).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn logistic_avx512(
    v: &mut [f32],
    exponent: impl Fn(std::arch::x86_64::__m512) -> std::arch::x86_64::__m512,
    numerator: f32,
    offset: Option<f32>,
) {
    use std::arch::x86_64::*;
    let (one, numerator) = (_mm512_set1_ps(1.0), _mm512_set1_ps(numerator));
    for group in v.chunks_exact_mut(16) {
        // SAFETY: `group` holds 16 values (unaligned loads and stores).
        let x = unsafe { _mm512_loadu_ps(group.as_ptr()) };
        let curve = _mm512_div_ps(numerator, _mm512_add_ps(one, exp_fused_avx512(exponent(x))));
        let y = match offset {
            Some(offset) => _mm512_add_ps(curve, _mm512_set1_ps(offset)),
            None => curve,
        };
        // SAFETY: as above.
        unsafe { _mm512_storeu_ps(group.as_mut_ptr(), y) };
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
    let mut out =
        Array3::from_shape_vec(a.raw_dim(), crate::memory::zeroed_f32(a.len())).expect("shape matches length");
    run_cpu_into(ops, a, b, out.view_mut());
    out
}

/// [`run_cpu`] into `output` (the inputs' shape; any layout, written in place when standard).
pub(crate) fn run_cpu_into(
    ops: &[Op],
    a: ArrayView3<'_, f32>,
    b: Option<ArrayView3<'_, f32>>,
    mut output: ArrayViewMut3<'_, f32>,
) {
    let Some(out) = output.as_slice_mut() else {
        output.assign(&run_cpu(ops, a, b));
        return;
    };
    let a = a.as_standard_layout();
    let src = a.as_slice().expect("standard layout");
    let b = b.map(|b| b.as_standard_layout().into_owned());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `exp` within 2 ulp of f64's from subnormal results to overflow, and its special values.
    fn assert_within_two_ulp(exp: fn(f32) -> f32) {
        let mut worst = 0.0f64;
        let mut x = -103.0f32;
        while x < 88.72 {
            let (got, want) = (f64::from(exp(x)), f64::from(x).exp());
            let ulp = f64::from((want as f32).next_up() - want as f32).max(f64::from(f32::from_bits(1)));
            worst = worst.max((got - want).abs() / ulp);
            x += 0.000_731;
        }
        assert!(worst <= 2.0, "{worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(-200.0), 0.0);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn the_exponential_is_within_two_ulp_from_subnormals_to_overflow() {
        assert_within_two_ulp(exp_f32);
    }

    #[test]
    fn the_fused_exponential_is_within_two_ulp_and_every_build_agrees() {
        assert_within_two_ulp(exp_fused);
        // The sigmoid with gain 1 at 0 is 1 / (1 + e^-x): every exponent from underflow to
        // overflow (subnormal scalings and ∞ included) through the vector kernels and the
        // portable loop.
        let mut data: Vec<f32> = (0..60_011).map(|i| -110.0 + i as f32 * 0.003_667).collect();
        data.extend([f32::NAN, -f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e-40]);
        for op in [
            Op::Sigmoid { cutoff: 0.0, gain: 1.0 },
            Op::WindowSigmoid {
                center: 0.0,
                width: 4.0,
                y_min: -1.0,
                y_max: 3.0,
            },
        ] {
            let mut portable = data.clone();
            op.apply_lanes(&mut portable, None);
            let mut best = data.clone();
            op.apply(&mut best, None);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert!(bits(&best) == bits(&portable), "{op:?}");
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                let mut avx2 = data.clone();
                // SAFETY: the CPU has AVX2 and FMA.
                unsafe { op.apply_avx2(&mut avx2, None) };
                assert!(bits(&avx2) == bits(&portable), "{op:?} AVX2");
            }
        }
    }

    /// The AVX-512 and AVX2 builds of every op (whichever this CPU has) give the portable
    /// build's bits: the same operations, unfused.
    #[test]
    fn every_instruction_set_computes_the_same_bits() {
        let mut rng = crate::rng::XorShift64::new(9);
        let mut data: Vec<f32> = (0..1037).map(|_| rng.next_f32() * 400.0 - 200.0).collect();
        data.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e-40]);
        let second: Vec<f32> = data.iter().map(|v| v * 0.5 - 3.0).collect();
        let window = |center, width| (center, width, -1.0, 2.0);
        let ops = [
            Op::Affine {
                scale: 1.7,
                offset: -3.0,
            },
            Op::Clip { lo: -50.0, hi: 80.0 },
            {
                let (center, width, y_min, y_max) = window(40.0, 400.0);
                Op::WindowLinear {
                    center,
                    width,
                    y_min,
                    y_max,
                }
            },
            {
                let (center, width, y_min, y_max) = window(40.0, 400.0);
                Op::WindowLinearExact {
                    center,
                    width,
                    y_min,
                    y_max,
                }
            },
            {
                let (center, width, y_min, y_max) = window(40.0, 400.0);
                Op::WindowSigmoid {
                    center,
                    width,
                    y_min,
                    y_max,
                }
            },
            Op::Threshold {
                lo: -10.0,
                hi: 30.0,
                inside: 1.0,
                outside: 0.0,
            },
            Op::Square,
            Op::Sqrt,
            Op::AddSecond,
            Op::AddSecondSquared,
            Op::SharpenWithSecond { amount: 0.7 },
            Op::Sigmoid {
                cutoff: 20.0,
                gain: 0.05,
            },
        ];
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for op in ops {
            let b = op.uses_second().then_some(second.as_slice());
            let mut portable = data.clone();
            op.apply_lanes(&mut portable, b);
            let mut best = data.clone();
            op.apply(&mut best, b);
            assert_eq!(bits(&best), bits(&portable), "{op:?}");
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                let mut avx2 = data.clone();
                // SAFETY: the CPU has AVX2 and FMA.
                unsafe { op.apply_avx2(&mut avx2, b) };
                assert_eq!(bits(&avx2), bits(&portable), "{op:?} AVX2");
            }
        }
    }
}

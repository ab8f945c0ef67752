//! Ramp filtering of projections, with the windows of scikit-image's `iradon`: `ramp`
//! (Ram-Lak), `shepp-logan`, `cosine`, `hamming`, `hann`, and an optional frequency cut-off.
//!
//! The filter is built as scikit-image builds it (Kak & Slaney, eq. 3.61): the spatial-domain
//! band-limited ramp `h[0] = 1/4`, `h[odd n] = -1/(πn)²`, transformed, so the zero frequency is
//! not forced to zero. Rows are zero-padded to `max(64, 2^⌈log2 2n⌉)`. CPU: `realfft`, rows in
//! parallel. GPU: [`GpuRamp`], a Stockham FFT in WGSL — the whole filter of a row pair in one
//! workgroup when the padded row fits its memory, a four-step FFT in three dispatches otherwise.

use std::f64::consts::PI;
use std::str::FromStr;

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;
use realfft::RealFftPlanner;

use crate::error::{Error, Result};
use crate::gpu::{Binding, Constant, Constants, GpuContext, uniform};
use crate::gpu::{BufferWindow, GpuProjections, GpuVolume, KernelSpec, Recorder};
use crate::recon::stages::Weighting;

/// The window applied to the ramp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RampWindow {
    /// The plain ramp (Ram-Lak).
    #[default]
    Ramp,
    /// Ramp × sinc.
    SheppLogan,
    /// Ramp × cosine.
    Cosine,
    /// Ramp × Hamming window.
    Hamming,
    /// Ramp × Hann window.
    Hann,
    /// No filtering (a plain back-projection).
    None,
}

impl FromStr for RampWindow {
    type Err = Error;

    /// scikit-image's names: `ramp`, `shepp-logan`, `cosine`, `hamming`, `hann`, `none`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ramp" | "ram-lak" => Ok(RampWindow::Ramp),
            "shepp-logan" => Ok(RampWindow::SheppLogan),
            "cosine" => Ok(RampWindow::Cosine),
            "hamming" => Ok(RampWindow::Hamming),
            "hann" => Ok(RampWindow::Hann),
            "none" => Ok(RampWindow::None),
            _ => Err(Error::param(
                "filter",
                format!("unknown filter '{s}'; use ramp, shepp-logan, cosine, hamming, hann or none"),
            )),
        }
    }
}

/// Padded length for rows of `n` samples, as scikit-image.
pub fn padded_len(n: usize) -> usize {
    (2 * n).next_power_of_two().max(64)
}

/// The real frequency response for the `size / 2 + 1` non-negative frequencies of a padded row
/// (the response is even, so these are all the FFT needs), with the frequencies above
/// `cutoff` (a fraction of Nyquist, `(0, 1]`) set to zero.
pub fn frequency_response(size: usize, window: RampWindow, cutoff: f64) -> Result<Vec<f64>> {
    // The band-limited ramp in space, scikit-image's (Kak & Slaney eq. 3.61 in unit spacing).
    response_of_kernel(size, window, cutoff, |m| {
        if m == 0 {
            0.25
        } else if m % 2 == 1 {
            -1.0 / (PI * m as f64).powi(2)
        } else {
            0.0
        }
    })
}

/// Like [`frequency_response`] for the kernel of equiangular fan beams (Kak & Slaney
/// eq. 3.95): the ramp with `(πm)²` replaced by `(π sin(mα) / α)²` for columns `α` radians
/// apart, so that the filter is applied in the fan angle.
pub fn equiangular_response(size: usize, window: RampWindow, cutoff: f64, alpha: f64) -> Result<Vec<f64>> {
    if !(alpha.is_finite() && alpha > 0.0 && alpha * size as f64 / 2.0 < PI) {
        return Err(Error::param(
            "spacing",
            format!("angular detector spacing {alpha} rad does not fit the fan"),
        ));
    }
    response_of_kernel(size, window, cutoff, |m| {
        if m == 0 {
            0.25
        } else if m % 2 == 1 {
            -(alpha / (PI * (m as f64 * alpha).sin())).powi(2)
        } else {
            0.0
        }
    })
}

/// The windowed response of an even spatial kernel `k(|n|)` (scikit-image's construction:
/// `2 · Re(FFT(k))`).
fn response_of_kernel(size: usize, window: RampWindow, cutoff: f64, kernel: impl Fn(usize) -> f64) -> Result<Vec<f64>> {
    if !(cutoff.is_finite() && cutoff > 0.0 && cutoff <= 1.0) {
        return Err(Error::param(
            "cutoff",
            format!("cut-off {cutoff} must be in (0, 1] (a fraction of Nyquist)"),
        ));
    }
    if size < 2 || !size.is_power_of_two() {
        return Err(Error::param(
            "size",
            format!("padded size {size} must be a power of two >= 2"),
        ));
    }
    let half = size / 2 + 1;
    if window == RampWindow::None {
        return Ok(vec![1.0; half]);
    }
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(size);
    let mut input: Vec<f64> = (0..size).map(|n| kernel(n.min(size - n))).collect();
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut input, &mut spectrum)
        .map_err(|e| Error::Gpu(format!("internal FFT error: {e}")))?;
    Ok(spectrum
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let ramp = 2.0 * c.re;
            // Frequency as a fraction of the sampling rate, 0..=0.5.
            let f = k as f64 / size as f64;
            // Windows as scikit-image builds them over the full, fftshift-ed spectrum, where
            // index k holds w[(k + size/2) % size]. Hamming and Hann are symmetric about
            // (size-1)/2, not size/2, so k and size-k differ slightly; the real part that
            // scikit-image keeps equals filtering with their mean, which is what a real FFT
            // (non-negative frequencies only) needs.
            let shifted = |w: &dyn Fn(usize) -> f64| 0.5 * (w((k + size / 2) % size) + w((size - k + size / 2) % size));
            let w = match window {
                RampWindow::Ramp | RampWindow::None => 1.0,
                RampWindow::SheppLogan => {
                    if k == 0 {
                        1.0
                    } else {
                        let omega = PI * f;
                        omega.sin() / omega
                    }
                }
                RampWindow::Cosine => shifted(&|i| (PI * i as f64 / size as f64).sin()),
                RampWindow::Hamming => shifted(&|i| 0.54 - 0.46 * (2.0 * PI * i as f64 / (size - 1) as f64).cos()),
                RampWindow::Hann => shifted(&|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / (size - 1) as f64).cos()),
            };
            if f > cutoff * 0.5 { 0.0 } else { ramp * w }
        })
        .collect())
}

/// Filters every detector row of `projections` (`views × rows × cols`) along the columns.
pub fn filter_rows_cpu(projections: ArrayView3<'_, f32>, window: RampWindow, cutoff: f64) -> Result<Array3<f32>> {
    let cols = projections.dim().2;
    let response = frequency_response(padded_len(cols.max(1)), window, cutoff)?;
    filter_rows_with(projections, &response)
}

/// Filters every detector row with a `response` from [`frequency_response`] or
/// [`equiangular_response`] for `padded_len(cols)`.
pub fn filter_rows_with(projections: ArrayView3<'_, f32>, response: &[f64]) -> Result<Array3<f32>> {
    let (views, rows, cols) = projections.dim();
    crate::volume::check_shape(&[views, rows, cols])?;
    let size = padded_len(cols);
    if response.len() != size / 2 + 1 {
        return Err(Error::InvalidShape(format!(
            "a response of {} frequencies for rows padded to {size}",
            response.len()
        )));
    }
    let mut planner = RealFftPlanner::<f32>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let input = projections.as_standard_layout();
    let src = input.as_slice().expect("standard layout");
    let mut out = vec![0.0f32; src.len()];
    out.par_chunks_mut(cols).zip(src.par_chunks(cols)).try_for_each_init(
        || {
            (
                forward.make_input_vec(),
                forward.make_output_vec(),
                forward.make_scratch_vec(),
                inverse.make_scratch_vec(),
            )
        },
        |(buf, spectrum, fs, is), (dst, row)| -> Result<()> {
            buf.fill(0.0);
            buf[..cols].copy_from_slice(row);
            forward
                .process_with_scratch(buf, spectrum, fs)
                .map_err(|e| Error::Gpu(format!("internal FFT error: {e}")))?;
            for (c, &r) in spectrum.iter_mut().zip(response) {
                *c *= r as f32;
            }
            inverse
                .process_with_scratch(spectrum, buf, is)
                .map_err(|e| Error::Gpu(format!("internal FFT error: {e}")))?;
            let scale = 1.0 / size as f32; // realfft's inverse is unnormalised
            for (d, &v) in dst.iter_mut().zip(&buf[..cols]) {
                *d = v * scale;
            }
            Ok(())
        },
    )?;
    Ok(Array3::from_shape_vec((views, rows, cols), out).expect("shape matches length"))
}

/// [`filter_rows_cpu`] on the GPU, in place on resident projections: every batch's rows are
/// filtered (one dispatch a batch where a padded row fits a workgroup's memory), in one
/// submission.
pub fn filter_rows_gpu(ctx: &GpuContext, projections: &GpuProjections, window: RampWindow, cutoff: f64) -> Result<()> {
    let [_, rows, cols] = projections.shape();
    let response = frequency_response(padded_len(cols.max(1)), window, cutoff)?;
    let mut rec = Recorder::new(ctx);
    let ramp = GpuRamp::new(&rec, &response, &Weighting::default(), rows, cols)?;
    for (first, batch) in projections.batches() {
        batch.check_context(ctx)?;
        ramp.record(&mut rec, batch, first)?;
    }
    rec.submit()?;
    Ok(())
}

/// Twin of `RampParams` in `shaders/recon/ramp_params.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct RampParams {
    cols: u32,
    rows: u32,
    n: u32,
    pairs: u32,
    first_row: u32,
    total_rows: u32,
    first_view: u32,
    weights: u32,
    n1: u32,
    _pad: [u32; 3],
}

// Which pre-weights the pack kernel applies (bits of `RampParams::weights`).
crate::wgsl_constants!(WEIGHT_FLAGS: u32 { WEIGHT_COSINE = 1, WEIGHT_SHORT_SCAN = 2 });

const RAMP_PARAMS: &str = include_str!("../../shaders/recon/ramp_params.wgsl");

const RAMP_WEIGHTS: &str = include_str!("../../shaders/recon/ramp_weights.wgsl");

const RAMP_FFT: &str = include_str!("../../shaders/recon/ramp_fft.wgsl");

const RAMP_FOUR_STEP: &str = include_str!("../../shaders/recon/ramp_four_step.wgsl");

// Invocations per workgroup of the workgroup-local filter.
crate::wgsl_constants!(RAMP_LOCAL: u32 { RAMP_THREADS = 256 });

/// The workgroup-local filter (`ramp_local.wgsl`) for padded rows up to `ROW_MAX` samples:
/// 8·ROW_MAX bytes of workgroup memory (8, 16 and 32 KiB; WebGPU guarantees 16).
macro_rules! local_ramp_kernel {
    ($static:ident, $name:literal, $row_max:literal) => {
        pub(crate) static $static: KernelSpec = KernelSpec {
            name: $name,
            sources: &[
                RAMP_PARAMS,
                include_str!("../../shaders/recon/ramp_local.wgsl"),
                RAMP_FFT,
                RAMP_WEIGHTS,
            ],
            entry: "filter_rows",
            bindings: &[
                uniform::<RampParams>(),
                Binding::ReadWrite,
                Binding::Read,
                Binding::Read,
                Binding::Read,
                Binding::Read,
            ],
            constants: &[WEIGHT_FLAGS, RAMP_LOCAL, {
                const ROW: Constants = &[("ROW_MAX", Constant::U32($row_max))];
                ROW
            }],
        };
    };
}
local_ramp_kernel!(LOCAL_1024, "recon/ramp_local_1024", 1024);
local_ramp_kernel!(LOCAL_2048, "recon/ramp_local_2048", 2048);
local_ramp_kernel!(LOCAL_4096, "recon/ramp_local_4096", 4096);

/// The workgroup-local kernel for padded rows of `n` samples on this device: the smallest that
/// holds a row within the adapter's workgroup memory, or `None` (the global-memory stages).
fn local_kernel(ctx: &GpuContext, n: usize) -> Option<&'static KernelSpec> {
    let limits = &ctx.limits;
    if limits.max_compute_invocations_per_workgroup < RAMP_THREADS || limits.max_compute_workgroup_size_x < RAMP_THREADS
    {
        return None;
    }
    [(1024, &LOCAL_1024), (2048, &LOCAL_2048), (4096, &LOCAL_4096)]
        .into_iter()
        .find(|&(row_max, _)| {
            n <= row_max && 8 * row_max as u64 <= u64::from(limits.max_compute_workgroup_storage_size)
        })
        .map(|(_, kernel)| kernel)
}

/// The four-step kernels (`ramp_four_step*.wgsl`) with sub-rows of `ROW_MAX` samples, for
/// padded rows longer than the workgroup-local kernel holds (up to `ROW_MAX²`).
pub(crate) struct FourStep {
    row_max: usize,
    columns: KernelSpec,
    middle: KernelSpec,
    rows: KernelSpec,
}

macro_rules! four_step_kernels {
    ($static:ident, $row_max:literal) => {
        pub(crate) static $static: FourStep = {
            const ROW: Constants = &[("ROW_MAX", Constant::U32($row_max))];
            FourStep {
                row_max: $row_max,
                columns: KernelSpec {
                    name: concat!("recon/ramp_four_step_columns_", $row_max),
                    sources: &[
                        RAMP_PARAMS,
                        RAMP_FOUR_STEP,
                        include_str!("../../shaders/recon/ramp_four_step_columns.wgsl"),
                        RAMP_FFT,
                        RAMP_WEIGHTS,
                    ],
                    entry: "columns",
                    bindings: &[
                        uniform::<RampParams>(),
                        Binding::Read,
                        Binding::Read,
                        Binding::Read,
                        Binding::Read,
                        Binding::ReadWrite,
                    ],
                    constants: &[WEIGHT_FLAGS, RAMP_LOCAL, ROW],
                },
                middle: KernelSpec {
                    name: concat!("recon/ramp_four_step_middle_", $row_max),
                    sources: &[
                        RAMP_PARAMS,
                        RAMP_FOUR_STEP,
                        include_str!("../../shaders/recon/ramp_four_step_middle.wgsl"),
                        RAMP_FFT,
                    ],
                    entry: "middle",
                    bindings: &[
                        uniform::<RampParams>(),
                        Binding::Read,
                        Binding::Read,
                        Binding::ReadWrite,
                    ],
                    constants: &[RAMP_LOCAL, ROW],
                },
                rows: KernelSpec {
                    name: concat!("recon/ramp_four_step_rows_", $row_max),
                    sources: &[
                        RAMP_PARAMS,
                        RAMP_FOUR_STEP,
                        include_str!("../../shaders/recon/ramp_four_step_rows.wgsl"),
                        RAMP_FFT,
                    ],
                    entry: "rows_out",
                    bindings: &[
                        uniform::<RampParams>(),
                        Binding::ReadWrite,
                        Binding::Read,
                        Binding::Read,
                    ],
                    constants: &[RAMP_LOCAL, ROW],
                },
            }
        };
    };
}
four_step_kernels!(FOUR_STEP_1024, 1024);
four_step_kernels!(FOUR_STEP_2048, 2048);
four_step_kernels!(FOUR_STEP_4096, 4096);

#[cfg(test)]
impl FourStep {
    /// The three kernels, for the registry of every kernel.
    pub(crate) fn kernels(&'static self) -> [&'static KernelSpec; 3] {
        [&self.columns, &self.middle, &self.rows]
    }
}

/// The four-step kernels for padded rows of `n` samples on this device: sub-rows as long as the
/// adapter's workgroup memory allows (`n` must be at most their square).
fn four_step(ctx: &GpuContext, n: usize) -> Option<&'static FourStep> {
    let limits = &ctx.limits;
    if limits.max_compute_invocations_per_workgroup < RAMP_THREADS || limits.max_compute_workgroup_size_x < RAMP_THREADS
    {
        return None;
    }
    [&FOUR_STEP_4096, &FOUR_STEP_2048, &FOUR_STEP_1024]
        .into_iter()
        .find(|f| {
            8 * f.row_max as u64 <= u64::from(limits.max_compute_workgroup_storage_size)
                && n > f.row_max
                && n <= f.row_max * f.row_max
        })
}

/// Ramp filtering on the GPU: pre-weighting, zero padding, a radix-2 Stockham FFT in WGSL
/// (two real rows per complex transform), the response, the inverse FFT — all on resident
/// data, in place. The projections never leave the GPU. Where a padded row fits a workgroup's
/// memory, one dispatch filters a whole batch ([`local_kernel`]); longer rows take the
/// three-dispatch four-step FFT ([`four_step`]) through scratch in chunks of row pairs that fit
/// one binding.
pub(crate) struct GpuRamp {
    response: wgpu::Buffer,
    /// exp(-2πi m / n) for m < n/2, for the workgroup-local kernel.
    twiddles: wgpu::Buffer,
    /// The weight tables (the device's placeholder for an absent one) and which are present.
    cosine: Option<wgpu::Buffer>,
    short_scan: Option<wgpu::Buffer>,
    weights: u32,
    rows: usize,
    cols: usize,
    n: usize,
}

impl GpuRamp {
    /// Tables for `rows × cols` detectors: `response` (the `n/2 + 1` frequencies of
    /// [`frequency_response`] for `n = padded_len(cols)`) and the weighting stage (`rows × cols`
    /// cosine weights and `views × cols` short-scan weights, each optional).
    pub(crate) fn new(
        rec: &Recorder<'_>,
        response: &[f64],
        weighting: &Weighting,
        rows: usize,
        cols: usize,
    ) -> Result<GpuRamp> {
        let n = padded_len(cols);
        let cosine_ok = weighting.cosine.as_ref().is_none_or(|c| c.len() == rows * cols);
        let short_ok = weighting
            .short_scan
            .as_ref()
            .is_none_or(|w| w.len().is_multiple_of(cols));
        if response.len() != n / 2 + 1 || !cosine_ok || !short_ok {
            return Err(Error::Gpu("internal: ramp tables do not match the detector".into()));
        }
        // The inverse FFT is unnormalised: fold 1/n into the response.
        let scaled: Vec<f32> = response.iter().map(|&r| (r / n as f64) as f32).collect();
        let weights = u32::from(weighting.cosine.is_some()) * WEIGHT_COSINE
            + u32::from(weighting.short_scan.is_some()) * WEIGHT_SHORT_SCAN;
        let twiddles: Vec<[f32; 2]> = (0..n / 2)
            .map(|m| {
                let angle = -2.0 * PI * m as f64 / n as f64;
                [angle.cos() as f32, angle.sin() as f32]
            })
            .collect();
        Ok(GpuRamp {
            response: rec.constants(&scaled),
            twiddles: rec.constants(&twiddles),
            cosine: weighting.cosine.as_ref().map(|c| rec.constants(c)),
            short_scan: weighting.short_scan.as_ref().map(|w| rec.constants(w)),
            weights,
            rows,
            cols,
            n,
        })
    }

    /// Filters the `count × rows × cols` views in `batch` (the first being view `first_view`
    /// of the scan) in place.
    pub(crate) fn record(&self, rec: &mut Recorder<'_>, batch: &GpuVolume, first_view: usize) -> Result<()> {
        let [count, rows, cols] = batch.shape();
        if (rows, cols) != (self.rows, self.cols) {
            return Err(Error::Gpu("internal: batch does not match the ramp tables".into()));
        }
        let placeholder = rec.context().placeholder();
        let total_rows = count * rows;
        let pairs_total = total_rows.div_ceil(2) as u64;
        let params = |pairs: u64, first_row: u64, n1: usize| RampParams {
            cols: cols as u32,
            rows: rows as u32,
            n: self.n as u32,
            pairs: pairs as u32,
            first_row: first_row as u32,
            total_rows: total_rows as u32,
            first_view: first_view as u32,
            weights: self.weights,
            n1: n1 as u32,
            _pad: [0; 3],
        };
        let cosine = BufferWindow::whole(self.cosine.as_ref().unwrap_or(placeholder));
        let short_scan = BufferWindow::whole(self.short_scan.as_ref().unwrap_or(placeholder));
        if let Some(kernel) = local_kernel(rec.context(), self.n) {
            let uniform = rec.uniform(&params(pairs_total, 0, 1));
            return rec.dispatch_folded(
                kernel,
                &[
                    BufferWindow::whole(&uniform),
                    BufferWindow::whole(batch.buffer()),
                    cosine,
                    short_scan,
                    BufferWindow::whole(&self.response),
                    BufferWindow::whole(&self.twiddles),
                ],
                pairs_total,
            );
        }
        let four = four_step(rec.context(), self.n).ok_or_else(|| {
            Error::TooLarge(format!(
                "detector rows of {cols} columns (padded to {}) are longer than this adapter's ramp filter \
                 supports: at most the square of the row its workgroup memory holds",
                self.n
            ))
        })?;
        let n1 = self.n / four.row_max;
        // Scratch for as many row pairs (n complex values each) as one binding holds.
        let pair_bytes = self.n as u64 * 8;
        let max_binding = rec.context().max_storage_binding();
        let per_chunk = (max_binding / pair_bytes).min(pairs_total);
        if per_chunk == 0 {
            return Err(Error::TooLarge(format!(
                "a detector row padded to {} samples needs {pair_bytes} bytes per FFT row pair, more than this \
                 adapter's storage binding limit ({max_binding} bytes)",
                self.n
            )));
        }
        let scratch = rec.scratch(per_chunk * pair_bytes);
        let mut first_pair = 0u64;
        while first_pair < pairs_total {
            let pairs = per_chunk.min(pairs_total - first_pair);
            let uniform = rec.uniform(&params(pairs, 2 * first_pair, n1));
            let uniform = BufferWindow::whole(&uniform);
            let scratch = BufferWindow {
                buffer: &scratch,
                offset: 0,
                size: pairs * pair_bytes,
            };
            let twiddles = BufferWindow::whole(&self.twiddles);
            let groups = pairs * n1 as u64;
            rec.dispatch_folded(
                &four.columns,
                &[
                    uniform,
                    BufferWindow::whole(batch.buffer()),
                    cosine,
                    short_scan,
                    twiddles,
                    scratch,
                ],
                groups,
            )?;
            rec.dispatch_folded(
                &four.middle,
                &[uniform, BufferWindow::whole(&self.response), twiddles, scratch],
                groups,
            )?;
            rec.dispatch_folded(
                &four.rows,
                &[uniform, BufferWindow::whole(batch.buffer()), twiddles, scratch],
                groups,
            )?;
            first_pair += pairs;
        }
        Ok(())
    }
}

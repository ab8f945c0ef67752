//! Gaussian smoothing, separable, 2D and 3D — `scipy.ndimage.gaussian_filter` semantics.
//!
//! * sigma in voxels per axis (0 leaves an axis alone), or in millimetres via [`Gaussian::from_mm`];
//! * radius `int(truncate * sigma + 0.5)` with `truncate = 4.0` by default;
//! * every [`BoundaryMode`]; axes filtered in order z, y, x; NaN in the data propagates (as in
//!   scipy).
//!
//! CPU path: the z pass runs over z-blocks so the slices it combines stay in cache; the y and x
//! passes are fused per slice through a slice-sized scratch buffer. All loops are row `axpy`s
//! that the compiler vectorises (see `filter/rows.rs`). GPU path: one pass per filtered axis with
//! the shared 1D correlation kernel (`shaders/filter/correlate1d.wgsl`), tiled in z-slabs by the
//! runtime where a volume exceeds the storage binding limit.

use ndarray::{Array, Array3, ArrayView, ArrayView3, ArrayViewMut3};
use rayon::prelude::*;

use crate::backend::Backend;
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::correlate1d::{Pass, Separable, check_mode};
use crate::filter::rows::{
    BLOCK, Parity, fill_halo, symmetric_along_padded, symmetric_along_row, symmetric_block, symmetric_rows,
};
use crate::filter::{Filter, Spatial, check_ndim, per_axis};
use crate::gpu::{GpuVolume, Recorder};
use crate::volume::Grid;

/// Largest supported kernel radius (voxels); beyond it the weights are numerically zero anyway.
pub const MAX_RADIUS: usize = 1 << 20;

/// A Gaussian filter: sigma per axis, truncation and boundary mode.
///
/// ```
/// use hounsfield::prelude::*;
/// let image = ndarray::Array2::<f32>::from_elem((32, 48), 1.0);
/// let smooth = Gaussian::new(&[2.0])
///     .mode(BoundaryMode::Nearest)
///     .apply(&Backend::Cpu, image.view())?;
/// assert!((smooth[[10, 10]] - 1.0).abs() < 1e-6);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Gaussian {
    sigma: Vec<f64>,
    truncate: f64,
    mode: BoundaryMode,
}

/// The validated filter for one input: half-kernels for the axes that are filtered.
pub(crate) struct Plan {
    /// `(axis, half weights w[0..=radius])` in the order z, y, x.
    passes: Vec<(usize, Vec<f32>)>,
    mode: BoundaryMode,
    /// Per axis z, y, x: whether its kernel is even (the Gaussian's) or odd (a first
    /// derivative's, [`Plan::separable`]).
    parity: [Parity; 3],
}

impl Plan {
    fn weights(&self, axis: usize) -> Option<&[f32]> {
        self.passes.iter().find(|(a, _)| *a == axis).map(|(_, w)| w.as_slice())
    }

    /// A chain of centred correlations for the register kernels: `(axis, full weights
    /// w[-r..=r])` in increasing axis order, each even or odd in f32 and with a radius they
    /// stage (at most 64 voxels, and shorter than what the boundary rule would fold). `None`
    /// when the chain does not qualify (the caller takes the general path).
    pub(crate) fn separable(chain: &[(usize, &[f32])], mode: BoundaryMode, shape: [usize; 3]) -> Option<Plan> {
        let mut passes = Vec::new();
        let mut parity = [Parity::Even; 3];
        let mut last = None;
        for &(axis, w) in chain {
            if axis > 2 || last.is_some_and(|l| l >= axis) || w.len() % 2 == 0 {
                return None;
            }
            last = Some(axis);
            let r = w.len() / 2;
            let half = &w[r..];
            let even = (1..=r).all(|k| w[r - k].to_bits() == w[r + k].to_bits());
            let odd = w[r] == 0.0 && (1..=r).all(|k| w[r - k].to_bits() == (-w[r + k]).to_bits());
            parity[axis] = match (even, odd) {
                (true, _) => Parity::Even,
                (false, true) => Parity::Odd,
                _ => return None,
            };
            if r > MAX_STAGED_RADIUS || fold_half_kernel(half, shape[axis], mode).is_some() {
                return None;
            }
            passes.push((axis, half.to_vec()));
        }
        Some(Plan { passes, mode, parity })
    }
}

/// [`Plan::separable`]'s chain on the CPU into `out` (the input's length, C order).
pub(crate) fn run_separable_into(plan: &Plan, input: ArrayView3<'_, f32>, out: &mut [f32]) {
    run_cpu_into(plan, input, out)
}

impl Gaussian {
    /// sigma in voxels: one value for every axis, or one per axis (`(y, x)` or `(z, y, x)`).
    pub fn new(sigma: &[f64]) -> Self {
        Gaussian {
            sigma: sigma.to_vec(),
            truncate: 4.0,
            mode: BoundaryMode::default(),
        }
    }

    /// sigma in millimetres along `(z, y, x)` (one value or three), converted to voxels with the
    /// grid's spacing.
    pub fn from_mm(sigma_mm: &[f64], grid: &Grid) -> Result<Self> {
        grid.validate()?;
        let mm = per_axis("sigma_mm", sigma_mm, 3, 0.0)?;
        let sigma: Vec<f64> = mm.iter().zip(grid.spacing).map(|(s, sp)| s / sp).collect();
        Ok(Gaussian::new(&sigma))
    }

    /// Truncate the kernel at this many standard deviations (default 4.0).
    pub fn truncate(mut self, truncate: f64) -> Self {
        self.truncate = truncate;
        self
    }

    /// Boundary mode (default [`BoundaryMode::Reflect`]).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    /// The radius scipy uses for `sigma` and `truncate`: `int(truncate * sigma + 0.5)`.
    pub fn radius(sigma: f64, truncate: f64) -> usize {
        (truncate * sigma + 0.5).floor() as usize
    }

    /// The normalised, sampled Gaussian `w[-r..=r]` of scipy's `_gaussian_kernel1d`.
    pub fn kernel_1d(sigma: f64, radius: usize) -> Vec<f64> {
        let r = radius as isize;
        let phi: Vec<f64> = (-r..=r).map(|x| (-0.5 * (x as f64 / sigma).powi(2)).exp()).collect();
        let sum: f64 = phi.iter().sum();
        phi.into_iter().map(|p| p / sum).collect()
    }

    fn plan(&self, ndim: usize) -> Result<Plan> {
        check_ndim(ndim)?;
        let sigma = per_axis("sigma", &self.sigma, ndim, 0.0)?;
        if !(self.truncate.is_finite() && self.truncate > 0.0) {
            return Err(Error::param(
                "truncate",
                format!(
                    "{} is not a positive, finite number of standard deviations",
                    self.truncate
                ),
            ));
        }
        check_mode(self.mode)?;
        let mut passes = Vec::new();
        for (axis, &s) in sigma.iter().enumerate() {
            if !(s.is_finite() && s >= 0.0) {
                return Err(Error::param(
                    "sigma",
                    format!("sigma {s} along axis {axis} (z, y, x) must be finite and >= 0 (0 leaves the axis alone)"),
                ));
            }
            // scipy skips axes whose sigma is numerically zero.
            if s <= 1e-15 {
                continue;
            }
            let radius = Gaussian::radius(s, self.truncate);
            if radius > MAX_RADIUS {
                return Err(Error::param(
                    "sigma",
                    format!(
                        "sigma {s} with truncate {} gives a radius of {radius} voxels; at most {MAX_RADIUS} is supported",
                        self.truncate
                    ),
                ));
            }
            let full = Gaussian::kernel_1d(s, radius);
            passes.push((axis, full[radius..].iter().map(|&w| w as f32).collect()));
        }
        Ok(Plan {
            passes,
            mode: self.mode,
            parity: [Parity::Even; 3],
        })
    }
}

impl Filter for Gaussian {
    fn name(&self) -> &'static str {
        "gaussian"
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        Ok(run_cpu(&self.plan(ndim)?, input))
    }

    fn cpu_into(&self, input: ArrayView3<'_, f32>, ndim: usize, mut output: ArrayViewMut3<'_, f32>) -> Result<()> {
        let plan = self.plan(ndim)?;
        match output.as_slice_mut() {
            Some(out) => run_cpu_into(&plan, input, out),
            None => output.assign(&run_cpu(&plan, input)),
        }
        Ok(())
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        record_gpu(&self.plan(ndim)?, rec, input)
    }
}

/// `scipy.ndimage.gaussian_filter(input, sigma)` with default truncate and mode, on `backend`.
pub fn gaussian_filter<D: Spatial>(
    backend: &Backend,
    input: ArrayView<'_, f32, D>,
    sigma: &[f64],
) -> Result<Array<f32, D>> {
    Gaussian::new(sigma).apply(backend, input)
}

// ---------------------------------------------------------------------------------------------
// CPU path

/// Values of each row the z pass stages and combines at a time (64 KiB): long sequential copies
/// into its window. 4096, 8192 and 16384 measured alike on the 2-core VM (65–70 ms for σ 2 on
/// 512×512×256), the window then spilling from L2 to L3 without a measurable cost.
const Z_SEGMENT: usize = 16384;

/// Largest radius whose passes stage their `2r + BLOCK` rows (a z window of at most 164 rows of
/// 64 KiB per thread, a y edge block of 2r + 2·BLOCK rows); longer kernels read the rows in place ([`symmetric_rows`]), so a
/// huge sigma costs no gigabytes of copies.
const MAX_STAGED_RADIUS: usize = 64;

fn run_cpu(plan: &Plan, input: ArrayView3<'_, f32>) -> Array3<f32> {
    let shape = [input.shape()[0], input.shape()[1], input.shape()[2]];
    let mut out = crate::memory::zeroed_f32(input.len());
    run_cpu_into(plan, input, &mut out);
    Array3::from_shape_vec(shape, out).expect("shape matches length")
}

/// [`run_cpu`] into `out` (the input's length, C order; its contents are never read).
fn run_cpu_into(plan: &Plan, input: ArrayView3<'_, f32>, out: &mut [f32]) {
    let [nz, ny, nx] = [input.shape()[0], input.shape()[1], input.shape()[2]];
    let folded;
    let plan = if plan
        .passes
        .iter()
        .any(|(axis, w)| fold_half_kernel(w, input.shape()[*axis], plan.mode).is_some())
    {
        folded = Plan {
            passes: plan
                .passes
                .iter()
                .map(|(axis, w)| {
                    (
                        *axis,
                        fold_half_kernel(w, input.shape()[*axis], plan.mode).unwrap_or_else(|| w.clone()),
                    )
                })
                .collect(),
            mode: plan.mode,
            parity: plan.parity,
        };
        &folded
    } else {
        plan
    };
    let plane = ny * nx;
    let input = input.as_standard_layout();
    let src = input.as_slice().expect("standard layout is contiguous");
    let mode = plan.mode;

    let [pz, py, px] = plan.parity;
    let z_filtered = match plan.weights(0) {
        Some(w) => {
            correlate_outer_axis(src, out, nz, plane, w, mode, pz);
            true
        }
        None => false,
    };

    let wy = plan.weights(1);
    let wx = plan.weights(2);
    if nz >= rayon::current_num_threads() {
        out.par_chunks_mut(plane).enumerate().for_each_init(
            || (vec![0.0f32; plane], Vec::new()),
            |(scratch, pad), (z, slice)| {
                // Without a z pass the slice starts as a copy of the input (made here, per slice,
                // so the copy is parallel and the slice is in cache for the passes below).
                if !z_filtered {
                    slice.copy_from_slice(&src[z * plane..(z + 1) * plane]);
                }
                match (wy, wx) {
                    (Some(wy), wx) => yx_slice(slice, scratch, ny, nx, (wy, py), wx.map(|w| (w, px)), mode),
                    (None, Some(wx)) => {
                        for row in slice.chunks_mut(nx) {
                            let copy = &mut scratch[..nx];
                            copy.copy_from_slice(row);
                            symmetric_along_row(row, copy, wx, mode, pad, px);
                        }
                    }
                    (None, None) => {}
                }
            },
        );
    } else {
        // Fewer slices than threads (2D images, thin slabs): parallelise inside each slice.
        let mut scratch = crate::memory::zeroed_f32(plane);
        for (z, slice) in out.chunks_mut(plane).enumerate() {
            if !z_filtered {
                slice.copy_from_slice(&src[z * plane..(z + 1) * plane]);
            }
            if let Some(wy) = wy {
                // The y pass of one slice is the z pass of a volume whose "slices" are rows.
                correlate_outer_axis(slice, &mut scratch, ny, nx, wy, mode, py);
                slice.copy_from_slice(&scratch);
            }
            if let Some(wx) = wx {
                slice.par_chunks_mut(nx).for_each_init(
                    || (Vec::new(), vec![0.0f32; nx]),
                    |(pad, copy), row| {
                        copy.copy_from_slice(row);
                        symmetric_along_row(row, copy, wx, mode, pad, px);
                    },
                );
            }
        }
    }
}

/// The half-kernel `w[0..=r]` folded onto one period of the boundary extension, when the kernel
/// is longer than that period, else `None`.
///
/// `reflect` extends an axis of `n` samples periodically with period `2n`, `mirror` with
/// `2n − 2` and `wrap` with `n` (and every mode but `constant` an axis of one sample with
/// period 1); on a periodic signal a kernel acts as its sum modulo the period,
/// so taps `k` and `k ± period` can be added up. A sigma of 50,000 voxels on an axis of 5 then
/// costs five taps instead of 400,001 per sample (scipy sums every tap; the result is the same
/// up to rounding). For an even period the taps at `±period/2` are one sample: their sum is
/// shared between the two ends of the symmetric half-kernel.
fn fold_half_kernel(w: &[f32], n: usize, mode: BoundaryMode) -> Option<Vec<f32>> {
    let period = match mode {
        // One sample: every extension but the constant repeats it.
        _ if n == 1 && !matches!(mode, BoundaryMode::Constant(_)) => 1,
        BoundaryMode::Reflect => 2 * n,
        BoundaryMode::Mirror => 2 * n - 2,
        BoundaryMode::Wrap => n,
        _ => return None,
    };
    let r = w.len() - 1;
    let half = period / 2;
    if period == 0 || r <= half {
        return None;
    }
    // Sums per offset class 0..period (tap k and -k: the kernel is symmetric).
    let mut class = vec![0.0f64; period];
    class[0] += f64::from(w[0]);
    for (k, &wk) in w.iter().enumerate().skip(1) {
        class[k % period] += f64::from(wk);
        class[(period - k % period) % period] += f64::from(wk);
    }
    let mut folded: Vec<f32> = (0..=half).map(|j| class[j] as f32).collect();
    if period % 2 == 0 {
        folded[half] = (class[half] / 2.0) as f32;
    }
    Some(folded)
}

/// Correlates along the outermost axis of an `(n, plane)` array: each output slice combines whole
/// input slices, processed in segments so the slices a segment needs stay in cache.
fn correlate_outer_axis(
    src: &[f32],
    dst: &mut [f32],
    nz: usize,
    plane: usize,
    w: &[f32],
    mode: BoundaryMode,
    parity: Parity,
) {
    let threads = rayon::current_num_threads().max(1);
    // Enough z-blocks to keep every thread busy, large enough to reuse cached slices (each
    // block reads 2r slices beyond its own: 64 slices read 1.25× the volume at radius 8).
    let z_block = nz.div_ceil(threads * 2).clamp(1, 64);
    let cval = mode.cval();
    let r = w.len() - 1;
    let seg_max = Z_SEGMENT.min(plane);
    if r > MAX_STAGED_RADIUS {
        // (Only even kernels come this far: `Plan::separable` keeps odd ones staged.)
        debug_assert_eq!(parity, Parity::Even);
        dst.par_chunks_mut(plane * z_block)
            .enumerate()
            .for_each(|(block, out)| {
                let z_first = block * z_block;
                for seg_start in (0..plane).step_by(Z_SEGMENT) {
                    let seg_end = (seg_start + Z_SEGMENT).min(plane);
                    for (dz, slice) in out.chunks_mut(plane).enumerate() {
                        let z = (z_first + dz) as isize;
                        symmetric_rows(&mut slice[seg_start..seg_end], w, cval, |d| {
                            mode.map_index(z + d, 0, nz as isize)
                                .map(|m| &src[m as usize * plane + seg_start..m as usize * plane + seg_end])
                        });
                    }
                }
            });
        return;
    }
    dst.par_chunks_mut(plane * z_block).enumerate().for_each_init(
        || (Window::new(2 * r + BLOCK, seg_max), vec![0.0f32; BLOCK * seg_max]),
        |(window, spare), (block, out)| {
            let z_first = block * z_block;
            let block_nz = out.len() / plane;
            for seg_start in (0..plane).step_by(Z_SEGMENT) {
                let seg_end = (seg_start + Z_SEGMENT).min(plane);
                let len = seg_end - seg_start;
                window.reset();
                for g in (0..block_nz).step_by(BLOCK) {
                    let z = (z_first + g) as isize;
                    let (rows, stride) =
                        window.rows(z - r as isize, |p, slot| match mode.map_index(p, 0, nz as isize) {
                            Some(m) => slot[..len].copy_from_slice(&src[m as usize * plane + seg_start..][..len]),
                            None => slot[..len].fill(cval),
                        });
                    if g + BLOCK <= block_nz {
                        symmetric_block(&mut out[g * plane + seg_start..], plane, rows, stride, w, len, parity);
                    } else {
                        // The block's last slices: through a spare block of outputs.
                        symmetric_block(spare, len, rows, stride, w, len, parity);
                        for (j, part) in spare.chunks(len).take(block_nz - g).enumerate() {
                            out[(g + j) * plane + seg_start..][..len].copy_from_slice(part);
                        }
                    }
                }
            }
        },
    );
}

/// The `2r + BLOCK` rows a step of a pass across slices combines, copied into equally spaced
/// slots of a buffer that stays in L2.
///
/// The rows themselves lie whole slices apart: the same offset modulo any power of two, so the
/// twenty-odd rows of one step compete for one set of an 8-way cache and evict each other, and
/// each needs its own pointer. Copied once into slots whose stride is skewed by a cache line they
/// sit side by side and are addressed by one stride. Consecutive steps share `2r` rows, which stay
/// in place; when the window reaches the buffer's end the shared rows move back to its start.
struct Window {
    data: Vec<f32>,
    stride: usize,
    /// Rows the buffer holds (a few steps' worth beyond one window, so moves are rare).
    slots: usize,
    /// Rows of one window.
    span: usize,
    /// The position of the row in slot `start` and how many consecutive positions are held.
    first: isize,
    start: usize,
    held: usize,
}

impl Window {
    fn new(span: usize, len: usize) -> Window {
        let stride = len + 16;
        let slots = span + 8 * BLOCK;
        Window {
            data: vec![0.0; slots * stride],
            stride,
            slots,
            span,
            first: 0,
            start: 0,
            held: 0,
        }
    }

    fn reset(&mut self) {
        self.held = 0;
    }

    /// The rows at positions `first..first + span` as equally spaced rows (and their stride),
    /// filling missing ones with `fill(position, slot)`. Positions must not decrease between
    /// calls without a [`reset`](Self::reset).
    fn rows(&mut self, first: isize, mut fill: impl FnMut(isize, &mut [f32])) -> (&[f32], usize) {
        let stride = self.stride;
        let overlap = if self.held > 0 && first >= self.first && first < self.first + self.held as isize {
            let skip = (first - self.first) as usize;
            self.start += skip;
            self.held -= skip;
            self.held.min(self.span)
        } else {
            self.start = 0;
            0
        };
        self.held = overlap;
        self.first = first;
        if self.start + self.span > self.slots {
            self.data
                .copy_within(self.start * stride..(self.start + overlap) * stride, 0);
            self.start = 0;
        }
        for p in overlap..self.span {
            let slot = (self.start + p) * stride;
            fill(first + p as isize, &mut self.data[slot..slot + stride]);
        }
        self.held = self.span;
        (&self.data[self.start * stride..], stride)
    }
}

/// Filters one slice in place along y (into `scratch`) and then along x, if `wx` is given (back
/// into `slice`; otherwise the y result is copied back).
///
/// The y pass writes its rows into `scratch` with room for the x pass's halo on either side,
/// so the x pass extends each row where it lies instead of copying it first. The second stage
/// trails the first by `radius` rows: a row of `slice` is overwritten as soon as no later y
/// output needs it, so only a band of rows is in flight and it stays in L2 however large the
/// slice. `Wrap`, and radii of at least the slice height, can read any row, so there the
/// second stage waits for the whole slice.
#[allow(clippy::too_many_arguments)]
fn yx_slice(
    slice: &mut [f32],
    scratch: &mut Vec<f32>,
    ny: usize,
    nx: usize,
    (wy, py): (&[f32], Parity),
    wx: Option<(&[f32], Parity)>,
    mode: BoundaryMode,
) {
    let radius = wy.len() - 1;
    let lag = if matches!(mode, BoundaryMode::Wrap) || radius >= ny {
        ny
    } else {
        radius
    };
    let cval = mode.cval();
    // Scratch rows: the x halo, the row, the x halo.
    let rx = wx.map_or(0, |(w, _)| w.len() - 1);
    let stride = nx + 2 * rx;
    scratch.resize(ny * stride, 0.0);
    let mut edge = Vec::new();
    let mut finished = 0;
    let finish = |slice: &mut [f32], scratch: &mut [f32], y: usize| {
        let (out, padded) = (
            &mut slice[y * nx..(y + 1) * nx],
            &mut scratch[y * stride..(y + 1) * stride],
        );
        match wx {
            Some((wx, px)) => {
                fill_halo(padded, rx, mode);
                symmetric_along_padded(out, wx, padded, px);
            }
            None => out.copy_from_slice(padded),
        }
    };
    for y in (0..ny).step_by(BLOCK) {
        let last = (y + BLOCK).min(ny) - 1;
        if radius > MAX_STAGED_RADIUS {
            debug_assert_eq!(py, Parity::Even);
            let source: &[f32] = slice;
            for row in y..=last {
                symmetric_rows(&mut scratch[row * stride + rx..][..nx], wy, cval, |d| {
                    mode.map_index(row as isize + d, 0, ny as isize)
                        .map(|m| &source[m as usize * nx..(m as usize + 1) * nx])
                });
            }
        } else if y >= radius && last + radius < ny && y + BLOCK <= ny {
            symmetric_block(
                &mut scratch[y * stride + rx..],
                stride,
                &slice[(y - radius) * nx..],
                nx,
                wy,
                nx,
                py,
            );
        } else {
            // Near the edges: the boundary-mapped rows copied into `edge` first.
            edge.clear();
            for d in -(radius as isize)..(radius + BLOCK) as isize {
                match mode.map_index(y as isize + d, 0, ny as isize) {
                    Some(m) => edge.extend_from_slice(&slice[m as usize * nx..(m as usize + 1) * nx]),
                    None => edge.extend(std::iter::repeat_n(cval, nx)),
                }
            }
            edge.resize((2 * radius + 2 * BLOCK) * nx, 0.0);
            let (rows, outs) = edge.split_at_mut((2 * radius + BLOCK) * nx);
            symmetric_block(outs, nx, rows, nx, wy, nx, py);
            for (row, values) in (y..=last).zip(outs.chunks(nx)) {
                scratch[row * stride + rx..][..nx].copy_from_slice(values);
            }
        }
        // Outputs after row `last` read rows >= last + 1 - radius: rows up to last - radius are free.
        while finished + lag <= last {
            finish(slice, scratch, finished);
            finished += 1;
        }
    }
    while finished < ny {
        finish(slice, scratch, finished);
        finished += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// GPU path

/// The GPU path runs the shared 1D correlation passes (`correlate1d.wgsl`) with the full
/// kernels: on a GPU the passes are bound by memory traffic, not by the multiplies the
/// symmetric CPU path saves.
fn record_gpu(plan: &Plan, rec: &mut Recorder<'_>, input: &GpuVolume) -> Result<GpuVolume> {
    let passes = plan
        .passes
        .iter()
        .map(|(axis, half)| {
            let radius = half.len() - 1;
            let weights = half[1..].iter().rev().chain(half.iter()).copied().collect();
            Pass {
                axis: *axis,
                weights,
                left: radius,
            }
        })
        .collect();
    Separable::chain(passes, plan.mode).record(rec, input)
}

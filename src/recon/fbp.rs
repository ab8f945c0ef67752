//! Filtered back-projection for 2D parallel beams, numerically comparable with scikit-image's
//! `iradon(sinogram, theta, filter_name, circle=True, interpolation='linear')`:
//!
//! * sinogram as `views × cols` (scikit-image's is `cols × views`: transpose), angles in
//!   degrees in the convention of [`super::Geometry::parallel_2d`];
//! * `circle = true` (scikit-image's default) pads the detector to the image diagonal around
//!   column `n/2` and zeroes the output outside the inscribed circle;
//! * ramp filtering as [`super::ramp`]; linear interpolation, zero beyond the detector;
//!   rotation centre at pixel `size/2` (integer division, as scikit-image); output scaled by
//!   `π / (2 · views)`.
//!
//! CPU: a vectorised row back-projector. GPU: the WGSL FFT of [`super::ramp`] and the
//! voxel-driven back-projector ([`super::backproject`]) with the same matrices; a stack of
//! sinograms (3D parallel beam) reconstructs in one call.

use std::f64::consts::PI;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::recon::geometry::{DetectorMap, ViewMatrix};
use crate::recon::interpolate::PAD;
use crate::recon::ramp::{RampWindow, filter_rows_cpu, frequency_response, padded_len};
use crate::recon::stages::{FilteredBackprojection, Weighting};

/// Image rows per parallel task: each view's filtered row is read once for all of them.
const ROW_BLOCK: usize = 8;

/// Adds one view's interpolated filtered projection `f` (`n` samples and trailing zeros) to
/// the pixels `k0..k0 + line.len()` of an output row: along the row the detector position
/// `t = base + k cos θ` advances by `cos θ` per pixel. Positions off the detector contribute 0,
/// as `numpy.interp(left=0, right=0)`. f32 positions (1e-4 pixel of rounding at most for
/// detectors of thousands of columns) keep the loop 8 lanes wide; on AVX2 the two samples are
/// fetched by [`crate::recon::interpolate::pairs`].
fn backproject_view(line: &mut [f32], k0: usize, base: f64, c: f64, n: usize, f: &[f32]) {
    let base = (base + k0 as f64 * c) as f32;
    let c = c as f32;
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { backproject_view_avx2(line, base, c, n, f) };
            return;
        }
    }
    backproject_view_generic(line, 0, base, c, n, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn backproject_view_avx2(line: &mut [f32], base: f32, c: f32, n: usize, f: &[f32]) {
    use std::arch::x86_64::*;
    let last = (n - 1) as f32;
    let (zero, vlast, vc, vbase) = (
        _mm256_setzero_ps(),
        _mm256_set1_ps(last),
        _mm256_set1_ps(c),
        _mm256_set1_ps(base),
    );
    let mut k = _mm256_setr_ps(0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0);
    let eight = _mm256_set1_ps(8.0);
    let full = line.len() / 8 * 8;
    let dst = line.as_mut_ptr();
    for j in (0..full).step_by(8) {
        let t = _mm256_fmadd_ps(k, vc, vbase);
        let inside = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GE_OQ>(t, zero),
            _mm256_cmp_ps::<_CMP_LE_OQ>(t, vlast),
        );
        let tc = _mm256_min_ps(_mm256_max_ps(t, zero), vlast);
        let i = _mm256_cvttps_epi32(tc);
        let w = _mm256_sub_ps(tc, _mm256_cvtepi32_ps(i));
        // SAFETY: 0 <= i <= n - 1 and `f` holds more than n samples, so i and i + 1 are in bounds;
        // j + 8 <= line.len().
        unsafe {
            let (a, b) = crate::recon::interpolate::pairs(f, i);
            let v = _mm256_and_ps(_mm256_fmadd_ps(w, _mm256_sub_ps(b, a), a), inside);
            let acc = _mm256_loadu_ps(dst.add(j));
            _mm256_storeu_ps(dst.add(j), _mm256_add_ps(acc, v));
        }
        k = _mm256_add_ps(k, eight);
    }
    backproject_view_generic(&mut line[full..], full, base, c, n, f)
}

#[inline(always)]
fn backproject_view_generic(line: &mut [f32], k0: usize, base: f32, c: f32, n: usize, f: &[f32]) {
    let last = (n - 1) as f32;
    for (k, acc) in (k0..).zip(line.iter_mut()) {
        let t = base + k as f32 * c;
        if !(t >= 0.0 && t <= last) {
            continue;
        }
        let i = (t as usize).min(n - 1);
        let w = t - i as f32;
        *acc += f[i] + w * (f[i + 1] - f[i]);
    }
}

/// 2D parallel-beam FBP.
#[derive(Debug, Clone, PartialEq)]
pub struct Fbp2d {
    angles_degrees: Vec<f64>,
    window: RampWindow,
    cutoff: f64,
    output_size: Option<usize>,
    circle: bool,
}

impl Fbp2d {
    /// FBP for a sinogram taken at `angles_degrees`, ramp filter, circle on.
    pub fn new(angles_degrees: &[f64]) -> Self {
        Fbp2d {
            angles_degrees: angles_degrees.to_vec(),
            window: RampWindow::Ramp,
            cutoff: 1.0,
            output_size: None,
            circle: true,
        }
    }

    /// Filter window (default ramp).
    pub fn window(mut self, window: RampWindow) -> Self {
        self.window = window;
        self
    }

    /// Frequency cut-off as a fraction of Nyquist (default 1).
    pub fn cutoff(mut self, cutoff: f64) -> Self {
        self.cutoff = cutoff;
        self
    }

    /// Output image side (default: the detector width with `circle`, else `⌊n/√2⌋`).
    pub fn output_size(mut self, size: usize) -> Self {
        self.output_size = Some(size);
        self
    }

    /// Whether the object lies inside the circle the detector sees (default true).
    pub fn circle(mut self, circle: bool) -> Self {
        self.circle = circle;
        self
    }

    /// Validates a sinogram and pads it as scikit-image does: `(padded sinogram, output size)`.
    fn prepare(&self, sinogram: ArrayView2<'_, f32>) -> Result<(Array2<f32>, usize)> {
        let (views, cols) = sinogram.dim();
        crate::volume::check_shape(&[views, cols])?;
        if self.angles_degrees.len() != views {
            return Err(Error::InvalidShape(format!(
                "{} angles for a sinogram of {views} views; give one angle per view (row)",
                self.angles_degrees.len()
            )));
        }
        if let Some(bad) = self.angles_degrees.iter().find(|a| !a.is_finite()) {
            return Err(Error::param("angles", format!("angle {bad} is not finite")));
        }
        if sinogram.iter().any(|v| !v.is_finite()) {
            return Err(Error::param(
                "sinogram",
                "the sinogram holds NaN or infinite values; FBP would spread them over the whole image",
            ));
        }
        let size = match self.output_size {
            Some(0) => return Err(Error::param("output_size", "the output needs at least one pixel")),
            Some(s) if s > 1 << 15 => {
                return Err(Error::param("output_size", format!("{s} pixels per side is too large")));
            }
            Some(s) => s,
            None if self.circle => cols,
            None => ((cols * cols) as f64 / 2.0).sqrt().floor().max(1.0) as usize,
        };
        // scikit-image pads a circle sinogram to the diagonal around column n/2.
        let padded = if self.circle {
            let diagonal = (2f64.sqrt() * cols as f64).ceil() as usize;
            let before = diagonal / 2 - cols / 2;
            let mut p = Array2::<f32>::zeros((views, diagonal));
            p.slice_mut(ndarray::s![.., before..before + cols]).assign(&sinogram);
            p
        } else {
            sinogram.to_owned()
        };
        Ok((padded, size))
    }

    /// Reconstructs a `views × cols` sinogram on the CPU.
    pub fn reconstruct_cpu(&self, sinogram: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let (padded, size) = self.prepare(sinogram)?;
        let views = padded.dim().0;
        let n = padded.dim().1;
        let filtered = filter_rows_cpu(padded.view().insert_axis(Axis(1)), self.window, self.cutoff)?;
        let filtered = filtered.index_axis_move(Axis(1), 0);
        let (centre, radius) = ((n / 2) as f64, (size / 2) as f64);
        let trig: Vec<(f64, f64)> = self.angles_degrees.iter().map(|a| a.to_radians().sin_cos()).collect();
        // Each filtered row gets trailing zeros: the linear interpolation can always read index
        // i + 1, and the vector loop's window loads stay in the row.
        let stride = n + PAD;
        let mut rows_ext = vec![0.0f32; views * stride];
        for (v, row) in filtered.axis_iter(Axis(0)).enumerate() {
            rows_ext[v * stride..v * stride + n]
                .iter_mut()
                .zip(row)
                .for_each(|(d, &s)| *d = s);
        }
        let scale = (PI / (2.0 * views as f64)) as f32;
        let circle = self.circle;
        let mut out = Array2::<f32>::zeros((size, size));
        // The pixels of row y that are computed: the circle's chord (the rest is zeroed).
        let span = |y: f64| -> (usize, usize) {
            if !circle {
                return (0, size);
            }
            let half = (radius * radius - y * y).max(0.0).sqrt();
            let lo = (radius - half).ceil().max(0.0) as usize;
            let hi = ((radius + half).floor() as usize + 1).min(size);
            (lo.min(hi), hi)
        };
        out.axis_chunks_iter_mut(Axis(0), ROW_BLOCK)
            .into_par_iter()
            .enumerate()
            .for_each(|(block, mut rows)| {
                let first = block * ROW_BLOCK;
                for (view, &(s, c)) in trig.iter().enumerate() {
                    let f = &rows_ext[view * stride..(view + 1) * stride];
                    for (i, mut line) in rows.axis_iter_mut(Axis(0)).enumerate() {
                        let y = (first + i) as f64 - radius;
                        let (k0, k1) = span(y);
                        let line = line.as_slice_mut().expect("rows of a standard array are contiguous");
                        backproject_view(&mut line[k0..k1], k0, -radius * c - y * s + centre, c, n, f);
                    }
                }
                for (i, mut line) in rows.axis_iter_mut(Axis(0)).enumerate() {
                    let row = first + i;
                    for (col, v) in line.iter_mut().enumerate() {
                        let (x, y) = (col as f64 - radius, row as f64 - radius);
                        *v = if circle && x * x + y * y > radius * radius {
                            0.0
                        } else {
                            *v * scale
                        };
                    }
                }
            });
        Ok(out)
    }

    /// The back-projection matrices of a stack of `slices` padded sinograms of `n` columns
    /// into `size × size` images: skimage's `t = x cos θ − y sin θ` about pixel `size/2` and
    /// detector column `n/2`; slice z reads detector row z.
    fn detector_map(&self, n: usize, size: usize, slices: usize) -> DetectorMap {
        let (centre, radius) = ((n / 2) as f64, (size / 2) as f64);
        let matrices = self
            .angles_degrees
            .iter()
            .map(|a| {
                let (s, c) = a.to_radians().sin_cos();
                ViewMatrix {
                    rows: [
                        [c, -s, 0.0, -radius * c + radius * s + centre],
                        if slices > 1 { [0.0, 0.0, 1.0, 0.0] } else { [0.0; 4] },
                        [0.0, 0.0, 0.0, 1.0],
                    ],
                }
            })
            .collect();
        DetectorMap {
            matrices,
            rows: slices,
            cols: n,
            arc: None,
        }
    }

    /// Reconstructs a stack of sinograms, `views × slices × cols` (3D parallel beam, one
    /// rotation axis along the slices), into `slices × size × size`, on the GPU in one call:
    /// the views go up in batches, are ramp-filtered by the WGSL FFT and back-projected there.
    pub fn reconstruct_stack_gpu(&self, ctx: &GpuContext, sinograms: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        let (views, slices, cols) = sinograms.dim();
        crate::volume::check_shape(&[views, slices, cols])?;
        let mut padded = Vec::with_capacity(slices);
        let mut size = 0;
        for z in 0..slices {
            let (p, s) = self.prepare(sinograms.index_axis(Axis(1), z))?;
            padded.push(p);
            size = s;
        }
        let views_padded: Vec<_> = padded.iter().map(|p| p.view().insert_axis(Axis(1))).collect();
        let stack = ndarray::concatenate(Axis(1), &views_padded).map_err(|e| Error::InvalidShape(e.to_string()))?;
        let n = stack.dim().2;
        let radius = (size / 2) as f32;
        // No pre-weights; skimage's scale π / (2 · views) as every view's weight.
        let stages = FilteredBackprojection {
            weighting: Weighting::default(),
            response: frequency_response(padded_len(n), self.window, self.cutoff)?,
            map: self.detector_map(n, size, slices),
            view_weights: vec![PI / (2.0 * views as f64); views],
            mask: self.circle.then_some((radius, radius, radius * radius)),
        };
        stages
            .reconstruct_gpu(ctx, stack.view(), [slices, size, size], &mut |_, _| {})?
            .download(ctx)
    }

    /// Reconstructs a `views × cols` sinogram on the GPU (see [`Fbp2d::reconstruct_stack_gpu`]).
    pub fn reconstruct_gpu(&self, ctx: &GpuContext, sinogram: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        Ok(self
            .reconstruct_stack_gpu(ctx, sinogram.insert_axis(Axis(1)))?
            .index_axis_move(Axis(0), 0))
    }

    /// Reconstructs a stack of sinograms, `views × slices × cols`, on the CPU (slice by slice).
    pub fn reconstruct_stack_cpu(&self, sinograms: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        let slices = sinograms
            .axis_iter(Axis(1))
            .map(|s| self.reconstruct_cpu(s))
            .collect::<Result<Vec<_>>>()?;
        let views: Vec<_> = slices.iter().map(|s| s.view().insert_axis(Axis(0))).collect();
        ndarray::concatenate(Axis(0), &views).map_err(|e| Error::InvalidShape(e.to_string()))
    }
}

//! Bilateral filter in 2D and 3D, with the semantics of ITK's `BilateralImageFilter` (SimpleITK
//! `Bilateral(image, domainSigma, rangeSigma, numberOfRangeGaussianSamples)`):
//!
//! * domain sigma in millimetres (voxels when the spacing is 1), per axis; the box radius is
//!   `ceil(2.5 · sigma / spacing)` per axis; domain weight `exp(-½ Σ (offset_mm / sigma)²)`;
//! * range weight: the Gaussian of the intensity difference tabulated at
//!   `range_samples` points (default 100) over `[0, 4 · range_sigma)`, looked up by truncation,
//!   0 beyond — exactly ITK's table, so results agree with SimpleITK to f32 rounding;
//! * boundary `Nearest` (ITK's zero-flux Neumann condition) by default;
//! * output `Σ w v / Σ w`; NaN in the data spreads to the neighbourhoods that see it.
//!
//! CPU path: every output row with its neighbour rows (`filter/neighbourhood.rs`); the inner
//! loop runs along x over contiguous rows (vectorised; the range table from registers with
//! AVX-512 permutes where it has at most 128 entries, else gathers). GPU path:
//! one voxel per thread in 8×8×4 workgroups that stage their neighbourhood in workgroup memory
//! for radii up to 3.

use ndarray::{Array3, ArrayView3};

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::correlate1d::check_mode;
use crate::filter::neighbourhood::{NeighbourRows, map_rows};
use crate::filter::{Filter, check_ndim, per_axis};
use crate::gpu::{Binding, TILE, uniform};
use crate::gpu::{BufferWindow, GpuVolume, KernelSpec, Recorder, for_each_slab, wgsl};
use crate::volume::Grid;

/// ITK's `DomainMu`: the kernel reaches 2.5 domain sigmas.
const DOMAIN_MU: f64 = 2.5;
/// ITK's `RangeMu`: the range table covers 4 range sigmas.
const RANGE_MU: f64 = 4.0;
/// Largest radius along any axis.
pub const MAX_RADIUS: usize = 16;
const GPU_STAGE_RADIUS: usize = 3;

pub(crate) static KERNEL: KernelSpec = KernelSpec {
    name: "filter/bilateral",
    sources: &[
        wgsl::BOUNDARY,
        wgsl::TILE,
        wgsl::STAGE,
        include_str!("../../shaders/filter/bilateral.wgsl"),
    ],
    entry: "bilateral",
    bindings: &[
        TILE,
        uniform::<Params>(),
        Binding::Read,
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[],
};

/// Twin of `Params` in `bilateral.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    rz: u32,
    ry: u32,
    rx: u32,
    mode: u32,
    cval: f32,
    scale: f32,
    samples: u32,
    use_cache: u32,
}

/// The bilateral filter.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::Bilateral;
/// // A step edge with noise: smoothed on each side, the edge kept.
/// let image = ndarray::Array2::from_shape_fn((16, 16), |(y, x)| {
///     (if x < 8 { 0.0 } else { 1000.0 }) + ((y * 7 + x * 13) % 5) as f32
/// });
/// let out = Bilateral::new(&[1.5], 50.0).apply(&Backend::Cpu, image.view())?;
/// assert!(out[[8, 6]] < 10.0 && out[[8, 9]] > 990.0);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Bilateral {
    domain_sigma: Vec<f64>,
    range_sigma: f64,
    spacing: Vec<f64>,
    range_samples: usize,
    mode: BoundaryMode,
}

struct Plan {
    radius: [usize; 3],
    domain: Vec<f32>,
    table: Vec<f32>,
    scale: f32,
}

impl Bilateral {
    /// Domain sigma (mm; one value or one per axis) and range sigma (intensity units).
    pub fn new(domain_sigma: &[f64], range_sigma: f64) -> Self {
        Bilateral {
            domain_sigma: domain_sigma.to_vec(),
            range_sigma,
            spacing: vec![1.0],
            range_samples: 100,
            mode: BoundaryMode::Nearest,
        }
    }

    /// Voxel spacing in mm (one value or one per axis; default 1).
    pub fn spacing(mut self, spacing: &[f64]) -> Self {
        self.spacing = spacing.to_vec();
        self
    }

    /// The spacing of a volume's grid.
    pub fn for_grid(self, grid: &Grid) -> Self {
        self.spacing(&grid.spacing)
    }

    /// Number of range-table samples over `[0, 4 · range_sigma)` (ITK's default 100; more
    /// approximate the continuous Gaussian more closely).
    pub fn range_samples(mut self, samples: usize) -> Self {
        self.range_samples = samples;
        self
    }

    /// Boundary mode (default `Nearest`, as ITK).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self, ndim: usize) -> Result<Plan> {
        check_ndim(ndim)?;
        check_mode(self.mode)?;
        let sigma = per_axis("domain_sigma", &self.domain_sigma, ndim, 0.0)?;
        let spacing = per_axis("spacing", &self.spacing, ndim, 1.0)?;
        if let Some(bad) = spacing.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::param(
                "spacing",
                format!("spacing {bad} must be positive and finite"),
            ));
        }
        let mut radius = [0usize; 3];
        for a in 3 - ndim..3 {
            let s = sigma[a];
            if !(s.is_finite() && s > 0.0) {
                return Err(Error::param(
                    "domain_sigma",
                    format!("domain sigma {s} along axis {a} (z, y, x) must be positive and finite"),
                ));
            }
            let r = (DOMAIN_MU * s / spacing[a]).ceil();
            if r > MAX_RADIUS as f64 {
                return Err(Error::param(
                    "domain_sigma",
                    format!(
                        "domain sigma {s} mm with spacing {} mm needs a radius of {r} voxels; at most {MAX_RADIUS} is supported",
                        spacing[a]
                    ),
                ));
            }
            radius[a] = r as usize;
        }
        if !(self.range_sigma.is_finite() && self.range_sigma > 0.0) {
            return Err(Error::param(
                "range_sigma",
                format!("range sigma {} must be positive and finite", self.range_sigma),
            ));
        }
        if self.range_samples == 0 || self.range_samples > 1 << 20 {
            return Err(Error::param("range_samples", "give between 1 and 1,048,576 samples"));
        }
        // Domain weights in (dz, dy, dx) order; the normalisation cancels in Σwv / Σw.
        let mut domain = Vec::new();
        let r = radius.map(|r| r as isize);
        for dz in -r[0]..=r[0] {
            for dy in -r[1]..=r[1] {
                for dx in -r[2]..=r[2] {
                    let q: f64 = [dz, dy, dx]
                        .iter()
                        .enumerate()
                        .filter(|(a, _)| sigma[*a] > 0.0)
                        .map(|(a, &d)| (d as f64 * spacing[a] / sigma[a]).powi(2))
                        .sum();
                    domain.push((-0.5 * q).exp() as f32);
                }
            }
        }
        let used = RANGE_MU * self.range_sigma;
        let delta = used / self.range_samples as f64;
        let mut table: Vec<f32> = (0..self.range_samples)
            .map(|i| {
                let v = i as f64 * delta;
                (-0.5 * v * v / (self.range_sigma * self.range_sigma)).exp() as f32
            })
            .collect();
        table.push(0.0);
        Ok(Plan {
            radius,
            domain,
            table,
            scale: (self.range_samples as f64 / used) as f32,
        })
    }
}

impl Filter for Bilateral {
    fn name(&self) -> &'static str {
        "bilateral"
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        let plan = self.plan(ndim)?;
        Ok(map_rows(
            input,
            plan.radius,
            self.mode,
            || (),
            |_, _, rows, _, out| bilateral_row(&plan, rows, out),
        ))
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        let plan = self.plan(ndim)?;
        let output = rec.volume(input.shape())?;
        let r = plan.radius;
        let params = rec.uniform(&Params {
            rz: r[0] as u32,
            ry: r[1] as u32,
            rx: r[2] as u32,
            mode: self.mode.code(),
            cval: self.mode.cval(),
            scale: plan.scale,
            samples: plan.table.len() as u32,
            use_cache: u32::from(r.iter().all(|&r| r <= GPU_STAGE_RADIUS)),
        });
        let domain = rec.constants(&plan.domain);
        let table = rec.constants(&plan.table);
        for_each_slab(rec, &[input], &output, r[0], self.mode, |rec, slab| {
            rec.dispatch_grid(
                &KERNEL,
                &[
                    BufferWindow::whole(&slab.tile),
                    BufferWindow::whole(&params),
                    BufferWindow::whole(&domain),
                    BufferWindow::whole(&table),
                    slab.inputs[0],
                    slab.output,
                ],
                slab.grid(),
            )
        })?;
        Ok(output)
    }
}

fn bilateral_row(plan: &Plan, rows: &NeighbourRows<'_>, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if plan.table.len() <= PERMUTE_TABLE && std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { bilateral_row_avx512(plan, rows, out) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { bilateral_row_avx2(plan, rows, out) };
            return;
        }
    }
    bilateral_row_generic(plan, rows, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn bilateral_row_avx2(plan: &Plan, rows: &NeighbourRows<'_>, out: &mut [f32]) {
    bilateral_row_generic(plan, rows, out)
}

/// Voxels computed together: the sums stay in registers across the whole neighbourhood.
const LANES: usize = 16;

/// Range tables up to this many entries (ITK's default of 100 samples takes 101) are looked up
/// from registers with AVX-512 two-source permutes, 32 entries each, instead of gathers.
const PERMUTE_TABLE: usize = 128;

/// [`bilateral_row_generic`] with the range table held in eight registers: four permutes and
/// three blends look up 16 weights where a gather loads them one by one. The same operations in
/// the same order (no fused multiply-adds), so the output is bit for bit the generic loop's.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn bilateral_row_avx512(plan: &Plan, rows: &NeighbourRows<'_>, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let nx = out.len();
    let rx = plan.radius[2];
    let width = 2 * rx + 1;
    let centre_row = rows.row(rows.count / 2);
    let mut padded = [0.0f32; PERMUTE_TABLE];
    padded[..plan.table.len()].copy_from_slice(&plan.table);
    // SAFETY: 16 of the 128 values each.
    let t: [__m512; 8] = std::array::from_fn(|k| unsafe { _mm512_loadu_ps(padded.as_ptr().add(16 * k)) });
    let last = _mm512_set1_ps((plan.table.len() - 1) as f32);
    let scale = _mm512_set1_ps(plan.scale);
    let magnitude = _mm512_set1_epi32(0x7fff_ffff);
    let (one, two, three) = (_mm512_set1_epi32(1), _mm512_set1_epi32(2), _mm512_set1_epi32(3));
    for x0 in (0..nx).step_by(LANES) {
        // Rows are extended by `TAIL` >= LANES voxels, so full-width loads stay inside them.
        // SAFETY: LANES values from rx + x0.
        let centre = unsafe { _mm512_loadu_ps(centre_row.as_ptr().add(rx + x0)) };
        let mut num = _mm512_setzero_ps();
        let mut den = _mm512_setzero_ps();
        for i in 0..rows.count {
            let row = rows.row(i);
            for dx in 0..width {
                let wd = _mm512_set1_ps(plan.domain[i * width + dx]);
                // SAFETY: LANES values from x0 + dx < the extended row's length.
                let v = unsafe { _mm512_loadu_ps(row.as_ptr().add(x0 + dx)) };
                let d = _mm512_castsi512_ps(_mm512_and_si512(
                    _mm512_castps_si512(_mm512_sub_ps(v, centre)),
                    magnitude,
                ));
                // min(t, last) takes `last` for NaN (the second operand), as the generic loop.
                let index = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_mul_ps(d, scale), last));
                let quarter = _mm512_srli_epi32::<5>(index);
                let mut w = _mm512_permutex2var_ps(t[0], index, t[1]);
                w = _mm512_mask_mov_ps(
                    w,
                    _mm512_cmpeq_epi32_mask(quarter, one),
                    _mm512_permutex2var_ps(t[2], index, t[3]),
                );
                w = _mm512_mask_mov_ps(
                    w,
                    _mm512_cmpeq_epi32_mask(quarter, two),
                    _mm512_permutex2var_ps(t[4], index, t[5]),
                );
                w = _mm512_mask_mov_ps(
                    w,
                    _mm512_cmpeq_epi32_mask(quarter, three),
                    _mm512_permutex2var_ps(t[6], index, t[7]),
                );
                let w = _mm512_mul_ps(wd, w);
                num = _mm512_add_ps(num, _mm512_mul_ps(w, v));
                den = _mm512_add_ps(den, w);
            }
        }
        let mut quotient = [0.0f32; LANES];
        // SAFETY: LANES values.
        unsafe { _mm512_storeu_ps(quotient.as_mut_ptr(), _mm512_div_ps(num, den)) };
        let take = LANES.min(nx - x0);
        out[x0..x0 + take].copy_from_slice(&quotient[..take]);
    }
}

#[inline(always)]
fn bilateral_row_generic(plan: &Plan, rows: &NeighbourRows<'_>, out: &mut [f32]) {
    let nx = out.len();
    let rx = plan.radius[2];
    let width = 2 * rx + 1;
    let centre_row = rows.row(rows.count / 2);
    let table = &plan.table[..];
    let last = (table.len() - 1) as f32;
    let scale = plan.scale;
    for x0 in (0..nx).step_by(LANES) {
        // Rows are extended by `TAIL` >= LANES voxels, so full-width loads stay inside them.
        let centre: &[f32; LANES] = centre_row[rx + x0..rx + x0 + LANES].try_into().expect("LANES");
        let mut num = [0.0f32; LANES];
        let mut den = [0.0f32; LANES];
        for i in 0..rows.count {
            let row = rows.row(i);
            for dx in 0..width {
                let wd = plan.domain[i * width + dx];
                let v: &[f32; LANES] = row[x0 + dx..x0 + dx + LANES].try_into().expect("LANES");
                for l in 0..LANES {
                    let t = (v[l] - centre[l]).abs() * scale;
                    // `t < last` is false for NaN: NaN and far values take the last entry (0).
                    let t = if t < last { t } else { last };
                    // SAFETY: 0 <= t <= last < 2^31, so the conversion is exact and in range,
                    // and the index is inside the table.
                    let w = wd * unsafe { *table.get_unchecked(t.to_int_unchecked::<i32>() as usize) };
                    num[l] += w * v[l];
                    den[l] += w;
                }
            }
        }
        let take = LANES.min(nx - x0);
        for l in 0..take {
            out[x0 + l] = num[l] / den[l];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permuted_table_look_ups_equal_the_generic_loop_bit_for_bit() {
        #[cfg(target_arch = "x86_64")]
        {
            if !std::is_x86_feature_detected!("avx512f") {
                eprintln!("no AVX-512F on this CPU: the permute loop is never used here");
                return;
            }
            // Values spread over the table and past it, NaN among them; tables of every size
            // class the permutes cover (one to four pairs of registers), 2D and 3D radii.
            let (nz, ny, nx) = (5, 6, 37);
            let mut state = 0x2545_f491_4f6c_dd1du64;
            let data: Vec<f32> = (0..nz * ny * nx)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    if i % 97 == 5 {
                        f32::NAN
                    } else {
                        (state % 4000) as f32 * 0.05 - 100.0
                    }
                })
                .collect();
            let input = ndarray::Array3::from_shape_vec((nz, ny, nx), data).unwrap();
            for (samples, sigma, ndim) in [(10, 1.0, 3), (40, 0.8, 3), (100, 1.2, 2), (127, 0.5, 3)] {
                let filter = Bilateral::new(&[sigma], 30.0).range_samples(samples);
                let plan = filter.plan(ndim).unwrap();
                assert!(plan.table.len() <= PERMUTE_TABLE);
                let run = |row: fn(&Plan, &NeighbourRows<'_>, &mut [f32])| {
                    map_rows(
                        input.view(),
                        plan.radius,
                        BoundaryMode::Nearest,
                        || (),
                        |_, _, rows, _, out| row(&plan, rows, out),
                    )
                };
                // SAFETY (in the closure): AVX-512F was detected above.
                let permuted = run(|p, r, o| unsafe { bilateral_row_avx512(p, r, o) });
                let generic = run(bilateral_row_generic);
                let same = permuted
                    .iter()
                    .zip(&generic)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()));
                assert!(same, "{samples} samples, sigma {sigma}, {ndim}D");
                assert!(generic.iter().any(|v| v.is_nan()) && generic.iter().any(|v| v.is_finite()));
            }
        }
    }
}

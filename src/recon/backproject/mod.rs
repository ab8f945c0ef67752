//! The voxel-driven, interpolating back-projector of FBP, fan-beam FBP and FDK: every voxel
//! adds, for every view, the projection value where the ray through it meets the detector
//! (linear interpolation along columns, bilinear on a 2D detector, 0 off the detector), times
//! the view's weight and the divergent-beam distance weight.
//!
//! Each view is its projection matrix ([`DetectorMap`], in the geometry module): detector column
//! and row of every voxel, and the FDK distance weight `(SID / distance)²`, which is `1 / W²`
//! (arc detectors: `SID² / L² = 1 / (U² + W²)`); parallel beams have weight 1.
//!
//! CPU: one-row detectors (fan beams) take rows of pixels along x ([`one_row`]); otherwise the
//! volume is cut into columns of voxels along z, tiled 8 × 8 in (x, y) so that a
//! tile's detector footprint stays in cache across views; the projections are transposed so
//! that a z-column reads detector columns contiguously; the inner loop along z vectorises.
//! GPU twin: `shaders/recon/backproject.wgsl`.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::gpu::{Binding, uniform};
use crate::gpu::{
    BufferWindow, GpuContext, GpuProjections, GpuVolume, KernelSpec, Recorder, VolumeSlabParams, for_each_volume_slab,
    wgsl,
};
use crate::recon::geometry::{ArcDetector, DetectorMap, Geometry};
use crate::recon::interpolate::PAD;
use crate::volume::Grid;

mod one_row;

/// Side of the (x, y) tiles of the CPU back-projector.
const TILE: usize = 8;

/// The voxel-driven back-projector for one geometry and volume.
#[derive(Debug, Clone)]
pub struct Backprojector {
    map: DetectorMap,
    shape: [usize; 3],
}

/// Detector columns of one view, transposed and padded with a zero row and column so that
/// bilinear interpolation can always read the next sample: `(cols + 1) × (rows + 1)`.
fn transposed(view: ArrayView3<'_, f32>, v: usize, rows: usize, cols: usize, out: &mut [f32]) {
    let stride = rows + 1;
    out.fill(0.0);
    for r in 0..rows {
        for c in 0..cols {
            out[c * stride + r] = view[[v, r, c]];
        }
    }
}

impl Backprojector {
    /// The back-projector of `geometry` into a `shape = [nz, ny, nx]` volume on `grid`.
    pub fn new(geometry: &Geometry, shape: [usize; 3], grid: &Grid) -> Result<Backprojector> {
        crate::volume::check_shape(&shape)?;
        crate::recon::projector::check_sizes(geometry, shape)?;
        Ok(Backprojector {
            map: DetectorMap::new(geometry, grid)?,
            shape,
        })
    }

    /// The back-projector of the views `map` describes into a `shape = [nz, ny, nx]` volume.
    pub fn from_map(map: DetectorMap, shape: [usize; 3]) -> Result<Backprojector> {
        crate::volume::check_shape(&shape)?;
        Ok(Backprojector { map, shape })
    }

    /// The per-view matrices.
    pub fn map(&self) -> &DetectorMap {
        &self.map
    }

    fn check_projections(&self, [views, rows, cols]: [usize; 3], view_weights: &[f64]) -> Result<()> {
        let m = &self.map;
        if (views, rows, cols) != (m.matrices.len(), m.rows, m.cols) || view_weights.len() != views {
            return Err(Error::InvalidShape(format!(
                "projections {views}×{rows}×{cols} with {} view weights for a geometry of {} views × {} rows × {} \
                 columns",
                view_weights.len(),
                m.matrices.len(),
                m.rows,
                m.cols
            )));
        }
        Ok(())
    }

    /// `Σ_views view_weights[v] · w(voxel) · p_v(voxel)` for `views × rows × cols`
    /// projections, on the CPU. NaN in the projections propagates to the voxels that see it.
    pub fn backproject_cpu(&self, projections: ArrayView3<'_, f32>, view_weights: &[f64]) -> Result<Array3<f32>> {
        let (views, rows, cols) = projections.dim();
        self.check_projections([views, rows, cols], view_weights)?;
        let m = &self.map;
        if one_row::applies(m) {
            return Ok(one_row::backproject(m, self.shape, projections, view_weights));
        }
        Ok(self.backproject_columns(projections, view_weights))
    }

    /// [`Backprojector::backproject_cpu`] by z-columns (any detector), for checked sizes.
    fn backproject_columns(&self, projections: ArrayView3<'_, f32>, view_weights: &[f64]) -> Array3<f32> {
        let (views, rows, cols) = projections.dim();
        let m = &self.map;
        let plane = (cols + 1) * (rows + 1);
        let mut columns = vec![0.0f32; views * plane];
        columns
            .par_chunks_mut(plane)
            .enumerate()
            .for_each(|(v, out)| transposed(projections, v, rows, cols, out));
        let [nz, ny, nx] = self.shape;
        let tiles_x = nx.div_ceil(TILE);
        let tiles: Vec<(usize, usize)> = (0..ny.div_ceil(TILE))
            .flat_map(|ty| (0..tiles_x).map(move |tx| (ty, tx)))
            .collect();
        // Each tile accumulates its z-columns ([y][x][z]) and is scattered into the volume.
        let results: Vec<Vec<f32>> = tiles
            .par_iter()
            .map(|&(ty, tx)| {
                let (y0, x0) = (ty * TILE, tx * TILE);
                let (h, w) = ((ny - y0).min(TILE), (nx - x0).min(TILE));
                let mut acc = vec![0.0f32; h * w * nz];
                let mut blend = Vec::new();
                for (v, matrix) in m.matrices.iter().enumerate() {
                    let plane_data = &columns[v * plane..(v + 1) * plane];
                    let weight = view_weights[v] as f32;
                    for y in 0..h {
                        for x in 0..w {
                            let line = &mut acc[(y * w + x) * nz..(y * w + x + 1) * nz];
                            let at = |row: &[f64; 4]| row[0] * (x0 + x) as f64 + row[1] * (y0 + y) as f64 + row[3];
                            let r = &matrix.rows;
                            let start = [at(&r[0]), at(&r[1]), at(&r[2])];
                            let step = [r[0][2], r[1][2], r[2][2]];
                            accumulate_line(line, start, step, m, plane_data, weight, &mut blend);
                        }
                    }
                }
                acc
            })
            .collect();
        let mut out = Array3::<f32>::zeros((nz, ny, nx));
        for (&(ty, tx), acc) in tiles.iter().zip(&results) {
            let (y0, x0) = (ty * TILE, tx * TILE);
            let (h, w) = ((ny - y0).min(TILE), (nx - x0).min(TILE));
            for y in 0..h {
                for x in 0..w {
                    for (z, &v) in acc[(y * w + x) * nz..(y * w + x + 1) * nz].iter().enumerate() {
                        out[[z, y0 + y, x0 + x]] = v;
                    }
                }
            }
        }
        out
    }
}

/// Adds one view to a z-column of voxels: `start` is `(U, V, W)` at its first voxel, `step`
/// the change per voxel along z.
fn accumulate_line(
    line: &mut [f32],
    start: [f64; 3],
    step: [f64; 3],
    map: &DetectorMap,
    plane: &[f32],
    weight: f32,
    blend: &mut Vec<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { accumulate_line_avx2(line, start, step, map, plane, weight, blend) };
            return;
        }
    }
    accumulate_line_generic(line, start, step, map, plane, weight, blend)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn accumulate_line_avx2(
    line: &mut [f32],
    start: [f64; 3],
    step: [f64; 3],
    map: &DetectorMap,
    plane: &[f32],
    weight: f32,
    blend: &mut Vec<f32>,
) {
    accumulate_line_generic(line, start, step, map, plane, weight, blend)
}

/// Adds `b` linearly interpolated at rows `v0 + k · dv` (clamped to `0..=last_row`) for
/// `k = k0..k0 + line.len()`; `b` holds `last_row + 2` samples or more. AVX2 fetches both
/// samples by [`crate::recon::interpolate::pairs`].
#[inline(always)]
fn add_resampled(line: &mut [f32], k0: usize, v0: f32, dv: f32, last_row: f32, b: &[f32]) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            done = unsafe { add_resampled_avx2(line, k0, v0, dv, last_row, b) };
        }
    }
    for (k, acc) in (k0 + done..).zip(line[done..].iter_mut()) {
        let row = (v0 + k as f32 * dv).clamp(0.0, last_row);
        let r = row as usize;
        let fr = row - r as f32;
        *acc += b[r] + fr * (b[r + 1] - b[r]);
    }
}

/// The 8-wide part of [`add_resampled`]; returns how many voxels it did.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_resampled_avx2(line: &mut [f32], k0: usize, v0: f32, dv: f32, last_row: f32, b: &[f32]) -> usize {
    use std::arch::x86_64::*;
    let full = line.len() / 8 * 8;
    let (zero, vlast, vdv, vv0, eight) = (
        _mm256_setzero_ps(),
        _mm256_set1_ps(last_row),
        _mm256_set1_ps(dv),
        _mm256_set1_ps(v0),
        _mm256_set1_ps(8.0),
    );
    let k = k0 as f32;
    let mut kv = _mm256_setr_ps(k, k + 1.0, k + 2.0, k + 3.0, k + 4.0, k + 5.0, k + 6.0, k + 7.0);
    let dst = line.as_mut_ptr();
    for j in (0..full).step_by(8) {
        let row = _mm256_min_ps(_mm256_max_ps(_mm256_fmadd_ps(kv, vdv, vv0), zero), vlast);
        let r = _mm256_cvttps_epi32(row);
        let fr = _mm256_sub_ps(row, _mm256_cvtepi32_ps(r));
        // SAFETY: 0 <= r <= last_row and `b` holds last_row + 2 samples or more; j + 8 <= line.len().
        unsafe {
            let (a, c) = crate::recon::interpolate::pairs(b, r);
            let v = _mm256_fmadd_ps(fr, _mm256_sub_ps(c, a), a);
            _mm256_storeu_ps(dst.add(j), _mm256_add_ps(_mm256_loadu_ps(dst.add(j)), v));
        }
        kv = _mm256_add_ps(kv, eight);
    }
    full
}

/// Detector column, row and distance weight from `(U, V, W)`.
#[inline(always)]
fn position_and_weight(u: f64, v: f64, w: f64, arc: Option<ArcDetector>) -> (f64, f64, f64) {
    match arc {
        None => (u / w, v / w, 1.0 / (w * w)),
        Some(a) => {
            let (col, row) = a.position(u, v, w);
            (col, row, 1.0 / (u * u + w * w))
        }
    }
}

#[inline(always)]
fn accumulate_line_generic(
    line: &mut [f32],
    start: [f64; 3],
    step: [f64; 3],
    map: &DetectorMap,
    plane: &[f32],
    weight: f32,
    blend: &mut Vec<f32>,
) {
    let stride = map.rows + 1;
    let (last_col, last_row) = ((map.cols - 1) as f32, (map.rows - 1) as f32);
    if step[0] == 0.0 && step[2] == 0.0 {
        // Circular geometries: a z-column projects onto one detector column.
        let (col, v0, w) = position_and_weight(start[0], start[1], start[2], map.arc);
        if !(col >= 0.0 && col <= f64::from(last_col)) {
            return;
        }
        let i = col.floor() as usize;
        let fc = (col - i as f64) as f32;
        let wgt = (w as f32) * weight;
        // The voxels whose row lies on the detector: k_lo..k_hi (no per-voxel test below). The
        // row is affine along the column: V over W (flat) or over hypot(U, W) (arc), both fixed.
        let dv = match map.arc {
            None => step[1] / start[2],
            Some(_) => step[1] / start[0].hypot(start[2]),
        };
        let n = line.len();
        let (k_lo, k_hi) = if dv == 0.0 {
            if (0.0..=f64::from(last_row)).contains(&v0) {
                (0, n)
            } else {
                (0, 0)
            }
        } else {
            let (a, b) = ((0.0 - v0) / dv, (f64::from(last_row) - v0) / dv);
            let (lo, hi) = (a.min(b), a.max(b));
            (
                lo.ceil().clamp(0.0, n as f64) as usize,
                (hi.floor() + 1.0).clamp(0.0, n as f64) as usize,
            )
        };
        if k_lo >= k_hi {
            return;
        }
        // Blend the two detector columns once over the rows these voxels read, so each voxel
        // interpolates along one column (two loads instead of four).
        let row_at = |k: usize| v0 + k as f64 * dv;
        let (ra, rb) = (row_at(k_lo), row_at(k_hi - 1));
        let r_first = (ra.min(rb).floor().max(0.0) as usize).min(map.rows - 1);
        let r_last = (ra.max(rb).floor().max(0.0) as usize + 1).min(map.rows);
        let (c0, c1) = (
            &plane[i * stride..(i + 1) * stride],
            &plane[(i + 1) * stride..(i + 2) * stride],
        );
        // Only rows r_first..=r_last are written and read: no clearing needed.
        if blend.len() < stride + PAD {
            blend.resize(stride + PAD, 0.0);
        }
        let range = r_first..r_last + 1;
        for ((b, &a0), &a1) in blend[range.clone()].iter_mut().zip(&c0[range.clone()]).zip(&c1[range]) {
            *b = wgt * (a0 + fc * (a1 - a0));
        }
        add_resampled(&mut line[k_lo..k_hi], k_lo, v0 as f32, dv as f32, last_row, blend);
        return;
    }
    // General vector geometries: the column changes along z.
    for (k, acc) in line.iter_mut().enumerate() {
        let t = k as f64;
        let (u, v, w) = (start[0] + t * step[0], start[1] + t * step[1], start[2] + t * step[2]);
        let (col, row, dist) = position_and_weight(u, v, w, map.arc);
        if !(col >= 0.0 && col <= f64::from(last_col) && row >= 0.0 && row <= f64::from(last_row)) {
            continue;
        }
        let (i, r) = (col.floor() as usize, row.floor() as usize);
        let (fc, fr) = ((col - i as f64) as f32, (row - r as f64) as f32);
        let s = |c: usize, r: usize| plane[c * stride + r];
        let top = s(i, r) + fr * (s(i, r + 1) - s(i, r));
        let bottom = s(i + 1, r) + fr * (s(i + 1, r + 1) - s(i + 1, r));
        *acc += (dist as f32) * weight * (top + fc * (bottom - top));
    }
}

/// Twin of `Params` in `shaders/recon/backproject.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct BackprojectParams {
    slab: VolumeSlabParams,
    nx: u32,
    ny: u32,
    cols: u32,
    rows: u32,
    views: u32,
    first_view: u32,
    arc: u32,
    arc_scale: f32,
    arc_centre: f32,
    arc_centre_row: f32,
    mask_cx: f32,
    mask_cy: f32,
    mask_r2: f32,
}

pub(crate) static BACKPROJECT: KernelSpec = KernelSpec {
    name: "recon/backproject",
    sources: &[
        wgsl::FLOAT,
        wgsl::VOLUME_SLAB,
        wgsl::DETECTOR_SAMPLE,
        include_str!("../../../shaders/recon/backproject.wgsl"),
    ],
    entry: "backproject",
    bindings: &[
        uniform::<BackprojectParams>(),
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[BACKPROJECT_CONSTANTS],
};

// Voxels along z per GPU invocation.
crate::wgsl_constants!(BACKPROJECT_CONSTANTS: u32 { ZPT = 4 });

/// A circle in (x, y) voxel indices outside which the GPU back-projector writes 0:
/// `(centre x, centre y, radius²)`.
pub(crate) type Mask = (f32, f32, f32);

impl DetectorMap {
    /// The matrices and view weights as the GPU reads them: 4 `vec4<f32>` per view.
    pub(crate) fn gpu_table(&self, view_weights: &[f64]) -> Vec<[f32; 4]> {
        self.matrices
            .iter()
            .zip(view_weights)
            .flat_map(|(m, &w)| {
                [
                    m.rows[0].map(|c| c as f32),
                    m.rows[1].map(|c| c as f32),
                    m.rows[2].map(|c| c as f32),
                    [w as f32, 0.0, 0.0, 0.0],
                ]
            })
            .collect()
    }

    /// Records the back-projection of one batch of views (`count × rows × cols`, the first
    /// being view `first_view`) into `volume`, adding to what it holds, slab by slab when the
    /// volume exceeds one binding. `table` is [`DetectorMap::gpu_table`] uploaded.
    pub(crate) fn record_batch(
        &self,
        rec: &mut Recorder<'_>,
        table: &wgpu::Buffer,
        batch: &GpuVolume,
        first_view: usize,
        volume: &GpuVolume,
        mask: Option<Mask>,
    ) -> Result<()> {
        let [count, rows, cols] = batch.shape();
        if (rows, cols) != (self.rows, self.cols) || first_view + count > self.matrices.len() {
            return Err(Error::Gpu("internal: batch does not match the detector map".into()));
        }
        let [_, ny, nx] = volume.shape();
        let arc = self.arc.unwrap_or(ArcDetector {
            scale: 0.0,
            centre_col: 0.0,
            centre_row: 0.0,
        });
        let (mask_cx, mask_cy, mask_r2) = mask.unwrap_or((0.0, 0.0, -1.0));
        for_each_volume_slab(rec, volume, 0, |rec, slab| {
            let params = rec.uniform(&BackprojectParams {
                slab: slab.params(),
                nx: nx as u32,
                ny: ny as u32,
                cols: cols as u32,
                rows: rows as u32,
                views: count as u32,
                first_view: first_view as u32,
                arc: u32::from(self.arc.is_some()),
                arc_scale: arc.scale as f32,
                arc_centre: arc.centre_col as f32,
                arc_centre_row: arc.centre_row as f32,
                mask_cx,
                mask_cy,
                mask_r2,
            });
            rec.dispatch_grid(
                &BACKPROJECT,
                &[
                    BufferWindow::whole(&params),
                    BufferWindow::whole(table),
                    BufferWindow::whole(batch.buffer()),
                    slab.window,
                ],
                [nx, ny, (slab.z1 - slab.z0).div_ceil(ZPT as usize)],
            )
        })
    }
}

impl Backprojector {
    /// The back-projection of resident projections on the GPU, into a new resident volume
    /// (views in their batches, the volume in slabs of one binding each).
    pub fn backproject_gpu(
        &self,
        ctx: &GpuContext,
        projections: &GpuProjections,
        view_weights: &[f64],
    ) -> Result<GpuVolume> {
        self.check_projections(projections.shape(), view_weights)?;
        let m = &self.map;
        let volume = GpuVolume::zeros(ctx, self.shape)?;
        let mut rec = Recorder::new(ctx);
        let table = rec.constants(&m.gpu_table(view_weights));
        for (first, batch) in projections.batches() {
            m.record_batch(&mut rec, &table, batch, first, &volume, None)?;
        }
        rec.submit()?;
        Ok(volume)
    }
}

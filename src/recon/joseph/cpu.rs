//! The multithreaded CPU pair: rays in parallel for the forward projection; for the transpose,
//! rays grouped by main axis and planes split among threads (each plane written by one thread).

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use super::Joseph;
use super::rays::{Line, RaySteps, Taps};
#[cfg(target_arch = "x86_64")]
use super::simd::{gather_line_avx2, spread_line_avx2};
use crate::error::Result;

/// The forward direction: a weighted sum of voxels.
struct Gather<'v> {
    volume: &'v [f32],
    sum: f32,
}

impl Taps for Gather<'_> {
    #[inline(always)]
    fn tap(&mut self, i: usize, w: f32) {
        self.sum += w * self.volume[i];
    }
    #[inline(always)]
    fn line(&mut self, line: &Line) {
        #[cfg(target_arch = "x86_64")]
        if line.planes.len() >= 16
            && self.volume.len() < i32::MAX as usize
            && line.corners_inside()
            && std::is_x86_feature_detected!("avx2")
        {
            // SAFETY: AVX2 was detected; indices are those of `Line::at`, in bounds (checked by
            // `corners_inside`, interior planes) and below 2^31 (checked above).
            let (sum, done) = unsafe { gather_line_avx2(self.volume, line) };
            self.sum += sum;
            for k in done..line.planes.end {
                let (at, w0, w1) = line.at(k);
                self.pair(at, at + line.stride, w0, w1);
            }
            return;
        }
        for k in line.planes.clone() {
            let (at, w0, w1) = line.at(k);
            self.pair(at, at + line.stride, w0, w1);
        }
    }
    #[inline(always)]
    fn pair(&mut self, i: usize, j: usize, wi: f32, wj: f32) {
        self.sum += wi * self.volume[i] + wj * self.volume[j];
    }
}

/// The transpose: a ray's value spread onto its voxels.
struct Spread<'o> {
    out: &'o mut [f32],
    value: f32,
}

impl Taps for Spread<'_> {
    #[inline(always)]
    fn tap(&mut self, i: usize, w: f32) {
        self.out[i] += w * self.value;
    }
    #[inline(always)]
    fn line(&mut self, line: &Line) {
        #[cfg(target_arch = "x86_64")]
        if line.planes.len() >= 16
            && self.out.len() < i32::MAX as usize
            && line.corners_inside()
            && std::is_x86_feature_detected!("avx2")
        {
            // SAFETY: AVX2 was detected; offsets as in `Line::at`, in bounds (`corners_inside`),
            // below 2^31.
            unsafe { spread_line_avx2(self.out, self.value, line) };
            return;
        }
        for k in line.planes.clone() {
            let (at, w0, w1) = line.at(k);
            self.pair(at, at + line.stride, w0, w1);
        }
    }
}

impl Joseph {
    /// `A x`: projections `views × rows × cols` of `volume`.
    pub fn forward_cpu(&self, volume: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        let (nz, ny, nx) = volume.dim();
        self.check_volume([nz, ny, nx])?;
        let volume = volume.as_standard_layout();
        let v = volume.as_slice().expect("standard layout");
        let g = &self.geometry;
        let st = self.strides();
        let mut out = vec![0.0f32; g.views.len() * g.rows * g.cols];
        out.par_chunks_mut(g.cols)
            .enumerate()
            .try_for_each(|(r, line)| -> Result<()> {
                let (view, row) = (r / g.rows, r % g.rows);
                for (col, o) in line.iter_mut().enumerate() {
                    let Some(ray) = self.ray(view, row, col)? else { continue };
                    let m = ray.main as usize;
                    let mut gather = Gather { volume: v, sum: 0.0 };
                    self.ray_taps(
                        &ray,
                        ray.k0..ray.k1,
                        0,
                        [st[m], st[(m + 1) % 3], st[(m + 2) % 3]],
                        &mut gather,
                    );
                    *o = gather.sum;
                }
                Ok(())
            })?;
        Ok(Array3::from_shape_vec((g.views.len(), g.rows, g.cols), out).expect("shape matches length"))
    }

    /// `Aᵀ y`: the exact transpose. Rays are grouped by main axis; for each axis the volume is
    /// accumulated plane by plane in a buffer laid out with that axis outermost, planes split
    /// among threads (each plane written by one thread: no locks, no per-thread volumes), then
    /// the buffers are added into the output.
    pub fn backward_cpu(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        let (views, rows, cols) = projections.dim();
        self.check_projections([views, rows, cols])?;
        let projections = projections.as_standard_layout();
        let y = projections.as_slice().expect("standard layout");
        let [nz, ny, nx] = self.shape;
        let n = [nx, ny, nz];
        let len = nx * ny * nz;
        // Ray setups for a batch of views at a time (bounded memory for large detectors).
        let batch = (1usize << 20).div_ceil(rows * cols).clamp(1, views);
        let mut buffers: [Option<Vec<f32>>; 3] = [None, None, None];
        for first in (0..views).step_by(batch) {
            let last = (first + batch).min(views);
            let per_view: Vec<Vec<(RaySteps, f32)>> = (first..last)
                .into_par_iter()
                .map(|view| -> Result<Vec<(RaySteps, f32)>> {
                    let mut rays = Vec::new();
                    for row in 0..rows {
                        for col in 0..cols {
                            let value = y[(view * rows + row) * cols + col];
                            if value == 0.0 {
                                continue;
                            }
                            if let Some(ray) = self.ray(view, row, col)? {
                                rays.push((ray, value));
                            }
                        }
                    }
                    Ok(rays)
                })
                .collect::<Result<_>>()?;
            for m in 0..3 {
                let rays: Vec<&(RaySteps, f32)> = per_view
                    .iter()
                    .flatten()
                    .filter(|(r, _)| r.main as usize == m)
                    .collect();
                if rays.is_empty() {
                    continue;
                }
                // In-plane layout: the lower original axis is contiguous.
                let (a, b) = ((m + 1) % 3, (m + 2) % 3);
                let (lo, hi) = (a.min(b), a.max(b));
                let mut strides = [0usize; 3];
                strides[0] = n[a] * n[b];
                strides[if a == lo { 1 } else { 2 }] = 1;
                strides[if a == hi { 1 } else { 2 }] = n[lo];
                let plane_len = n[a] * n[b];
                let buffer = buffers[m].get_or_insert_with(|| vec![0.0f32; len]);
                let planes_per_task = (n[m] / (rayon::current_num_threads() * 4)).max(1);
                buffer
                    .par_chunks_mut(plane_len * planes_per_task)
                    .enumerate()
                    .for_each(|(task, chunk)| {
                        let k_first = (task * planes_per_task) as u32;
                        let k_last = k_first + (chunk.len() / plane_len) as u32;
                        for (ray, value) in &rays {
                            let (k0, k1) = (ray.k0.max(k_first), ray.k1.min(k_last));
                            if k0 < k1 {
                                let mut spread = Spread {
                                    out: &mut *chunk,
                                    value: *value,
                                };
                                self.ray_taps(ray, k0..k1, k_first, strides, &mut spread);
                            }
                        }
                    });
            }
        }
        // out[z][y][x] = by_z[z][y][x] + by_y[y][z][x] + by_x[x][z][y].
        let mut out = buffers[2].take().unwrap_or_else(|| vec![0.0f32; len]);
        out.par_chunks_mut(nx * ny).enumerate().for_each(|(z, slice)| {
            for yy in 0..ny {
                for xx in 0..nx {
                    let mut v = slice[yy * nx + xx];
                    if let Some(by) = &buffers[1] {
                        v += by[(yy * nz + z) * nx + xx];
                    }
                    if let Some(bx) = &buffers[0] {
                        v += bx[(xx * nz + z) * ny + yy];
                    }
                    slice[yy * nx + xx] = v;
                }
            }
        });
        Ok(Array3::from_shape_vec(self.shape, out).expect("shape matches length"))
    }
}

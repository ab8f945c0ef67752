//! The multithreaded CPU pair: rays in parallel for the forward projection; for the transpose,
//! rays grouped by main axis and planes split among threads (each plane written by one thread).

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use super::Joseph;
#[cfg(target_arch = "x86_64")]
use super::across::{Group, LANES, WINDOW_SLACK, forward_group_avx512};
use super::rays::{Line, RaySteps, Taps};
#[cfg(target_arch = "x86_64")]
use super::simd::{forward_ray_padded, gather_line_avx2, spread_line_avx2};
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
        let mut out = crate::memory::zeroed_f32(g.views.len() * g.rows * g.cols);
        #[cfg(target_arch = "x86_64")]
        let padded = Padded::new(v, [nz, ny, nx]);
        #[cfg(not(target_arch = "x86_64"))]
        let padded: Option<()> = None;
        #[cfg(target_arch = "x86_64")]
        let n = [nx, ny, nz];
        let windows: Vec<_> = (0..g.views.len()).map(|view| self.detector_window(view)).collect();
        let project_line = |view: usize, row: usize, line: &mut [f32]| -> Result<()> {
            let (rows, cols) = &windows[view];
            if !rows.contains(&row) {
                return Ok(());
            }
            let rays = self.rays_of_row(view, row, padded.is_none())?;
            #[cfg(target_arch = "x86_64")]
            if let Some(padded) = &padded {
                let counts = |m: usize| [n[(m + 1) % 3], n[(m + 2) % 3]];
                let one_ray = |ray: &RaySteps| {
                    let m = ray.main as usize;
                    let (volume, strides) = padded.layout(m);
                    // SAFETY: `Padded::new` checked AVX2, FMA and the 2^31 bound; the layouts
                    // are padded by one voxel on every side, one in-plane axis of stride 1.
                    unsafe { forward_ray_padded(volume, ray, strides, counts(m)) }
                };
                if !padded.across {
                    for (col, o) in line.iter_mut().enumerate().take(cols.end).skip(cols.start) {
                        if let Some(ray) = rays(col)? {
                            *o = one_ray(&ray);
                        }
                    }
                    return Ok(());
                }
                // Sixteen adjacent columns at a time, side by side through the volume.
                // Without the ray cache, affine rows set their rays up sixteen at a time too.
                let affine = match self.cached_rays()? {
                    None => Some(self.row_rays(view, row)?),
                    Some(_) => None,
                };
                for first in (cols.start..cols.end).step_by(LANES) {
                    let end = (first + LANES).min(cols.end);
                    let group = match affine
                        .as_ref()
                        .and_then(|rays| self.group_of_row(rays, first, end - first))
                    {
                        Some(group) => group,
                        None => {
                            let mut group = Group::new();
                            for (l, col) in (first..end).enumerate() {
                                if let Some(ray) = rays(col)? {
                                    group.set(l, &ray);
                                }
                            }
                            group
                        }
                    };
                    let out = &mut line[first..end];
                    match group.shared_main(Padded::contiguous) {
                        Some((m, wide)) => {
                            let (volume, strides) = padded.layout(m);
                            // SAFETY: `Padded::new` checked AVX-512F (`across`) and the 2^31
                            // bound and added the window's slack; every ray's `k1` is at most
                            // the size of its main axis (`stepping_of`).
                            let sums = unsafe {
                                if wide {
                                    forward_group_avx512::<true>(volume, &group, strides, counts(m))
                                } else {
                                    forward_group_avx512::<false>(volume, &group, strides, counts(m))
                                }
                            };
                            for (l, o) in out.iter_mut().enumerate() {
                                if group.present() >> l & 1 == 1 {
                                    *o = sums[l];
                                }
                            }
                        }
                        None => {
                            for (l, o) in out.iter_mut().enumerate() {
                                if let Some(ray) = group.ray(l) {
                                    *o = one_ray(&ray);
                                }
                            }
                        }
                    }
                }
                return Ok(());
            }
            for (col, o) in line.iter_mut().enumerate().take(cols.end).skip(cols.start) {
                let Some(ray) = rays(col)? else {
                    continue;
                };
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
        };
        if g.rows < 4 * rayon::current_num_threads() {
            // Too few rows to share out: lines in storage order.
            out.par_chunks_mut(g.cols)
                .enumerate()
                .try_for_each(|(r, line)| project_line(r / g.rows, r % g.rows, line))?;
        } else {
            // Detector rows outermost, every view of a row before the next row: a row's rays of
            // all views cross the same few slices of the volume (a circular orbit), which then
            // stay in cache for all of them instead of being fetched again for every view.
            let mut by_row: Vec<Vec<&mut [f32]>> = (0..g.rows).map(|_| Vec::with_capacity(g.views.len())).collect();
            for projection in out.chunks_mut(g.rows * g.cols) {
                for (lines, line) in by_row.iter_mut().zip(projection.chunks_mut(g.cols)) {
                    lines.push(line);
                }
            }
            by_row.into_par_iter().enumerate().try_for_each(|(row, lines)| {
                lines
                    .into_iter()
                    .enumerate()
                    .try_for_each(|(view, line)| project_line(view, row, line))
            })?;
        }
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
                    let (window_rows, window_cols) = self.detector_window(view);
                    for row in window_rows {
                        let steps = self.rays_of_row(view, row, true)?;
                        for col in window_cols.clone() {
                            let value = y[(view * rows + row) * cols + col];
                            if value == 0.0 {
                                continue;
                            }
                            if let Some(ray) = steps(col)? {
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

/// The most memory the padded copies of a forward projection may take: 4 GiB (volumes above
/// about 810³ go tap by tap, slower, rather than risk running out of memory).
#[cfg(target_arch = "x86_64")]
const PADDED_BYTES_MAX: usize = 4 << 30;

/// The volume padded with one voxel of zeros on every side, twice: as `[z][y][x]` for rays
/// along y and z, and as `[x][z][y]` for rays along x, so that every ray's two interpolation
/// axes include the contiguous one (pairs of corners in one load) and no ray needs edge checks
/// ([`forward_ray_padded`]). About 2.1× the volume's memory while a forward projection runs.
#[cfg(target_arch = "x86_64")]
struct Padded {
    native: Vec<f32>,
    by_x: Vec<f32>,
    /// Padded sizes along x, y, z.
    n: [usize; 3],
    /// Whether the CPU has AVX-512F: rays sixteen at a time ([`forward_group_avx512`]).
    across: bool,
}

#[cfg(target_arch = "x86_64")]
impl Padded {
    /// `None` without AVX2 and FMA, for volumes a single voxel thick along an axis (the 2D
    /// paths handle those), where padded offsets would reach 2^31, or where the two copies
    /// would take more than [`PADDED_BYTES_MAX`] (the tap-by-tap path needs no copy).
    fn new(volume: &[f32], [nz, ny, nx]: [usize; 3]) -> Option<Padded> {
        let n = [nx + 2, ny + 2, nz + 2];
        // The windows of `forward_group_avx512` may read WINDOW_SLACK floats past the end.
        let padded = n.iter().product::<usize>() + WINDOW_SLACK;
        if nx < 2
            || ny < 2
            || nz < 2
            || padded >= i32::MAX as usize
            || 2 * padded * std::mem::size_of::<f32>() > PADDED_BYTES_MAX
            || !std::is_x86_feature_detected!("avx2")
            || !std::is_x86_feature_detected!("fma")
        {
            return None;
        }
        let (plane, row) = (n[0] * n[1], n[0]);
        let (mut native, mut by_x) = (crate::memory::zeroed_f32(padded), crate::memory::zeroed_f32(padded));
        native[plane..plane * (nz + 1)]
            .par_chunks_mut(plane)
            .zip(volume.par_chunks(nx * ny))
            .for_each(|(padded, slice)| {
                for (y, line) in slice.chunks(nx).enumerate() {
                    padded[(y + 1) * row + 1..][..nx].copy_from_slice(line);
                }
            });
        // [x][z][y]: sixteen x-planes per task, so each source cache line is read once.
        const BLOCK: usize = 16;
        let (plane_x, row_x) = (n[2] * n[1], n[1]);
        by_x[plane_x..plane_x * (nx + 1)]
            .par_chunks_mut(plane_x * BLOCK)
            .enumerate()
            .for_each(|(task, chunk)| {
                let x0 = task * BLOCK;
                let width = chunk.len() / plane_x;
                for z in 0..nz {
                    for y in 0..ny {
                        let line = &volume[(z * ny + y) * nx + x0..][..width];
                        for (dx, &value) in line.iter().enumerate() {
                            chunk[dx * plane_x + (z + 1) * row_x + y + 1] = value;
                        }
                    }
                }
            });
        let across = std::is_x86_feature_detected!("avx512f");
        Some(Padded {
            native,
            by_x,
            n,
            across,
        })
    }

    /// Which of the two other axes of a ray along `main` ((`main + 1) % 3`, `(main + 2) % 3`)
    /// has stride 1 in [`Self::layout`].
    fn contiguous(main: u8) -> usize {
        usize::from(main == 1)
    }

    /// The padded volume for rays along axis `main` and its strides along (main,
    /// `(main + 1) % 3`, `(main + 2) % 3`).
    fn layout(&self, main: usize) -> (&[f32], [usize; 3]) {
        let [px, py, pz] = self.n;
        match main {
            0 => (&self.by_x, [pz * py, 1, py]),
            1 => (&self.native, [px, px * py, 1]),
            _ => (&self.native, [px * py, 1, px]),
        }
    }
}

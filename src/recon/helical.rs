//! FDK for helical cone-beam scans: each voxel is back-projected from every view that sees it,
//! weighted so that the redundant measurements of each line through it sum to one.
//!
//! A ray of view β through voxel x lies on a line that the helix measures again from the same
//! source angle one turn later (β + 2πk) and from the complementary angle β_c, where the line
//! leaves the source circle (β_c + 2πk). Each measurement gets the weight `w(t)` of the voxel's
//! normalised detector row `t ∈ [−1, 1]` in that view — 1 in the middle `|t| ≤ Q` of the
//! detector, falling as cos² to 0 at its edges — divided by the sum of `w` over all of the
//! line's measurements in the scan. The weights of a line thus sum to 1 (a circular full scan,
//! where each line is measured twice, gets ½ each: this FDK on a circle is the circular FDK),
//! and rows near the detector's edges, where the cone-beam error is largest, count least. The
//! rest is FDK's: cosine pre-weights, ramp filtering along detector rows, distance weights in
//! the back-projection (flat panels and cylindrical detectors alike).
//!
//! The weighting follows the view-weighted cone-beam FBP of X. Tang, J. Hsieh, R. A. Nilsen,
//! S. Dutta, D. Samsonov and A. Hagiwara, "A three-dimensional-weighted cone beam filtered
//! backprojection (CB-FBP) algorithm for image reconstruction in volumetric CT — helical
//! scanning", Phys. Med. Biol. 51(4), 855–874, 2006, with complementary rays found in the fan
//! geometry instead of after rebinning (as in the helical Feldkamp methods, e.g. I. Hein, K.
//! Taguchi, M. D. Silver, M. Kazama and I. Mori, Med. Phys. 30(12), 3233–3242, 2003).

use std::f64::consts::{FRAC_PI_2, PI, TAU};

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::gpu::{
    Binding, BufferWindow, GpuContext, GpuVolume, KernelSpec, Recorder, VolumeSlabParams, for_each_volume_slab,
    uniform, views_per_batch, wgsl,
};
use crate::recon::Fdk;
use crate::recon::geometry::{ArcDetector, Beam, Detector, DetectorMap, Geometry, View};
use crate::recon::ramp::{GpuRamp, RampWindow, filter_rows_with};
use crate::volume::Grid;

/// FDK for helical scans ([`Geometry::helical`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HelicalFdk {
    geometry: Geometry,
    window: RampWindow,
    cutoff: f64,
    flat_top: f64,
    helix: Helix,
}

/// The helix: per view its source angle, the angle turned since the first view, and its z.
#[derive(Debug, Clone, PartialEq)]
struct Helix {
    sid: f64,
    sdd: f64,
    arc: bool,
    theta: Vec<f64>,
    /// `(sin θ, cos θ)` of every view.
    sin_cos: Vec<(f64, f64)>,
    turned: Vec<f64>,
    theta_first: f64,
    /// +1 when the source turns towards increasing angles.
    direction: f64,
    z_first: f64,
    feed_per_radian: f64,
    turned_last: f64,
    /// Angular weight of each view (half the gaps to its neighbours), radians.
    delta_beta: Vec<f64>,
    rows: usize,
    /// Row pitch on the detector (mm) and the row of the source's height.
    dv: f64,
    centre_row: f64,
}

fn source_angle(v: &View) -> f64 {
    (-v.source[0]).atan2(-v.source[1])
}

impl Helix {
    fn of(g: &Geometry) -> Result<Helix> {
        if g.beam != Beam::Divergent {
            return Err(Error::param(
                "geometry",
                "helical FDK needs a divergent beam (Geometry::helical)",
            ));
        }
        if g.rows < 2 || g.views.len() < 2 {
            return Err(Error::param(
                "geometry",
                "helical FDK needs a detector of two rows or more and two views or more",
            ));
        }
        // The views without their z are a circular scan; each detector follows its source.
        let mut circle = g.clone();
        for w in &mut circle.views {
            let dz = w.detector_centre[2] - w.source[2];
            if dz.abs() > 1e-6 * (1.0 + w.source[2].abs()) {
                return Err(Error::param(
                    "geometry",
                    "the detector centre is not at the source's height in every view; helical FDK needs a detector that \
                     follows the source (Geometry::helical)",
                ));
            }
            w.source[2] = 0.0;
            w.detector_centre[2] = 0.0;
        }
        circle.check_circular()?;
        let theta: Vec<f64> = g.views.iter().map(source_angle).collect();
        let mut turned = vec![0.0];
        let mut direction = 0.0;
        for w in theta.windows(2) {
            let step = (w[1] - w[0] + PI).rem_euclid(TAU) - PI;
            if direction == 0.0 {
                direction = step.signum();
            }
            if step == 0.0 || step.signum() != direction {
                return Err(Error::param(
                    "geometry",
                    "the views must turn one way, in order, each at a new angle (sort them by angle)",
                ));
            }
            turned.push(turned.last().expect("non-empty") + step.abs());
        }
        let turned_last = *turned.last().expect("non-empty");
        let z: Vec<f64> = g.views.iter().map(|w| w.source[2]).collect();
        let feed_per_radian = (z[z.len() - 1] - z[0]) / turned_last;
        for (k, (&t, &zk)) in turned.iter().zip(&z).enumerate() {
            if (zk - z[0] - feed_per_radian * t).abs() > 1e-6 * (1.0 + zk.abs()) {
                return Err(Error::param(
                    "geometry",
                    format!("view {k} is off the helix: the source must advance along z in proportion to the angle"),
                ));
            }
        }
        let gaps: Vec<f64> = turned.windows(2).map(|w| w[1] - w[0]).collect();
        let n = turned.len();
        let delta_beta = (0..n)
            .map(|i| match (i, i == n - 1) {
                (0, _) => gaps[0],
                (_, true) => gaps[n - 2],
                _ => 0.5 * (gaps[i - 1] + gaps[i]),
            })
            .collect();
        let v0 = &g.views[0];
        Ok(Helix {
            sid: v0.source[0].hypot(v0.source[1]),
            sdd: g.sdd,
            arc: g.detector == Detector::Arc,
            theta_first: theta[0],
            sin_cos: theta.iter().map(|t| t.sin_cos()).collect(),
            theta,
            turned,
            direction,
            z_first: z[0],
            feed_per_radian,
            turned_last,
            delta_beta,
            rows: g.rows,
            dv: crate::vec3::norm(v0.v),
            centre_row: (g.rows as f64 - 1.0) / 2.0 - g.offset_v,
        })
    }

    /// The source's z after turning `turned` radians.
    fn z(&self, turned: f64) -> f64 {
        self.z_first + self.feed_per_radian * turned
    }

    /// Distance from the source at angle θ to point `p` that sets the magnification: along the
    /// central ray (flat panels) or in the plane (cylinders).
    fn distance(&self, p: [f64; 3], sin: f64, cos: f64) -> f64 {
        let along = p[0] * sin + p[1] * cos + self.sid;
        if self.arc {
            (p[0] * cos - p[1] * sin).hypot(along)
        } else {
            along
        }
    }

    /// The angular span of the end tapers: a sixteenth of a turn, or a quarter of the scan; none
    /// on a circle (no feed), where no line's partner leaves the scan (and the weights stay
    /// those of the circular FDK).
    fn taper_width(&self) -> f64 {
        if self.feed_per_radian == 0.0 {
            0.0
        } else {
            (TAU / 16.0).min(0.25 * self.turned_last)
        }
    }

    /// 0 → 1 over the first and last [`Helix::taper_width`] radians of the scan (cos²), so that
    /// a measurement's weight does not jump where a line's partner leaves the scan.
    fn end_taper(&self, turned: f64) -> f64 {
        let width = self.taper_width();
        if width == 0.0 {
            return 1.0;
        }
        let (lo, hi) = self.span();
        let edge = ((turned - lo).min(hi - turned) / width).clamp(0.0, 1.0);
        let c = (FRAC_PI_2 * (1.0 - edge)).cos();
        c * c
    }

    /// The scan's turned-angle span: its views ± half a gap.
    fn span(&self) -> (f64, f64) {
        (
            -0.5 * self.delta_beta[0],
            self.turned_last + 0.5 * self.delta_beta[self.delta_beta.len() - 1],
        )
    }

    /// Adds to `out` `(source z, end taper)` of every measurement from the source angle
    /// reached after `turned` radians (mod 2π), one per turn of the scan.
    fn turns(&self, turned: f64, out: &mut Vec<(f64, f64)>) {
        let (lo, hi) = self.span();
        let mut t = turned.rem_euclid(TAU);
        if t - TAU >= lo {
            t -= TAU;
        }
        while t <= hi {
            out.push((self.z(t), self.end_taper(t)));
            t += TAU;
        }
    }

    /// The measurements of the lines through the column of points above `(x, y)` seen from
    /// `view`: the direct ones (this source angle at every turn) and the complementary ones
    /// (the angle where the line leaves the source circle), each with its magnification
    /// distance. Only z differs along the column, so these serve every voxel of it.
    fn partners(&self, xy: [f64; 2], view: usize, set: &mut Partners) {
        set.direct.clear();
        set.complementary.clear();
        let (sin, cos) = self.sin_cos[view];
        let p = [xy[0], xy[1], 0.0];
        set.direct_distance = self.distance(p, sin, cos);
        self.turns(self.turned[view], &mut set.direct);
        // Where the line from this source through (x, y) leaves the source circle.
        let s = [-self.sid * sin, -self.sid * cos];
        let d = [xy[0] - s[0], xy[1] - s[1]];
        let dd = d[0] * d[0] + d[1] * d[1];
        if dd > 0.0 {
            let t2 = -2.0 * (s[0] * d[0] + s[1] * d[1]) / dd;
            let s2 = [s[0] + t2 * d[0], s[1] + t2 * d[1]];
            let theta_c = (-s2[0]).atan2(-s2[1]);
            set.complementary_distance = self.distance(p, -s2[0] / self.sid, -s2[1] / self.sid);
            self.turns(self.direction * (theta_c - self.theta_first), &mut set.complementary);
        }
    }

    /// The normalised weight of `view`'s measurement of the voxel at height `z` of the column
    /// `set` describes, whose own detector row is `t`.
    fn weight(&self, set: &Partners, view: usize, z: f64, t: f64, flat_top: f64) -> f64 {
        let own = row_weight(t, flat_top) * self.end_taper(self.turned[view]);
        if own == 0.0 {
            return 0.0;
        }
        // The normalised row is affine in the height above the source: t = dz · k + c.
        let half = (self.rows as f64 - 1.0) / 2.0;
        let c = (self.centre_row - half) / half;
        let sum_of = |list: &[(f64, f64)], distance: f64| -> f64 {
            let k = self.sdd / (distance * self.dv * half);
            list.iter()
                .map(|&(z_source, taper)| row_weight((z - z_source) * k + c, flat_top) * taper)
                .sum()
        };
        let sum = sum_of(&set.direct, set.direct_distance) + sum_of(&set.complementary, set.complementary_distance);
        if sum > 0.0 { own / sum } else { 0.0 }
    }
}

/// The measurements of one column's lines from one view (see [`Helix::partners`]).
#[derive(Default)]
struct Partners {
    direct: Vec<(f64, f64)>,
    direct_distance: f64,
    complementary: Vec<(f64, f64)>,
    complementary_distance: f64,
}

/// `w(t)`: 1 for `|t| ≤ Q`, cos² down to 0 at `|t| = 1`, 0 beyond.
fn row_weight(t: f64, flat_top: f64) -> f64 {
    let a = t.abs();
    if a >= 1.0 {
        0.0
    } else if a <= flat_top {
        1.0
    } else {
        let c = (FRAC_PI_2 * (a - flat_top) / (1.0 - flat_top)).cos();
        c * c
    }
}

impl HelicalFdk {
    /// Helical FDK for projections taken with `geometry` (a [`Geometry::cone`] or
    /// [`Geometry::cone_cylindrical`] scan made [`Geometry::helical`]), ramp filter, rows
    /// weighted with a flat top `Q = 0.5`.
    pub fn new(geometry: &Geometry) -> Result<HelicalFdk> {
        Ok(HelicalFdk {
            helix: Helix::of(geometry)?,
            geometry: geometry.clone(),
            window: RampWindow::Ramp,
            cutoff: 1.0,
            flat_top: 0.5,
        })
    }

    /// Filter window (default ramp).
    pub fn window(mut self, window: RampWindow) -> Self {
        self.window = window;
        self
    }

    /// The flat top `Q` of the row weight, in `[0, 1)`: larger uses more of each view's rows at
    /// full weight (less averaging of redundant data, more cone-beam error at the edges).
    pub fn flat_top(mut self, q: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&q) {
            return Err(Error::param(
                "flat_top",
                format!("Q = {q}: give a value in [0, 1), e.g. 0.5"),
            ));
        }
        self.flat_top = q;
        Ok(self)
    }

    fn check(&self, dims: (usize, usize, usize), shape: [usize; 3], grid: &Grid) -> Result<()> {
        crate::recon::fdk::check_sizes(&self.geometry, dims, shape, grid)
    }

    /// Weighted and ramp-filtered projections (FDK's detector stages).
    fn filtered(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        crate::recon::fdk::check_finite(projections)?;
        let stages = Fdk::detector_stages(&self.geometry, self.window, self.cutoff);
        let mut weighted = projections.to_owned();
        stages.weighting().apply_cpu(&mut weighted);
        filter_rows_with(weighted.view(), &stages.response()?)
    }

    /// Reconstructs `views × rows × cols` helical projections into a `shape = [nz, ny, nx]`
    /// volume on `grid`, on the CPU.
    pub fn reconstruct_cpu(
        &self,
        projections: ArrayView3<'_, f32>,
        shape: [usize; 3],
        grid: &Grid,
    ) -> Result<Array3<f32>> {
        self.check(projections.dim(), shape, grid)?;
        let filtered = self.filtered(projections)?;
        let map = DetectorMap::new(&self.geometry, grid)?;
        let scale = 2.0 * Fdk::detector_stages(&self.geometry, self.window, self.cutoff).view_scale();
        let (views, rows, cols) = filtered.dim();
        let data = filtered.as_slice().expect("a new array is contiguous");
        let [nz, ny, nx] = shape;
        let helix = &self.helix;
        let half = (rows as f64 - 1.0) / 2.0;
        // Column by column: a view's partners depend on (x, y) only, so they are found once for
        // the whole column; each task fills one y row of every slice.
        let planes: Vec<Vec<f32>> = (0..ny)
            .into_par_iter()
            .map(|y| {
                let mut plane = vec![0.0f32; nz * nx];
                let mut acc = vec![0.0f64; nz];
                let mut set = Partners::default();
                for x in 0..nx {
                    let xy = [
                        grid.origin[0] + x as f64 * grid.spacing[2],
                        grid.origin[1] + y as f64 * grid.spacing[1],
                    ];
                    acc.iter_mut().for_each(|a| *a = 0.0);
                    for view in 0..views {
                        let m = &map.matrices[view].rows;
                        let mut found = false;
                        for (z, a) in acc.iter_mut().enumerate() {
                            let at = |r: &[f64; 4]| r[0] * x as f64 + r[1] * y as f64 + r[2] * z as f64 + r[3];
                            let (u, v, w) = (at(&m[0]), at(&m[1]), at(&m[2]));
                            if w.is_nan() || w <= 0.0 {
                                continue;
                            }
                            let (col, row, distance_weight) = match map.arc {
                                Some(arc) => {
                                    let (c, r) = arc.position(u, v, w);
                                    (c, r, 1.0 / (u * u + w * w))
                                }
                                None => (u / w, v / w, 1.0 / (w * w)),
                            };
                            if !(col >= 0.0 && col <= (cols - 1) as f64 && row >= 0.0 && row <= (rows - 1) as f64) {
                                continue;
                            }
                            if !found {
                                helix.partners(xy, view, &mut set);
                                found = true;
                            }
                            let pz = grid.origin[2] + z as f64 * grid.spacing[0];
                            let weight = helix.weight(&set, view, pz, (row - half) / half, self.flat_top);
                            if weight == 0.0 {
                                continue;
                            }
                            let (c0, r0) = ((col as usize).min(cols - 1), (row as usize).min(rows - 1));
                            let (c1, r1) = ((c0 + 1).min(cols - 1), (r0 + 1).min(rows - 1));
                            let (fc, fr) = (col - c0 as f64, row - r0 as f64);
                            let at_pixel = |r: usize, c: usize| f64::from(data[(view * rows + r) * cols + c]);
                            let top = at_pixel(r0, c0) + fc * (at_pixel(r0, c1) - at_pixel(r0, c0));
                            let bottom = at_pixel(r1, c0) + fc * (at_pixel(r1, c1) - at_pixel(r1, c0));
                            let sample = top + fr * (bottom - top);
                            *a += weight * helix.delta_beta[view] * distance_weight * sample;
                        }
                    }
                    for (z, a) in acc.iter().enumerate() {
                        plane[z * nx + x] = (scale * a) as f32;
                    }
                }
                plane
            })
            .collect();
        let mut out = vec![0.0f32; nz * ny * nx];
        for (y, plane) in planes.iter().enumerate() {
            for z in 0..nz {
                out[(z * ny + y) * nx..(z * ny + y + 1) * nx].copy_from_slice(&plane[z * nx..(z + 1) * nx]);
            }
        }
        Ok(Array3::from_shape_vec((nz, ny, nx), out).expect("shape matches length"))
    }
}

/// Twin of `Params` in `shaders/recon/helical_backproject.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct HelicalParams {
    slab: VolumeSlabParams,
    nx: u32,
    ny: u32,
    cols: u32,
    rows: u32,
    views: u32,
    first_view: u32,
    arc: u32,
    _pad0: u32,
    arc_scale: f32,
    arc_centre: f32,
    arc_centre_row: f32,
    flat_top: f32,
    sid: f32,
    sdd: f32,
    dv: f32,
    centre_row: f32,
    theta_first: f32,
    direction: f32,
    z_first: f32,
    feed_per_radian: f32,
    lo: f32,
    hi: f32,
    taper: f32,
    _pad1: f32,
    origin: [f32; 4],
    spacing: [f32; 4],
}

static KERNEL: KernelSpec = KernelSpec {
    name: "recon/helical_backproject",
    sources: &[
        wgsl::FLOAT,
        wgsl::VOLUME_SLAB,
        wgsl::DETECTOR_SAMPLE,
        include_str!("../../shaders/recon/helical_backproject.wgsl"),
    ],
    entry: "helical_backproject",
    bindings: &[
        uniform::<HelicalParams>(),
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[],
};

impl HelicalFdk {
    /// Reconstructs host projections on the GPU: the views go up one batch (one binding) at a
    /// time, are weighted and ramp-filtered there (WGSL FFT) and back-projected into the
    /// resident volume, slab by slab.
    pub fn reconstruct_gpu(
        &self,
        ctx: &GpuContext,
        projections: ArrayView3<'_, f32>,
        shape: [usize; 3],
        grid: &Grid,
    ) -> Result<Array3<f32>> {
        self.check(projections.dim(), shape, grid)?;
        crate::recon::fdk::check_finite(projections)?;
        let (views, rows, cols) = projections.dim();
        let stages = Fdk::detector_stages(&self.geometry, self.window, self.cutoff);
        let scale = 2.0 * stages.view_scale();
        let map = DetectorMap::new(&self.geometry, grid)?;
        let h = &self.helix;
        let table: Vec<[f32; 4]> = map
            .matrices
            .iter()
            .enumerate()
            .flat_map(|(v, m)| {
                [
                    m.rows[0].map(|c| c as f32),
                    m.rows[1].map(|c| c as f32),
                    m.rows[2].map(|c| c as f32),
                    [
                        (scale * h.delta_beta[v]) as f32,
                        h.theta[v] as f32,
                        h.turned[v] as f32,
                        0.0,
                    ],
                ]
            })
            .collect();
        let arc = map.arc.unwrap_or(ArcDetector {
            scale: 0.0,
            centre_col: 0.0,
            centre_row: 0.0,
        });
        let volume = GpuVolume::zeros(ctx, shape)?;
        // Each invocation loops, per view of a batch, over every turn of the scan twice (the
        // direct and complementary rays' weights): on adapters that stop long loops, batches
        // of few enough views for the scan's turns.
        let turns = (h.turned_last.abs() / std::f64::consts::TAU).ceil() as u64 + 2;
        let per_view = 5 * (2 * (turns + 1) + 8) / 4 + 1;
        let (ramp, table, per_batch) = {
            let rec = Recorder::new(ctx);
            rec.check_loop_budget(&format!("helical FDK over {turns} turns (per view)"), per_view)?;
            let per_batch = views_per_batch(ctx, rows, cols)?.min((rec.loop_limit() / per_view) as usize);
            (
                GpuRamp::new(&rec, &stages.response()?, &stages.weighting(), rows, cols)?,
                rec.constants(&table),
                per_batch,
            )
        };
        let [_, ny, nx] = shape;
        for first in (0..views).step_by(per_batch) {
            let last = (first + per_batch).min(views);
            let batch = GpuVolume::upload(ctx, projections.slice(ndarray::s![first..last, .., ..]))?;
            let mut rec = Recorder::new(ctx);
            ramp.record(&mut rec, &batch, first)?;
            for_each_volume_slab(&mut rec, &volume, 0, |rec, slab| {
                let params = rec.uniform(&HelicalParams {
                    slab: slab.params(),
                    nx: nx as u32,
                    ny: ny as u32,
                    cols: cols as u32,
                    rows: rows as u32,
                    views: (last - first) as u32,
                    first_view: first as u32,
                    arc: u32::from(map.arc.is_some()),
                    _pad0: 0,
                    arc_scale: arc.scale as f32,
                    arc_centre: arc.centre_col as f32,
                    arc_centre_row: arc.centre_row as f32,
                    flat_top: self.flat_top as f32,
                    sid: h.sid as f32,
                    sdd: h.sdd as f32,
                    dv: h.dv as f32,
                    centre_row: h.centre_row as f32,
                    theta_first: h.theta_first as f32,
                    direction: h.direction as f32,
                    z_first: h.z_first as f32,
                    feed_per_radian: h.feed_per_radian as f32,
                    lo: (-0.5 * h.delta_beta[0]) as f32,
                    hi: (h.turned_last + 0.5 * h.delta_beta[h.delta_beta.len() - 1]) as f32,
                    taper: h.taper_width() as f32,
                    _pad1: 0.0,
                    origin: [grid.origin[0] as f32, grid.origin[1] as f32, grid.origin[2] as f32, 0.0],
                    spacing: [
                        grid.spacing[2] as f32,
                        grid.spacing[1] as f32,
                        grid.spacing[0] as f32,
                        0.0,
                    ],
                });
                rec.dispatch_grid(
                    &KERNEL,
                    &[
                        BufferWindow::whole(&params),
                        BufferWindow::whole(&table),
                        BufferWindow::whole(batch.buffer()),
                        slab.window,
                    ],
                    [nx, ny, slab.z1 - slab.z0],
                )
            })?;
            rec.submit()?;
        }
        volume.download(ctx)
    }
}

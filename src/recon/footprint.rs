//! The separable-footprint projector pair (SF-TR: Long, Fessler & Balter, "3D forward and
//! back-projection for X-ray CT using separable footprints", IEEE TMI 29(11), 2010): each voxel is
//! a box, not a point. Its shadow on one view is modelled as a transaxial trapezoid times an
//! axial rectangle, integrated over every detector pixel it covers:
//!
//! * across the rows (columns): the four in-plane corners of the voxel, at its centre's height,
//!   are projected with the view's matrix ([`DetectorMap`]; flat, arc or cylindrical detectors,
//!   parallel or divergent beams, any orbit); sorted, they are the trapezoid's vertices
//!   `τ₀ ≤ τ₁ ≤ τ₂ ≤ τ₃` (flat top between `τ₁` and `τ₂`);
//! * along the columns (rows, 3D only): the voxel's bottom and top faces at its centre's
//!   position, projected, bound the rectangle;
//! * pixel `c` (covering `[c − ½, c + ½]` in detector units) takes the trapezoid's area over that
//!   interval, divided by its whole area, times the same for the rows: the weights of a voxel sum
//!   to 1 over an unbounded detector;
//! * the amplitude is the voxel-driven pair's footprint scale ([`VoxelDriven`], the voxel's
//!   measure over the pixel's ray-bundle cross-section at the voxel), so both pairs conserve the
//!   same mass, and at the flat top of a parallel beam the weight is the chord through the voxel
//!   (the paper's `l_φ`), exactly.
//!
//! Unlike point-sampled pairs (Joseph along a ray, voxel-driven splatting), a voxel larger than
//! the detector's sampling spreads over every pixel it shadows, so coarse voxels neither leave
//! gaps between rays nor alias; the price is a few more pixels per voxel and view. The transpose
//! gathers the same pixels with the same weights, so the pair is adjoint to rounding.
//!
//! The separable model assumes detector columns run across the rotation axis and rows along it
//! (true for every geometry the library builds); on tilted detectors it stays a matched pair but
//! an approximate footprint.
//!
//! GPU: `shaders/recon/footprint_*.wgsl` on the voxel-driven pair's bindings and view table
//! (`voxel_driven_common.wgsl`); the forward splats with compare-exchange adds.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::Result;
use crate::gpu::{Binding, uniform};
use crate::gpu::{GpuProjections, GpuVolume, KernelSpec, Recorder, wgsl};
use crate::recon::geometry::{BEAM_CODES, Geometry};
use crate::recon::projector::{self, Projector, ProjectorKind};
use crate::recon::voxel_driven::{self, VoxelDriven};
use crate::volume::Grid;

/// The separable-footprint pair for one geometry and volume.
#[derive(Debug, Clone)]
pub struct SeparableFootprint {
    /// The voxel-driven pair supplies the matrices, footprint scale and GPU plumbing.
    point: VoxelDriven,
}

/// A voxel's footprint on one view (twin of `struct Footprint` in the shader).
#[derive(Debug, Clone, Copy)]
struct Footprint {
    /// The trapezoid across the columns, sorted.
    across: [f64; 4],
    /// The rectangle along the rows, as a trapezoid `[r₀, r₀, r₁, r₁]`.
    along: [f64; 4],
    scale: f64,
}

/// The area of the unit-height trapezoid `t` left of `s`, measured from `t[0]`.
#[inline(always)]
fn trapezoid_cdf(s: f64, t: &[f64; 4]) -> f64 {
    let s = s - t[0];
    let [a, b, c] = [t[1] - t[0], t[2] - t[0], t[3] - t[0]];
    if s <= 0.0 {
        0.0
    } else if s < a {
        s * s / (2.0 * a)
    } else if s < b {
        a / 2.0 + (s - a)
    } else if s < c {
        let r = c - s;
        (b + c - a) / 2.0 - r * r / (2.0 * (c - b))
    } else {
        (b + c - a) / 2.0
    }
}

/// Widths below this (in pixels) are points: all the weight to the pixel holding the centre.
const POINT_WIDTH: f64 = 1e-6;

/// The pixels `first..=last` of `n` the trapezoid `t` may cover, or `None` if it misses them.
#[inline(always)]
fn span(t: &[f64; 4], n: usize) -> Option<(usize, usize)> {
    let first = (t[0] + 0.5).floor().max(0.0);
    let last = (t[3] + 0.5).floor().min(n as f64 - 1.0);
    (first <= last).then_some((first as usize, last as usize))
}

/// Pixel `c`'s share of the trapezoid `t` (pixels cover `[c − ½, c + ½]`).
#[inline(always)]
fn weight(c: usize, t: &[f64; 4]) -> f64 {
    let c = c as f64;
    if t[3] - t[0] < POINT_WIDTH {
        return f64::from(u8::from(((t[0] + t[3]) / 2.0 + 0.5).floor() == c));
    }
    let total = (t[3] + t[2] - t[1] - t[0]) / 2.0;
    (trapezoid_cdf(c + 0.5, t) - trapezoid_cdf(c - 0.5, t)) / total
}

/// Sorts four values (a sorting network, as the shader's).
#[inline(always)]
fn sort4(mut t: [f64; 4]) -> [f64; 4] {
    for (i, j) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
        if t[j] < t[i] {
            t.swap(i, j);
        }
    }
    t
}

impl SeparableFootprint {
    /// The pair for a `shape = [nz, ny, nx]` volume on `grid` (voxel centres at
    /// `origin + index · spacing`, identity direction, in the geometry's frame). A one-row
    /// geometry maps onto a one-slice volume, as [`VoxelDriven`].
    pub fn new(geometry: &Geometry, shape: [usize; 3], grid: &Grid) -> Result<SeparableFootprint> {
        Ok(SeparableFootprint {
            point: VoxelDriven::new(geometry, shape, grid)?,
        })
    }

    /// Voxel `(x, y, z)`'s footprint on `view`, or `None` if any part of it is behind (or at)
    /// the source, or a coordinate is not finite.
    #[inline]
    fn footprint(&self, view: usize, x: usize, y: usize, z: usize) -> Option<Footprint> {
        let p = &self.point;
        let centre = [x as f64, y as f64, z as f64];
        let [u, v, w] = p.uvw(view, centre);
        if w.is_nan() || w <= 0.0 {
            return None;
        }
        let (col, row) = p.position(u, v, w);
        let mut across = [0.0; 4];
        for (i, (dx, dy)) in [(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)]
            .into_iter()
            .enumerate()
        {
            let [cu, cv, cw] = p.uvw(view, [centre[0] + dx, centre[1] + dy, centre[2]]);
            if cw.is_nan() || cw <= 0.0 {
                return None;
            }
            across[i] = p.position(cu, cv, cw).0;
        }
        let along = if p.two_d() {
            [0.0; 4]
        } else {
            let [bu, bv, bw] = p.uvw(view, [centre[0], centre[1], centre[2] - 0.5]);
            let [tu, tv, tw] = p.uvw(view, [centre[0], centre[1], centre[2] + 0.5]);
            if bw.is_nan() || tw.is_nan() || bw <= 0.0 || tw <= 0.0 {
                return None;
            }
            let (r0, r1) = (p.position(bu, bv, bw).1, p.position(tu, tv, tw).1);
            let (lo, hi) = (r0.min(r1), r0.max(r1));
            [lo, lo, hi, hi]
        };
        let scale = p.scale(view, u, w, col, row);
        let finite = across.iter().chain(&along).all(|c| c.is_finite()) && scale.is_finite();
        finite.then_some(Footprint {
            across: sort4(across),
            along,
            scale,
        })
    }

    /// The `(pixel index, weight)` pairs of a footprint on a `rows × cols` view, into `out`.
    #[inline]
    fn pixels(&self, f: &Footprint, rows: usize, cols: usize, out: &mut Vec<(usize, f32)>) {
        out.clear();
        let Some((c0, c1)) = span(&f.across, cols) else {
            return;
        };
        let row_span = if self.point.two_d() {
            Some((0, 0))
        } else {
            span(&f.along, rows)
        };
        let Some((r0, r1)) = row_span else {
            return;
        };
        for r in r0..=r1 {
            let wr = if self.point.two_d() { 1.0 } else { weight(r, &f.along) };
            if wr == 0.0 {
                continue;
            }
            for c in c0..=c1 {
                let wc = weight(c, &f.across);
                if wc != 0.0 {
                    out.push((r * cols + c, (f.scale * wr * wc) as f32));
                }
            }
        }
    }
}

impl Projector for SeparableFootprint {
    fn kind(&self) -> ProjectorKind {
        ProjectorKind::SeparableFootprint
    }

    fn parts(&self) -> (&Geometry, [usize; 3], &Grid) {
        self.point.parts()
    }

    /// Each view's image is written by one thread (a splat has no other race-free owner).
    fn forward_cpu(&self, volume: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        let (nz, ny, nx) = volume.dim();
        projector::check_volume([nz, ny, nx], self.volume_shape())?;
        let volume = volume.as_standard_layout();
        let vol = volume.as_slice().expect("standard layout");
        let [views, rows, cols] = self.projection_shape();
        let mut out = vec![0.0f32; views * rows * cols];
        out.par_chunks_mut(rows * cols).enumerate().for_each(|(view, image)| {
            let mut pixels = Vec::new();
            for z in 0..nz {
                for y in 0..ny {
                    for x in 0..nx {
                        let value = vol[(z * ny + y) * nx + x];
                        if value == 0.0 {
                            continue;
                        }
                        if let Some(f) = self.footprint(view, x, y, z) {
                            self.pixels(&f, rows, cols, &mut pixels);
                            for &(i, w) in &pixels {
                                image[i] += value * w;
                            }
                        }
                    }
                }
            }
        });
        Ok(Array3::from_shape_vec((views, rows, cols), out).expect("shape matches length"))
    }

    /// Each row of voxels gathers from every view (no races).
    fn backward_cpu(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        let (views, rows, cols) = projections.dim();
        projector::check_projections([views, rows, cols], self.geometry())?;
        let projections = projections.as_standard_layout();
        let p = projections.as_slice().expect("standard layout");
        let [nz, ny, nx] = self.volume_shape();
        let mut out = vec![0.0f32; nz * ny * nx];
        out.par_chunks_mut(nx).enumerate().for_each(|(line, row_out)| {
            let (z, y) = (line / ny, line % ny);
            let mut pixels = Vec::new();
            for view in 0..views {
                let image = &p[view * rows * cols..(view + 1) * rows * cols];
                for (x, o) in row_out.iter_mut().enumerate() {
                    if let Some(f) = self.footprint(view, x, y, z) {
                        self.pixels(&f, rows, cols, &mut pixels);
                        *o += pixels.iter().map(|&(i, w)| image[i] * w).sum::<f32>();
                    }
                }
            }
        });
        Ok(Array3::from_shape_vec((nz, ny, nx), out).expect("shape matches length"))
    }

    fn record_forward(&self, rec: &mut Recorder<'_>, volume: &GpuVolume, out: &GpuProjections) -> Result<()> {
        self.point.record(rec, &FORWARD, volume, out)
    }

    fn record_backward(&self, rec: &mut Recorder<'_>, projections: &GpuProjections, out: &GpuVolume) -> Result<()> {
        self.point.record(rec, &BACKWARD, out, projections)
    }
}

const COMMON: &str = include_str!("../../shaders/recon/footprint_common.wgsl");

pub(crate) static FORWARD: KernelSpec = KernelSpec {
    name: "recon/footprint_forward",
    sources: &[
        wgsl::FLOAT,
        wgsl::VOLUME_SLAB,
        voxel_driven::COMMON,
        voxel_driven::SPLAT,
        COMMON,
        include_str!("../../shaders/recon/footprint_forward.wgsl"),
    ],
    entry: "forward",
    bindings: &[
        uniform::<voxel_driven::Params>(),
        Binding::Read,
        Binding::Read,
        Binding::ReadWrite,
    ],
    constants: &[BEAM_CODES],
};

pub(crate) static BACKWARD: KernelSpec = KernelSpec {
    name: "recon/footprint_backward",
    sources: &[
        wgsl::FLOAT,
        wgsl::VOLUME_SLAB,
        voxel_driven::COMMON,
        COMMON,
        include_str!("../../shaders/recon/footprint_backward.wgsl"),
    ],
    entry: "backward",
    bindings: &[
        uniform::<voxel_driven::Params>(),
        Binding::Read,
        Binding::ReadWrite,
        Binding::Read,
    ],
    constants: &[BEAM_CODES],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trapezoid_spreads_its_whole_weight_over_the_pixels_it_covers() {
        for t in [
            [0.2, 0.9, 2.3, 3.1],
            [-0.4, -0.4, 1.7, 1.7],
            [1.0, 1.5, 1.5, 2.0],
            [4.3, 4.3, 4.3, 4.3],
        ] {
            let (first, last) = span(&t, 10).unwrap();
            let total: f64 = (first..=last).map(|c| weight(c, &t)).sum();
            assert!((total - 1.0).abs() < 1e-12, "{t:?}: {total}");
            assert!((first..=last).all(|c| weight(c, &t) >= 0.0));
        }
        // A unit box centred on a pixel fills it; shifted by half a pixel it halves.
        assert!((weight(3, &[2.5, 2.5, 3.5, 3.5]) - 1.0).abs() < 1e-12);
        assert!((weight(3, &[3.0, 3.0, 4.0, 4.0]) - 0.5).abs() < 1e-12);
        // A symmetric triangle of base 2 centred on pixel 5 gives it 3/4.
        assert!((weight(5, &[4.0, 5.0, 5.0, 6.0]) - 0.75).abs() < 1e-12);
        // Off the detector: nothing.
        assert!(span(&[-3.0, -2.0, -2.0, -1.0], 10).is_none());
        assert_eq!(sort4([3.0, 1.0, 4.0, 2.0]), [1.0, 2.0, 3.0, 4.0]);
    }
}

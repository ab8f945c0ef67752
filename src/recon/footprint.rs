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

use crate::error::Result;
use crate::gpu::{Binding, uniform};
use crate::gpu::{GpuProjections, GpuVolume, KernelSpec, Recorder, wgsl};
use crate::recon::geometry::{BEAM_CODES, Geometry};
use crate::recon::projector::{Projector, ProjectorKind};
use crate::recon::voxel_driven::{self, VoxelDriven, VoxelWeights};
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

/// The shares of pixels `first..=last` in the trapezoid `t` (pixels cover `[c − ½, c + ½]`),
/// into `out`: differences of its area function at the pixel borders.
#[inline(always)]
fn weights(t: &[f64; 4], first: usize, last: usize, out: &mut Vec<f64>) {
    out.clear();
    if t[3] - t[0] < POINT_WIDTH {
        let centre = ((t[0] + t[3]) / 2.0 + 0.5).floor();
        out.extend((first..=last).map(|c| f64::from(u8::from(centre == c as f64))));
        return;
    }
    let inverse_total = 2.0 / (t[3] + t[2] - t[1] - t[0]);
    let mut left = trapezoid_cdf(first as f64 - 0.5, t);
    for c in first..=last {
        let right = trapezoid_cdf(c as f64 + 0.5, t);
        out.push((right - left) * inverse_total);
        left = right;
    }
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
        // (U, V, W) are affine in the voxel indices: half a voxel along an axis moves them by
        // half the matrix's column for that axis.
        let m = p.matrix(view);
        let half = |axis: usize| [0.5 * m[0][axis], 0.5 * m[1][axis], 0.5 * m[2][axis]];
        let (hx, hy) = (half(0), half(1));
        let mut across = [0.0; 4];
        for (i, (sx, sy)) in [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)]
            .into_iter()
            .enumerate()
        {
            let [cu, cv, cw] = std::array::from_fn(|k| [u, v, w][k] + sx * hx[k] + sy * hy[k]);
            if cw.is_nan() || cw <= 0.0 {
                return None;
            }
            across[i] = p.position(cu, cv, cw).0;
        }
        let along = if p.two_d() {
            [0.0; 4]
        } else {
            let hz = half(2);
            let [bu, bv, bw] = [u - hz[0], v - hz[1], w - hz[2]];
            let [tu, tv, tw] = [u + hz[0], v + hz[1], w + hz[2]];
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

    /// The `(pixel index, weight)` pairs of a footprint on a `rows × cols` view, into
    /// `scratch.pixels`.
    #[inline]
    fn pixels(&self, f: &Footprint, rows: usize, cols: usize, scratch: &mut Scratch) {
        scratch.pixels.clear();
        let Some((c0, c1)) = span(&f.across, cols) else {
            return;
        };
        let Some((r0, r1)) = (if self.point.two_d() {
            Some((0, 0))
        } else {
            span(&f.along, rows)
        }) else {
            return;
        };
        weights(&f.across, c0, c1, &mut scratch.columns);
        if self.point.two_d() {
            scratch.rows.clear();
            scratch.rows.push(1.0);
        } else {
            weights(&f.along, r0, r1, &mut scratch.rows);
        }
        for (r, &wr) in (r0..=r1).zip(&scratch.rows) {
            if wr == 0.0 {
                continue;
            }
            let scale = f.scale * wr;
            for (c, &wc) in (c0..=c1).zip(&scratch.columns) {
                if wc != 0.0 {
                    scratch.pixels.push((r * cols + c, (scale * wc) as f32));
                }
            }
        }
    }
}

impl SeparableFootprint {
    /// An upper bound on the loop iterations one view costs a GPU invocation (one voxel): the
    /// pixels of the voxel's footprint ([`crate::recon::geometry::DetectorMap::footprint_bounds`];
    /// rows × columns, each loop's exit counted), the nine corner steps of `footprint`, with a
    /// quarter more for how llvmpipe's drivers count. The forward adds each pixel through a
    /// compare-exchange loop (`splat.wgsl`), whose tries count too: per pixel, its own step,
    /// up to `tries` ([`Recorder::compare_exchange_tries`]) and the add loop's exit (`None`:
    /// the transpose). Conservative for large footprints, whose neighbouring voxels meet other
    /// pixels at each step; on an llvmpipe of many threads they may then be refused (the CPU
    /// path runs them).
    fn iterations_per_view(&self, tries: Option<u64>) -> Result<u64> {
        let (_, shape, _) = self.point.parts();
        let bounds = self
            .point
            .map
            .footprint_bounds(shape, &[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        let worst = bounds
            .iter()
            .map(|&(c, r)| (r + 1.0) * (c + 2.0) * tries.map_or(1.0, |t| t as f64 + 2.0) + 12.0)
            .fold(0.0f64, f64::max);
        Ok((1.25 * worst).ceil() as u64 + 16)
    }
}

/// Per-thread buffers of [`SeparableFootprint::pixels`].
#[derive(Default)]
pub(crate) struct Scratch {
    columns: Vec<f64>,
    rows: Vec<f64>,
    pixels: Vec<(usize, f32)>,
}

impl VoxelWeights for SeparableFootprint {
    type Scratch = Scratch;

    #[inline]
    fn each_pixel(
        &self,
        view: usize,
        x: usize,
        y: usize,
        z: usize,
        scratch: &mut Scratch,
        mut each: impl FnMut(usize, f32),
    ) {
        if let Some(f) = self.footprint(view, x, y, z) {
            let [_, rows, cols] = self.projection_shape();
            self.pixels(&f, rows, cols, scratch);
            for &(i, w) in &scratch.pixels {
                each(i, w);
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

    fn forward_cpu(&self, volume: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        voxel_driven::splat_cpu(self, volume)
    }

    fn backward_cpu(&self, projections: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        voxel_driven::gather_cpu(self, projections)
    }

    fn record_forward(&self, rec: &mut Recorder<'_>, volume: &GpuVolume, out: &GpuProjections) -> Result<()> {
        let per_view = self.iterations_per_view(Some(rec.compare_exchange_tries()))?;
        let what = "the separable-footprint projection (one view's footprint of a voxel)";
        self.point
            .record_bounded(rec, &FORWARD, volume, out, Some((what, per_view)))
    }

    fn record_backward(&self, rec: &mut Recorder<'_>, projections: &GpuProjections, out: &GpuVolume) -> Result<()> {
        let per_view = self.iterations_per_view(None)?;
        let what = "the separable-footprint transpose (one view's footprint of a voxel)";
        self.point
            .record_bounded(rec, &BACKWARD, out, projections, Some((what, per_view)))
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
        let share = |c: usize, t: [f64; 4]| {
            let mut w = Vec::new();
            weights(&t, c, c, &mut w);
            w[0]
        };
        for t in [
            [0.2, 0.9, 2.3, 3.1],
            [-0.4, -0.4, 1.7, 1.7],
            [1.0, 1.5, 1.5, 2.0],
            [4.3, 4.3, 4.3, 4.3],
        ] {
            let (first, last) = span(&t, 10).unwrap();
            let mut w = Vec::new();
            weights(&t, first, last, &mut w);
            let total: f64 = w.iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "{t:?}: {total}");
            assert!(w.iter().all(|&x| x >= 0.0));
            // Pixel by pixel as in one pass.
            for (c, &x) in (first..=last).zip(&w) {
                assert!((share(c, t) - x).abs() < 1e-12);
            }
        }
        // A unit box centred on a pixel fills it; shifted by half a pixel it halves.
        assert!((share(3, [2.5, 2.5, 3.5, 3.5]) - 1.0).abs() < 1e-12);
        assert!((share(3, [3.0, 3.0, 4.0, 4.0]) - 0.5).abs() < 1e-12);
        // A symmetric triangle of base 2 centred on pixel 5 gives it 3/4.
        assert!((share(5, [4.0, 5.0, 5.0, 6.0]) - 0.75).abs() < 1e-12);
        // Off the detector: nothing.
        assert!(span(&[-3.0, -2.0, -2.0, -1.0], 10).is_none());
        assert_eq!(sort4([3.0, 1.0, 4.0, 2.0]), [1.0, 2.0, 3.0, 4.0]);
    }
}

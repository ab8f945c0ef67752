//! Projection matrices: each view of a [`Geometry`] reduced to a 3×4 matrix acting on
//! homogeneous voxel indices `(x, y, z, 1)` of a volume on a [`Grid`] (RTK's and ASTRA's
//! projection matrices). `(U, V, W)` give detector column `U / W` and row `V / W` for flat
//! detectors and parallel beams, and for arc (cylindrical) detectors column
//! `atan2(U, W) · SDD / du` and row `V / hypot(U, W)` (see [`ArcDetector`]). `W` is normalised to
//! 1 at the isocentre, so for divergent beams it is the distance along the central ray over SID
//! (the FDK distance weight is `1 / W²`; arcs: `1 / (U² + W²)`); parallel beams have `W = 1`. The voxel-driven back-projector, FBP/FDK and the projector pairs all read them.

use crate::error::Result;
use crate::recon::geometry::{Beam, Detector, Geometry};
use crate::vec3::{cross, dot, norm, sub};
use crate::volume::Grid;

/// The projection matrix of one view, rows `U`, `V`, `W` over `(x, y, z, 1)` voxel indices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewMatrix {
    /// Rows `U`, `V`, `W`.
    pub rows: [[f64; 4]; 3],
}

/// An affine form `c · X + k` in mm turned into one over voxel indices of `grid`.
fn in_voxels(c: [f64; 3], k: f64, grid: &Grid) -> [f64; 4] {
    // grid.spacing is (z, y, x); grid.origin is (x, y, z).
    [
        c[0] * grid.spacing[2],
        c[1] * grid.spacing[1],
        c[2] * grid.spacing[0],
        dot(c, grid.origin) + k,
    ]
}

/// How a voxel's `(U, V, W)` land on an arc detector (a cylinder about the source when it has
/// several rows): `U` and `W` are the point across and along the central ray and `V` its height
/// above the source, all over SID (`V` also times `SDD / dv`), so the column is the angle
/// `atan2(U, W)` in pixels and the row the height where the ray meets the cylinder,
/// `V / hypot(U, W)`, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArcDetector {
    /// Columns per radian, `SDD / du`.
    pub scale: f64,
    /// The column of the central ray.
    pub centre_col: f64,
    /// The row of the source's plane (0 on one-row detectors).
    pub centre_row: f64,
}

impl ArcDetector {
    /// `(column, row)` of a voxel from its `(U, V, W)`.
    #[inline(always)]
    pub fn position(&self, u: f64, v: f64, w: f64) -> (f64, f64) {
        (
            u.atan2(w) * self.scale + self.centre_col,
            v / u.hypot(w) + self.centre_row,
        )
    }
}

/// The length arc detectors' `U`, `V`, `W` are divided by: the source's distance to the
/// isocentre along the central ray (SID; on a helix the in-plane distance, whatever the
/// source's height). The voxel-driven projector's footprints use the same length.
pub(crate) fn arc_normaliser(view: &crate::recon::geometry::View) -> f64 {
    let central = sub(view.detector_centre, view.source);
    -dot(view.source, central) / norm(central)
}

/// Detector coordinates of a voxel for one geometry: matrices, detector size and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorMap {
    /// One matrix per view.
    pub matrices: Vec<ViewMatrix>,
    /// Detector rows and columns.
    pub rows: usize,
    /// Detector columns.
    pub cols: usize,
    /// How arc detectors read the matrices (`None`: flat detectors and parallel beams).
    pub arc: Option<ArcDetector>,
}

impl DetectorMap {
    /// The matrices of every view of `geometry` for a volume on `grid` (voxel centres at
    /// `origin + index · spacing`, identity direction, in the geometry's frame).
    pub fn new(geometry: &Geometry, grid: &Grid) -> Result<DetectorMap> {
        grid.validate()?;
        let g = geometry;
        let centre_col = (g.cols as f64 - 1.0) / 2.0 - g.offset_u;
        let centre_row = (g.rows as f64 - 1.0) / 2.0 - g.offset_v;
        let flat_2d = g.rows == 1;
        let mut arc = None;
        let matrices = g
            .views
            .iter()
            .map(|view| {
                let (a, b) = (view.u, view.v);
                let rows = match (g.beam, g.detector) {
                    (Beam::Parallel, _) => {
                        // X + t r = d + p a + q b: Cramer's rule gives p, q affine in X.
                        let r = view.source;
                        let den = dot(r, cross(a, b));
                        let cu = cross(r, b);
                        let cv = cross(a, r);
                        let d = view.detector_centre;
                        let u = in_voxels(cu.map(|c| -c / den), dot(d, cu) / den + centre_col, grid);
                        let v = in_voxels(cv.map(|c| -c / den), dot(d, cv) / den + centre_row, grid);
                        [u, if flat_2d { [0.0; 4] } else { v }, [0.0, 0.0, 0.0, 1.0]]
                    }
                    (Beam::Divergent, Detector::Flat) => {
                        // s + t (X − s) = d + p a + q b, with U, V, W linear in X − s.
                        let s = view.source;
                        let ds = sub(view.detector_centre, s);
                        let (cu, cv, cw) = (cross(b, ds), cross(ds, a), cross(a, b));
                        // Normalise W to 1 at the isocentre (X = 0).
                        let w0 = -dot(s, cw);
                        let form = |c: [f64; 3]| (c.map(|x| x / w0), -dot(s, c) / w0);
                        let (uc, uk) = form(cu);
                        let (vc, vk) = form(cv);
                        let (wc, wk) = form(cw);
                        let w = in_voxels(wc, wk, grid);
                        let u = in_voxels(uc, uk, grid);
                        let v = in_voxels(vc, vk, grid);
                        let shift = |row: [f64; 4], c: f64| std::array::from_fn(|i| row[i] + c * w[i]);
                        [
                            shift(u, centre_col),
                            if flat_2d { [0.0; 4] } else { shift(v, centre_row) },
                            w,
                        ]
                    }
                    (Beam::Divergent, Detector::Arc) => {
                        // U, W: the point across and along the central ray, V its height along
                        // the rows, over SID (V in rows: times SDD / dv).
                        let s = view.source;
                        let central = sub(view.detector_centre, s).map(|c| c / norm(sub(view.detector_centre, s)));
                        let sid = arc_normaliser(view);
                        let across = a.map(|c| c / norm(a));
                        let form = |c: [f64; 3]| in_voxels(c.map(|x| x / sid), -dot(s, c) / sid, grid);
                        arc = Some(ArcDetector {
                            scale: g.sdd / norm(a),
                            centre_col,
                            centre_row: if flat_2d { 0.0 } else { centre_row },
                        });
                        let up = b.map(|c| c * g.sdd / (norm(b) * norm(b)));
                        [form(across), if flat_2d { [0.0; 4] } else { form(up) }, form(central)]
                    }
                };
                ViewMatrix { rows }
            })
            .collect();
        Ok(DetectorMap {
            matrices,
            rows: g.rows,
            cols: g.cols,
            arc,
        })
    }
}

impl DetectorMap {
    /// For each view, an upper bound on the detector (columns, rows) that a kernel iterating
    /// over the footprint of a box with edges `edges` (voxel steps), anywhere in a volume of
    /// `shape` ([z, y, x]), visits: the footprint's extent, three pixels more for the kernels'
    /// rounding at both ends, at most the whole detector. GPU kernels on adapters that stop
    /// long loops split their views by it.
    ///
    /// A footprint's extent along a detector axis is at most the sum, over the box's edges, of
    /// the largest change of that detector coordinate along an edge. Over the volume's box of
    /// voxel indices grown by one and a half voxels, the gradients of `U / W` (flat detectors,
    /// parallel beams with `W = 1`), of an arc's angle `atan2(U, W)` and height
    /// `V / hypot(U, W)` are bounded through their affine parts' extremes, which lie at the
    /// box's corners. Where a corner is not in front of the source, the whole detector.
    pub(crate) fn footprint_bounds(&self, shape: [usize; 3], edges: &[[f64; 3]]) -> Vec<(f64, f64)> {
        let [nz, ny, nx] = shape;
        let (rows, cols) = (self.rows as f64, self.cols as f64);
        let corners: Vec<[f64; 3]> = (0..8)
            .map(|k| {
                let end = |bit: usize, n: usize| if k >> bit & 1 == 0 { -1.5 } else { n as f64 + 0.5 };
                [end(0, nx), end(1, ny), end(2, nz)]
            })
            .collect();
        let affine = |r: &[f64; 4], p: &[f64; 3]| r[0] * p[0] + r[1] * p[1] + r[2] * p[2] + r[3];
        let along = |r: &[f64; 4], e: &[f64; 3]| (r[0] * e[0] + r[1] * e[1] + r[2] * e[2]).abs();
        let smallest = |r: &[f64; 4]| corners.iter().map(|p| affine(r, p)).fold(f64::INFINITY, f64::min);
        let largest_magnitude = |r: &[f64; 4]| corners.iter().map(|p| affine(r, p).abs()).fold(0.0, f64::max);
        self.matrices
            .iter()
            .map(|m| {
                let [u, v, w] = &m.rows;
                let w_min = smallest(w);
                if w_min <= 0.0 {
                    return (cols, rows);
                }
                let (c, r) = match self.arc {
                    None => {
                        // About the detector's middle: extents do not depend on the origin, and
                        // the bound on |U / W| is tighter there.
                        let centred = |r: &[f64; 4], c: f64| std::array::from_fn::<f64, 4, _>(|i| r[i] - c * w[i]);
                        let (u, v) = (centred(u, (cols - 1.0) / 2.0), centred(v, (rows - 1.0) / 2.0));
                        let span = |r: &[f64; 4], e: &[f64; 3]| {
                            (along(r, e) + largest_magnitude(r) / w_min * along(w, e)) / w_min
                        };
                        edges
                            .iter()
                            .fold((0.0, 0.0), |(c, r), e| (c + span(&u, e), r + span(&v, e)))
                    }
                    Some(arc) => {
                        // hypot(U, W) ≥ W > 0; |d atan2(U, W)| ≤ (|dU| + |dW|) / hypot(U, W).
                        let v_max = largest_magnitude(v);
                        edges.iter().fold((0.0, 0.0), |(c, r), e| {
                            let radial = along(u, e) + along(w, e);
                            (
                                c + arc.scale.abs() * radial / w_min,
                                r + (along(v, e) + v_max / w_min * radial) / w_min,
                            )
                        })
                    }
                };
                ((c + 3.0).min(cols), (r + 3.0).min(rows))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recon::fdk::centred_grid;

    /// The footprint bounds hold: boxes at random places in the volume (and on its grown
    /// border) never project wider or taller than the bound, on flat, arc and parallel
    /// geometries, near and far sources, oblique detectors' corners included.
    #[test]
    fn footprint_bounds_cover_every_box_in_the_volume() {
        let angles: Vec<f64> = (0..24).map(|v| v as f64 * 15.0 + 3.0).collect();
        let geometries = [
            Geometry::cone(&angles, 60.0, 120.0, 90, 70, [0.25, 0.3], [3.0, -2.0]).unwrap(),
            Geometry::cone_cylindrical(&angles, 60.0, 120.0, 90, 70, [0.25, 0.3], [3.0, -2.0]).unwrap(),
            Geometry::cone(&angles, 25.0, 40.0, 200, 200, [0.2, 0.2], [0.0, 0.0]).unwrap(),
            Geometry::parallel_3d(&angles, 60, 50, [0.3, 0.4]).unwrap(),
        ];
        let shape = [12, 16, 20];
        let grid = centred_grid(shape, [1.0, 0.9, 1.1]).unwrap();
        let boxes = [[[2.0, 0.0, 0.0], [0.0, 0.0, 9.0]], [[1.0, 1.0, 0.0], [0.0, 2.0, 0.0]]];
        let mut rng = crate::rng::XorShift64::new(21);
        for g in &geometries {
            let map = DetectorMap::new(g, &grid).unwrap();
            for edges in boxes {
                let bounds = map.footprint_bounds(shape, &edges);
                // Bounds narrower than the detector, or the check below would say nothing.
                assert!(bounds.iter().all(|&(c, _)| c < map.cols as f64), "{bounds:?}");
                for (view, m) in map.matrices.iter().enumerate() {
                    let pixel = |p: [f64; 3]| {
                        let [u, v, w] = m.rows.map(|r| r[0] * p[0] + r[1] * p[1] + r[2] * p[2] + r[3]);
                        match map.arc {
                            Some(arc) => arc.position(u, v, w),
                            None => (u / w, v / w),
                        }
                    };
                    for _ in 0..200 {
                        // A corner anywhere in the grown box of indices the bound assumes.
                        let mut at = |n: usize, e: f64| -1.5 + f64::from(rng.next_f32()) * (n as f64 + 2.0 - e);
                        let e = [
                            edges[0][0] + edges[1][0],
                            edges[0][1] + edges[1][1],
                            edges[0][2] + edges[1][2],
                        ];
                        let p = [at(shape[2], e[0]), at(shape[1], e[1]), at(shape[0], e[2])];
                        let corners = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
                            .map(|[s, t]| pixel(std::array::from_fn(|i| p[i] + s * edges[0][i] + t * edges[1][i])));
                        let span = |f: fn(&(f64, f64)) -> f64| {
                            let values = corners.iter().map(f);
                            values.clone().fold(f64::NEG_INFINITY, f64::max) - values.fold(f64::INFINITY, f64::min)
                        };
                        let (cols, rows) = bounds[view];
                        // The bound keeps three pixels for rounding at both ends; a footprint
                        // clipped to the detector is never larger than it.
                        let (wide, tall) = (span(|c| c.0).min(map.cols as f64), span(|c| c.1).min(map.rows as f64));
                        assert!(
                            wide + 3.0 <= cols + 1e-9 || cols == map.cols as f64,
                            "view {view}: {wide} columns, bound {cols}"
                        );
                        assert!(
                            tall + 3.0 <= rows + 1e-9 || rows == map.rows as f64,
                            "view {view}: {tall} rows, bound {rows}"
                        );
                    }
                }
            }
        }
    }
}

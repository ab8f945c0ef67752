//! Acquisition geometries, all held in one per-view vector form (as ASTRA's `*_vec` geometries):
//! for every view a source (or, for parallel beams, a ray direction), the detector centre and
//! the detector's column (`u`) and row (`v`) steps, in mm, in the scanner frame.
//!
//! **Frame and conventions.** `(x, y, z)` follow the volume's array axes (x = columns, y = rows,
//! z = slices), in mm, origin at the isocentre; the rotation axis is z. At angle θ = 0 rays
//! travel along +y and detector columns run along +x; a view at angle θ is that arrangement
//! rotated so that the column direction is `(cos θ, −sin θ, 0)` and the ray direction
//! `(sin θ, cos θ, 0)`. For parallel beams this is scikit-image's `radon`: a point at
//! `(x, y)` projects to detector coordinate `t = x cos θ − y sin θ`. Divergent beams put the
//! source at `−SID` along the ray direction and the detector centre at `SDD − SID` beyond the
//! isocentre (SID: source–isocentre, SDD: source–detector distance). Detector rows run along +z.
//! Columns are centred on `(n − 1)/2 + offset`; an arc (equiangular) fan detector is the circle
//! of radius SDD about the source, its columns `spacing / SDD` radians apart.

mod matrices;

pub(crate) use matrices::arc_normaliser;
pub use matrices::{ArcDetector, DetectorMap, ViewMatrix};

use crate::error::{Error, Result};

/// Parallel rays or rays from a point source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beam {
    /// Parallel rays (2D parallel, 3D parallel).
    Parallel,
    /// Rays from a point source (fan, cone).
    Divergent,
}

/// Detector shape of divergent beams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    /// A flat panel (equispaced columns).
    Flat,
    /// An arc centred on the source (equiangular columns), as in clinical fan-beam CT; with
    /// several rows a cylinder about the source (rows stacked along the rotation axis), the
    /// curved detector of clinical multi-row CT ([`Geometry::cone_cylindrical`]).
    Arc,
}

// Beam and detector codes the projector shaders read (`params.beam`).
crate::wgsl_constants!(pub(crate) BEAM_CODES: u32 { BEAM_PARALLEL = 0, BEAM_FLAT = 1, BEAM_ARC = 2 });

/// One view in vector form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Source position (divergent beams) or ray direction (parallel beams, unit length).
    pub source: [f64; 3],
    /// Centre of the detector (of the arc's chord centre line for arc detectors), mm.
    pub detector_centre: [f64; 3],
    /// Step from one detector column to the next, mm (the tangent at the centre for arcs).
    pub u: [f64; 3],
    /// Step from one detector row to the next, mm.
    pub v: [f64; 3],
}

/// A circular acquisition: its views, detector size and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    /// Parallel or divergent.
    pub beam: Beam,
    /// Flat or arc detector.
    pub detector: Detector,
    /// Detector rows (1 for 2D geometries).
    pub rows: usize,
    /// Detector columns.
    pub cols: usize,
    /// One entry per view.
    pub views: Vec<View>,
    /// Source–detector distance (divergent beams), mm.
    pub sdd: f64,
    /// Column offsets in pixels (the detector's shift along u; also the arc's angular offset).
    pub offset_u: f64,
    /// Row offset in pixels.
    pub offset_v: f64,
}

fn check_angles(angles_degrees: &[f64]) -> Result<()> {
    if angles_degrees.is_empty() {
        return Err(Error::param("angles", "no projection angles; give at least one"));
    }
    if let Some(bad) = angles_degrees.iter().find(|a| !a.is_finite()) {
        return Err(Error::param("angles", format!("angle {bad} is not finite")));
    }
    Ok(())
}

fn check_detector(rows: usize, cols: usize, spacing: [f64; 2], offsets: [f64; 2]) -> Result<()> {
    if rows == 0 || cols == 0 || rows > 1 << 16 || cols > 1 << 16 {
        return Err(Error::param(
            "detector",
            format!("a {rows}×{cols} detector: give 1 to 65536 rows and columns"),
        ));
    }
    if spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::param(
            "spacing",
            format!("detector pixel size {spacing:?} mm must be positive and finite"),
        ));
    }
    if offsets.iter().any(|o| !o.is_finite()) {
        return Err(Error::param("offset", "detector offsets must be finite"));
    }
    Ok(())
}

fn check_distances(sid: f64, sdd: f64) -> Result<()> {
    if !(sid.is_finite() && sid > 0.0) {
        return Err(Error::param(
            "sid",
            format!("source–isocentre distance {sid} mm must be positive and finite"),
        ));
    }
    if !(sdd.is_finite() && sdd > sid) {
        return Err(Error::param(
            "sdd",
            format!(
                "source–detector distance {sdd} mm must be finite and larger than the source–isocentre distance {sid} mm"
            ),
        ));
    }
    Ok(())
}

/// `(column direction, ray direction)` at angle θ (degrees).
fn axes(theta_degrees: f64) -> ([f64; 3], [f64; 3]) {
    let (s, c) = theta_degrees.to_radians().sin_cos();
    ([c, -s, 0.0], [s, c, 0.0])
}

fn scaled(v: [f64; 3], k: f64) -> [f64; 3] {
    [v[0] * k, v[1] * k, v[2] * k]
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

impl Geometry {
    /// [`BEAM_CODES`]: the beam and detector as the projector shaders read them.
    pub(crate) fn beam_code(&self) -> u32 {
        match (self.beam, self.detector) {
            (Beam::Parallel, _) => BEAM_PARALLEL,
            (Beam::Divergent, Detector::Flat) => BEAM_FLAT,
            (Beam::Divergent, Detector::Arc) => BEAM_ARC,
        }
    }

    /// 2D parallel beam (scikit-image `radon` convention): `cols` detector pixels of `spacing`
    /// mm at `angles_degrees`.
    pub fn parallel_2d(angles_degrees: &[f64], cols: usize, spacing: f64) -> Result<Geometry> {
        Geometry::parallel_3d(angles_degrees, 1, cols, [1.0, spacing])
    }

    /// 3D parallel beam: a `rows × cols` detector with pixel size `spacing = [v, u]` mm.
    pub fn parallel_3d(angles_degrees: &[f64], rows: usize, cols: usize, spacing: [f64; 2]) -> Result<Geometry> {
        check_angles(angles_degrees)?;
        check_detector(rows, cols, spacing, [0.0, 0.0])?;
        let views = angles_degrees
            .iter()
            .map(|&a| {
                let (u, ray) = axes(a);
                View {
                    source: ray,
                    detector_centre: [0.0; 3],
                    u: scaled(u, spacing[1]),
                    v: [0.0, 0.0, spacing[0]],
                }
            })
            .collect();
        Ok(Geometry {
            beam: Beam::Parallel,
            detector: Detector::Flat,
            rows,
            cols,
            views,
            sdd: f64::INFINITY,
            offset_u: 0.0,
            offset_v: 0.0,
        })
    }

    /// 2D fan beam with a flat or arc detector of `cols` pixels of `spacing` mm (arc length for
    /// arcs), shifted by `offset_u` pixels.
    pub fn fan(
        angles_degrees: &[f64],
        sid: f64,
        sdd: f64,
        cols: usize,
        spacing: f64,
        detector: Detector,
        offset_u: f64,
    ) -> Result<Geometry> {
        let mut g = Geometry::cone(angles_degrees, sid, sdd, 1, cols, [1.0, spacing], [0.0, offset_u])?;
        g.detector = detector;
        Ok(g)
    }

    /// 3D circular cone beam with a flat panel of `rows × cols` pixels of `spacing = [v, u]`
    /// mm, shifted by `offsets = [v, u]` pixels.
    pub fn cone(
        angles_degrees: &[f64],
        sid: f64,
        sdd: f64,
        rows: usize,
        cols: usize,
        spacing: [f64; 2],
        offsets: [f64; 2],
    ) -> Result<Geometry> {
        check_angles(angles_degrees)?;
        check_distances(sid, sdd)?;
        check_detector(rows, cols, spacing, offsets)?;
        let views = angles_degrees
            .iter()
            .map(|&a| {
                let (u, ray) = axes(a);
                View {
                    source: scaled(ray, -sid),
                    detector_centre: scaled(ray, sdd - sid),
                    u: scaled(u, spacing[1]),
                    v: [0.0, 0.0, spacing[0]],
                }
            })
            .collect();
        Ok(Geometry {
            beam: Beam::Divergent,
            detector: Detector::Flat,
            rows,
            cols,
            views,
            sdd,
            offset_u: offsets[1],
            offset_v: offsets[0],
        })
    }

    /// 3D circular cone beam with a cylindrical detector: the cylinder of radius SDD about the
    /// source (its axis parallel to the rotation axis), as clinical multi-row scanners have
    /// and as RTK models with `RadiusCylindricalDetector = SDD`. `rows × cols` pixels of
    /// `spacing = [v, u]` mm (`u` measured along the arc, so columns are `u / SDD` radians
    /// apart), shifted by `offsets = [v, u]` pixels. Rows stack along z: row `r` of column `γ`
    /// is the point at height `(r − centre) · v` on the cylinder.
    pub fn cone_cylindrical(
        angles_degrees: &[f64],
        sid: f64,
        sdd: f64,
        rows: usize,
        cols: usize,
        spacing: [f64; 2],
        offsets: [f64; 2],
    ) -> Result<Geometry> {
        let mut g = Geometry::cone(angles_degrees, sid, sdd, rows, cols, spacing, offsets)?;
        let half_arc = (cols as f64 / 2.0 + offsets[1].abs()) * spacing[1] / sdd;
        if half_arc >= std::f64::consts::FRAC_PI_2 {
            return Err(Error::param(
                "detector",
                format!(
                    "the cylindrical detector spans ±{:.1}° about the central ray; it must stay below ±90° \
                     (fewer or smaller columns, or a larger SDD)",
                    half_arc.to_degrees()
                ),
            ));
        }
        g.detector = Detector::Arc;
        Ok(g)
    }

    /// A geometry from per-view vectors in ASTRA's `parallel3d_vec` / `cone_vec` layout, in
    /// this frame: for each view the source (divergent) or ray direction (parallel), the
    /// detector centre (the centre of its middle pixel, `(n − 1)/2` along both axes) and the
    /// steps `u` (one column) and `v` (one row), mm. Any trajectory: the projectors and the
    /// iterative methods take it; FDK needs a circular orbit ([`Geometry::check_circular`]).
    pub fn from_vectors(beam: Beam, rows: usize, cols: usize, views: Vec<View>) -> Result<Geometry> {
        check_detector(rows, cols, [1.0, 1.0], [0.0, 0.0])?;
        if views.is_empty() {
            return Err(Error::param("vectors", "no views; give at least one row of vectors"));
        }
        let mut views = views;
        let mut sdd = f64::INFINITY;
        for (i, w) in views.iter_mut().enumerate() {
            let all = [w.source, w.detector_centre, w.u, w.v];
            if all.iter().flatten().any(|x| !x.is_finite()) {
                return Err(Error::param(
                    "vectors",
                    format!("view {i} holds a NaN or infinite component"),
                ));
            }
            let normal = cross(w.u, w.v);
            if norm(normal) == 0.0 {
                return Err(Error::param(
                    "vectors",
                    format!("view {i}: the detector steps u and v are zero or parallel"),
                ));
            }
            let normal = scaled(normal, 1.0 / norm(normal));
            match beam {
                Beam::Parallel => {
                    let n = norm(w.source);
                    if n == 0.0 || dot(w.source, normal).abs() < 1e-9 * n {
                        return Err(Error::param(
                            "vectors",
                            format!("view {i}: the ray direction is zero or lies in the detector plane"),
                        ));
                    }
                    w.source = scaled(w.source, 1.0 / n);
                }
                Beam::Divergent => {
                    let distance = dot(sub(w.detector_centre, w.source), normal).abs();
                    if distance == 0.0 {
                        return Err(Error::param(
                            "vectors",
                            format!("view {i}: the source lies in the detector plane"),
                        ));
                    }
                    if i == 0 {
                        sdd = distance;
                    }
                }
            }
        }
        Ok(Geometry {
            beam,
            detector: Detector::Flat,
            rows,
            cols,
            views,
            sdd,
            offset_u: 0.0,
            offset_v: 0.0,
        })
    }

    /// This divergent-beam geometry turned into a helical scan: the source and the detector
    /// advance along +z by `feed_per_turn_mm` per full rotation (the table feed; the clinical
    /// pitch is the feed over the collimation at the isocentre, `rows · dv · SID / SDD`), view 0
    /// at `z_first_mm`. The angle each view has turned since the first comes from the view
    /// vectors, unwrapped (consecutive views less than 180° apart), so any number of turns
    /// works. Flat and cylindrical detectors; the projectors and the iterative methods take the
    /// result, FDK refuses it (its weights assume a circle).
    pub fn helical(mut self, feed_per_turn_mm: f64, z_first_mm: f64) -> Result<Geometry> {
        if self.beam != Beam::Divergent {
            return Err(Error::param(
                "geometry",
                "a helical scan needs a divergent beam (Geometry::cone or cone_cylindrical)",
            ));
        }
        if !(feed_per_turn_mm.is_finite() && z_first_mm.is_finite()) {
            return Err(Error::param(
                "feed",
                "the table feed and the first view's z must be finite",
            ));
        }
        let angle = |w: &View| (-w.source[0]).atan2(-w.source[1]);
        let mut turned = 0.0f64;
        let mut previous = angle(&self.views[0]);
        for (i, w) in self.views.iter_mut().enumerate() {
            let a = angle(w);
            if i > 0 {
                let mut step = a - previous;
                step -= (step / std::f64::consts::TAU).round() * std::f64::consts::TAU;
                turned += step;
            }
            previous = a;
            let z = z_first_mm + feed_per_turn_mm * turned.abs() / std::f64::consts::TAU;
            w.source[2] += z;
            w.detector_centre[2] += z;
        }
        Ok(self)
    }

    /// Checks that the views form the circular orbit FDK's weights assume: every view is
    /// [`Geometry::cone`]'s (or [`Geometry::fan`]'s) view at some angle, with this geometry's
    /// distances, pixel sizes and offsets.
    pub fn check_circular(&self) -> Result<()> {
        let v0 = &self.views[0];
        let sid = (v0.source[0].powi(2) + v0.source[1].powi(2)).sqrt();
        let (du, dv) = (norm(v0.u), norm(v0.v));
        let tolerance = 1e-6 * (sid + self.sdd.min(1e12) + du + dv);
        for (i, w) in self.views.iter().enumerate() {
            let theta = (-w.source[0]).atan2(-w.source[1]);
            let (u, ray) = axes(theta.to_degrees());
            let expected = View {
                source: scaled(ray, -sid),
                detector_centre: scaled(ray, self.sdd - sid),
                u: scaled(u, du),
                v: [0.0, 0.0, dv],
            };
            let off = [
                sub(w.source, expected.source),
                sub(w.detector_centre, expected.detector_centre),
                sub(w.u, expected.u),
                sub(w.v, expected.v),
            ];
            if off.iter().any(|d| norm(*d) > tolerance) {
                return Err(Error::param(
                    "geometry",
                    format!(
                        "view {i} is not on a circular orbit about z with an untilted detector at constant \
                         distances; FDK's weights assume one (HelicalFdk takes helices made by Geometry::helical; the \
                         iterative methods take any geometry)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The ray through the centre of detector pixel `(row, col)` of `view`: a point on it and
    /// its unit direction (from the source towards the detector).
    pub fn ray(&self, view: usize, row: usize, col: usize) -> Result<([f64; 3], [f64; 3])> {
        let w = self
            .views
            .get(view)
            .ok_or_else(|| Error::param("view", format!("view {view} of {}", self.views.len())))?;
        if row >= self.rows || col >= self.cols {
            return Err(Error::param(
                "pixel",
                format!("({row}, {col}) outside a {}×{} detector", self.rows, self.cols),
            ));
        }
        let cu = col as f64 - (self.cols as f64 - 1.0) / 2.0 + self.offset_u;
        let cv = row as f64 - (self.rows as f64 - 1.0) / 2.0 + self.offset_v;
        let unit = |v: [f64; 3]| {
            let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            scaled(v, 1.0 / n)
        };
        match (self.beam, self.detector) {
            (Beam::Parallel, _) => {
                let pixel = add(add(w.detector_centre, scaled(w.u, cu)), scaled(w.v, cv));
                Ok((pixel, w.source))
            }
            (Beam::Divergent, Detector::Flat) => {
                let pixel = add(add(w.detector_centre, scaled(w.u, cu)), scaled(w.v, cv));
                let d = [pixel[0] - w.source[0], pixel[1] - w.source[1], pixel[2] - w.source[2]];
                Ok((w.source, unit(d)))
            }
            (Beam::Divergent, Detector::Arc) => {
                // Column angle γ (arc length / SDD) from the central ray, in the plane of u and
                // the central ray; rows stack along v.
                let u_len = (w.u[0] * w.u[0] + w.u[1] * w.u[1] + w.u[2] * w.u[2]).sqrt();
                let gamma = cu * u_len / self.sdd;
                let central = unit([
                    w.detector_centre[0] - w.source[0],
                    w.detector_centre[1] - w.source[1],
                    w.detector_centre[2] - w.source[2],
                ]);
                let along = add(
                    scaled(central, gamma.cos() * self.sdd),
                    scaled(unit(w.u), gamma.sin() * self.sdd),
                );
                let pixel = add(add(w.source, along), scaled(w.v, cv));
                let d = [pixel[0] - w.source[0], pixel[1] - w.source[1], pixel[2] - w.source[2]];
                Ok((w.source, unit(d)))
            }
        }
    }

    /// Checks that no source lies inside a volume whose voxels lie within `radius_mm` of the
    /// rotation axis (a source inside the object is a geometry mistake, e.g. mm vs cm).
    pub fn check_source_outside(&self, radius_mm: f64) -> Result<()> {
        if self.beam == Beam::Divergent {
            let s = self.views[0].source;
            let sid = (s[0] * s[0] + s[1] * s[1]).sqrt();
            if sid <= radius_mm {
                return Err(Error::param(
                    "sid",
                    format!(
                        "the source ({sid} mm from the axis) is inside the volume (radius {radius_mm} mm); check the \
                         distances' units or crop the volume"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Exact projections of an analytic phantom: `views × rows × cols` line integrals through
    /// the detector pixel centres.
    pub fn project_exact(&self, phantom: &super::Phantom) -> Result<ndarray::Array3<f32>> {
        use rayon::prelude::*;
        let mut out = vec![0.0f32; self.views.len() * self.rows * self.cols];
        out.par_chunks_mut(self.cols)
            .enumerate()
            .try_for_each(|(r, row)| -> Result<()> {
                let (view, det_row) = (r / self.rows, r % self.rows);
                for (col, v) in row.iter_mut().enumerate() {
                    let (p, d) = self.ray(view, det_row, col)?;
                    *v = phantom.line_integral(p, d)? as f32;
                }
                Ok(())
            })?;
        Ok(
            ndarray::Array3::from_shape_vec((self.views.len(), self.rows, self.cols), out)
                .expect("shape matches length"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recon::{Ellipsoid, Phantom};

    #[test]
    fn vectors_rebuild_circular_geometries_and_flag_others() {
        let cone = Geometry::cone(&[0.0, 40.0, 95.0], 500.0, 800.0, 4, 6, [1.2, 0.9], [0.0, 0.0]).unwrap();
        let rebuilt = Geometry::from_vectors(Beam::Divergent, 4, 6, cone.views.clone()).unwrap();
        assert!((rebuilt.sdd - 800.0).abs() < 1e-9);
        assert!(rebuilt.check_circular().is_ok());
        assert_eq!(rebuilt.ray(1, 2, 3).unwrap(), cone.ray(1, 2, 3).unwrap());
        let mut tilted = cone.views.clone();
        tilted[1].v = [0.0, 0.1, 1.2];
        let tilted = Geometry::from_vectors(Beam::Divergent, 4, 6, tilted).unwrap();
        assert!(tilted.check_circular().is_err());
        let mut flat = cone.views.clone();
        flat[0].v = flat[0].u;
        assert!(Geometry::from_vectors(Beam::Divergent, 4, 6, flat).is_err());
        assert!(Geometry::from_vectors(Beam::Divergent, 4, 6, vec![]).is_err());
        let parallel = Geometry::parallel_3d(&[10.0], 2, 3, [1.0, 1.0]).unwrap();
        let mut long_ray = parallel.views.clone();
        long_ray[0].source = scaled(long_ray[0].source, 7.0);
        let rebuilt = Geometry::from_vectors(Beam::Parallel, 2, 3, long_ray).unwrap();
        assert!((norm(rebuilt.views[0].source) - 1.0).abs() < 1e-12);
    }

    /// A small disc (or ball) of radius 1 mm and value 1 at `c`.
    fn dot(c: [f64; 3], three_d: bool) -> Phantom {
        Phantom {
            ellipsoids: vec![Ellipsoid {
                centre: c,
                semi_axes: [1.0, 1.0, if three_d { 1.0 } else { f64::INFINITY }],
                phi_degrees: 0.0,
                value: 1.0,
            }],
        }
    }

    /// Detector coordinate (mm, from the detector centre) where the projection peaks.
    fn peak(p: &ndarray::Array3<f32>, view: usize, row: usize, spacing: f64, cols: usize) -> f64 {
        let line = p.slice(ndarray::s![view, row, ..]);
        let (num, den) = line.iter().enumerate().fold((0.0, 0.0), |(n, d), (k, &v)| {
            (n + k as f64 * f64::from(v), d + f64::from(v))
        });
        (num / den - (cols as f64 - 1.0) / 2.0) * spacing
    }

    #[test]
    fn parallel_projections_put_a_point_where_scikit_image_does() {
        // scikit-image: t = x cos θ − y sin θ (checked against skimage.transform.radon).
        let (x, y) = (13.0, -12.0);
        let angles = [0.0, 30.0, 90.0, 135.0];
        let g = Geometry::parallel_2d(&angles, 1001, 0.05).unwrap();
        let p = g.project_exact(&dot([x, y, 0.0], false)).unwrap();
        for (i, a) in angles.iter().enumerate() {
            let t = a.to_radians();
            let expected = x * t.cos() - y * t.sin();
            assert!(
                (peak(&p, i, 0, 0.05, 1001) - expected).abs() < 5e-3,
                "{a}°: {} vs {expected}",
                peak(&p, i, 0, 0.05, 1001)
            );
            // The disc's projection integrates to its area.
            let area: f64 = p
                .slice(ndarray::s![i, 0, ..])
                .iter()
                .map(|&v| f64::from(v) * 0.05)
                .sum();
            // (A Riemann sum of the semicircular profile: O(h^1.5) error.)
            assert!((area - std::f64::consts::PI).abs() < 2e-2, "{area}");
        }
    }

    #[test]
    fn divergent_beams_magnify_by_sdd_over_distance_to_the_source() {
        let (sid, sdd) = (500.0, 800.0);
        let angles = [0.0, 60.0, 200.0];
        let point = [20.0, -35.0, 0.0];
        for detector in [Detector::Flat, Detector::Arc] {
            let g = Geometry::fan(&angles, sid, sdd, 801, 0.2, detector, 0.0).unwrap();
            let p = g.project_exact(&dot(point, false)).unwrap();
            for (i, a) in angles.iter().enumerate() {
                let (u, ray) = axes(*a);
                // Position of the point across and along the central ray.
                let across = point[0] * u[0] + point[1] * u[1];
                let along = point[0] * ray[0] + point[1] * ray[1] + sid;
                let expected = match detector {
                    Detector::Flat => across * sdd / along,
                    Detector::Arc => (across / along).atan() * sdd,
                };
                assert!((peak(&p, i, 0, 0.2, 801) - expected).abs() < 2e-2, "{detector:?} {a}°");
            }
        }
        // Cone: rows magnify z the same way.
        let g = Geometry::cone(&[0.0], sid, sdd, 161, 161, [0.25, 0.25], [0.0, 0.0]).unwrap();
        let p = g.project_exact(&dot([0.0, 0.0, 10.0], true)).unwrap();
        let column: Vec<f32> = p.slice(ndarray::s![0, .., 80]).to_vec();
        let (num, den) = column.iter().enumerate().fold((0.0, 0.0), |(n, d), (k, &v)| {
            (n + k as f64 * f64::from(v), d + f64::from(v))
        });
        let z_on_detector = (num / den - 80.0) * 0.25;
        assert!((z_on_detector - 10.0 * sdd / sid).abs() < 1e-2, "{z_on_detector}");
        // A cylinder about the source: an off-centre point lands at its angle across (arc length
        // on the cylinder) and at height z · SDD / L, L its in-plane distance to the source.
        let point = [14.0, -22.0, 9.0];
        for a in [0.0, 75.0, 230.0] {
            let g = Geometry::cone_cylindrical(&[a], sid, sdd, 201, 481, [0.25, 0.25], [0.0, 0.0]).unwrap();
            let p = g.project_exact(&dot(point, true)).unwrap();
            let (u, ray) = axes(a);
            let across = point[0] * u[0] + point[1] * u[1];
            let along = point[0] * ray[0] + point[1] * ray[1] + sid;
            let (mut n, mut c, mut r) = (0.0, 0.0, 0.0);
            for ((_, row, col), &v) in p.indexed_iter() {
                n += f64::from(v);
                c += f64::from(v) * col as f64;
                r += f64::from(v) * row as f64;
            }
            let (col_mm, row_mm) = ((c / n - 240.0) * 0.25, (r / n - 100.0) * 0.25);
            let expected_col = (across / along).atan() * sdd;
            let expected_row = point[2] * sdd / across.hypot(along);
            // Within a tenth of a pixel (the ball's magnified image is slightly asymmetric).
            assert!(
                (col_mm - expected_col).abs() < 0.025,
                "{a}°: column {col_mm} vs {expected_col} mm"
            );
            assert!(
                (row_mm - expected_row).abs() < 0.025,
                "{a}°: row {row_mm} vs {expected_row} mm"
            );
        }
        // The central ray goes through the isocentre.
        let (s, d) = g.ray(0, 80, 80).unwrap();
        let t = -(s[0] * d[0] + s[1] * d[1] + s[2] * d[2]);
        let closest = [s[0] + t * d[0], s[1] + t * d[1], s[2] + t * d[2]];
        assert!(closest.iter().all(|c| c.abs() < 1e-9), "{closest:?}");
    }

    /// On a helix the detector follows the source along z: a point lands at the height of
    /// `(z − z_source) · SDD / L` (L its in-plane distance to the source) on both detectors.
    #[test]
    fn a_helix_moves_source_and_detector_along_z() {
        let (sid, sdd, feed) = (500.0, 800.0, 6.0);
        // Two turns and a bit, turning either way.
        let forward: Vec<f64> = (0..9).map(|k| k as f64 * 100.0).collect();
        let backward: Vec<f64> = forward.iter().map(|a| 30.0 - a).collect();
        let point = [14.0, -22.0, 9.0];
        for angles in [&forward, &backward] {
            for detector in [Detector::Flat, Detector::Arc] {
                let make = match detector {
                    Detector::Flat => Geometry::cone,
                    Detector::Arc => Geometry::cone_cylindrical,
                };
                let g = make(angles, sid, sdd, 201, 481, [0.25, 0.25], [0.0, 0.0])
                    .unwrap()
                    .helical(feed, 0.0)
                    .unwrap();
                assert!(g.check_circular().is_err(), "FDK must refuse a helix");
                let p = g.project_exact(&dot(point, true)).unwrap();
                for (k, a) in angles.iter().enumerate() {
                    let z_source = feed * (a - angles[0]).abs() / 360.0;
                    assert!((g.views[k].source[2] - z_source).abs() < 1e-9, "{detector:?} view {k}");
                    let (u, ray) = axes(*a);
                    let across = point[0] * u[0] + point[1] * u[1];
                    let along = point[0] * ray[0] + point[1] * ray[1] + sid;
                    let distance = match detector {
                        Detector::Flat => along,
                        Detector::Arc => across.hypot(along),
                    };
                    let expected = (point[2] - z_source) * sdd / distance;
                    let image = p.slice(ndarray::s![k, .., ..]);
                    let (mut n, mut r) = (0.0, 0.0);
                    for ((row, _), &v) in image.indexed_iter() {
                        n += f64::from(v);
                        r += f64::from(v) * row as f64;
                    }
                    let row_mm = (r / n - 100.0) * 0.25;
                    assert!(
                        (row_mm - expected).abs() < 0.025,
                        "{detector:?} view {k}: {row_mm} vs {expected} mm"
                    );
                }
            }
        }
        let parallel = Geometry::parallel_3d(&[0.0], 2, 2, [1.0, 1.0]).unwrap();
        assert!(parallel.helical(10.0, 0.0).is_err());
        let cone = Geometry::cone(&[0.0], 500.0, 800.0, 4, 4, [1.0, 1.0], [0.0, 0.0]).unwrap();
        assert!(cone.helical(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn bad_geometries_are_typed_errors() {
        let expect = |r: Result<Geometry>, name: &str| match r {
            Err(Error::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
            other => panic!("expected an error about `{name}`, got {other:?}"),
        };
        expect(Geometry::parallel_2d(&[], 10, 1.0), "angles");
        expect(Geometry::parallel_2d(&[f64::NAN], 10, 1.0), "angles");
        expect(Geometry::parallel_2d(&[0.0], 0, 1.0), "detector");
        expect(Geometry::parallel_2d(&[0.0], 10, 0.0), "spacing");
        expect(Geometry::fan(&[0.0], 500.0, 400.0, 10, 1.0, Detector::Flat, 0.0), "sdd");
        expect(
            Geometry::fan(&[0.0], f64::INFINITY, 400.0, 10, 1.0, Detector::Arc, 0.0),
            "sid",
        );
        expect(
            Geometry::cone(&[0.0], 500.0, 800.0, 4, 4, [1.0, 1.0], [f64::NAN, 0.0]),
            "offset",
        );
        // A cylinder reaching ±90° about the central ray.
        expect(
            Geometry::cone_cylindrical(&[0.0], 500.0, 800.0, 4, 1000, [1.0, 2.6], [0.0, 0.0]),
            "detector",
        );
        let g = Geometry::cone(&[0.0], 50.0, 800.0, 4, 4, [1.0, 1.0], [0.0, 0.0]).unwrap();
        assert!(g.check_source_outside(100.0).is_err());
        assert!(g.check_source_outside(40.0).is_ok());
        assert!(g.ray(1, 0, 0).is_err() && g.ray(0, 4, 0).is_err());
    }
}

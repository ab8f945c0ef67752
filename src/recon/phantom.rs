//! Analytic phantoms made of ellipses / ellipsoids: the Shepp–Logan head in 2D and 3D,
//! rasterised with supersampling, and their **exact** line integrals, so that reconstruction
//! tests never project data with the operator they test (no inverse crime).
//!
//! Coordinates are physical (mm) in the scanner frame `(x, y, z)`, the rotation axis being z
//! through the origin. An ellipsoid is `|D⁻¹ Rᵀ (p - c)| <= 1` with centre `c`, semi-axes `D`
//! and `R` a rotation by `phi` about z (about the ellipsoid's own centre); a 2D ellipse is the
//! same in the plane z = 0 (and, as a volume, an infinite cylinder along z). Values add where
//! ellipsoids overlap.
//!
//! Tables (public facts): the 2D Shepp–Logan phantom (Shepp & Logan, IEEE Trans. Nucl. Sci.
//! 21(3), 1974) with its original intensities, and the modified intensities of Toft (The Radon
//! Transform, 1996, pp. 199–200) used by MATLAB's `phantom`; the 3D ellipsoids of Toft's table as
//! tabulated by the widely used `phantom3d` codes, each rotated by its `phi` about its own centre
//! (those codes' extra `psi = 10°` of the two "eyes" is not applied). Lengths are fractions of
//! the phantom's radius, scaled to mm by [`Phantom::shepp_logan_2d`] / [`Phantom::shepp_logan_3d`].

use ndarray::Array3;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::volume::Grid;

/// One ellipsoid (an ellipse when `semi_axes[2]` is infinite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ellipsoid {
    /// Centre `(x, y, z)`, mm.
    pub centre: [f64; 3],
    /// Semi-axes along the ellipsoid's own x, y, z, mm (`f64::INFINITY` along z for 2D).
    pub semi_axes: [f64; 3],
    /// Rotation about z, degrees, counter-clockwise from x towards y.
    pub phi_degrees: f64,
    /// Value added inside.
    pub value: f64,
}

/// Which Shepp–Logan intensities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SheppLogan {
    /// The original intensities (2, -0.98, -0.02, -0.02, 0.01, ...): tissue contrast of 1–2 %.
    Original,
    /// Toft's modified intensities (1, -0.8, -0.2, -0.2, 0.1, ...), as MATLAB's `phantom`.
    #[default]
    Modified,
}

/// A sum of ellipsoids.
#[derive(Debug, Clone, PartialEq)]
pub struct Phantom {
    /// The ellipsoids.
    pub ellipsoids: Vec<Ellipsoid>,
}

// (x0, y0, a, b, phi) of the 2D table, fractions of the radius and degrees.
const SL_2D: [(f64, f64, f64, f64, f64); 10] = [
    (0.0, 0.0, 0.69, 0.92, 0.0),
    (0.0, -0.0184, 0.6624, 0.874, 0.0),
    (0.22, 0.0, 0.11, 0.31, -18.0),
    (-0.22, 0.0, 0.16, 0.41, 18.0),
    (0.0, 0.35, 0.21, 0.25, 0.0),
    (0.0, 0.1, 0.046, 0.046, 0.0),
    (0.0, -0.1, 0.046, 0.046, 0.0),
    (-0.08, -0.605, 0.046, 0.023, 0.0),
    (0.0, -0.606, 0.023, 0.023, 0.0),
    (0.06, -0.605, 0.023, 0.046, 0.0),
];

// (x0, y0, z0, a, b, c, phi) of the 3D table.
const SL_3D: [(f64, f64, f64, f64, f64, f64, f64); 10] = [
    (0.0, 0.0, 0.0, 0.69, 0.92, 0.81, 0.0),
    (0.0, -0.0184, 0.0, 0.6624, 0.874, 0.78, 0.0),
    (0.22, 0.0, 0.0, 0.11, 0.31, 0.22, -18.0),
    (-0.22, 0.0, 0.0, 0.16, 0.41, 0.28, 18.0),
    (0.0, 0.35, -0.15, 0.21, 0.25, 0.41, 0.0),
    (0.0, 0.1, 0.25, 0.046, 0.046, 0.05, 0.0),
    (0.0, -0.1, 0.25, 0.046, 0.046, 0.05, 0.0),
    (-0.08, -0.605, 0.0, 0.046, 0.023, 0.05, 0.0),
    (0.0, -0.606, 0.0, 0.023, 0.023, 0.02, 0.0),
    (0.06, -0.605, 0.0, 0.023, 0.046, 0.02, 0.0),
];

fn intensities(kind: SheppLogan) -> [f64; 10] {
    match kind {
        SheppLogan::Original => [2.0, -0.98, -0.02, -0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01],
        SheppLogan::Modified => [1.0, -0.8, -0.2, -0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
    }
}

fn check_radius(radius_mm: f64) -> Result<()> {
    if radius_mm.is_finite() && radius_mm > 0.0 {
        Ok(())
    } else {
        Err(Error::param(
            "radius",
            format!("phantom radius {radius_mm} mm must be positive and finite"),
        ))
    }
}

impl Ellipsoid {
    /// `(q, e)`: the point and the direction in the ellipsoid's normalised frame, where the
    /// ellipsoid is the unit ball.
    fn normalise(&self, p: [f64; 3], d: [f64; 3]) -> ([f64; 3], [f64; 3]) {
        let (s, c) = self.phi_degrees.to_radians().sin_cos();
        let rel = [p[0] - self.centre[0], p[1] - self.centre[1], p[2] - self.centre[2]];
        // Rᵀ: rotate by -phi about z.
        let rot = |v: [f64; 3]| [c * v[0] + s * v[1], -s * v[0] + c * v[1], v[2]];
        let (q, e) = (rot(rel), rot(d));
        let scale = |v: [f64; 3]| {
            let mut out = [0.0; 3];
            for a in 0..3 {
                // An infinite semi-axis (2D ellipses) removes that coordinate.
                out[a] = if self.semi_axes[a].is_infinite() {
                    0.0
                } else {
                    v[a] / self.semi_axes[a]
                };
            }
            out
        };
        (scale(q), scale(e))
    }

    /// Whether `p` is inside.
    pub fn contains(&self, p: [f64; 3]) -> bool {
        let (q, _) = self.normalise(p, [0.0; 3]);
        q.iter().map(|v| v * v).sum::<f64>() <= 1.0
    }

    /// Length of the chord of the line `p + t·d` (`d` a unit vector) through the ellipsoid, mm:
    /// the roots of `|q + t e|² = 1` in the normalised frame.
    pub fn chord(&self, p: [f64; 3], d: [f64; 3]) -> f64 {
        let (q, e) = self.normalise(p, d);
        let a: f64 = e.iter().map(|v| v * v).sum();
        let b: f64 = q.iter().zip(&e).map(|(q, e)| q * e).sum();
        let c: f64 = q.iter().map(|v| v * v).sum::<f64>() - 1.0;
        if a == 0.0 {
            // Parallel to an infinite axis (a ray along z through a 2D ellipse's cylinder).
            return if c <= 0.0 { f64::INFINITY } else { 0.0 };
        }
        let disc = b * b - a * c;
        if disc <= 0.0 { 0.0 } else { 2.0 * disc.sqrt() / a }
    }
}

impl Phantom {
    /// The 2D Shepp–Logan phantom, `radius_mm` being the half-height of its outer ellipse's
    /// bounding square (the table's unit length); z is ignored.
    pub fn shepp_logan_2d(kind: SheppLogan, radius_mm: f64) -> Result<Phantom> {
        check_radius(radius_mm)?;
        let r = radius_mm;
        let ellipsoids = SL_2D
            .iter()
            .zip(intensities(kind))
            .map(|(&(x0, y0, a, b, phi), value)| Ellipsoid {
                centre: [x0 * r, y0 * r, 0.0],
                semi_axes: [a * r, b * r, f64::INFINITY],
                phi_degrees: phi,
                value,
            })
            .collect();
        Ok(Phantom { ellipsoids })
    }

    /// The 3D Shepp–Logan phantom scaled so that the table's unit length is `radius_mm`.
    pub fn shepp_logan_3d(kind: SheppLogan, radius_mm: f64) -> Result<Phantom> {
        check_radius(radius_mm)?;
        let r = radius_mm;
        let ellipsoids = SL_3D
            .iter()
            .zip(intensities(kind))
            .map(|(&(x0, y0, z0, a, b, c, phi), value)| Ellipsoid {
                centre: [x0 * r, y0 * r, z0 * r],
                semi_axes: [a * r, b * r, c * r],
                phi_degrees: phi,
                value,
            })
            .collect();
        Ok(Phantom { ellipsoids })
    }

    /// The value at `p` (mm).
    pub fn value_at(&self, p: [f64; 3]) -> f64 {
        self.ellipsoids.iter().filter(|e| e.contains(p)).map(|e| e.value).sum()
    }

    /// The exact line integral along the line through `p` with direction `d` (normalised here),
    /// in value·mm. Lines along z through a 2D phantom are infinite: an error.
    pub fn line_integral(&self, p: [f64; 3], d: [f64; 3]) -> Result<f64> {
        let norm = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        if !(norm.is_finite() && norm > 0.0) || p.iter().any(|v| !v.is_finite()) {
            return Err(Error::param(
                "direction",
                "a line needs a finite point and a non-zero finite direction",
            ));
        }
        let d = [d[0] / norm, d[1] / norm, d[2] / norm];
        let total: f64 = self.ellipsoids.iter().map(|e| e.value * e.chord(p, d)).sum();
        if total.is_finite() {
            Ok(total)
        } else {
            Err(Error::param(
                "direction",
                "the line runs along the axis of a 2D phantom (infinite integral)",
            ))
        }
    }

    /// Rasterises the phantom on `grid` (voxel `(z, y, x)` centred at `origin + index · spacing`
    /// along the grid's axes, identity direction assumed) with `samples³` sub-voxel samples per
    /// voxel (`samples²` in-plane for a single slice), averaged.
    pub fn rasterize(&self, shape: [usize; 3], grid: &Grid, samples: usize) -> Result<Array3<f32>> {
        grid.validate()?;
        crate::volume::check_shape(&shape)?;
        if samples == 0 || samples > 16 {
            return Err(Error::param(
                "samples",
                format!("{samples} sub-samples per axis: give 1 to 16"),
            ));
        }
        let [nz, ny, nx] = shape;
        let sz_samples = if nz == 1 { 1 } else { samples };
        let offsets = |n: usize| -> Vec<f64> { (0..n).map(|k| (k as f64 + 0.5) / n as f64 - 0.5).collect() };
        let (oz, oxy) = (offsets(sz_samples), offsets(samples));
        let count = (oz.len() * oxy.len() * oxy.len()) as f64;
        // origin is LPS (x, y, z); spacing is (z, y, x).
        let mut out = vec![0.0f32; nz * ny * nx];
        out.par_chunks_mut(nx).enumerate().for_each(|(r, row)| {
            let (z, y) = (r / ny, r % ny);
            for (x, v) in row.iter_mut().enumerate() {
                let mut sum = 0.0;
                for dz in &oz {
                    for dy in &oxy {
                        for dx in &oxy {
                            let p = [
                                grid.origin[0] + (x as f64 + dx) * grid.spacing[2],
                                grid.origin[1] + (y as f64 + dy) * grid.spacing[1],
                                grid.origin[2] + (z as f64 + dz) * grid.spacing[0],
                            ];
                            sum += self.value_at(p);
                        }
                    }
                }
                *v = (sum / count) as f32;
            }
        });
        Ok(Array3::from_shape_vec(shape, out).expect("shape matches length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disc(radius: f64) -> Ellipsoid {
        Ellipsoid {
            centre: [3.0, -2.0, 0.0],
            semi_axes: [radius, radius, f64::INFINITY],
            phi_degrees: 0.0,
            value: 1.0,
        }
    }

    #[test]
    fn chords_of_a_disc_are_2_sqrt_r2_minus_t2() {
        let e = disc(5.0);
        for t in [-4.9, -2.0, 0.0, 1.5, 4.99] {
            // A vertical line at distance t from the centre.
            let chord = e.chord([3.0 + t, 100.0, 7.0], [0.0, -1.0, 0.0]);
            assert!((chord - 2.0 * (25.0f64 - t * t).sqrt()).abs() < 1e-9, "{t}: {chord}");
        }
        assert_eq!(e.chord([9.0, 0.0, 0.0], [0.0, 1.0, 0.0]), 0.0);
    }

    #[test]
    fn rotated_ellipse_chords_match_the_rotated_axes() {
        // A 4×1 ellipse rotated by 90°: along y it is 8 long, along x 2.
        let e = Ellipsoid {
            centre: [0.0; 3],
            semi_axes: [4.0, 1.0, f64::INFINITY],
            phi_degrees: 90.0,
            value: 1.0,
        };
        assert!((e.chord([0.0, -10.0, 0.0], [0.0, 1.0, 0.0]) - 8.0).abs() < 1e-9);
        assert!((e.chord([-10.0, 0.0, 0.0], [1.0, 0.0, 0.0]) - 2.0).abs() < 1e-9);
        // An oblique chord through the centre of a sphere is its diameter.
        let ball = Ellipsoid {
            centre: [1.0, 2.0, 3.0],
            semi_axes: [2.0; 3],
            phi_degrees: 33.0,
            value: 1.0,
        };
        let d = [1.0 / 3f64.sqrt(); 3];
        assert!((ball.chord([1.0 - 5.0 * d[0], 2.0 - 5.0 * d[1], 3.0 - 5.0 * d[2]], d) - 4.0).abs() < 1e-12);
    }

    #[test]
    fn projections_integrate_to_the_phantom_mass() {
        // ∫ (line integral) dt over parallel lines = ∫∫ f: the mass Σ value·π·a·b (2D).
        let p = Phantom::shepp_logan_2d(SheppLogan::Modified, 100.0).unwrap();
        let mass: f64 = p
            .ellipsoids
            .iter()
            .map(|e| e.value * std::f64::consts::PI * e.semi_axes[0] * e.semi_axes[1])
            .sum();
        for angle in [0.0f64, 17.0, 90.0, 133.0] {
            let (s, c) = angle.to_radians().sin_cos();
            let dir = [-s, c, 0.0];
            let dt = 0.01;
            let sum: f64 = (-12000..=12000)
                .map(|k| {
                    let t = k as f64 * dt;
                    p.line_integral([t * c, t * s, 0.0], dir).unwrap() * dt
                })
                .sum();
            assert!((sum - mass).abs() < 1e-4 * mass, "{angle}°: {sum} vs {mass}");
        }
    }

    #[test]
    fn rasterised_values_follow_the_table() {
        let p = Phantom::shepp_logan_2d(SheppLogan::Modified, 1.0).unwrap();
        // Inside the brain (outer 1 - 0.8), inside the small central ellipse (+0.1).
        assert!((p.value_at([0.0, -0.5, 0.0]) - 0.2).abs() < 1e-12);
        assert!((p.value_at([0.0, 0.35, 0.0]) - 0.3).abs() < 1e-12);
        assert_eq!(p.value_at([0.0, 0.95, 0.0]), 0.0);
        let original = Phantom::shepp_logan_2d(SheppLogan::Original, 1.0).unwrap();
        assert!((original.value_at([0.0, -0.5, 0.0]) - 1.02).abs() < 1e-12);
        // A 65×65 image over [-1, 1]²: the centre pixel sits in the brain.
        let grid = Grid {
            spacing: [1.0, 2.0 / 64.0, 2.0 / 64.0],
            origin: [-1.0, -1.0, 0.0],
            ..Grid::default()
        };
        let img = p.rasterize([1, 65, 65], &grid, 3).unwrap();
        assert!((img[[0, 32, 32]] - 0.2).abs() < 1e-6);
        assert_eq!(img[[0, 0, 0]], 0.0);
        // Supersampling: edge pixels are fractional.
        assert!(img.iter().any(|&v| v > 0.0 && v < 0.2 && v != 0.1));
        let p3 = Phantom::shepp_logan_3d(SheppLogan::Modified, 1.0).unwrap();
        assert!((p3.value_at([0.0, -0.5, 0.0]) - 0.2).abs() < 1e-12);
        assert!(p3.line_integral([0.0, 0.0, 0.0], [0.0, 0.0, 0.0]).is_err());
        assert!(p.line_integral([0.0, 0.0, 0.0], [0.0, 0.0, 1.0]).is_err());
        assert!(Phantom::shepp_logan_3d(SheppLogan::Modified, -1.0).is_err());
        assert!(p.rasterize([1, 4, 4], &grid, 0).is_err());
    }
}

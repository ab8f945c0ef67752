//! Fan-beam FBP for flat (equispaced) and arc (equiangular) detectors, full scans, on the CPU
//! (Kak & Slaney, *Principles of Computerized Tomographic Imaging*, §3.4):
//!
//! * flat: pre-weight `SID / √(SID² + s²)` on the detector scaled to the isocentre, ramp filter,
//!   back-projection weighted by `(SID / distance along the central ray)²`;
//! * arc: pre-weight `SID · cos γ`, the equiangular kernel `(γ / sin γ)²`-modified ramp,
//!   back-projection weighted by `1 / L²` (L: source–point distance);
//! * geometry and conventions of [`super::Geometry::fan`]; the output is a square image of
//!   `size` pixels of `pixel_mm`, its centre pixel ((size − 1)/2) on the rotation axis;
//! * full scans (views equally spaced over 360°) and short scans (180° plus the fan angle or
//!   more, Parker weights); anything shorter is an error that states the angle needed.

use std::f64::consts::PI;

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::recon::geometry::{Beam, Detector, Geometry};
use crate::recon::ramp::{RampWindow, equiangular_response, filter_rows_with, frequency_response, padded_len};

/// Fan-beam FBP.
#[derive(Debug, Clone, PartialEq)]
pub struct FanFbp {
    geometry: Geometry,
    window: RampWindow,
    cutoff: f64,
    /// (first angle, step, half fan angle) of a short scan.
    short_scan: Option<(f64, f64, f64)>,
}

/// Half the fan angle the detector covers, radians.
fn fan_angle(g: &Geometry) -> f64 {
    let du = (g.views[0].u[0].powi(2) + g.views[0].u[1].powi(2)).sqrt();
    let edge = (g.cols as f64 - 1.0) / 2.0 + 0.5 + g.offset_u.abs();
    match g.detector {
        Detector::Flat => (edge * du / g.sdd).atan(),
        Detector::Arc => edge * du / g.sdd,
    }
}

/// Parker's weight (Med. Phys. 9(2), 1982) of the ray at fan angle `gamma` in the view `beta`
/// radians after the first of a short scan with half fan angle `delta`.
fn parker(beta: f64, gamma: f64, delta: f64) -> f64 {
    if beta < 2.0 * (delta - gamma) {
        (PI / 4.0 * beta / (delta - gamma)).sin().powi(2)
    } else if beta <= PI - 2.0 * gamma {
        1.0
    } else if beta <= PI + 2.0 * delta {
        (PI / 4.0 * (PI + 2.0 * delta - beta) / (delta + gamma)).sin().powi(2)
    } else {
        0.0
    }
}

impl FanFbp {
    /// FBP for projections taken with `geometry` (from [`Geometry::fan`]), ramp filter.
    pub fn new(geometry: &Geometry) -> Result<Self> {
        if geometry.beam != Beam::Divergent || geometry.rows != 1 {
            return Err(Error::param(
                "geometry",
                "fan-beam FBP needs a fan geometry (Geometry::fan)",
            ));
        }
        let n = geometry.views.len();
        let angle = |v: &crate::recon::View| (-v.source[0]).atan2(-v.source[1]);
        if n < 2 {
            return Err(Error::param("geometry", "fan-beam FBP needs at least two views"));
        }
        // Equal angular steps (within 1 % of a step), increasing.
        let step = (angle(&geometry.views[1]) - angle(&geometry.views[0])).rem_euclid(2.0 * PI);
        let equal = step > 0.0
            && geometry.views.windows(2).all(|w| {
                let d = (angle(&w[1]) - angle(&w[0])).rem_euclid(2.0 * PI);
                (d - step).abs() < 0.01 * step
            });
        if !equal {
            return Err(Error::param(
                "geometry",
                "fan-beam FBP needs views at equal, increasing angular steps",
            ));
        }
        let span = step * n as f64;
        let full = (span - 2.0 * PI).abs() < 0.01 * step;
        let short_scan = if full {
            None
        } else {
            // A short scan covers 180° plus the full fan angle; Parker weights make every ray
            // count once.
            let fan = fan_angle(geometry);
            let needed = PI + 2.0 * fan;
            if span + step < needed - 1e-9 {
                return Err(Error::param(
                    "geometry",
                    format!(
                        "the views cover {:.1}°; FBP needs a full scan (360°) or a short scan of at least 180° + the fan \
                         angle ({:.1}°)",
                        span.to_degrees(),
                        needed.to_degrees()
                    ),
                ));
            }
            Some((angle(&geometry.views[0]), step, fan))
        };
        Ok(FanFbp {
            geometry: geometry.clone(),
            window: RampWindow::Ramp,
            cutoff: 1.0,
            short_scan,
        })
    }

    /// Filter window (default ramp).
    pub fn window(mut self, window: RampWindow) -> Self {
        self.window = window;
        self
    }

    /// Frequency cut-off as a fraction of Nyquist (default 1).
    pub fn cutoff(mut self, cutoff: f64) -> Self {
        self.cutoff = cutoff;
        self
    }

    /// Reconstructs a `views × cols` sinogram into a `size × size` image of `pixel_mm` pixels.
    pub fn reconstruct_cpu(&self, sinogram: ArrayView2<'_, f32>, size: usize, pixel_mm: f64) -> Result<Array2<f32>> {
        let g = &self.geometry;
        let (views, cols) = sinogram.dim();
        if (views, cols) != (g.views.len(), g.cols) {
            return Err(Error::InvalidShape(format!(
                "sinogram {views}×{cols} does not match the geometry's {} views × {} columns",
                g.views.len(),
                g.cols
            )));
        }
        if size == 0 || size > 1 << 15 || !(pixel_mm.is_finite() && pixel_mm > 0.0) {
            return Err(Error::param(
                "size",
                "give 1 to 32768 output pixels of a positive, finite size",
            ));
        }
        if sinogram.iter().any(|v| !v.is_finite()) {
            return Err(Error::param("sinogram", "the sinogram holds NaN or infinite values"));
        }
        let sid = {
            let s = g.views[0].source;
            (s[0] * s[0] + s[1] * s[1]).sqrt()
        };
        let du = {
            let u = g.views[0].u;
            (u[0] * u[0] + u[1] * u[1]).sqrt()
        };
        g.check_source_outside(pixel_mm * size as f64 / std::f64::consts::SQRT_2)?;
        // Spacing of the filtered samples: on the detector scaled to the isocentre (flat) or in
        // fan angle (arc).
        let spacing = match g.detector {
            Detector::Flat => du * sid / g.sdd,
            Detector::Arc => du / g.sdd,
        };
        let centre_col = (cols as f64 - 1.0) / 2.0 - g.offset_u;
        // Pre-weighting (and Parker weights for short scans, which replace the full scan's ½:
        // conjugate rays then sum to 1, so the result is doubled below).
        let mut weighted = sinogram.to_owned();
        for (view, mut row) in weighted.axis_iter_mut(Axis(0)).enumerate() {
            for (k, v) in row.iter_mut().enumerate() {
                let c = (k as f64 - centre_col) * spacing;
                let gamma = match g.detector {
                    Detector::Flat => (c / sid).atan(),
                    Detector::Arc => c,
                };
                let mut w = match g.detector {
                    Detector::Flat => sid / (sid * sid + c * c).sqrt(),
                    Detector::Arc => sid * c.cos(),
                };
                if let Some((_, step, delta)) = self.short_scan {
                    // γ is the fan angle along u (the opposite sign doubles the error: tested).
                    w *= 2.0 * parker(view as f64 * step, gamma, delta);
                }
                *v *= w as f32;
            }
        }
        let padded = padded_len(cols);
        let response = match g.detector {
            Detector::Flat => frequency_response(padded, self.window, self.cutoff)?,
            Detector::Arc => equiangular_response(padded, self.window, self.cutoff, spacing)?,
        };
        let filtered = filter_rows_with(weighted.view().insert_axis(Axis(1)), &response)?.index_axis_move(Axis(1), 0);
        // Q = filtered / (4 · spacing) (the discrete ramp's units and the fan formula's ½).
        let q_scale = 1.0 / (4.0 * spacing);
        let dbeta = match self.short_scan {
            Some((_, step, _)) => step,
            None => 2.0 * PI / views as f64,
        };
        let frames: Vec<([f64; 2], [f64; 2], [f64; 2])> = g
            .views
            .iter()
            .map(|v| {
                let central = [v.detector_centre[0] - v.source[0], v.detector_centre[1] - v.source[1]];
                let n = (central[0] * central[0] + central[1] * central[1]).sqrt();
                (
                    [v.source[0], v.source[1]],
                    [central[0] / n, central[1] / n],
                    [v.u[0] / du, v.u[1] / du],
                )
            })
            .collect();
        let half = (size as f64 - 1.0) / 2.0;
        let mut out = Array2::<f32>::zeros((size, size));
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(r, mut line)| {
                let y = (r as f64 - half) * pixel_mm;
                for (c, o) in line.iter_mut().enumerate() {
                    let x = (c as f64 - half) * pixel_mm;
                    let mut sum = 0.0f64;
                    for (view, (s, w, u)) in frames.iter().enumerate() {
                        let rel = [x - s[0], y - s[1]];
                        let along = rel[0] * w[0] + rel[1] * w[1];
                        let across = rel[0] * u[0] + rel[1] * u[1];
                        let (coord, weight) = match g.detector {
                            Detector::Flat => (across * sid / along, (sid / along).powi(2)),
                            Detector::Arc => (across.atan2(along), 1.0 / (along * along + across * across)),
                        };
                        let t = coord / spacing + centre_col;
                        if t < 0.0 || t > (cols - 1) as f64 {
                            continue;
                        }
                        let i = (t.floor() as usize).min(cols.saturating_sub(2));
                        let f = t - i as f64;
                        let a = f64::from(filtered[[view, i]]);
                        let b = if i + 1 < cols {
                            f64::from(filtered[[view, i + 1]])
                        } else {
                            a
                        };
                        sum += weight * (a + f * (b - a));
                    }
                    *o = (sum * q_scale * dbeta) as f32;
                }
            });
        Ok(out)
    }
}

//! How the views of a circular divergent scan cover the circle: full scan (360°) or short scan
//! (180° plus the fan angle, weighted with Parker's weights), and the angular weight of every
//! view — half the gap to each neighbour, so that unevenly spaced views integrate correctly
//! (as RTK's angular gap weighting).

use std::f64::consts::PI;

use crate::error::{Error, Result};
use crate::recon::geometry::{Detector, Geometry, View};

/// The scan's angular coverage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scan {
    /// Source angle of every view, radians, unwrapped so that it increases from the first (for
    /// a reversed scan: the angle turned from the first view, in the scan's direction).
    pub angles: Vec<f64>,
    /// Whether the source turns towards decreasing angles (as RTK or ASTRA scans do once
    /// converted to this frame); Parker's weights then see the fan mirrored.
    pub reversed: bool,
    /// Angular weight of every view (radians).
    pub delta_beta: Vec<f64>,
    /// Half fan angle of a short scan (`None` for full scans).
    pub short: Option<f64>,
}

/// Source angle of a view (θ of [`Geometry::cone`]).
fn source_angle(v: &View) -> f64 {
    (-v.source[0]).atan2(-v.source[1])
}

/// Half the fan angle the detector covers along u, radians (the wider side with an offset).
pub(crate) fn half_fan_angle(g: &Geometry) -> f64 {
    let du = (g.views[0].u[0].powi(2) + g.views[0].u[1].powi(2)).sqrt();
    let edge = (g.cols as f64 - 1.0) / 2.0 + 0.5 + g.offset_u.abs();
    match g.detector {
        Detector::Flat => (edge * du / g.sdd).atan(),
        Detector::Arc => edge * du / g.sdd,
    }
}

impl Scan {
    /// Analyses the views of a divergent geometry; errors name what to change.
    pub fn of(g: &Geometry) -> Result<Scan> {
        let n = g.views.len();
        if n < 2 {
            return Err(Error::param("geometry", "divergent-beam FBP needs at least two views"));
        }
        let mut angles = Vec::with_capacity(n);
        angles.push(source_angle(&g.views[0]));
        // The first step sets the direction; a scan may turn either way, but every view must
        // go on in that direction.
        let step = |w: &[View]| (source_angle(&w[1]) - source_angle(&w[0])).rem_euclid(2.0 * PI);
        let reversed = step(&g.views[..2]) > PI;
        for w in g.views.windows(2) {
            let gap = if reversed { 2.0 * PI - step(w) } else { step(w) };
            // A gap above 180° is a step backwards: the views are not in order.
            if gap <= 1e-12 || gap >= PI {
                return Err(Error::param(
                    "geometry",
                    "views must be at distinct angles, in increasing or decreasing order (sort them by angle)",
                ));
            }
            angles.push(angles.last().expect("non-empty") + gap);
        }
        let span = angles[n - 1] - angles[0];
        let gaps: Vec<f64> = angles.windows(2).map(|w| w[1] - w[0]).collect();
        let widest = gaps.iter().copied().fold(0.0, f64::max);
        // The gap that closes the circle, from the last view back to the first.
        let wrap = 2.0 * PI - span;
        if wrap < 0.5 * widest {
            return Err(Error::param(
                "geometry",
                format!(
                    "the views cover {:.1}°, a full turn or more; drop the views past 360° (overlapping views \
                     would count twice)",
                    (span + widest).to_degrees()
                ),
            ));
        }
        if wrap <= 1.5 * widest {
            // Full scan: the closing gap is no wider than the others.
            let delta_beta = (0..n)
                .map(|i| {
                    let before = if i == 0 { wrap } else { gaps[i - 1] };
                    let after = if i == n - 1 { wrap } else { gaps[i] };
                    0.5 * (before + after)
                })
                .collect();
            return Ok(Scan {
                angles,
                reversed,
                delta_beta,
                short: None,
            });
        }
        let coverage = span + gaps.iter().sum::<f64>() / gaps.len() as f64;
        let fan = half_fan_angle(g);
        let needed = PI + 2.0 * fan;
        if coverage < needed - 1e-9 {
            return Err(Error::param(
                "geometry",
                format!(
                    "the views cover {:.1}°; FBP needs a full scan (360°) or a short scan of at least 180° + the fan \
                     angle ({:.1}°)",
                    coverage.to_degrees(),
                    needed.to_degrees()
                ),
            ));
        }
        // Short scan: the end views have one neighbour; their weight is that single gap.
        let delta_beta = (0..n)
            .map(|i| match (i, i == n - 1) {
                (0, _) => gaps[0],
                (_, true) => gaps[n - 2],
                _ => 0.5 * (gaps[i - 1] + gaps[i]),
            })
            .collect();
        Ok(Scan {
            angles,
            reversed,
            delta_beta,
            short: Some(fan),
        })
    }

    /// The short-scan weight of the ray at fan angle `gamma` in view `view` (1 for full scans).
    /// Parker weights make conjugate rays sum to 1, where a full scan counts every ray twice;
    /// the factor 2 keeps both on the full scan's scale.
    pub fn weight(&self, view: usize, gamma: f64) -> f64 {
        match self.short {
            None => 1.0,
            Some(delta) => {
                let gamma = if self.reversed { -gamma } else { gamma };
                2.0 * parker(self.angles[view] - self.angles[0], gamma, delta)
            }
        }
    }
}

/// Parker's weight (Med. Phys. 9(2), 1982) of the ray at fan angle `gamma` in the view `beta`
/// radians after the first of a short scan with half fan angle `delta`.
pub(crate) fn parker(beta: f64, gamma: f64, delta: f64) -> f64 {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fan(angles: &[f64]) -> Geometry {
        Geometry::fan(angles, 500.0, 1000.0, 201, 1.0, Detector::Flat, 0.0).unwrap()
    }

    #[test]
    fn full_scans_weigh_views_by_their_gaps() {
        let even: Vec<f64> = (0..36).map(|i| i as f64 * 10.0 + 5.0).collect();
        let s = Scan::of(&fan(&even)).unwrap();
        assert!(s.short.is_none());
        assert!(s.delta_beta.iter().all(|d| (d - 10f64.to_radians()).abs() < 1e-12));
        // Uneven spacing: the weights still sum to the full turn.
        let uneven: Vec<f64> = (0..36)
            .map(|i| i as f64 * 10.0 + if i % 2 == 0 { 3.0 } else { -3.0 })
            .collect();
        let s = Scan::of(&fan(&uneven)).unwrap();
        let total: f64 = s.delta_beta.iter().sum();
        assert!((total - 2.0 * PI).abs() < 1e-9, "{total}");
        assert!((s.delta_beta[1] - s.delta_beta[2]).abs() < 1e-12);
    }

    #[test]
    fn short_scans_get_parker_weights_that_sum_conjugate_rays_to_one() {
        let g = fan(&(0..=220).map(|i| i as f64).collect::<Vec<_>>());
        let s = Scan::of(&g).unwrap();
        let delta = s.short.expect("short scan");
        // Ray (β, γ) and its conjugate (β + π + 2γ, −γ) share the weight.
        for (beta, gamma) in [(0.3, 0.05), (1.0, -0.1), (0.05, 0.0), (2.5, 0.12)] {
            let sum = parker(beta, gamma, delta) + parker(beta + PI + 2.0 * gamma, -gamma, delta);
            assert!((sum - 1.0).abs() < 1e-12, "{beta} {gamma}: {sum}");
        }
    }

    #[test]
    fn scans_that_are_too_short_too_long_or_unsorted_are_errors() {
        let msg = |angles: &[f64]| format!("{}", Scan::of(&fan(angles)).unwrap_err());
        assert!(msg(&(0..150).map(f64::from).collect::<Vec<_>>()).contains("short scan of at least"));
        assert!(msg(&(0..400).map(f64::from).collect::<Vec<_>>()).contains("a full turn or more"));
        assert!(msg(&[0.0, 10.0, 5.0]).contains("increasing"));
        assert!(msg(&[0.0]).contains("two views"));
    }
}

//! Water beam-hardening correction: a polychromatic beam hardens through matter, so measured
//! line integrals grow slower than the path length and reconstructions of water show cupping.
//! The correction maps each measured line integral `p` to `Σ_{k=1..d} c_k p^k` (no constant
//! term: zero stays zero), the polynomial fitted by least squares to a water calibration —
//! measured line integrals of known water thicknesses against the ideal `μ_water · L`
//! (G. T. Herman, "Correction for beam hardening in computed tomography", Phys. Med. Biol.
//! 24(1), 1979; the linearisation clinical scanners apply before reconstruction).

use crate::error::{Error, Result};

/// Polynomial water linearisation `p ↦ Σ_{k=1..d} c_k p^k`.
#[derive(Debug, Clone, PartialEq)]
pub struct WaterCorrection {
    coefficients: Vec<f64>,
}

/// The largest degree [`WaterCorrection::fit`] takes (higher ones only fit the calibration's
/// noise).
pub const MAX_DEGREE: usize = 8;

impl WaterCorrection {
    /// A correction with coefficients `c₁ … c_d` (of `p`, `p²`, …).
    pub fn from_coefficients(coefficients: &[f64]) -> Result<Self> {
        if coefficients.is_empty() || coefficients.len() > MAX_DEGREE {
            return Err(Error::param(
                "coefficients",
                format!("give 1 to {MAX_DEGREE} coefficients (c1 for p, c2 for p², …)"),
            ));
        }
        if coefficients.iter().any(|c| !c.is_finite()) {
            return Err(Error::param("coefficients", "the coefficients must be finite"));
        }
        Ok(WaterCorrection {
            coefficients: coefficients.to_vec(),
        })
    }

    /// Fits the degree-`degree` polynomial (no constant term) that maps `measured` line
    /// integrals of a water calibration to `ideal` ones (`μ_water` at the effective energy
    /// chosen, times the path length), by least squares.
    pub fn fit(measured: &[f64], ideal: &[f64], degree: usize) -> Result<Self> {
        if !(1..=MAX_DEGREE).contains(&degree) {
            return Err(Error::param(
                "degree",
                format!("degree {degree}: give 1 to {MAX_DEGREE}"),
            ));
        }
        if measured.len() != ideal.len() {
            return Err(Error::InvalidShape(format!(
                "{} measured line integrals and {} ideal ones: give one of each per calibration thickness",
                measured.len(),
                ideal.len()
            )));
        }
        if measured.iter().chain(ideal).any(|v| !v.is_finite()) {
            return Err(Error::param(
                "calibration",
                "the calibration holds NaN or infinite values",
            ));
        }
        let distinct = {
            let mut m: Vec<f64> = measured.iter().copied().filter(|&v| v != 0.0).collect();
            m.sort_by(f64::total_cmp);
            m.dedup();
            m.len()
        };
        if distinct < degree {
            return Err(Error::param(
                "calibration",
                format!(
                    "{distinct} distinct non-zero calibration points cannot fix a degree-{degree} polynomial; measure more \
                     thicknesses or lower the degree"
                ),
            ));
        }
        // Normal equations over the columns p, p², …, scaled by the largest |p| so that the
        // Gram matrix stays well conditioned.
        let scale = measured.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut gram = vec![vec![0.0f64; degree]; degree];
        let mut rhs = vec![0.0f64; degree];
        for (&p, &y) in measured.iter().zip(ideal) {
            let x = p / scale;
            let powers: Vec<f64> = (1..=degree as i32).map(|k| x.powi(k)).collect();
            for i in 0..degree {
                rhs[i] += powers[i] * y;
                for j in 0..degree {
                    gram[i][j] += powers[i] * powers[j];
                }
            }
        }
        let solution = solve(gram, rhs).ok_or_else(|| {
            Error::param(
                "calibration",
                "the calibration points do not determine the polynomial (lower the degree)",
            )
        })?;
        let coefficients: Vec<f64> = solution
            .iter()
            .enumerate()
            .map(|(k, c)| c / scale.powi(k as i32 + 1))
            .collect();
        Self::from_coefficients(&coefficients)
    }

    /// `c₁ … c_d`.
    pub fn coefficients(&self) -> &[f64] {
        &self.coefficients
    }

    /// The corrected line integral of a measured one.
    pub fn correct(&self, p: f64) -> f64 {
        p * self.coefficients.iter().rev().fold(0.0, |acc, &c| acc * p + c)
    }
}

/// Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (top, rest) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (offset, row) in rest.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[col + 1 + offset] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_polynomial_is_recovered_from_its_samples() {
        let truth = [1.1, -0.05, 0.003];
        let measured: Vec<f64> = (0..40).map(|k| k as f64 * 0.2).collect();
        let ideal: Vec<f64> = measured
            .iter()
            .map(|&p| truth.iter().enumerate().map(|(k, c)| c * p.powi(k as i32 + 1)).sum())
            .collect();
        let fit = WaterCorrection::fit(&measured, &ideal, 3).unwrap();
        for (a, b) in fit.coefficients().iter().zip(truth) {
            assert!((a - b).abs() < 1e-9, "{:?}", fit.coefficients());
        }
        assert!((fit.correct(2.0) - (2.2 - 0.2 + 0.024)).abs() < 1e-9);
        assert!(WaterCorrection::fit(&measured[..2], &ideal[..2], 3).is_err());
        assert!(WaterCorrection::fit(&measured, &ideal[1..], 2).is_err());
        assert!(WaterCorrection::fit(&measured, &ideal, 0).is_err());
        assert!(WaterCorrection::from_coefficients(&[f64::NAN]).is_err());
    }
}

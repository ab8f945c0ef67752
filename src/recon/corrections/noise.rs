//! Simulated acquisition noise for dose studies: each detector pixel of an ideal line integral
//! `p` counts `N ~ Poisson(I₀ e^{−p})` photons plus Gaussian electronic noise of standard
//! deviation `σₑ` counts; the noisy line integral is `−ln(max(N, floor) / I₀)` (the floor, 1
//! count by default, stands for the scanner's handling of starved pixels). Every pixel draws
//! from its own counter-based stream (SplitMix64 of the seed and the pixel's index), so the
//! result does not depend on the thread count and repeats for a seed. Poisson sampling:
//! multiplication of uniforms below a mean of 10 (Knuth, TAOCP vol. 2, §3.4.1), above it the
//! transformed rejection method PTRS (W. Hörmann, "The transformed rejection method for
//! generating Poisson random variables", Insurance: Mathematics and Economics 12, 1993).

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Poisson counts plus electronic noise for a given unattenuated flux.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseModel {
    photons: f64,
    electronic: f64,
    floor: f64,
    seed: u64,
}

/// One pixel's random stream: SplitMix64 (Steele, Lea & Flood, OOPSLA 2014).
struct Stream(u64);

impl Stream {
    fn of(seed: u64, index: u64) -> Self {
        let mut s = Stream(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        s.next_u64();
        s
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1), never 0 or 1.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    fn poisson(&mut self, mean: f64) -> f64 {
        // Zero, negative or NaN means (NaN inputs are refused before).
        if mean.is_nan() || mean <= 0.0 {
            return 0.0;
        }
        if mean < 10.0 {
            let limit = (-mean).exp();
            let (mut k, mut p) = (0.0, self.uniform());
            while p > limit {
                k += 1.0;
                p *= self.uniform();
            }
            return k;
        }
        // PTRS, Hörmann (1993), with his constants.
        let (log_mean, sqrt_mean) = (mean.ln(), mean.sqrt());
        let b = 0.931 + 2.53 * sqrt_mean;
        let a = -0.059 + 0.02483 * b;
        let inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
        let v_r = 0.9277 - 3.6224 / (b - 2.0);
        loop {
            let u = self.uniform() - 0.5;
            let v = self.uniform();
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + mean + 0.43).floor();
            if us >= 0.07 && v <= v_r {
                return k;
            }
            if k < 0.0 || (us < 0.013 && v > us) {
                continue;
            }
            if v.ln() + inv_alpha.ln() - (a / (us * us) + b).ln() <= -mean + k * log_mean - ln_gamma(k + 1.0) {
                return k;
            }
        }
    }
}

/// `ln Γ(x)` for `x ≥ 1`: Stirling's series from 10 up, the recurrence below (error < 1e-12).
fn ln_gamma(x: f64) -> f64 {
    let mut shift = 0.0;
    let mut x = x;
    while x < 10.0 {
        shift -= x.ln();
        x += 1.0;
    }
    let (x2, ln_2pi) = (x * x, (2.0 * std::f64::consts::PI).ln());
    shift + (x - 0.5) * x.ln() - x + 0.5 * ln_2pi + 1.0 / (12.0 * x) - 1.0 / (360.0 * x * x2)
        + 1.0 / (1260.0 * x * x2 * x2)
        - 1.0 / (1680.0 * x * x2 * x2 * x2)
}

impl NoiseModel {
    /// `photons` per detector pixel in the unattenuated beam (the flat field), no electronic
    /// noise, a floor of 1 count, seed 0.
    pub fn new(photons: f64) -> Result<Self> {
        if !(photons.is_finite() && photons > 0.0) {
            return Err(Error::param(
                "photons",
                format!("{photons} photons per pixel: give a positive finite flux (e.g. 1e5)"),
            ));
        }
        Ok(NoiseModel {
            photons,
            electronic: 0.0,
            floor: 1.0,
            seed: 0,
        })
    }

    /// Gaussian electronic noise of standard deviation `sigma` counts.
    pub fn electronic(mut self, sigma: f64) -> Result<Self> {
        if !(sigma.is_finite() && sigma >= 0.0) {
            return Err(Error::param(
                "electronic",
                format!("σ = {sigma} counts must be ≥ 0 and finite"),
            ));
        }
        self.electronic = sigma;
        Ok(self)
    }

    /// Counts below `floor` (zero or negative after electronic noise) are raised to it before
    /// the logarithm.
    pub fn floor(mut self, counts: f64) -> Result<Self> {
        if !(counts.is_finite() && counts > 0.0) {
            return Err(Error::param(
                "floor",
                format!("the floor of {counts} counts must be positive"),
            ));
        }
        self.floor = counts;
        Ok(self)
    }

    /// The seed of the pixels' streams.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn check(line_integrals: ArrayView3<'_, f32>) -> Result<()> {
        crate::volume::check_shape(line_integrals.shape())?;
        if line_integrals.iter().any(|v| v.is_nan()) {
            return Err(Error::param("projections", "the line integrals hold NaN"));
        }
        Ok(())
    }

    fn map(&self, line_integrals: ArrayView3<'_, f32>, f: impl Fn(f64) -> f32 + Sync) -> Array3<f32> {
        let input = line_integrals.as_standard_layout();
        let input = input.as_slice().expect("standard layout");
        let mut out = vec![0.0f32; input.len()];
        out.par_iter_mut().zip(input).enumerate().for_each(|(i, (o, &p))| {
            let mut stream = Stream::of(self.seed, i as u64);
            let mut counts = stream.poisson(self.photons * (-f64::from(p)).exp());
            if self.electronic > 0.0 {
                counts += self.electronic * stream.normal();
            }
            *o = f(counts);
        });
        Array3::from_shape_vec(line_integrals.raw_dim(), out).expect("shape matches length")
    }

    /// Noisy photon counts for ideal line integrals (`views × rows × cols`, per mm × mm).
    pub fn counts_cpu(&self, line_integrals: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        Self::check(line_integrals)?;
        Ok(self.map(line_integrals, |c| c as f32))
    }

    /// Noisy line integrals, `−ln(max(N, floor) / I₀)`.
    pub fn apply_cpu(&self, line_integrals: ArrayView3<'_, f32>) -> Result<Array3<f32>> {
        Self::check(line_integrals)?;
        let (i0, floor) = (self.photons, self.floor);
        Ok(self.map(line_integrals, |c| (i0 / c.max(floor)).ln() as f32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut factorial = 1.0f64;
        for k in 1..30 {
            factorial *= k as f64;
            let want = factorial.ln();
            assert!((ln_gamma(k as f64 + 1.0) - want).abs() < 1e-10 * want.max(1.0), "{k}");
        }
    }

    /// Mean and variance of many draws agree with Poisson's (both λ) on both samplers.
    #[test]
    fn poisson_draws_have_poisson_moments() {
        for mean in [0.3, 4.0, 9.9, 10.0, 37.0, 1000.0, 2.5e5] {
            let n = 100_000;
            let draws: Vec<f64> = (0..n).map(|i| Stream::of(7, i).poisson(mean)).collect();
            let m = draws.iter().sum::<f64>() / n as f64;
            let var = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (n - 1) as f64;
            // 5 standard errors of the mean; the variance within 3 %.
            assert!(
                (m - mean).abs() < 5.0 * (mean / n as f64).sqrt(),
                "λ = {mean}: mean {m}"
            );
            assert!((var / mean - 1.0).abs() < 0.03, "λ = {mean}: variance {var}");
            assert!(draws.iter().all(|d| *d >= 0.0 && d.fract() == 0.0));
        }
    }
}

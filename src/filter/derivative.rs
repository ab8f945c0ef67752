//! Derivative filters, all separable ([`super::correlate1d`]) with scipy's names and semantics:
//!
//! * [`Sobel`] / [`Prewitt`]: `scipy.ndimage.sobel` / `prewitt` along one axis (`[-1 0 1]` along
//!   it, `[1 2 1]` / `[1 1 1]` along every other axis, in axis order), or the magnitude
//!   `sqrt(Σ_axis d²)`;
//! * [`Laplace`]: `scipy.ndimage.laplace`, `Σ_axis [1 -2 1]`;
//! * [`GaussianGradientMagnitude`] / [`GaussianLaplace`]: `scipy.ndimage.gaussian_gradient_magnitude`
//!   / `gaussian_laplace` (Gaussian derivative kernels of `scipy.ndimage._gaussian_kernel1d`);
//! * [`GradientMagnitude`]: central differences divided by the spacing (mm), as ITK's
//!   `GradientMagnitudeImageFilter` with spacing, boundary `Nearest` by default (ITK's
//!   zero-flux Neumann condition).

use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};
use crate::filter::correlate1d::{Combine, Pass, Separable, check_mode, volume_axis};
use crate::filter::gaussian::{Gaussian, MAX_RADIUS};
use crate::filter::{check_ndim, per_axis};
use crate::volume::Grid;

/// Volume axes of an `ndim`-D array (`[1, 2]` for images).
fn axes(ndim: usize) -> std::ops::Range<usize> {
    3 - ndim..3
}

/// The derivative along `axis` with `smooth` along every other axis (Sobel, Prewitt).
fn gradient_term(axis: usize, ndim: usize, smooth: &[f32]) -> Vec<Pass> {
    let mut passes = vec![Pass::centred(axis, vec![-1.0, 0.0, 1.0])];
    passes.extend(
        axes(ndim)
            .filter(|&a| a != axis)
            .map(|a| Pass::centred(a, smooth.to_vec())),
    );
    passes
}

fn gradient_plan(axis: Option<usize>, ndim: usize, smooth: &[f32], mode: BoundaryMode) -> Result<Separable> {
    check_ndim(ndim)?;
    check_mode(mode)?;
    Ok(match axis {
        Some(a) => Separable::chain(gradient_term(volume_axis(a, ndim)?, ndim, smooth), mode),
        None => Separable {
            terms: axes(ndim).map(|a| gradient_term(a, ndim, smooth)).collect(),
            combine: Combine::RootSumOfSquares,
            mode,
        },
    })
}

/// Sobel filter along one axis, or the gradient magnitude over all axes.
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::Sobel;
/// let ramp = ndarray::Array2::from_shape_fn((5, 6), |(_, x)| x as f32);
/// let d = Sobel::axis(1).apply(&Backend::Cpu, ramp.view())?;
/// assert_eq!(d[[2, 2]], 8.0); // [-1 0 1] gives 2, [1 2 1] multiplies by 4
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sobel {
    axis: Option<usize>,
    mode: BoundaryMode,
}

impl Sobel {
    /// `scipy.ndimage.sobel(input, axis)` (axis of the array as given).
    pub fn axis(axis: usize) -> Self {
        Sobel {
            axis: Some(axis),
            mode: BoundaryMode::default(),
        }
    }

    /// `sqrt(Σ_axis sobel(input, axis)²)`.
    pub fn magnitude() -> Self {
        Sobel {
            axis: None,
            mode: BoundaryMode::default(),
        }
    }

    /// Boundary mode (default `Reflect`).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self, ndim: usize) -> Result<Separable> {
        gradient_plan(self.axis, ndim, &[1.0, 2.0, 1.0], self.mode)
    }
}
separable_filter!(Sobel, "sobel");

/// Prewitt filter along one axis, or its magnitude (`scipy.ndimage.prewitt`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prewitt {
    axis: Option<usize>,
    mode: BoundaryMode,
}

impl Prewitt {
    /// `scipy.ndimage.prewitt(input, axis)`.
    pub fn axis(axis: usize) -> Self {
        Prewitt {
            axis: Some(axis),
            mode: BoundaryMode::default(),
        }
    }

    /// `sqrt(Σ_axis prewitt(input, axis)²)`.
    pub fn magnitude() -> Self {
        Prewitt {
            axis: None,
            mode: BoundaryMode::default(),
        }
    }

    /// Boundary mode (default `Reflect`).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self, ndim: usize) -> Result<Separable> {
        gradient_plan(self.axis, ndim, &[1.0, 1.0, 1.0], self.mode)
    }
}
separable_filter!(Prewitt, "prewitt");

/// `scipy.ndimage.laplace`: the sum over axes of the second difference `[1 -2 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Laplace {
    mode: BoundaryMode,
}

impl Laplace {
    /// With the default `Reflect` mode.
    pub fn new() -> Self {
        Laplace::default()
    }

    /// Boundary mode.
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self, ndim: usize) -> Result<Separable> {
        check_ndim(ndim)?;
        check_mode(self.mode)?;
        Ok(Separable {
            terms: axes(ndim)
                .map(|a| vec![Pass::centred(a, vec![1.0, -2.0, 1.0])])
                .collect(),
            combine: Combine::Sum,
            mode: self.mode,
        })
    }
}
separable_filter!(Laplace, "laplace");

/// scipy's `_gaussian_kernel1d(sigma, order, radius)`: the sampled, normalised Gaussian times the
/// polynomial of its `order`-th derivative (`q' = D q + P q` with `D` the derivative and `P`
/// multiplication by `-x/σ²`), as convolution weights for `x = -radius..=radius`.
pub fn gaussian_kernel_1d(sigma: f64, order: usize, radius: usize) -> Vec<f64> {
    let phi = Gaussian::kernel_1d(sigma, radius);
    if order == 0 {
        return phi;
    }
    let s2 = sigma * sigma;
    // q holds polynomial coefficients, q[i] · x^i.
    let mut q = vec![0.0f64; order + 1];
    q[0] = 1.0;
    for _ in 0..order {
        let mut next = vec![0.0f64; order + 1];
        for i in 0..=order {
            if i < order {
                next[i] += (i + 1) as f64 * q[i + 1]; // derivative of x^(i+1)
            }
            if i >= 1 {
                next[i] -= q[i - 1] / s2; // times -x/σ²
            }
        }
        q = next;
    }
    let r = radius as isize;
    (-r..=r)
        .zip(phi)
        .map(|(x, p)| {
            let x = x as f64;
            q.iter().rev().fold(0.0, |acc, c| acc * x + c) * p
        })
        .collect()
}

/// Gaussian derivative passes: `order[a]` along each axis, sigma per axis, as
/// `scipy.ndimage.gaussian_filter(input, sigma, order)` (axes with sigma 0 are skipped).
fn gaussian_passes(sigma: &[f64; 3], order: [usize; 3], truncate: f64, ndim: usize) -> Result<Vec<Pass>> {
    let mut passes = Vec::new();
    for a in axes(ndim) {
        let s = sigma[a];
        if s <= 1e-15 {
            continue;
        }
        let radius = Gaussian::radius(s, truncate);
        if radius > MAX_RADIUS {
            return Err(Error::param(
                "sigma",
                format!("sigma {s} gives a radius above {MAX_RADIUS}"),
            ));
        }
        // scipy correlates with the kernel reversed.
        let weights = gaussian_kernel_1d(s, order[a], radius)
            .iter()
            .rev()
            .map(|&w| w as f32)
            .collect();
        passes.push(Pass {
            axis: a,
            weights,
            left: radius,
        });
    }
    Ok(passes)
}

fn check_sigma(sigma: &[f64], truncate: f64, ndim: usize) -> Result<[f64; 3]> {
    let sigma = per_axis("sigma", sigma, ndim, 0.0)?;
    if let Some(bad) = sigma.iter().find(|s| !(s.is_finite() && **s >= 0.0)) {
        return Err(Error::param("sigma", format!("sigma {bad} must be finite and >= 0")));
    }
    if !(truncate.is_finite() && truncate > 0.0) {
        return Err(Error::param(
            "truncate",
            format!("{truncate} must be positive and finite"),
        ));
    }
    Ok(sigma)
}

/// A sum over axes of Gaussian-derivative terms, each of derivative order `$order` along its
/// axis: the Gaussian gradient magnitude and Laplacian differ only in the order and in how the
/// terms combine.
macro_rules! gaussian_derivative_filter {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $order:literal, $combine:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $ty {
            sigma: Vec<f64>,
            truncate: f64,
            mode: BoundaryMode,
        }

        impl $ty {
            /// sigma in voxels, one value or one per axis.
            pub fn new(sigma: &[f64]) -> Self {
                $ty {
                    sigma: sigma.to_vec(),
                    truncate: 4.0,
                    mode: BoundaryMode::default(),
                }
            }

            /// Truncate the kernels at this many standard deviations (default 4).
            pub fn truncate(mut self, truncate: f64) -> Self {
                self.truncate = truncate;
                self
            }

            /// Boundary mode (default `Reflect`).
            pub fn mode(mut self, mode: BoundaryMode) -> Self {
                self.mode = mode;
                self
            }

            fn plan(&self, ndim: usize) -> Result<Separable> {
                check_ndim(ndim)?;
                check_mode(self.mode)?;
                let sigma = check_sigma(&self.sigma, self.truncate, ndim)?;
                let terms = axes(ndim)
                    .map(|a| {
                        let mut order = [0; 3];
                        order[a] = $order;
                        gaussian_passes(&sigma, order, self.truncate, ndim)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(Separable {
                    terms,
                    combine: $combine,
                    mode: self.mode,
                })
            }
        }
        separable_filter!($ty, $name, cpu_staged);
    };
}

gaussian_derivative_filter!(
    /// `scipy.ndimage.gaussian_gradient_magnitude(input, sigma)`.
    GaussianGradientMagnitude,
    "gaussian_gradient_magnitude",
    1,
    Combine::RootSumOfSquares
);

gaussian_derivative_filter!(
    /// `scipy.ndimage.gaussian_laplace(input, sigma)`: the Laplacian of Gaussian.
    GaussianLaplace,
    "gaussian_laplace",
    2,
    Combine::Sum
);

/// Gradient magnitude with central differences in physical units: `sqrt(Σ_axis ((f[i+1] -
/// f[i-1]) / (2 spacing))²)`, as ITK's `GradientMagnitudeImageFilter` with image spacing.
#[derive(Debug, Clone, PartialEq)]
pub struct GradientMagnitude {
    spacing: Vec<f64>,
    mode: BoundaryMode,
}

impl Default for GradientMagnitude {
    fn default() -> Self {
        GradientMagnitude {
            spacing: vec![1.0],
            mode: BoundaryMode::Nearest,
        }
    }
}

impl GradientMagnitude {
    /// Unit spacing, `Nearest` boundary.
    pub fn new() -> Self {
        GradientMagnitude::default()
    }

    /// Voxel spacing in mm: one value or one per axis of the array.
    pub fn spacing(mut self, spacing: &[f64]) -> Self {
        self.spacing = spacing.to_vec();
        self
    }

    /// The spacing of a volume's grid.
    pub fn for_grid(grid: &Grid) -> Self {
        GradientMagnitude::new().spacing(&grid.spacing)
    }

    /// Boundary mode (default `Nearest`, ITK's zero-flux Neumann condition).
    pub fn mode(mut self, mode: BoundaryMode) -> Self {
        self.mode = mode;
        self
    }

    fn plan(&self, ndim: usize) -> Result<Separable> {
        check_ndim(ndim)?;
        check_mode(self.mode)?;
        let spacing = per_axis("spacing", &self.spacing, ndim, 1.0)?;
        if let Some(bad) = spacing.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(Error::param(
                "spacing",
                format!("spacing {bad} must be positive and finite"),
            ));
        }
        Ok(Separable {
            terms: axes(ndim)
                .map(|a| {
                    let h = (0.5 / spacing[a]) as f32;
                    vec![Pass::centred(a, vec![-h, 0.0, h])]
                })
                .collect(),
            combine: Combine::RootSumOfSquares,
            mode: self.mode,
        })
    }
}
separable_filter!(GradientMagnitude, "gradient_magnitude");

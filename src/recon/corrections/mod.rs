//! Projection-domain corrections: what raw scanner data need before a reconstruction, and the
//! noise model dose studies add to ideal projections.
//!
//! * [`Transmission`]: flat/dark normalisation, cut-off and −log with tomopy's `normalize` /
//!   `minus_log` semantics (plus an optional floor for zero counts), and a water beam-hardening
//!   linearisation ([`WaterCorrection`]), fused in one pass on the CPU or the GPU;
//! * [`WaterCorrection`]: the polynomial that maps polychromatic water line integrals to the
//!   monochromatic ones, fitted from a water calibration;
//! * [`StripeRemoval`]: ring-artefact removal in the sinogram by sorting (Vo, Atwood & Drakopoulos
//!   2018, algorithm 3);
//! * [`NoiseModel`]: Poisson counts plus Gaussian electronic noise for a given flux.

mod noise;
mod stripes;
mod transmission;
mod water;

pub use noise::NoiseModel;
pub use stripes::StripeRemoval;
pub use transmission::Transmission;
pub use water::WaterCorrection;

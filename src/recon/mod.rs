//! CT reconstruction (issue 6, in progress): so far the analytic phantoms and their exact line
//! integrals, which the projectors, FBP and FDK will be tested against.

pub mod phantom;

pub use phantom::{Ellipsoid, Phantom, SheppLogan};

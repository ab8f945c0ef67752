//! CT reconstruction (issue 6, in progress): so far the acquisition geometries in per-view
//! vector form and the analytic phantoms with their exact projections, which the projectors,
//! FBP and FDK will be tested against.

pub mod geometry;
pub mod phantom;

pub use geometry::{Beam, Detector, Geometry, View};
pub use phantom::{Ellipsoid, Phantom, SheppLogan};

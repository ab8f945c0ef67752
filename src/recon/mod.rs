//! CT reconstruction (issue 6, in progress): the acquisition geometries in per-view vector form,
//! the analytic phantoms with their exact projections, ramp filtering and 2D parallel FBP on the
//! CPU. The projector pair, GPU paths, fan-beam FBP and FDK come next.

pub mod fbp;
pub mod geometry;
pub mod phantom;
pub mod ramp;

pub use fbp::Fbp2d;
pub use geometry::{Beam, Detector, Geometry, View};
pub use phantom::{Ellipsoid, Phantom, SheppLogan};
pub use ramp::RampWindow;

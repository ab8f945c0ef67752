//! CT reconstruction (issue 6, in progress): the acquisition geometries in per-view vector form,
//! the analytic phantoms with their exact projections, the Joseph projector pair, ramp
//! filtering and 2D parallel FBP, on the CPU. GPU paths, fan-beam FBP and FDK come next.

pub mod backproject;
pub mod fan;
pub mod fbp;
pub mod fdk;
pub mod geometry;
pub mod joseph;
pub(crate) mod parker;
pub mod phantom;
pub mod ramp;

pub use backproject::{Backprojector, DetectorMap, ViewMatrix};
pub use fan::FanFbp;
pub use fbp::Fbp2d;
pub use fdk::{Fdk, centred_grid};
pub use geometry::{Beam, Detector, Geometry, View};
pub use joseph::Joseph;
pub use phantom::{Ellipsoid, Phantom, SheppLogan};
pub use ramp::RampWindow;

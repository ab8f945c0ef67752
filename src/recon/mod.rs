//! CT reconstruction, on the GPU and the CPU: acquisition geometries in per-view vector form and
//! their projection matrices ([`geometry`]), analytic phantoms with exact projections
//! ([`phantom`]), projector pairs behind one trait ([`projector`]: [`joseph`],
//! [`voxel_driven`], [`footprint`]), the voxel-driven back-projector ([`backproject`]), ramp filtering with a
//! WGSL FFT ([`ramp`]), and the algorithms: 2D/stacked parallel FBP ([`Fbp2d`]), fan-beam FBP
//! ([`FanFbp`]) and cone-beam FDK ([`Fdk`]), all three configuring one chain of stages
//! (weighting → ramp → back-projection); iterative methods ([`iterative`]: SIRT, OS-SART, CGLS,
//! MLEM/OSEM, FISTA-TV), written once against a CPU/GPU vector space and any [`Projector`];
//! projection-domain corrections and noise ([`corrections`]).
//! Conventions: see [`geometry`] and the README.

pub mod backproject;
pub mod corrections;
pub mod fan;
pub mod fbp;
pub mod fdk;
pub mod footprint;
pub mod geometry;
pub mod helical;
pub(crate) mod interpolate;
pub mod iterative;
pub mod joseph;
pub(crate) mod parker;
pub mod phantom;
pub mod projector;
pub mod ramp;
pub(crate) mod stages;
pub mod voxel_driven;

pub use backproject::Backprojector;
pub use corrections::{NoiseModel, StripeRemoval, Transmission, WaterCorrection};
pub use fan::FanFbp;
pub use fbp::Fbp2d;
pub use fdk::{Fdk, centred_grid};
pub use footprint::SeparableFootprint;
pub use geometry::{ArcDetector, Beam, Detector, DetectorMap, Geometry, View, ViewMatrix};
pub use helical::HelicalFdk;
pub use iterative::Iterative;
pub use joseph::Joseph;
pub use phantom::{Ellipsoid, Phantom, SheppLogan};
pub use projector::{Projector, ProjectorKind};
pub use ramp::RampWindow;
pub use voxel_driven::VoxelDriven;

//! # hounsfield
//!
//! GPU-accelerated imaging kernels for medical imaging. Every kernel runs on the GPU through
//! WGSL compute shaders dispatched by `wgpu` (Vulkan, Metal, DX12, GL — any vendor) and on the
//! CPU through a multithreaded Rust twin that is also the reference the GPU path is tested
//! against. Conventions follow `scipy.ndimage`: arrays are `(z, y, x)`, sigma in voxels,
//! boundary modes `reflect` (default), `mirror`, `nearest`, `constant`, `wrap`.
//!
//! ```
//! use hounsfield::prelude::*;
//! let volume = Volume::from_array(ndarray::Array3::<f32>::zeros((8, 16, 16)))?;
//! // GPU when an adapter exists, else CPU; HOUNSFIELD_BACKEND=cpu|gpu forces one.
//! let backend = Backend::auto()?;
//! let smoothed = Gaussian::new(&[1.5]).apply_volume(&backend, &volume)?;
//! assert_eq!(smoothed.shape(), [8, 16, 16]);
//! # Ok::<(), hounsfield::Error>(())
//! ```

pub mod backend;
pub mod boundary;
pub mod error;
pub mod filter;
pub mod gpu;
pub mod io;
#[cfg(test)]
mod kernels;
mod memory;
pub mod ndimage;
pub mod recon;
pub mod registry;
pub mod rng;
pub mod segment;
pub mod stats;
mod vec3;
pub mod volume;

/// The names most programs need: `use hounsfield::prelude::*;`.
pub mod prelude {
    pub use crate::backend::{Backend, Selection};
    pub use crate::boundary::BoundaryMode;
    pub use crate::error::{Error, Result};
    pub use crate::filter::{
        Clip, Filter, Gaussian, Median, Pipeline, Rescale, Threshold, VoiFunction, WindowLevel, WindowPreset,
    };
    pub use crate::volume::{Grid, Volume};
}

pub use backend::{Backend, Selection};
pub use boundary::BoundaryMode;
pub use error::{Error, Result};
pub use volume::{Grid, Volume};

/// The README's code blocks, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

//! The GPU runtime: the only module that talks to `wgpu`.
//!
//! * [`GpuContext`] — adapter choice, device with negotiated limits, error plumbing;
//! * [`KernelSpec`] + the pipeline cache — each shader compiled once per device;
//! * [`GpuVolume`] — resident volumes, explicit upload/download, so kernels chain on the GPU;
//! * [`Recorder`] — many dispatches per submission, timestamp-query kernel timing;
//! * [`for_each_slab`] — z-slab tiling with halos for volumes above the binding limit;
//!   [`for_each_window`] — binding-sized windows for kernels that only read (reductions);
//!   [`for_each_mapped_slab`] — slabs of outputs shaped unlike their input (resampling,
//!   projections), each with the input slices it reads;
//! * [`reduce`] — two-stage reductions (min/max/mean/M2, histograms) with a small read-back.
//!
//! A kernel is a [`KernelSpec`] (its WGSL plus shared pieces) and a short function that records
//! its dispatches through [`for_each_slab`] and [`Recorder::dispatch_linear`].
//!
//! # Adding a kernel
//!
//! 1. `shaders/<family>/<name>.wgsl`: declare `@group(0) @binding(0) var<uniform> tile: Tile;`,
//!    your parameter uniform at binding 1, then your storage buffers; one invocation per output
//!    voxel of the slab (`linear_invocation`, guard against `tile.out_nz * ny * nx`); read inputs
//!    through `tile_in_index` and extend borders with `map_index` (`common/*.wgsl`).
//! 2. `src/<family>/<name>.rs`: a `static KERNEL: KernelSpec` listing `wgsl::BOUNDARY`,
//!    `wgsl::TILE` and your file; a `#[repr(C)]` `Pod` twin of the parameter struct (pad it to
//!    16 bytes); validation that returns `Error::InvalidParameter`; the CPU path; and a GPU
//!    function that makes a [`Recorder`], calls [`for_each_slab`] with the halo your stencil
//!    needs along z, dispatches per slab, and submits. Ping-pong between two [`GpuVolume`]s for
//!    multi-pass or iterative kernels, all in one recording.
//! 3. Tests: parity with the CPU path on odd shapes, on `GpuOptions { max_storage_binding }`
//!    small enough to force tiling, and every boundary mode; reference fixtures where scipy or
//!    scikit-image has the operation. `src/filter/gaussian.rs` is the worked example.

mod context;
mod kernel;
mod recorder;
pub mod reduce;
mod tiling;
mod volume;

pub use context::{AdapterSummary, GpuContext, GpuOptions};
pub use kernel::{KernelSpec, wgsl};
pub use recorder::{BufferWindow, KernelTime, Readback, Recorder};
pub use tiling::{MappedSlab, Slab, for_each_mapped_slab, for_each_slab, for_each_window};
pub use volume::GpuVolume;

/// The `wgpu` version the runtime is built on, for code that records its own kernels.
pub use wgpu;

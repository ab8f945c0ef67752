//! The GPU runtime: the only module that talks to `wgpu`.
//!
//! * [`GpuContext`] — adapter choice, device with negotiated limits, error plumbing;
//! * [`KernelSpec`] + the pipeline cache — each shader compiled once per device;
//! * [`GpuVolume`] — resident volumes, explicit upload/download, so kernels chain on the GPU;
//! * [`Recorder`] — many dispatches per submission, timestamp-query kernel timing;
//! * [`for_each_slab`] — z-slab tiling with halos for volumes above the binding limit.
//!
//! A kernel is a [`KernelSpec`] (its WGSL plus shared pieces) and a short function that records
//! its dispatches through [`for_each_slab`] and [`Recorder::dispatch_linear`].

mod context;
mod kernel;
mod recorder;
mod tiling;
mod volume;

pub use context::{AdapterSummary, GpuContext, GpuOptions};
pub use kernel::{KernelSpec, wgsl};
pub use recorder::{BufferWindow, KernelTime, Recorder};
pub use tiling::{Slab, for_each_slab};
pub use volume::GpuVolume;

/// The `wgpu` version the runtime is built on, for code that records its own kernels.
pub use wgpu;

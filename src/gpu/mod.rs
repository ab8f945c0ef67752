//! The GPU runtime: the only module that talks to `wgpu`.
//!
//! * [`GpuContext`] — adapter choice, device with negotiated limits, error plumbing;
//! * the pipeline cache — each kernel reflected and compiled once per device;
//! * [`GpuVolume`] — resident volumes, explicit upload/download, so kernels chain on the GPU;
//! * [`Recorder`] — many dispatches per submission, timestamp-query kernel timing;
//! * [`for_each_slab`] — z-slab tiling with halos for volumes above the binding limit;
//!   [`for_each_window`] — binding-sized windows for kernels that only read (reductions);
//!   [`for_each_mapped_slab`] — slabs of outputs shaped unlike their input (resampling,
//!   projections), each with the input slices it reads;
//! * [`GpuProjections`] — projection stacks in batches of whole views, each one binding;
//! * [`reduce`] — two-stage reductions (min/max/mean/M2, histograms) with a small read-back.
//! * [`vector_ops`] — elementwise operations and squared norms on resident volumes and
//!   projection stacks (the iterative methods' arithmetic);
//! * [`scalars`] — reductions kept on the device as coefficients of later kernels, read back
//!   several at a time;
//! * [`for_each_volume_slab`] — z-slabs of a volume without halo, for kernels whose other
//!   operand has another shape (projectors, back-projectors);
//! * [`KernelSpec`] + [`KernelSpec::reflect`] — the Rust↔WGSL contract, checked with naga.
//!
//! A kernel is a [`KernelSpec`] (its WGSL plus shared pieces, what the Rust side binds, the
//! constants it emits) and a short function that records its dispatches through the tiling
//! helpers and `Recorder::dispatch_*`.
//!
//! # Adding a kernel
//!
//! 1. `shaders/<family>/<name>.wgsl`: declare `@group(0) @binding(0) var<uniform> tile: Tile;`
//!    (or `mapping: Mapping` for outputs of another shape), your parameter uniform at binding 1,
//!    then your storage buffers. Either one invocation per output voxel
//!    (`@workgroup_size(WORKGROUP)`, `linear_invocation`, `slab_voxel`, guard against
//!    `tile.out_nz * ny * nx`), or, for neighbourhoods, `@workgroup_size(STAGE_X, STAGE_Y,
//!    STAGE_Z)` workgroups that `stage` their block in workgroup memory (`common/stage.wgsl`).
//!    Extend borders with `map_index` (`common/boundary.wgsl`); test NaN with `is_nan`
//!    (`common/float.wgsl`): GL does not promise IEEE comparisons. Never write a number the
//!    Rust side also knows (op codes, sizes, cut-offs): declare it in Rust with
//!    [`wgsl_constants!`](crate::wgsl_constants) and list the table in the spec's `constants`.
//! 2. `src/<family>/<name>.rs`: the CPU path (a line-by-line port, same names), a `#[repr(C)]`
//!    `Pod` twin of the parameter struct, and `pub(crate) static KERNEL: KernelSpec` whose
//!    `bindings` list what the dispatch binds, in order ([`TILE`], `uniform::<Params>()`,
//!    `Binding::Read`, `Binding::ReadWrite`). Record with [`Recorder::dispatch_linear`] or
//!    [`Recorder::dispatch_grid`] (the workgroup size is read from the WGSL), output volumes
//!    from [`Recorder::volume`], [`for_each_slab`] with the halo your stencil needs along z.
//!    Record only; the caller submits, so pipelines stay one submission. A filter implements
//!    `crate::filter::Filter` and gets one entry in [`crate::registry::OPERATIONS`] (pipeline
//!    step, harness workload, Python exposure).
//! 3. Add the spec to `src/kernels.rs` (its unit test reflects every kernel without a GPU: a
//!    `Params` field on one side only, a binding of the wrong access or a binding not declared
//!    fails it). Tests: reference fixtures where scipy / scikit-image / ITK has the operation,
//!    parity with the CPU path on odd shapes, with `GpuOptions { max_storage_binding }` small
//!    enough to force tiling, in every boundary mode; bad parameters.
//!    `src/filter/bilateral.rs` (staged neighbourhood) and `src/filter/correlate1d.rs` (passes)
//!    are worked examples.

mod context;
mod kernel;
mod projections;
mod recorder;
pub mod reduce;
pub mod scalars;
mod tiling;
pub mod vector_ops;
mod volume;
pub mod work;

pub use context::{ADAPTER_ENV, AdapterSummary, GpuContext, GpuOptions};
pub use kernel::{
    Binding, Constant, Constants, KernelSpec, MAPPING, RUNTIME_CONSTANTS, Reflection, STAGE_BLOCK, STAGE_RADIUS, TILE,
    WORKGROUP, check_kernels, uniform, wgsl,
};
pub use projections::GpuProjections;
pub(crate) use projections::views_per_batch;
pub use recorder::{BufferWindow, KernelTime, Readback, Recorder, Submitted};
pub use tiling::{
    MappedSlab, Slab, VolumeSlab, VolumeSlabParams, for_each_mapped_slab, for_each_slab, for_each_volume_slab,
    for_each_window,
};

pub(crate) use tiling::window as storage_window;
pub use volume::GpuVolume;

/// The `wgpu` version the runtime is built on, for code that records its own kernels.
pub use wgpu;

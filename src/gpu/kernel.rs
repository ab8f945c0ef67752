//! Kernel registry entries and the per-device pipeline cache.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;

/// Shared WGSL pieces a kernel can list in its `sources` (WGSL has no `#include`).
pub mod wgsl {
    /// `map_index` and the `MODE_*` constants.
    pub const BOUNDARY: &str = include_str!("../../shaders/common/boundary.wgsl");
    /// Workgroup staging of 8×8×4 blocks with a halo, for neighbourhood kernels (`stage`,
    /// `staged`, `fetch`; needs `BOUNDARY` and `TILE` before it and a `src` binding).
    pub const STAGE: &str = include_str!("../../shaders/common/stage.wgsl");
    /// `is_nan` on the bits (GL does not promise IEEE comparisons with NaN).
    pub const FLOAT: &str = include_str!("../../shaders/common/float.wgsl");
    /// The `Tile` uniform and index helpers of slab-tiled kernels.
    pub const TILE: &str = include_str!("../../shaders/common/tile.wgsl");
}

/// A compute kernel: the WGSL sources concatenated in order, and the entry point.
///
/// Binding convention (group 0): tiled kernels take the runtime's `Tile` uniform at binding 0,
/// their own parameter uniform at binding 1, then their storage buffers in the order the
/// dispatch lists them. Layouts are derived from the shader, so a kernel needs no Rust-side
/// layout description.
#[derive(Debug)]
pub struct KernelSpec {
    /// Unique name; also the pipeline-cache key and the debug label.
    pub name: &'static str,
    /// WGSL sources, concatenated in this order (shared pieces first).
    pub sources: &'static [&'static str],
    /// Entry point function name.
    pub entry: &'static str,
}

impl GpuContext {
    /// Number of kernels compiled on this device so far (each is compiled once).
    pub fn compiled_kernels(&self) -> usize {
        self.pipelines.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// The compiled pipeline for `spec`, compiling it on first use on this device.
    pub(crate) fn pipeline(&self, spec: &KernelSpec) -> Result<Arc<wgpu::ComputePipeline>> {
        // Lock order: the context's serial lock (GL) before the cache, as everywhere else.
        let _serial = self.serialize();
        let mut cache = self
            .pipelines
            .lock()
            .map_err(|_| Error::Gpu("pipeline cache poisoned by an earlier panic".into()))?;
        if let Some(p) = cache.get(spec.name) {
            return Ok(p.clone());
        }
        let source = spec.sources.concat();
        let pipeline = self
            .scoped(|| {
                let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(spec.name),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
                Ok(self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(spec.name),
                    layout: None,
                    module: &module,
                    entry_point: Some(spec.entry),
                    // Kernels write workgroup memory before reading it. Zero-initialising it is
                    // WebGPU's safety default; on GL naga spells it as one huge array literal
                    // that took lavapipe-GL 96 s to compile for a 4096-bin histogram.
                    compilation_options: wgpu::PipelineCompilationOptions {
                        zero_initialize_workgroup_memory: false,
                        ..Default::default()
                    },
                    cache: None,
                }))
            })
            .map_err(|e| Error::Gpu(format!("kernel '{}' failed to compile: {e}", spec.name)))?;
        let pipeline = Arc::new(pipeline);
        cache.insert(spec.name, pipeline.clone());
        Ok(pipeline)
    }
}

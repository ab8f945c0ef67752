//! Kernel declarations, the Rust↔WGSL contract, and the per-device pipeline cache.
//!
//! A [`KernelSpec`] says what the Rust side does with a shader: which buffers it binds, in
//! order ([`Binding`]: uniforms with the byte size of their `#[repr(C)]` twin, read-only or
//! read-write storage), and which Rust constants it emits into the WGSL ([`Constant`] tables,
//! declared with [`wgsl_constants!`](crate::wgsl_constants)). [`KernelSpec::reflect`] parses the
//! WGSL with naga and checks the declaration against it: entry point, every binding's kind,
//! access and uniform size. The workgroup size comes from the reflection too, so dispatch
//! arithmetic never repeats a literal. The check runs when a kernel is first compiled on a
//! device, and for every kernel of [`crate::gpu::kernels`] in a unit test that needs no GPU.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;

/// Shared WGSL pieces a kernel can list in its `sources` (WGSL has no `#include`).
pub mod wgsl {
    /// `map_index` and the `MODE_*` constants.
    pub const BOUNDARY: &str = include_str!("../../shaders/common/boundary.wgsl");
    /// Workgroup staging of `STAGE_X × STAGE_Y × STAGE_Z` blocks with a halo of up to
    /// `STAGE_RADIUS`, for neighbourhood kernels (`stage`, `staged`, `fetch`; needs `BOUNDARY`
    /// and `TILE` before it and a `src` binding).
    pub const STAGE: &str = include_str!("../../shaders/common/stage.wgsl");
    /// `is_nan` on the bits (GL does not promise IEEE comparisons with NaN), `precise_atan2`.
    pub const FLOAT: &str = include_str!("../../shaders/common/float.wgsl");
    /// The `Tile` uniform and index helpers of slab-tiled kernels.
    pub const TILE: &str = include_str!("../../shaders/common/tile.wgsl");
    /// `VolumeSlab` (a member of a projector's parameters) and `slab_index`.
    pub const VOLUME_SLAB: &str = include_str!("../../shaders/common/volume_slab.wgsl");
    /// `sample`: bilinear interpolation in a batch of projections, 0 off the detector (needs a
    /// `projections` binding and `params.rows`, `params.cols`).
    pub const DETECTOR_SAMPLE: &str = include_str!("../../shaders/common/detector_sample.wgsl");
}

/// Invocations per workgroup of one-dimensional kernels (`@workgroup_size(WORKGROUP)`).
pub const WORKGROUP: u32 = 64;

/// Outputs per workgroup of the staged neighbourhood kernels (`common/stage.wgsl`), x, y, z.
pub const STAGE_BLOCK: [u32; 3] = [8, 8, 4];

/// Largest radius the staged kernels hold in workgroup memory along each axis.
pub const STAGE_RADIUS: u32 = 3;

/// A value emitted into a kernel's WGSL as `const NAME: type = value;`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Constant {
    /// `u32`.
    U32(u32),
    /// `i32`.
    I32(i32),
    /// `f32`.
    F32(f32),
}

/// A table of constants a kernel emits (see [`wgsl_constants!`](crate::wgsl_constants)).
pub type Constants = &'static [(&'static str, Constant)];

/// The constants every kernel gets: the runtime's workgroup shapes.
pub const RUNTIME_CONSTANTS: Constants = &[
    ("WORKGROUP", Constant::U32(WORKGROUP)),
    ("STAGE_X", Constant::U32(STAGE_BLOCK[0])),
    ("STAGE_Y", Constant::U32(STAGE_BLOCK[1])),
    ("STAGE_Z", Constant::U32(STAGE_BLOCK[2])),
    ("STAGE_RADIUS", Constant::U32(STAGE_RADIUS)),
];

/// Declares Rust constants and the [`Constants`] table that emits them into WGSL, so a value
/// shared by both languages is written once:
///
/// ```ignore
/// wgsl_constants!(pub(crate) OPS: u32 { OP_FILL = 0, OP_COPY = 1 });
/// ```
#[macro_export]
#[doc(hidden)]
macro_rules! wgsl_constants {
    ($vis:vis $table:ident : $ty:ident { $($name:ident = $value:expr),* $(,)? }) => {
        $( $vis const $name: $ty = $value; )*
        $vis const $table: $crate::gpu::Constants = &[
            $( (stringify!($name), $crate::wgsl_constants!(@wrap $ty, $name)) ),*
        ];
    };
    (@wrap u32, $v:expr) => { $crate::gpu::Constant::U32($v) };
    (@wrap i32, $v:expr) => { $crate::gpu::Constant::I32($v) };
    (@wrap f32, $v:expr) => { $crate::gpu::Constant::F32($v) };
}

/// One binding of group 0 as the Rust side binds it (bindings are numbered in order from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// A uniform buffer holding a `#[repr(C)]` struct of this many bytes (`size_of::<T>()`).
    Uniform(usize),
    /// A read-only storage buffer.
    Read,
    /// A read-write storage buffer.
    ReadWrite,
}

/// A uniform binding holding a `T` (the Rust twin of the WGSL struct).
pub const fn uniform<T>() -> Binding {
    Binding::Uniform(std::mem::size_of::<T>())
}

/// The runtime's `Tile` uniform (`common/tile.wgsl`), binding 0 of slab-tiled kernels.
pub const TILE: Binding = uniform::<crate::gpu::tiling::TileParams>();

/// The runtime's `Mapping` uniform (`common/tile.wgsl`), binding 0 of kernels whose output is
/// shaped unlike their input.
pub const MAPPING: Binding = uniform::<crate::gpu::tiling::MappingParams>();

/// A compute kernel: the WGSL sources concatenated in order, its entry point, what the Rust side
/// binds and the constants it emits.
///
/// Binding convention (group 0): tiled kernels take the runtime's `Tile` uniform at binding 0,
/// their own parameter uniform at binding 1, then their storage buffers in the order the
/// dispatch lists them.
#[derive(Debug)]
pub struct KernelSpec {
    /// Unique name, `family/kernel`; also the pipeline-cache key and the debug label.
    pub name: &'static str,
    /// WGSL sources, concatenated in this order (shared pieces first).
    pub sources: &'static [&'static str],
    /// Entry point function name.
    pub entry: &'static str,
    /// What the dispatch binds at bindings 0, 1, … (checked against the WGSL).
    pub bindings: &'static [Binding],
    /// Constant tables emitted before the sources, after [`RUNTIME_CONSTANTS`].
    pub constants: &'static [Constants],
}

/// What [`KernelSpec::reflect`] read from the WGSL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reflection {
    /// `@workgroup_size` of the entry point.
    pub workgroup: [u32; 3],
}

/// A kernel compiled on one device.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) reflection: Reflection,
}

fn wgsl_value(value: Constant) -> (&'static str, String) {
    match value {
        Constant::U32(v) => ("u32", format!("{v}u")),
        Constant::I32(v) => ("i32", format!("{v}i")),
        // `{:?}` prints enough digits to round-trip and always a decimal point or exponent.
        Constant::F32(v) => ("f32", format!("{v:?}")),
    }
}

impl KernelSpec {
    /// The WGSL compiled for this kernel: the constants, then the sources.
    pub fn source(&self) -> String {
        let mut out = String::from("// Emitted from Rust (gpu::KernelSpec::constants).\n");
        for table in std::iter::once(&RUNTIME_CONSTANTS).chain(self.constants) {
            for &(name, value) in table.iter() {
                let (ty, text) = wgsl_value(value);
                let _ = writeln!(out, "const {name}: {ty} = {text};");
            }
        }
        for source in self.sources {
            out.push_str(source);
            out.push('\n');
        }
        out
    }

    /// Parses and validates the WGSL with naga and checks it against this declaration: the
    /// entry point exists, the group-0 bindings its entry point uses are exactly `0..n` for
    /// the `n` declared, each of the declared kind and access, each uniform of the declared
    /// byte size. Returns the entry point's workgroup size.
    pub fn reflect(&self) -> Result<Reflection> {
        let fail = |what: String| Error::Gpu(format!("kernel '{}': {what}", self.name));
        let source = self.source();
        let module = naga::front::wgsl::parse_str(&source)
            .map_err(|e| fail(format!("WGSL does not parse: {}", e.emit_to_string(&source))))?;
        let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)
            .map_err(|e| fail(format!("WGSL does not validate: {}", e.emit_to_string(&source))))?;
        let (index, entry) = module
            .entry_points
            .iter()
            .enumerate()
            .find(|(_, e)| e.name == self.entry && e.stage == naga::ShaderStage::Compute)
            .ok_or_else(|| fail(format!("no compute entry point '{}'", self.entry)))?;
        let uses = info.get_entry_point(index);
        let mut layouter = naga::proc::Layouter::default();
        layouter
            .update(module.to_ctx())
            .map_err(|e| fail(format!("type layout: {e}")))?;
        let mut found: Vec<(u32, Binding)> = Vec::new();
        for (handle, var) in module.global_variables.iter() {
            let Some(binding) = &var.binding else { continue };
            if uses[handle].is_empty() {
                continue;
            }
            let label = var.name.clone().unwrap_or_default();
            if binding.group != 0 {
                return Err(fail(format!(
                    "'{label}' is in group {}; kernels use group 0",
                    binding.group
                )));
            }
            let kind = match var.space {
                naga::AddressSpace::Uniform => Binding::Uniform(layouter[var.ty].size as usize),
                naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE) => {
                    Binding::ReadWrite
                }
                naga::AddressSpace::Storage { .. } => Binding::Read,
                other => return Err(fail(format!("'{label}' is in the {other:?} address space"))),
            };
            found.push((binding.binding, kind));
        }
        found.sort_by_key(|&(b, _)| b);
        let numbers: Vec<u32> = found.iter().map(|&(b, _)| b).collect();
        let expected: Vec<u32> = (0..self.bindings.len() as u32).collect();
        if numbers != expected {
            return Err(fail(format!(
                "entry point '{}' uses bindings {numbers:?}, the Rust side binds {expected:?}",
                self.entry
            )));
        }
        for ((b, wgsl), rust) in found.iter().zip(self.bindings) {
            if wgsl != rust {
                return Err(fail(format!(
                    "binding {b} is {wgsl:?} in the WGSL but {rust:?} in the Rust declaration"
                )));
            }
        }
        Ok(Reflection {
            workgroup: entry.workgroup_size,
        })
    }
}

/// Checks a set of kernels: each reflects, and names are unique (they key the pipeline cache).
pub fn check_kernels(kernels: &[&KernelSpec]) -> Result<()> {
    let mut names = HashSet::new();
    for k in kernels {
        if !names.insert(k.name) {
            return Err(Error::Gpu(format!("two kernels are named '{}'", k.name)));
        }
        if !k.name.contains('/') {
            return Err(Error::Gpu(format!("kernel '{}': name it 'family/kernel'", k.name)));
        }
        k.reflect()?;
    }
    Ok(())
}

impl GpuContext {
    /// Number of kernels compiled on this device so far (each is compiled once).
    pub fn compiled_kernels(&self) -> usize {
        self.pipelines.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// The compiled kernel for `spec`, reflected and compiled on first use on this device.
    pub(crate) fn pipeline(&self, spec: &KernelSpec) -> Result<Arc<Compiled>> {
        // Lock order: the context's serial lock (GL) before the cache, as everywhere else.
        let _serial = self.serialize();
        let mut cache = self
            .pipelines
            .lock()
            .map_err(|_| Error::Gpu("pipeline cache poisoned by an earlier panic".into()))?;
        if let Some(p) = cache.get(spec.name) {
            return Ok(p.clone());
        }
        let reflection = spec.reflect()?;
        let source = spec.source();
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
        let compiled = Arc::new(Compiled { pipeline, reflection });
        cache.insert(spec.name, compiled.clone());
        Ok(compiled)
    }
}

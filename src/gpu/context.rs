//! Adapter selection, device creation with negotiated limits, and the error plumbing that turns
//! wgpu validation errors, out-of-memory and device loss into [`Error`] values.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};

/// How long a blocking wait on the GPU may take before it is reported as an error instead of a
/// hang. Generous: a software adapter filtering a large volume can take tens of seconds.
pub(crate) const GPU_WAIT_TIMEOUT: Duration = Duration::from_secs(600);

/// Mesa gallivm's `LP_MAX_TGSI_LOOP_ITERATIONS` (see [`AdapterSummary::loop_limit`]).
const LLVMPIPE_LOOP_LIMIT: u64 = 65_535;

/// What the chosen adapter is and what it allows, for printing and for planning work.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    /// Adapter name as the driver reports it (e.g. "NVIDIA GeForce RTX 4090", "llvmpipe ...").
    pub name: String,
    /// Graphics API backend (Vulkan, Metal, Dx12, Gl).
    pub backend: String,
    /// Discrete, integrated, virtual, CPU (software) or other.
    pub device_type: String,
    /// Driver name and version information.
    pub driver: String,
    /// True for software rasterisers such as Mesa lavapipe: timings are not GPU timings.
    pub is_software: bool,
    /// Largest storage buffer binding, bytes (volumes above it are processed in slabs).
    pub max_storage_binding: u64,
    /// Largest buffer, bytes (a resident volume must fit one buffer).
    pub max_buffer_size: u64,
    /// Largest workgroup size (invocations).
    pub max_invocations_per_workgroup: u32,
    /// Workgroup memory per workgroup, bytes (the ramp filter keeps a padded row there).
    pub max_workgroup_storage: u32,
    /// Whether kernel time can be measured with timestamp queries.
    pub timestamps: bool,
    /// Loop iterations one shader invocation may run before the driver silently ends its loops
    /// (`None`: no such limit). Mesa's llvmpipe (lavapipe, and its GL driver) counts every
    /// loop iteration of an invocation against one budget of 65,535 (gallivm's loop limiter,
    /// `LP_MAX_TGSI_LOOP_ITERATIONS`) and then leaves the loops: a 160,001-tap Gaussian pass
    /// summed only its first 65,535 taps. Kernels whose loops scale with the user's parameters
    /// split the work or return [`Error::AdapterLimit`](crate::Error::AdapterLimit).
    pub loop_limit: Option<u64>,
}

impl fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "{} ({}, {}{}, driver: {}); max storage binding {:.0} MiB, max buffer {:.0} MiB, \
             {} invocations/workgroup, timestamps {}",
            self.name,
            self.backend,
            self.device_type,
            if self.is_software {
                " — software, not a real GPU"
            } else {
                ""
            },
            if self.driver.is_empty() {
                "unknown"
            } else {
                &self.driver
            },
            mib(self.max_storage_binding),
            mib(self.max_buffer_size),
            self.max_invocations_per_workgroup,
            if self.timestamps { "available" } else { "not available" },
        )?;
        if let Some(limit) = self.loop_limit {
            write!(f, ", shader loops end after {limit} iterations")?;
        }
        Ok(())
    }
}

/// One GPU device and everything kernels share on it: limits, the pipeline cache, the error
/// plumbing. Create it once ([`GpuContext::new`]) and share it (`Arc`) between calls: device
/// creation and shader compilation are the expensive parts.
pub struct GpuContext {
    /// Unique within the process: resources remember the context that made them (wgpu
    /// resolves a resource of another device to whatever that device holds under its id).
    pub(crate) id: u64,
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) summary: AdapterSummary,
    pub(crate) limits: wgpu::Limits,
    pub(crate) pipelines: Mutex<HashMap<&'static str, Arc<crate::gpu::kernel::Compiled>>>,
    /// On the GL backend, one thread at a time: wgpu's GL context lock panics when another
    /// thread holds it for more than a second (as a blocking wait on a long kernel does), so
    /// work from several threads is serialised here instead. Other backends run concurrently.
    serial: Option<parking_lot::ReentrantMutex<()>>,
    lost: Arc<Mutex<Option<String>>>,
    uncaptured: Arc<Mutex<Option<String>>>,
    is_lost: Arc<AtomicBool>,
    /// A tiny read-only storage buffer for bindings a kernel declares but an operation does not
    /// read (a binding may not alias a written one); made once per device.
    placeholder: std::sync::OnceLock<wgpu::Buffer>,
    /// What has been dispatched, submitted and read back on this device (the work model).
    work: Mutex<crate::gpu::work::WorkCounts>,
}

impl fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuContext").field("adapter", &self.summary).finish()
    }
}

/// Options for [`GpuContext::with_options`].
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Use at most this many bytes per storage binding even if the adapter allows more. Volumes
    /// above it are processed in slabs; tests use it to exercise tiling with small volumes.
    pub max_storage_binding: Option<u64>,
    /// Use at most this many bytes per buffer even if the adapter allows more (at least the
    /// storage binding): tests use it to exercise kernels that split state across buffers.
    pub max_buffer_size: Option<u64>,
    /// Use the adapter at this position of [`GpuContext::adapters`] instead of the best one
    /// (tests use it to run on every adapter of a machine).
    pub adapter: Option<usize>,
    /// Ask only for WebGPU's default limits (what every WebGPU implementation guarantees:
    /// 128 MiB storage bindings, 8 storage buffers per stage, 16 KiB of workgroup memory, 256
    /// invocations per workgroup) instead of everything the adapter offers: a test that every
    /// kernel runs on the least capable adapters.
    pub webgpu_default_limits: bool,
    /// Use at most this many workgroups per dispatch dimension even if the adapter allows
    /// more: tests use it to exercise dispatches that fold their workgroups into two
    /// dimensions, which only volumes of hundreds of megabytes need otherwise.
    pub max_workgroups_per_dimension: Option<u32>,
}

impl GpuContext {
    /// Picks an adapter and creates a device on it.
    ///
    /// Honours `WGPU_BACKEND` (e.g. `vulkan`, `metal`, `dx12`, `gl`), `WGPU_ADAPTER_NAME`
    /// (a case-insensitive substring of the adapter name) and [`ADAPTER_ENV`]
    /// (`HOUNSFIELD_ADAPTER`: a position in [`GpuContext::adapters`], to pin one process — a
    /// Dask worker, say — to one of several GPUs). Without them it prefers, in order,
    /// discrete, integrated, virtual and software adapters, and native APIs over OpenGL.
    pub fn new() -> Result<Self> {
        Self::with_options(GpuOptions::default())
    }

    /// Like [`GpuContext::new`], with options.
    pub fn with_options(options: GpuOptions) -> Result<Self> {
        pollster::block_on(Self::new_async(options))
    }

    /// The usable adapters (compute-capable, filtered by `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`),
    /// best first: the first is what [`GpuContext::new`] uses. Empty when there is none.
    pub fn adapters() -> Vec<AdapterSummary> {
        pollster::block_on(usable_adapters())
            .map(|list| {
                list.iter()
                    .map(|a| summarize(a, &a.limits(), a.features().contains(wgpu::Features::TIMESTAMP_QUERY)))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn new_async(options: GpuOptions) -> Result<Self> {
        let adapters = usable_adapters().await?;
        match options.adapter.map(Ok).or_else(adapter_from_env).transpose()? {
            Some(i) => {
                let adapter = adapters.get(i).ok_or_else(|| {
                    Error::NoGpu(format!(
                        "adapter {i} requested but only {} usable adapter(s) exist (0..{}); see GpuContext::adapters \
                         or `hounsfield.gpu_adapters()`",
                        adapters.len(),
                        adapters.len()
                    ))
                })?;
                Self::open(adapter, &options).await
            }
            // The best adapter that creates a device: a listed adapter can still refuse (on the
            // first H200 machine the OpenGL/EGL adapter answered "Parent device is lost" while
            // Vulkan worked), and a user without a choice wants the next one, not an error.
            None => {
                let mut refusals = Vec::new();
                for adapter in &adapters {
                    match Self::open(adapter, &options).await {
                        Err(Error::NoGpu(why)) => refusals.push(why),
                        other => return other,
                    }
                }
                Err(Error::NoGpu(format!(
                    "every usable adapter refused to create a device: {}",
                    refusals.join("; ")
                )))
            }
        }
    }

    /// Creates a device on `adapter`; `Error::NoGpu` when the adapter refuses.
    async fn open(adapter: &wgpu::Adapter, options: &GpuOptions) -> Result<Self> {
        let info = adapter.get_info();

        // Ask for everything the adapter offers: kernels plan their work (slab sizes, workgroup
        // sizes) from these negotiated limits instead of assuming WebGPU's defaults.
        let mut limits = if options.webgpu_default_limits {
            wgpu::Limits::default()
        } else {
            adapter.limits()
        };
        if let Some(cap) = options.max_storage_binding {
            let floor = u64::from(limits.min_storage_buffer_offset_alignment) * 2;
            if cap < floor {
                return Err(Error::param(
                    "max_storage_binding",
                    format!("{cap} bytes is below the smallest usable binding ({floor} bytes)"),
                ));
            }
            limits.max_storage_buffer_binding_size = limits.max_storage_buffer_binding_size.min(cap);
        }
        if let Some(cap) = options.max_buffer_size {
            if cap < limits.max_storage_buffer_binding_size {
                return Err(Error::param(
                    "max_buffer_size",
                    format!(
                        "{cap} bytes is below the storage binding of {} bytes",
                        limits.max_storage_buffer_binding_size
                    ),
                ));
            }
            limits.max_buffer_size = limits.max_buffer_size.min(cap);
        }
        if let Some(cap) = options.max_workgroups_per_dimension {
            if cap == 0 {
                return Err(Error::param("max_workgroups_per_dimension", "must be at least 1"));
            }
            limits.max_compute_workgroups_per_dimension = limits.max_compute_workgroups_per_dimension.min(cap);
        }
        let offered = adapter.features();
        let timestamp_features = wgpu::Features::TIMESTAMP_QUERY;
        let features = offered & timestamp_features;
        let timestamps = features.contains(wgpu::Features::TIMESTAMP_QUERY);

        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("hounsfield"),
                required_features: features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| Error::NoGpu(format!("adapter '{}' refused to create a device: {e}", info.name)))?;

        let lost = Arc::new(Mutex::new(None::<String>));
        let is_lost = Arc::new(AtomicBool::new(false));
        {
            let lost = lost.clone();
            let is_lost = is_lost.clone();
            device.set_device_lost_callback(move |reason, message| {
                is_lost.store(true, Ordering::SeqCst);
                if let Ok(mut slot) = lost.lock() {
                    *slot = Some(format!("{reason:?}: {message}"));
                }
            });
        }
        // Errors outside our error scopes must never panic (wgpu's default handler does): keep
        // the first one and report it from the next call that checks.
        let uncaptured = Arc::new(Mutex::new(None::<String>));
        {
            let uncaptured = uncaptured.clone();
            device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
                if let Ok(mut slot) = uncaptured.lock() {
                    slot.get_or_insert_with(|| error.to_string());
                }
            }));
        }

        let summary = summarize(adapter, &limits, timestamps);
        static CONTEXTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Ok(GpuContext {
            id: CONTEXTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            device,
            queue,
            summary,
            limits,
            pipelines: Mutex::new(HashMap::new()),
            serial: (info.backend == wgpu::Backend::Gl).then(|| parking_lot::ReentrantMutex::new(())),
            lost,
            uncaptured,
            is_lost,
            placeholder: std::sync::OnceLock::new(),
            work: Mutex::new(Default::default()),
        })
    }

    /// See the `placeholder` field: a 16-byte storage buffer, created on first use.
    pub(crate) fn placeholder(&self) -> &wgpu::Buffer {
        self.placeholder.get_or_init(|| {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("hounsfield placeholder"),
                size: 16,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        })
    }

    /// Everything dispatched, submitted and read back on this device so far: subtract two
    /// snapshots ([`WorkCounts::since`](crate::gpu::work::WorkCounts::since)) for the work of the
    /// calls between them (the work model, `gpu::work`).
    pub fn work(&self) -> crate::gpu::work::WorkCounts {
        self.work.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Adds to the work counts.
    pub(crate) fn count(&self, update: impl FnOnce(&mut crate::gpu::work::WorkCounts)) {
        update(&mut self.work.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// The adapter in use and its key limits.
    pub fn adapter(&self) -> &AdapterSummary {
        &self.summary
    }

    /// Destroys the device now, releasing its memory without waiting for the last `Arc` to drop.
    /// Every later call on this context (or its volumes) returns [`Error::DeviceLost`], exactly
    /// as after a driver reset; create a new context to continue.
    pub fn destroy(&self) {
        self.device.destroy();
        // The lost callback may run asynchronously; record the loss here as well.
        self.is_lost.store(true, Ordering::SeqCst);
        if let Ok(mut slot) = self.lost.lock() {
            slot.get_or_insert_with(|| "the device was destroyed".into());
        }
    }

    /// Largest storage binding in bytes, as negotiated.
    pub fn max_storage_binding(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size
    }

    /// Required alignment, in bytes, of a storage binding's offset.
    pub(crate) fn storage_offset_alignment(&self) -> u64 {
        u64::from(self.limits.min_storage_buffer_offset_alignment)
    }

    /// Holds this context for the calling thread where the backend needs it (GL; see `serial`).
    /// Re-entrant: a recording that holds it can call anything else.
    pub(crate) fn serialize(&self) -> Option<parking_lot::ReentrantMutexGuard<'_, ()>> {
        self.serial.as_ref().map(|m| m.lock())
    }

    /// Fails if the device was lost or an uncaptured error was reported since the last check.
    pub(crate) fn check_health(&self) -> Result<()> {
        if self.is_lost.load(Ordering::SeqCst) {
            let msg = self.lost.lock().ok().and_then(|m| m.clone()).unwrap_or_default();
            return Err(Error::DeviceLost(format!(
                "{msg}; create a new GpuContext (or Backend) to continue"
            )));
        }
        if let Some(msg) = self.uncaptured.lock().ok().and_then(|mut m| m.take()) {
            return Err(Error::Gpu(msg));
        }
        Ok(())
    }

    /// Runs `work` inside validation and out-of-memory error scopes, so that a mistake (ours or
    /// the driver's) becomes an `Err` instead of a panic.
    pub(crate) fn scoped<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let _serial = self.serialize();
        self.check_health()?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let result = work();
        let validation_error = pollster::block_on(validation.pop());
        let oom_error = pollster::block_on(oom.pop());
        if let Some(e) = oom_error {
            return Err(Error::GpuOutOfMemory(format!(
                "{e}; process a smaller volume, free other GPU work, or use the CPU backend"
            )));
        }
        if let Some(e) = validation_error {
            return Err(Error::Gpu(e.to_string()));
        }
        let value = result?;
        self.check_health()?;
        Ok(value)
    }

    /// Blocks until `submission` has finished on the GPU, turning timeouts and loss into errors.
    pub(crate) fn wait(&self, submission: wgpu::SubmissionIndex) -> Result<()> {
        let _serial = self.serialize();
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submission),
                timeout: Some(GPU_WAIT_TIMEOUT),
            })
            .map_err(|e| match e {
                wgpu::PollError::Timeout => Error::Gpu(format!(
                    "the GPU did not finish within {} s; the work may be too large for this adapter",
                    GPU_WAIT_TIMEOUT.as_secs()
                )),
                other => Error::DeviceLost(other.to_string()),
            })?;
        self.check_health()
    }
}

fn summarize(adapter: &wgpu::Adapter, limits: &wgpu::Limits, timestamps: bool) -> AdapterSummary {
    let info = adapter.get_info();
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: [info.driver.as_str(), info.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        is_software: info.device_type == wgpu::DeviceType::Cpu,
        max_storage_binding: limits.max_storage_buffer_binding_size,
        max_buffer_size: limits.max_buffer_size,
        max_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        max_workgroup_storage: limits.max_compute_workgroup_storage_size,
        timestamps,
        loop_limit: info.name.contains("llvmpipe").then_some(LLVMPIPE_LOOP_LIMIT),
    }
}

/// Environment variable pinning the process to one adapter: its position in
/// [`GpuContext::adapters`] (best first), as `CUDA_VISIBLE_DEVICES` pins CUDA programs.
pub const ADAPTER_ENV: &str = "HOUNSFIELD_ADAPTER";

/// The adapter index `HOUNSFIELD_ADAPTER` asks for, if set.
fn adapter_from_env() -> Option<Result<usize>> {
    let value = std::env::var(ADAPTER_ENV).ok()?;
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(trimmed.parse::<usize>().map_err(|_| Error::Environment {
        name: ADAPTER_ENV,
        value: value.clone(),
        reason: "give the adapter's position (0, 1, ...) in the list of usable adapters".into(),
    }))
}

/// Mesa's Vulkan and EGL drivers look for a Wayland display when an instance is created; with
/// no `XDG_RUNTIME_DIR` (servers, containers, CI) libwayland prints "error: XDG_RUNTIME_DIR is
/// invalid or not set in the environment" although nothing is wrong, and users read it as a
/// failure. When the variable is missing, point it at a private, empty runtime directory
/// (mode 0700, one per user) so the probe fails quietly; adapter problems still surface as
/// errors.
#[cfg(target_os = "linux")]
fn quiet_display_probe() {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_absolute()) {
            return;
        }
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("hounsfield-runtime-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        let ours = std::fs::metadata(&dir).is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if ours {
            // SAFETY: runs once, before this process creates its first wgpu instance, so no
            // driver thread exists yet that could read the environment concurrently; Rust's
            // own readers take std's environment lock.
            unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn quiet_display_probe() {}

/// Compute-capable adapters allowed by `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`, best first.
async fn usable_adapters() -> Result<Vec<wgpu::Adapter>> {
    quiet_display_probe();
    let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    // wgpu checks every indirect dispatch's arguments with a dispatch of its own, which would
    // double the launches of a kernel dispatched indirectly pass after pass (the watershed);
    // the kernels that write indirect arguments keep them within the limits themselves
    // (`Recorder::dispatch_indirect`). WGPU_VALIDATION_INDIRECT_CALL=1 restores the check.
    if std::env::var_os("WGPU_VALIDATION_INDIRECT_CALL").is_none() {
        descriptor.flags.remove(wgpu::InstanceFlags::VALIDATION_INDIRECT_CALL);
    }
    let instance = wgpu::Instance::new(descriptor);
    let adapters = instance.enumerate_adapters(wgpu::Backends::all()).await;
    let wanted_name = std::env::var("WGPU_ADAPTER_NAME").ok().filter(|s| !s.is_empty());
    rank_adapters(adapters, wanted_name.as_deref())
}

/// Ranks adapters: real GPUs first, native APIs before OpenGL.
fn adapter_rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let api = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (kind, api)
}

fn rank_adapters(adapters: Vec<wgpu::Adapter>, wanted_name: Option<&str>) -> Result<Vec<wgpu::Adapter>> {
    // Only adapters that can run compute shaders count.
    let usable: Vec<wgpu::Adapter> = adapters
        .into_iter()
        .filter(|a| {
            a.get_downlevel_capabilities()
                .flags
                .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
        })
        .collect();
    if usable.is_empty() {
        return Err(Error::NoGpu(
            "no adapter with compute shaders was found. On Linux without a GPU install Mesa's \
             software Vulkan driver (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`); \
             otherwise check the GPU driver, or use the CPU backend (HOUNSFIELD_BACKEND=cpu)"
                .into(),
        ));
    }
    let names = || {
        usable
            .iter()
            .map(|a| {
                let i = a.get_info();
                format!("'{}' ({:?})", i.name, i.backend)
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut candidates: Vec<wgpu::Adapter> = match wanted_name {
        Some(wanted) => {
            let wanted_lower = wanted.to_lowercase();
            let matching: Vec<_> = usable
                .iter()
                .filter(|a| a.get_info().name.to_lowercase().contains(&wanted_lower))
                .cloned()
                .collect();
            if matching.is_empty() {
                return Err(Error::NoGpu(format!(
                    "WGPU_ADAPTER_NAME={wanted:?} matches none of the adapters found: {}",
                    names()
                )));
            }
            matching
        }
        None => usable,
    };
    candidates.sort_by_key(|a| adapter_rank(&a.get_info()));
    Ok(candidates)
}

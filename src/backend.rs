//! Choosing where kernels run: CPU or GPU.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// Environment variable that forces a backend: `cpu`, `gpu` or `auto` (the default).
pub const BACKEND_ENV: &str = "HOUNSFIELD_BACKEND";

/// Where a kernel runs. Both paths have the same signature and semantics; the backend changes
/// speed, not results (beyond f32 rounding).
#[derive(Clone, Debug)]
pub enum Backend {
    /// Multithreaded CPU path (rayon).
    Cpu,
    /// GPU path on a shared device.
    Gpu(Arc<GpuContext>),
}

/// The outcome of [`Backend::select`]: the backend and why it was chosen.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The chosen backend.
    pub backend: Backend,
    /// A sentence saying why (e.g. why the CPU was used instead of a GPU).
    pub reason: String,
}

impl Backend {
    /// The GPU backend on the best adapter (see [`GpuContext::new`]), or an error saying why none
    /// is usable.
    pub fn gpu() -> Result<Backend> {
        Ok(Backend::Gpu(Arc::new(GpuContext::new()?)))
    }

    /// GPU if an adapter is usable, otherwise CPU; `HOUNSFIELD_BACKEND=cpu|gpu` forces one.
    pub fn auto() -> Result<Backend> {
        Ok(Backend::select()?.backend)
    }

    /// Like [`Backend::auto`], and also says why the backend was chosen.
    ///
    /// Fails only when `HOUNSFIELD_BACKEND` is `gpu` and no GPU is usable, or when the variable
    /// has an unknown value.
    pub fn select() -> Result<Selection> {
        let forced = std::env::var(BACKEND_ENV).unwrap_or_default();
        match forced.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Selection {
                backend: Backend::Cpu,
                reason: format!("{BACKEND_ENV}=cpu"),
            }),
            "gpu" => {
                let backend = Backend::gpu().map_err(|e| match e {
                    Error::NoGpu(msg) => Error::NoGpu(format!("{BACKEND_ENV}=gpu but {msg}")),
                    other => other,
                })?;
                Ok(Selection {
                    backend,
                    reason: format!("{BACKEND_ENV}=gpu"),
                })
            }
            "" | "auto" => Ok(match Backend::gpu() {
                Ok(backend) => Selection {
                    backend,
                    reason: "a GPU adapter is available".into(),
                },
                // A mistyped HOUNSFIELD_ADAPTER is the user's error, not a missing GPU.
                Err(e @ Error::Environment { .. }) => return Err(e),
                Err(e) => Selection {
                    backend: Backend::Cpu,
                    reason: format!("falling back to the CPU: {e}"),
                },
            }),
            _ => Err(Error::Environment {
                name: BACKEND_ENV,
                value: forced,
                reason: "use cpu, gpu or auto".into(),
            }),
        }
    }

    /// The GPU context, if this is the GPU backend.
    pub fn gpu_context(&self) -> Option<&Arc<GpuContext>> {
        match self {
            Backend::Gpu(ctx) => Some(ctx),
            Backend::Cpu => None,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Cpu => write!(f, "CPU ({} threads)", rayon::current_num_threads()),
            Backend::Gpu(ctx) => write!(f, "GPU: {}", ctx.adapter()),
        }
    }
}

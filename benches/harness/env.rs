//! The machine a report was measured on, and the two bandwidths filter throughput is judged
//! against: the host's memory copy bandwidth (all cores) and the device's buffer-copy
//! bandwidth, both measured in the same run.

use std::process::Command;
use std::time::Duration;

use hounsfield::Result;
use hounsfield::gpu::{GpuContext, GpuVolume, Recorder};
use rayon::prelude::*;
use serde::Serialize;

use crate::stats::{Plan, copy_bandwidth, measure};

/// The adapter, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Adapter {
    /// Adapter name.
    pub name: String,
    /// Vulkan, Metal, DX12, GL.
    pub backend: String,
    /// Discrete, integrated, CPU...
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// A CPU emulating a GPU (lavapipe, WARP, SwiftShader): its times are not GPU speed.
    pub software: bool,
    /// Kernel times from timestamp queries are available.
    pub timestamps: bool,
    /// Largest storage binding (MiB): bigger volumes run in slabs.
    pub max_storage_binding_mib: u64,
}

/// Where and when the report was measured.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// UTC, RFC 3339.
    pub date_utc: String,
    /// `git describe`-like commit of the library (`-dirty` with uncommitted changes).
    pub git_commit: String,
    /// CPU model.
    pub cpu_model: String,
    /// Logical cores (the CPU paths use all of them).
    pub logical_cores: usize,
    /// Operating system and architecture.
    pub os: String,
    /// The GPU, when one was used.
    pub adapter: Option<Adapter>,
    /// Host memory copy bandwidth, GB/s (bytes read + written per second, all cores).
    pub host_copy_gbps: f64,
    /// Device buffer-to-buffer copy bandwidth, GB/s (read + written).
    pub device_copy_gbps: Option<f64>,
    /// The run's sizing.
    pub quick: bool,
    /// Edge multiplier of the full sizes.
    pub scale: f64,
}

impl Environment {
    /// Describes this machine and measures both bandwidths (`bytes` per copy).
    pub fn capture(ctx: Option<&GpuContext>, quick: bool, scale: f64) -> Result<Environment> {
        let bytes: usize = if quick { 8 << 20 } else { 256 << 20 };
        let adapter = ctx.map(|ctx| {
            let a = ctx.adapter();
            Adapter {
                name: a.name.clone(),
                backend: a.backend.clone(),
                device_type: a.device_type.clone(),
                driver: a.driver.clone(),
                software: a.is_software,
                timestamps: a.timestamps,
                max_storage_binding_mib: ctx.max_storage_binding() >> 20,
            }
        });
        let device_copy_gbps = match ctx {
            Some(ctx) => Some(device_copy_bandwidth(ctx, bytes as u64)?),
            None => None,
        };
        Ok(Environment {
            date_utc: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            git_commit: git_commit(),
            cpu_model: cpu_model(),
            logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            adapter,
            host_copy_gbps: host_copy_bandwidth(bytes),
            device_copy_gbps,
            quick,
            scale,
        })
    }

    /// True when GPU numbers come from a software adapter.
    pub fn software_gpu(&self) -> bool {
        self.adapter.as_ref().is_some_and(|a| a.software)
    }
}

const COPY_PLAN: Plan = Plan {
    warmup: 1,
    min_runs: 5,
    max_runs: 9,
    budget: Duration::from_secs(2),
};

/// Copies `bytes` between two host buffers with all cores, in 1 MiB chunks.
fn host_copy_bandwidth(bytes: usize) -> f64 {
    let src = vec![1u8; bytes];
    let mut dst = vec![0u8; bytes];
    let (timing, _) = measure::<()>(&COPY_PLAN, || {
        dst.par_chunks_mut(1 << 20)
            .zip(src.par_chunks(1 << 20))
            .for_each(|(d, s)| d.copy_from_slice(s));
        Ok(None)
    })
    .expect("infallible");
    std::hint::black_box(&dst);
    copy_bandwidth(bytes as u64, timing.median_s)
}

/// Copies `bytes` between two device buffers, four times per submission (submission and wait
/// latency amortised).
fn device_copy_bandwidth(ctx: &GpuContext, bytes: u64) -> Result<f64> {
    const COPIES: u64 = 4;
    let elems = (bytes / 4) as usize;
    let a = GpuVolume::zeros(ctx, [1, 1, elems])?;
    let b = GpuVolume::zeros(ctx, [1, 1, elems])?;
    let (timing, _) = measure(&COPY_PLAN, || {
        let mut rec = Recorder::new(ctx);
        for _ in 0..COPIES {
            rec.copy(a.buffer(), 0, b.buffer(), 0, bytes);
        }
        rec.submit()?;
        Ok(None)
    })?;
    Ok(copy_bandwidth(COPIES * bytes, timing.median_s))
}

fn git_commit() -> String {
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{commit}-dirty") } else { commit }
        }
        None => "unknown".into(),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

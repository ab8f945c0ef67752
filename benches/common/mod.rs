//! Shared by the benchmarks.

use hounsfield::gpu::GpuContext;

/// The GPU to benchmark, unless `HOUNSFIELD_BENCH_GPU=0` or there is none (printed either way).
pub fn gpu() -> Option<GpuContext> {
    if std::env::var("HOUNSFIELD_BENCH_GPU").is_ok_and(|v| v == "0") {
        return None;
    }
    match GpuContext::new() {
        Ok(ctx) => {
            eprintln!("GPU adapter: {}", ctx.adapter());
            Some(ctx)
        }
        Err(e) => {
            eprintln!("GPU benchmarks skipped: {e}");
            None
        }
    }
}

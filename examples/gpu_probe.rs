//! Times the pieces of a GPU call apart on the best adapter, to explain the gaps the first H200
//! run showed between end-to-end, resident and kernel times
//! (docs/benchmarks/2026-12-04-nvidia-h200/notes.md):
//! `cargo run --release --example gpu_probe -- [--shape Z Y X] [--runs N]`.
//!
//! Rows: host memcpy (the bound for any host-side copy); upload and download of one volume
//! (the download also from a volume four times smaller, to expose per-chunk costs); a streaming
//! kernel (read one volume, write another; at most one storage binding of it) on volumes allocated beforehand and on a fresh
//! output, one dispatch per submission and 20 per submission (warm clocks, launch cost
//! amortised); the box filter and the Gaussian as the library runs them, once and 20 times back
//! to back. Each row: the median of the runs, wall time and, where the adapter has timestamps,
//! GPU time, with the bytes per second both imply.

use std::time::{Duration, Instant};

use clap::Parser;
use hounsfield::gpu::{Binding, BufferWindow, GpuContext, GpuVolume, KernelSpec, Recorder};

#[derive(Parser, Debug)]
#[command(about = "Time the pieces of a GPU call apart")]
struct Args {
    /// Volume shape (z y x).
    #[arg(long, num_args = 3, default_values_t = [256usize, 512, 512])]
    shape: Vec<usize>,
    /// Timed runs per row (after one warm-up).
    #[arg(long, default_value_t = 5)]
    runs: usize,
}

/// `dst = 2 · src`: one read and one write per voxel, nothing else.
static STREAM: KernelSpec = KernelSpec {
    name: "probe/stream",
    sources: &[
        hounsfield::gpu::wgsl::TILE,
        "@group(0) @binding(0) var<storage, read> src: array<f32>;
        @group(0) @binding(1) var<storage, read_write> dst: array<f32>;
        @compute @workgroup_size(WORKGROUP)
        fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
            let i = linear_invocation(gid, n);
            if (i >= arrayLength(&dst)) { return; }
            dst[i] = 2.0 * src[i];
        }",
    ],
    entry: "main",
    bindings: &[Binding::Read, Binding::ReadWrite],
    constants: &[],
};

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Median wall time of `runs` calls after one warm-up, and the median of what they report
/// as GPU time (if any).
fn time<F>(runs: usize, mut call: F) -> Result<(Duration, Option<Duration>), hounsfield::Error>
where
    F: FnMut() -> Result<Option<Duration>, hounsfield::Error>,
{
    call()?;
    let mut walls = Vec::new();
    let mut gpus = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let gpu = call()?;
        walls.push(t.elapsed());
        gpus.extend(gpu);
    }
    walls.sort();
    gpus.sort();
    Ok((walls[walls.len() / 2], gpus.get(gpus.len() / 2).copied()))
}

fn row(what: &str, bytes: f64, (wall, gpu): (Duration, Option<Duration>)) {
    let rate = |d: Duration| bytes / d.as_secs_f64() / 1e9;
    let gpu_text = gpu.map_or("–".to_string(), |g| format!("{:.3} ms ({:.1} GB/s)", ms(g), rate(g)));
    println!("| {what} | {:.3} ms ({:.1} GB/s) | {gpu_text} |", ms(wall), rate(wall));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let shape: [usize; 3] = [args.shape[0], args.shape[1], args.shape[2]];
    let voxels = shape.iter().product::<usize>();
    let bytes = (voxels * 4) as f64;
    let t = Instant::now();
    let ctx = GpuContext::new()?;
    println!("adapter: {} (context in {:.0} ms)", ctx.adapter(), ms(t.elapsed()));
    println!(
        "volume: {shape:?} f32, {:.1} MiB; median of {} runs\n",
        bytes / (1 << 20) as f64,
        args.runs
    );
    println!("| piece | wall (bytes moved / wall) | GPU timestamps |\n|---|---|---|");

    let host: Vec<f32> = (0..voxels).map(|i| (i % 1000) as f32).collect();
    let mut copy = vec![0f32; voxels];
    row(
        "host memcpy (read + write)",
        2.0 * bytes,
        time(args.runs, || {
            copy.copy_from_slice(&host);
            Ok(None)
        })?,
    );
    let volume = ndarray::Array3::from_shape_vec(shape, host)?;
    row(
        "upload (GpuVolume::upload)",
        bytes,
        time(args.runs, || GpuVolume::upload(&ctx, volume.view()).map(|_| None))?,
    );
    let resident = GpuVolume::upload(&ctx, volume.view())?;
    row(
        "download (GpuVolume::download)",
        bytes,
        time(args.runs, || resident.download(&ctx).map(|_| None))?,
    );
    let quarter_shape = [shape[0].div_ceil(4), shape[1], shape[2]];
    let quarter = GpuVolume::zeros(&ctx, quarter_shape)?;
    row(
        "download of a quarter volume",
        bytes / 4.0,
        time(args.runs, || quarter.download(&ctx).map(|_| None))?,
    );
    row(
        "allocate a volume (GpuVolume::zeros)",
        bytes,
        time(args.runs, || GpuVolume::zeros(&ctx, shape).map(|_| None))?,
    );

    let output = GpuVolume::zeros(&ctx, shape)?;
    // The stream kernel binds at most one storage binding's worth (128 MiB on lavapipe).
    let streamed = (voxels as u64).min(ctx.max_storage_binding() / 4);
    fn window(buffer: &wgpu::Buffer, floats: u64) -> BufferWindow<'_> {
        BufferWindow {
            buffer,
            offset: 0,
            size: floats * 4,
        }
    }
    let stream_bytes = 2.0 * (streamed * 4) as f64;
    let stream = |dispatches: usize, fresh: bool| {
        let mut rec = Recorder::new(&ctx);
        let target = if fresh { Some(rec.volume(shape)?) } else { None };
        let dst = target.as_ref().unwrap_or(&output);
        for _ in 0..dispatches {
            rec.dispatch_linear(
                &STREAM,
                &[window(resident.buffer(), streamed), window(dst.buffer(), streamed)],
                streamed,
            )?;
        }
        Ok(rec.submit()?.duration().map(|d| d / dispatches as u32))
    };
    row(
        "stream kernel, 1 per submission",
        stream_bytes,
        time(args.runs, || stream(1, false))?,
    );
    row(
        "stream kernel, 1 per submission, fresh output",
        stream_bytes,
        time(args.runs, || stream(1, true))?,
    );
    let (wall, gpu) = time(args.runs, || stream(20, false))?;
    row(
        "stream kernel, 20 per submission (per dispatch)",
        stream_bytes,
        (wall / 20, gpu),
    );

    use hounsfield::filter::{Filter, Gaussian, Uniform};
    let filters: [(&str, Box<dyn Filter>); 2] = [
        ("uniform 3", Box::new(Uniform::new(&[3]))),
        ("gaussian σ 2", Box::new(Gaussian::new(&[2.0]))),
    ];
    for (name, filter) in &filters {
        row(
            &format!("{name}: apply_gpu_timed (fresh output)"),
            2.0 * bytes,
            time(args.runs, || {
                filter.apply_gpu_timed(&ctx, &resident).map(|(_, t)| t.duration())
            })?,
        );
        let (wall, gpu) = time(args.runs, || {
            let mut sum = Duration::ZERO;
            let mut any = false;
            for _ in 0..20 {
                let (_, t) = filter.apply_gpu_timed(&ctx, &resident)?;
                if let Some(d) = t.duration() {
                    sum += d;
                    any = true;
                }
            }
            Ok(any.then_some(sum / 20))
        })?;
        row(
            &format!("{name}: 20 calls back to back (per call)"),
            2.0 * bytes,
            (wall / 20, gpu),
        );
    }
    Ok(())
}

//! FDK at the RabbitCT problem size on whatever GPU is there — 512³ voxels from 496 projections
//! of 1248 × 960 (2.4 GB of f32 projections, above a software adapter's 2 GiB buffers and far
//! above its 128 MiB bindings): the views go to the GPU in batches of one binding, the volume
//! is back-projected in z-slabs. Circular short scan over 200° (as RabbitCT's C-arm), SID
//! 750 mm, SDD 1200 mm, 0.308 mm pixels; exact projections of the 3D Shepp–Logan phantom.
//!
//! `cargo run --release --example rabbitct_size` (minutes on a software GPU; add `--cpu` to
//! time the CPU path too). Not part of the tests.

use std::time::Instant;

use clap::Parser;
use hounsfield::gpu::GpuContext;
use hounsfield::recon::{Fdk, Geometry, Phantom, SheppLogan, centred_grid};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser, Debug)]
#[command(about = "FDK of 512³ from 496 projections of 1248×960 on the GPU (RabbitCT size)")]
struct Args {
    /// Also reconstruct on the CPU and compare.
    #[arg(long)]
    cpu: bool,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let views = 496;
    let angles: Vec<f64> = (0..views).map(|k| k as f64 * 200.0 / (views - 1) as f64).collect();
    let g = Geometry::cone(&angles, 750.0, 1200.0, 960, 1248, [0.308, 0.308], [0.0, 0.0])?;
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 100.0)?;
    let t = Instant::now();
    let projections = g.project_exact(&phantom)?;
    println!(
        "exact projections {views} × 960 × 1248 ({:.2} GB): {:.1} s",
        projections.len() as f64 * 4.0 / 1e9,
        t.elapsed().as_secs_f64()
    );
    let shape = [512, 512, 512];
    let grid = centred_grid(shape, [0.35, 0.45, 0.45])?;
    let fdk = Fdk::new(&g)?;
    println!("short scan: {}", fdk.is_short_scan());
    let ctx = GpuContext::new()?;
    println!("GPU: {}", ctx.adapter());
    let bar = ProgressBar::new(views as u64).with_style(ProgressStyle::with_template(
        "FDK on the GPU {bar:40} {pos}/{len} views, {elapsed} elapsed, ETA {eta}",
    )?);
    let t = Instant::now();
    let volume = fdk.reconstruct_gpu_volume(&ctx, projections.view(), shape, &grid, &mut |done, _| {
        bar.set_position(done as u64)
    })?;
    let gpu = volume.download(&ctx)?;
    bar.finish();
    let gpu_s = t.elapsed().as_secs_f64();
    let updates = 512f64.powi(3) * views as f64;
    println!(
        "GPU FDK 512³ from {views} × 960 × 1248: {gpu_s:.1} s ({:.2} GUPS){}",
        updates / gpu_s / 1e9,
        if ctx.adapter().is_software {
            " — software rasteriser: CPU time, not GPU speed"
        } else {
            ""
        }
    );
    let centre = gpu[[256, 256, 256]];
    println!("centre voxel {centre:.3} (phantom: {:.3})", phantom.value_at([0.0; 3]));
    if args.cpu {
        let t = Instant::now();
        let cpu = fdk.reconstruct_cpu(projections.view(), shape, &grid)?;
        let cpu_s = t.elapsed().as_secs_f64();
        let peak = cpu.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = gpu.iter().zip(&cpu).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        println!(
            "CPU FDK: {cpu_s:.1} s ({:.2} GUPS); GPU vs CPU max difference {:.1e} of the peak",
            updates / cpu_s / 1e9,
            worst / peak
        );
    }
    Ok(())
}

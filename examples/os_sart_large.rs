//! A 3D OS-SART run bigger than one storage binding of a software GPU: by default a 336³ volume
//! (145 MiB) from 24 cone-beam views of 1200² (132 MiB; fine detector pixels, few views, so
//! that lavapipe finishes in minutes), both above lavapipe's 128 MiB binding limit, so the GPU
//! path runs the volume in z-slabs and the projections in view batches. It prints the tiling,
//! the time per iteration, the error against the phantom and (with `--cpu`) the difference from
//! the CPU path on the same problem:
//! `cargo run --release --example os_sart_large -- --cpu`.

use std::time::Instant;

use clap::Parser;
use hounsfield::gpu::GpuContext;
use hounsfield::recon::iterative::{Constraint, Control, Iterative, Method, Progress};
use hounsfield::recon::{Geometry, Phantom, SheppLogan, centred_grid};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array3;

#[derive(Parser, Debug)]
#[command(about = "OS-SART on a cone-beam problem larger than the GPU's storage binding limit")]
struct Args {
    /// Volume edge in voxels (n³).
    #[arg(long, default_value_t = 336)]
    n: usize,
    /// Number of views over 360°.
    #[arg(long, default_value_t = 24)]
    views: usize,
    /// Detector rows and columns (default 25 n / 7: 1200 for 336).
    #[arg(long)]
    detector: Option<usize>,
    /// OS-SART iterations.
    #[arg(long, default_value_t = 1)]
    iterations: usize,
    /// Subsets of views.
    #[arg(long, default_value_t = 4)]
    subsets: usize,
    /// Also run the CPU path and compare.
    #[arg(long)]
    cpu: bool,
}

const MIB: f64 = 1024.0 * 1024.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let n = args.n;
    let det = args.detector.unwrap_or(25 * n / 7);
    let ctx = GpuContext::new()?;
    let angles: Vec<f64> = (0..args.views).map(|k| k as f64 * 360.0 / args.views as f64).collect();
    // Magnification 1.5; the detector spans 1.2 n at the isocentre (the phantom 0.94 n).
    let pixel = 1.2 * 1.5 * n as f64 / det as f64;
    let geometry = Geometry::cone(&angles, 1000.0, 1500.0, det, det, [pixel, pixel], [0.0, 0.0])?;
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 0.47 * n as f64)?;
    let shape = [n, n, n];
    let grid = centred_grid(shape, [1.0; 3])?;
    let binding = ctx.max_storage_binding() as f64 / MIB;
    let volume_mib = (n * n * n * 4) as f64 / MIB;
    let projections_mib = (args.views * det * det * 4) as f64 / MIB;
    println!(
        "adapter {}{}; storage binding limit {binding:.0} MiB",
        ctx.adapter().name,
        if ctx.adapter().is_software {
            " (software: a CPU emulating a GPU, not GPU speed)"
        } else {
            ""
        }
    );
    println!(
        "volume {n}³ = {volume_mib:.0} MiB ({}), projections {} × {det}² = {projections_mib:.0} MiB ({})",
        if volume_mib > binding { "z-slabs" } else { "one binding" },
        args.views,
        if projections_mib > binding {
            "view batches"
        } else {
            "one binding"
        },
    );
    let t = Instant::now();
    let projections = geometry.project_exact(&phantom)?;
    let truth = phantom.rasterize(shape, &grid, 1)?;
    println!("exact projections and phantom: {:.1} s", t.elapsed().as_secs_f64());
    let os_sart = Iterative::new(&geometry, shape, &grid, Method::OsSart { subsets: args.subsets })?
        .iterations(args.iterations)
        .constraint(Constraint::NonNegative);
    let mae =
        |x: &Array3<f32>| x.iter().zip(&truth).map(|(a, b)| f64::from((a - b).abs())).sum::<f64>() / x.len() as f64;

    let gpu = run("GPU", args.iterations, |callback| {
        os_sart.run_gpu(&ctx, projections.view(), callback)
    })?;
    println!(
        "GPU: MAE against the phantom {:.4} (zeros: {:.4})",
        mae(&gpu.volume),
        mae(&Array3::zeros(shape))
    );
    if args.cpu {
        let cpu = run("CPU", args.iterations, |callback| {
            os_sart.run_cpu(projections.view(), callback)
        })?;
        let peak = cpu.volume.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = gpu
            .volume
            .iter()
            .zip(&cpu.volume)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        println!(
            "CPU: MAE {:.4}; GPU vs CPU: max difference {worst:.2e} ({:.1e} of the peak {peak:.3})",
            mae(&cpu.volume),
            worst / peak
        );
    }
    Ok(())
}

type Callback<'a> = &'a mut dyn FnMut(&Progress) -> Control;

/// Runs one path with a progress bar, printing the time per iteration.
fn run(
    label: &str,
    iterations: usize,
    go: impl FnOnce(Callback<'_>) -> hounsfield::Result<hounsfield::recon::iterative::Reconstruction>,
) -> Result<hounsfield::recon::iterative::Reconstruction, Box<dyn std::error::Error>> {
    let bar = ProgressBar::new(iterations as u64).with_style(ProgressStyle::with_template(
        "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} iterations {msg}",
    )?);
    bar.set_prefix(label.to_string());
    let start = Instant::now();
    let mut last = start;
    let mut per_iteration = Vec::new();
    let mut callback = |p: &Progress| {
        per_iteration.push(last.elapsed().as_secs_f64());
        last = Instant::now();
        bar.set_message(format!("relative residual {:.4}", p.relative_residual));
        bar.inc(1);
        Control::Continue
    };
    let result = go(&mut callback)?;
    bar.finish();
    let total = start.elapsed().as_secs_f64();
    // The first interval also holds the upload and the SART weights (A 1, Aᵀ 1 per subset).
    println!(
        "{label}: {total:.1} s in all; per iteration {} s (the first includes the setup); relative residual {:.4}",
        per_iteration
            .iter()
            .map(|s| format!("{s:.1}"))
            .collect::<Vec<_>>()
            .join(", "),
        result.history.last().map_or(f64::NAN, |h| h.relative_residual)
    );
    Ok(result)
}

//! Times CPU SIRT on the iterative benchmark's 2D problem (256² from 180 parallel views of 256
//! pixels, 100 iterations, exact projections of the modified Shepp–Logan phantom) and writes the
//! problem for `scripts/python_iterative_baseline.py` (ASTRA's CPU SIRT on the same sinogram):
//! `cargo run --release --example sirt_problem -- /tmp/sirt`.

use std::time::Instant;

use hounsfield::recon::iterative::{Control, Iterative, Method};
use hounsfield::recon::{Geometry, Phantom, SheppLogan, centred_grid};
use ndarray_npy::write_npy;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "sirt_problem".into()));
    std::fs::create_dir_all(&dir)?;
    let angles: Vec<f64> = (0..180).map(f64::from).collect();
    let geometry = Geometry::parallel_2d(&angles, 256, 1.0)?;
    let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 110.0)?;
    let sinogram = geometry.project_exact(&phantom)?;
    let shape = [1, 256, 256];
    let grid = centred_grid(shape, [1.0; 3])?;
    let truth = phantom.rasterize(shape, &grid, 4)?;
    let mae = |x: &ndarray::Array3<f32>| {
        x.iter().zip(&truth).map(|(a, b)| f64::from((a - b).abs())).sum::<f64>() / x.len() as f64
    };
    for method in [Method::Sirt, Method::Cgls] {
        let iterations = if method == Method::Sirt { 100 } else { 20 };
        for _ in 0..2 {
            let t = Instant::now();
            let result = Iterative::new(&geometry, shape, &grid, method)?
                .iterations(iterations)
                .run_cpu(sinogram.view(), |_| Control::Continue)?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "hounsfield CPU {method:?} 256² / 180 views, {iterations} iterations: {secs:.2} s ({:.1} ms per iteration), MAE {:.4}, relative residual {:.4}",
                secs * 1e3 / iterations as f64,
                mae(&result.volume),
                result.history.last().map_or(f64::NAN, |h| h.relative_residual)
            );
            if method == Method::Sirt {
                write_npy(dir.join("sirt.npy"), &result.volume)?;
            }
        }
    }
    // The GPU path once, when an adapter exists (on lavapipe: a CPU emulating a GPU).
    if let Ok(ctx) = hounsfield::gpu::GpuContext::new() {
        let sirt = Iterative::new(&geometry, shape, &grid, Method::Sirt)?.iterations(100);
        let t = Instant::now();
        let gpu = sirt.run_gpu(&ctx, sinogram.view(), |_| Control::Continue)?;
        let secs = t.elapsed().as_secs_f64();
        let cpu = sirt.run_cpu(sinogram.view(), |_| Control::Continue)?;
        let worst = gpu
            .volume
            .iter()
            .zip(&cpu.volume)
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        println!(
            "hounsfield GPU SIRT on {}{}: {secs:.2} s end to end, MAE {:.4}, GPU vs CPU {worst:.1e}",
            ctx.adapter().name,
            if ctx.adapter().is_software {
                " (software: a CPU, not GPU speed)"
            } else {
                ""
            },
            mae(&gpu.volume)
        );
    }
    write_npy(dir.join("sinogram.npy"), &sinogram)?;
    write_npy(dir.join("truth.npy"), &truth)?;
    println!("wrote {}", dir.display());
    Ok(())
}

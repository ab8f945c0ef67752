//! Iterative reconstruction benchmarks (issue 7):
//! - SIRT, 2D, 256² from 180 parallel views of 256 pixels, 100 iterations (ASTRA's CPU SIRT is
//!   the reference: `cargo run --release --example sirt_problem -- DIR` then
//!   `scripts/python_iterative_baseline.py DIR`);
//! - OS-SART, 3D cone beam, 10 subsets: by default 128³ from 180 views of 192², 2 iterations;
//!   `HOUNSFIELD_BENCH_FULL=1` runs the 256³ from 360 views of 384², 10 iterations.
//!
//! GPU runs are end to end (upload, iterations on the device, download); on a software
//! adapter (lavapipe) they are a CPU emulating a GPU, not GPU speed. `HOUNSFIELD_BENCH_GPU=0`
//! skips them.
//!
//! Throughput is in voxel-view updates (forward and transpose each count volume × views per
//! iteration): criterion's "elem/s" read as updates per second (GUPS in G).

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hounsfield::recon::iterative::{Control, Iterative, Method};
use hounsfield::recon::{Geometry, Phantom, SheppLogan, centred_grid};

fn sirt_2d(c: &mut Criterion) {
    let angles: Vec<f64> = (0..180).map(f64::from).collect();
    let geometry = Geometry::parallel_2d(&angles, 256, 1.0).unwrap();
    let sinogram = geometry
        .project_exact(&Phantom::shepp_logan_2d(SheppLogan::Modified, 110.0).unwrap())
        .unwrap();
    let shape = [1, 256, 256];
    let grid = centred_grid(shape, [1.0; 3]).unwrap();
    let sirt = Iterative::new(&geometry, shape, &grid, Method::Sirt)
        .unwrap()
        .iterations(100);
    let mut group = c.benchmark_group("sirt_2d_256_180_100it");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(100 * 2 * 180 * 256 * 256));
    group.bench_function("cpu", |b| {
        b.iter(|| sirt.run_cpu(black_box(sinogram.view()), |_| Control::Continue).unwrap())
    });
    // Lavapipe needs about 90 s per run here (0.9 s per iteration): real GPUs only.
    if let Some(ctx) = common::gpu().filter(|c| !c.adapter().is_software) {
        group.bench_function("gpu", |b| {
            b.iter(|| {
                sirt.run_gpu(&ctx, black_box(sinogram.view()), |_| Control::Continue)
                    .unwrap()
            })
        });
    }
    group.finish();
}

fn os_sart_3d(c: &mut Criterion) {
    let full = std::env::var("HOUNSFIELD_BENCH_FULL").is_ok_and(|v| v == "1");
    let (n, views, det, iterations) = if full { (256, 360, 384, 10) } else { (128, 180, 192, 2) };
    let angles: Vec<f64> = (0..views).map(|k| k as f64 * 360.0 / views as f64).collect();
    let pixel = 1.2 * 256.0 / n as f64;
    let geometry = Geometry::cone(&angles, 1000.0, 1500.0, det, det, [pixel, pixel], [0.0, 0.0]).unwrap();
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 0.47 * n as f64).unwrap();
    let projections = geometry.project_exact(&phantom).unwrap();
    let shape = [n, n, n];
    let grid = centred_grid(shape, [1.0; 3]).unwrap();
    let os_sart = Iterative::new(&geometry, shape, &grid, Method::OsSart { subsets: 10 })
        .unwrap()
        .iterations(iterations);
    let mut group = c.benchmark_group(format!("os_sart_3d_{n}_{views}x{det}_{iterations}it"));
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements((iterations * 2 * views * n * n * n) as u64));
    group.bench_function("cpu", |b| {
        b.iter(|| {
            os_sart
                .run_cpu(black_box(projections.view()), |_| Control::Continue)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, sirt_2d, os_sart_3d);
criterion_main!(benches);

//! Reconstruction benchmarks (issue 6), CPU and GPU:
//! - 2D parallel FBP of 512×512 from 720 angles (scikit-image `iradon` is the reference:
//!   `scripts/python_recon_baseline.py`);
//! - FDK of 256³ from 360 cone-beam projections of 384² (RTK's CPU
//!   `FDKConeBeamReconstructionFilter` is the reference: `scripts/python_recon_baseline.py`
//!   on the data `cargo run --release --example fdk_problem` writes);
//! - the FDK back-projector alone, reported in giga-updates per second (voxels × views / s).
//!
//! `HOUNSFIELD_BENCH_GPU=0` skips the GPU. On a software adapter (lavapipe) the GPU numbers
//! are a CPU emulating a GPU, not GPU speed.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hounsfield::gpu::{GpuProjections, GpuVolume};
use hounsfield::recon::{Backprojector, Fbp2d, Fdk, Geometry, Joseph, Phantom, Projector, SheppLogan, centred_grid};
use ndarray::{Array3, Axis};

use common::gpu;

fn fbp_2d(c: &mut Criterion) {
    let n = 512;
    let angles: Vec<f64> = (0..720).map(|k| k as f64 * 0.25).collect();
    let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 240.0).unwrap();
    let sino = Geometry::parallel_2d(&angles, n, 1.0)
        .unwrap()
        .project_exact(&phantom)
        .unwrap()
        .index_axis_move(Axis(1), 0);
    let fbp = Fbp2d::new(&angles);
    let mut group = c.benchmark_group("fbp_2d_512_720");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    group.bench_function("cpu", |b| {
        b.iter(|| fbp.reconstruct_cpu(black_box(sino.view())).unwrap())
    });
    if let Some(ctx) = gpu() {
        // End to end: upload, WGSL FFT, back-projection, download.
        group.bench_function("gpu_end_to_end", |b| {
            b.iter(|| fbp.reconstruct_gpu(&ctx, black_box(sino.view())).unwrap())
        });
    }
    group.finish();
}

/// The FDK problem of the benchmark: 360 views over 360° of a 384² flat panel (1.2 mm pixels,
/// SID 1000 mm, SDD 1500 mm) and a 256³ volume of 1 mm voxels (shared with the example).
pub fn fdk_problem() -> (Geometry, Array3<f32>, [usize; 3]) {
    let angles: Vec<f64> = (0..360).map(f64::from).collect();
    let g = Geometry::cone(&angles, 1000.0, 1500.0, 384, 384, [1.2, 1.2], [0.0, 0.0]).unwrap();
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 120.0).unwrap();
    (g.clone(), g.project_exact(&phantom).unwrap(), [256, 256, 256])
}

fn fdk(c: &mut Criterion) {
    let (g, projections, shape) = fdk_problem();
    let grid = centred_grid(shape, [1.0; 3]).unwrap();
    let fdk = Fdk::new(&g).unwrap();
    let mut group = c.benchmark_group("fdk_256_from_360x384");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    group.bench_function("cpu", |b| {
        b.iter(|| {
            fdk.reconstruct_cpu(black_box(projections.view()), shape, &grid)
                .unwrap()
        })
    });
    group.finish();

    let backprojector = Backprojector::new(&g, shape, &grid).unwrap();
    let weights = vec![1.0; g.views.len()];
    let mut group = c.benchmark_group("backproject_256_from_360x384");
    group.sample_size(10).measurement_time(Duration::from_secs(30));
    // Elements = voxel updates, so criterion's "elem/s" is updates per second.
    group.throughput(Throughput::Elements(
        (shape.iter().product::<usize>() * g.views.len()) as u64,
    ));
    group.bench_function("cpu", |b| {
        b.iter(|| {
            backprojector
                .backproject_cpu(black_box(projections.view()), &weights)
                .unwrap()
        })
    });
    group.finish();
}

/// The quarter-size problem (128³ from 180 views of 192², 2 mm voxels, 2.4 mm pixels), CPU and
/// GPU, and Joseph's projector pair on it — sizes a software adapter finishes in seconds.
fn fdk_small(c: &mut Criterion) {
    let angles: Vec<f64> = (0..180).map(|k| k as f64 * 2.0).collect();
    let g = Geometry::cone(&angles, 1000.0, 1500.0, 192, 192, [2.4, 2.4], [0.0, 0.0]).unwrap();
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 120.0).unwrap();
    let projections = g.project_exact(&phantom).unwrap();
    let shape = [128, 128, 128];
    let grid = centred_grid(shape, [2.0; 3]).unwrap();
    let updates = (shape.iter().product::<usize>() * angles.len()) as u64;
    let fdk = Fdk::new(&g).unwrap();
    let ctx = gpu();
    let mut group = c.benchmark_group("fdk_128_from_180x192");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(updates));
    group.bench_function("cpu", |b| {
        b.iter(|| {
            fdk.reconstruct_cpu(black_box(projections.view()), shape, &grid)
                .unwrap()
        })
    });
    if let Some(ctx) = &ctx {
        group.bench_function("gpu_end_to_end", |b| {
            b.iter(|| {
                fdk.reconstruct_gpu(ctx, black_box(projections.view()), shape, &grid)
                    .unwrap()
            })
        });
    }
    group.finish();

    let joseph = Joseph::new(&g, shape, &grid).unwrap();
    let volume = phantom.rasterize(shape, &grid, 1).unwrap();
    let mut group = c.benchmark_group("joseph_128_180x192");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    // Elements = voxels × views, as for the back-projector.
    group.throughput(Throughput::Elements(updates));
    group.bench_function("forward_cpu", |b| {
        b.iter(|| joseph.forward_cpu(black_box(volume.view())).unwrap())
    });
    group.bench_function("transpose_cpu", |b| {
        b.iter(|| joseph.backward_cpu(black_box(projections.view())).unwrap())
    });
    if let Some(ctx) = &ctx {
        let v = GpuVolume::upload(ctx, volume.view()).unwrap();
        let p = GpuProjections::upload(ctx, projections.view()).unwrap();
        group.bench_function("forward_gpu_resident", |b| {
            b.iter(|| joseph.forward_gpu(ctx, black_box(&v)).unwrap())
        });
        group.bench_function("transpose_gpu_resident", |b| {
            b.iter(|| joseph.backward_gpu(ctx, black_box(&p)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, fbp_2d, fdk, fdk_small);
criterion_main!(benches);

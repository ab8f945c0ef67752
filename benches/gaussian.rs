//! Gaussian smoothing of a 512×512×256 f32 volume, sigma 2 (issue 2's benchmark).
//!
//! `cargo bench --bench gaussian` runs the CPU path and, where an adapter exists, the GPU path
//! twice: `gpu_resident` (volume already on the GPU; submit + wait, no transfers) and
//! `gpu_end_to_end` (upload + filter + download). On a software adapter (lavapipe) the GPU
//! numbers measure a CPU emulating a GPU, not GPU speed.
//! Set HOUNSFIELD_BENCH_SHAPE="nz,ny,nx" for another size.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hounsfield::filter::{Filter, Gaussian};
use hounsfield::gpu::{GpuContext, GpuVolume};
use ndarray::Array3;

fn shape() -> [usize; 3] {
    std::env::var("HOUNSFIELD_BENCH_SHAPE")
        .ok()
        .and_then(|s| {
            let v: Vec<usize> = s.split(',').filter_map(|p| p.trim().parse().ok()).collect();
            <[usize; 3]>::try_from(v).ok()
        })
        .unwrap_or([256, 512, 512])
}

fn volume(shape: [usize; 3]) -> Array3<f32> {
    let mut rng = hounsfield::rng::XorShift64::new(0x2545_F491_4F6C_DD1D);
    Array3::from_shape_simple_fn(shape, || rng.next_f32())
}

fn bench(c: &mut Criterion) {
    let shape = shape();
    let vol = volume(shape);
    let filter = Gaussian::new(&[2.0]);
    let bytes = (vol.len() * 4) as u64;
    let mut group = c.benchmark_group(format!("gaussian_3d_sigma2_{}x{}x{}", shape[0], shape[1], shape[2]));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Bytes(bytes));
    group.bench_function("cpu", |b| b.iter(|| filter.apply_cpu(black_box(vol.view())).unwrap()));

    match GpuContext::new() {
        Ok(ctx) => {
            eprintln!("GPU adapter: {}", ctx.adapter());
            let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
            group.bench_function("gpu_resident", |b| {
                b.iter(|| filter.apply_gpu(&ctx, &resident).unwrap())
            });
            group.bench_function("gpu_end_to_end", |b| {
                b.iter(|| {
                    let up = GpuVolume::upload(&ctx, vol.view()).unwrap();
                    filter.apply_gpu(&ctx, &up).unwrap().download(&ctx).unwrap()
                })
            });
        }
        Err(e) => eprintln!("GPU benchmarks skipped: {e}"),
    }
    group.finish();

    // One 512×512 slice: the 2D path, parallel inside the slice.
    let image = volume([1, 512, 512]).index_axis_move(ndarray::Axis(0), 0);
    let mut group = c.benchmark_group("gaussian_2d_sigma2_512x512");
    group
        .sample_size(20)
        .throughput(Throughput::Bytes((image.len() * 4) as u64));
    group.bench_function("cpu", |b| {
        b.iter(|| {
            filter
                .apply(&hounsfield::Backend::Cpu, black_box(image.view()))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The filter set (issue 5): every kernel on the CPU and, where an adapter exists, on the GPU
//! (`gpu_resident`: volume already on the GPU; `gpu_end_to_end`: upload + filter + download).
//! On a software adapter (lavapipe) the GPU numbers measure a CPU emulating a GPU.
//!
//! `cargo bench --bench filters -- median` runs one kernel. `HOUNSFIELD_BENCH_GPU=0` skips the
//! GPU variants. Sizes follow the issue: 512×512×256, and 512×512×64 for the costly kernels.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hounsfield::Grid;
use hounsfield::filter::{
    AnisotropicDiffusion, Bilateral, BinaryMorphology, Correlate, FillHoles, Filter, Footprint, Gaussian,
    GaussianGradientMagnitude, GaussianLaplace, GreyMorphology, Laplace, Median, MipRender, Pipeline, Projection,
    ProjectionKind, Resample, Sobel, Threshold, Uniform, UnsharpMask, WindowLevel, WindowPreset,
};
use hounsfield::gpu::GpuVolume;
use hounsfield::stats;
use ndarray::Array3;

use common::gpu;

fn volume(shape: [usize; 3]) -> Array3<f32> {
    let mut rng = hounsfield::rng::XorShift64::new(0x2545_F491_4F6C_DD1D);
    Array3::from_shape_simple_fn(shape, || rng.next_f32() * 2000.0 - 1000.0)
}

const FULL: [usize; 3] = [256, 512, 512];
const THIN: [usize; 3] = [64, 512, 512];
const CUBE: [usize; 3] = [256, 256, 256];

fn cases() -> Vec<(&'static str, [usize; 3], Box<dyn Filter>)> {
    vec![
        ("median_r1", THIN, Box::new(Median::new(&[1]))),
        ("median_r2", THIN, Box::new(Median::new(&[2]))),
        ("bilateral_d1_r50", CUBE, Box::new(Bilateral::new(&[1.0], 50.0))),
        ("uniform3", FULL, Box::new(Uniform::new(&[3]))),
        ("sobel_magnitude", FULL, Box::new(Sobel::magnitude())),
        ("laplace", FULL, Box::new(Laplace::new())),
        (
            "gaussian_gradient_magnitude_s2",
            FULL,
            Box::new(GaussianGradientMagnitude::new(&[2.0])),
        ),
        (
            "grey_erosion_box1",
            FULL,
            Box::new(GreyMorphology::erosion(Footprint::Box(vec![1]))),
        ),
        (
            "grey_dilation_ball2",
            THIN,
            Box::new(GreyMorphology::dilation(Footprint::Ball(2))),
        ),
        ("binary_opening_cross", FULL, Box::new(BinaryMorphology::opening())),
        (
            "window_soft_tissue",
            FULL,
            Box::new(WindowLevel::preset(WindowPreset::SoftTissue)),
        ),
        ("threshold", FULL, Box::new(Threshold::between(-100.0, 300.0))),
        ("gaussian_laplace_s2", FULL, Box::new(GaussianLaplace::new(&[2.0]))),
        ("unsharp_r2", FULL, Box::new(UnsharpMask::new(&[2.0], 1.0))),
        (
            "correlate_3x3x3",
            FULL,
            Box::new(Correlate::new(
                ndarray::Array3::from_elem((3, 3, 3), 1.0 / 27.0).into_dyn().view(),
            )),
        ),
        (
            "diffusion_gradient_5it",
            CUBE,
            Box::new(AnisotropicDiffusion::gradient(5, 3.0)),
        ),
        (
            "diffusion_curvature_5it",
            CUBE,
            Box::new(AnisotropicDiffusion::curvature(5, 3.0)),
        ),
        (
            "fill_holes",
            FULL,
            Box::new(Pipeline::new().then(Threshold::between(0.0, 1000.0)).then(FillHoles)),
        ),
        (
            "resample_to_1mm_from_0.7x0.7x2.5",
            FULL,
            Box::new(Resample::to_spacing(
                &Grid::with_spacing([2.5, 0.7, 0.7]).unwrap(),
                &[1.0],
            )),
        ),
        ("mip_z", FULL, Box::new(Projection::new(ProjectionKind::Max, 0))),
        ("mip_render_30deg", FULL, Box::new(MipRender::new(30.0))),
        (
            "pipeline_gauss_median_gauss",
            THIN,
            Box::new(
                Pipeline::new()
                    .then(Gaussian::new(&[1.0]))
                    .then(Median::new(&[1]))
                    .then(Gaussian::new(&[0.5])),
            ),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let ctx = gpu();
    // One volume per shape, made once (a 256 MiB volume takes a while to fill).
    let mut volumes = std::collections::HashMap::new();
    for (name, shape, filter) in cases() {
        let vol = volumes.entry(shape).or_insert_with(|| volume(shape));
        let mut group = c.benchmark_group(format!("{name}_{}x{}x{}", shape[0], shape[1], shape[2]));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(6))
            .throughput(Throughput::Bytes((vol.len() * 4) as u64));
        group.bench_function("cpu", |b| b.iter(|| filter.apply_cpu(black_box(vol.view())).unwrap()));
        if let Some(ctx) = &ctx {
            let resident = GpuVolume::upload(ctx, vol.view()).unwrap();
            group.bench_function("gpu_resident", |b| b.iter(|| filter.apply_gpu(ctx, &resident).unwrap()));
            group.bench_function("gpu_end_to_end", |b| {
                b.iter(|| {
                    let up = GpuVolume::upload(ctx, vol.view()).unwrap();
                    filter.apply_gpu(ctx, &up).unwrap().download(ctx).unwrap()
                })
            });
        }
        group.finish();
    }

    // Reductions.
    let vol = volume(FULL);
    let mut group = c.benchmark_group("statistics_256x512x512");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes((vol.len() * 4) as u64));
    let cpu = hounsfield::Backend::Cpu;
    group.bench_function("stats_cpu", |b| b.iter(|| stats::statistics(&cpu, vol.view()).unwrap()));
    group.bench_function("histogram256_cpu", |b| {
        b.iter(|| stats::histogram(&cpu, vol.view(), 256, Some((-1000.0, 1000.0))).unwrap())
    });
    group.bench_function("otsu_cpu", |b| {
        b.iter(|| stats::threshold_otsu(&cpu, vol.view(), 256).unwrap())
    });
    if let Some(ctx) = &ctx {
        let resident = GpuVolume::upload(ctx, vol.view()).unwrap();
        group.bench_function("stats_gpu_resident", |b| {
            b.iter(|| stats::statistics_gpu(ctx, &resident).unwrap())
        });
        group.bench_function("histogram256_gpu_resident", |b| {
            b.iter(|| stats::histogram_gpu(ctx, &resident, 256, Some((-1000.0, 1000.0))).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

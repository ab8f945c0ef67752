//! Reconstruction benchmarks (issue 6): 2D parallel FBP of 512×512 from 720 angles on the CPU
//! (scikit-image `iradon` is the reference: `scripts/python_recon_baseline.py`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hounsfield::recon::{Fbp2d, Geometry, Phantom, SheppLogan};
use ndarray::Axis;

fn bench(c: &mut Criterion) {
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

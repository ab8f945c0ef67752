//! DICOM series loading: a generated 512×512×300 CT series (int16, uncompressed, written once to
//! `target/dicom_bench_series`), scanned and assembled into a volume. Throughput is in bytes of
//! files read. Compare with `python3 scripts/python_dicom_baseline.py target/dicom_bench_series`
//! (SimpleITK `ImageSeriesReader`, pydicom) on the same files.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hounsfield::io::dicom::{Policy, WriteOptions, load_series, scan, write_series};
use hounsfield::{Grid, Volume};
use ndarray::Array3;

fn series() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/dicom_bench_series");
    if !dir.join("slice_00300.dcm").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let data = Array3::from_shape_fn((300, 512, 512), |(z, y, x)| {
            let (dy, dx) = (y as f32 - 256.0, x as f32 - 256.0);
            if dx * dx + dy * dy < 200.0 * 200.0 {
                ((x * 7 + y * 13 + z * 3) % 200) as f32 - 100.0
            } else {
                -1000.0
            }
        });
        let grid = Grid {
            spacing: [1.0, 0.7, 0.7],
            ..Grid::default()
        };
        write_series(&Volume::new(data, grid).unwrap(), &dir, &WriteOptions::default()).unwrap();
    }
    dir
}

fn load(c: &mut Criterion) {
    let dir = series();
    let bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    eprintln!("{} threads", rayon::current_num_threads());
    let mut group = c.benchmark_group("dicom_load_512x512x300");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("scan_and_load", |b| {
        b.iter(|| {
            let found = scan(black_box(&dir)).unwrap();
            load_series(&found.series[0], Policy::Strict).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);

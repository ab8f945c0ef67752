//! Statistics, histograms and Otsu's threshold: numpy / scikit-image fixtures, GPU/CPU
//! agreement (exact for counts and thresholds), NaN handling, bad input.

mod common;

use common::{backends, fixture, gpus_small_bindings, random_volume};
use hounsfield::gpu::GpuVolume;
use hounsfield::stats::{histogram, histogram_gpu, statistics, statistics_gpu, threshold_otsu, threshold_otsu_gpu};
use hounsfield::{Backend, Error};
use ndarray::{Array2, Array3, ArrayD, Ix2, Ix3};

fn ct() -> Array3<f32> {
    fixture::<f32>("stats/ct.npy").into_dimensionality::<Ix3>().unwrap()
}

fn image() -> Array2<f32> {
    fixture::<f32>("stats/image.npy").into_dimensionality::<Ix2>().unwrap()
}

#[test]
fn statistics_match_numpy_in_f64() {
    let expected: ArrayD<f64> = fixture("stats/ct_stats.npy");
    let vol = ct();
    for backend in backends() {
        let s = statistics(&backend, vol.view()).unwrap();
        assert_eq!(s.count as usize, vol.len());
        assert_eq!(s.nan_count, 0);
        assert_eq!(f64::from(s.min), expected[0], "min on {backend}");
        assert_eq!(f64::from(s.max), expected[1], "max on {backend}");
        // GPU partials are f32 Welford over 16 Ki values; merged in f64.
        assert!(
            (s.mean - expected[2]).abs() < 1e-4 * expected[3],
            "mean {} vs {} on {backend}",
            s.mean,
            expected[2]
        );
        assert!(
            (s.std - expected[3]).abs() < 1e-5 * expected[3],
            "std {} vs {} on {backend}",
            s.std,
            expected[3]
        );
    }
}

#[test]
fn statistics_skip_nan_and_count_it() {
    let mut vol = random_volume([5, 7, 9], 2);
    vol[[1, 2, 3]] = f32::NAN;
    vol[[4, 6, 8]] = f32::NAN;
    let finite: Vec<f64> = vol.iter().filter(|v| !v.is_nan()).map(|&v| f64::from(v)).collect();
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / finite.len() as f64;
    for backend in backends() {
        let s = statistics(&backend, vol.view()).unwrap();
        assert_eq!((s.count, s.nan_count), (finite.len() as u64, 2), "on {backend}");
        assert!(
            (s.mean - mean).abs() < 1e-6 && (s.std - var.sqrt()).abs() < 1e-6,
            "on {backend}"
        );
        assert!((s.std_ddof(1) - (var * finite.len() as f64 / (finite.len() - 1) as f64).sqrt()).abs() < 1e-6);
    }
    let all_nan = Array3::from_elem((2, 2, 2), f32::NAN);
    for backend in backends() {
        let s = statistics(&backend, all_nan.view()).unwrap();
        assert_eq!((s.count, s.nan_count), (0, 8));
        assert!(s.mean.is_nan() && s.min.is_nan() && s.std.is_nan());
    }
}

#[test]
fn a_large_offset_does_not_cancel_the_variance() {
    // Values 1e4 + small noise: naive sum-of-squares in f32 would lose the variance entirely.
    let noise = random_volume([8, 64, 64], 5);
    let vol = noise.mapv(|v| 1.0e4 + v);
    let exact = {
        let v: Vec<f64> = vol.iter().map(|&v| f64::from(v)).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    for backend in backends() {
        let s = statistics(&backend, vol.view()).unwrap();
        assert!(
            (s.std - exact).abs() < 1e-3 * exact,
            "std {} vs {exact} on {backend}",
            s.std
        );
    }
}

#[test]
fn histograms_match_numpy_exactly() {
    let vol = ct();
    let img = image();
    for backend in backends() {
        let h = histogram(&backend, vol.view(), 37, Some((-1000.0, 200.0))).unwrap();
        let counts: ArrayD<i64> = fixture("stats/ct_hist_range_counts.npy");
        let edges: ArrayD<f64> = fixture("stats/ct_hist_range_edges.npy");
        assert_eq!(
            h.counts,
            counts.iter().map(|&c| c as u64).collect::<Vec<_>>(),
            "range, {backend}"
        );
        assert_eq!(
            h.edges,
            edges.iter().copied().collect::<Vec<_>>(),
            "range edges, {backend}"
        );
        for (name, auto) in [
            ("ct", histogram(&backend, vol.view(), 100, None).unwrap()),
            ("image", histogram(&backend, img.view(), 100, None).unwrap()),
        ] {
            let counts: ArrayD<i64> = fixture(&format!("stats/{name}_hist_auto_counts.npy"));
            let edges: ArrayD<f64> = fixture(&format!("stats/{name}_hist_auto_edges.npy"));
            assert_eq!(
                auto.counts,
                counts.iter().map(|&c| c as u64).collect::<Vec<_>>(),
                "{name} auto, {backend}"
            );
            assert_eq!(
                auto.edges,
                edges.iter().copied().collect::<Vec<_>>(),
                "{name} auto edges, {backend}"
            );
        }
    }
}

#[test]
fn otsu_matches_scikit_image_exactly() {
    let vol = ct();
    let img = image();
    for backend in backends() {
        for nbins in [256, 64] {
            let expected: ArrayD<f32> = fixture(&format!("stats/ct_otsu_{nbins}.npy"));
            assert_eq!(
                threshold_otsu(&backend, vol.view(), nbins).unwrap(),
                expected[0],
                "ct {nbins} {backend}"
            );
            let expected: ArrayD<f32> = fixture(&format!("stats/image_otsu_{nbins}.npy"));
            assert_eq!(
                threshold_otsu(&backend, img.view(), nbins).unwrap(),
                expected[0],
                "image {nbins} {backend}"
            );
        }
        // A constant image returns its value (scikit-image does the same).
        let flat = Array2::from_elem((4, 4), 7.5f32);
        assert_eq!(threshold_otsu(&backend, flat.view(), 256).unwrap(), 7.5);
    }
}

#[test]
fn gpu_reductions_agree_with_cpu_across_slabs_and_large_bin_counts() {
    // 64 KiB bindings: the volume is reduced in many windows.
    let vol = random_volume([37, 41, 43], 11).mapv(|v| v * 2000.0 - 1000.0);
    let cpu_stats = statistics(&Backend::Cpu, vol.view()).unwrap();
    let cpu_hist = histogram(&Backend::Cpu, vol.view(), 5000, None).unwrap(); // > workgroup bins
    let cpu_otsu = threshold_otsu(&Backend::Cpu, vol.view(), 256).unwrap();
    for ctx in gpus_small_bindings() {
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        let s = statistics_gpu(&ctx, &resident).unwrap();
        assert_eq!((s.count, s.min, s.max), (cpu_stats.count, cpu_stats.min, cpu_stats.max));
        assert!((s.mean - cpu_stats.mean).abs() < 1e-3 && (s.std - cpu_stats.std).abs() < 1e-3);
        assert_eq!(histogram_gpu(&ctx, &resident, 5000, None).unwrap(), cpu_hist);
        assert_eq!(threshold_otsu_gpu(&ctx, &resident, 256).unwrap(), cpu_otsu);
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let vol = random_volume([3, 4, 5], 1);
    let mut with_nan = vol.clone();
    with_nan[[0, 0, 0]] = f32::NAN;
    for backend in backends() {
        for bins in [0, 1 << 25] {
            let err = histogram(&backend, vol.view(), bins, None).unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { name: "bins", .. }), "{err}");
        }
        for range in [(1.0, 0.0), (f64::NAN, 1.0), (0.0, f64::INFINITY)] {
            let err = histogram(&backend, vol.view(), 10, Some(range)).unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { name: "range", .. }), "{err}");
        }
        // numpy: "autodetected range of [nan, nan] is not finite".
        let err = histogram(&backend, with_nan.view(), 10, None).unwrap_err();
        assert!(err.to_string().contains("NaN"), "{err}");
        // With an explicit range, NaN is simply not counted.
        let h = histogram(&backend, with_nan.view(), 10, Some((0.0, 1.0))).unwrap();
        assert_eq!(h.counts.iter().sum::<u64>(), vol.len() as u64 - 1);
        let err = threshold_otsu(&backend, with_nan.view(), 256).unwrap_err();
        assert!(err.to_string().contains("NaN"), "{err}");
        let empty = Array2::<f32>::zeros((0, 3));
        assert!(matches!(
            statistics(&backend, empty.view()),
            Err(Error::InvalidShape(_))
        ));
    }
}

#[test]
fn blocks_give_the_histogram_and_threshold_of_the_whole() {
    // What chunked (Dask) reductions rely on: edges from the whole data's min/max, counts summed
    // over blocks, Otsu on the sum — exactly the one-call results.
    use hounsfield::stats::{histogram_counts, histogram_edges, otsu_from_counts};
    let vol = random_volume([10, 12, 9], 5).mapv(|v| v * 700.0 - 250.0);
    for backend in backends() {
        for bins in [7usize, 256] {
            let whole = histogram(&backend, vol.view(), bins, None).unwrap();
            let lo = vol.iter().cloned().fold(f32::INFINITY, f32::min);
            let hi = vol.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let edges = histogram_edges(bins, None, (lo, hi)).unwrap();
            assert_eq!(edges.iter().map(|&e| f64::from(e)).collect::<Vec<_>>(), whole.edges);
            let mut counts = vec![0u64; bins];
            for (z0, z1) in [(0, 3), (3, 4), (4, 10)] {
                let block = vol.slice(ndarray::s![z0..z1, .., ..]);
                for (c, b) in counts
                    .iter_mut()
                    .zip(histogram_counts(&backend, block, &edges).unwrap())
                {
                    *c += b;
                }
            }
            assert_eq!(counts, whole.counts, "{bins} bins on {backend}");
            assert_eq!(
                otsu_from_counts(&counts, &edges).unwrap(),
                threshold_otsu(&backend, vol.view(), bins).unwrap()
            );
        }
    }
    assert!(histogram_edges(4, None, (f32::NAN, 1.0)).is_err());
    assert!(histogram_counts(&hounsfield::Backend::Cpu, vol.view(), &[1.0, 0.0]).is_err());
    assert!(otsu_from_counts(&[1, 2], &[0.0, 1.0]).is_err());
}

//! Bilateral filter: SimpleITK fixtures (2D and 3D, anisotropic spacing), GPU/CPU parity across
//! slabs, edge preservation, bad input.

mod common;

use common::{assert_close, assert_close_f32, backends, fixture, gpus, gpus_small_bindings, random_volume};
use hounsfield::BoundaryMode;
use hounsfield::filter::{Bilateral, Filter};
use hounsfield::gpu::GpuVolume;
use ndarray::{Array2, Array3, ArrayD, Ix2, Ix3};

#[test]
fn matches_simpleitk_bilateral() {
    let vol = fixture::<f32>("bilateral/input_3d.npy")
        .into_dimensionality::<Ix3>()
        .unwrap();
    let img = fixture::<f32>("bilateral/input_2d.npy")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let want3: ArrayD<f64> = fixture("bilateral/3d_d1.6mm_r30.npy");
    let want2: ArrayD<f64> = fixture("bilateral/2d_d1_r20_s50.npy");
    for backend in backends() {
        // SimpleITK spacing (x, y, z) = (0.8, 0.9, 2.0) mm.
        let f = Bilateral::new(&[1.6], 30.0).spacing(&[2.0, 0.9, 0.8]);
        let out = f.apply(&backend, vol.view()).unwrap();
        // ITK works in f64: the table index of a few neighbours may round to the next entry.
        assert_close(
            out.view().into_dyn(),
            want3.view(),
            0.0,
            0.05,
            &format!("3D on {backend}"),
        );
        let mean_err = (&out.mapv(f64::from).into_dyn() - &want3)
            .mapv(f64::abs)
            .mean()
            .unwrap();
        assert!(mean_err < 1e-3, "mean error {mean_err} on {backend}");
        let out = Bilateral::new(&[1.0], 20.0)
            .range_samples(50)
            .apply(&backend, img.view())
            .unwrap();
        assert_close(
            out.view().into_dyn(),
            want2.view(),
            0.0,
            0.05,
            &format!("2D on {backend}"),
        );
    }
}

#[test]
fn smooths_flat_regions_and_keeps_edges() {
    let img = Array2::from_shape_fn((20, 20), |(y, x)| {
        (if x < 10 { 0.0 } else { 500.0 }) + ((y * 7 + x * 3) % 11) as f32
    });
    for backend in backends() {
        let out = Bilateral::new(&[2.0], 40.0).apply(&backend, img.view()).unwrap();
        let spread = |a: &Array2<f32>, x0: usize| {
            let v: Vec<f32> = a.slice(ndarray::s![5..15, x0..x0 + 3]).iter().copied().collect();
            v.iter().cloned().fold(f32::MIN, f32::max) - v.iter().cloned().fold(f32::MAX, f32::min)
        };
        assert!(
            spread(&out, 2) < spread(&img, 2) / 2.0,
            "noise not reduced on {backend}"
        );
        // Across the edge nothing leaks: the range weight of a 500 HU step is 0.
        assert!(
            out[[10, 9]] < 11.0 && out[[10, 10]] > 499.0,
            "edge blurred on {backend}"
        );
    }
}

#[test]
fn gpu_matches_cpu_across_slabs() {
    let vol = random_volume([30, 19, 23], 4).mapv(|v| v * 100.0);
    let filters = [
        Bilateral::new(&[1.0], 20.0),
        Bilateral::new(&[2.0, 1.0, 0.5], 35.0)
            .mode(BoundaryMode::Reflect)
            .range_samples(400),
        Bilateral::new(&[1.6], 50.0).spacing(&[3.0, 0.8, 0.8]),
    ];
    for ctx in gpus_small_bindings().into_iter().chain(gpus()) {
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        for f in &filters {
            let cpu = f.apply_cpu(vol.view()).unwrap();
            let gpu = f.apply_gpu(&ctx, &resident).unwrap().download(&ctx).unwrap();
            assert_close_f32(
                gpu.view().into_dyn(),
                cpu.view().into_dyn(),
                1e-4,
                1e-3,
                &format!("{f:?}"),
            );
        }
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let vol = Array3::<f32>::zeros((3, 4, 5));
    for backend in backends() {
        let expect = common::expect_param_error::<Array3<f32>>;
        expect(Bilateral::new(&[0.0], 10.0).apply(&backend, vol.view()), "domain_sigma");
        expect(
            Bilateral::new(&[100.0], 10.0).apply(&backend, vol.view()),
            "domain_sigma",
        );
        expect(Bilateral::new(&[1.0], -1.0).apply(&backend, vol.view()), "range_sigma");
        expect(
            Bilateral::new(&[1.0], f64::NAN).apply(&backend, vol.view()),
            "range_sigma",
        );
        expect(
            Bilateral::new(&[1.0], 1.0).range_samples(0).apply(&backend, vol.view()),
            "range_samples",
        );
        expect(
            Bilateral::new(&[1.0], 1.0).spacing(&[0.0]).apply(&backend, vol.view()),
            "spacing",
        );
    }
}

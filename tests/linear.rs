//! Separable linear filters (uniform, correlate1d, Sobel, Prewitt, Laplace, Gaussian gradient
//! magnitude and Laplacian, ITK gradient magnitude): scipy / SimpleITK fixtures on every
//! backend, analytic checks, GPU/CPU parity across slabs, bad input.

mod common;

use common::{
    ALL_MODES, assert_close, assert_close_f32, backends, fixture, gpus, gpus_small_bindings, mode_name, random_volume,
};
use hounsfield::filter::{
    Correlate1d, Filter, Gaussian, GaussianGradientMagnitude, GaussianLaplace, GradientMagnitude, Laplace, Prewitt,
    Sobel, Uniform, gaussian_kernel_1d,
};
use hounsfield::gpu::GpuVolume;
use hounsfield::{Backend, BoundaryMode, Error};
use ndarray::{Array2, Array3, ArrayD, Ix2, Ix3};

/// Applies `f` to the fixture input `name` ("2d" or "3d") and compares with `expected`.
fn check(backend: &Backend, f: &dyn Fn(&Backend, &ArrayD<f32>) -> ArrayD<f32>, name: &str, expected: &str, atol: f64) {
    let input: ArrayD<f32> = fixture(&format!("linear/input_{name}.npy"));
    let want: ArrayD<f64> = fixture(&format!("linear/{expected}.npy"));
    let got = f(backend, &input);
    assert_close(got.view(), want.view(), 1e-5, atol, &format!("{expected} on {backend}"));
}

/// Runs a filter on a 2D or 3D dynamic array.
fn run<F: Filter>(filter: F) -> impl Fn(&Backend, &ArrayD<f32>) -> ArrayD<f32> {
    move |backend, input| {
        if input.ndim() == 2 {
            let a = input.clone().into_dimensionality::<Ix2>().unwrap();
            filter.apply(backend, a.view()).unwrap().into_dyn()
        } else {
            let a = input.clone().into_dimensionality::<Ix3>().unwrap();
            filter.apply(backend, a.view()).unwrap().into_dyn()
        }
    }
}

#[test]
fn match_scipy_fixtures_in_every_mode() {
    let weights: ArrayD<f64> = fixture("linear/weights.npy");
    let w: Vec<f64> = weights.iter().copied().collect();
    for backend in backends() {
        for name in ["2d", "3d"] {
            let ndim = if name == "2d" { 2 } else { 3 };
            for mode in ALL_MODES {
                let m = mode_name(mode);
                check(
                    &backend,
                    &run(Uniform::new(&[3]).mode(mode)),
                    name,
                    &format!("{name}_uniform3_{m}"),
                    1e-6,
                );
                check(
                    &backend,
                    &run(Uniform::new(&[4]).mode(mode)),
                    name,
                    &format!("{name}_uniform4_{m}"),
                    1e-6,
                );
                for origin in [-2isize, 0, 1] {
                    let f = Correlate1d::new(&w, ndim - 1).origin(origin).mode(mode);
                    check(&backend, &run(f), name, &format!("{name}_corr1d_o{origin}_{m}"), 1e-6);
                }
                check(
                    &backend,
                    &run(Correlate1d::new(&w, 0).mode(mode)),
                    name,
                    &format!("{name}_corr1d_axis0_{m}"),
                    1e-6,
                );
                for axis in 0..ndim {
                    check(
                        &backend,
                        &run(Sobel::axis(axis).mode(mode)),
                        name,
                        &format!("{name}_sobel{axis}_{m}"),
                        1e-5,
                    );
                    check(
                        &backend,
                        &run(Prewitt::axis(axis).mode(mode)),
                        name,
                        &format!("{name}_prewitt{axis}_{m}"),
                        1e-5,
                    );
                }
                check(
                    &backend,
                    &run(Sobel::magnitude().mode(mode)),
                    name,
                    &format!("{name}_sobelmag_{m}"),
                    1e-5,
                );
                check(
                    &backend,
                    &run(Laplace::new().mode(mode)),
                    name,
                    &format!("{name}_laplace_{m}"),
                    1e-5,
                );
                check(
                    &backend,
                    &run(GaussianGradientMagnitude::new(&[1.2]).mode(mode)),
                    name,
                    &format!("{name}_ggm_{m}"),
                    1e-5,
                );
                let sigma: &[f64] = if ndim == 2 { &[0.9, 1.6] } else { &[0.8, 1.1, 1.6] };
                check(
                    &backend,
                    &run(GaussianLaplace::new(sigma).mode(mode)),
                    name,
                    &format!("{name}_glaplace_{m}"),
                    1e-5,
                );
            }
        }
        check(
            &backend,
            &run(Uniform::new(&[1, 2, 5])),
            "3d",
            "3d_uniform_aniso_reflect",
            1e-6,
        );
    }
}

#[test]
fn gradient_magnitude_matches_simpleitk_with_spacing() {
    let grid = hounsfield::Grid::with_spacing([2.5, 0.7, 0.9]).unwrap();
    for backend in backends() {
        check(
            &backend,
            &run(GradientMagnitude::for_grid(&grid)),
            "3d",
            "3d_gradmag_itk",
            1e-5,
        );
    }
}

#[test]
fn gaussian_derivative_kernels_are_the_analytic_derivatives() {
    // Order 1: -x/σ² φ(x); order 2: (x²/σ⁴ - 1/σ²) φ(x); φ normalised to sum 1.
    let (sigma, radius) = (1.7, 7);
    let phi = gaussian_kernel_1d(sigma, 0, radius);
    let d1 = gaussian_kernel_1d(sigma, 1, radius);
    let d2 = gaussian_kernel_1d(sigma, 2, radius);
    for (i, x) in (-7..=7).enumerate() {
        let x = x as f64;
        assert!((d1[i] - (-x / (sigma * sigma)) * phi[i]).abs() < 1e-15);
        assert!((d2[i] - (x * x / sigma.powi(4) - 1.0 / (sigma * sigma)) * phi[i]).abs() < 1e-15);
    }
    // The derivative of a linear ramp is its slope, away from the borders.
    let ramp = Array2::from_shape_fn((9, 40), |(_, x)| 3.0 * x as f32);
    for backend in backends() {
        let g = GaussianGradientMagnitude::new(&[1.5])
            .apply(&backend, ramp.view())
            .unwrap();
        assert!((g[[4, 20]] - 3.0).abs() < 1e-3, "{}", g[[4, 20]]);
        // truncate 4 leaves a kernel sum of -1e-4 (scipy gives -0.0115 here too); 8 does not.
        let l = GaussianLaplace::new(&[1.5])
            .truncate(8.0)
            .apply(&backend, ramp.view())
            .unwrap();
        assert!(l[[4, 20]].abs() < 1e-3, "{}", l[[4, 20]]);
    }
}

#[test]
fn gpu_matches_cpu_on_awkward_shapes_and_slabs() {
    let filters: Vec<Box<dyn Filter>> = vec![
        Box::new(Uniform::new(&[5, 2, 3])),
        Box::new(Sobel::magnitude().mode(BoundaryMode::Wrap)),
        Box::new(Laplace::new().mode(BoundaryMode::Constant(2.0))),
        Box::new(GaussianLaplace::new(&[2.5, 1.0, 1.0]).mode(BoundaryMode::Mirror)),
        Box::new(Correlate1d::new(&[1.0, 2.0, -3.0, 0.5, 0.25], 0).origin(-1)),
    ];
    for ctx in gpus_small_bindings().into_iter().chain(gpus()) {
        for shape in [[1, 1, 1], [3, 1, 17], [40, 21, 19]] {
            let vol = random_volume(shape, 77);
            let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
            for f in &filters {
                let cpu = f.apply_cpu(vol.view()).unwrap();
                let gpu = f.apply_gpu(&ctx, &resident).unwrap().download(&ctx).unwrap();
                assert_close_f32(
                    gpu.view().into_dyn(),
                    cpu.view().into_dyn(),
                    1e-5,
                    1e-5,
                    &format!("{} {shape:?}", f.name()),
                );
            }
        }
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let vol = Array3::<f32>::zeros((3, 4, 5));
    let img = Array2::<f32>::zeros((4, 5));
    for backend in backends() {
        let expect = common::expect_param_error::<Array3<f32>>;
        expect(Uniform::new(&[0]).apply(&backend, vol.view()), "size");
        expect(Uniform::new(&[3, 3]).apply(&backend, vol.view()), "size");
        expect(Correlate1d::new(&[], 0).apply(&backend, vol.view()), "weights");
        expect(
            Correlate1d::new(&[1.0, f64::NAN], 0).apply(&backend, vol.view()),
            "weights",
        );
        expect(
            Correlate1d::new(&[1.0, 2.0, 3.0], 0)
                .origin(2)
                .apply(&backend, vol.view()),
            "origin",
        );
        expect(Correlate1d::new(&[1.0], 3).apply(&backend, vol.view()), "axis");
        expect(Sobel::axis(3).apply(&backend, vol.view()), "axis");
        expect(GaussianLaplace::new(&[-1.0]).apply(&backend, vol.view()), "sigma");
        expect(
            GaussianGradientMagnitude::new(&[1.0])
                .truncate(0.0)
                .apply(&backend, vol.view()),
            "truncate",
        );
        expect(
            GradientMagnitude::new().spacing(&[0.0]).apply(&backend, vol.view()),
            "spacing",
        );
        expect(
            Laplace::new()
                .mode(BoundaryMode::Constant(f32::INFINITY))
                .apply(&backend, vol.view()),
            "mode",
        );
        assert!(matches!(
            Sobel::axis(2).apply(&backend, img.view()),
            Err(Error::InvalidParameter { name: "axis", .. })
        ));
    }
}

#[test]
fn separable_plans_run_in_few_dispatches() {
    // Sobel/Prewitt/Laplace/gradient magnitudes and small boxes: one staged dispatch where the
    // pass-by-pass engine took up to 12 (on a context of its own: the counts are per device).
    use hounsfield::gpu::GpuContext;
    if gpus().is_empty() {
        return;
    }
    let ctx = GpuContext::new().unwrap();
    let vol = random_volume([9, 14, 11], 5);
    let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
    let filters: Vec<(Box<dyn Filter>, u64)> = vec![
        (Box::new(Sobel::magnitude()), 1),
        (Box::new(Prewitt::magnitude().mode(BoundaryMode::Constant(-1.0))), 1),
        (Box::new(Laplace::new()), 1),
        (Box::new(GradientMagnitude::new().spacing(&[0.5, 1.0, 2.0])), 1),
        (Box::new(Uniform::new(&[3])), 1),
        // σ = 0.5 reaches 2 voxels: 5³ multiply-adds.
        (Box::new(Gaussian::new(&[0.5])), 1),
        // σ = 2 reaches 8 voxels: passes with shared prefixes (Gaussian and derivative along
        // z, three y-passes, the x-passes combined), 4 dispatches where there were 12 and 11.
        (Box::new(GaussianGradientMagnitude::new(&[2.0])), 4),
        (
            Box::new(GaussianLaplace::new(&[2.0]).mode(BoundaryMode::Constant(0.5))),
            4,
        ),
    ];
    for (f, dispatches) in filters {
        let before = ctx.work();
        let gpu = f.apply_gpu(&ctx, &resident).unwrap();
        let work = ctx.work().since(&before);
        assert_eq!(work.dispatches, dispatches, "{}: {work:?}", f.name());
        let cpu = f.apply_cpu(vol.view()).unwrap();
        assert_close_f32(
            gpu.download(&ctx).unwrap().view().into_dyn(),
            cpu.view().into_dyn(),
            1e-5,
            1e-5,
            f.name(),
        );
    }
}

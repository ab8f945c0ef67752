//! Anisotropic diffusion: SimpleITK fixtures (gradient and curvature, 2D and 3D with spacing),
//! GPU/CPU parity across slabs, the stability limit, bad input.

mod common;

use common::{assert_close, assert_close_f32, backends, fixture, gpus, gpus_small_bindings, random_volume};
use hounsfield::filter::{AnisotropicDiffusion, Filter};
use hounsfield::gpu::GpuVolume;
use ndarray::{Array3, ArrayD, Axis, Ix3};

#[test]
fn matches_simpleitk_anisotropic_diffusion() {
    let vol = fixture::<f32>("diffusion/input_3d.npy")
        .into_dimensionality::<Ix3>()
        .unwrap();
    let img = vol.index_axis(Axis(0), 3).to_owned();
    for backend in backends() {
        for (name, f3, f2) in [
            (
                "gradient",
                AnisotropicDiffusion::gradient(5, 2.0),
                AnisotropicDiffusion::gradient(8, 1.5),
            ),
            (
                "curvature",
                AnisotropicDiffusion::curvature(5, 2.0),
                AnisotropicDiffusion::curvature(8, 1.5),
            ),
        ] {
            let want: ArrayD<f64> = fixture(&format!("diffusion/3d_{name}.npy"));
            let out = f3
                .spacing(&[2.0, 0.9, 0.8])
                .time_step(0.04)
                .apply(&backend, vol.view())
                .unwrap();
            assert_close(
                out.view().into_dyn(),
                want.view(),
                1e-4,
                1e-3,
                &format!("3D {name} on {backend}"),
            );
            let want: ArrayD<f64> = fixture(&format!("diffusion/2d_{name}.npy"));
            let out = f2.time_step(0.125).apply(&backend, img.view()).unwrap();
            assert_close(
                out.view().into_dyn(),
                want.view(),
                1e-4,
                1e-3,
                &format!("2D {name} on {backend}"),
            );
        }
    }
}

#[test]
fn gpu_matches_cpu_across_slabs() {
    let vol = random_volume([35, 21, 19], 6).mapv(|v| v * 100.0);
    let filters = [
        AnisotropicDiffusion::gradient(3, 1.0),
        AnisotropicDiffusion::curvature(3, 2.5).spacing(&[3.0, 1.0, 0.7]),
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
fn unstable_time_steps_and_bad_parameters_are_errors() {
    let vol = Array3::<f32>::zeros((4, 5, 6));
    for backend in backends() {
        let err = AnisotropicDiffusion::gradient(1, 1.0)
            .time_step(0.1)
            .apply(&backend, vol.view())
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("unstable") && text.contains("0.0625"), "{text}");
        // With 0.5 mm voxels the limit halves.
        let err = AnisotropicDiffusion::curvature(1, 1.0)
            .spacing(&[0.5])
            .time_step(0.05)
            .apply(&backend, vol.view())
            .unwrap_err();
        assert!(err.to_string().contains("0.03125"), "{err}");
        let expect = common::expect_param_error::<Array3<f32>>;
        expect(
            AnisotropicDiffusion::gradient(1, 0.0).apply(&backend, vol.view()),
            "conductance",
        );
        expect(
            AnisotropicDiffusion::gradient(1, 1.0)
                .time_step(-1.0)
                .apply(&backend, vol.view()),
            "time_step",
        );
        expect(
            AnisotropicDiffusion::gradient(1, 1.0)
                .spacing(&[f64::NAN])
                .apply(&backend, vol.view()),
            "spacing",
        );
        expect(
            AnisotropicDiffusion::gradient(1_000_000, 1.0).apply(&backend, vol.view()),
            "iterations",
        );
        // The default time step is the stability limit, and zero iterations is the identity.
        assert_eq!(
            AnisotropicDiffusion::gradient(0, 1.0)
                .apply(&backend, vol.view())
                .unwrap(),
            vol
        );
    }
}

/// `⟨|∇I|²⟩` as ITK scales the conductance: central differences, edges repeated.
fn mean_gradient_squared(v: &Array3<f32>) -> f64 {
    let [nz, ny, nx] = [v.shape()[0], v.shape()[1], v.shape()[2]];
    let at = |z: isize, y: isize, x: isize| {
        v[[
            z.clamp(0, nz as isize - 1) as usize,
            y.clamp(0, ny as isize - 1) as usize,
            x.clamp(0, nx as isize - 1) as usize,
        ]]
    };
    let mut sum = 0.0f64;
    for ((z, y, x), _) in v.indexed_iter() {
        let (z, y, x) = (z as isize, y as isize, x as isize);
        let d = [
            (at(z + 1, y, x) - at(z - 1, y, x)) / -2.0,
            (at(z, y + 1, x) - at(z, y - 1, x)) / -2.0,
            (at(z, y, x + 1) - at(z, y, x - 1)) / -2.0,
        ];
        sum += f64::from(d.iter().map(|d| d * d).sum::<f32>());
    }
    sum / v.len() as f64
}

#[test]
fn a_given_mean_gradient_replaces_the_measured_one() {
    // What chunked (Dask) diffusion relies on: one iteration with the whole volume's mean given
    // equals one ordinary iteration, and then depends only on the 3×3×3 neighbourhood.
    let vol = random_volume([12, 20, 18], 41);
    let mean = mean_gradient_squared(&vol);
    for backend in backends() {
        for filter in [
            AnisotropicDiffusion::gradient(1, 1.5),
            AnisotropicDiffusion::curvature(1, 1.5),
        ] {
            let measured = filter.apply(&backend, vol.view()).unwrap();
            let given = filter
                .clone()
                .mean_gradient_squared(mean)
                .apply(&backend, vol.view())
                .unwrap();
            assert_close_f32(
                given.view().into_dyn(),
                measured.view().into_dyn(),
                1e-5,
                1e-6,
                &format!("given mean on {backend}"),
            );
            // Change the far end of the volume: with the mean given, the near end is untouched.
            let mut changed = vol.clone();
            changed
                .slice_mut(ndarray::s![8.., .., ..])
                .mapv_inplace(|v| v * 3.0 + 1.0);
            let other = filter
                .clone()
                .mean_gradient_squared(mean)
                .apply(&backend, changed.view())
                .unwrap();
            assert_eq!(
                other.slice(ndarray::s![..7, .., ..]),
                given.slice(ndarray::s![..7, .., ..]),
                "one iteration reads one voxel around each on {backend}"
            );
        }
    }
    let bad = AnisotropicDiffusion::gradient(1, 1.0).mean_gradient_squared(f64::NAN);
    assert!(bad.apply(&hounsfield::Backend::Cpu, vol.view()).is_err());
}

#[test]
fn gpu_iterations_never_wait_for_the_host() {
    // K is computed on the device: five iterations are one submission with no read-back.
    use hounsfield::gpu::GpuContext;
    if gpus().is_empty() {
        return;
    }
    let ctx = GpuContext::new().unwrap();
    let vol = random_volume([6, 20, 18], 8);
    let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
    for filter in [
        AnisotropicDiffusion::gradient(5, 1.5),
        AnisotropicDiffusion::curvature(5, 1.5),
    ] {
        let before = ctx.work();
        let out = filter.apply_gpu(&ctx, &resident).unwrap();
        let work = ctx.work().since(&before);
        assert_eq!((work.submissions, work.readbacks), (1, 0), "{work:?}");
        assert_eq!(work.kernels["filter/diffusion_conductance_scale"].dispatches, 5);
        let cpu = filter.apply_cpu(vol.view()).unwrap();
        assert_close_f32(
            out.download(&ctx).unwrap().view().into_dyn(),
            cpu.view().into_dyn(),
            1e-5,
            1e-5,
            "five iterations on one submission",
        );
    }
}

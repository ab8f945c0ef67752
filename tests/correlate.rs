//! Dense correlation / convolution: scipy fixtures in every mode (odd and even kernel sizes),
//! GPU/CPU parity across slabs, bad input.

mod common;

use common::{
    ALL_MODES, assert_close, assert_close_f32, backends, fixture, gpus, gpus_small_bindings, mode_name, random_volume,
};
use hounsfield::filter::{Correlate, Filter};
use hounsfield::gpu::GpuVolume;
use hounsfield::{BoundaryMode, Error};
use ndarray::{Array2, Array3, ArrayD, Ix2, Ix3};

#[test]
fn matches_scipy_correlate_and_convolve() {
    let vol = fixture::<f32>("dense/input_3d.npy")
        .into_dimensionality::<Ix3>()
        .unwrap();
    let img = fixture::<f32>("dense/input_2d.npy")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let k3: ArrayD<f64> = fixture("dense/kernel_3d.npy");
    let k2: ArrayD<f64> = fixture("dense/kernel_2d.npy");
    for backend in backends() {
        for mode in ALL_MODES {
            for op in ["correlate", "convolve"] {
                let make = |k: &ArrayD<f64>| {
                    let f = if op == "correlate" {
                        Correlate::new(k.view())
                    } else {
                        Correlate::convolve(k.view())
                    };
                    f.mode(mode)
                };
                let want: ArrayD<f64> = fixture(&format!("dense/3d_{op}_{}.npy", mode_name(mode)));
                let out = make(&k3).apply(&backend, vol.view()).unwrap();
                assert_close(
                    out.view().into_dyn(),
                    want.view(),
                    1e-5,
                    1e-5,
                    &format!("3D {op} {mode} on {backend}"),
                );
                let want: ArrayD<f64> = fixture(&format!("dense/2d_{op}_{}.npy", mode_name(mode)));
                let out = make(&k2).apply(&backend, img.view()).unwrap();
                assert_close(
                    out.view().into_dyn(),
                    want.view(),
                    1e-5,
                    1e-5,
                    &format!("2D {op} {mode} on {backend}"),
                );
            }
        }
    }
}

#[test]
fn gpu_matches_cpu_across_slabs() {
    let vol = random_volume([40, 17, 23], 2);
    let kernel = ndarray::Array3::from_shape_fn((7, 2, 3), |(z, y, x)| {
        (z as f64 - 3.0) * 0.1 + y as f64 - x as f64 * 0.5
    })
    .into_dyn();
    for ctx in gpus_small_bindings().into_iter().chain(gpus()) {
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        for f in [
            Correlate::new(kernel.view()),
            Correlate::convolve(kernel.view()).mode(BoundaryMode::Wrap),
        ] {
            let cpu = f.apply_cpu(vol.view()).unwrap();
            let gpu = f.apply_gpu(&ctx, &resident).unwrap().download(&ctx).unwrap();
            assert_close_f32(gpu.view().into_dyn(), cpu.view().into_dyn(), 1e-5, 1e-5, f.name());
        }
    }
}

#[test]
fn bad_kernels_are_typed_errors() {
    let vol = Array3::<f32>::zeros((3, 4, 5));
    let big = Array3::<f64>::zeros((8, 1, 1)).into_dyn();
    let flat = Array2::<f64>::zeros((3, 3)).into_dyn();
    let mut nan = Array3::<f64>::zeros((3, 3, 3));
    nan[[1, 1, 1]] = f64::NAN;
    let nan = nan.into_dyn();
    for backend in backends() {
        for k in [&big, &flat, &nan] {
            match Correlate::new(k.view()).apply(&backend, vol.view()) {
                Err(Error::InvalidParameter { name: "weights", .. }) => {}
                other => panic!("expected a weights error, got {other:?}"),
            }
        }
    }
}

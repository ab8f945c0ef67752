//! Median filter: scipy fixtures (exact), GPU/CPU parity (exact), bad input.

mod common;

use common::{ALL_MODES, backends, fixture, gpus, gpus_small_bindings, mode_name, random_volume};
use hounsfield::filter::{Filter, Median};
use hounsfield::gpu::GpuVolume;
use hounsfield::{BoundaryMode, Error};
use ndarray::{Array2, Array3, ArrayD, Ix2, Ix3};

/// Exact equality, naming the first differing voxel.
fn assert_exact(actual: &ArrayD<f32>, expected: &ArrayD<f32>, what: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shapes differ");
    if let Some((idx, (a, e))) = actual
        .indexed_iter()
        .zip(expected.iter())
        .map(|((i, a), e)| (i, (a, e)))
        .find(|(_, (a, e))| a != e)
    {
        panic!("{what}: {a} != {e} at {idx:?}");
    }
}

#[test]
fn matches_scipy_median_filter_exactly() {
    let cases: [(&str, &str, [usize; 3]); 7] = [
        ("2d_r1", "input_2d", [0, 1, 1]),
        ("2d_r2", "input_2d", [0, 2, 2]),
        ("3d_r1", "input_3d", [1, 1, 1]),
        ("3d_r2", "input_3d", [2, 2, 2]),
        ("3d_aniso", "input_3d", [0, 1, 2]),
        ("3d_r3", "input_3d", [3, 3, 3]),
        ("ties_r1", "input_ties", [1, 1, 1]),
    ];
    for backend in backends() {
        for (case, input, r) in cases {
            let data: ArrayD<f32> = fixture(&format!("median/{input}.npy"));
            for mode in ALL_MODES {
                let expected: ArrayD<f32> = fixture(&format!("median/{case}_{}.npy", mode_name(mode)));
                let actual = if data.ndim() == 2 {
                    let img = data.clone().into_dimensionality::<Ix2>().unwrap();
                    Median::new(&r[1..])
                        .mode(mode)
                        .apply(&backend, img.view())
                        .unwrap()
                        .into_dyn()
                } else {
                    let vol = data.clone().into_dimensionality::<Ix3>().unwrap();
                    Median::new(&r)
                        .mode(mode)
                        .apply(&backend, vol.view())
                        .unwrap()
                        .into_dyn()
                };
                assert_exact(&actual, &expected, &format!("{case} {mode} on {backend}"));
            }
        }
    }
}

#[test]
fn removes_salt_and_pepper_and_keeps_edges() {
    // A step edge with isolated outliers: the 3×3×3 median restores the clean step.
    let clean = Array3::from_shape_fn((6, 12, 14), |(_, _, x)| if x < 7 { 0.0f32 } else { 100.0 });
    let mut noisy = clean.clone();
    for (i, v) in noisy.iter_mut().enumerate() {
        if i % 37 == 5 {
            *v = if *v == 0.0 { 1000.0 } else { -1000.0 };
        }
    }
    for backend in backends() {
        let out = Median::new(&[1]).apply(&backend, noisy.view()).unwrap();
        assert_eq!(out, clean, "on {backend}");
    }
}

#[test]
fn gpu_matches_cpu_exactly_on_awkward_shapes_and_radii() {
    let shapes = [[1, 1, 1], [1, 7, 9], [5, 1, 13], [3, 17, 1], [9, 11, 13], [4, 33, 70]];
    let radii = [
        [1, 1, 1],
        [0, 1, 2],
        [2, 2, 2],
        [1, 0, 0],
        [3, 1, 2],
        [0, 0, 0],
        [0, 0, 13],
        [3, 3, 3],
    ];
    for ctx in gpus() {
        for (i, shape) in shapes.iter().enumerate() {
            let vol = random_volume(*shape, 40 + i as u64);
            let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
            for (j, r) in radii.iter().enumerate() {
                // Every mode on the 3×3×3 case; elsewhere one mode per case, rotating.
                let modes = if j == 0 {
                    &ALL_MODES[..]
                } else {
                    &ALL_MODES[(i + j) % 5..(i + j) % 5 + 1]
                };
                for &mode in modes {
                    let f = Median::new(r).mode(mode);
                    let cpu = f.apply_cpu(vol.view()).unwrap();
                    let gpu = f.apply_gpu(&ctx, &resident).unwrap().download(&ctx).unwrap();
                    assert_eq!(
                        gpu,
                        cpu,
                        "shape {shape:?} radius {r:?} {mode} on {}",
                        ctx.adapter().name
                    );
                }
            }
        }
    }
}

#[test]
fn gpu_slab_tiling_matches_cpu() {
    // 64 KiB bindings: 16 slices of 32×32 per slab, so a 40-slice volume runs in several slabs.
    let vol = random_volume([40, 32, 32], 9);
    for ctx in gpus_small_bindings() {
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        for (r, mode) in ALL_MODES
            .iter()
            .map(|&m| ([1, 1, 1], m))
            .chain([([2, 1, 1], BoundaryMode::Wrap), ([2, 1, 1], BoundaryMode::Reflect)])
        {
            {
                let f = Median::new(&r).mode(mode);
                let cpu = f.apply_cpu(vol.view()).unwrap();
                let gpu = f.apply_gpu(&ctx, &resident).unwrap().download(&ctx).unwrap();
                assert_eq!(gpu, cpu, "tiled, radius {r:?}, {mode}");
            }
        }
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let vol = Array3::<f32>::zeros((3, 4, 5));
    for backend in backends() {
        let err = Median::new(&[1, 1]).apply(&backend, vol.view()).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { name: "radius", .. }), "{err}");
        let err = Median::new(&[26]).apply(&backend, vol.view()).unwrap_err();
        assert!(err.to_string().contains("radius 26"), "{err}");
        let err = Median::new(&[1])
            .mode(BoundaryMode::Constant(f32::NAN))
            .apply(&backend, vol.view())
            .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { name: "mode", .. }), "{err}");
        let empty = Array2::<f32>::zeros((0, 4));
        assert!(matches!(
            Median::new(&[1]).apply(&backend, empty.view()),
            Err(Error::InvalidShape(_))
        ));
    }
}

#[test]
fn nan_in_the_data_only_affects_its_neighbourhood() {
    let clean = random_volume([4, 6, 8], 3);
    let mut vol = clean.clone();
    vol[[2, 3, 4]] = f32::NAN;
    let reference = Median::new(&[1]).apply_cpu(clean.view()).unwrap();
    for backend in backends() {
        // No panic, and outside the NaN's 3×3×3 neighbourhood the result is the NaN-free one.
        let out = Median::new(&[1]).apply(&backend, vol.view()).unwrap();
        for ((z, y, x), &v) in out.indexed_iter() {
            let near = z.abs_diff(2) <= 1 && y.abs_diff(3) <= 1 && x.abs_diff(4) <= 1;
            if !near {
                assert_eq!(v, reference[[z, y, x]], "({z}, {y}, {x}) on {backend}");
            }
        }
    }
}

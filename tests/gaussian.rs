//! Gaussian filter: analytic properties, scipy reference fixtures, GPU/CPU parity, bad input.

mod common;

use std::path::PathBuf;

use common::{
    ALL_MODES, assert_close, assert_close_f32, backends, gpus, gpus_small_bindings, mode_name, random_volume,
};
use hounsfield::filter::Filter;
use hounsfield::gpu::GpuVolume;
use hounsfield::{Backend, BoundaryMode, Error, Grid, Volume, filter::Gaussian};
use ndarray::{Array2, Array3, ArrayD, Axis, IxDyn};
use ndarray_npy::read_npy;

// ---------------------------------------------------------------------------------------------
// Analytic

#[test]
fn impulse_response_is_the_sampled_normalised_gaussian() {
    let (sz, sy, sx) = (1.2, 0.7, 2.0);
    let shape = [15, 11, 23];
    let centre = [7, 5, 11];
    let mut vol = Array3::<f32>::zeros(shape);
    vol[centre] = 1.0;
    for backend in backends() {
        let out = Gaussian::new(&[sz, sy, sx]).apply(&backend, vol.view()).unwrap();
        let kz = Gaussian::kernel_1d(sz, Gaussian::radius(sz, 4.0));
        let ky = Gaussian::kernel_1d(sy, Gaussian::radius(sy, 4.0));
        let kx = Gaussian::kernel_1d(sx, Gaussian::radius(sx, 4.0));
        // The discrete kernel itself: exp(-x²/2σ²) normalised to sum 1.
        let norm: f64 = (-4..=4).map(|x: i32| (-0.5 * (x as f64 / 1.0).powi(2)).exp()).sum();
        let k1 = Gaussian::kernel_1d(1.0, 4);
        assert!((k1[4] - 1.0 / norm).abs() < 1e-15 && (k1.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let mut expected = ArrayD::<f64>::zeros(IxDyn(&shape));
        for ((z, y, x), _) in vol.indexed_iter() {
            let (dz, dy, dx) = (
                z as isize - centre[0] as isize,
                y as isize - centre[1] as isize,
                x as isize - centre[2] as isize,
            );
            let tap = |k: &[f64], d: isize| {
                let r = (k.len() / 2) as isize;
                if d.abs() <= r { k[(d + r) as usize] } else { 0.0 }
            };
            expected[[z, y, x]] = tap(&kz, dz) * tap(&ky, dy) * tap(&kx, dx);
        }
        assert_close(
            out.view().into_dyn(),
            expected.view(),
            1e-5,
            1e-8,
            &format!("impulse on {backend}"),
        );
    }
}

#[test]
fn constant_volume_stays_constant_in_every_mode() {
    let vol = Array3::<f32>::from_elem([6, 9, 13], 3.25);
    for backend in backends() {
        for mode in ALL_MODES {
            // In constant mode the outside value must equal the volume's to keep it constant.
            let mode = if let BoundaryMode::Constant(_) = mode {
                BoundaryMode::Constant(3.25)
            } else {
                mode
            };
            let out = Gaussian::new(&[1.0, 2.5, 3.0])
                .mode(mode)
                .apply(&backend, vol.view())
                .unwrap();
            let worst = out.iter().map(|v| (v - 3.25).abs()).fold(0.0f32, f32::max);
            assert!(worst < 3.25 * 2e-6, "{mode} on {backend}: constant drifted by {worst}");
        }
    }
}

#[test]
fn wrap_mode_preserves_the_sum() {
    let vol = random_volume([9, 10, 12], 7);
    let before: f64 = vol.iter().map(|&v| v as f64).sum();
    for backend in backends() {
        let out = Gaussian::new(&[1.5, 0.9, 2.2])
            .mode(BoundaryMode::Wrap)
            .apply(&backend, vol.view())
            .unwrap();
        let after: f64 = out.iter().map(|&v| v as f64).sum();
        assert!(
            (after - before).abs() < before * 1e-5,
            "{backend}: sum {before} became {after}"
        );
        // And it really smoothed: the variance dropped.
        let var = |a: &Array3<f32>| {
            let m = a.mean().unwrap();
            a.mapv(|v| (v - m) * (v - m)).mean().unwrap()
        };
        assert!(var(&out) < 0.5 * var(&vol), "{backend}: variance did not drop");
    }
}

#[test]
fn sigma_in_millimetres_uses_the_grid_spacing() {
    let vol = random_volume([8, 12, 10], 3);
    let grid = Grid::with_spacing([2.5, 0.5, 0.8]).unwrap();
    let volume = Volume::new(vol.clone(), grid).unwrap();
    let by_mm = Gaussian::from_mm(&[5.0, 1.0, 1.6], &grid)
        .unwrap()
        .apply_volume(&Backend::Cpu, &volume)
        .unwrap();
    let by_voxel = Gaussian::new(&[2.0, 2.0, 2.0])
        .apply(&Backend::Cpu, vol.view())
        .unwrap();
    assert_eq!(by_mm.grid(), &grid);
    assert_close_f32(
        by_mm.data().into_dyn(),
        by_voxel.view().into_dyn(),
        0.0,
        1e-7,
        "mm vs voxels",
    );
}

#[test]
fn two_d_images_are_filtered_in_two_dimensions() {
    let img = Array2::from_shape_vec((21, 17), common::random_values(21 * 17, 11)).unwrap();
    for backend in backends() {
        let out2 = Gaussian::new(&[1.3]).apply(&backend, img.view()).unwrap();
        // Same as a one-slice volume with sigma 0 along z.
        let as_vol = img.clone().insert_axis(Axis(0));
        let out3 = Gaussian::new(&[0.0, 1.3, 1.3]).apply(&backend, as_vol.view()).unwrap();
        assert_eq!(out2.shape(), &[21, 17]);
        assert_close_f32(
            out2.view().into_dyn(),
            out3.index_axis(Axis(0), 0).into_dyn(),
            0.0,
            0.0,
            "2D vs 3D",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// scipy reference fixtures (tests/fixtures/generate.py)

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gaussian")
        .join(name)
}

#[test]
fn matches_scipy_gaussian_filter_fixtures() {
    let img: ArrayD<f32> = read_npy(fixture("input_2d.npy")).unwrap();
    let vol: ArrayD<f32> = read_npy(fixture("input_3d.npy")).unwrap();
    let cases: [(&str, &ArrayD<f32>, &[f64], f64); 5] = [
        ("2d_iso", &img, &[1.5], 4.0),
        ("2d_aniso", &img, &[0.8, 2.2], 4.0),
        ("3d_aniso", &vol, &[1.0, 0.0, 2.5], 4.0),
        ("3d_large", &vol, &[3.0, 4.0, 5.0], 4.0),
        ("3d_trunc", &vol, &[1.3], 2.0),
    ];
    let mut checked = 0;
    for backend in backends() {
        for (name, input, sigma, truncate) in cases {
            for mode in ALL_MODES {
                let expected: ArrayD<f64> = read_npy(fixture(&format!("{name}_{}.npy", mode_name(mode)))).unwrap();
                let filter = Gaussian::new(sigma).truncate(truncate).mode(mode);
                let actual: ArrayD<f32> = if input.ndim() == 2 {
                    let v = input.view().into_dimensionality::<ndarray::Ix2>().unwrap();
                    filter.apply(&backend, v).unwrap().into_dyn()
                } else {
                    let v = input.view().into_dimensionality::<ndarray::Ix3>().unwrap();
                    filter.apply(&backend, v).unwrap().into_dyn()
                };
                assert_close(
                    actual.view(),
                    expected.view(),
                    1e-5,
                    1e-6,
                    &format!("{name} {mode} on {backend}"),
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 25);
}

// ---------------------------------------------------------------------------------------------
// GPU vs CPU parity

fn gpu_matches_cpu(ctx: &hounsfield::gpu::GpuContext, vol: &Array3<f32>, filter: &Gaussian, what: &str) {
    let cpu = filter.apply_cpu(vol.view()).unwrap();
    let resident = GpuVolume::upload(ctx, vol.view()).unwrap();
    let gpu = filter.apply_gpu(ctx, &resident).unwrap().download(ctx).unwrap();
    assert_close_f32(gpu.view().into_dyn(), cpu.view().into_dyn(), 1e-5, 1e-6, what);
}

#[test]
fn gpu_matches_cpu_on_awkward_shapes() {
    for ctx in gpus() {
        let shapes = [
            [5, 67, 131],
            [1, 33, 65],
            [17, 1, 30],
            [9, 13, 1],
            [1, 1, 1],
            [3, 2, 257],
        ];
        for (i, shape) in shapes.into_iter().enumerate() {
            let vol = random_volume(shape, i as u64);
            for mode in ALL_MODES {
                let f = Gaussian::new(&[1.7, 0.6, 2.3]).mode(mode);
                gpu_matches_cpu(
                    &ctx,
                    &vol,
                    &f,
                    &format!("{shape:?} {mode} on {}", ctx.adapter().backend),
                );
            }
        }
    }
}

#[test]
fn gpu_matches_cpu_with_radius_larger_than_the_axis() {
    for ctx in gpus() {
        let vol = random_volume([4, 6, 9], 5);
        for mode in ALL_MODES {
            let f = Gaussian::new(&[6.0, 9.0, 12.0]).mode(mode);
            gpu_matches_cpu(
                &ctx,
                &vol,
                &f,
                &format!("large sigma {mode} on {}", ctx.adapter().backend),
            );
        }
    }
}

#[test]
fn gpu_slab_tiling_matches_cpu_in_every_mode() {
    // 64 KiB bindings: a 40×20×30 volume (96 KB) runs in several slabs, some gathered (wrap).
    for ctx in gpus_small_bindings() {
        assert!(ctx.max_storage_binding() <= 64 * 1024);
        let vol = random_volume([40, 20, 30], 9);
        for mode in ALL_MODES {
            for sigma in [[1.0, 1.0, 1.0], [3.0, 0.0, 0.5]] {
                let f = Gaussian::new(&sigma).mode(mode);
                gpu_matches_cpu(
                    &ctx,
                    &vol,
                    &f,
                    &format!("tiled {mode} sigma {sigma:?} on {}", ctx.adapter().backend),
                );
            }
        }
        // A halo that cannot fit one binding is a clear error, not a wrong picture.
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        let err = Gaussian::new(&[10.0, 0.0, 0.0]).apply_gpu(&ctx, &resident).unwrap_err();
        assert!(matches!(err, Error::TooLarge(_)), "{err}");
    }
}

#[test]
fn gpu_handles_a_volume_above_128_mib() {
    for ctx in gpus() {
        // 129 slices of 512×512 f32 = 129 MiB: above lavapipe's 128 MiB binding limit.
        let shape = [129, 512, 512];
        let vol = random_volume(shape, 13);
        let f = Gaussian::new(&[1.0, 1.5, 1.0]);
        gpu_matches_cpu(&ctx, &vol, &f, &format!("129 MiB volume on {}", ctx.adapter().backend));
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[test]
fn bad_sigma_and_truncate_are_typed_errors() {
    let vol = Array3::<f32>::zeros([4, 4, 4]);
    for backend in backends() {
        for sigma in [
            vec![-1.0],
            vec![f64::NAN],
            vec![f64::INFINITY],
            vec![1.0, 2.0],
            vec![1.0, 1.0, 1.0, 1.0],
            vec![],
        ] {
            let err = Gaussian::new(&sigma).apply(&backend, vol.view()).unwrap_err();
            assert!(
                matches!(err, Error::InvalidParameter { name: "sigma", .. }),
                "sigma {sigma:?}: {err}"
            );
        }
        for truncate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = Gaussian::new(&[1.0])
                .truncate(truncate)
                .apply(&backend, vol.view())
                .unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { name: "truncate", .. }), "{err}");
        }
        let err = Gaussian::new(&[1e9]).apply(&backend, vol.view()).unwrap_err();
        assert!(err.to_string().contains("radius"), "{err}");
        let err = Gaussian::new(&[1.0])
            .mode(BoundaryMode::Constant(f32::NAN))
            .apply(&backend, vol.view())
            .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { name: "mode", .. }), "{err}");
    }
}

#[test]
fn empty_and_zero_length_inputs_are_typed_errors() {
    for backend in backends() {
        for shape in [[0, 4, 4], [4, 0, 4], [4, 4, 0], [0, 0, 0]] {
            let vol = Array3::<f32>::zeros(shape);
            let err = Gaussian::new(&[1.0]).apply(&backend, vol.view()).unwrap_err();
            assert!(matches!(err, Error::InvalidShape(_)), "{shape:?}: {err}");
            assert!(err.to_string().contains("length 0"), "{err}");
        }
        let img = Array2::<f32>::zeros((0, 3));
        assert!(matches!(
            Gaussian::new(&[1.0]).apply(&backend, img.view()),
            Err(Error::InvalidShape(_))
        ));
    }
    assert!(Volume::from_array(Array3::zeros([2, 0, 2])).is_err());
    assert!(Grid::with_spacing([1.0, -1.0, 1.0]).is_err());
    assert!(Grid::with_spacing([1.0, f64::NAN, 1.0]).is_err());
    assert!(Gaussian::from_mm(&[1.0, 1.0], &Grid::default()).is_err());
}

#[test]
fn absurd_gpu_sizes_are_typed_errors() {
    for ctx in gpus() {
        let too_big = [1 << 20, 1 << 20, 1 << 20];
        let err = GpuVolume::zeros(&ctx, too_big).unwrap_err();
        assert!(matches!(err, Error::TooLarge(_)), "{err}");
        let err = GpuVolume::zeros(&ctx, [usize::MAX, 2, 2]).unwrap_err();
        assert!(matches!(err, Error::TooLarge(_)), "{err}");
        let err = GpuVolume::zeros(&ctx, [0, 2, 2]).unwrap_err();
        assert!(matches!(err, Error::InvalidShape(_)), "{err}");
    }
}

#[test]
fn nan_in_the_data_propagates_like_scipy() {
    let mut vol = Array3::<f32>::zeros([5, 5, 5]);
    vol[[2, 2, 2]] = f32::NAN;
    for backend in backends() {
        let out = Gaussian::new(&[1.0]).apply(&backend, vol.view()).unwrap();
        assert!(out[[2, 2, 2]].is_nan() && out[[2, 2, 3]].is_nan(), "{backend}");
    }
}

/// Direct, unoptimised f64 evaluation of the separable filter (z, then y, then x), written
/// independently of the crate's CPU path (only `BoundaryMode::map_index` is shared, and the
/// fixtures check that against scipy).
fn naive_reference(vol: &Array3<f32>, sigma: [f64; 3], mode: BoundaryMode) -> ArrayD<f64> {
    let mut a = vol.mapv(f64::from);
    for (axis, &s) in sigma.iter().enumerate() {
        if s == 0.0 {
            continue;
        }
        let r = Gaussian::radius(s, 4.0);
        let k = Gaussian::kernel_1d(s, r);
        let n = a.shape()[axis] as isize;
        let src = a.clone();
        for (idx, v) in a.indexed_iter_mut() {
            let mut acc = 0.0;
            for (t, w) in k.iter().enumerate() {
                let mut p = [idx.0, idx.1, idx.2];
                let i = p[axis] as isize + t as isize - r as isize;
                acc += w * match mode.map_index(i, 0, n) {
                    Some(m) => {
                        p[axis] = m as usize;
                        src[p]
                    }
                    None => f64::from(mode.cval()),
                };
            }
            *v = acc;
        }
    }
    a.into_dyn()
}

#[test]
fn kernels_longer_than_the_boundary_period_fold_onto_it() {
    // sigma 20,000: 160,001 taps on axes of 1–5 voxels. reflect, mirror and wrap extend an axis
    // periodically, so the CPU sums the kernel modulo the period first (5 taps instead of
    // 160,001 per sample); the naive reference sums every tap in f64, as scipy does.
    for (k, shape) in [[3, 4, 5], [1, 5, 2], [4, 1, 3]].into_iter().enumerate() {
        let vol = random_volume(shape, 60 + k as u64);
        for mode in [BoundaryMode::Reflect, BoundaryMode::Mirror, BoundaryMode::Wrap] {
            for sigma in [[20_000.0, 20_000.0, 20_000.0], [0.0, 3.0, 9_000.0]] {
                let out = Gaussian::new(&sigma).mode(mode).apply_cpu(vol.view()).unwrap();
                let expected = naive_reference(&vol, sigma, mode);
                let what = format!("{mode} {sigma:?} {shape:?}");
                assert_close(out.view().into_dyn(), expected.view(), 2e-6, 1e-7, &what);
            }
        }
    }
}

#[test]
fn cpu_matches_a_naive_reference_on_tall_slices() {
    // Slices tall enough that the y pass runs in many row bands (and radii beyond the height);
    // one slice takes the path that parallelises inside the slice, three the per-slice path.
    // Radii above 64 read rows in place instead of staging them (sigma 60 along y, 20 along z);
    // sigma 5 along z stages a window far longer than the three slices.
    for vol in [random_volume([3, 150, 40], 21), random_volume([1, 150, 40], 22)] {
        for mode in ALL_MODES {
            for sigma in [
                [0.0, 2.0, 1.0],
                [1.0, 3.0, 0.0],
                [0.0, 60.0, 0.7],
                [20.0, 1.0, 0.0],
                [5.0, 2.0, 1.0],
            ] {
                let out = Gaussian::new(&sigma).mode(mode).apply_cpu(vol.view()).unwrap();
                let expected = naive_reference(&vol, sigma, mode);
                assert_close(
                    out.view().into_dyn(),
                    expected.view(),
                    1e-5,
                    1e-6,
                    &format!("{mode} {sigma:?} {:?}", vol.shape()),
                );
            }
        }
    }
}

#[test]
fn gpu_matches_cpu_on_random_cases() {
    // Seeded random shapes, sigmas, truncations and modes, on plain and tiled contexts.
    let contexts: Vec<_> = gpus().into_iter().chain(gpus_small_bindings()).collect();
    if contexts.is_empty() {
        return;
    }
    let params = common::random_values(40 * 8, 99);
    for case in params.chunks_exact(8) {
        let shape = [
            1 + (case[0] * 24.0) as usize,
            1 + (case[1] * 30.0) as usize,
            1 + (case[2] * 40.0) as usize,
        ];
        let sigma = [case[3] as f64 * 4.0, case[4] as f64 * 4.0, case[5] as f64 * 4.0];
        let truncate = 1.0 + case[6] as f64 * 4.0;
        let mode = ALL_MODES[(case[7] * 5.0) as usize % 5];
        let vol = random_volume(shape, (case[0] * 1e6) as u64);
        let f = Gaussian::new(&sigma).truncate(truncate).mode(mode);
        for ctx in &contexts {
            let what = format!(
                "{shape:?} sigma {sigma:?} truncate {truncate:.2} {mode} on {} (binding {} B)",
                ctx.adapter().backend,
                ctx.max_storage_binding()
            );
            let cpu = f.apply_cpu(vol.view()).unwrap();
            let resident = GpuVolume::upload(ctx, vol.view()).unwrap();
            match f.apply_gpu(ctx, &resident) {
                Ok(out) => {
                    let gpu = out.download(ctx).unwrap();
                    assert_close_f32(gpu.view().into_dyn(), cpu.view().into_dyn(), 1e-5, 1e-6, &what);
                }
                // Only a tiled context may refuse, and only because the z-halo cannot fit.
                Err(Error::TooLarge(msg)) => {
                    assert!(ctx.max_storage_binding() < (vol.len() * 4) as u64, "{what}: {msg}");
                    assert!(msg.contains("halo"), "{what}: {msg}");
                }
                Err(e) => panic!("{what}: {e}"),
            }
        }
    }
}

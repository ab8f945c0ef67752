//! Resampling (scipy zoom fixtures, grids, parity), unsharp masking (scikit-image fixture) and
//! intensity projections (numpy
//! nanmax / nanmin / nanmean, parity, projections along z above the binding limit).

mod common;

use common::{assert_close, assert_close_f32, backends, fixture, gpus, gpus_small_bindings, random_volume};
use hounsfield::filter::{Filter, Interpolation, MipRender, Projection, ProjectionKind, Resample, UnsharpMask};
use hounsfield::gpu::GpuVolume;
use hounsfield::{Error, Grid, Volume};
use ndarray::{Array3, ArrayD, Axis, Ix2, Ix3};

#[test]
fn resampling_matches_scipy_zoom() {
    for backend in backends() {
        let vol = fixture::<f32>("resample/input_3d.npy")
            .into_dimensionality::<Ix3>()
            .unwrap();
        let img = fixture::<f32>("resample/input_2d.npy")
            .into_dimensionality::<Ix2>()
            .unwrap();
        let lin: ArrayD<f64> = fixture("resample/3d_linear.npy");
        let out = Resample::to_shape(&[11, 5, 23]).apply(&backend, vol.view()).unwrap();
        assert_close(
            out.view().into_dyn(),
            lin.view(),
            1e-5,
            1e-6,
            &format!("3D linear on {backend}"),
        );
        let lin: ArrayD<f64> = fixture("resample/2d_linear.npy");
        let out = Resample::to_shape(&[19, 4]).apply(&backend, img.view()).unwrap();
        assert_close(
            out.view().into_dyn(),
            lin.view(),
            1e-5,
            1e-6,
            &format!("2D linear on {backend}"),
        );
        let near: ArrayD<f32> = fixture("resample/3d_nearest.npy");
        let out = Resample::to_shape(&[11, 5, 23])
            .interpolation(Interpolation::Nearest)
            .apply(&backend, vol.view())
            .unwrap();
        assert_eq!(out.into_dyn(), near, "3D nearest on {backend}");
    }
}

#[test]
fn unsharp_mask_matches_scikit_image() {
    let vol = fixture::<f32>("resample/input_3d.npy")
        .into_dimensionality::<Ix3>()
        .unwrap();
    let want: ArrayD<f64> = fixture("resample/3d_unsharp_r1.5_a0.8.npy");
    for backend in backends() {
        let out = UnsharpMask::new(&[1.5], 0.8).apply(&backend, vol.view()).unwrap();
        assert_close(
            out.view().into_dyn(),
            want.view(),
            1e-5,
            1e-6,
            &format!("unsharp on {backend}"),
        );
    }
}

#[test]
fn resampling_to_a_spacing_updates_the_grid_and_keeps_the_extent() {
    let grid = Grid::with_spacing([2.5, 0.7, 0.7]).unwrap();
    // A linear ramp in physical z: resampled linearly it stays the same ramp.
    let data = Array3::from_shape_fn((8, 12, 10), |(z, _, x)| z as f32 * 2.5 + x as f32 * 0.7);
    let vol = Volume::new(data, grid).unwrap();
    for backend in backends() {
        let out = Resample::to_spacing(&grid, &[1.0])
            .apply_volume(&backend, &vol)
            .unwrap();
        assert_eq!(out.shape(), [20, 8, 7]);
        assert_eq!(out.grid().spacing, [1.0, 1.0, 1.0]);
        assert_eq!(out.grid().origin, grid.origin);
        for ((z, _, x), &v) in out.data().indexed_iter() {
            // Inside the input's extent (z <= 17.5 mm, x <= 6.3 mm) the ramp is exact.
            if (z as f64) <= 17.5 && (x as f64) <= 6.3 {
                assert!((v - (z as f32 + x as f32)).abs() < 1e-4, "({z}, {x}): {v} on {backend}");
            }
        }
    }
}

#[test]
fn projections_are_numpy_nan_reductions() {
    let mut vol = random_volume([7, 5, 6], 1);
    vol[[3, 2, 2]] = f32::NAN;
    vol.slice_mut(ndarray::s![.., 4, 5]).fill(f32::NAN);
    for backend in backends() {
        for axis in 0..3 {
            for kind in [ProjectionKind::Max, ProjectionKind::Min, ProjectionKind::Mean] {
                let out = Projection::new(kind, axis).apply(&backend, vol.view()).unwrap();
                let expected = vol.map_axis(Axis(axis), |lane| {
                    let v: Vec<f32> = lane.iter().copied().filter(|v| !v.is_nan()).collect();
                    if v.is_empty() {
                        return f32::NAN;
                    }
                    match kind {
                        ProjectionKind::Max => v.iter().cloned().fold(f32::MIN, f32::max),
                        ProjectionKind::Min => v.iter().cloned().fold(f32::MAX, f32::min),
                        ProjectionKind::Mean => v.iter().sum::<f32>() / v.len() as f32,
                    }
                });
                let expected = expected.insert_axis(Axis(axis));
                assert_close_f32(
                    out.view().into_dyn(),
                    expected.view().into_dyn(),
                    1e-6,
                    1e-6,
                    &format!("{kind:?} {axis} on {backend}"),
                );
            }
        }
    }
}

#[test]
fn rendered_mip_at_0_and_90_degrees_is_the_mip_along_x_and_y() {
    let vol = random_volume([5, 12, 16], 8);
    let along_x = Projection::max(2).apply_cpu(vol.view()).unwrap(); // (5, 12, 1)
    let along_y = Projection::max(1).apply_cpu(vol.view()).unwrap(); // (5, 1, 16)
    for backend in backends() {
        // width = ceil(hypot(16, 12)) = 20; at 0° column k looks at row y = k - 4.
        let view = MipRender::new(0.0).apply(&backend, vol.view()).unwrap();
        assert_eq!(view.dim(), (5, 1, 20));
        for z in 0..5 {
            for y in 0..12 {
                assert!(
                    (view[[z, 0, y + 4]] - along_x[[z, y, 0]]).abs() < 1e-6,
                    "0° on {backend}"
                );
            }
            // Columns whose ray misses the slice are background (NaN by default).
            assert!(view[[z, 0, 0]].is_nan() && view[[z, 0, 19]].is_nan());
        }
        // At 90° column k looks at column x = 17 - k.
        let view = MipRender::new(90.0)
            .background(-1024.0)
            .apply(&backend, vol.view())
            .unwrap();
        for z in 0..5 {
            for x in 0..16 {
                assert!(
                    (view[[z, 0, 17 - x]] - along_y[[z, 0, x]]).abs() < 1e-5,
                    "90° on {backend}: {} vs {} at {z} {x}",
                    view[[z, 0, 17 - x]],
                    along_y[[z, 0, x]]
                );
            }
            assert_eq!(view[[z, 0, 0]], -1024.0);
        }
    }
    // The grid gets the output pixel along the rendered axis.
    let grid = Grid::with_spacing([2.0, 0.5, 0.8]).unwrap();
    let out = MipRender::new(45.0)
        .for_grid(&grid)
        .apply_volume(&backends()[0], &Volume::new(vol.clone(), grid).unwrap())
        .unwrap();
    assert_eq!(out.grid().spacing, [2.0, 1.0, 0.5]);
    assert!(MipRender::new(f64::NAN).apply(&backends()[0], vol.view()).is_err());
    let img = ndarray::Array2::<f32>::zeros((4, 4));
    assert!(matches!(
        MipRender::new(0.0).apply(&backends()[0], img.view()),
        Err(Error::InvalidShape(_))
    ));
}

#[test]
fn gpu_matches_cpu_across_slabs() {
    // 64 KiB bindings: a 40×20×20 volume (62.5 KiB per 40 slices... 1.6 KiB per slice) is
    // projected along z in chunks and resampled in many slabs.
    let vol = random_volume([90, 20, 20], 3);
    let filters: Vec<Box<dyn Filter>> = vec![
        Box::new(Projection::new(ProjectionKind::Max, 0)),
        Box::new(Projection::new(ProjectionKind::Mean, 0)),
        Box::new(Projection::new(ProjectionKind::Min, 2)),
        Box::new(Resample::to_shape(&[131, 7, 33])),
        Box::new(Resample::to_shape(&[31, 40, 9]).interpolation(Interpolation::Nearest)),
        Box::new(MipRender::new(33.0)),
        Box::new(MipRender::new(-120.0).background(0.0)),
    ];
    for ctx in gpus_small_bindings().into_iter().chain(gpus()) {
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        for f in &filters {
            let cpu = f.apply_cpu(vol.view()).unwrap();
            let gpu = f.apply_gpu(&ctx, &resident).unwrap().download(&ctx).unwrap();
            assert_close_f32(
                gpu.view().into_dyn(),
                cpu.view().into_dyn(),
                1e-5,
                1e-5,
                &format!("{f:?}"),
            );
        }
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let vol = Array3::<f32>::zeros((3, 4, 5));
    let grid = Grid::default();
    for backend in backends() {
        let expect = common::expect_param_error::<Array3<f32>>;
        expect(Resample::to_shape(&[3, 4]).apply(&backend, vol.view()), "shape");
        expect(Resample::to_shape(&[0, 4, 5]).apply(&backend, vol.view()), "shape");
        expect(
            Resample::to_spacing(&grid, &[0.0]).apply(&backend, vol.view()),
            "spacing",
        );
        expect(
            Resample::to_spacing(&grid, &[1e-9]).apply(&backend, vol.view()),
            "spacing",
        );
        expect(Projection::max(3).apply(&backend, vol.view()), "axis");
    }
}

#[test]
fn windows_of_a_zoom_reassemble_the_whole() {
    use hounsfield::filter::ResampleWindow;
    use ndarray::s;
    // What chunked (Dask) zoom relies on: each output block computed from just the input block
    // it needs equals the same block of the whole call (exactly on the CPU; to rounding on GPUs,
    // which may fuse the shifted coordinate's multiply and subtract).
    let vol = random_volume([9, 14, 11], 7);
    let out_shape = [13usize, 6, 25];
    for interpolation in [Interpolation::Linear, Interpolation::Nearest] {
        let whole_filter = Resample::to_shape(&out_shape).interpolation(interpolation);
        let whole = whole_filter.apply(&hounsfield::Backend::Cpu, vol.view()).unwrap();
        for backend in backends() {
            for (o0, o1) in [(0usize, 5usize), (5, 12), (12, 13)] {
                // The input rows these outputs read: floor of the first coordinate to one past
                // the last (the whole call's scale is (n_in - 1) / (n_out - 1)).
                let scale = |a: usize| (vol.shape()[a] - 1) as f64 / (out_shape[a] - 1) as f64;
                let i0 = (o0 as f64 * scale(0)).floor() as usize;
                let i1 = (((o1 - 1) as f64 * scale(0)).floor() as usize + 2).min(vol.shape()[0]);
                let window = ResampleWindow {
                    input_shape: vol.shape().to_vec(),
                    input_start: vec![i0, 2, 0],
                    output_start: vec![o0, 1, 0],
                    output_shape: vec![o1 - o0, 4, out_shape[2]],
                };
                let block = whole_filter
                    .clone()
                    .window(window)
                    .apply(&backend, vol.slice(s![i0..i1, 2.., ..]))
                    .unwrap();
                let want = whole.slice(s![o0..o1, 1..5, ..]);
                if matches!(backend, hounsfield::Backend::Cpu) {
                    assert_eq!(block.view(), want, "{interpolation:?} block {o0}..{o1}");
                } else {
                    assert_close_f32(
                        block.view().into_dyn(),
                        want.into_dyn(),
                        1e-5,
                        1e-5,
                        &format!("{interpolation:?} block {o0}..{o1} on {backend}"),
                    );
                }
            }
        }
        // A block that misses input it needs is refused with the axis named.
        let short = ResampleWindow {
            input_shape: vol.shape().to_vec(),
            input_start: vec![3, 0, 0],
            output_start: vec![0, 0, 0],
            output_shape: vec![4, 6, 25],
        };
        let err = whole_filter
            .clone()
            .window(short)
            .apply(&hounsfield::Backend::Cpu, vol.slice(s![3.., .., ..]))
            .unwrap_err();
        assert!(err.to_string().contains("axis 0"), "{err}");
    }
}

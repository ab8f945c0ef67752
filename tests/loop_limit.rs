//! GPU kernels whose loops grow with the user's parameters, on adapters that stop long loops.
//!
//! Mesa's llvmpipe (lavapipe, and its GL driver) ends every shader invocation's loops after
//! 65,535 iterations in total and carries on with what it has: a 160,001-tap Gaussian pass came
//! back with only its first 65,535 taps summed, a median of radius 6 with a wrong median. Each
//! kernel here either splits its work to stay under the adapter's limit (same result as the
//! CPU) or returns `Error::AdapterLimit`; on adapters without a limit it matches the CPU.

mod common;

use common::{all_gpus, assert_close_f32, gpus, random_volume};
use hounsfield::filter::{Filter, Gaussian, Median, Projection, ProjectionKind};
use hounsfield::segment::{distance_transform_edt, distance_transform_edt_on_gpu};
use hounsfield::{Backend, Error};
use ndarray::{Array3, ArrayD, IxDyn};

/// The GPU result equals the CPU's, or, where the adapter limits loops and `over_limit`, the
/// call is refused with `AdapterLimit`.
fn equal_or_refused(
    result: hounsfield::Result<ArrayD<f32>>,
    cpu: &ArrayD<f32>,
    over_limit: bool,
    limited: bool,
    rtol: f64,
    what: &str,
) {
    match result {
        Err(Error::AdapterLimit(message)) => {
            assert!(
                limited && over_limit,
                "{what}: refused on an adapter that can run it: {message}"
            );
            assert!(
                message.contains("CPU"),
                "{what}: the message names the way out: {message}"
            );
        }
        Err(e) => panic!("{what}: {e}"),
        Ok(gpu) => {
            assert!(!(limited && over_limit), "{what}: ran past the adapter's loop limit");
            assert_close_f32(gpu.view(), cpu.view(), rtol, 1e-6, what);
        }
    }
}

/// The threads llvmpipe runs (its `LP_NUM_THREADS`, else one per CPU).
fn llvmpipe_threads() -> usize {
    std::env::var("LP_NUM_THREADS")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[test]
fn llvmpipe_adapters_declare_their_loop_limit() {
    for ctx in gpus() {
        let a = ctx.adapter();
        assert_eq!(a.loop_limit.is_some(), a.name.contains("llvmpipe"), "{a}");
    }
}

#[test]
fn gaussian_passes_longer_than_the_loop_limit_are_split() {
    // sigma 20,000 voxels: 160,001 taps per pass (radius 80,000 on axes of a few voxels).
    let vol = random_volume([3, 4, 5], 41);
    for sigma in [[0.0, 0.0, 20_000.0], [20_000.0, 9_000.0, 20_000.0]] {
        let filter = Gaussian::new(&sigma);
        let cpu = filter.apply(&Backend::Cpu, vol.view()).unwrap().into_dyn();
        // Reflecting a constant-free random volume: the result is near its mean, not near 0.
        assert!(cpu.iter().all(|v| *v > 0.2), "{sigma:?}: the CPU reference");
        for ctx in gpus() {
            let gpu = filter.apply(&Backend::Gpu(ctx.clone()), vol.view()).unwrap().into_dyn();
            // f32 sums of 160,001 taps, in another order than the CPU's rows.
            assert_close_f32(
                gpu.view(),
                cpu.view(),
                2e-4,
                1e-6,
                &format!("{sigma:?} on {}", ctx.adapter()),
            );
        }
    }
}

#[test]
fn medians_past_the_loop_limit_are_refused_and_those_below_it_are_exact() {
    let vol = random_volume([14, 15, 16], 7);
    for radius in [5usize, 6] {
        let filter = Median::new(&[radius]);
        let cpu = filter.apply(&Backend::Cpu, vol.view()).unwrap().into_dyn();
        for ctx in gpus() {
            let limited = ctx.adapter().loop_limit.is_some();
            let gpu = filter
                .apply(&Backend::Gpu(ctx.clone()), vol.view())
                .map(Array3::into_dyn);
            let what = format!("median radius {radius} on {}", ctx.adapter());
            // 32 bisection passes over 11³ voxels fit 65,535 iterations; over 13³ they do not.
            equal_or_refused(gpu, &cpu, radius == 6, limited, 0.0, &what);
        }
    }
}

#[test]
fn distance_transforms_of_long_lines_are_refused_or_exact() {
    for (len, over) in [(12_000usize, false), (70_000, true)] {
        let mask = ArrayD::from_shape_fn(IxDyn(&[1, 2, len]), |i| (i[2] * 7 + i[1] * 3) % 1_001 != 0);
        let cpu = distance_transform_edt(mask.view(), None, false).unwrap().distances;
        let cpu = cpu.mapv(|d| d as f32);
        for ctx in gpus() {
            let limited = ctx.adapter().loop_limit.is_some();
            let gpu = distance_transform_edt_on_gpu(&ctx, mask.view(), None);
            equal_or_refused(
                gpu,
                &cpu,
                over,
                limited,
                1e-5,
                &format!("EDT of {len}-voxel lines on {}", ctx.adapter()),
            );
        }
    }
}

#[test]
fn distance_transforms_count_up_to_65535_slices_on_the_gpu() {
    // One column whose only background is its first slice: its last voxel is 65,534 slices
    // away, the largest distance the GPU's 16-bit counts hold.
    let tall = ArrayD::from_shape_fn(IxDyn(&[65_535, 1, 1]), |i| i[0] != 0);
    let cpu = distance_transform_edt(tall.view(), Some(&[0.5, 1.0, 1.0]), false)
        .unwrap()
        .distances
        .mapv(|d| d as f32);
    assert_eq!(cpu[[65_534, 0, 0]], 32_767.0);
    let taller = ArrayD::from_shape_fn(IxDyn(&[65_536, 1, 1]), |i| i[0] != 0);
    for (ctx, bindings) in all_gpus() {
        let limited = ctx.adapter().loop_limit.is_some();
        let gpu = distance_transform_edt_on_gpu(&ctx, tall.view(), Some(&[0.5, 1.0, 1.0]));
        // With default bindings the column is one slab, whose scans exceed a loop limit; 64 KiB
        // bindings cut it into slabs of 8,192 slices.
        let one_slab = bindings == "default bindings";
        equal_or_refused(
            gpu,
            &cpu,
            one_slab,
            limited,
            1e-6,
            &format!("EDT of 65,535 slices on {} ({bindings})", ctx.adapter()),
        );
        match distance_transform_edt_on_gpu(&ctx, taller.view(), None) {
            Err(Error::TooLarge(message)) => assert!(message.contains("CPU"), "{message}"),
            other => panic!("65,536 slices on the GPU: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn projections_along_long_axes_are_refused_or_exact() {
    let long = random_volume([70_000, 2, 3], 3);
    let max = Projection::new(ProjectionKind::Max, 0);
    let cpu = max.apply(&Backend::Cpu, long.view()).unwrap().into_dyn();
    for ctx in gpus() {
        let limited = ctx.adapter().loop_limit.is_some();
        let backend = Backend::Gpu(ctx.clone());
        let gpu = max.apply(&backend, long.view()).map(Array3::into_dyn);
        equal_or_refused(
            gpu,
            &cpu,
            true,
            limited,
            0.0,
            &format!("maximum over 70,000 slices on {}", ctx.adapter()),
        );
    }
}

#[test]
fn back_projections_of_tens_of_thousands_of_views_are_exact() {
    // 70,000 views: each back-projecting invocation loops over a batch's views, so batches on
    // loop-limited adapters hold few enough views (70,000 in one batch came back 17 % off).
    use hounsfield::recon::fbp::Fbp2d;
    let views = 70_000;
    let angles: Vec<f64> = (0..views).map(|v| 180.0 * v as f64 / views as f64).collect();
    let sinogram =
        ndarray::Array3::from_shape_fn((views, 1, 16), |(v, _, c)| 1.0 + ((v * 7 + c * 13) % 29) as f32 / 29.0);
    let fbp = Fbp2d::new(&angles);
    let cpu = fbp.reconstruct_stack_cpu(sinogram.view()).unwrap().into_dyn();
    for ctx in gpus() {
        let gpu = fbp.reconstruct_stack_gpu(&ctx, sinogram.view()).unwrap().into_dyn();
        assert_close_f32(
            gpu.view(),
            cpu.view(),
            1e-4,
            1e-6,
            &format!("70,000-view FBP on {}", ctx.adapter()),
        );
    }
}

#[test]
fn joseph_rays_through_thousands_of_voxels_are_refused_or_exact() {
    // A ray marches the volume's longest axis, up to 2 × 2 taps per step in loops (seven
    // iterations; llvmpipe's GL driver counts eleven): through 5,400 voxels it stays under
    // 65,535 iterations, through 5,500 it may not (the GL adapter cut rays short from 5,960).
    use hounsfield::gpu::GpuVolume;
    use hounsfield::recon::{Geometry, ProjectorKind, centred_grid};
    for (nx, over) in [(5_400usize, false), (5_500, true)] {
        let shape = [1, 4, nx];
        // 0° and 90°: one view's rays run along x through all nx voxels, the other's along y.
        let geometry = Geometry::parallel_2d(&[0.0, 90.0], 8, 1.0).unwrap();
        let grid = centred_grid(shape, [1.0; 3]).unwrap();
        let joseph = ProjectorKind::Joseph.build(&geometry, shape, &grid).unwrap();
        let volume = random_volume(shape, 17);
        let cpu = joseph.forward_cpu(volume.view()).unwrap().into_dyn();
        // Sums of thousands of voxels: the long view carries most of the projections' weight.
        assert!(cpu.iter().any(|&v| v > 100.0), "{nx}: the CPU reference");
        for ctx in gpus() {
            let limited = ctx.adapter().loop_limit.is_some();
            let gpu = GpuVolume::upload(&ctx, volume.view())
                .and_then(|v| joseph.forward_gpu(&ctx, &v))
                .and_then(|p| p.download(&ctx))
                .map(Array3::into_dyn);
            equal_or_refused(
                gpu,
                &cpu,
                over,
                limited,
                1e-4,
                &format!("Joseph through {nx} voxels on {}", ctx.adapter()),
            );
        }
    }
}

#[test]
fn projectors_whose_voxels_cover_hundreds_of_pixels_match_the_cpu() {
    // Voxels of 1 mm on pixels of 0.1 mm at magnification 2: each voxel's footprint covers
    // ~20 × 20 pixels, a Joseph column's ~20 × 180, in each of 256 views. The transposes (and
    // the separable footprint's forward) loop over those pixels for every view of a dispatch:
    // in one dispatch of 255 views they ran far past llvmpipe's 65,535 iterations and came back
    // 20–87 % off; dispatches of fewer views match the CPU.
    use hounsfield::gpu::{GpuProjections, GpuVolume};
    use hounsfield::recon::{Geometry, ProjectorKind, centred_grid};
    let shape = [8, 8, 8];
    let views = 256;
    let angles: Vec<f64> = (0..views).map(|v| 360.0 * v as f64 / views as f64).collect();
    let geometry = Geometry::cone(&angles, 100.0, 200.0, 200, 200, [0.1, 0.1], [0.0, 0.0]).unwrap();
    let grid = centred_grid(shape, [1.0; 3]).unwrap();
    let peak_error = |gpu: &Array3<f32>, cpu: &Array3<f32>| {
        let peak = cpu.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.0);
        gpu.iter().zip(cpu).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max) / peak
    };
    for kind in ProjectorKind::ALL {
        let a = kind.build(&geometry, shape, &grid).unwrap();
        let x = random_volume(shape, 5);
        let y = random_volume(a.projection_shape(), 9);
        let (ax, aty) = (a.forward_cpu(x.view()).unwrap(), a.backward_cpu(y.view()).unwrap());
        for ctx in gpus() {
            let on = |part: &str| format!("{} {part} on {}", kind.name(), ctx.adapter());
            let xg = GpuVolume::upload(&ctx, x.view()).unwrap();
            let yg = GpuProjections::upload(&ctx, y.view()).unwrap();
            let aty_gpu = a.backward_gpu(&ctx, &yg).unwrap().download(&ctx).unwrap();
            let e_backward = peak_error(&aty_gpu, &aty);
            assert!(e_backward < 1e-4, "{}: {e_backward:e} of the peak", on("transpose"));
            match a.forward_gpu(&ctx, &xg) {
                Ok(ax_gpu) => {
                    let e_forward = peak_error(&ax_gpu.download(&ctx).unwrap(), &ax);
                    assert!(e_forward < 1e-4, "{}: {e_forward:e} of the peak", on("forward"));
                }
                // The separable footprint's forward budgets every add for as many tries as
                // llvmpipe has lanes in flight: ~700 pixels a view fit up to ~9 threads.
                Err(Error::AdapterLimit(message))
                    if kind == ProjectorKind::SeparableFootprint
                        && ctx.adapter().loop_limit.is_some()
                        && llvmpipe_threads() > 8 =>
                {
                    assert!(message.contains("CPU"), "{}: {message}", on("forward"));
                }
                Err(e) => panic!("{}: {e}", on("forward")),
            }
        }
    }
}

#[test]
fn splats_that_all_collide_on_four_pixels_match_the_cpu() {
    // The forward projectors of the voxel-driven family add into the detector with
    // compare-exchange loops (`splat.wgsl`), whose retries count towards llvmpipe's loop limit.
    // The most they can cost: every voxel of the volume (16³ of 1 µm) projects onto the same
    // 2 × 2 pixels of 1 mm in each of 256 views, so every lane of every SIMD batch collides on
    // every add. A lane retries once per lane that wins before it (at most the batch's width)
    // and per add another thread lands in between; a dispatch of 255 views then costs an
    // invocation ~255 × (1 + 4 × 9) iterations, well under 65,535. Any add lost or cut short
    // would show as a missing share of the 4,096 voxels' sum.
    use hounsfield::gpu::GpuVolume;
    use hounsfield::recon::{Geometry, ProjectorKind, centred_grid};
    let shape = [16, 16, 16];
    let views = 256;
    let angles: Vec<f64> = (0..views).map(|v| 360.0 * v as f64 / views as f64).collect();
    let geometry = Geometry::cone(&angles, 100.0, 200.0, 4, 4, [1.0, 1.0], [0.0, 0.0]).unwrap();
    let grid = centred_grid(shape, [0.001; 3]).unwrap();
    let x = random_volume(shape, 17).mapv(|v| 1.0 + v.abs());
    // (Joseph's forward is ray-driven: no adds to share, and its rays miss so small a volume.)
    for kind in [ProjectorKind::VoxelDriven, ProjectorKind::SeparableFootprint] {
        let a = kind.build(&geometry, shape, &grid).unwrap();
        let ax = a.forward_cpu(x.view()).unwrap();
        let peak = ax.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak > 0.0, "{}: the volume reaches the detector", kind.name());
        for ctx in gpus() {
            let xg = GpuVolume::upload(&ctx, x.view()).unwrap();
            let ax_gpu = a.forward_gpu(&ctx, &xg).unwrap().download(&ctx).unwrap();
            let error = ax_gpu
                .iter()
                .zip(&ax)
                .map(|(g, c)| (g - c).abs())
                .fold(0.0f32, f32::max)
                / peak;
            // Sums of 4,096 shares in another order: a few f32 roundings of the peak.
            assert!(
                error < 1e-4,
                "{} forward on {}: {error:e} of the peak",
                kind.name(),
                ctx.adapter()
            );
        }
    }
}

#[test]
fn morphology_with_balls_past_the_loop_limit_is_split_and_exact() {
    // A ball of radius 32 has ~137,000 voxels: one invocation looping over all of them stopped
    // at 65,535 on llvmpipe and missed the far half of the ball (the bright voxel 28 slices
    // below). Its rows now run in parts whose minimum or maximum combine exactly.
    use hounsfield::BoundaryMode;
    use hounsfield::filter::{BinaryMorphology, Footprint, GreyMorphology};
    let mut vol = Array3::<f32>::zeros((40, 6, 6));
    vol[[30, 3, 3]] = 5.0;
    vol[[2, 1, 1]] = 1.0;
    let mask = vol.mapv(|v| f32::from(v > 0.0));
    for radius in [32usize] {
        let grey = GreyMorphology::dilation(Footprint::Ball(radius)).mode(BoundaryMode::Constant(0.0));
        let binary = BinaryMorphology::dilation().footprint(Footprint::Ball(radius));
        type Run<'a> = Box<dyn Fn(&Backend) -> Array3<f32> + 'a>;
        let runs: [(&str, f32, Run); 2] = [
            ("grey dilation", 5.0, Box::new(|b| grey.apply(b, vol.view()).unwrap())),
            (
                "binary dilation",
                1.0,
                Box::new(|b| binary.apply(b, mask.view()).unwrap()),
            ),
        ];
        for (what, bright, run) in &runs {
            let cpu = run(&Backend::Cpu).into_dyn();
            // A voxel near the far end of the ball from the bright one still sees it.
            let near_end = 30usize.saturating_sub(radius - 2);
            assert_eq!(cpu[[near_end, 3, 3]], *bright, "{what}: the CPU reference");
            for ctx in gpus() {
                let gpu = run(&Backend::Gpu(ctx.clone())).into_dyn();
                assert_close_f32(
                    gpu.view(),
                    cpu.view(),
                    0.0,
                    0.0,
                    &format!("{what}, ball of radius {radius} on {}", ctx.adapter()),
                );
            }
        }
    }
}

#[test]
fn helical_scans_of_a_hundred_turns_match_the_cpu() {
    // Per view, each voxel's weight sums over every turn of the scan (direct and complementary
    // rays): 130 turns with the voxels always in the detector's rows cost ~270 iterations per
    // view, and a batch of 255 views ran past 65,535 on llvmpipe (12 % off). Batches there now
    // hold few enough views for the scan's turns.
    use common::relative_error;
    use hounsfield::recon::{Geometry, HelicalFdk, centred_grid};
    let turns = 130;
    let angles: Vec<f64> = (0..turns * 4).map(|k| k as f64 * 90.0).collect();
    let geometry = Geometry::cone(&angles, 200.0, 400.0, 64, 8, [2.0, 2.0], [0.0, 0.0])
        .unwrap()
        .helical(0.1, -6.5)
        .unwrap();
    let shape = [8, 4, 4];
    let grid = centred_grid(shape, [1.0; 3]).unwrap();
    let projections = random_volume([turns * 4, 64, 8], 3);
    let fdk = HelicalFdk::new(&geometry).unwrap();
    let cpu = fdk
        .reconstruct_cpu(projections.view(), shape, &grid)
        .unwrap()
        .into_dyn();
    assert!(cpu.iter().any(|v| v.abs() > 0.0), "the CPU reference");
    for ctx in gpus() {
        let gpu = fdk
            .reconstruct_gpu(&ctx, projections.view(), shape, &grid)
            .unwrap()
            .into_dyn();
        let err = relative_error(&gpu, &cpu);
        assert!(err < 1e-4, "{turns} turns on {}: {err:e}", ctx.adapter());
    }
}

#[test]
fn labelling_of_snakes_and_combs_is_exact() {
    // The union-find kernels loop while they climb a tree: one component snaking through a
    // 2048² image, or 1,024 columns joined only at the bottom, must not leave climbs unfinished
    // (path halving keeps them far under the loop limit; this checks it stays so).
    use hounsfield::segment::{label, label_on_gpu};
    let n = 2048;
    let snake = ArrayD::from_shape_fn(IxDyn(&[n, n]), |i| {
        let (y, x) = (i[0], i[1]);
        y % 2 == 0 || (y % 4 == 1 && x == n - 1) || (y % 4 == 3 && x == 0)
    });
    let comb = ArrayD::from_shape_fn(IxDyn(&[n, n]), |i| i[1] % 2 == 0 || i[0] == n - 1);
    for (what, mask) in [("snake", &snake), ("comb", &comb)] {
        let cpu = label(mask.view(), None).unwrap();
        assert_eq!(cpu.count, 1, "{what}: one component");
        for ctx in gpus() {
            let gpu = label_on_gpu(&ctx, mask.view(), None).unwrap();
            assert_eq!(gpu.count, cpu.count, "{what} on {}", ctx.adapter());
            assert!(gpu.labels == cpu.labels, "{what} on {}: labels differ", ctx.adapter());
        }
    }
}

#[test]
fn bilateral_filters_at_the_largest_radius_are_exact() {
    // The bilateral kernel loops over its whole window: 33³ = 35,937 taps at the largest
    // supported radius (16), with the loops' exits under llvmpipe's 65,535 on both drivers.
    use hounsfield::filter::{Bilateral, bilateral::MAX_RADIUS};
    let vol = random_volume([6, 7, 8], 23);
    let sigma = MAX_RADIUS as f64 / 2.5;
    let filter = Bilateral::new(&[sigma], 0.3);
    let cpu = filter.apply(&Backend::Cpu, vol.view()).unwrap().into_dyn();
    for ctx in gpus() {
        let gpu = filter.apply(&Backend::Gpu(ctx.clone()), vol.view()).unwrap().into_dyn();
        assert_close_f32(
            gpu.view(),
            cpu.view(),
            1e-4,
            1e-6,
            &format!("bilateral of radius {MAX_RADIUS} on {}", ctx.adapter()),
        );
    }
}

//! GPU reconstruction against the CPU path: the WGSL FFT ramp filter (every window), the
//! voxel-driven back-projector, 2D and stacked parallel FBP, fan-beam FBP on both detectors and
//! FDK (full and short scans), at sizes that are not multiples of the workgroup, on every
//! adapter and with 64 KiB bindings that force view batches, FFT row chunks and volume slabs.

mod common;

use common::{all_gpus, fixture, random_volume, relative_error};
use hounsfield::gpu::GpuProjections;
use hounsfield::recon::ramp::{filter_rows_cpu, filter_rows_gpu};
use hounsfield::recon::{
    Backprojector, Detector, FanFbp, Fbp2d, Fdk, Geometry, Phantom, RampWindow, SheppLogan, centred_grid,
};
use ndarray::{ArrayD, Axis, Ix2};

#[test]
fn gpu_fbp_matches_the_cpu_and_scikit_image_for_every_filter() {
    let sino = fixture::<f32>("fbp/sinogram.npy").into_dimensionality::<Ix2>().unwrap();
    let theta: Vec<f64> = fixture::<f64>("fbp/theta.npy").iter().copied().collect();
    for (ctx, what) in all_gpus() {
        for (name, window) in [
            ("ramp", RampWindow::Ramp),
            ("shepp-logan", RampWindow::SheppLogan),
            ("cosine", RampWindow::Cosine),
            ("hamming", RampWindow::Hamming),
            ("hann", RampWindow::Hann),
        ] {
            let fbp = Fbp2d::new(&theta).window(window);
            let cpu = fbp.reconstruct_cpu(sino.view()).unwrap().into_dyn();
            let gpu = fbp.reconstruct_gpu(&ctx, sino.view()).unwrap().into_dyn();
            let err = relative_error(&gpu, &cpu);
            assert!(err < 2e-5, "{} ({what}) {name}: GPU vs CPU {err:e}", ctx.adapter().name);
            let want: ArrayD<f64> = fixture(&format!("fbp/iradon_{name}.npy"));
            let range = want.iter().cloned().fold(0.0f64, |m, v| m.max(v.abs()));
            common::assert_close(gpu.view(), want.view(), 0.0, 1e-4 * range, name);
        }
    }
}

#[test]
fn gpu_fbp_of_a_sinogram_stack_matches_slice_by_slice_cpu() {
    let angles: Vec<f64> = (0..45).map(|k| k as f64 * 4.0).collect();
    let stack = random_volume([45, 3, 37], 7);
    for (ctx, what) in all_gpus() {
        let fbp = Fbp2d::new(&angles).window(RampWindow::Hann);
        let cpu = fbp.reconstruct_stack_cpu(stack.view()).unwrap().into_dyn();
        let gpu = fbp.reconstruct_stack_gpu(&ctx, stack.view()).unwrap().into_dyn();
        assert_eq!(gpu.shape(), &[3, 37, 37]);
        let err = relative_error(&gpu, &cpu);
        assert!(err < 2e-5, "{} ({what}): {err:e}", ctx.adapter().name);
    }
}

/// Every row length class of the GPU ramp filter: padded rows that fit the workgroup-local
/// kernels (1024, 2048 and, where the adapter has 32 KiB of workgroup memory, 4096 samples) and
/// rows that take the four-step kernels (8192 and 16384); odd row counts (a half-empty pair),
/// batches.
#[test]
fn gpu_ramp_filter_matches_the_cpu_on_every_row_length() {
    let cases = [
        (1usize, RampWindow::Ramp),
        (37, RampWindow::Hann),
        (600, RampWindow::SheppLogan),
        (1500, RampWindow::Ramp),
        (2100, RampWindow::Cosine),
        (5000, RampWindow::Hamming),
    ];
    for (ctx, what) in all_gpus() {
        for (cols, window) in cases {
            let stack = random_volume([5, 3, cols], cols as u64);
            let cpu = filter_rows_cpu(stack.view(), window, 1.0).unwrap().into_dyn();
            let projections = GpuProjections::upload(&ctx, stack.view()).unwrap();
            let padded_pair_bytes = 8 * (2 * cols).next_power_of_two() as u64;
            if padded_pair_bytes > ctx.max_storage_binding() {
                // A row pair's transform must fit one binding (the 64 KiB test adapter): a typed
                // error that says so.
                let err = filter_rows_gpu(&ctx, &projections, window, 1.0).unwrap_err();
                assert!(
                    matches!(err, hounsfield::Error::TooLarge(ref m) if m.contains("binding limit")),
                    "{what} {cols} columns: {err}"
                );
                continue;
            }
            filter_rows_gpu(&ctx, &projections, window, 1.0).unwrap();
            let gpu = projections.download(&ctx).unwrap().into_dyn();
            let err = relative_error(&gpu, &cpu);
            assert!(
                err < 2e-6,
                "{} ({what}) {cols} columns: GPU vs CPU {err:e}",
                ctx.adapter().name
            );
        }
    }
    // Which path ran, on a context of its own (the counts are per device, and the other tests
    // of this file run concurrently on the shared ones).
    if common::gpus().is_empty() {
        return;
    }
    let ctx = hounsfield::gpu::GpuContext::new().unwrap();
    let local_max = if ctx.adapter().max_workgroup_storage >= 32768 {
        4096
    } else {
        2048
    };
    for (cols, window) in cases {
        let stack = random_volume([5, 3, cols], cols as u64);
        let projections = GpuProjections::upload(&ctx, stack.view()).unwrap();
        let before = ctx.work();
        filter_rows_gpu(&ctx, &projections, window, 1.0).unwrap();
        let work = ctx.work().since(&before);
        let local: u64 = work
            .kernels
            .iter()
            .filter(|(name, _)| name.starts_with("recon/ramp_local"))
            .map(|(_, k)| k.dispatches)
            .sum();
        let four_step: u64 = work
            .kernels
            .iter()
            .filter(|(name, _)| name.starts_with("recon/ramp_four_step"))
            .map(|(_, k)| k.dispatches)
            .sum();
        let n = (2 * cols).next_power_of_two().max(64);
        if n <= local_max {
            // One dispatch per batch of views.
            assert!(
                local == 1 && four_step == 0,
                "{cols} columns: {local} local, {four_step} four-step dispatches"
            );
        } else {
            // Three per chunk of row pairs; these stacks fit one chunk.
            assert!(
                local == 0 && four_step == 3,
                "{cols} columns: {local} local, {four_step} four-step dispatches"
            );
        }
    }
}

#[test]
fn gpu_back_projector_matches_the_cpu_on_every_geometry() {
    let angles: Vec<f64> = (0..23).map(|k| k as f64 * 15.7).collect();
    let cases = [
        // 64 KiB bindings: 2 volume slabs.
        (
            "cone",
            Geometry::cone(&angles, 200.0, 400.0, 21, 29, [1.0, 1.0], [0.3, -1.2]).unwrap(),
            [13, 41, 37],
        ),
        (
            "parallel 3D",
            Geometry::parallel_3d(&angles, 13, 29, [1.0, 0.7]).unwrap(),
            [13, 11, 17],
        ),
        (
            "fan arc",
            Geometry::fan(&angles, 200.0, 400.0, 29, 1.0, Detector::Arc, 0.4).unwrap(),
            [1, 19, 17],
        ),
        (
            "cone cylindrical",
            Geometry::cone_cylindrical(&angles, 200.0, 400.0, 21, 29, [1.0, 1.0], [0.3, -1.2]).unwrap(),
            [13, 41, 37],
        ),
    ];
    for (name, g, shape) in cases {
        let grid = centred_grid(shape, [0.9, 1.1, 1.0]).unwrap();
        let bp = Backprojector::new(&g, shape, &grid).unwrap();
        let projections = random_volume([23, g.rows, g.cols], 3);
        let weights: Vec<f64> = (0..23).map(|k| 1.0 + k as f64 * 0.01).collect();
        let cpu = bp.backproject_cpu(projections.view(), &weights).unwrap().into_dyn();
        for (ctx, what) in all_gpus() {
            let resident = GpuProjections::upload(&ctx, projections.view()).unwrap();
            let gpu = bp
                .backproject_gpu(&ctx, &resident, &weights)
                .unwrap()
                .download(&ctx)
                .unwrap()
                .into_dyn();
            let err = relative_error(&gpu, &cpu);
            assert!(err < 1e-4, "{name} on {} ({what}): {err:e}", ctx.adapter().name);
        }
    }
}

#[test]
fn gpu_fan_beam_fbp_matches_the_cpu_on_flat_and_arc_detectors() {
    let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 20.0).unwrap();
    for (detector, angles) in [
        (Detector::Flat, (0..90).map(|k| k as f64 * 4.0).collect::<Vec<_>>()),
        (Detector::Arc, (0..110).map(|k| k as f64 * 2.0).collect::<Vec<_>>()),
    ] {
        let g = Geometry::fan(&angles, 150.0, 300.0, 61, 1.0, detector, 0.0).unwrap();
        let sino = g.project_exact(&phantom).unwrap().index_axis_move(Axis(1), 0);
        let fbp = FanFbp::new(&g).unwrap().window(RampWindow::SheppLogan);
        let cpu = fbp.reconstruct_cpu(sino.view(), 45, 0.5).unwrap().into_dyn();
        for (ctx, what) in all_gpus() {
            let gpu = fbp.reconstruct_gpu(&ctx, sino.view(), 45, 0.5).unwrap().into_dyn();
            let err = relative_error(&gpu, &cpu);
            eprintln!("{detector:?} on {} ({what}): GPU vs CPU {err:.1e}", ctx.adapter().name);
            // Arcs take an angle per voxel: `precise_atan2` (common/float.wgsl), not WGSL's
            // atan2, which Vulkan lets drivers compute to 4096 ulp (it cost 1e-3 here; now
            // both detectors agree to ~1e-6).
            let tolerance = 1e-5;
            assert!(
                err < tolerance,
                "{detector:?} on {} ({what}): {err:e}",
                ctx.adapter().name
            );
        }
    }
}

#[test]
fn gpu_fdk_matches_the_cpu_for_full_and_short_scans_and_resident_projections() {
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 10.0).unwrap();
    // 64 KiB bindings: 2 volume slabs, 4 views per batch, 3 FFT chunks per batch.
    let shape = [34, 23, 21];
    let grid = centred_grid(shape, [1.0; 3]).unwrap();
    let full: Vec<f64> = (0..40).map(|k| k as f64 * 9.0).collect();
    let short: Vec<f64> = (0..50).map(|k| k as f64 * 4.5).collect();
    for (name, angles, detector) in [
        ("full", &full, Detector::Flat),
        ("short", &short, Detector::Flat),
        ("cylindrical short", &short, Detector::Arc),
    ] {
        let g = match detector {
            Detector::Flat => Geometry::cone(angles, 200.0, 400.0, 80, 48, [1.0, 1.0], [0.0, 0.0]).unwrap(),
            Detector::Arc => Geometry::cone_cylindrical(angles, 200.0, 400.0, 80, 48, [1.0, 1.0], [0.0, 0.0]).unwrap(),
        };
        let projections = g.project_exact(&phantom).unwrap();
        let fdk = Fdk::new(&g).unwrap();
        let cpu = fdk
            .reconstruct_cpu(projections.view(), shape, &grid)
            .unwrap()
            .into_dyn();
        for (ctx, what) in all_gpus() {
            let gpu = fdk
                .reconstruct_gpu(&ctx, projections.view(), shape, &grid)
                .unwrap()
                .into_dyn();
            let err = relative_error(&gpu, &cpu);
            assert!(err < 1e-4, "{name} on {} ({what}): {err:e}", ctx.adapter().name);
            // Batches overlap (two in flight); progress still reports each one, in order, once
            // it has run, and the volume is complete when the call returns.
            let mut reported = Vec::new();
            let volume = fdk
                .reconstruct_gpu_volume(&ctx, projections.view(), shape, &grid, &mut |done, total| {
                    reported.push((done, total))
                })
                .unwrap();
            let views = angles.len();
            assert!(reported.windows(2).all(|w| w[0].0 < w[1].0), "{reported:?}");
            assert_eq!(reported.last(), Some(&(views, views)), "{what}");
            assert_eq!(volume.download(&ctx).unwrap().into_dyn(), gpu, "{name} ({what})");
            let resident = GpuProjections::upload(&ctx, projections.view()).unwrap();
            let from_resident = fdk
                .reconstruct_resident(&ctx, &resident, shape, &grid)
                .unwrap()
                .download(&ctx)
                .unwrap()
                .into_dyn();
            assert!(relative_error(&from_resident, &cpu) < 1e-4, "{name} resident ({what})");
            // The resident projections are left as they were.
            assert_eq!(resident.download(&ctx).unwrap(), projections);
            // NaN in host projections is refused before anything is uploaded.
            let mut bad = projections.clone();
            bad[[1, 2, 3]] = f32::NAN;
            let err = fdk.reconstruct_gpu(&ctx, bad.view(), shape, &grid).unwrap_err();
            assert!(err.to_string().contains("NaN"), "{err}");
        }
    }
}

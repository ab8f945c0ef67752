//! Portability: every kernel family under WebGPU's default limits (128 MiB storage bindings, 8
//! storage buffers per stage, 16 KiB of workgroup memory, 256 invocations per workgroup) — what
//! the least capable WebGPU adapter guarantees — against the CPU path: every registry filter's
//! harness workload, every projector pair, FDK (the ramp filter and the back-projector), CGLS,
//! labelling and the distance transform.

mod common;

use common::{random_volume, relative_error};
use hounsfield::gpu::{GpuContext, GpuOptions, GpuProjections, GpuVolume};
use hounsfield::recon::iterative::{Control, Iterative, Method};
use hounsfield::recon::{Fdk, Geometry, ProjectorKind, centred_grid, ramp};
use hounsfield::registry::OPERATIONS;

fn default_limit_contexts() -> Vec<GpuContext> {
    common::gpu_adapters()
        .into_iter()
        .map(|i| {
            GpuContext::with_options(GpuOptions {
                adapter: Some(i),
                webgpu_default_limits: true,
                ..GpuOptions::default()
            })
            .unwrap()
        })
        .collect()
}

#[test]
fn every_kernel_runs_under_webgpu_default_limits() {
    for ctx in default_limit_contexts() {
        let name = ctx.adapter().name.clone();
        assert_eq!(ctx.adapter().max_workgroup_storage, 16384, "{name}");
        assert_eq!(ctx.max_storage_binding(), 128 << 20, "{name}");
        // Every filter the registry benchmarks, on a small volume.
        let noise = random_volume([12, 21, 19], 3);
        let binary = noise.mapv(|v| if v > 0.5 { 1.0 } else { 0.0 });
        let mut filters = 0;
        for op in OPERATIONS {
            for bench in op.benches {
                let filter = (bench.build)();
                let input = if bench.binary { &binary } else { &noise };
                let cpu = filter.apply_cpu(input.view()).unwrap().into_dyn();
                let resident = GpuVolume::upload(&ctx, input.view()).unwrap();
                let gpu = filter
                    .apply_gpu(&ctx, &resident)
                    .unwrap()
                    .download(&ctx)
                    .unwrap()
                    .into_dyn();
                let err = relative_error(&gpu, &cpu);
                assert!(err <= bench.tolerance.max(1e-5), "{} on {name}: {err:e}", bench.name);
                filters += 1;
            }
        }
        assert!(filters >= 25, "{filters} filter workloads");
        // Every projector pair and FDK on a small cone.
        let angles: Vec<f64> = (0..20).map(|k| 4.1 + k as f64 * 18.0).collect();
        let cone = Geometry::cone(&angles, 150.0, 300.0, 24, 30, [1.2, 1.2], [0.0, 0.0]).unwrap();
        let shape = [10, 16, 14];
        let grid = centred_grid(shape, [1.0; 3]).unwrap();
        let x = random_volume(shape, 5);
        for kind in ProjectorKind::ALL {
            let a = kind.build(&cone, shape, &grid).unwrap();
            let y = random_volume(a.projection_shape(), 9);
            let ax = a.forward_cpu(x.view()).unwrap().into_dyn();
            let aty = a.backward_cpu(y.view()).unwrap().into_dyn();
            let xg = GpuVolume::upload(&ctx, x.view()).unwrap();
            let yg = GpuProjections::upload(&ctx, y.view()).unwrap();
            let ax_gpu = a.forward_gpu(&ctx, &xg).unwrap().download(&ctx).unwrap().into_dyn();
            let aty_gpu = a.backward_gpu(&ctx, &yg).unwrap().download(&ctx).unwrap().into_dyn();
            assert!(relative_error(&ax_gpu, &ax) < 1e-4, "{} forward on {name}", kind.name());
            assert!(
                relative_error(&aty_gpu, &aty) < 1e-4,
                "{} transpose on {name}",
                kind.name()
            );
        }
        let projections = random_volume([20, 24, 30], 11);
        let fdk = Fdk::new(&cone).unwrap();
        let cpu = fdk
            .reconstruct_cpu(projections.view(), shape, &grid)
            .unwrap()
            .into_dyn();
        let gpu = fdk
            .reconstruct_gpu(&ctx, projections.view(), shape, &grid)
            .unwrap()
            .into_dyn();
        assert!(relative_error(&gpu, &cpu) < 1e-4, "FDK on {name}");
        // Rows padded to 4096 samples exceed 16 KiB of workgroup memory: the four-step filter.
        let rows = random_volume([3, 2, 1500], 17);
        let filtered = GpuProjections::upload(&ctx, rows.view()).unwrap();
        let before = ctx.work();
        ramp::filter_rows_gpu(&ctx, &filtered, ramp::RampWindow::Ramp, 1.0).unwrap();
        let four_step = ctx
            .work()
            .since(&before)
            .kernels
            .keys()
            .filter(|k| k.contains("four_step"))
            .count();
        assert_eq!(four_step, 3, "four-step kernels on {name}");
        let cpu_rows = ramp::filter_rows_cpu(rows.view(), ramp::RampWindow::Ramp, 1.0).unwrap();
        assert!(
            relative_error(&filtered.download(&ctx).unwrap().into_dyn(), &cpu_rows.into_dyn()) < 2e-6,
            "four-step ramp filter on {name}"
        );
        // CGLS: device scalars as step lengths.
        let data = ProjectorKind::ALL[0]
            .build(&cone, shape, &grid)
            .unwrap()
            .forward_cpu(x.view())
            .unwrap();
        let run = |gpu: bool| {
            let it = Iterative::new(&cone, shape, &grid, Method::Cgls).unwrap().iterations(3);
            let result = if gpu {
                it.run_gpu(&ctx, data.view(), |_| Control::Continue)
            } else {
                it.run_cpu(data.view(), |_| Control::Continue)
            };
            result.unwrap().volume.into_dyn()
        };
        assert!(relative_error(&run(true), &run(false)) < 1e-4, "CGLS on {name}");
        // Labelling and the distance transform.
        let mask = binary.mapv(|v| v > 0.0).into_dyn();
        let labels_cpu = hounsfield::segment::label(mask.view(), None).unwrap();
        let labels_gpu = hounsfield::segment::label_on_gpu(&ctx, mask.view(), None).unwrap();
        assert_eq!(labels_gpu.labels, labels_cpu.labels, "label on {name}");
        let edt_cpu = hounsfield::segment::distance_transform_edt(mask.view(), None, false).unwrap();
        let edt_gpu = hounsfield::segment::distance_transform_edt_on_gpu(&ctx, mask.view(), None).unwrap();
        let edt_cpu = edt_cpu.distances.mapv(|v| v as f32);
        assert!(relative_error(&edt_gpu, &edt_cpu) < 1e-5, "EDT on {name}");
    }
}

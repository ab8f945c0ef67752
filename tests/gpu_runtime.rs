//! The shared GPU runtime: adapter reporting, transfers, pipeline cache, timing, error plumbing.

mod common;

use common::{gpu, random_volume};
use hounsfield::Error;
use hounsfield::filter::{Filter, Gaussian};
use hounsfield::gpu::{Binding, BufferWindow, GpuContext, GpuVolume, KernelSpec, KernelTime, Recorder};

#[test]
fn adapters_are_reported_with_their_limits() {
    let contexts = common::gpus();
    let all = GpuContext::adapters();
    // Every listed adapter that gives a device (common::gpus leaves out refusals, loudly).
    let listed: Vec<_> = common::gpu_adapters().into_iter().map(|i| all[i].clone()).collect();
    assert_eq!(contexts.len(), listed.len());
    for (ctx, summary) in contexts.iter().zip(&listed) {
        let a = ctx.adapter();
        eprintln!("adapter: {a}");
        assert_eq!(a.name, summary.name);
        assert_eq!(a.backend, summary.backend);
        assert!(!a.name.is_empty());
        assert!(a.max_storage_binding >= 128 << 20 || a.is_software, "{a}");
        assert!(a.max_buffer_size >= a.max_storage_binding);
        let text = a.to_string();
        assert!(text.contains(&a.name) && text.contains("max storage binding"), "{text}");
    }
    // The default context is the best-ranked adapter that gives a device.
    if let Some(first) = listed.first() {
        assert_eq!(GpuContext::new().unwrap().adapter().backend, first.backend);
    }
}

#[test]
fn downloads_in_several_pieces_are_exact() {
    // 132 MiB: three 64 MiB pieces through two alternating staging buffers, the last partial.
    let shape = [33usize, 1024, 1024];
    let vol = ndarray::Array3::from_shape_fn(shape, |(z, y, x)| ((z * 1_048_576 + y * 1024 + x) % 16_777_213) as f32);
    for ctx in common::gpus() {
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        assert!(resident.download(&ctx).unwrap() == vol, "{}", ctx.adapter());
    }
}

#[test]
fn upload_download_round_trip_is_exact() {
    let Some(ctx) = gpu() else { return };
    for shape in [[1, 1, 1], [3, 5, 7], [2, 300, 301]] {
        let vol = random_volume(shape, 1);
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        assert_eq!(resident.shape(), shape);
        assert_eq!(resident.download(&ctx).unwrap(), vol);
    }
    // Non-contiguous input (a transposed view) is uploaded in logical order.
    let vol = random_volume([4, 6, 8], 2);
    let t = vol.view().reversed_axes();
    let back = GpuVolume::upload(&ctx, t).unwrap().download(&ctx).unwrap();
    assert_eq!(back, t.to_owned());
}

#[test]
fn kernels_compile_once_and_chain_on_the_gpu() {
    if gpu().is_none() {
        return;
    }
    // A context of its own, so that other tests' kernels do not change the count.
    let ctx = GpuContext::new().unwrap();
    let vol = random_volume([6, 20, 24], 3);
    let g = Gaussian::new(&[1.0]);
    let a = GpuVolume::upload(&ctx, vol.view()).unwrap();
    assert_eq!(ctx.compiled_kernels(), 0);
    // Two chained filters without a host round trip ...
    let b = g.apply_gpu(&ctx, &a).unwrap();
    let c = g.apply_gpu(&ctx, &b).unwrap();
    assert_eq!(
        ctx.compiled_kernels(),
        1,
        "the Gaussian kernel was compiled more than once"
    );
    // ... equal the CPU applying them twice.
    let cpu = g.apply_cpu(g.apply_cpu(vol.view()).unwrap().view()).unwrap();
    let gpu_twice = c.download(&ctx).unwrap();
    common::assert_close_f32(
        gpu_twice.view().into_dyn(),
        cpu.view().into_dyn(),
        1e-5,
        1e-6,
        "chained",
    );
}

#[test]
fn kernel_time_is_measured_when_timestamps_exist() {
    let Some(ctx) = gpu() else { return };
    let vol = random_volume([8, 64, 64], 4);
    let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
    let (_, time) = Gaussian::new(&[2.0]).apply_gpu_timed(&ctx, &resident).unwrap();
    if ctx.adapter().timestamps {
        let d = time.duration().expect("timestamps available but not measured");
        assert!(d.as_nanos() > 0, "{time}");
    } else {
        assert_eq!(time, KernelTime::NotAvailable);
        assert!(time.to_string().contains("not available"));
    }
}

static BROKEN_SHADER: KernelSpec = KernelSpec {
    name: "test/broken",
    sources: &["@compute @workgroup_size(64) fn main( { this is not wgsl"],
    entry: "main",
    bindings: &[],
    constants: &[],
};

static NEEDS_ONE_BUFFER: KernelSpec = KernelSpec {
    name: "test/needs_one_buffer",
    sources: &["@group(0) @binding(0) var<storage, read_write> a: array<f32>;
        @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) { a[g.x] = 1.0; }"],
    entry: "main",
    bindings: &[Binding::ReadWrite],
    constants: &[],
};

#[test]
fn shader_and_binding_mistakes_are_errors_not_panics() {
    if gpu().is_none() {
        return;
    }
    // A device of its own: the validation errors provoked here must not land in the error
    // scopes of tests running at the same time on the shared device.
    let ctx = GpuContext::new().unwrap();
    let mut rec = Recorder::new(&ctx);
    let err = rec.dispatch_linear(&BROKEN_SHADER, &[], 1).unwrap_err();
    assert!(
        matches!(err, Error::Gpu(_)) && err.to_string().contains("test/broken"),
        "{err}"
    );

    // Missing binding: refused when recorded (the declaration says one).
    let mut rec = Recorder::new(&ctx);
    let outcome = rec
        .dispatch_linear(&NEEDS_ONE_BUFFER, &[], 64)
        .and_then(|_| rec.submit());
    assert!(matches!(outcome, Err(Error::Gpu(_))), "{outcome:?}");

    // A window that runs past the end of its buffer.
    let small = GpuVolume::zeros(&ctx, [1, 1, 64]).unwrap();
    let big = GpuVolume::zeros(&ctx, [1, 1, 128]).unwrap();
    let mut rec = Recorder::new(&ctx);
    let window = BufferWindow {
        size: big.byte_len(),
        ..BufferWindow::whole(small_buffer(&small))
    };
    let outcome = rec
        .dispatch_linear(&NEEDS_ONE_BUFFER, &[window], 64)
        .and_then(|_| rec.submit());
    assert!(matches!(outcome, Err(Error::Gpu(_))), "{outcome:?}");

    // The device is still usable afterwards.
    let vol = random_volume([2, 3, 4], 6);
    let back = GpuVolume::upload(&ctx, vol.view()).unwrap().download(&ctx).unwrap();
    assert_eq!(back, vol);
}

fn small_buffer(v: &GpuVolume) -> &hounsfield::gpu::wgpu::Buffer {
    v.buffer()
}

#[test]
fn a_lost_device_gives_errors_not_panics_or_hangs() {
    if gpu().is_none() {
        return;
    }
    let ctx = GpuContext::new().unwrap();
    let vol = random_volume([4, 8, 8], 8);
    let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
    ctx.destroy();
    let err = Gaussian::new(&[1.0]).apply_gpu(&ctx, &resident).unwrap_err();
    assert!(matches!(err, Error::DeviceLost(_)), "{err}");
    assert!(err.to_string().contains("new GpuContext"), "{err}");
    assert!(matches!(resident.download(&ctx), Err(Error::DeviceLost(_))));
    assert!(matches!(GpuVolume::upload(&ctx, vol.view()), Err(Error::DeviceLost(_))));
}

/// Writes `params[0] + slice index` into every voxel of each output slice: a kernel whose
/// output differs in shape from its input, for testing mapped slabs.
static MAPPED_INDEX: KernelSpec = KernelSpec {
    name: "test/mapped_index",
    sources: &[
        hounsfield::gpu::wgsl::TILE,
        "@group(0) @binding(0) var<uniform> mapping: Mapping;
        @group(0) @binding(1) var<storage, read> src: array<f32>;
        @group(0) @binding(2) var<storage, read_write> dst: array<f32>;
        @compute @workgroup_size(64)
        fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
            let i = linear_invocation(gid, n);
            if (i >= mapping.out_nz * mapping.out_ny * mapping.out_nx) { return; }
            // The first input slice of the bound window, read through the window's offset.
            let first = src[mapped_in_index(mapping, mapping.in_z_first, 0u, 0u)];
            dst[mapping.out_offset + i] += first + f32(mapping.in_z_count);
        }",
    ],
    entry: "main",
    bindings: &[hounsfield::gpu::MAPPING, Binding::Read, Binding::ReadWrite],
    constants: &[],
};

#[test]
fn mapped_slabs_bind_the_input_each_output_slab_needs_and_chunk_long_inputs() {
    for ctx in common::gpus_small_bindings() {
        // 64 KiB bindings hold 15 slices of 32×32 (with alignment slack): input z in chunks.
        let nz = 40;
        let vol = ndarray::Array3::from_shape_fn((nz, 32, 32), |(z, _, _)| z as f32 * 100.0);
        let input = GpuVolume::upload(&ctx, vol.view()).unwrap();
        let output = GpuVolume::upload(&ctx, ndarray::Array3::<f32>::zeros((1, 4, 4)).view()).unwrap();
        let mut rec = Recorder::new(&ctx);
        let mut seen = Vec::new();
        hounsfield::gpu::for_each_mapped_slab(
            &mut rec,
            &input,
            &output,
            |_, _| (0, nz),
            |rec, slab| {
                seen.push((slab.in_z.clone(), slab.chunk, slab.chunks));
                rec.dispatch_linear(
                    &MAPPED_INDEX,
                    &[BufferWindow::whole(&slab.mapping), slab.input, slab.output],
                    slab.items,
                )
            },
        )
        .unwrap();
        rec.submit().unwrap();
        // The chunks cover the input in order, each within one binding.
        assert!(seen.len() > 1, "{seen:?}");
        assert_eq!(seen.first().unwrap().0.start, 0);
        assert_eq!(seen.last().unwrap().0.end, nz);
        assert!(
            seen.windows(2)
                .all(|w| w[0].0.end == w[1].0.start && w[1].1 == w[0].1 + 1)
        );
        // Every chunk added (its first slice's value + its length): the sum is known.
        let expected: f32 = seen
            .iter()
            .map(|(r, _, _)| r.start as f32 * 100.0 + r.len() as f32)
            .sum();
        let out = output.download(&ctx).unwrap();
        assert!(out.iter().all(|&v| v == expected), "{out:?} vs {expected}");
    }
}

#[test]
fn recorder_pools_volumes_flushes_and_reads_back() {
    let Some(ctx) = gpu() else { return };
    let vol = random_volume([3, 5, 7], 1);
    let input = GpuVolume::upload(&ctx, vol.view()).unwrap();
    let mut rec = Recorder::new(&ctx);
    let a = rec.duplicate(&input).unwrap();
    let a_buffer = a.buffer().clone();
    rec.recycle(a);
    // A recycled volume of the same size comes back (reshaped) instead of a new allocation.
    let b = rec.volume([1, 15, 7]).unwrap();
    assert_eq!(b.shape(), [1, 15, 7]);
    assert_eq!(b.buffer(), &a_buffer);
    // Moments recorded, flushed and read back mid-recording.
    let pending = hounsfield::gpu::reduce::record_moments(&mut rec, &input).unwrap();
    rec.flush().unwrap();
    let m = pending.finish(&ctx).unwrap();
    assert_eq!(m.count, vol.len() as u64);
    let mean = vol.iter().map(|&v| f64::from(v)).sum::<f64>() / vol.len() as f64;
    assert!((m.mean - mean).abs() < 1e-6);
    // Recording continues after the flush; the pooled volume is still valid.
    let c = rec.duplicate(&input).unwrap();
    rec.submit().unwrap();
    assert_eq!(c.download(&ctx).unwrap(), vol);
}

#[test]
fn projection_stacks_travel_in_batches_of_whole_views_that_fit_one_binding() {
    use hounsfield::gpu::GpuProjections;
    // 64 KiB bindings: 9 × 31 floats per view → 58 views per batch; 130 views → 3 batches.
    let data = random_volume([130, 9, 31], 4);
    for ctx in common::gpus_small_bindings() {
        let stack = GpuProjections::upload(&ctx, data.view()).unwrap();
        assert_eq!(stack.shape(), [130, 9, 31]);
        let batches: Vec<(usize, [usize; 3])> = stack.batches().map(|(first, b)| (first, b.shape())).collect();
        assert_eq!(batches, vec![(0, [58, 9, 31]), (58, [58, 9, 31]), (116, [14, 9, 31])]);
        assert_eq!(stack.download(&ctx).unwrap(), data);
        let zeros = GpuProjections::zeros(&ctx, [130, 9, 31]).unwrap();
        assert!(zeros.download(&ctx).unwrap().iter().all(|&v| v == 0.0));
        // A single view larger than a binding is a TooLarge error naming the fix.
        let err = GpuProjections::zeros(&ctx, [2, 200, 200]).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge(_)) && err.to_string().contains("bin the detector"),
            "{err}"
        );
    }
}

#[test]
fn the_work_model_counts_what_the_runtime_records_submits_and_reads_back() {
    use hounsfield::gpu::work::REFERENCE_GPUS;
    if gpu().is_none() {
        return;
    }
    // A context of its own: the shared ones count other tests' work too.
    let ctx = GpuContext::new().unwrap();
    let vol = random_volume([4, 16, 16], 3);
    let bytes = (vol.len() * 4) as u64;
    let input = GpuVolume::upload(&ctx, vol.view()).unwrap();

    let before = ctx.work();
    let mut rec = Recorder::new(&ctx);
    let out = rec.duplicate(&input).unwrap();
    rec.dispatch_linear(&NEEDS_ONE_BUFFER, &[BufferWindow::whole(out.buffer())], 64)
        .unwrap();
    rec.dispatch_linear(&NEEDS_ONE_BUFFER, &[BufferWindow::whole(out.buffer())], 200)
        .unwrap();
    let readback = rec.read_back(out.buffer(), 64);
    rec.submit().unwrap();
    readback.read(&ctx).unwrap();
    let w = ctx.work().since(&before);
    assert_eq!(
        (w.dispatches, w.submissions, w.readbacks, w.readback_bytes),
        (2, 1, 1, 64)
    );
    assert_eq!((w.copies, w.copy_bytes), (1, bytes));
    // Workgroups of 64: one for 64 items, four for 200.
    assert_eq!((w.workgroups, w.invocations), (5, 5 * 64));
    assert_eq!((w.bytes_read, w.bytes_written), (0, 2 * bytes));
    assert_eq!(w.kernels["test/needs_one_buffer"].dispatches, 2);
    assert_eq!(w.device_bytes(), 2 * bytes + 2 * bytes);
    assert_eq!(w.host_syncs(), 2);

    // A separable Gaussian on resident data: one submission, no read-back, three passes that
    // each bind the volume once to read and once to write (plus their small weight tables).
    let before = ctx.work();
    let smoothed = Gaussian::new(&[1.0]).apply_gpu(&ctx, &input).unwrap();
    let w = ctx.work().since(&before);
    assert_eq!((w.submissions, w.readbacks, w.dispatches), (1, 0, 3), "{w:?}");
    assert!(w.bytes_read >= 3 * bytes && w.bytes_read < 3 * bytes + 4096, "{w:?}");
    assert_eq!(w.bytes_written, 3 * bytes);
    // Its download: one transfer, read back.
    let before = ctx.work();
    smoothed.download(&ctx).unwrap();
    let w = ctx.work().since(&before);
    assert_eq!((w.submissions, w.readbacks, w.readback_bytes), (1, 1, bytes));
    // Priced: traffic over bandwidth plus the fixed costs, all positive and finite.
    for g in REFERENCE_GPUS {
        let t = g.modelled_seconds(&w);
        assert!(t.is_finite() && t > 0.0, "{}", g.name);
    }
}

#[test]
fn device_scalars_reduce_scale_and_come_back_together() {
    use hounsfield::gpu::GpuProjections;
    use hounsfield::gpu::scalars::{
        DeviceCoefficient, record_norm2_scalar, record_projections_norm2_scalar, record_read, record_sum_scalar,
    };
    use hounsfield::gpu::vector_ops::{VectorOp, norm2_cpu, record_vector_op_scaled};
    let mut vol = random_volume([7, 33, 29], 21);
    vol[[3, 4, 5]] = f32::NAN; // excluded, as on the CPU
    let values: Vec<f32> = vol.iter().copied().collect();
    let want_norm2 = norm2_cpu(&values);
    let want_sum: f64 = values.iter().filter(|v| !v.is_nan()).map(|&v| f64::from(v)).sum();
    let stack = random_volume([40, 20, 37], 22); // two batches under 64 KiB bindings
    let want_stack: f64 = stack.iter().map(|&v| f64::from(v).powi(2)).sum();
    for (ctx, what) in common::all_gpus() {
        let input = GpuVolume::upload(&ctx, vol.view()).unwrap();
        let projections = GpuProjections::upload(&ctx, stack.view()).unwrap();
        let target = GpuVolume::upload(&ctx, ndarray::Array3::<f32>::ones([2, 3, 4]).view()).unwrap();
        let before = ctx.work();
        let mut rec = Recorder::new(&ctx);
        let norm2 = record_norm2_scalar(&mut rec, &input).unwrap();
        let sum = record_sum_scalar(&mut rec, &input).unwrap();
        let stack_norm2 = record_projections_norm2_scalar(&mut rec, &projections).unwrap();
        // target = 2 · norm2 / sum everywhere, and then scaled by 1 / √norm2.
        let ratio = DeviceCoefficient::Ratio { num: &norm2, den: &sum };
        record_vector_op_scaled(&mut rec, VectorOp::Fill(2.0), &target, None, None, ratio).unwrap();
        let pending = record_read(&mut rec, &[&norm2, &sum, &stack_norm2]);
        rec.submit().unwrap();
        let got = pending.finish(&ctx).unwrap();
        // Shared contexts count concurrent tests' work too: at least this one's (exactly, below).
        let work = ctx.work().since(&before);
        assert!(work.submissions >= 1 && work.readbacks >= 1, "{what}: {work:?}");
        for (g, w, name) in [
            (got[0], want_norm2, "norm2"),
            (got[1], want_sum, "sum"),
            (got[2], want_stack, "stack"),
        ] {
            assert!((g - w).abs() <= 1e-5 * w.abs(), "{what} {name}: {g} vs {w}");
        }
        let filled = target.download(&ctx).unwrap();
        let expected = 2.0 * want_norm2 / want_sum;
        assert!(
            filled
                .iter()
                .all(|&v| (f64::from(v) - expected).abs() <= 1e-5 * expected.abs()),
            "{what}"
        );
        let mut rec = Recorder::new(&ctx);
        record_vector_op_scaled(
            &mut rec,
            VectorOp::Scale(1.0),
            &target,
            None,
            None,
            DeviceCoefficient::InverseRoot(&norm2),
        )
        .unwrap();
        rec.submit().unwrap();
        let scaled = target.download(&ctx).unwrap();
        let expected = expected / want_norm2.sqrt();
        assert!(
            scaled
                .iter()
                .all(|&v| (f64::from(v) - expected).abs() <= 1e-5 * expected.abs()),
            "{what}"
        );
    }
    // Three reductions, a coefficient and the read: one submission, one read-back.
    if common::gpus().is_empty() {
        return;
    }
    let ctx = GpuContext::new().unwrap();
    let input = GpuVolume::upload(&ctx, vol.view()).unwrap();
    let before = ctx.work();
    let mut rec = Recorder::new(&ctx);
    let a = record_norm2_scalar(&mut rec, &input).unwrap();
    let b = record_sum_scalar(&mut rec, &input).unwrap();
    let pending = record_read(&mut rec, &[&a, &b]);
    rec.submit().unwrap();
    pending.finish(&ctx).unwrap();
    let work = ctx.work().since(&before);
    assert_eq!(
        (work.submissions, work.readbacks, work.readback_bytes),
        (1, 1, 8),
        "{work:?}"
    );
    assert_eq!(work.kernels["gpu/scalar_merge"].dispatches, 2);
}

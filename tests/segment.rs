//! Segmentation on the GPU: labels equal the CPU's (which equal scipy's, see the Python
//! differential tests) on every adapter, in one binding and across 64 KiB slabs; resident
//! labelling of a GPU volume; the GPU watershed against the CPU flood and its tie rule; bad
//! input.

mod common;

use common::{all_gpus, gpus};
use hounsfield::Error;
use hounsfield::gpu::GpuVolume;
use hounsfield::segment::{
    BlockVisibility, WatershedOptions, generate_binary_structure, label, label_gpu, label_on_gpu, watershed,
    watershed_on_gpu, watershed_on_gpu_traced, watershed_on_gpu_traced_with,
};
use ndarray::{Array3, ArrayD, Dimension, IxDyn};

/// A mask of smooth blobs (a threshold of a box-smoothed noise field): components of many
/// sizes and shapes, plus scattered single voxels.
fn blobs(shape: &[usize], seed: u64, level: f32) -> ArrayD<bool> {
    let n: usize = shape.iter().product();
    let noise = common::random_values(n, seed);
    let field = ArrayD::from_shape_vec(IxDyn(shape), noise).unwrap();
    let smooth = ArrayD::from_shape_fn(IxDyn(shape), |idx| {
        let mut sum = 0.0;
        let mut count = 0.0;
        let d = shape.len();
        for k in 0..3usize.pow(d as u32) {
            let mut at = idx.clone();
            let mut inside = true;
            let mut r = k;
            for a in 0..d {
                let off = (r % 3) as isize - 1;
                r /= 3;
                let c = at[a] as isize + off;
                inside &= c >= 0 && (c as usize) < shape[a];
                at[a] = c.max(0) as usize;
            }
            if inside {
                sum += field[&at];
                count += 1.0;
            }
        }
        sum / count
    });
    smooth.mapv(|v| v > level)
}

#[test]
fn gpu_labels_equal_cpu_labels_in_one_binding_and_across_slabs() {
    let contexts = all_gpus();
    assert!(!contexts.is_empty() || std::env::var(common::REQUIRE_GPU_ENV).is_err());
    let cases: Vec<(Vec<usize>, f32)> = vec![
        (vec![37, 41], 0.5),
        (vec![1, 64], 0.5),
        (vec![64, 1], 0.4),
        (vec![9, 33, 40], 0.5),
        (vec![30, 24, 28], 0.45),
        (vec![1, 1, 1], 0.5),
        (vec![50, 7, 5], 0.55),
        (vec![40, 30, 30], 0.5),
    ];
    for (ctx, bindings) in &contexts {
        for (k, (shape, level)) in cases.iter().enumerate() {
            let mask = blobs(shape, 100 + k as u64, *level);
            let ndim = shape.len();
            for connectivity in 1..=ndim {
                let structure = generate_binary_structure(ndim, connectivity as i64).unwrap();
                let want = label(mask.view(), Some(structure.view())).unwrap();
                let got = label_on_gpu(ctx, mask.view(), Some(structure.view())).unwrap();
                assert_eq!(got.count, want.count, "{shape:?} c{connectivity} {bindings}");
                assert_eq!(got.labels, want.labels, "{shape:?} c{connectivity} {bindings}");
            }
        }
        // A symmetric structure without the row neighbour (runs of one voxel on the CPU).
        let mut odd = ArrayD::from_elem(IxDyn(&[3, 3, 3]), false);
        for p in [[0, 0, 0], [2, 2, 2], [0, 1, 1], [2, 1, 1], [1, 0, 2], [1, 2, 0]] {
            odd[IxDyn(&p)] = true;
        }
        let mask = blobs(&[12, 20, 18], 7, 0.45);
        let want = label(mask.view(), Some(odd.view())).unwrap();
        let got = label_on_gpu(ctx, mask.view(), Some(odd.view())).unwrap();
        assert_eq!(
            (got.count, &got.labels),
            (want.count, &want.labels),
            "odd structure {bindings}"
        );
    }
}

#[test]
fn resident_labelling_counts_components_of_a_gpu_volume() {
    for ctx in gpus() {
        // Two separate cubes and a NaN voxel (foreground, as in scipy).
        let mut volume = Array3::<f32>::zeros((6, 8, 8));
        volume.slice_mut(ndarray::s![1..3, 1..3, 1..3]).fill(5.0);
        volume.slice_mut(ndarray::s![4..6, 5..8, 5..8]).fill(-2.0);
        volume[[0, 7, 0]] = f32::NAN;
        let up = GpuVolume::upload(&ctx, volume.view()).unwrap();
        let out = label_gpu(&ctx, &up, None, 3).unwrap();
        assert_eq!(out.count, 3);
        let labels = out.labels.download_u32(&ctx).unwrap();
        // Raster order of first voxels: the NaN (slice 0), then the cubes.
        assert_eq!(labels[[0, 7, 0]], 1);
        assert_eq!(labels[[1, 1, 1]], 2);
        assert_eq!(labels[[5, 7, 7]], 3);
        assert_eq!(labels.iter().filter(|&&l| l == 0).count(), volume.len() - 8 - 18 - 1);
        // Rank rules: a 2D call needs a one-slice volume.
        assert!(label_gpu(&ctx, &up, None, 2).is_err());
        let wrong = generate_binary_structure(2, 1).unwrap();
        assert!(label_gpu(&ctx, &up, Some(wrong.view()), 3).is_err());
        let four_d = ArrayD::from_elem(IxDyn(&[2, 2, 2, 2]), true);
        assert!(label_on_gpu(&ctx, four_d.view(), None).is_err());
    }
}

#[test]
fn gpu_distances_equal_cpu_distances_in_one_binding_and_across_slabs() {
    use hounsfield::segment::{distance_transform_edt, distance_transform_edt_on_gpu};
    let cases: Vec<(Vec<usize>, f32, Option<Vec<f64>>)> = vec![
        (vec![37, 41], 0.55, None),
        (vec![37, 41], 0.6, Some(vec![0.7, 1.9])),
        (vec![1, 70], 0.6, None),
        (vec![9, 33, 40], 0.6, Some(vec![2.5, 0.8, 0.7])),
        (vec![40, 30, 30], 0.35, None),
        (vec![40, 30, 30], 0.58, Some(vec![3.0, 1.0, 0.5])),
        (vec![50, 7, 5], 0.5, None),
    ];
    let mut deepest = 0.0f64;
    for (ctx, bindings) in all_gpus() {
        for (k, (shape, level, sampling)) in cases.iter().enumerate() {
            let mask = blobs(shape, 300 + k as u64, *level);
            let want = distance_transform_edt(mask.view(), sampling.as_deref(), false)
                .unwrap()
                .distances;
            let got = distance_transform_edt_on_gpu(&ctx, mask.view(), sampling.as_deref()).unwrap();
            deepest = want.iter().fold(deepest, |a, &d| a.max(d));
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (f64::from(*g) - w).abs() <= 1e-5 * w.max(1.0),
                    "{shape:?} {sampling:?} {bindings}: {g} vs {w}"
                );
            }
        }
        // Background only in the last slice (x < 10) or the first (x >= 20): with 64 KiB
        // bindings four slabs, so the first slabs find the last slice's background through
        // the "first background after" carried down from the last slab.
        let far = ArrayD::from_shape_fn(IxDyn(&[60, 30, 30]), |i| {
            !((i[0] == 59 && i[2] < 10) || (i[0] == 0 && i[2] >= 20) || (i[0] == 0 && i[1] == 0 && i[2] == 15))
        });
        let want = distance_transform_edt(far.view(), Some(&[1.5, 1.0, 1.0]), false)
            .unwrap()
            .distances;
        let got = distance_transform_edt_on_gpu(&ctx, far.view(), Some(&[1.5, 1.0, 1.0])).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-5 * w.max(1.0),
                "far background {bindings}: {g} vs {w}"
            );
        }
        // No background at all: scipy's values through the CPU.
        let full = ArrayD::from_elem(IxDyn(&[3, 4]), true);
        let got = distance_transform_edt_on_gpu(&ctx, full.view(), None).unwrap();
        assert_eq!(got[[0, 0]], 1.0);
        assert!(distance_transform_edt_on_gpu(&ctx, full.view(), Some(&[1.0])).is_err());
    }
    assert!(
        gpus().is_empty() || deepest > 4.0,
        "the cases reach {deepest} voxels deep"
    );
}

/// Distinct heights (a shuffled ramp, exact in float32), so no two basins meet at equal cost.
fn distinct_heights(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    let keys = common::random_values(n, seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then(a.cmp(&b)));
    let mut heights = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        heights[i] = rank as f64;
    }
    ArrayD::from_shape_vec(IxDyn(shape), heights).unwrap()
}

fn scattered_markers(shape: &[usize], seed: u64, count: usize) -> ArrayD<i64> {
    let n: usize = shape.iter().product();
    let picks = common::random_values(2 * count, seed);
    let mut markers = ArrayD::<i64>::zeros(IxDyn(shape));
    for k in 0..count {
        let at = ((picks[k] * n as f32) as usize).min(n - 1);
        // Labels far from their ranks, one of them repeated.
        markers.as_slice_mut().unwrap()[at] = [900, -5, 17, 4, 2, 17, 61][k % 7];
    }
    markers
}

/// Whether the GPU watershed floods `shape` with `binding` bytes a storage binding (windows
/// aligned to `align` bytes, at most 256 in WebGPU): 8 bytes a sample (the packed states of up
/// to 65,535 labels), images whole, volumes whole between two padding slices or by slabs of at
/// least four slices with a slice either side.
fn gpu_watershed_fits(shape: &[usize], binding: u64, align: u64) -> bool {
    let plane = 8 * shape[shape.len() - 2..].iter().product::<usize>() as u64;
    match shape.len() {
        2 => plane <= binding,
        _ => plane * (shape[0] as u64 + 2) <= binding || plane * 6 + align <= binding,
    }
}

#[test]
fn gpu_watershed_equals_the_cpu_flood_where_no_basins_tie() {
    let contexts = all_gpus();
    assert!(!contexts.is_empty() || std::env::var(common::REQUIRE_GPU_ENV).is_err());
    let cases: Vec<Vec<usize>> = vec![
        vec![37, 41],
        vec![1, 50],
        vec![9, 33, 40],
        vec![30, 24, 28],
        vec![12, 10, 9],
    ];
    for (ctx, bindings) in &contexts {
        for (k, shape) in cases.iter().enumerate() {
            let image = distinct_heights(shape, 300 + k as u64);
            let markers = scattered_markers(shape, 400 + k as u64, 7);
            let mask = blobs(shape, 500 + k as u64, 0.3);
            let ndim = shape.len();
            for connectivity in 1..=ndim {
                let footprint = generate_binary_structure(ndim, connectivity as i64).unwrap();
                for masked in [false, true] {
                    let options = WatershedOptions {
                        mask: masked.then(|| mask.view()),
                        footprint: Some(footprint.view()),
                        ..Default::default()
                    };
                    let got = watershed_on_gpu(ctx, image.view(), markers.view(), &options);
                    if !gpu_watershed_fits(shape, ctx.max_storage_binding(), 256) {
                        assert!(matches!(got, Err(Error::TooLarge(_))), "{shape:?} {bindings}");
                        continue;
                    }
                    let want = watershed(image.view(), markers.view(), &options).unwrap();
                    let label = format!("{shape:?} c{connectivity} mask {masked} {bindings}");
                    assert_eq!(got.unwrap(), want, "{label}");
                }
            }
        }
    }
}

#[test]
fn gpu_watershed_splits_its_state_across_buffers_where_the_adapter_limits_them() {
    // 64 KiB bindings and 128 KiB buffers: a 30 × 24 × 28 volume (5,376 bytes of packed state a
    // slice) runs by slabs of eight slices, two slabs to a buffer, so its state spans two
    // buffers whose border slices are copied after every pass. At most 5 workgroups a
    // dimension: a pass's list of up to 24 blocks a slab pair folds into 5 columns, some of
    // whose last row's workgroups find no block.
    use hounsfield::gpu::{GpuContext, GpuOptions};
    let shape = [30usize, 24, 28];
    let image = distinct_heights(&shape, 77);
    let mut single = ArrayD::<i64>::zeros(IxDyn(&shape));
    single[[0, 0, 0]] = 3;
    let options = WatershedOptions::default();
    let mut ran = 0;
    for i in common::gpu_adapters() {
        let ctx = GpuContext::with_options(GpuOptions {
            max_storage_binding: Some(64 * 1024),
            max_buffer_size: Some(128 * 1024),
            max_workgroups_per_dimension: Some(5),
            adapter: Some(i),
            ..GpuOptions::default()
        })
        .unwrap();
        for markers in [single.clone(), scattered_markers(&shape, 78, 7)] {
            let want = watershed(image.view(), markers.view(), &options).unwrap();
            let got = watershed_on_gpu(&ctx, image.view(), markers.view(), &options).unwrap();
            assert_eq!(got, want, "adapter {i}");
            // Reading only the last pass, the state and its copy (10,752 bytes a slice) run by
            // slabs of four slices (the 8 × 8 × 4 blocks), two to a buffer of 128 KiB.
            let (got, trace) =
                watershed_on_gpu_traced_with(&ctx, image.view(), markers.view(), &options, BlockVisibility::LastPass)
                    .unwrap();
            assert_eq!(got, want, "adapter {i}, last pass only");
            assert_eq!(trace.block, [8, 8, 4], "adapter {i}");
        }
        ran += 1;
    }
    assert!(
        ran > 0 || std::env::var(common::REQUIRE_GPU_ENV).is_err(),
        "no GPU adapter"
    );
}

#[test]
fn gpu_watershed_reading_only_the_last_pass_equals_the_cpu_and_crosses_a_block_a_pass() {
    // `BlockVisibility::LastPass`: every block reads the states from before the pass, as when a
    // large GPU runs all blocks at once. The same fixed point (the CPU's labels) on every
    // adapter, with default and 64 KiB bindings (where the doubled state does not fit, a
    // `TooLarge` exactly then); slabs across buffers are the splitting test's.
    let contexts = all_gpus();
    assert!(!contexts.is_empty() || std::env::var(common::REQUIRE_GPU_ENV).is_err());
    let cases: Vec<Vec<usize>> = vec![vec![37, 41], vec![9, 33, 40], vec![30, 24, 28]];
    fn last_pass(
        ctx: &hounsfield::gpu::GpuContext,
        image: &ArrayD<f64>,
        markers: &ArrayD<i64>,
        options: &WatershedOptions<'_>,
    ) -> hounsfield::Result<(ArrayD<i64>, hounsfield::segment::GpuFloodTrace)> {
        watershed_on_gpu_traced_with(ctx, image.view(), markers.view(), options, BlockVisibility::LastPass)
    }
    for (ctx, bindings) in &contexts {
        for (k, shape) in cases.iter().enumerate() {
            let image = distinct_heights(shape, 600 + k as u64);
            let markers = scattered_markers(shape, 700 + k as u64, 7);
            let mask = blobs(shape, 800 + k as u64, 0.3);
            for masked in [false, true] {
                let options = WatershedOptions {
                    mask: masked.then(|| mask.view()),
                    ..Default::default()
                };
                let label = format!("{shape:?} mask {masked} {bindings}");
                match last_pass(ctx, &image, &markers, &options) {
                    Ok((got, _)) => assert_eq!(
                        got,
                        watershed(image.view(), markers.view(), &options).unwrap(),
                        "{label}"
                    ),
                    // The snapshot's 16 bytes a sample must fit a slab; nothing else may fail.
                    Err(Error::TooLarge(_)) => assert!(
                        !gpu_watershed_fits(shape, ctx.max_storage_binding() / 2, 256),
                        "{label}"
                    ),
                    Err(e) => panic!("{label}: {e}"),
                }
            }
        }
    }
    // A corridor 52 blocks long flooded from one end, heights rising along it: reading only
    // the last pass, the front crosses one block a pass, so at least 51 passes relax a block.
    // That is three batches of passes between convergence checks (32, 16, 16), whose
    // schedules reuse their slots: the labels show that no batch lost the lists the last one
    // left it.
    // Along z, so that small bindings cut it into slabs (the lists of several slab pairs).
    let shape = [416usize, 8, 8];
    let image = ArrayD::from_shape_fn(IxDyn(&shape), |i| (i[0] * 64 + i[1] * 8 + i[2]) as f64);
    let mut markers = ArrayD::<i64>::zeros(IxDyn(&shape));
    markers[[0, 0, 0]] = 2;
    let options = WatershedOptions::default();
    let want = watershed(image.view(), markers.view(), &options).unwrap();
    for (ctx, bindings) in &contexts {
        let (got, trace) = last_pass(ctx, &image, &markers, &options).unwrap();
        assert_eq!(got, want, "{bindings}");
        // Blocks run in order here may carry the front further, with the same labels.
        let scheduled = watershed_on_gpu(ctx, image.view(), markers.view(), &options).unwrap();
        assert_eq!(scheduled, want, "{bindings}, as scheduled");
        let busy = trace.relaxed_per_pass.iter().filter(|&&n| n > 0).count();
        assert!(
            busy >= 416 / trace.block[2] as usize - 1,
            "{bindings}: blocks of {:?}, blocks relaxed per pass {:?}",
            trace.block,
            trace.relaxed_per_pass
        );
    }
}

#[test]
fn gpu_watershed_floods_from_a_marker_whose_only_free_neighbours_are_in_other_blocks() {
    // The first pass asks for the blocks of the markers' footprints: a marker on its block's
    // edge whose block holds nothing else to flood reaches the mask only through a sample of
    // the next block (a face away; a corner away with full connectivity), and that block must
    // run although no change in the marker's block asks for it.
    let contexts = all_gpus();
    assert!(!contexts.is_empty() || std::env::var(common::REQUIRE_GPU_ENV).is_err());
    let face = [8usize, 8, 16];
    let corner = [16usize, 16, 16];
    for (shape, at, connectivity) in [(face, [3usize, 3, 7], 1), (corner, [7, 7, 7], 3)] {
        let image = distinct_heights(&shape, 41);
        let mask = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
            let past = if connectivity == 1 {
                i[2] >= 8
            } else {
                i[0] >= 8 && i[1] >= 8 && i[2] >= 8
            };
            past || i.slice() == at
        });
        let mut markers = ArrayD::<i64>::zeros(IxDyn(&shape));
        markers[at] = 5;
        let footprint = generate_binary_structure(3, connectivity).unwrap();
        let options = WatershedOptions {
            mask: Some(mask.view()),
            footprint: Some(footprint.view()),
            ..Default::default()
        };
        let want = watershed(image.view(), markers.view(), &options).unwrap();
        assert!(
            want.iter().filter(|&&l| l == 5).count() > 100,
            "the flood crosses into the next block"
        );
        for (ctx, bindings) in &contexts {
            for visibility in [BlockVisibility::AsScheduled, BlockVisibility::LastPass] {
                let (got, _) =
                    watershed_on_gpu_traced_with(ctx, image.view(), markers.view(), &options, visibility).unwrap();
                assert_eq!(
                    got, want,
                    "{shape:?} connectivity {connectivity} {visibility:?} {bindings}"
                );
            }
        }
    }
}

#[test]
fn gpu_watershed_floods_plateaus_longer_than_its_packed_steps() {
    // Row 0: a flat line of 140,000 samples with a marker at each end, whose floods meet in
    // the middle about 70,000 plateau steps from either. Row 2: 40,000 more markers, kept apart
    // by a masked-out row 1, so the labels take 16 bits of the packed layout and its steps the
    // other 16 (at most 65,534). Saturated steps would tie in the middle and give it to the
    // smaller label; the GPU floods again in the wide layout and meets the CPU in the middle.
    let len = 140_000usize;
    let image = ArrayD::<f64>::zeros(IxDyn(&[3, len]));
    let mut markers = ArrayD::<i64>::zeros(IxDyn(&[3, len]));
    markers[[0, 0]] = 7;
    markers[[0, len - 1]] = 3;
    for x in 0..40_000 {
        markers[[2, x]] = 100 + x as i64;
    }
    let mask = ArrayD::from_shape_fn(IxDyn(&[3, len]), |i| i[0] != 1);
    let options = WatershedOptions {
        mask: Some(mask.view()),
        ..Default::default()
    };
    let want = watershed(image.view(), markers.view(), &options).unwrap();
    assert_eq!(want[[0, len / 2 - 1]], 7);
    assert_eq!(want[[0, len / 2]], 3);
    for ctx in gpus() {
        let got = watershed_on_gpu(&ctx, image.view(), markers.view(), &options).unwrap();
        assert_eq!(got, want, "{}", ctx.adapter());
    }
}

#[test]
fn gpu_watershed_breaks_ties_by_plateau_steps_then_the_smaller_label() {
    // A flat image: every sample takes its nearest marker in city-block steps (faces), the
    // smaller label when two are equally near — the documented GPU tie rule.
    let Some(ctx) = common::gpu() else {
        assert!(std::env::var(common::REQUIRE_GPU_ENV).is_err(), "no GPU adapter");
        return;
    };
    let shape = [23usize, 31];
    let image = ArrayD::<f64>::zeros(IxDyn(&shape));
    let seeds = [((3usize, 4usize), 7i64), ((15, 20), 3), ((20, 2), 5), ((3, 28), 9)];
    let mut markers = ArrayD::<i64>::zeros(IxDyn(&shape));
    for &((y, x), l) in &seeds {
        markers[[y, x]] = l;
    }
    let got = watershed_on_gpu(&ctx, image.view(), markers.view(), &WatershedOptions::default()).unwrap();
    for y in 0..shape[0] {
        for x in 0..shape[1] {
            let nearest = seeds
                .iter()
                .map(|&((sy, sx), l)| (sy.abs_diff(y) + sx.abs_diff(x), l))
                .min()
                .unwrap();
            assert_eq!(got[[y, x]], nearest.1, "({y}, {x})");
        }
    }
}

/// The documented GPU rule computed sample by sample on the host: Jacobi steps of "take the
/// reached neighbour with the smallest (cost, plateau steps, label), become (max(height,
/// cost), steps + 1 on its plateau else 0, label)" until nothing changes; float32 heights.
fn tie_rule_flood(
    image: &ArrayD<f64>,
    markers: &ArrayD<i64>,
    mask: Option<&ArrayD<bool>>,
    connectivity: usize,
) -> ArrayD<i64> {
    let shape = image.shape().to_vec();
    let d = shape.len();
    let offsets: Vec<Vec<isize>> = (0..3usize.pow(d as u32))
        .map(|k| {
            (0..d)
                .map(|a| (k / 3usize.pow((d - 1 - a) as u32) % 3) as isize - 1)
                .collect::<Vec<_>>()
        })
        .filter(|o: &Vec<isize>| {
            let steps = o.iter().filter(|&&c| c != 0).count();
            steps > 0 && steps <= connectivity
        })
        .collect();
    let inside = |i: &[usize]| mask.is_none_or(|m| m[i]);
    let mut labels: Vec<i64> = markers.iter().copied().filter(|&m| m != 0).collect();
    labels.sort_unstable();
    labels.dedup();
    // (cost, steps, rank) with rank 0 = unreached; markers are fixed.
    let mut state = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
        let m = markers[&i];
        if inside(i.slice()) && m != 0 {
            (image[&i] as f32, 0u32, 1 + labels.binary_search(&m).unwrap() as u32)
        } else {
            (f32::INFINITY, 0, 0)
        }
    });
    loop {
        let previous = state.clone();
        let mut changed = false;
        for (i, s) in state.indexed_iter_mut() {
            let i = i.slice();
            if !inside(i) || markers[i] != 0 {
                continue;
            }
            let mut best = (f32::INFINITY, 0u32, 0u32);
            for o in &offsets {
                let p: Option<Vec<usize>> = (0..d)
                    .map(|a| {
                        let c = i[a] as isize + o[a];
                        (c >= 0 && (c as usize) < shape[a]).then_some(c as usize)
                    })
                    .collect();
                let Some(p) = p else { continue };
                let t = previous[p.as_slice()];
                let before = t.0 < best.0 || (t.0 == best.0 && (t.1, t.2) < (best.1, best.2));
                if t.2 != 0 && inside(&p) && before {
                    best = t;
                }
            }
            if best.2 != 0 {
                let h = image[i] as f32;
                let next = (h.max(best.0), if best.0 >= h { best.1 + 1 } else { 0 }, best.2);
                if next != *s {
                    *s = next;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    state.mapv(|s| if s.2 == 0 { 0 } else { labels[s.2 as usize - 1] })
}

#[test]
fn gpu_watershed_follows_its_tie_rule_across_blocks_on_plateaus() {
    // Heights of four levels (plateaus everywhere, basins meeting at equal costs) on shapes of
    // several 16 × 16 and 8³ blocks (8 × 8 × 4 where 64 KiB bindings take them), and a serpentine mask whose one corridor crosses
    // the blocks back and forth, so fronts pass many blocks and blocks settle over many
    // passes: the result is the host model of the documented rule, sample for sample.
    let contexts = all_gpus();
    assert!(!contexts.is_empty() || std::env::var(common::REQUIRE_GPU_ENV).is_err());
    let serpentine = ArrayD::from_shape_fn(IxDyn(&[45, 50]), |i| {
        let (y, x) = (i[0], i[1]);
        // Walls on every fourth row, open at alternate ends.
        y % 4 != 3 || if (y / 4) % 2 == 0 { x >= 47 } else { x <= 2 }
    });
    let cases: Vec<(Vec<usize>, Option<ArrayD<bool>>)> = vec![
        (vec![40, 37], None),
        (vec![45, 50], Some(serpentine)),
        (vec![11, 19, 20], None),
        (vec![13, 9, 17], Some(blobs(&[13, 9, 17], 71, 0.35))),
    ];
    for (ctx, bindings) in &contexts {
        for (k, (shape, mask)) in cases.iter().enumerate() {
            let n: usize = shape.iter().product();
            let levels = common::random_values(n, 700 + k as u64);
            let image =
                ArrayD::from_shape_vec(IxDyn(shape), levels.iter().map(|&v| (v * 4.0).floor() as f64).collect())
                    .unwrap();
            let markers = if mask.is_some() && shape.len() == 2 {
                // The corridor's two ends.
                let mut m = ArrayD::<i64>::zeros(IxDyn(shape));
                m[[0, 0]] = 3;
                m[[shape[0] - 1, shape[1] - 1]] = 8;
                m
            } else {
                scattered_markers(shape, 800 + k as u64, 5)
            };
            let ndim = shape.len();
            for connectivity in 1..=ndim {
                let footprint = generate_binary_structure(ndim, connectivity as i64).unwrap();
                let options = WatershedOptions {
                    mask: mask.as_ref().map(|m| m.view()),
                    footprint: Some(footprint.view()),
                    ..Default::default()
                };
                let got = watershed_on_gpu(ctx, image.view(), markers.view(), &options);
                if !gpu_watershed_fits(shape, ctx.max_storage_binding(), 256) {
                    assert!(matches!(got, Err(Error::TooLarge(_))), "{shape:?} {bindings}");
                    continue;
                }
                let want = tie_rule_flood(&image, &markers, mask.as_ref(), connectivity);
                assert_eq!(got.unwrap(), want, "{shape:?} c{connectivity} {bindings}");
            }
        }
    }
}

/// A 16 × 64 × 64 volume (128 blocks of 8³) of distinct heights whose mask is a 10³ cube (8
/// blocks) at the first corner or (`far`) the last, holding the only marker (at its corner, or
/// where its eight blocks meet), and a slab of 80 blocks along y at the other end that no
/// marker reaches.
fn cube_and_unreached_slab(far: bool) -> (ArrayD<f64>, ArrayD<bool>, ArrayD<i64>) {
    let shape = [16usize, 64, 64];
    let image = distinct_heights(&shape, 91);
    let mask = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
        if far {
            (i[0] >= 6 && i[1] >= 54 && i[2] >= 54) || i[1] < 40
        } else {
            (i[0] < 10 && i[1] < 10 && i[2] < 10) || i[1] >= 24
        }
    });
    let mut markers = ArrayD::<i64>::zeros(IxDyn(&shape));
    // Far: at the corner of the cube's eight blocks, so that the first pass asks for all eight.
    markers[if far { [8, 56, 56] } else { [0, 0, 0] }] = 4;
    (image, mask, markers)
}

#[test]
fn gpu_watershed_relaxes_only_the_blocks_a_front_reaches_and_counts_them() {
    // The cube at the first corner. Blocks run only when asked for (the first pass: around the marker; later: by a block
    // whose change may improve them), so only the cube's blocks run, at most once a pass. The
    // work model holds what the relaxed blocks touched: 4 bytes of height a sample of each.
    if common::gpu().is_none() {
        assert!(std::env::var(common::REQUIRE_GPU_ENV).is_err(), "no GPU adapter");
        return;
    }
    // A device of its own: its work counts and workgroup memory are this test's alone.
    let ctx = hounsfield::gpu::GpuContext::new().unwrap();
    let (image, mask, markers) = cube_and_unreached_slab(false);
    let options = WatershedOptions {
        mask: Some(mask.view()),
        ..Default::default()
    };
    let before = ctx.work();
    let got = watershed_on_gpu(&ctx, image.view(), markers.view(), &options).unwrap();
    let work = ctx.work().since(&before);
    assert_eq!(got, watershed(image.view(), markers.view(), &options).unwrap());
    let cube_blocks = 8u64;
    let heights_per_block = 8 * 8 * 8 * 4;
    assert_eq!(work.bytes_read % heights_per_block, 0, "{work:?}");
    let relaxed = work.bytes_read / heights_per_block;
    assert!(relaxed >= cube_blocks, "every block of the cube runs: {relaxed}");
    assert!(
        relaxed <= cube_blocks * work.dispatches && relaxed < 80,
        "only the cube's blocks run: {relaxed} relaxations in {} passes",
        work.dispatches
    );
    // Only the label words come back (4 bytes a sample of the 8-byte state), and the
    // convergence checks' few counters.
    let samples = image.len() as u64;
    assert!(
        work.readback_bytes >= 4 * samples && work.readback_bytes < 4 * samples + 4096,
        "read back {} bytes for {samples} samples",
        work.readback_bytes
    );
}

/// Fills 16 KiB of workgroup memory with ones in every workgroup: what a kernel that runs next
/// finds where it reads workgroup memory it did not write (the pipelines skip zero-init).
static DIRTY_WORKGROUP_MEMORY: hounsfield::gpu::KernelSpec = hounsfield::gpu::KernelSpec {
    name: "test/dirty_workgroup_memory",
    // The watershed's own workgroup variables (8³ blocks), so that they land where its do.
    sources: &["@group(0) @binding(0) var<storage, read_write> sink: array<u32>;
        var<workgroup> block: array<vec4<u32>, 1000>;
        var<workgroup> flag: atomic<u32>;
        var<workgroup> settled: u32;
        var<workgroup> chosen: u32;
        var<workgroup> wanted: array<atomic<u32>, 27>;
        @compute @workgroup_size(256)
        fn main(@builtin(local_invocation_index) i: u32, @builtin(workgroup_id) w: vec3<u32>) {
            for (var k = i; k < 1000u; k += 256u) { block[k] = vec4<u32>(0xffffffffu); }
            if (i < 27u) { atomicStore(&wanted[i], 1u); }
            // Block 0: a block of the volume, which no one asks for in the test.
            if (i == 0u) { atomicStore(&flag, 1u); settled = 1u; chosen = 0u; }
            workgroupBarrier();
            if (i == 0u) { sink[w.x] = block[w.x % 1000u].x + atomicLoad(&flag) + settled + chosen; }
        }"],
    entry: "main",
    bindings: &[hounsfield::gpu::Binding::ReadWrite],
    constants: &[],
};

#[test]
fn gpu_watershed_runs_only_requested_blocks_after_a_kernel_dirtied_workgroup_memory() {
    // The watershed keeps the block a workgroup relaxes, and flags of its own steps and
    // requests, in workgroup memory; a kernel that read one without storing it first ran
    // blocks no one asked for, wherever an earlier kernel had left data there (lavapipe too
    // keeps workgroup memory from one dispatch to the next). The cube at the far corner, so that
    // block 0, which the dirt names, is not asked for.
    if common::gpu().is_none() {
        assert!(std::env::var(common::REQUIRE_GPU_ENV).is_err(), "no GPU adapter");
        return;
    }
    // A device of its own: its work counts and workgroup memory are this test's alone.
    let ctx = hounsfield::gpu::GpuContext::new().unwrap();
    let (image, mask, markers) = cube_and_unreached_slab(true);
    let options = WatershedOptions {
        mask: Some(mask.view()),
        ..Default::default()
    };
    let want = watershed(image.view(), markers.view(), &options).unwrap();
    for _ in 0..3 {
        let sink = hounsfield::gpu::GpuVolume::zeros(&ctx, [1, 1, 4096]).unwrap();
        let mut rec = hounsfield::gpu::Recorder::new(&ctx);
        rec.dispatch_linear(
            &DIRTY_WORKGROUP_MEMORY,
            &[hounsfield::gpu::BufferWindow::whole(sink.buffer())],
            4096 * 256,
        )
        .unwrap();
        rec.submit().unwrap();
        let (got, trace) = watershed_on_gpu_traced(&ctx, image.view(), markers.view(), &options).unwrap();
        assert_eq!(got, want);
        let relaxed: u32 = trace.relaxed_per_pass.iter().sum();
        // The cube's 8 blocks, each at most once a pass; the 120 others never.
        assert!(
            relaxed <= 8 * trace.relaxed_per_pass.len() as u32 && trace.relaxed_per_pass.iter().all(|&n| n <= 8),
            "blocks relaxed per pass {:?}",
            trace.relaxed_per_pass
        );
    }
}

#[test]
fn gpu_watershed_refuses_what_it_does_not_flood() {
    let Some(ctx) = common::gpu() else {
        assert!(std::env::var(common::REQUIRE_GPU_ENV).is_err(), "no GPU adapter");
        return;
    };
    let image = ArrayD::<f64>::zeros(IxDyn(&[4, 5]));
    let markers = ArrayD::<i64>::zeros(IxDyn(&[4, 5]));
    let compact = WatershedOptions {
        compactness: 0.5,
        ..Default::default()
    };
    assert!(watershed_on_gpu(&ctx, image.view(), markers.view(), &compact).is_err());
    let lines = WatershedOptions {
        watershed_line: true,
        ..Default::default()
    };
    assert!(watershed_on_gpu(&ctx, image.view(), markers.view(), &lines).is_err());
    let mut nan = image.clone();
    nan[[1, 1]] = f64::NAN;
    assert!(watershed_on_gpu(&ctx, nan.view(), markers.view(), &WatershedOptions::default()).is_err());
    let short = ArrayD::<i64>::zeros(IxDyn(&[4, 4]));
    assert!(matches!(
        watershed_on_gpu(&ctx, image.view(), short.view(), &WatershedOptions::default()),
        Err(Error::InvalidShape(_))
    ));
    let four = ArrayD::<f64>::zeros(IxDyn(&[2, 2, 2, 2]));
    let four_markers = ArrayD::<i64>::zeros(IxDyn(&[2, 2, 2, 2]));
    assert!(watershed_on_gpu(&ctx, four.view(), four_markers.view(), &WatershedOptions::default()).is_err());
    let wide = ArrayD::from_elem(IxDyn(&[5, 5]), true);
    let options = WatershedOptions {
        footprint: Some(wide.view()),
        ..Default::default()
    };
    assert!(watershed_on_gpu(&ctx, image.view(), markers.view(), &options).is_err());
}

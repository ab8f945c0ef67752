//! Grey and binary morphology and hole filling: scipy fixtures (exact), GPU/CPU parity (exact)
//! across slabs, bad input.

mod common;

use common::{ALL_MODES, backends, fixture, gpus, gpus_small_bindings, mode_name, random_volume};
use hounsfield::filter::{BinaryMorphology, FillHoles, Filter, Footprint, GreyMorphology, MorphOp};
use hounsfield::gpu::GpuVolume;
use hounsfield::{Backend, BoundaryMode};
use ndarray::{Array3, ArrayD, Ix2, Ix3};

fn apply_dyn(f: &dyn Fn(&Backend, &ArrayD<f32>) -> ArrayD<f32>, backend: &Backend, input: &ArrayD<f32>) -> ArrayD<f32> {
    f(backend, input)
}

fn run<F: Filter>(filter: F) -> impl Fn(&Backend, &ArrayD<f32>) -> ArrayD<f32> {
    move |backend, input| {
        if input.ndim() == 2 {
            let a = input.clone().into_dimensionality::<Ix2>().unwrap();
            filter.apply(backend, a.view()).unwrap().into_dyn()
        } else {
            let a = input.clone().into_dimensionality::<Ix3>().unwrap();
            filter.apply(backend, a.view()).unwrap().into_dyn()
        }
    }
}

fn op_name(op: MorphOp) -> &'static str {
    match op {
        MorphOp::Erosion => "erosion",
        MorphOp::Dilation => "dilation",
        MorphOp::Opening => "opening",
        MorphOp::Closing => "closing",
    }
}

const OPS: [MorphOp; 4] = [MorphOp::Erosion, MorphOp::Dilation, MorphOp::Opening, MorphOp::Closing];

#[test]
fn grey_morphology_matches_scipy_exactly() {
    for backend in backends() {
        for name in ["2d", "3d"] {
            let input: ArrayD<f32> = fixture(&format!("morphology/input_{name}.npy"));
            for op in OPS {
                for mode in ALL_MODES {
                    let expected: ArrayD<f32> = fixture(&format!(
                        "morphology/{name}_{}_box1_{}.npy",
                        op_name(op),
                        mode_name(mode)
                    ));
                    let f = run(GreyMorphology::new(op, Footprint::Box(vec![1])).mode(mode));
                    assert_eq!(
                        apply_dyn(&f, &backend, &input),
                        expected,
                        "{name} {op:?} box {mode} on {backend}"
                    );
                }
                let expected: ArrayD<f32> = fixture(&format!("morphology/{name}_{}_ball2_reflect.npy", op_name(op)));
                let f = run(GreyMorphology::new(op, Footprint::Ball(2)));
                assert_eq!(
                    apply_dyn(&f, &backend, &input),
                    expected,
                    "{name} {op:?} ball on {backend}"
                );
            }
        }
        let input: ArrayD<f32> = fixture("morphology/input_3d.npy");
        let expected: ArrayD<f32> = fixture("morphology/3d_erosion_aniso_nearest.npy");
        let f = run(GreyMorphology::erosion(Footprint::Box(vec![0, 1, 2])).mode(BoundaryMode::Nearest));
        assert_eq!(
            apply_dyn(&f, &backend, &input),
            expected,
            "anisotropic box on {backend}"
        );
    }
}

#[test]
fn binary_morphology_and_fill_holes_match_scipy_exactly() {
    let mask: ArrayD<f32> = fixture("morphology/mask.npy");
    for backend in backends() {
        for op in OPS {
            let n = op_name(op);
            let cases = [
                ("cross", BinaryMorphology::new(op)),
                ("cross_it2", BinaryMorphology::new(op).iterations(2)),
                ("ball2", BinaryMorphology::new(op).footprint(Footprint::Ball(2))),
                ("box", BinaryMorphology::new(op).footprint(Footprint::Box(vec![1]))),
            ];
            for (case, f) in cases {
                let expected: ArrayD<f32> = fixture(&format!("morphology/binary_{n}_{case}.npy"));
                assert_eq!(
                    apply_dyn(&run(f), &backend, &mask),
                    expected,
                    "binary {n} {case} on {backend}"
                );
            }
        }
        for (input, expected) in [("holes", "holes_filled"), ("holes_2d", "holes_2d_filled")] {
            let input: ArrayD<f32> = fixture(&format!("morphology/{input}.npy"));
            let expected: ArrayD<f32> = fixture(&format!("morphology/{expected}.npy"));
            assert_eq!(
                apply_dyn(&run(FillHoles), &backend, &input),
                expected,
                "{input:?} on {backend}"
            );
        }
    }
}

#[test]
fn gpu_matches_cpu_across_slabs_and_odd_shapes() {
    let filters: Vec<Box<dyn Filter>> = vec![
        Box::new(GreyMorphology::closing(Footprint::Box(vec![2, 1, 1])).mode(BoundaryMode::Wrap)),
        Box::new(GreyMorphology::dilation(Footprint::Ball(3))),
        Box::new(GreyMorphology::erosion(Footprint::Ball(1)).mode(BoundaryMode::Constant(0.25))),
        Box::new(BinaryMorphology::opening().iterations(2)),
        Box::new(FillHoles),
    ];
    for ctx in gpus_small_bindings().into_iter().chain(gpus()) {
        for (i, shape) in [[1, 1, 1], [2, 9, 1], [37, 20, 17]].iter().enumerate() {
            let vol = random_volume(*shape, 5 + i as u64).mapv(|v| if v > 0.45 { v } else { 0.0 });
            let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
            for f in &filters {
                let cpu = f.apply_cpu(vol.view()).unwrap();
                let gpu = f.apply_gpu(&ctx, &resident).unwrap().download(&ctx).unwrap();
                assert_eq!(gpu, cpu, "{f:?} {shape:?} on {}", ctx.adapter().name);
            }
        }
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let vol = Array3::<f32>::zeros((3, 4, 5));
    for backend in backends() {
        let expect = common::expect_param_error::<Array3<f32>>;
        expect(
            GreyMorphology::erosion(Footprint::Box(vec![1, 1])).apply(&backend, vol.view()),
            "radius",
        );
        expect(
            GreyMorphology::erosion(Footprint::Ball(33)).apply(&backend, vol.view()),
            "radius",
        );
        expect(
            GreyMorphology::erosion(Footprint::Ball(1))
                .mode(BoundaryMode::Constant(f32::NAN))
                .apply(&backend, vol.view()),
            "mode",
        );
        expect(
            BinaryMorphology::dilation().iterations(0).apply(&backend, vol.view()),
            "iterations",
        );
    }
}

/// A serpentine maze: walls with alternating gaps, so the background inside winds back and
/// forth (its path to the border is far longer than the image is wide), with sealed holes.
fn maze(n: usize, depth: usize) -> Array3<f32> {
    let mut m = Array3::<f32>::zeros((depth, n, n));
    for z in 0..depth {
        for y in 0..n {
            for x in 0..n {
                let frame = y == 1 || x == 1 || y == n - 2 || x == n - 2;
                // Horizontal walls every 2 rows; the gap alternates between the ends.
                let wall = y % 2 == 1 && y > 1 && y < n - 2 && {
                    let gap = if (y / 2) % 2 == 0 { 2 } else { n - 3 };
                    x != gap
                };
                if (frame && !(y == 1 && x == 2)) || wall {
                    m[[z, y, x]] = 1.0;
                }
            }
        }
        // A sealed 1-voxel hole in a thick wall: filled.
        if n > 12 {
            for (y, x) in [
                (n - 5, 5),
                (n - 5, 6),
                (n - 5, 7),
                (n - 4, 5),
                (n - 4, 7),
                (n - 3, 5),
                (n - 3, 6),
                (n - 3, 7),
            ] {
                m[[z, y, x]] = 1.0;
            }
        }
    }
    m
}

#[test]
fn gpu_hole_filling_costs_the_same_however_long_the_paths() {
    use hounsfield::gpu::GpuContext;
    use ndarray::Axis;
    if gpus().is_empty() {
        return;
    }
    // A context of its own, so the work counts are this test's alone.
    let ctx = std::sync::Arc::new(GpuContext::new().unwrap());
    let backend = Backend::Gpu(ctx.clone());
    for (n, depth) in [(64usize, 1usize), (40, 6)] {
        let vol = maze(n, depth);
        let before = ctx.work();
        let (gpu, cpu) = if depth == 1 {
            let image = vol.index_axis(Axis(0), 0);
            let gpu = FillHoles.apply(&backend, image).unwrap().into_dyn();
            (gpu, FillHoles.apply(&Backend::Cpu, image).unwrap().into_dyn())
        } else {
            let gpu = FillHoles.apply(&backend, vol.view()).unwrap().into_dyn();
            (gpu, FillHoles.apply(&Backend::Cpu, vol.view()).unwrap().into_dyn())
        };
        let work = ctx.work().since(&before);
        assert_eq!(gpu, cpu, "maze {n}×{n}×{depth}");
        // The sealed hole is filled, the winding corridors are not.
        assert!(cpu.iter().filter(|&&v| v == 0.0).count() > n * n / 4 * depth);
        // The one-voxel-per-pass flood needed at least the longest geodesic path from the border
        // through the maze (the corridors wind over about n²/2 voxels) in passes, line sweeps
        // about one per turn; labelling the background takes four dispatches, however winding,
        // and never waits for the host.
        let path = n * n / 2;
        let labelling = [
            "segment/holes_init",
            "segment/label_merge",
            "segment/holes_mark",
            "segment/holes_fill",
        ];
        for name in labelling {
            assert_eq!(work.kernels[name].dispatches, 1, "{name}: {work:?}");
        }
        assert!(
            work.dispatches <= 6 && (work.dispatches as usize) * 8 <= path,
            "{work:?}"
        );
        assert!(!work.kernels.contains_key("filter/fill_holes"), "{work:?}");
        // Upload, the filter's submission, download.
        assert!(work.submissions <= 3, "{work:?}");
    }
}

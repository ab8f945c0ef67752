//! Every projector pair of the registry ([`ProjectorKind::ALL`]), through the [`Projector`]
//! trait only: the transpose is exact (`⟨A x, y⟩ = ⟨x, Aᵀ y⟩`) on the CPU and the GPU, the GPU
//! equals the CPU (every adapter, and 64 KiB bindings that force volume slabs and view
//! batches), projections of a phantom approximate its exact line integrals, and SIRT with the
//! pair reconstructs the phantom on both backends. A new pair is tested by adding it to the
//! registry.

mod common;

use common::{all_gpus, random_volume, relative_error};
use hounsfield::gpu::{GpuProjections, GpuVolume};
use hounsfield::recon::iterative::{Control, Iterative, Method};
use hounsfield::recon::{Detector, Geometry, Phantom, ProjectorKind, SheppLogan, centred_grid};
use ndarray::{Array3, ArrayD};

fn dot(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum()
}

/// Geometries of every beam and detector, at sizes that are not multiples of the workgroups.
fn geometries() -> Vec<(&'static str, Geometry, [usize; 3])> {
    // Angles away from multiples of 45° (where f32 and f64 may pick different main axes).
    let angles: Vec<f64> = (0..11).map(|k| 3.1 + k as f64 * 17.3).collect();
    vec![
        (
            "parallel 2D",
            Geometry::parallel_2d(&angles, 27, 0.9).unwrap(),
            [1, 19, 23],
        ),
        (
            "fan flat",
            Geometry::fan(&angles, 150.0, 300.0, 33, 1.1, Detector::Flat, 0.3).unwrap(),
            [1, 21, 17],
        ),
        (
            "fan arc",
            Geometry::fan(&angles, 150.0, 300.0, 33, 1.1, Detector::Arc, -0.4).unwrap(),
            [1, 21, 17],
        ),
        // 64 KiB bindings: 2 volume slabs, 3 view batches.
        (
            "cone",
            Geometry::cone(&angles, 150.0, 300.0, 48, 60, [1.2, 1.1], [0.4, -0.7]).unwrap(),
            [11, 40, 45],
        ),
        (
            "cone cylindrical",
            Geometry::cone_cylindrical(&angles, 150.0, 300.0, 48, 60, [1.2, 1.1], [0.4, -0.7]).unwrap(),
            [11, 40, 45],
        ),
        (
            "helical cylindrical",
            Geometry::cone_cylindrical(&angles, 150.0, 300.0, 24, 60, [1.2, 1.1], [0.4, -0.7])
                .unwrap()
                .helical(9.0, -4.0)
                .unwrap(),
            [11, 40, 45],
        ),
        (
            "helical flat",
            Geometry::cone(&angles, 150.0, 300.0, 24, 60, [1.2, 1.1], [0.0, 0.0])
                .unwrap()
                .helical(-7.0, 3.0)
                .unwrap(),
            [11, 40, 45],
        ),
        (
            "parallel 3D",
            Geometry::parallel_3d(&angles, 13, 21, [1.0, 1.1]).unwrap(),
            [9, 13, 15],
        ),
        // A tall volume close to the source: rays up to 60° steep, many with main axis z (the
        // Joseph transpose's steep pass).
        (
            "steep cone",
            Geometry::cone(&angles, 22.0, 40.0, 90, 40, [1.3, 1.2], [0.2, 0.3]).unwrap(),
            [36, 12, 11],
        ),
    ]
}

#[test]
fn every_projector_pair_is_adjoint_and_the_gpu_matches_the_cpu() {
    for kind in ProjectorKind::ALL {
        for (name, g, shape) in geometries() {
            let grid = centred_grid(shape, [1.0, 0.9, 1.1]).unwrap();
            let a = kind.build(&g, shape, &grid).unwrap();
            assert_eq!(a.kind(), kind);
            let x = random_volume(shape, 5);
            let y = random_volume(a.projection_shape(), 9);
            let (xd, yd) = (x.clone().into_dyn(), y.clone().into_dyn());
            let ax_cpu = a.forward_cpu(x.view()).unwrap().into_dyn();
            let aty_cpu = a.backward_cpu(y.view()).unwrap().into_dyn();
            let ratio = dot(&ax_cpu, &yd) / dot(&xd, &aty_cpu);
            eprintln!("{} {name} CPU: <Ax,y>/<x,A^T y> - 1 = {:e}", kind.name(), ratio - 1.0);
            assert!(
                (ratio - 1.0).abs() < 1e-5,
                "{} {name} CPU adjoint: {ratio}",
                kind.name()
            );
            for (ctx, what) in all_gpus() {
                let on = |part: &str| format!("{} {name} {part} on {} ({what})", kind.name(), ctx.adapter().name);
                let xg = GpuVolume::upload(&ctx, x.view()).unwrap();
                let yg = GpuProjections::upload(&ctx, y.view()).unwrap();
                let ax = a.forward_gpu(&ctx, &xg).unwrap().download(&ctx).unwrap().into_dyn();
                let aty = a.backward_gpu(&ctx, &yg).unwrap().download(&ctx).unwrap().into_dyn();
                let e_forward = relative_error(&ax, &ax_cpu);
                let e_backward = relative_error(&aty, &aty_cpu);
                assert!(e_forward < 1e-4, "{}: {e_forward:e}", on("forward"));
                assert!(e_backward < 1e-4, "{}: {e_backward:e}", on("transpose"));
                let ratio = dot(&ax, &yd) / dot(&xd, &aty);
                eprintln!("{}: <Ax,y>/<x,A^T y> - 1 = {:e}", on("adjoint"), ratio - 1.0);
                assert!((ratio - 1.0).abs() < 1e-5, "{}: {ratio}", on("adjoint"));
            }
        }
    }
}

/// Projections of the rasterised 3D Shepp–Logan phantom approximate the exact line integrals of
/// the analytic one: every pair models the same data (line integrals in mm).
#[test]
fn every_projector_approximates_exact_line_integrals() {
    let angles: Vec<f64> = (0..24).map(|k| k as f64 * 15.0).collect();
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 20.0).unwrap();
    let phantom_2d = Phantom::shepp_logan_2d(SheppLogan::Modified, 20.0).unwrap();
    let cases = [
        (
            "parallel 2D",
            Geometry::parallel_2d(&angles, 64, 0.75).unwrap(),
            [1, 48, 48],
            &phantom_2d,
        ),
        (
            "fan flat",
            Geometry::fan(&angles, 120.0, 240.0, 64, 1.5, Detector::Flat, 0.0).unwrap(),
            [1, 48, 48],
            &phantom_2d,
        ),
        (
            "fan arc",
            Geometry::fan(&angles, 120.0, 240.0, 64, 1.5, Detector::Arc, 0.0).unwrap(),
            [1, 48, 48],
            &phantom_2d,
        ),
        (
            "cone",
            Geometry::cone(&angles, 120.0, 240.0, 40, 48, [1.5, 1.5], [0.0, 0.0]).unwrap(),
            [40, 48, 48],
            &phantom,
        ),
        (
            "cone cylindrical",
            Geometry::cone_cylindrical(&angles, 120.0, 240.0, 40, 48, [1.5, 1.5], [0.0, 0.0]).unwrap(),
            [40, 48, 48],
            &phantom,
        ),
    ];
    for (name, g, shape, phantom) in cases {
        let grid = centred_grid(shape, [1.0, 1.0, 1.0]).unwrap();
        let volume = phantom.rasterize(shape, &grid, 3).unwrap();
        let exact = g.project_exact(phantom).unwrap();
        let peak = exact.iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
        for kind in ProjectorKind::ALL {
            let a = kind.build(&g, shape, &grid).unwrap();
            // Measured: Joseph 1.6–2.2 % of the peak; the voxel-driven splat, a point sample per
            // voxel, 1.9–4.2 % (it aliases where voxels outgrow the rays' spacing).
            let bound = match kind {
                ProjectorKind::Joseph => 0.025,
                ProjectorKind::VoxelDriven => 0.05,
                ProjectorKind::SeparableFootprint => 0.025,
            };
            let p = a.forward_cpu(volume.view()).unwrap();
            let mean_error = p.iter().zip(&exact).map(|(a, b)| f64::from((a - b).abs())).sum::<f64>() / p.len() as f64;
            let total = (p.sum() as f64 - exact.sum() as f64) / exact.sum() as f64;
            eprintln!(
                "{} {name}: mean |A x − exact| = {:.2e} of the peak, total {total:+.2e}",
                kind.name(),
                mean_error / peak
            );
            assert!(
                mean_error < bound * peak,
                "{} {name}: {}",
                kind.name(),
                mean_error / peak
            );
            assert!(total.abs() < 0.02, "{} {name}: total differs by {total}", kind.name());
        }
    }
}

/// SIRT runs with every pair (the iterative methods never name a projector) and reconstructs the
/// phantom; its GPU run equals its CPU run.
#[test]
fn every_projector_reconstructs_with_sirt_on_both_backends() {
    let angles: Vec<f64> = (0..60).map(|k| k as f64 * 3.0).collect();
    let g = Geometry::parallel_2d(&angles, 64, 1.0).unwrap();
    let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 22.0).unwrap();
    let shape = [1, 48, 48];
    let grid = centred_grid(shape, [1.0, 1.0, 1.0]).unwrap();
    let truth = phantom.rasterize(shape, &grid, 4).unwrap();
    let data = g.project_exact(&phantom).unwrap();
    let mae =
        |a: &Array3<f32>| a.iter().zip(&truth).map(|(a, b)| f64::from((a - b).abs())).sum::<f64>() / a.len() as f64;
    let zero = mae(&Array3::zeros(shape));
    for kind in ProjectorKind::ALL {
        let run = || Iterative::with_projector(kind.build(&g, shape, &grid).unwrap(), Method::Sirt).iterations(40);
        let cpu = run().run_cpu(data.view(), |_| Control::Continue).unwrap();
        let error = mae(&cpu.volume);
        eprintln!("{}: SIRT MAE {error:.4} (zeros {zero:.4})", kind.name());
        assert!(error < 0.3 * zero, "{}: MAE {error} vs {zero} for zeros", kind.name());
        let peak = cpu.volume.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (ctx, what) in all_gpus() {
            let gpu = run().run_gpu(&ctx, data.view(), |_| Control::Continue).unwrap();
            let worst = gpu
                .volume
                .iter()
                .zip(&cpu.volume)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                worst <= 1e-4 * peak,
                "{} SIRT on {} ({what}): GPU differs by {worst} of {peak}",
                kind.name(),
                ctx.adapter().name
            );
        }
    }
}

#[test]
fn projectors_are_found_by_name_and_refuse_mismatched_shapes() {
    for kind in ProjectorKind::ALL {
        assert_eq!(ProjectorKind::from_name(kind.name()).unwrap(), kind);
    }
    let error = ProjectorKind::from_name("siddon").unwrap_err().to_string();
    assert!(error.contains("joseph") && error.contains("voxel_driven"), "{error}");
    let g = Geometry::parallel_2d(&[0.0, 45.0], 10, 1.0).unwrap();
    let grid = centred_grid([1, 4, 4], [1.0; 3]).unwrap();
    for kind in ProjectorKind::ALL {
        let a = kind.build(&g, [1, 4, 4], &grid).unwrap();
        assert!(a.forward_cpu(Array3::zeros((1, 5, 4)).view()).is_err());
        assert!(a.backward_cpu(Array3::zeros((2, 1, 9)).view()).is_err());
        let sub = a.restrict(&[1]).unwrap();
        assert_eq!(sub.projection_shape(), [1, 1, 10]);
        assert!(a.restrict(&[2]).is_err());
    }
    // A one-row geometry onto several slices is refused by the voxel-driven pair.
    let stack = centred_grid([3, 4, 4], [1.0; 3]).unwrap();
    assert!(ProjectorKind::VoxelDriven.build(&g, [3, 4, 4], &stack).is_err());
}

/// The off-centre point test: one voxel away from the isocentre, projected by every pair, lands
/// where the exact projection of a ball at the voxel's centre lands (a ball wider than a pixel,
/// so its point-sampled image has an accurate centroid) — within half a pixel
/// in every view, row and column, on every geometry (half a voxel is about a pixel here).
#[test]
fn every_projector_places_an_off_centre_voxel_where_the_exact_projection_lands() {
    use hounsfield::recon::Ellipsoid;
    fn centroid(image: ndarray::ArrayView2<'_, f32>) -> Option<[f64; 2]> {
        let (mut n, mut r, mut c) = (0.0, 0.0, 0.0);
        for ((row, col), &v) in image.indexed_iter() {
            n += f64::from(v);
            r += f64::from(v) * row as f64;
            c += f64::from(v) * col as f64;
        }
        (n > 0.0).then(|| [r / n, c / n])
    }
    for (name, g, shape) in geometries() {
        let grid = centred_grid(shape, [1.0, 0.9, 1.1]).unwrap();
        let [nz, ny, nx] = shape;
        let (x, y, z) = (nx / 2 + nx / 5, ny / 2 - ny / 5, nz / 2 + nz / 5);
        let centre = [
            grid.origin[0] + x as f64 * grid.spacing[2],
            grid.origin[1] + y as f64 * grid.spacing[1],
            grid.origin[2] + z as f64 * grid.spacing[0],
        ];
        let two_d = g.rows == 1;
        let ball = Phantom {
            ellipsoids: vec![Ellipsoid {
                centre,
                semi_axes: [1.2, 1.2, if two_d { f64::INFINITY } else { 1.2 }],
                phi_degrees: 0.0,
                value: 1.0,
            }],
        };
        let exact = g.project_exact(&ball).unwrap();
        let mut volume = Array3::zeros(shape);
        volume[[z, y, x]] = 1.0;
        for kind in ProjectorKind::ALL {
            let p = kind
                .build(&g, shape, &grid)
                .unwrap()
                .forward_cpu(volume.view())
                .unwrap();
            let mut checked = 0;
            let mut worst = 0.0f64;
            for view in 0..g.views.len() {
                let Some(want) = centroid(exact.slice(ndarray::s![view, .., ..])) else {
                    continue;
                };
                // Skip views where the voxel's shadow may run off the detector.
                let inside = |at: f64, n: usize| at >= 2.0 && at <= n as f64 - 3.0;
                if !(inside(want[1], g.cols) && (two_d || inside(want[0], g.rows))) {
                    continue;
                }
                let got = centroid(p.slice(ndarray::s![view, .., ..])).expect("the voxel projects");
                worst = worst.max((got[0] - want[0]).abs()).max((got[1] - want[1]).abs());
                checked += 1;
            }
            eprintln!(
                "{} {name}: {checked} views, worst centroid offset {worst:.3} pixels",
                kind.name()
            );
            assert!(checked >= g.views.len() / 2, "{} {name}: {checked} views", kind.name());
            assert!(worst < 0.5, "{} {name}: off by {worst} pixels", kind.name());
        }
    }
}

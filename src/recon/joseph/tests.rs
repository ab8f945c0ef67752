//! Joseph's CPU pair: exact transpose, and convergence to exact projections.

use ndarray::Array3;

use super::Joseph;
use crate::recon::Geometry;
use crate::recon::{Detector, Phantom, SheppLogan};
use crate::volume::Grid;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = crate::rng::XorShift64::new(seed | 1);
    (0..n).map(|_| rng.next_f32() - 0.5).collect()
}

fn dot(a: &Array3<f32>, b: &Array3<f32>) -> f64 {
    a.iter().zip(b).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum()
}

#[test]
fn the_transpose_is_exact() {
    let angles: Vec<f64> = (0..23).map(|k| k as f64 * 15.7).collect();
    let cases = [
        (
            Geometry::fan(&angles, 60.0, 110.0, 37, 1.1, Detector::Arc, 0.3).unwrap(),
            [1, 24, 20],
            Grid {
                spacing: [1.0, 0.9, 1.2],
                origin: [-11.4, -10.35, 0.0],
                ..Grid::default()
            },
        ),
        (
            Geometry::cone(&angles, 80.0, 150.0, 13, 17, [1.3, 1.1], [0.2, -0.4]).unwrap(),
            [6, 10, 12],
            Grid {
                spacing: [1.5, 1.0, 1.0],
                origin: [-5.5, -4.5, -3.75],
                ..Grid::default()
            },
        ),
        (
            Geometry::parallel_2d(&angles, 31, 0.8).unwrap(),
            [1, 16, 18],
            Grid {
                origin: [-8.5, -7.5, 0.0],
                ..Grid::default()
            },
        ),
    ];
    for (g, shape, grid) in cases {
        let a = Joseph::new(&g, shape, &grid).unwrap();
        let x = Array3::from_shape_vec(shape, random(shape.iter().product(), 3)).unwrap();
        let ax = a.forward_cpu(x.view()).unwrap();
        let y = Array3::from_shape_vec(ax.raw_dim(), random(ax.len(), 9)).unwrap();
        let aty = a.backward_cpu(y.view()).unwrap();
        let (lhs, rhs) = (dot(&ax, &y), dot(&x, &aty));
        let rel = (lhs - rhs).abs() / lhs.abs().max(rhs.abs());
        eprintln!("adjoint test {:?}: relative difference {rel:.1e}", g.beam);
        assert!(rel < 1e-6, "<Ax, y> = {lhs}, <x, Aᵀy> = {rhs}: {rel:e} ({:?})", g.beam);
        assert!(ax.iter().any(|&v| v != 0.0));
    }
}

/// Relative L2 distance between Joseph projections of the phantom rasterised with pixels of
/// `px` mm and its exact projections.
fn joseph_error(g: &Geometry, phantom: &Phantom, px: f64) -> f64 {
    let n = (96.0 / px) as usize;
    let grid = Grid {
        spacing: [1.0, px, px],
        origin: [-(n as f64 - 1.0) / 2.0 * px, -(n as f64 - 1.0) / 2.0 * px, 0.0],
        ..Grid::default()
    };
    let image = phantom.rasterize([1, n, n], &grid, 4).unwrap();
    let exact = g.project_exact(phantom).unwrap();
    let joseph = Joseph::new(g, [1, n, n], &grid)
        .unwrap()
        .forward_cpu(image.view())
        .unwrap();
    let err: f64 = exact
        .iter()
        .zip(&joseph)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    let norm: f64 = exact.iter().map(|&a| f64::from(a).powi(2)).sum();
    (err / norm).sqrt()
}

#[test]
fn projections_of_a_rasterised_phantom_converge_to_the_exact_ones() {
    // The error is the rasterisation of sharp edges (the 1 mm skull): first order in the
    // pixel size, so halving the pixels halves it (measured: 4.0 %, 2.1 %, 1.0 %).
    let angles: Vec<f64> = (0..60).map(|k| k as f64 * 3.0).collect();
    let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 45.0).unwrap();
    for g in [
        Geometry::parallel_2d(&angles, 140, 1.0).unwrap(),
        Geometry::fan(&angles, 300.0, 500.0, 200, 1.2, Detector::Flat, 0.0).unwrap(),
    ] {
        let (coarse, fine) = (joseph_error(&g, &phantom, 1.0), joseph_error(&g, &phantom, 0.5));
        assert!(
            fine < 0.03 && fine < 0.6 * coarse,
            "{coarse:.4} → {fine:.4} ({:?})",
            g.beam
        );
    }
    let grid = Grid::default();
    let bad = Joseph::new(&Geometry::parallel_2d(&angles, 10, 1.0).unwrap(), [1, 4, 4], &grid).unwrap();
    assert!(bad.forward_cpu(Array3::zeros((1, 5, 4)).view()).is_err());
    assert!(bad.backward_cpu(Array3::zeros((2, 1, 10)).view()).is_err());
}

/// The fast forward paths (padded volume, eight planes or sixteen rays per step, detector
/// window) against a plain sum over every tap of every ray of the whole detector, on a geometry
/// with rays that enter and leave through every face, a non-cubic anisotropic volume and
/// detector offsets.
#[test]
fn the_fast_forward_equals_the_sum_of_every_tap() {
    use super::rays::Taps;
    struct Sum<'v> {
        volume: &'v [f32],
        sum: f64,
    }
    impl Taps for Sum<'_> {
        fn tap(&mut self, i: usize, w: f32) {
            self.sum += f64::from(w) * f64::from(self.volume[i]);
        }
    }
    let angles: Vec<f64> = (0..17).map(|k| 3.0 + k as f64 * 21.3).collect();
    // Fine pixels (adjacent rays about half a voxel apart), coarse ones (one to four voxels
    // apart: the wide segments and the gathers of the sixteen-ray path), and a cylindrical
    // detector (rays set up one by one, then projected sixteen at a time); these have at most
    // `CACHED_RAYS` pixels, so their rays come from the projector's cache — the fourth, with
    // more, sets its rays up sixteen at a time while projecting.
    let cases = [
        ([1.1, 0.9], [40, 36], false),
        ([3.4, 2.9], [40, 36], false),
        ([1.1, 0.9], [40, 36], true),
        ([0.17, 0.15], [260, 240], false),
    ];
    for (pixel, [rows, cols], arc) in cases {
        let g = if arc {
            Geometry::cone_cylindrical(&angles, 45.0, 110.0, rows, cols, pixel, [1.5, -2.0]).unwrap()
        } else {
            Geometry::cone(&angles, 45.0, 110.0, rows, cols, pixel, [1.5, -2.0]).unwrap()
        };
        assert_eq!(angles.len() * rows * cols > super::CACHED_RAYS, rows > 100);
        let shape = [14, 19, 23];
        let grid = Grid {
            spacing: [1.2, 0.8, 1.0],
            origin: [-10.0, -7.0, -6.0],
            ..Grid::default()
        };
        let a = Joseph::new(&g, shape, &grid).unwrap();
        let x = Array3::from_shape_vec(shape, random(shape.iter().product(), 5)).unwrap();
        let fast = a.forward_cpu(x.view()).unwrap();
        let v = x.as_slice().unwrap();
        let [_, ny, nx] = shape;
        let st = [1, nx, nx * ny];
        let (mut worst, mut peak, mut hits) = (0.0f64, 0.0f64, 0);
        for view in 0..angles.len() {
            for row in 0..g.rows {
                for col in 0..g.cols {
                    let Some(ray) = a.ray_steps(view, row, col).unwrap() else {
                        continue;
                    };
                    let m = ray.main as usize;
                    let mut sum = Sum { volume: v, sum: 0.0 };
                    a.ray_taps(
                        &ray,
                        ray.k0..ray.k1,
                        0,
                        [st[m], st[(m + 1) % 3], st[(m + 2) % 3]],
                        &mut sum,
                    );
                    let got = f64::from(fast[[view, row, col]]);
                    worst = worst.max((got - sum.sum).abs());
                    peak = peak.max(sum.sum.abs());
                    hits += usize::from(sum.sum != 0.0);
                }
            }
        }
        eprintln!("{hits} rays with taps; worst difference {worst:.2e} of a peak {peak:.2}");
        assert!(hits > 1000, "only {hits} rays hit the volume");
        assert!(worst <= 1e-5 * peak, "worst difference {worst} against a peak {peak}");
    }
}

#[test]
fn steep_rays_are_found_where_the_geometry_has_them() {
    let angles: Vec<f64> = (0..12).map(|k| k as f64 * 30.0).collect();
    let grid = |shape: [usize; 3]| Grid {
        origin: [
            -(shape[2] as f64 - 1.0) / 2.0,
            -(shape[1] as f64 - 1.0) / 2.0,
            -(shape[0] as f64 - 1.0) / 2.0,
        ],
        ..Grid::default()
    };
    let steep = |g: Geometry, shape: [usize; 3]| Joseph::new(&g, shape, &grid(shape)).unwrap().has_steep_rays();
    // A clinical-like cone (half-angle ~7°), a parallel beam and a 2D fan: none.
    assert!(!steep(
        Geometry::cone(&angles, 600.0, 1000.0, 64, 96, [2.0, 2.0], [0.0, 0.0]).unwrap(),
        [64, 96, 96]
    ));
    assert!(!steep(
        Geometry::parallel_3d(&angles, 16, 24, [1.0, 1.0]).unwrap(),
        [16, 20, 20]
    ));
    assert!(!steep(
        Geometry::fan(&angles, 100.0, 200.0, 40, 1.0, Detector::Flat, 0.0).unwrap(),
        [1, 20, 20]
    ));
    // A tall volume 22 mm from the source: rays through it climb up to ~60°.
    assert!(steep(
        Geometry::cone(&angles, 22.0, 40.0, 90, 40, [1.3, 1.2], [0.0, 0.0]).unwrap(),
        [36, 12, 11]
    ));
}

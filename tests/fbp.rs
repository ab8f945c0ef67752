//! 2D parallel FBP against scikit-image `iradon` (every filter, circle and square sinograms),
//! and an analytic check: exact projections of the Shepp–Logan phantom reconstruct to the
//! rasterised phantom (no inverse crime).

mod common;

use common::{assert_close, fixture};
use hounsfield::recon::{Fbp2d, Geometry, Phantom, RampWindow, SheppLogan};
use hounsfield::{Error, Grid};
use ndarray::{Array2, ArrayD, Axis, Ix2};

/// PSNR (dB, peak: the truth's range) of `rec` against `truth` over the disc of `radius`
/// pixels around `centre`.
fn psnr_inside(rec: &Array2<f32>, truth: &Array2<f32>, centre: f64, radius: f64) -> f64 {
    let (mut sq, mut count) = (0.0f64, 0usize);
    let (lo, hi) = truth
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    for ((r, c), &t) in truth.indexed_iter() {
        let (y, x) = (r as f64 - centre, c as f64 - centre);
        if x * x + y * y < radius * radius {
            sq += (f64::from(rec[[r, c]]) - f64::from(t)).powi(2);
            count += 1;
        }
    }
    10.0 * (f64::from(hi - lo).powi(2) / (sq / count as f64)).log10()
}

/// Mean absolute error of `rec` against `truth` over the disc of `radius` pixels around
/// `centre` (RTK-style: inside the reconstruction circle, away from its rim).
fn mae_inside(rec: &Array2<f32>, truth: &Array2<f32>, centre: f64, radius: f64) -> f64 {
    let (mut abs_err, mut count) = (0.0f64, 0usize);
    for ((r, c), &t) in truth.indexed_iter() {
        let (y, x) = (r as f64 - centre, c as f64 - centre);
        if x * x + y * y < radius * radius {
            abs_err += (f64::from(rec[[r, c]]) - f64::from(t)).abs();
            count += 1;
        }
    }
    abs_err / count as f64
}

#[test]
fn matches_scikit_image_iradon_for_every_filter() {
    let sino = fixture::<f32>("fbp/sinogram.npy").into_dimensionality::<Ix2>().unwrap();
    let theta: Vec<f64> = fixture::<f64>("fbp/theta.npy").iter().copied().collect();
    for (name, window) in [
        ("ramp", RampWindow::Ramp),
        ("shepp-logan", RampWindow::SheppLogan),
        ("cosine", RampWindow::Cosine),
        ("hamming", RampWindow::Hamming),
        ("hann", RampWindow::Hann),
    ] {
        let want: ArrayD<f64> = fixture(&format!("fbp/iradon_{name}.npy"));
        let got = Fbp2d::new(&theta).window(window).reconstruct_cpu(sino.view()).unwrap();
        // f32 FFTs and sums against scikit-image's f64: 1e-4 of the image's range.
        let range = want.iter().cloned().fold(0.0f64, |m, v| m.max(v.abs()));
        assert_close(got.view().into_dyn(), want.view(), 0.0, 1e-4 * range, name);
    }
    let sino = fixture::<f32>("fbp/sinogram_square.npy")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let want: ArrayD<f64> = fixture("fbp/iradon_square_ramp.npy");
    let got = Fbp2d::new(&theta).circle(false).reconstruct_cpu(sino.view()).unwrap();
    let range = want.iter().cloned().fold(0.0f64, |m, v| m.max(v.abs()));
    assert_close(got.view().into_dyn(), want.view(), 0.0, 1e-4 * range, "square");
}

#[test]
fn exact_projections_of_shepp_logan_reconstruct_to_the_phantom() {
    // 128×128 pixels of 1 mm over a phantom of radius 60 mm; 360 views; detector of 128 × 1 mm.
    let n = 128;
    let angles: Vec<f64> = (0..360).map(|k| k as f64 * 0.5).collect();
    let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 60.0).unwrap();
    // scikit-image centres an n-column detector on column n/2 (integer division): shift ours,
    // which is centred on (n-1)/2, by half a pixel.
    let mut geometry = Geometry::parallel_2d(&angles, n, 1.0).unwrap();
    geometry.offset_u = -0.5;
    let sino = geometry.project_exact(&phantom).unwrap().index_axis_move(Axis(1), 0);
    let rec = Fbp2d::new(&angles).reconstruct_cpu(sino.view()).unwrap();
    // Output pixel (row, col) sits at (col - n/2, row - n/2) mm: the rotation centre is pixel n/2.
    let grid = Grid {
        spacing: [1.0, 1.0, 1.0],
        origin: [-(n as f64 / 2.0), -(n as f64 / 2.0), 0.0],
        ..Grid::default()
    };
    let truth = phantom
        .rasterize([1, n, n], &grid, 4)
        .unwrap()
        .index_axis_move(Axis(0), 0);
    // RTK-style criteria inside the reconstruction circle, away from the skull's edge blur.
    let (mut abs_err, mut count, mut max_v) = (0.0f64, 0usize, 0.0f64);
    for ((r, c), &t) in truth.indexed_iter() {
        let (y, x) = (r as f64 - 64.0, c as f64 - 64.0);
        if x * x + y * y < 50.0 * 50.0 {
            abs_err += (f64::from(rec[[r, c]]) - f64::from(t)).abs();
            count += 1;
            max_v = max_v.max(f64::from(t));
        }
    }
    let mae = abs_err / count as f64;
    let psnr = psnr_inside(&rec, &truth, 64.0, 50.0);
    eprintln!("FBP of exact Shepp-Logan projections: MAE {mae:.4}, PSNR {psnr:.1} dB");
    assert!(
        mae < 0.02 && psnr > 28.0,
        "mean absolute error {mae:.4}, PSNR {psnr:.1} dB inside the circle (values 0..{max_v})"
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    let sino = Array2::<f32>::zeros((4, 16));
    assert!(matches!(
        Fbp2d::new(&[0.0, 1.0]).reconstruct_cpu(sino.view()),
        Err(Error::InvalidShape(_))
    ));
    let mut nan = sino.clone();
    nan[[1, 3]] = f32::NAN;
    let angles = [0.0, 45.0, 90.0, 135.0];
    assert!(matches!(
        Fbp2d::new(&angles).reconstruct_cpu(nan.view()),
        Err(Error::InvalidParameter { name: "sinogram", .. })
    ));
    assert!(matches!(
        Fbp2d::new(&[0.0, f64::NAN, 1.0, 2.0]).reconstruct_cpu(sino.view()),
        Err(Error::InvalidParameter { name: "angles", .. })
    ));
    assert!(matches!(
        Fbp2d::new(&angles).cutoff(0.0).reconstruct_cpu(sino.view()),
        Err(Error::InvalidParameter { name: "cutoff", .. })
    ));
    assert!(matches!(
        Fbp2d::new(&angles).output_size(0).reconstruct_cpu(sino.view()),
        Err(Error::InvalidParameter {
            name: "output_size",
            ..
        })
    ));
    assert!("fancy".parse::<RampWindow>().is_err());
    assert_eq!("Shepp-Logan".parse::<RampWindow>().unwrap(), RampWindow::SheppLogan);
}

#[test]
fn fan_beam_fbp_reconstructs_exact_projections_on_flat_and_arc_detectors() {
    use hounsfield::recon::{Detector, FanFbp};
    let n = 128;
    let angles: Vec<f64> = (0..720).map(|k| k as f64 * 0.5).collect();
    let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 60.0).unwrap();
    // The image's centre pixel (n-1)/2 is on the rotation axis.
    let grid = Grid {
        origin: [-(n as f64 - 1.0) / 2.0, -(n as f64 - 1.0) / 2.0, 0.0],
        ..Grid::default()
    };
    let truth = phantom
        .rasterize([1, n, n], &grid, 4)
        .unwrap()
        .index_axis_move(Axis(0), 0);
    for (detector, spacing) in [(Detector::Flat, 1.6), (Detector::Arc, 1.5)] {
        let g = hounsfield::recon::Geometry::fan(&angles, 400.0, 640.0, 200, spacing, detector, 0.0).unwrap();
        let sino = g.project_exact(&phantom).unwrap().index_axis_move(Axis(1), 0);
        let rec = FanFbp::new(&g).unwrap().reconstruct_cpu(sino.view(), n, 1.0).unwrap();
        let mae = mae_inside(&rec, &truth, 63.5, 50.0);
        let psnr = psnr_inside(&rec, &truth, 63.5, 50.0);
        eprintln!("fan FBP ({detector:?}) of exact Shepp-Logan projections: MAE {mae:.4}, PSNR {psnr:.1} dB");
        assert!(
            mae < 0.02 && psnr > 28.0,
            "{detector:?}: MAE {mae:.4}, PSNR {psnr:.1} dB"
        );
    }
    // Short scans (180° + fan angle, Parker weights) on both detectors.
    for (detector, spacing) in [(Detector::Flat, 1.6), (Detector::Arc, 1.5)] {
        // Fan half-angle: about 14° here; 180° + 2·14.1° → 209°, in 0.5° steps.
        let short: Vec<f64> = (0..420).map(|k| k as f64 * 0.5).collect();
        let g = hounsfield::recon::Geometry::fan(&short, 400.0, 640.0, 200, spacing, detector, 0.0).unwrap();
        let sino = g.project_exact(&phantom).unwrap().index_axis_move(Axis(1), 0);
        let rec = FanFbp::new(&g).unwrap().reconstruct_cpu(sino.view(), n, 1.0).unwrap();
        let mae = mae_inside(&rec, &truth, 63.5, 50.0);
        let psnr = psnr_inside(&rec, &truth, 63.5, 50.0);
        eprintln!("short-scan fan FBP ({detector:?}): MAE {mae:.4}, PSNR {psnr:.1} dB");
        assert!(
            mae < 0.02 && psnr > 28.0,
            "short scan {detector:?}: MAE {mae:.4}, PSNR {psnr:.1} dB"
        );
    }
    // Too short a scan is refused with a message that says what is needed.
    let short: Vec<f64> = (0..150).map(|k| k as f64).collect();
    let g = hounsfield::recon::Geometry::fan(&short, 400.0, 640.0, 64, 1.0, Detector::Flat, 0.0).unwrap();
    let err = FanFbp::new(&g).unwrap_err();
    assert!(err.to_string().contains("short scan"), "{err}");
    assert!(FanFbp::new(&hounsfield::recon::Geometry::parallel_2d(&angles, 10, 1.0).unwrap()).is_err());
}

#[test]
fn an_off_centre_point_reconstructs_at_its_position_in_mm() {
    use hounsfield::recon::{Detector, Ellipsoid, FanFbp};
    let (px, py) = (20.0, -15.0);
    let dot = Phantom {
        ellipsoids: vec![Ellipsoid {
            centre: [px, py, 0.0],
            semi_axes: [1.5, 1.5, f64::INFINITY],
            phi_degrees: 0.0,
            value: 1.0,
        }],
    };
    let angles: Vec<f64> = (0..360).map(|k| k as f64).collect();
    let n = 96;
    let argmax = |img: &Array2<f32>| {
        let (mut best, mut at) = (f32::MIN, (0, 0));
        for ((r, c), &v) in img.indexed_iter() {
            if v > best {
                best = v;
                at = (r, c);
            }
        }
        at
    };
    for detector in [Detector::Flat, Detector::Arc] {
        let g = hounsfield::recon::Geometry::fan(&angles, 300.0, 500.0, 160, 1.0, detector, 0.0).unwrap();
        let sino = g.project_exact(&dot).unwrap().index_axis_move(Axis(1), 0);
        let rec = FanFbp::new(&g).unwrap().reconstruct_cpu(sino.view(), n, 1.0).unwrap();
        let (r, c) = argmax(&rec);
        // Pixel (r, c) is at ((c - 47.5), (r - 47.5)) mm.
        assert!(
            ((c as f64 - 47.5) - px).abs() <= 1.0 && ((r as f64 - 47.5) - py).abs() <= 1.0,
            "{detector:?}: ({r}, {c})"
        );
    }
    // Parallel (scikit-image's centre: pixel n/2 and detector column n/2).
    let half: Vec<f64> = (0..180).map(|k| k as f64).collect();
    let mut g = hounsfield::recon::Geometry::parallel_2d(&half, n, 1.0).unwrap();
    g.offset_u = -0.5;
    let sino = g.project_exact(&dot).unwrap().index_axis_move(Axis(1), 0);
    let rec = Fbp2d::new(&half).reconstruct_cpu(sino.view()).unwrap();
    let (r, c) = argmax(&rec);
    assert!(
        ((c as f64 - 48.0) - px).abs() <= 1.0 && ((r as f64 - 48.0) - py).abs() <= 1.0,
        "parallel: ({r}, {c})"
    );
}

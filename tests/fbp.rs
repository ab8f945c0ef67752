//! 2D parallel FBP against scikit-image `iradon` (every filter, circle and square sinograms),
//! and an analytic check: exact projections of the Shepp–Logan phantom reconstruct to the
//! rasterised phantom (no inverse crime).

mod common;

use common::{assert_close, fixture};
use hounsfield::recon::{Fbp2d, Geometry, Phantom, RampWindow, SheppLogan};
use hounsfield::{Error, Grid};
use ndarray::{Array2, ArrayD, Axis, Ix2};

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
    eprintln!("FBP of exact Shepp-Logan projections: MAE {mae:.4}");
    assert!(
        mae < 0.02,
        "mean absolute error {mae:.4} inside the circle (values 0..{max_v})"
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

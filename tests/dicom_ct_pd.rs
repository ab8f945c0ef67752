//! DICOM-CT-PD raw projection data (issue 23): synthetic scans written by
//! `tests/fixtures/generate_ct_pd.py` from the format's description alone (its own ray model,
//! exact chords through ellipsoids). Reading them and projecting the same phantom with the
//! library's geometry must give the stored line integrals; helical FDK must reconstruct it.

use std::path::PathBuf;

use hounsfield::io::dicom::{DetectorShape, load_projection_data};
use hounsfield::recon::{Detector, Ellipsoid, HelicalFdk, Phantom, centred_grid};
use ndarray::{Array3, Axis, s};

fn fixtures(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ct_pd")
        .join(name)
}

/// The generator's phantom (axis-aligned ellipsoids; values add).
fn phantom() -> Phantom {
    let e = |centre: [f64; 3], semi_axes: [f64; 3], value: f64| Ellipsoid {
        centre,
        semi_axes,
        phi_degrees: 0.0,
        value,
    };
    Phantom {
        ellipsoids: vec![
            e([0.0, 0.0, 0.0], [60.0, 48.0, 40.0], 0.019),
            e([22.0, -12.0, 4.0], [9.0, 7.0, 12.0], 0.021),
            e([-18.0, 14.0, -6.0], [11.0, 6.0, 9.0], -0.015),
            e([5.0, 20.0, 8.0], [4.0, 4.0, 5.0], 0.01),
        ],
    }
}

fn worst(a: &Array3<f32>, b: &Array3<f32>) -> f32 {
    a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

#[test]
fn a_helical_scan_reads_with_its_geometry() {
    let scan = load_projection_data(fixtures("helical")).unwrap();
    assert_eq!(scan.projections.dim(), (128, 16, 96));
    assert_eq!(scan.shape, DetectorShape::Cylindrical);
    assert_eq!(scan.spacing, [1.5, 3.0]);
    assert_eq!(scan.central_element, [7.5, 47.75]);
    assert_eq!(scan.flying_focal_spot, "FFSNONE");
    assert_eq!(scan.views_per_rotation, Some(64));
    assert!((scan.water_attenuation.unwrap() - 0.0192).abs() < 1e-7);
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    // Views in InstanceNumber order (the file names are shuffled), explicit and implicit VR alike.
    for (k, v) in scan.views.iter().enumerate() {
        let phi = (0.3 + 2.0 * std::f64::consts::PI * k as f64 / 64.0) as f32;
        let z = (-10.0 + 10.0 * k as f64 / 64.0) as f32;
        assert_eq!((v.angle as f32, v.z as f32, v.radius), (phi, z, 300.0), "view {k}");
        assert_eq!(v.source_shift, [0.0; 3]);
    }

    let g = scan.geometry().unwrap();
    assert_eq!(g.detector, Detector::Arc);
    assert_eq!((g.rows, g.cols, g.sdd), (16, 96, 550.0));
    // The library's projection of the phantom through the geometry read equals the stored line
    // integrals (quantised to 1/16000) — a mirrored axis or a central element off by a pixel
    // would not.
    let exact = g.project_exact(&phantom()).unwrap();
    let peak = exact.iter().fold(0.0f32, |m, &v| m.max(v));
    let error = worst(&exact, &scan.projections);
    eprintln!("stored vs library projections: {error:e} (peak {peak})");
    assert!(error < 1e-4, "{error}");
    let mut mirrored = scan.projections.clone();
    mirrored.invert_axis(Axis(2));
    assert!(worst(&exact, &mirrored) > 100.0 * error.max(1e-5));

    // Helical FDK of the scan, in the middle of the helix (z from −10 to +10 mm).
    let shape = [6, 64, 64];
    let grid = centred_grid(shape, [1.0, 2.0, 2.0]).unwrap();
    let recon = HelicalFdk::new(&g)
        .unwrap()
        .reconstruct_cpu(scan.projections.view(), shape, &grid)
        .unwrap();
    let truth = phantom().rasterize(shape, &grid, 3).unwrap();
    let inside = |a: &Array3<f32>| a.slice(s![.., 4..60, 4..60]).to_owned();
    let (recon, truth) = (inside(&recon), inside(&truth));
    let mae = recon
        .iter()
        .zip(&truth)
        .map(|(a, b)| f64::from((a - b).abs()))
        .sum::<f64>()
        / recon.len() as f64;
    eprintln!("helical FDK of the DICOM-CT-PD scan: MAE {mae:.2e} mm⁻¹ (water 0.019)");
    assert!(mae < 0.05 * 0.019, "{mae}");
}

#[test]
fn flying_focal_spots_are_read_and_their_geometry_refused() {
    let scan = load_projection_data(fixtures("ffs")).unwrap();
    assert_eq!(scan.flying_focal_spot, "FFSZ");
    assert_eq!(scan.views.len(), 2);
    assert!((scan.views[0].source_shift[1] - 0.4).abs() < 1e-6);
    assert!((scan.views[1].source_shift[1] + 0.4).abs() < 1e-6);
    let error = scan.geometry().unwrap_err().to_string();
    assert!(error.contains("flying focal spot") && error.contains("FFSZ"), "{error}");
    // Ignoring the shifts: a geometry, with rays off by the 0.4 mm shift.
    assert!((scan.largest_source_shift() - 0.4).abs() < 1e-6);
    let g = scan.focal_centre_geometry().unwrap();
    let centred = g.project_exact(&phantom()).unwrap();
    let off = worst(&centred, &scan.projections);
    eprintln!("FFS data against focal-centre rays: {off:e}");
    assert!(off > 1e-3 && off < 0.2, "{off}");
}

#[test]
fn other_files_are_typed_errors() {
    // An ordinary CT image: not projection data.
    let image = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dicom/oblique/img0.dcm");
    let error = load_projection_data(image).unwrap_err().to_string();
    assert!(error.contains("not DICOM-CT-PD"), "{error}");
    let error = load_projection_data(fixtures("no-such-folder"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("no-such-folder"), "{error}");
    // A folder mixing two scans' detectors.
    let dir = std::env::temp_dir().join(format!("hounsfield-ct-pd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixtures("helical/0000.dcm"), dir.join("a.dcm")).unwrap();
    std::fs::copy(fixtures("ffs/0000.dcm"), dir.join("b.dcm")).unwrap();
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dicom/oblique/img0.dcm"),
        dir.join("c.dcm"),
    )
    .unwrap();
    let error = load_projection_data(&dir).unwrap_err().to_string();
    assert!(error.contains("not DICOM-CT-PD"), "{error}");
    std::fs::remove_file(dir.join("c.dcm")).unwrap();
    // Same detector in both: they load together (the FFS one's geometry is then refused).
    let scan = load_projection_data(&dir).unwrap();
    assert_eq!(scan.views.len(), 2);
    assert!(scan.geometry().is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

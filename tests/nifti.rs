//! NIfTI import and export: round trips (oblique and left-handed grids, .nii and .nii.gz) and a
//! file written by SimpleITK, whose LPS geometry must come back as SimpleITK reports it.

mod common;

use std::path::PathBuf;

use common::{fixture, random_volume};
use hounsfield::io::nifti::{read_nifti, write_nifti};
use hounsfield::{Grid, Volume};

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("hounsfield_nifti_{}_{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn assert_grids_close(a: &Grid, b: &Grid, tol: f64) {
    let pairs = a.spacing.iter().zip(&b.spacing).chain(a.origin.iter().zip(&b.origin));
    for (x, y) in pairs.chain(a.direction.iter().flatten().zip(b.direction.iter().flatten())) {
        assert!((x - y).abs() < tol, "{a:?} vs {b:?}");
    }
}

#[test]
fn volumes_round_trip_with_their_lps_geometry() {
    let (s, c) = 20f64.to_radians().sin_cos();
    let oblique = Grid {
        spacing: [2.0, 0.75, 0.5],
        origin: [10.0, -20.5, 33.0],
        direction: [[0.0, -s, c], [0.0, c, s], [1.0, 0.0, 0.0]],
    };
    // Left-handed: x reversed (qfac −1 in the qform).
    let left = Grid {
        direction: [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]],
        ..oblique
    };
    for (name, grid) in [("oblique.nii", oblique), ("left.nii.gz", left)] {
        let volume = Volume::new(random_volume([5, 7, 9], 2), grid).unwrap();
        let path = temp(name);
        write_nifti(&volume, &path).unwrap();
        let back = read_nifti(&path).unwrap();
        assert_eq!(back.data(), volume.data(), "{name}");
        assert_grids_close(back.grid(), volume.grid(), 1e-5);
        // Never overwritten.
        assert!(write_nifti(&volume, &path).is_err());
    }
}

#[test]
fn a_simpleitk_nifti_reads_with_simpleitks_geometry_and_values() {
    // tests/fixtures/generate_dicom.py: the oblique pydicom series as SimpleITK read it, written
    // by SimpleITK as NIfTI (it converts LPS to RAS on disk).
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dicom/oblique_sitk.nii.gz");
    let volume = read_nifti(&path).unwrap();
    let g: Vec<f64> = fixture::<f64>("dicom/oblique_sitk_geometry.npy")
        .iter()
        .copied()
        .collect();
    let expected = common::sitk_grid(&g);
    // NIfTI stores f32 affines: 1e-5 relative.
    assert_grids_close(volume.grid(), &expected, 1e-4);
    let values = fixture::<f64>("dicom/oblique_sitk_values.npy");
    assert_eq!(values.shape(), volume.shape().as_slice());
    for (a, b) in volume.data().iter().zip(values.iter()) {
        assert_eq!(f64::from(*a), *b);
    }
}

#[test]
fn corrupt_files_are_typed_errors_not_panics_or_huge_allocations() {
    // tests/fixtures/fuzz_nifti: inputs on which fuzz/fuzz_targets/nifti_file.rs crashed (the
    // nifti crate panicked on a data size that disagrees with the dimensions), read as .nii
    // and as .nii.gz, as the target does.
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz_nifti");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let input = entry.unwrap().path();
        for name in ["input.nii", "input.nii.gz"] {
            let copy = temp(&format!("fuzz_{checked}_{name}"));
            let _ = std::fs::remove_file(&copy);
            std::fs::copy(&input, &copy).unwrap();
            let err = read_nifti(&copy).unwrap_err();
            assert!(
                matches!(err, hounsfield::Error::Image(_) | hounsfield::Error::Io { .. }),
                "{err}"
            );
            let _ = std::fs::remove_file(&copy);
        }
        if input.file_name().is_some_and(|n| n == "negative-bitpix.nii") {
            // Found by the fuzzer: the nifti crate reserved exabytes for a negative bitpix.
            let copy = temp("fuzz_bitpix.nii");
            let _ = std::fs::remove_file(&copy);
            std::fs::copy(&input, &copy).unwrap();
            let err = read_nifti(&copy).unwrap_err().to_string();
            assert!(err.contains("bitpix"), "{err}");
            let _ = std::fs::remove_file(&copy);
        }
        checked += 1;
    }
    assert!(checked >= 2);
    // A 400-byte header declaring 2000³ float32 voxels is refused before reading.
    let small = temp("declares_huge.nii");
    let _ = std::fs::remove_file(&small);
    let volume = Volume::new(random_volume([2, 3, 4], 1), Grid::default()).unwrap();
    write_nifti(&volume, &small).unwrap();
    let mut bytes = std::fs::read(&small).unwrap();
    for (k, d) in [(42usize, 2000i16), (44, 2000), (46, 2000)] {
        bytes[k..k + 2].copy_from_slice(&d.to_le_bytes());
    }
    std::fs::write(&small, &bytes).unwrap();
    let err = read_nifti(&small).unwrap_err();
    assert!(err.to_string().contains("declares dimensions"), "{err}");
    let _ = std::fs::remove_file(&small);
}

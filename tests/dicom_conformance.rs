//! The DICOM the library writes passes dicom3tools' validator (`dciodvfy`, Debian package
//! `dicom3tools`) with no errors: CT, MR and Secondary Capture series of a new study, and
//! series derived from a source file (an oblique one, and an enhanced multi-frame one), which copy its patient, study and
//! series-level attributes and reference it. The validator is part of the test environment
//! (`.ci/run` installs it; README's setup line too): without it this test fails, saying so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::random_volume;
use hounsfield::io::dicom::{SeriesKind, WriteOptions, write_series};
use hounsfield::{Grid, Volume};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hounsfield_conformance_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// dciodvfy's error lines for `file` (it reports to stderr; warnings are not errors).
fn validator_errors(file: &Path) -> Vec<String> {
    let run = Command::new("dciodvfy").arg(file).output().unwrap_or_else(|e| {
        panic!("dciodvfy could not run ({e}): install dicom3tools (Debian/Ubuntu: apt-get install dicom3tools)")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        text.contains("Image") || text.contains("Capture"),
        "dciodvfy did not recognise the IOD of {}:\n{text}",
        file.display()
    );
    text.lines()
        .filter(|l| l.starts_with("Error"))
        .map(str::to_string)
        .collect()
}

fn oblique() -> Grid {
    let (s, c) = 20f64.to_radians().sin_cos();
    Grid {
        spacing: [1.25, 0.8, 0.9],
        origin: [-3.0, 4.0, 50.0],
        direction: [[0.0, -s, c], [0.0, c, s], [1.0, 0.0, 0.0]],
    }
}

#[test]
fn every_series_kind_written_validates_with_no_errors() {
    let data = random_volume([3, 10, 12], 5).mapv(|v| (v * 1500.0 - 500.0).round());
    let volume = Volume::new(data.clone(), oblique()).unwrap();
    let fractional = Volume::new(data.mapv(|v| v * 0.37 + 12.5), Grid::default()).unwrap();
    let mut checked = Vec::new();
    for (name, kind, vol) in [
        ("ct", SeriesKind::Ct, &volume),
        ("mr", SeriesKind::Mr, &fractional),
        ("sc", SeriesKind::SecondaryCapture, &volume),
    ] {
        // A new study...
        let dir = temp_dir(name);
        let options = WriteOptions {
            kind,
            description: format!("hounsfield {name} conformance"),
            ..WriteOptions::default()
        };
        let files = write_series(vol, &dir, &options).unwrap();
        // ...and a series derived from one of its files (oblique, as scanners write them).
        let derived_dir = temp_dir(&format!("{name}_derived"));
        let derived = WriteOptions {
            source: Some(files[1].clone()),
            derivation: Some("median:1 gaussian:0.8".into()),
            ..options.clone()
        };
        let derived_files = write_series(vol, &derived_dir, &derived).unwrap();
        for file in [&files[0], &files[2], &derived_files[0]] {
            let errors = validator_errors(file);
            assert!(
                errors.is_empty(),
                "{name}: {} has errors:\n{}",
                file.display(),
                errors.join("\n")
            );
            checked.push(file.clone());
        }
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&derived_dir);
    }
    // A CT series derived from an enhanced multi-frame source (tests/fixtures/dicom/multiframe,
    // written by pydicom): the classic CT images it becomes validate too.
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dicom/multiframe/enhanced_ct.dcm");
    let dir = temp_dir("from_multiframe");
    let options = WriteOptions {
        kind: SeriesKind::Ct,
        source: Some(source),
        derivation: Some("gaussian:1".into()),
        ..WriteOptions::default()
    };
    let files = write_series(&volume, &dir, &options).unwrap();
    for file in &files {
        let errors = validator_errors(file);
        assert!(
            errors.is_empty(),
            "{} has errors:\n{}",
            file.display(),
            errors.join("\n")
        );
        checked.push(file.clone());
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(checked.len(), 9 + files.len());
}

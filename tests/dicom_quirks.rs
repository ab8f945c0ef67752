//! Files with the defects real archives hold (tests/fixtures/generate_dicom_quirks.py writes
//! them with pydicom, which reads every one): each loads like the clean file — same values,
//! same geometry — with a warning that names the repair where the file breaks the standard;
//! and the writers' refusal to overwrite or write through links.

mod common;

use std::path::PathBuf;

use hounsfield::io::dicom::{Policy, load_series, scan};

fn case(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dicom/quirks")
        .join(name)
}

/// (case, a phrase its warning must hold; None: valid DICOM, no warning needed).
const CASES: &[(&str, Option<&str>)] = &[
    ("clean", None),
    ("trailing_zeros", Some("after the pixel data")),
    ("trailing_garbage", Some("after the pixel data")),
    ("no_preamble", Some("preamble")),
    ("dicm_without_preamble", Some("preamble")),
    ("no_meta", Some("meta")),
    ("group_lengths", None),
    ("command_group", Some("command")),
    ("odd_length", None),
    ("undefined_length", None),
    ("private_un", None),
    ("vr_mismatch", Some("UN")),
    ("implicit_behind_explicit", Some("implicit")),
    ("missing_transfer_syntax", Some("Transfer Syntax")),
];

#[test]
fn damaged_files_load_like_the_clean_one_and_say_what_was_repaired() {
    let expected = common::fixture::<f64>("dicom/quirks/expected_values.npy");
    let mut failures = Vec::new();
    for &(name, phrase) in CASES {
        let found = match scan(case(name)) {
            Ok(found) => found,
            Err(e) => {
                failures.push(format!("{name}: scan failed: {e}"));
                continue;
            }
        };
        if found.series.len() != 1 {
            failures.push(format!(
                "{name}: {} series, skipped {:?}",
                found.series.len(),
                found.skipped
            ));
            continue;
        }
        let loaded = match load_series(&found.series[0], Policy::Strict) {
            Ok(loaded) => loaded,
            Err(e) => {
                failures.push(format!("{name}: load failed: {e}"));
                continue;
            }
        };
        let values: Vec<f64> = loaded.volume.data().iter().map(|&v| f64::from(v)).collect();
        if values != expected.iter().copied().collect::<Vec<_>>() {
            failures.push(format!("{name}: values differ"));
        }
        let grid = loaded.volume.grid();
        if grid.origin != [-10.0, 20.0, 30.0] || grid.spacing[1..] != [0.7, 0.8] || grid.spacing[0] != 2.5 {
            failures.push(format!("{name}: grid {grid:?}"));
        }
        // A single slice always says where its spacing comes from; the rest are repairs.
        let warnings = loaded
            .warnings
            .iter()
            .filter(|w| !w.starts_with("a single slice"))
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ");
        if let Some(phrase) = phrase
            && !warnings.contains(phrase)
        {
            failures.push(format!("{name}: no warning about {phrase:?} (warnings: {warnings:?})"));
        }
        if phrase.is_none() && !warnings.is_empty() {
            failures.push(format!("{name}: unexpected warnings {warnings:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Writers never overwrite and never write through a symbolic link: a non-empty or linked
/// folder, an existing file and a dangling link are refused, and nothing appears where the
/// link points.
#[cfg(unix)]
#[test]
fn writers_never_overwrite_or_follow_links() {
    use hounsfield::io::dicom::{WriteOptions, write_series};
    use hounsfield::io::nifti::write_nifti;
    use hounsfield::{Grid, Volume};

    let root = std::env::temp_dir().join(format!("hounsfield_writers_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let volume = Volume::new(ndarray::Array3::<f32>::zeros((2, 3, 4)), Grid::default()).unwrap();
    let outside = root.join("outside");
    std::fs::create_dir(&outside).unwrap();
    // A folder that is a link to another folder.
    let linked = root.join("linked");
    std::os::unix::fs::symlink(&outside, &linked).unwrap();
    let err = write_series(&volume, &linked, &WriteOptions::default()).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // A dangling link where the NIfTI file goes, and an existing file.
    let target = outside.join("made_through_link.nii");
    let dangling = root.join("volume.nii");
    std::os::unix::fs::symlink(&target, &dangling).unwrap();
    assert!(write_nifti(&volume, &dangling).is_err());
    assert!(!target.exists(), "written through the link");
    let existing = root.join("existing.nii");
    std::fs::write(&existing, b"keep me").unwrap();
    assert!(write_nifti(&volume, &existing).is_err());
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    // A real, new folder works and holds only the slices.
    let files = write_series(&volume, root.join("series"), &WriteOptions::default()).unwrap();
    assert_eq!(files.len(), 2);
    assert!(write_series(&volume, root.join("series"), &WriteOptions::default()).is_err());
    let _ = std::fs::remove_dir_all(&root);
}

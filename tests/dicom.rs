//! DICOM series: write → scan → load round trips (CT and MR, axial and oblique), assembly from
//! shuffled files, missing and duplicate slices, two series in one folder, tilted stacks,
//! non-DICOM files, truncated files and refused writes.

mod common;

use std::path::{Path, PathBuf};

use common::random_volume;
use hounsfield::io::dicom::{
    Policy, SeriesKind, WriteOptions, load_series, load_series_slab, scan, series_layout, write_series,
};
use hounsfield::{Error, Grid, Volume};
use ndarray::Axis;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hounsfield_dicom_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A CT-like volume of whole HU values.
fn ct_volume(shape: [usize; 3], grid: Grid) -> Volume {
    let data = random_volume(shape, 11).mapv(|v| ((v + 0.5) * 2000.0 - 1000.0).round());
    Volume::new(data, grid).unwrap()
}

fn axial_grid() -> Grid {
    Grid {
        spacing: [2.5, 0.7, 0.8],
        origin: [-10.0, 20.0, 30.5],
        ..Grid::default()
    }
}

/// An oblique grid: the axes rotated 30° about an inclined axis (orthonormal directions).
fn oblique_grid() -> Grid {
    let (s, c) = 30f64.to_radians().sin_cos();
    Grid {
        spacing: [1.5, 0.9, 1.1],
        origin: [5.0, -7.0, 12.0],
        // (z, y, x) axes as LPS vectors.
        direction: [[0.0, -s, c], [0.0, c, s], [1.0, 0.0, 0.0]],
    }
}

fn assert_grids_close(a: &Grid, b: &Grid) {
    for (x, y) in a.spacing.iter().zip(&b.spacing).chain(a.origin.iter().zip(&b.origin)) {
        assert!((x - y).abs() < 1e-4, "{a:?} vs {b:?}");
    }
    for (u, v) in a.direction.iter().flatten().zip(b.direction.iter().flatten()) {
        assert!((u - v).abs() < 1e-5, "{a:?} vs {b:?}");
    }
}

fn load_only(dir: &Path, policy: Policy) -> hounsfield::Result<hounsfield::io::dicom::LoadedSeries> {
    let found = scan(dir)?;
    assert_eq!(found.series.len(), 1, "{found:?}");
    load_series(&found.series[0], policy)
}

#[test]
fn ct_and_mr_series_round_trip_axial_and_oblique() {
    // CT, whole HU values: stored as int16, read back exactly.
    let dir = temp_dir("ct");
    let ct = ct_volume([5, 12, 10], axial_grid());
    let files = write_series(&ct, &dir, &WriteOptions::default()).unwrap();
    assert_eq!(files.len(), 5);
    let found = scan(&dir).unwrap();
    assert_eq!(found.series.len(), 1);
    let info = &found.series[0];
    assert_eq!(
        (info.modality.as_str(), info.rows, info.cols, info.slices),
        ("CT", 12, 10, 5)
    );
    let loaded = load_series(info, Policy::Strict).unwrap();
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(loaded.volume.data(), ct.data());
    assert_grids_close(loaded.volume.grid(), ct.grid());
    // MR, oblique, fractional values: uint16 with slope/intercept, within half a step.
    let dir = temp_dir("mr");
    let data = random_volume([4, 9, 11], 3).mapv(|v| v * 37.5 + 100.0);
    let mr = Volume::new(data, oblique_grid()).unwrap();
    let options = WriteOptions {
        kind: SeriesKind::Mr,
        description: "oblique".into(),
        ..WriteOptions::default()
    };
    write_series(&mr, &dir, &options).unwrap();
    let loaded = load_only(&dir, Policy::Strict).unwrap();
    let step = 37.5 / 65535.0;
    let worst = loaded
        .volume
        .data()
        .iter()
        .zip(mr.data())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(f64::from(worst) <= 0.5 * step + 1e-4, "{worst} vs step {step}");
    assert_grids_close(loaded.volume.grid(), mr.grid());
}

#[test]
fn slices_are_ordered_by_position_not_by_file_name() {
    let dir = temp_dir("shuffled");
    let ct = ct_volume([6, 8, 7], oblique_grid());
    let files = write_series(&ct, &dir, &WriteOptions::default()).unwrap();
    // Rename so that name order is the reverse of slice order (and InstanceNumber is ignored).
    for (i, f) in files.iter().enumerate() {
        std::fs::rename(f, dir.join(format!("img_{}.dcm", 100 - i))).unwrap();
    }
    let loaded = load_only(&dir, Policy::Strict).unwrap();
    assert_eq!(loaded.volume.data(), ct.data());
    assert_grids_close(loaded.volume.grid(), ct.grid());
}

#[test]
fn missing_and_duplicate_slices_are_errors_or_repaired_with_a_warning() {
    let dir = temp_dir("missing");
    let ct = ct_volume([7, 6, 5], axial_grid());
    let files = write_series(&ct, &dir, &WriteOptions::default()).unwrap();
    std::fs::remove_file(&files[3]).unwrap();
    let err = load_only(&dir, Policy::Strict).unwrap_err();
    assert!(
        matches!(err, Error::Series { .. }) && err.to_string().contains("missing"),
        "{err}"
    );
    let loaded = load_only(&dir, Policy::Lenient).unwrap();
    assert_eq!(loaded.volume.shape(), [7, 6, 5]);
    assert!(
        loaded.warnings.iter().any(|w| w.contains("interpolated")),
        "{:?}",
        loaded.warnings
    );
    let expected = (&ct.data().index_axis(Axis(0), 2) + &ct.data().index_axis(Axis(0), 4)) * 0.5;
    assert_eq!(loaded.volume.data().index_axis(Axis(0), 3), expected);
    assert_grids_close(loaded.volume.grid(), ct.grid());

    let dir = temp_dir("duplicate");
    let files = write_series(&ct, &dir, &WriteOptions::default()).unwrap();
    std::fs::copy(&files[2], dir.join("copy_of_slice_3.dcm")).unwrap();
    let err = load_only(&dir, Policy::Strict).unwrap_err();
    assert!(err.to_string().contains("duplicate"), "{err}");
    let loaded = load_only(&dir, Policy::Lenient).unwrap();
    assert_eq!(loaded.volume.data(), ct.data());
}

#[test]
fn slabs_of_a_series_equal_the_slices_of_the_whole_load() {
    // Out-of-core reading: every slab (including ones that start or end inside a run of
    // interpolated missing slices) equals the same slices of one whole load, on its own grid.
    let dir = temp_dir("slabs");
    let ct = ct_volume([11, 6, 5], oblique_grid());
    let files = write_series(&ct, &dir, &WriteOptions::default()).unwrap();
    std::fs::remove_file(&files[4]).unwrap();
    std::fs::remove_file(&files[5]).unwrap();
    let found = scan(&dir).unwrap();
    let series = &found.series[0];
    let whole = load_series(series, Policy::Lenient).unwrap();
    let (shape, grid, _) = series_layout(series, Policy::Lenient).unwrap();
    assert_eq!(shape, whole.volume.shape());
    assert_eq!(&grid, whole.volume.grid());
    for (z0, z1) in [(0, 11), (0, 3), (3, 5), (4, 6), (5, 9), (9, 11), (10, 11)] {
        let slab = load_series_slab(series, Policy::Lenient, z0..z1, None).unwrap();
        assert_eq!(
            slab.volume.data(),
            whole.volume.data().slice(ndarray::s![z0..z1, .., ..]),
            "slab {z0}..{z1}"
        );
        let mut origin = grid.origin;
        for (o, d) in origin.iter_mut().zip(grid.direction[0]) {
            *o += z0 as f64 * grid.spacing[0] * d;
        }
        let mut want = grid;
        want.origin = origin;
        assert_grids_close(slab.volume.grid(), &want);
    }
    for (z0, z1) in [(0, 0), (5, 12), (7, 3)] {
        let bad = z0..z1;
        let err = load_series_slab(series, Policy::Lenient, bad.clone(), None).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { .. }), "{bad:?}: {err}");
    }
}

#[test]
fn tilted_stacks_are_refused_or_kept_sheared() {
    let dir = temp_dir("tilted");
    let mut grid = axial_grid();
    // Slices stacked along z but shifted along y by 0.4 mm per 2.5 mm step (gantry tilt).
    let len = (2.5f64 * 2.5 + 0.4 * 0.4).sqrt();
    grid.direction[0] = [0.0, 0.4 / len, 2.5 / len];
    grid.spacing[0] = len;
    let ct = ct_volume([5, 6, 6], grid);
    write_series(&ct, &dir, &WriteOptions::default()).unwrap();
    let err = load_only(&dir, Policy::Strict).unwrap_err();
    assert!(err.to_string().contains("tilted"), "{err}");
    let loaded = load_only(&dir, Policy::Lenient).unwrap();
    assert_grids_close(loaded.volume.grid(), ct.grid());
    assert_eq!(loaded.volume.data(), ct.data());
}

#[test]
fn folders_with_several_series_and_other_files_are_sorted_out() {
    let root = temp_dir("two_series");
    write_series(
        &ct_volume([3, 5, 4], axial_grid()),
        root.join("a"),
        &WriteOptions::default(),
    )
    .unwrap();
    write_series(
        &ct_volume([4, 6, 5], oblique_grid()),
        root.join("b/deeper"),
        &WriteOptions::default(),
    )
    .unwrap();
    std::fs::write(root.join("notes.txt"), "not DICOM").unwrap();
    let found = scan(&root).unwrap();
    assert_eq!(found.series.len(), 2);
    assert_eq!(found.series.iter().map(|s| s.slices).collect::<Vec<_>>(), vec![4, 3]);
    assert_eq!(found.skipped.len(), 1);
    assert!(
        found.skipped[0].reason.contains("not a readable DICOM"),
        "{:?}",
        found.skipped
    );
    // An empty folder has no series; a missing one is an I/O error.
    let empty = temp_dir("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(scan(&empty).unwrap().series.is_empty());
    assert!(matches!(scan(empty.join("nope")), Err(Error::Io { .. })));
}

#[test]
fn truncated_files_and_bad_writes_are_typed_errors() {
    let dir = temp_dir("truncated");
    let ct = ct_volume([3, 16, 16], axial_grid());
    let files = write_series(&ct, &dir, &WriteOptions::default()).unwrap();
    let bytes = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &bytes[..bytes.len() - 100]).unwrap();
    match scan(&dir) {
        // Either the header scan refuses the file, or loading reports the short pixel data.
        Ok(found) if found.series.len() == 1 && found.series[0].slices == 3 => {
            let err = load_series(&found.series[0], Policy::Strict).unwrap_err();
            assert!(matches!(err, Error::Dicom { .. }), "{err}");
        }
        Ok(found) => assert!(!found.skipped.is_empty(), "{found:?}"),
        Err(e) => panic!("scan failed: {e}"),
    }
    // Writing into a non-empty folder, or NaN, is refused.
    assert!(write_series(&ct, &dir, &WriteOptions::default()).is_err());
    let mut nan = ct.data().to_owned();
    nan[[0, 0, 0]] = f32::NAN;
    let err = write_series(
        &Volume::new(nan, axial_grid()).unwrap(),
        temp_dir("nan"),
        &WriteOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("NaN"), "{err}");
}

#[test]
fn a_pydicom_series_loads_with_the_geometry_and_values_simpleitk_reads() {
    // tests/fixtures/generate_dicom.py: written by pydicom (oblique, files out of order,
    // slope 2 / intercept −1024), read by SimpleITK's ImageSeriesReader.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dicom/oblique");
    let loaded = load_only(&dir, Policy::Strict).unwrap();
    let g = common::fixture::<f64>("dicom/oblique_sitk_geometry.npy");
    let g: Vec<f64> = g.iter().copied().collect();
    let grid = loaded.volume.grid();
    let expected = common::sitk_grid(&g);
    assert_grids_close(grid, &expected);
    let values = common::fixture::<f64>("dicom/oblique_sitk_values.npy");
    assert_eq!(values.shape(), loaded.volume.shape().as_slice());
    for (a, b) in loaded.volume.data().iter().zip(values.iter()) {
        assert_eq!(f64::from(*a), *b);
    }
}

#[test]
fn transfer_syntaxes_decode_to_the_same_pixels_or_name_what_is_missing() {
    // tests/fixtures/dicom/transfer_syntax/PROVENANCE.md: one MR image from pydicom's test
    // files in several transfer syntaxes.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dicom/transfer_syntax");
    let load = |name: &str| load_only(&root.join(name), Policy::Strict);
    let reference = load("MR_small").unwrap().volume;
    assert_eq!(reference.shape(), [1, 64, 64]);
    assert!(reference.data().iter().any(|&v| v != reference.data()[[0, 0, 0]]));
    for name in ["MR_small_implicit", "MR_small_bigendian", "MR_small_RLE"] {
        let v = load(name).unwrap_or_else(|e| panic!("{name}: {e}")).volume;
        assert_eq!(v.data(), reference.data(), "{name}");
        assert_grids_close(v.grid(), reference.grid());
    }
    // JPEG 2000 decodes through OpenJPEG (the C library, built from source by openjpeg-sys):
    // lossless, so equal to the reference.
    let j2k = load("MR_small_jp2klossless").unwrap().volume;
    assert_eq!(j2k.data(), reference.data());
    // High-Throughput JPEG 2000 (written by tests/fixtures/generate_htj2k.py with OpenJPH's
    // encoder) decodes through the same OpenJPEG (2.5 has the HT block decoder): the lossless
    // file equals the reference, the lossy one (9/7 wavelet) is near it.
    let ht = load("MR_small_htj2k_lossless").unwrap().volume;
    assert_eq!(ht.data(), reference.data());
    assert_grids_close(ht.grid(), reference.grid());
    let lossy = load("MR_small_htj2k_lossy").unwrap().volume;
    let errors: Vec<f32> = lossy
        .data()
        .iter()
        .zip(reference.data())
        .map(|(a, b)| (a - b).abs())
        .collect();
    let worst = errors.iter().fold(0.0f32, |m, &e| m.max(e));
    let mean = errors.iter().sum::<f32>() / errors.len() as f32;
    // OpenJPH's own decoder gives 52 at most and 10.6 on average from the same codestream.
    assert!(
        worst > 0.0 && worst <= 64.0 && mean < 16.0,
        "lossy HTJ2K off by {worst} (mean {mean})"
    );
    // A codestream whose SIZ marker claims another image size than the DICOM header is refused
    // before OpenJPEG sizes its buffers from it (JPEG 2000 and HTJ2K alike).
    for name in ["MR_small_jp2klossless", "MR_small_htj2k_lossless"] {
        let original = root.join(name);
        let file = std::fs::read_dir(&original).unwrap().next().unwrap().unwrap().path();
        let mut bytes = std::fs::read(&file).unwrap();
        let at = bytes.windows(4).position(|w| w == [0xFF, 0x4F, 0xFF, 0x51]).unwrap();
        bytes[at + 8..at + 12].copy_from_slice(&60_000u32.to_be_bytes());
        let hostile = temp_dir(&format!("{name}_siz"));
        std::fs::create_dir_all(&hostile).unwrap();
        std::fs::write(hostile.join("x.dcm"), &bytes).unwrap();
        let err = load_only(&hostile, Policy::Strict).unwrap_err();
        assert!(
            err.to_string().contains("SIZ") || err.to_string().contains("JPEG 2000 fragment"),
            "{name}: {err}"
        );
    }
    // JPEG-LS decodes through CharLS (C++, built from source by charls-sys): lossless equals the
    // reference; near-lossless (error bound 3, written by tests/fixtures/generate_jpeg_ls.py) is
    // within 3 of it and not equal.
    let jls = load("MR_small_jpeg_ls_lossless").unwrap().volume;
    assert_eq!(jls.data(), reference.data());
    let near = load("MR_small_jpeg_ls_near").unwrap().volume;
    let worst = near
        .data()
        .iter()
        .zip(reference.data())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(worst > 0.0 && worst <= 3.0, "near-lossless JPEG-LS off by {worst}");
    // A JPEG-LS frame header (SOF55) claiming another image size is refused before CharLS
    // sizes its output from it.
    let original = root.join("MR_small_jpeg_ls_lossless");
    let file = std::fs::read_dir(&original).unwrap().next().unwrap().unwrap().path();
    let mut bytes = std::fs::read(&file).unwrap();
    let soi = bytes.windows(2).position(|w| w == [0xFF, 0xD8]).unwrap();
    let at = soi + bytes[soi..].windows(2).position(|w| w == [0xFF, 0xF7]).unwrap();
    bytes[at + 5..at + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]); // 60000 × 60000
    let hostile = temp_dir("jls_sof");
    std::fs::create_dir_all(&hostile).unwrap();
    std::fs::write(hostile.join("x.dcm"), &bytes).unwrap();
    let err = load_only(&hostile, Policy::Strict).unwrap_err();
    assert!(
        err.to_string().contains("SOF55") || err.to_string().contains("60000×60000"),
        "{err}"
    );
    // Truncated pixel data: a typed error, no panic.
    let err = load("MR_truncated").unwrap_err();
    assert!(matches!(err, Error::Dicom { .. }), "{err}");
    // An RT structure set (this one also lacks a file meta group) is not an image: skipped with
    // a reason, not an error.
    let found = scan(root.join("rtstruct")).unwrap();
    assert!(found.series.is_empty());
    assert_eq!(found.skipped.len(), 1);
    assert!(!found.skipped[0].reason.is_empty());
}

#[test]
fn enhanced_multi_frame_images_load_from_their_functional_groups() {
    // tests/fixtures/generate_dicom.py: 4 frames stored out of position order, orientation,
    // spacing and rescale in the shared groups, positions per frame.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dicom/multiframe");
    let found = scan(&dir).unwrap();
    assert_eq!(found.series.len(), 1);
    assert_eq!(found.series[0].slices, 4);
    let loaded = load_series(&found.series[0], Policy::Strict).unwrap();
    let g: Vec<f64> = common::fixture::<f64>("dicom/multiframe_geometry.npy")
        .iter()
        .copied()
        .collect();
    let expected = Grid {
        origin: [g[0], g[1], g[2]],
        spacing: [g[3], g[4], g[5]],
        direction: [[g[6], g[7], g[8]], [g[9], g[10], g[11]], [g[12], g[13], g[14]]],
    };
    assert_grids_close(loaded.volume.grid(), &expected);
    let values = common::fixture::<f64>("dicom/multiframe_values.npy");
    assert_eq!(values.shape(), loaded.volume.shape().as_slice());
    for (a, b) in loaded.volume.data().iter().zip(values.iter()) {
        assert_eq!(f64::from(*a), *b);
    }
}

#[test]
fn inputs_the_fuzzer_found_give_errors_not_panics() {
    // tests/fixtures/fuzz/: inputs on which `fuzz/fuzz_targets/dicom_file.rs` once crashed (a
    // panic inside dicom-rs's RLE decoder); each must now load or fail with a typed error.
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let input = entry.unwrap().path();
        let dir = temp_dir(&format!("fuzz_{checked}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&input, dir.join("input.dcm")).unwrap();
        let found = scan(&dir).unwrap();
        for series in &found.series {
            if let Err(e) = load_series(series, Policy::Lenient) {
                assert!(
                    matches!(e, Error::Dicom { .. } | Error::Series { .. }),
                    "{}: {e}",
                    input.display()
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 0, "no fuzz regression inputs found");
    // Zeros in the file meta group decode as UN elements with 32-bit lengths; a walk that read
    // them as short headers lost alignment and let a 1 GB element through (fuzzer, 13 s).
    let dir = temp_dir("fuzz_meta_un");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixtures.join("meta_unknown_vr_1gb.dcm"), dir.join("input.dcm")).unwrap();
    let found = scan(&dir).unwrap();
    assert!(found.series.is_empty());
    assert!(
        found.skipped[0].reason.contains("refused before allocating"),
        "{}",
        found.skipped[0].reason
    );
    // This one declares 4 294 967 041 RLE segments: refused before dicom-rs allocates 16 GB.
    let dir = temp_dir("fuzz_rle_count");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixtures.join("rle_segment_count_16gb.dcm"), dir.join("input.dcm")).unwrap();
    let found = scan(&dir).unwrap();
    let err = load_series(&found.series[0], Policy::Lenient).unwrap_err();
    assert!(
        err.to_string().contains("segments; the standard allows at most 15"),
        "{err}"
    );
}

#[test]
fn headers_that_claim_absurd_sizes_are_refused_before_allocating() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let dir = temp_dir("absurd");
    let ct = ct_volume([2, 8, 8], axial_grid());
    let files = write_series(&ct, &dir, &WriteOptions::default()).unwrap();
    for f in &files {
        let mut obj = dicom_object::open_file(f).unwrap();
        obj.put(DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(60000u16)));
        obj.put(DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(60000u16)));
        obj.write_to_file(f).unwrap();
    }
    let err = load_only(&dir, Policy::Lenient).unwrap_err();
    assert!(err.to_string().contains("hostile"), "{err}");
}

#[test]
fn elements_declaring_more_bytes_than_the_file_holds_are_refused_before_allocating() {
    // dicom-rs zero-fills a value's declared length before reading it: without the check a
    // few-kilobyte file declaring gigabytes costs gigabytes (found by the fuzzer).
    let source =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dicom/transfer_syntax/MR_small/MR_small.dcm");
    let bytes = std::fs::read(&source).unwrap();
    let huge = 0xF000_0000u32.to_le_bytes();
    // Native pixel data: (7FE0,0010) OW, two reserved bytes, then the 32-bit length.
    let pixel_tag = [0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0];
    let at = bytes
        .windows(8)
        .position(|w| w == pixel_tag)
        .expect("pixel data header")
        + 8;
    let mut pixel = bytes.clone();
    pixel[at..at + 4].copy_from_slice(&huge);
    // A file meta element: (0002,0001) OB, the version, right after the group length.
    let meta_tag = [0x02, 0x00, 0x01, 0x00, b'O', b'B', 0, 0];
    let at = bytes
        .windows(8)
        .position(|w| w == meta_tag)
        .expect("meta version header")
        + 8;
    let mut meta = bytes.clone();
    meta[at..at + 4].copy_from_slice(&huge);
    for (name, data) in [("pixel", pixel), ("meta", meta)] {
        let dir = temp_dir(&format!("declared_{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("slice.dcm"), data).unwrap();
        let found = scan(&dir).unwrap();
        // A header read stops before the pixel data, so a corrupt pixel length surfaces when
        // the pixels load; a corrupt meta group already at the scan.
        let reason = if name == "pixel" {
            load_series(&found.series[0], Policy::Lenient).unwrap_err().to_string()
        } else {
            assert!(found.series.is_empty(), "{name}: a corrupt file became a series");
            found.skipped[0].reason.clone()
        };
        assert!(reason.contains("declares 4026531840 bytes"), "{name}: {reason}");
    }
}

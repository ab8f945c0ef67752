//! Smoke tests of the example programs, run as a user runs them, on a small CT study written
//! by the library: `info`, `filter`, `mip` and `reconstruct` must exit cleanly and write what
//! they say, and `filter`'s series must equal the library's own result; bad input must end in
//! an error message and exit status 1, not a panic.
//!
//! `cargo test` builds the examples beside the test binaries (`target/<profile>/examples/`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hounsfield::filter::{Filter, Median};
use hounsfield::io::dicom::{Policy, WriteOptions, load_series, scan, write_series};
use hounsfield::{Backend, Grid, Volume};
use ndarray::Array3;

fn example(name: &str) -> PathBuf {
    // target/<profile>/deps/examples-HASH → target/<profile>/examples/NAME
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap().join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the whole `cargo test --release` (it builds the examples), or `cargo build --release --examples` first",
        path.display()
    );
    path
}

fn run(name: &str, args: &[&str], backend: &str) -> Output {
    let output = Command::new(example(name))
        .args(args)
        .env("HOUNSFIELD_BACKEND", backend)
        .output()
        .unwrap();
    eprintln!(
        "--- {name} {args:?}\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout_of(name: &str, args: &[&str], backend: &str) -> String {
    let output = run(name, args, backend);
    assert!(
        output.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hounsfield_examples_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A small CT study in HU: air, a water cylinder with a bone rod, 12 slices of 2.5 mm.
fn write_study(dir: &Path) -> Volume {
    let (nz, ny, nx) = (12, 40, 36);
    let data = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
        let (u, v) = (x as f32 - 17.5, y as f32 - 19.5);
        let r = u.hypot(v);
        let noise = ((x * 7 + y * 13 + z * 29) % 17) as f32 * 3.0;
        if r < 4.0 {
            800.0 + noise
        } else if r < 15.0 {
            noise
        } else {
            -1000.0
        }
    });
    let grid = Grid::with_spacing([2.5, 0.9, 0.9]).unwrap();
    let volume = Volume::new(data, grid).unwrap();
    write_series(&volume, dir, &WriteOptions::default()).unwrap();
    volume
}

fn png_size(path: &Path) -> (u32, u32) {
    image::image_dimensions(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn info_lists_the_study_with_its_geometry() {
    let dir = temp_dir("info");
    write_study(&dir);
    let out = stdout_of("info", &[dir.to_str().unwrap(), "--load"], "cpu");
    assert!(out.contains("1 series"), "{out}");
    assert!(out.contains("12 slices of 40×36"), "{out}");
    assert!(out.contains("volume [12, 40, 36]"), "{out}");
}

#[test]
fn filter_writes_the_library_result_as_a_new_series() {
    let dir = temp_dir("filter_in");
    let out_dir = temp_dir("filter_out");
    write_study(&dir);
    // The program's input as the library reads it, filtered by the library.
    let input = load_series(&scan(&dir).unwrap().series[0], Policy::Strict)
        .unwrap()
        .volume;
    let expected = Median::new(&[1]).apply_volume(&Backend::Cpu, &input).unwrap();
    stdout_of(
        "filter",
        &[
            dir.to_str().unwrap(),
            out_dir.to_str().unwrap(),
            "--steps",
            "median:1",
            "--backend",
            "cpu",
        ],
        "cpu",
    );
    let found = scan(out_dir.join("series")).unwrap();
    assert_eq!(found.series.len(), 1);
    let written = load_series(&found.series[0], Policy::Strict).unwrap().volume;
    assert_eq!(written.shape(), input.shape());
    assert_eq!(written.grid().origin, input.grid().origin);
    let (lo, hi) = expected
        .data()
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let step = (hi - lo) / 65535.0;
    let worst = written
        .data()
        .iter()
        .zip(expected.data())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= step,
        "written series differs from the library's median by {worst} HU (step {step})"
    );
    assert_eq!(png_size(&out_dir.join("after.png")), (36, 40));
    // The program never writes into an existing series folder.
    let again = run(
        "filter",
        &[
            dir.to_str().unwrap(),
            out_dir.to_str().unwrap(),
            "--steps",
            "median:1",
            "--backend",
            "cpu",
        ],
        "cpu",
    );
    assert_eq!(
        again.status.code(),
        Some(1),
        "rewriting over an existing series must fail cleanly"
    );
}

#[test]
fn filter_on_the_gpu_agrees_with_the_cpu() {
    let Some(_) = common::gpu() else { return };
    let dir = temp_dir("filter_gpu_in");
    let out_dir = temp_dir("filter_gpu_out");
    write_study(&dir);
    let out = stdout_of(
        "filter",
        &[
            dir.to_str().unwrap(),
            out_dir.to_str().unwrap(),
            "--steps",
            "median:1 gaussian:1.0",
            "--backend",
            "gpu",
            "--compare",
        ],
        "gpu",
    );
    let diff: f64 = out
        .split("largest GPU/CPU difference ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no GPU/CPU difference reported: {out}"));
    assert!(diff < 1e-2, "GPU and CPU differ by {diff} HU");
}

#[test]
fn gpu_probe_times_every_piece() {
    let Some(_) = common::gpu() else { return };
    let out = stdout_of("gpu_probe", &["--shape", "4", "24", "20", "--runs", "1"], "gpu");
    // One table row per piece, each with a wall time in ms.
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains(" ms ("))
        .collect();
    assert_eq!(rows.len(), 12, "{out}");
    for piece in [
        "upload",
        "download",
        "stream kernel, 20 per submission",
        "gaussian σ 2: apply_gpu_timed",
    ] {
        assert!(rows.iter().any(|r| r.contains(piece)), "no row for {piece}: {out}");
    }
}

#[test]
fn mip_writes_three_views_with_square_pixels() {
    let dir = temp_dir("mip_in");
    let out_dir = temp_dir("mip_out");
    write_study(&dir);
    stdout_of(
        "mip",
        &[dir.to_str().unwrap(), out_dir.to_str().unwrap(), "--window", "bone"],
        "cpu",
    );
    assert_eq!(png_size(&out_dir.join("mip_axial.png")), (36, 40));
    // 12 slices of 2.5 mm shown with 0.9 mm pixels: 33 rows.
    assert_eq!(png_size(&out_dir.join("mip_coronal.png")), (36, 33));
    assert_eq!(png_size(&out_dir.join("mip_sagittal.png")), (40, 33));
}

#[test]
fn reconstruct_simulates_and_reconstructs_the_study() {
    let dir = temp_dir("recon_in");
    let out_dir = temp_dir("recon_out");
    write_study(&dir);
    for detector in ["flat", "cylindrical", "helical"] {
        let out_dir = out_dir.join(detector);
        let mut args = vec![
            dir.to_str().unwrap(),
            out_dir.to_str().unwrap(),
            "--views",
            "90",
            "--downsample",
            "1",
            "--detector",
            if detector == "flat" { "flat" } else { "cylindrical" },
        ];
        // A helix at pitch 1 over a detector a quarter of the volume's length, reconstructed by
        // the helical FDK.
        if detector == "helical" {
            args.extend(["--helical", "1.0"]);
        }
        // The cylindrical run also simulates a (generous) dose: Poisson and electronic noise.
        if detector == "cylindrical" {
            args.extend(["--photons", "1e6", "--electronic-noise", "3"]);
        }
        let out = stdout_of("reconstruct", &args, "cpu");
        assert!(
            out.contains(if detector == "flat" { "(Flat" } else { "(Cylindrical" }),
            "{out}"
        );
        assert_eq!(out.contains("helical FDK"), detector == "helical", "{out}");
        assert_eq!(out.contains("noise: Poisson"), detector == "cylindrical", "{out}");
        let mae: f64 = out
            .split("mean absolute error ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no error reported: {out}"));
        // Sharp water/bone/air edges on a 0.9 mm grid from 90 exact views: about 60 HU (a wrong
        // scale or geometry gives hundreds; the values span 1800 HU).
        assert!(mae < 100.0, "{detector}: mean absolute error {mae} HU");
        let found = scan(out_dir.join("series")).unwrap();
        assert_eq!(found.series[0].slices, 12);
    }
}

#[test]
fn bad_input_ends_in_an_error_message_not_a_panic() {
    let empty = temp_dir("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for (name, args) in [
        ("info", vec![empty.to_str().unwrap()]),
        ("mip", vec![empty.to_str().unwrap(), "/tmp/unused_mip"]),
        ("filter", vec![empty.to_str().unwrap(), "/tmp/unused_filter"]),
    ] {
        let output = run(name, &args, "cpu");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains("error:"), "{name}: {stderr}");
    }
    let dir = temp_dir("bad_steps");
    write_study(&dir);
    let output = run(
        "filter",
        &[dir.to_str().unwrap(), "/tmp/unused_steps", "--steps", "median:1.5"],
        "cpu",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("whole number"), "{stderr}");
}

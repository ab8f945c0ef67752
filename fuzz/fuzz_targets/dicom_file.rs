//! The file-to-slice path of the DICOM reader on arbitrary bytes: scan a folder holding one
//! file, then assemble whatever series it found; and the DICOM-CT-PD projection reader on the
//! same file, with its geometry. Any outcome but a panic (or an unbounded
//! allocation, caught by libFuzzer's memory limit) is fine: errors must be typed.
//! `cargo +nightly fuzz run dicom_file fuzz/corpus/dicom_file` (see fuzz/README.md).
#![no_main]

use hounsfield::io::dicom::{Policy, load_projection_data, load_series, scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on any panic, even one the library catches and turns into an error
    // (it guards dicom-rs's decoders); a quiet hook leaves only panics that escape hounsfield,
    // which the fuzz_target wrapper still reports.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let dir = std::env::temp_dir().join(format!("hounsfield_fuzz_{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("input.dcm");
    if std::fs::write(&file, data).is_err() {
        return;
    }
    if let Ok(found) = scan(&dir) {
        for series in &found.series {
            let _ = load_series(series, Policy::Lenient);
        }
    }
    if let Ok(projections) = load_projection_data(&file) {
        let _ = projections.geometry();
        let _ = projections.focal_centre_geometry();
    }
});

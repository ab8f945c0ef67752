//! The NIfTI reader on arbitrary bytes, as `.nii` and as `.nii.gz`: any outcome but a panic
//! (or an unbounded allocation, caught by libFuzzer's memory limit) is fine.
//! `cargo +nightly fuzz run nifti_file fuzz/corpus/nifti_file` (see fuzz/README.md).
#![no_main]

use hounsfield::io::nifti::read_nifti;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // libfuzzer-sys aborts on any panic, even one read_nifti catches and reports (it guards
    // the nifti crate); a quiet hook leaves only panics that escape hounsfield.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let dir = std::env::temp_dir().join(format!("hounsfield_fuzz_nifti_{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    for name in ["input.nii", "input.nii.gz"] {
        let file = dir.join(name);
        if std::fs::write(&file, data).is_ok() {
            let _ = read_nifti(&file);
        }
    }
});

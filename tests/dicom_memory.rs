//! Memory bounds, measured by a counting allocator (the peak heap above the baseline; its own
//! test binary, tests one at a time): a series loads holding the volume once (without the
//! decode-into-place design the peak would be two volumes or more), and hostile files cost
//! little.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use hounsfield::io::dicom::{Policy, WriteOptions, load_series, scan, write_series};
use hounsfield::{Grid, Volume};
use ndarray::Array3;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests of this binary measure the process's heap: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_series_loads_with_one_copy_of_the_volume_in_memory() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("hounsfield_dicom_memory_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let shape = (120, 256, 256);
    {
        let data = Array3::from_shape_fn(shape, |(z, y, x)| ((x * 3 + y * 5 + z * 7) % 2000) as f32 - 1000.0);
        let volume = Volume::new(data, Grid::with_spacing([1.0, 0.7, 0.7]).unwrap()).unwrap();
        write_series(&volume, &dir, &WriteOptions::default()).unwrap();
    }
    let found = scan(&dir).unwrap();
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let loaded = load_series(&found.series[0], Policy::Strict).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    let volume_bytes = loaded.volume.data().len() * 4;
    assert_eq!(loaded.volume.shape(), [120, 256, 256]);
    // The volume, plus a few decoded slices in flight per thread.
    let in_flight = rayon::current_num_threads() * 4 * 256 * 256 * 8;
    eprintln!(
        "peak {:.1} MiB above baseline for a {:.1} MiB volume",
        peak as f64 / 1048576.0,
        volume_bytes as f64 / 1048576.0
    );
    assert!(
        peak <= volume_bytes + volume_bytes / 10 + in_flight,
        "loading took {peak} bytes at peak for a {volume_bytes}-byte volume"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_files_the_fuzzer_found_cost_little_memory() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // tests/fixtures/fuzz: files of a few kilobytes that once made dicom-rs allocate gigabytes
    // (declared lengths, RLE segment counts, misaligned meta groups, data after the pixels).
    let fixtures = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut checked = 0;
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let input = entry.unwrap().path();
        let dir = std::env::temp_dir().join(format!("hounsfield_fuzz_memory_{}_{checked}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&input, dir.join("input.dcm")).unwrap();
        let baseline = CURRENT.load(Ordering::Relaxed);
        PEAK.store(baseline, Ordering::Relaxed);
        if let Ok(found) = scan(&dir) {
            for series in &found.series {
                let _ = load_series(series, Policy::Lenient);
            }
        }
        let peak = PEAK.load(Ordering::Relaxed) - baseline;
        assert!(peak < 64 << 20, "{}: {} MiB at peak", input.display(), peak >> 20);
        let _ = std::fs::remove_dir_all(&dir);
        checked += 1;
    }
    assert!(checked >= 5, "fuzz regression inputs missing");
}

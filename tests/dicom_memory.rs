//! Loading a series holds the volume once: a counting allocator measures the peak heap above
//! the baseline while a series loads (its own test binary, so no other test allocates
//! meanwhile). Without the decode-into-place design the peak would be two volumes or more.

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

#[test]
fn a_series_loads_with_one_copy_of_the_volume_in_memory() {
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

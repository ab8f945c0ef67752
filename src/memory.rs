//! Large host buffers for kernel outputs.

/// A zero-filled `Vec<f32>` of `len` elements.
///
/// Fresh zeroed allocations come straight from the OS and are faulted in page by page on first
/// write; for a 256 MiB volume that is 65,536 faults of 4 KiB and can cost as much as a whole
/// filter pass. On Linux we ask for transparent huge pages (as numpy does for large arrays), so
/// the same volume takes 128 faults of 2 MiB. Purely a hint: without THP nothing changes.
pub(crate) fn zeroed_f32(len: usize) -> Vec<f32> {
    let v = vec![0.0f32; len];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&v);
    v
}

/// A zero-filled `Vec<u32>` of `len` elements, backed by huge pages where possible (see
/// [`zeroed_f32`]).
pub(crate) fn zeroed_u32(len: usize) -> Vec<u32> {
    let v = vec![0u32; len];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&v);
    v
}

/// A zero-filled `Vec<f64>` of `len` elements, backed by huge pages where possible.
pub(crate) fn zeroed_f64(len: usize) -> Vec<f64> {
    let v = vec![0.0f64; len];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&v);
    v
}

/// Asks for huge pages behind a vector's whole capacity, before it is filled (see
/// [`zeroed_f32`]): for structures read at random, such as a heap of millions of items, 4 KiB
/// pages would cost a TLB miss on almost every access.
pub(crate) fn advise_huge_capacity<T>(v: &mut Vec<T>) {
    #[cfg(target_os = "linux")]
    advise_huge_range(v.as_ptr() as usize, v.capacity() * std::mem::size_of::<T>());
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

#[cfg(target_os = "linux")]
fn advise_huge_pages<T>(v: &[T]) {
    advise_huge_range(v.as_ptr() as usize, std::mem::size_of_val(v));
}

#[cfg(target_os = "linux")]
fn advise_huge_range(start: usize, bytes: usize) {
    const HUGE: usize = 2 << 20;
    if bytes < 4 * HUGE {
        return;
    }
    let aligned = start.next_multiple_of(HUGE);
    let end = (start + bytes) / HUGE * HUGE;
    if end > aligned {
        // SAFETY: the range lies inside one allocation (the caller's); MADV_HUGEPAGE only
        // changes how the kernel backs those pages, never their contents, and failure is
        // harmless.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, end - aligned, libc::MADV_HUGEPAGE);
        }
    }
}

/// Asks the CPU to bring the cache line of `address` in (a hint: any address will do, since a
/// prefetch reads nothing and never faults; nothing on other architectures). Streaming loops
/// whose other work fills the store buffer or leaves memory idle between passes use it to keep
/// enough lines in flight.
#[inline(always)]
pub(crate) fn prefetch<T>(address: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86-64; a prefetch reads nothing and never faults.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

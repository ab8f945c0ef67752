//! Backend selection through HOUNSFIELD_BACKEND. One test, so that changing the environment
//! cannot race with other tests of this binary.

mod common;

use hounsfield::{Backend, Error};

fn set(value: Option<&str>) {
    // SAFETY: this binary has a single test, so no other thread reads the environment meanwhile.
    unsafe {
        match value {
            Some(v) => std::env::set_var("HOUNSFIELD_BACKEND", v),
            None => std::env::remove_var("HOUNSFIELD_BACKEND"),
        }
    }
}

#[test]
fn backend_selection_honours_the_environment() {
    let gpu_available = common::gpu().is_some();

    set(Some("cpu"));
    let s = Backend::select().unwrap();
    assert!(matches!(s.backend, Backend::Cpu));
    assert!(s.reason.contains("HOUNSFIELD_BACKEND=cpu"), "{}", s.reason);
    assert!(s.backend.to_string().starts_with("CPU"));

    set(Some("banana"));
    let err = Backend::select().unwrap_err();
    assert!(
        matches!(err, Error::Environment { .. }) && err.to_string().contains("cpu, gpu or auto"),
        "{err}"
    );

    set(Some("GPU"));
    match Backend::select() {
        Ok(s) => {
            assert!(gpu_available);
            assert!(matches!(s.backend, Backend::Gpu(_)));
            assert!(s.backend.to_string().starts_with("GPU: "));
        }
        Err(e) => {
            assert!(!gpu_available, "GPU forced and available, yet: {e}");
            assert!(
                matches!(e, Error::NoGpu(_)) && e.to_string().contains("HOUNSFIELD_BACKEND=gpu"),
                "{e}"
            );
        }
    }

    set(None);
    let s = Backend::select().unwrap();
    assert_eq!(
        matches!(s.backend, Backend::Gpu(_)),
        gpu_available,
        "auto: {}",
        s.reason
    );
    if !gpu_available {
        assert!(s.reason.contains("falling back to the CPU"), "{}", s.reason);
    }

    // A name that matches no adapter is an error naming the adapters found, not a panic.
    if gpu_available {
        // SAFETY: as above.
        unsafe { std::env::set_var("WGPU_ADAPTER_NAME", "no-such-adapter-xyz") };
        let err = Backend::gpu().unwrap_err();
        unsafe { std::env::remove_var("WGPU_ADAPTER_NAME") };
        assert!(err.to_string().contains("no-such-adapter-xyz"), "{err}");
    }
}

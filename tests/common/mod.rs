//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use hounsfield::gpu::{GpuContext, GpuOptions};
use ndarray::{ArrayD, ArrayViewD, Dimension};

/// Set to 1 (CI does) to make GPU tests fail instead of skip when no adapter exists.
pub const REQUIRE_GPU_ENV: &str = "HOUNSFIELD_REQUIRE_GPU";

/// The number of adapters that must give a device (CI sets it); unset: any number from one.
pub const EXPECT_ADAPTERS_ENV: &str = "HOUNSFIELD_EXPECT_ADAPTERS";

fn require_gpu() -> bool {
    std::env::var(REQUIRE_GPU_ENV).is_ok_and(|v| v == "1")
}

/// Each context with its adapter's position in `GpuContext::adapters()`.
type Contexts = Result<Vec<(usize, Arc<GpuContext>)>, String>;

/// One context per usable adapter (e.g. lavapipe on Vulkan and on GL), created once per binary.
/// An adapter that is listed but refuses to create a device (a driver's fault, not ours: the
/// first H200 machine's OpenGL/EGL adapter did) is left out with a notice on stderr; the tests
/// fail only when no adapter at all gives a context.
fn contexts(max_storage_binding: Option<u64>, slot: &'static OnceLock<Contexts>) -> Vec<(usize, Arc<GpuContext>)> {
    let contexts = slot.get_or_init(|| {
        let adapters = GpuContext::adapters();
        if adapters.is_empty() {
            // Reproduces the descriptive "no adapter" error.
            return Err(GpuContext::new().err().map(|e| e.to_string()).unwrap_or_default());
        }
        let mut opened = Vec::new();
        let mut refusals = Vec::new();
        for i in 0..adapters.len() {
            let context = GpuContext::with_options(GpuOptions {
                max_storage_binding,
                adapter: Some(i),
                ..GpuOptions::default()
            });
            match context {
                Ok(c) => opened.push((i, Arc::new(c))),
                Err(hounsfield::Error::NoGpu(why)) => refusals.push(why),
                Err(e) => return Err(e.to_string()),
            }
        }
        if opened.is_empty() {
            return Err(refusals.join("; "));
        }
        // CI names how many adapters its machine gives (lavapipe: Vulkan and GL), so that an
        // adapter that stops opening there fails the tests instead of being left out.
        if let Some(expected) = std::env::var(EXPECT_ADAPTERS_ENV)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            && opened.len() < expected
        {
            return Err(format!(
                "{EXPECT_ADAPTERS_ENV}={expected} but {} adapter(s) gave a device; refused: {}",
                opened.len(),
                refusals.join("; ")
            ));
        }
        if !refusals.is_empty() {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: GPU tests in this binary skip adapters that refused a device: {}",
                refusals.join("; ")
            );
        }
        Ok(opened)
    });
    match contexts {
        Ok(list) => list.clone(),
        Err(e) if require_gpu() => panic!("{REQUIRE_GPU_ENV}=1 but no GPU context: {e}"),
        Err(e) => {
            // Written to the real stderr (not eprintln!, which the test harness captures) so the
            // skip is visible in a normal `cargo test` run; once per test binary.
            static NOTICE: OnceLock<()> = OnceLock::new();
            NOTICE.get_or_init(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "NOTICE: GPU tests in this binary are SKIPPED: no usable adapter ({e}). \
                     Set {REQUIRE_GPU_ENV}=1 to make them fail instead."
                );
            });
            Vec::new()
        }
    }
}

/// A context on every usable adapter; empty (with a notice) when there is no GPU and
/// `HOUNSFIELD_REQUIRE_GPU` is not 1.
pub fn gpus() -> Vec<Arc<GpuContext>> {
    default_contexts().into_iter().map(|(_, c)| c).collect()
}

fn default_contexts() -> Vec<(usize, Arc<GpuContext>)> {
    static CTX: OnceLock<Contexts> = OnceLock::new();
    contexts(None, &CTX)
}

/// The positions in `GpuContext::adapters()` of the adapters behind [`gpus`], for tests that
/// make contexts of their own (other options) on every usable adapter.
pub fn gpu_adapters() -> Vec<usize> {
    default_contexts().into_iter().map(|(i, _)| i).collect()
}

/// The best adapter's context, or `None` as for [`gpus`].
pub fn gpu() -> Option<Arc<GpuContext>> {
    gpus().into_iter().next()
}

/// Contexts whose storage bindings are capped at 64 KiB, so that small volumes are processed
/// in many slabs (tests the tiling path on any adapter).
pub fn gpus_small_bindings() -> Vec<Arc<GpuContext>> {
    static CTX: OnceLock<Contexts> = OnceLock::new();
    contexts(Some(64 * 1024), &CTX).into_iter().map(|(_, c)| c).collect()
}

/// The CPU backend, and a GPU backend on every usable adapter (see [`gpus`]).
pub fn backends() -> Vec<hounsfield::Backend> {
    let mut b = vec![hounsfield::Backend::Cpu];
    b.extend(gpus().into_iter().map(hounsfield::Backend::Gpu));
    b
}

/// Reads `tests/fixtures/<rel>` as an `.npy` array.
pub fn fixture<T: ndarray_npy::ReadableElement>(rel: &str) -> ndarray::ArrayD<T> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    ndarray_npy::read_npy(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// scipy's name of a boundary mode (the fixtures' file names).
pub fn mode_name(mode: hounsfield::BoundaryMode) -> &'static str {
    use hounsfield::BoundaryMode::*;
    match mode {
        Reflect => "reflect",
        Mirror => "mirror",
        Nearest => "nearest",
        Constant(_) => "constant",
        Wrap => "wrap",
    }
}

/// Every boundary mode; `Constant` with the fixtures' cval 1.5.
pub const ALL_MODES: [hounsfield::BoundaryMode; 5] = [
    hounsfield::BoundaryMode::Reflect,
    hounsfield::BoundaryMode::Mirror,
    hounsfield::BoundaryMode::Nearest,
    hounsfield::BoundaryMode::Constant(1.5),
    hounsfield::BoundaryMode::Wrap,
];

/// Asserts that `result` is an `InvalidParameter` error about the parameter `name`.
pub fn expect_param_error<T: std::fmt::Debug>(result: Result<T, hounsfield::Error>, name: &str) {
    match result {
        Err(hounsfield::Error::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
        other => panic!("expected an error about `{name}`, got {other:?}"),
    }
}

/// Asserts `|actual - expected| <= atol + rtol * |expected|` everywhere, naming the worst voxel.
pub fn assert_close(actual: ArrayViewD<'_, f32>, expected: ArrayViewD<'_, f64>, rtol: f64, atol: f64, what: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shapes differ");
    // (error, index) of the voxel that exceeds its tolerance the most; NaN counts as failure.
    let mut worst: Option<(f64, f64, Vec<usize>)> = None;
    for ((idx, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        let err = (a as f64 - e).abs();
        let allowed = atol + rtol * e.abs();
        let both_nan = a.is_nan() && e.is_nan();
        let within = err <= allowed; // false for NaN
        let bad = !within && !both_nan;
        if bad {
            let excess = if allowed > 0.0 { err / allowed } else { f64::INFINITY };
            if worst.as_ref().is_none_or(|w| excess > w.0 || excess.is_nan()) {
                worst = Some((excess, err, idx.slice().to_vec()));
            }
        }
    }
    if let Some((_, err, idx)) = worst {
        panic!("{what}: error {err:.3e} at {idx:?} exceeds atol {atol:e} + rtol {rtol:e}·|expected|");
    }
}

/// [`assert_close`] for two f32 arrays.
pub fn assert_close_f32(actual: ArrayViewD<'_, f32>, expected: ArrayViewD<'_, f32>, rtol: f64, atol: f64, what: &str) {
    let expected: ArrayD<f64> = expected.mapv(f64::from);
    assert_close(actual, expected.view(), rtol, atol, what);
}

/// Deterministic pseudo-random values in [0, 1) (the library's xorshift).
pub fn random_values(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = hounsfield::rng::XorShift64::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..n).map(|_| rng.next_f32()).collect()
}

/// A random `(z, y, x)` volume.
pub fn random_volume(shape: [usize; 3], seed: u64) -> ndarray::Array3<f32> {
    ndarray::Array3::from_shape_vec(shape, random_values(shape.iter().product(), seed)).unwrap()
}

/// The grid SimpleITK describes with `origin (3) + spacing (3, x y z) + direction (9, row-major,
/// columns = x, y, z axes)`, as the DICOM/NIfTI fixtures store it.
pub fn sitk_grid(g: &[f64]) -> hounsfield::Grid {
    let d = |i: usize, j: usize| g[6 + 3 * i + j];
    hounsfield::Grid {
        origin: [g[0], g[1], g[2]],
        spacing: [g[5], g[4], g[3]],
        direction: [
            [d(0, 2), d(1, 2), d(2, 2)],
            [d(0, 1), d(1, 1), d(2, 1)],
            [d(0, 0), d(1, 0), d(2, 0)],
        ],
    }
}

/// Largest difference relative to the largest magnitude of `expected`.
pub fn relative_error(actual: &ndarray::ArrayD<f32>, expected: &ndarray::ArrayD<f32>) -> f64 {
    assert_eq!(actual.shape(), expected.shape());
    let peak = expected.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    let worst = actual
        .iter()
        .zip(expected)
        .fold(0.0f64, |m, (&a, &e)| m.max((f64::from(a) - f64::from(e)).abs()));
    assert!(peak > 0.0, "the reference is all zeros");
    worst / peak
}

/// Every adapter with its default bindings, then with 64 KiB bindings (volume slabs, view
/// batches, chunked rows), labelled.
pub fn all_gpus() -> Vec<(Arc<GpuContext>, &'static str)> {
    let mut list: Vec<_> = gpus().into_iter().map(|c| (c, "default bindings")).collect();
    list.extend(gpus_small_bindings().into_iter().map(|c| (c, "64 KiB bindings")));
    list
}

//! `Pipeline::parse` on arbitrary text (the `--steps` of the example programs and
//! `hounsfield.pipeline`): a typed error or a pipeline, never a panic; a parsed pipeline then
//! runs on a tiny volume on the CPU.
//! `cargo +nightly fuzz run pipeline_text fuzz/corpus/pipeline_text` (see fuzz/README.md).
#![no_main]

use hounsfield::filter::{Filter, Pipeline};
use hounsfield::{Backend, Grid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let grid = Grid::default();
    // Every text is parsed; only those whose numbers stay below 1,000 and whose windowed
    // steps stay small are run. A parameter in the tens of thousands (diffusion iterations, a
    // radius) is computed as asked, which takes 10–20 s in this instrumented build and held the
    // target at ~2 executions per second; a median or bilateral window grows with the cube of
    // its radius, and with radii up to 1,000 the target still ran at 60–220 per second.
    let modest = text
        .split(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
        .all(|t| t.parse::<f64>().map_or(true, |v| v.abs() < 1_000.0))
        && work_per_voxel(text) <= 5_000.0;
    if let Ok(pipeline) = Pipeline::parse(text, &grid)
        && modest
    {
        let volume = ndarray::Array3::<f32>::from_elem((3, 4, 5), 1.0);
        let _ = pipeline.apply(&Backend::Cpu, volume.view());
    }
});

/// About how many samples each voxel's steps read (`keyword:number…` as `Pipeline::parse`
/// splits them): windowed steps read the cube of their window, diffusion ~30 per iteration.
fn work_per_voxel(text: &str) -> f64 {
    text.split_whitespace()
        .map(|step| {
            let mut parts = step.split(':');
            let keyword = parts.next().unwrap_or("");
            let first = parts
                .next()
                .and_then(|t| t.parse::<f64>().ok())
                .map_or(0.0, f64::abs);
            let window = |radius: f64| (2.0 * radius.ceil() + 1.0).powi(3);
            match keyword {
                "median" | "erosion" | "dilation" | "opening" | "closing" => window(first),
                // The domain window reaches 2.5 sigma (mm, at the default 1 mm spacing).
                "bilateral" => window(2.5 * first),
                "diffusion" | "curvature" => 30.0 * first,
                _ => 1.0,
            }
        })
        .sum()
}

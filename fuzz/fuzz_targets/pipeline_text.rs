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
    // Every text is parsed; only those whose numbers stay below 1,000 are run. A parameter in
    // the tens of thousands (diffusion iterations, a radius) is computed as asked, which takes
    // 10–20 s in this instrumented build and held the target at ~2 executions per second.
    let modest = text
        .split(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')))
        .all(|t| t.parse::<f64>().map_or(true, |v| v.abs() < 1_000.0));
    if let Ok(pipeline) = Pipeline::parse(text, &grid)
        && modest
    {
        let volume = ndarray::Array3::<f32>::from_elem((3, 4, 5), 1.0);
        let _ = pipeline.apply(&Backend::Cpu, volume.view());
    }
});

//! Loads a DICOM series, runs a pipeline of filters given on the command line (on the GPU when
//! there is one, else the CPU; `--backend` forces one), writes the result as a new DICOM series
//! (patient and study copied from the input) and PNG previews of the middle slice.
//! `--compare` also runs the CPU path and reports both timings and the largest difference.
//!
//! `cargo run --release --example filter -- IN_FOLDER OUT_FOLDER --steps "median:1 bilateral:0.8:40"`
//!
//! Steps as `Pipeline::parse` reads them (mm where the unit is a length): `gaussian:SIGMA_MM`,
//! `median:RADIUS`, `bilateral:DOMAIN_SIGMA_MM:RANGE_SIGMA`, `unsharp:SIGMA:AMOUNT`,
//! `diffusion:ITERATIONS:CONDUCTANCE`, `curvature:ITERATIONS:CONDUCTANCE`,
//! `opening|closing|erosion|dilation:RADIUS`, `clip:LO:HI`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use hounsfield::Backend;
use hounsfield::filter::{Filter, Pipeline, WindowPreset};
use hounsfield::io::dicom::{Policy, SeriesKind, WriteOptions, load_series, scan, write_series};
use hounsfield::io::{Window, save_png};
use ndarray::Axis;

#[derive(Parser, Debug)]
#[command(about = "Filter a DICOM series on the GPU (or CPU) and write a new series")]
struct Args {
    /// Folder holding the input series (scanned recursively).
    input: PathBuf,
    /// New folder for the output series and previews (must not exist or be empty).
    output: PathBuf,
    /// Which series of the folder (index as `info` lists them; largest first).
    #[arg(long, default_value_t = 0)]
    series: usize,
    /// The pipeline, steps separated by spaces (see the program's documentation).
    #[arg(long, default_value = "median:1 bilateral:0.8:40")]
    steps: String,
    /// auto (GPU if available), gpu or cpu.
    #[arg(long, default_value = "auto")]
    backend: String,
    /// Also run on the CPU and compare.
    #[arg(long)]
    compare: bool,
    /// Display window of the PNG previews: soft-tissue, lung, bone, brain.
    #[arg(long, default_value = "soft-tissue")]
    window: String,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let found = scan(&args.input)?;
    let info = found.series_at(args.series)?;
    let t = Instant::now();
    let loaded = load_series(info, Policy::Strict)?;
    let volume = loaded.volume;
    println!(
        "loaded {} '{}' {:?} in {:.0} ms",
        info.modality,
        info.description,
        volume.shape(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let pipeline = Pipeline::parse(&args.steps, volume.grid())?;
    let backend = match args.backend.as_str() {
        "auto" => Backend::auto()?,
        "cpu" => Backend::Cpu,
        "gpu" => Backend::Gpu(std::sync::Arc::new(hounsfield::gpu::GpuContext::new()?)),
        other => return Err(format!("--backend {other}: use auto, gpu or cpu").into()),
    };
    println!("pipeline {} on {backend}", pipeline.describe());
    let t = Instant::now();
    let result = pipeline.apply_volume(&backend, &volume)?;
    println!("filtered in {:.0} ms", t.elapsed().as_secs_f64() * 1e3);
    if args.compare && !matches!(backend, Backend::Cpu) {
        let t = Instant::now();
        let cpu = pipeline.apply_volume(&Backend::Cpu, &volume)?;
        let worst = cpu
            .data()
            .iter()
            .zip(result.data())
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        println!(
            "CPU: {:.0} ms; largest GPU/CPU difference {worst:.3e}",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let kind = match info.modality.as_str() {
        "CT" => SeriesKind::Ct,
        "MR" => SeriesKind::Mr,
        _ => SeriesKind::SecondaryCapture,
    };
    let files = write_series(
        &result,
        args.output.join("series"),
        &WriteOptions {
            description: format!("hounsfield {}", args.steps),
            derivation: Some(format!("hounsfield filter pipeline: {}", args.steps)),
            source: info.files().first().cloned(),
            kind,
            ..WriteOptions::default()
        },
    )?;
    let window = Window::from(args.window.parse::<WindowPreset>()?);
    let mid = volume.shape()[0] / 2;
    save_png(
        volume.data().index_axis(Axis(0), mid),
        window,
        args.output.join("before.png"),
    )?;
    save_png(
        result.data().index_axis(Axis(0), mid),
        window,
        args.output.join("after.png"),
    )?;
    println!(
        "wrote {} files to {} and before.png / after.png (slice {mid})",
        files.len(),
        args.output.join("series").display()
    );
    Ok(())
}

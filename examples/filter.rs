//! Loads a DICOM series, runs a pipeline of filters given on the command line (on the GPU when
//! there is one, else the CPU; `--backend` forces one), writes the result as a new DICOM series
//! (patient and study copied from the input) and PNG previews of the middle slice.
//! `--compare` also runs the CPU path and reports both timings and the largest difference.
//!
//! `cargo run --release --example filter -- IN_FOLDER OUT_FOLDER --steps "median:1 bilateral:0.8:40"`
//!
//! Steps (mm where the unit is a length): `gaussian:SIGMA_MM`, `median:RADIUS_VOXELS`,
//! `bilateral:DOMAIN_SIGMA_MM:RANGE_SIGMA`, `unsharp:RADIUS_VOXELS:AMOUNT`,
//! `diffusion:ITERATIONS:CONDUCTANCE` (ITK gradient anisotropic diffusion).

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use hounsfield::filter::{
    AnisotropicDiffusion, Bilateral, Filter, Gaussian, Median, Pipeline, UnsharpMask, WindowPreset,
};
use hounsfield::io::dicom::{Policy, SeriesKind, WriteOptions, load_series, scan, write_series};
use hounsfield::io::{Window, save_png};
use hounsfield::{Backend, Grid};
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

fn parse_steps(spec: &str, grid: &Grid) -> Result<Pipeline, Box<dyn std::error::Error>> {
    let mut pipeline = Pipeline::new();
    for step in spec.split_whitespace() {
        let mut parts = step.split(':');
        let name = parts.next().unwrap_or("");
        let nums: Vec<f64> = parts
            .map(|p| {
                p.parse::<f64>()
                    .map_err(|_| format!("step '{step}': '{p}' is not a number"))
            })
            .collect::<Result<_, _>>()?;
        let need = |n: usize| -> Result<(), String> {
            if nums.len() == n {
                Ok(())
            } else {
                Err(format!("step '{step}' needs {n} number(s) after '{name}:'"))
            }
        };
        pipeline = match name {
            "gaussian" => {
                need(1)?;
                pipeline.then(Gaussian::from_mm(&[nums[0]], grid)?)
            }
            "median" => {
                need(1)?;
                pipeline.then(Median::new(&[nums[0] as usize]))
            }
            "bilateral" => {
                need(2)?;
                pipeline.then(Bilateral::new(&[nums[0]], nums[1]).for_grid(grid))
            }
            "unsharp" => {
                need(2)?;
                pipeline.then(UnsharpMask::new(&[nums[0]], nums[1]))
            }
            "diffusion" => {
                need(2)?;
                pipeline.then(AnisotropicDiffusion::gradient(nums[0] as usize, nums[1]).for_grid(grid))
            }
            _ => {
                return Err(
                    format!("unknown step '{name}'; use gaussian, median, bilateral, unsharp or diffusion").into(),
                );
            }
        };
    }
    Ok(pipeline)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let found = scan(&args.input)?;
    let info = found.series.get(args.series).ok_or_else(|| {
        format!(
            "{} holds {} DICOM series; pick one with --series 0..{} (see the info example)",
            args.input.display(),
            found.series.len(),
            found.series.len().max(1) - 1
        )
    })?;
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
    let pipeline = parse_steps(&args.steps, volume.grid())?;
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
            source: info.files().first().cloned(),
            kind,
            ..WriteOptions::default()
        },
    )?;
    let preset: WindowPreset = args.window.parse()?;
    let (c, w) = preset.center_width();
    let window = Window::center_width(c as f32, w as f32)?;
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

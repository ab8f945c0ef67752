//! Maximum intensity projections of a DICOM series — axial, coronal and sagittal — to PNG, with
//! the aspect ratio from the voxel spacing (the projections are resampled to square pixels) and
//! the head up in coronal and sagittal views (patient z increases towards the head in LPS).
//!
//! `cargo run --release --example mip -- FOLDER OUT_FOLDER [--series N] [--window bone]`

use std::path::PathBuf;

use clap::Parser;
use hounsfield::Backend;
use hounsfield::filter::{ProjectionKind, WindowPreset, orthogonal_projections};
use hounsfield::io::dicom::{Policy, load_series, scan};
use hounsfield::io::{Window, save_png};

#[derive(Parser, Debug)]
#[command(about = "Axial, coronal and sagittal maximum intensity projections of a DICOM series")]
struct Args {
    /// Folder holding the series (scanned recursively).
    folder: PathBuf,
    /// Folder for the PNGs (created).
    out: PathBuf,
    /// Which series of the folder (largest first).
    #[arg(long, default_value_t = 0)]
    series: usize,
    /// Display window: soft-tissue, lung, bone, brain.
    #[arg(long, default_value = "bone")]
    window: String,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let found = scan(&args.folder)?;
    let info = found.series_at(args.series)?;
    let volume = load_series(info, Policy::Lenient)?.volume;
    let backend = Backend::auto()?;
    let window = Window::from(args.window.parse::<WindowPreset>()?);
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    for view in orthogonal_projections(&backend, &volume, ProjectionKind::Max)? {
        let path = args.out.join(format!("mip_{}.png", view.name));
        save_png(view.image.view(), window, &path)?;
        let (h, w) = view.image.dim();
        println!("{}: {h}×{w} pixels of {:.2} mm", path.display(), view.pixel_mm);
    }
    Ok(())
}

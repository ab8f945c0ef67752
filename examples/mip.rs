//! Maximum intensity projections of a DICOM series — axial, coronal and sagittal — to PNG, with
//! the aspect ratio from the voxel spacing (the projections are resampled to square pixels) and
//! the head up in coronal and sagittal views (patient z increases towards the head in LPS).
//!
//! `cargo run --release --example mip -- FOLDER OUT_FOLDER [--series N] [--window bone]`

use std::path::PathBuf;

use clap::Parser;
use hounsfield::Backend;
use hounsfield::filter::{Filter, Projection, Resample, WindowPreset};
use hounsfield::io::dicom::{Policy, load_series, scan};
use hounsfield::io::{Window, save_png};
use ndarray::{Array2, Axis};

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
    let info = found
        .series
        .get(args.series)
        .ok_or_else(|| format!("{} holds {} DICOM series", args.folder.display(), found.series.len()))?;
    let volume = load_series(info, Policy::Lenient)?.volume;
    let backend = Backend::auto()?;
    let (c, w) = args.window.parse::<WindowPreset>()?.center_width();
    let window = Window::center_width(c as f32, w as f32)?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let [sz, sy, sx] = volume.grid().spacing;
    for (name, axis) in [("axial", 0), ("coronal", 1), ("sagittal", 2)] {
        let mip = Projection::max(axis).apply(&backend, volume.data())?;
        // The 2D image (rows, columns) and the spacing of each.
        let (image, rows_mm, cols_mm): (Array2<f32>, f64, f64) = match axis {
            0 => (mip.index_axis_move(Axis(0), 0), sy, sx),
            1 => (flip_rows(mip.index_axis_move(Axis(1), 0)), sz, sx),
            _ => (flip_rows(mip.index_axis_move(Axis(2), 0)), sz, sy),
        };
        // Square pixels of the finer spacing.
        let fine = rows_mm.min(cols_mm);
        let (h, w) = image.dim();
        let shape = [
            ((h as f64 * rows_mm / fine).round() as usize).max(1),
            ((w as f64 * cols_mm / fine).round() as usize).max(1),
        ];
        let square = Resample::to_shape(&shape).apply(&backend, image.view())?;
        let path = args.out.join(format!("mip_{name}.png"));
        save_png(square.view(), window, &path)?;
        println!("{}: {}×{} pixels of {fine:.2} mm", path.display(), shape[0], shape[1]);
    }
    Ok(())
}

/// Rows reversed: slice z grows towards the head, images are drawn top-down.
fn flip_rows(image: Array2<f32>) -> Array2<f32> {
    image.slice(ndarray::s![..;-1, ..]).to_owned()
}

//! Lists the DICOM series in a folder (recursively) with a geometry summary and warnings, and
//! the files that are not part of any series with the reason:
//! `cargo run --release --example info -- FOLDER [--load]` (`--load` also assembles each series
//! and reports what assembly noticed).

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use hounsfield::io::dicom::{Policy, load_series, scan};

#[derive(Parser, Debug)]
#[command(about = "List the DICOM series in a folder")]
struct Args {
    /// Folder to scan (recursively).
    folder: PathBuf,
    /// Also load every series (strict, then lenient on failure) and report the result.
    #[arg(long)]
    load: bool,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let t = Instant::now();
    let found = scan(&args.folder)?;
    println!(
        "{}: {} series, {} other files ({:.0} ms)",
        args.folder.display(),
        found.series.len(),
        found.skipped.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    if found.series.is_empty() {
        return Err(format!("no DICOM image series in {}", args.folder.display()).into());
    }
    for (i, s) in found.series.iter().enumerate() {
        println!(
            "[{i}] {} '{}' {} slices of {}×{}, pixels {:.3}×{:.3} mm, slices {} — {}",
            s.modality,
            s.description,
            s.slices,
            s.rows,
            s.cols,
            s.pixel_spacing[0],
            s.pixel_spacing[1],
            s.slice_spacing()
                .map_or("single".to_string(), |d| format!("{d:.3} mm apart")),
            s.uid
        );
        for w in &s.warnings {
            println!("    warning: {w}");
        }
        if args.load {
            let loaded = load_series(s, Policy::Strict).or_else(|e| {
                println!("    strict load failed: {e}; trying lenient");
                load_series(s, Policy::Lenient)
            })?;
            let g = loaded.volume.grid();
            println!(
                "    volume {:?}, spacing {:?} mm, origin {:?}, direction {:?}",
                loaded.volume.shape(),
                g.spacing,
                g.origin,
                g.direction
            );
            for w in &loaded.warnings {
                println!("    note: {w}");
            }
        }
    }
    for s in &found.skipped {
        println!("skipped {}: {}", s.path.display(), s.reason);
    }
    Ok(())
}

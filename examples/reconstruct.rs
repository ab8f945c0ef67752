//! Simulates a CT acquisition from a CT series and reconstructs it: HU → linear attenuation
//! (water 0.0192 /mm, about 70 keV), exact-geometry Joseph projections on a circular cone or fan
//! beam (optional Poisson and electronic noise for a given photon count), FDK on the GPU and the CPU, the
//! error against the input in HU inside the field of view, and the result as a new DICOM series
//! with a PNG preview.
//!
//! `cargo run --release --example reconstruct -- FOLDER OUT [--views 360] [--photons 1e5]
//! [--electronic-noise 5] [--detector cylindrical] [--helical 1.0]`
//!
//! With `--helical PITCH` the detector covers a quarter of the volume's length and a helix of
//! that pitch (table feed per turn over the collimation at the isocentre) scans it, `--views`
//! per turn; the reconstruction is then the helical FDK.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use hounsfield::filter::{Filter, Resample};
use hounsfield::gpu::GpuVolume;
use hounsfield::io::dicom::{Policy, WriteOptions, load_series, scan, write_series};
use hounsfield::io::{Window, save_png};
use hounsfield::recon::{Fdk, Geometry, HelicalFdk, Joseph, NoiseModel, Projector, centred_grid};
use hounsfield::{Backend, Volume};
use ndarray::Axis;

/// Linear attenuation of water at about 70 keV, per mm (NIST XCOM: 0.193 cm²/g at 70 keV).
const MU_WATER: f32 = 0.0193;

#[derive(Parser, Debug)]
#[command(about = "Simulate a cone-beam CT scan of a CT series and reconstruct it with FDK")]
struct Args {
    /// Folder holding the CT series.
    folder: PathBuf,
    /// New folder for the reconstructed series and preview.
    out: PathBuf,
    /// Which series of the folder (largest first).
    #[arg(long, default_value_t = 0)]
    series: usize,
    /// Views over 360°.
    #[arg(long, default_value_t = 360)]
    views: usize,
    /// Downsampling factor in-plane and along z before simulating (1 = full resolution).
    #[arg(long, default_value_t = 2)]
    downsample: usize,
    /// Photons per detector pixel for noise (0: noise-free).
    #[arg(long, default_value_t = 0.0)]
    photons: f64,
    /// Electronic noise, standard deviation in counts (with --photons).
    #[arg(long, default_value_t = 0.0)]
    electronic_noise: f64,
    /// Detector shape: a flat panel, or a cylinder about the source as on clinical scanners.
    #[arg(long, value_enum, default_value_t = DetectorShape::Flat)]
    detector: DetectorShape,
    /// Helical scan of this pitch (feed per turn / collimation at the isocentre), reconstructed
    /// by the helical FDK.
    #[arg(long)]
    helical: Option<f64>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum DetectorShape {
    Flat,
    Cylindrical,
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
    if info.modality != "CT" {
        return Err(format!(
            "series {} is {}, not CT: HU are needed to simulate attenuation",
            args.series, info.modality
        )
        .into());
    }
    let original = load_series(info, Policy::Lenient)?.volume;
    let backend = Backend::auto()?;
    let on = match &backend {
        Backend::Gpu(ctx) if ctx.adapter().is_software => format!("GPU {} (software: CPU speed)", ctx.adapter().name),
        Backend::Gpu(ctx) => format!("GPU {}", ctx.adapter().name),
        Backend::Cpu => "CPU".to_string(),
    };
    let d = args.downsample.max(1);
    let [nz, ny, nx] = original.shape();
    let shape = [(nz / d).max(1), (ny / d).max(1), (nx / d).max(1)];
    let hu = Resample::to_shape(&shape).apply(&backend, original.data())?;
    let spacing = [
        original.grid().spacing[0] * nz as f64 / shape[0] as f64,
        original.grid().spacing[1] * ny as f64 / shape[1] as f64,
        original.grid().spacing[2] * nx as f64 / shape[2] as f64,
    ];
    let mu = hu.mapv(|h| (MU_WATER * (1.0 + h / 1000.0)).max(0.0));
    // Geometry: source at 2.5 × the volume's half diagonal, detector magnification 1.5, wide
    // and tall enough to see the whole volume.
    let grid = centred_grid(shape, spacing)?;
    let half = [
        shape[2] as f64 * spacing[2] / 2.0,
        shape[1] as f64 * spacing[1] / 2.0,
        shape[0] as f64 * spacing[0] / 2.0,
    ];
    let radius = half[0].hypot(half[1]);
    let (sid, sdd) = (2.5 * radius, 3.75 * radius);
    let magnification = sdd / (sid - radius);
    let pixel = spacing[1].min(spacing[2]) * 1.5;
    let mut rows = (2.0 * half[2] * magnification / pixel).ceil() as usize + 4;
    let mut angles: Vec<f64> = (0..args.views).map(|k| k as f64 * 360.0 / args.views as f64).collect();
    // Helical: a quarter of the rows, and enough turns to pass the volume's ends by one
    // collimation.
    let mut helix = None;
    if let Some(pitch) = args.helical {
        if !(pitch.is_finite() && pitch > 0.0) {
            return Err(format!("--helical {pitch}: give a positive pitch (e.g. 1.0)").into());
        }
        rows = rows.div_ceil(4).max(2);
        let collimation = rows as f64 * pixel * sid / sdd;
        let feed = pitch * collimation;
        let travel = 2.0 * half[2] + 2.0 * collimation;
        let views = ((travel / feed) * args.views as f64).ceil() as usize;
        angles = (0..views).map(|k| k as f64 * 360.0 / args.views as f64).collect();
        helix = Some((feed, -(travel / 2.0)));
    }
    let geometry = match args.detector {
        DetectorShape::Flat => {
            let cols = (2.0 * radius * magnification / pixel).ceil() as usize + 4;
            Geometry::cone(&angles, sid, sdd, rows, cols, [pixel, pixel], [0.0, 0.0])?
        }
        DetectorShape::Cylindrical => {
            // The fan that holds the volume's circle, as arc length on the cylinder.
            let cols = (2.0 * (radius / sid).asin() * sdd / pixel).ceil() as usize + 4;
            Geometry::cone_cylindrical(&angles, sid, sdd, rows, cols, [pixel, pixel], [0.0, 0.0])?
        }
    };
    let geometry = match helix {
        Some((feed, z_first)) => {
            println!(
                "helical: pitch {}, {feed:.1} mm per turn, {:.1} turns from z = {z_first:.1} mm",
                args.helical.unwrap_or(1.0),
                angles.len() as f64 / args.views as f64
            );
            geometry.helical(feed, z_first)?
        }
        None => geometry,
    };
    println!(
        "{:?} voxels of {:.2?} mm; {} views of {rows}×{} pixels of {pixel:.2} mm ({:?} detector), SID {sid:.0} mm, \
         SDD {sdd:.0} mm",
        shape,
        spacing,
        angles.len(),
        geometry.cols,
        args.detector
    );
    let joseph = Joseph::new(&geometry, shape, &grid)?;
    let t = Instant::now();
    let mut projections = match &backend {
        Backend::Gpu(ctx) => joseph
            .forward_gpu(ctx, &GpuVolume::upload(ctx, mu.view())?)?
            .download(ctx)?,
        Backend::Cpu => joseph.forward_cpu(mu.view())?,
    };
    println!("projected (Joseph, {on}) in {:.1} s", t.elapsed().as_secs_f64());
    if args.photons > 0.0 {
        projections = NoiseModel::new(args.photons)?
            .electronic(args.electronic_noise)?
            .seed(0x2545_F491)
            .apply_cpu(projections.view())?;
        println!(
            "noise: Poisson counts of {} photons per pixel, electronic noise σ = {} counts",
            args.photons, args.electronic_noise
        );
    }
    let rec_mu = if helix.is_some() {
        let t = Instant::now();
        let fdk = HelicalFdk::new(&geometry)?;
        let volume = match &backend {
            Backend::Gpu(ctx) => fdk.reconstruct_gpu(ctx, projections.view(), shape, &grid)?,
            Backend::Cpu => fdk.reconstruct_cpu(projections.view(), shape, &grid)?,
        };
        println!("helical FDK ({on}): {:.2} s", t.elapsed().as_secs_f64());
        volume
    } else {
        fdk_on(&backend, &on, &geometry, &projections, shape, &grid)?
    };
    let options = WriteOptions {
        description: match helix {
            Some(_) => format!("hounsfield helical FDK, {} views", angles.len()),
            None => format!("hounsfield FDK, {} views", args.views),
        },
        source: info.files().first().cloned(),
        window: Some((40.0, 400.0)),
        ..WriteOptions::default()
    };
    finish(&args.out, &original, &options, &hu, &rec_mu, spacing, half)
}

/// FDK on `backend`, checked against the CPU when that is a GPU.
fn fdk_on(
    backend: &Backend,
    on: &str,
    geometry: &Geometry,
    projections: &ndarray::Array3<f32>,
    shape: [usize; 3],
    grid: &hounsfield::Grid,
) -> Result<ndarray::Array3<f32>, Box<dyn std::error::Error>> {
    let fdk = Fdk::new(geometry)?;
    let t = Instant::now();
    let rec_mu = match backend {
        Backend::Gpu(ctx) => fdk.reconstruct_gpu(ctx, projections.view(), shape, grid)?,
        Backend::Cpu => fdk.reconstruct_cpu(projections.view(), shape, grid)?,
    };
    println!("FDK ({on}): {:.2} s", t.elapsed().as_secs_f64());
    if matches!(backend, Backend::Gpu(_)) {
        let t = Instant::now();
        let cpu = fdk.reconstruct_cpu(projections.view(), shape, grid)?;
        let worst = cpu.iter().zip(&rec_mu).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        println!(
            "FDK (CPU): {:.2} s; GPU vs CPU {:.1e} /mm",
            t.elapsed().as_secs_f64(),
            worst
        );
    }
    Ok(rec_mu)
}

/// The error in HU and the output series and preview.
fn finish(
    out: &std::path::Path,
    original: &Volume,
    options: &WriteOptions,
    hu: &ndarray::Array3<f32>,
    rec_mu: &ndarray::Array3<f32>,
    spacing: [f64; 3],
    half: [f64; 3],
) -> Result<(), Box<dyn std::error::Error>> {
    let (nz, ny, nx) = hu.dim();
    let shape = [nz, ny, nx];
    let rec_hu = rec_mu.mapv(|m| (m / MU_WATER - 1.0) * 1000.0);
    // Error inside the field of view's central half along z (FDK's cone-beam artefacts grow
    // towards the ends).
    let (mut err, mut n) = (0.0f64, 0usize);
    for ((z, y, x), &h) in hu.indexed_iter() {
        let (px, py) = (
            (x as f64 - (shape[2] as f64 - 1.0) / 2.0) * spacing[2],
            (y as f64 - (shape[1] as f64 - 1.0) / 2.0) * spacing[1],
        );
        let central = (z as f64 - (shape[0] as f64 - 1.0) / 2.0).abs() < shape[0] as f64 / 4.0;
        if px.hypot(py) < 0.9 * half[0].min(half[1]) && central {
            err += f64::from((rec_hu[[z, y, x]] - h).abs());
            n += 1;
        }
    }
    println!(
        "mean absolute error {:.1} HU over {n} central voxels",
        err / n.max(1) as f64
    );
    let mut out_grid = *original.grid();
    out_grid.spacing = spacing;
    let files = write_series(&Volume::new(rec_hu.clone(), out_grid)?, out.join("series"), options)?;
    let window = Window::center_width(40.0, 400.0)?;
    save_png(
        rec_hu.index_axis(Axis(0), shape[0] / 2),
        window,
        out.join("reconstruction.png"),
    )?;
    save_png(hu.index_axis(Axis(0), shape[0] / 2), window, out.join("input.png"))?;
    println!(
        "wrote {} files to {} and input.png / reconstruction.png",
        files.len(),
        out.join("series").display()
    );
    Ok(())
}

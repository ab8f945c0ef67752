//! The README's main command: `cargo run --release --example demo`.
//!
//! With no arguments it builds a synthetic CT-like volume (a body ellipsoid with organs and
//! bone in Hounsfield units, plus noise), smooths it with a 3D Gaussian on the GPU and on the
//! CPU, checks that they agree, writes before/after PNGs of the middle slice to `out/`, and
//! prints the adapter and timings. Then it runs a denoising pipeline (3×3×3 median → 3D
//! bilateral → soft-tissue window) in one GPU submission and on the CPU, and prints the
//! volume's statistics and Otsu threshold. Finally it reconstructs: exact projections of the
//! Shepp–Logan phantom → 2D parallel FBP and cone-beam FDK on the CPU and the GPU, with their
//! errors against the phantom and PNGs. Last, the example programs' round trip on a study of its
//! own: the volume written as a DICOM CT series (`out/study`), scanned, loaded and checked, a
//! text-specified pipeline, a derived series and MIP PNGs. It exits with an error if the paths
//! disagree.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use hounsfield::filter::{
    Bilateral, Filter, Median, Pipeline, ProjectionKind, Resample, WindowLevel, WindowPreset, orthogonal_projections,
};
use hounsfield::gpu::GpuVolume;
use hounsfield::io::dicom::{Policy, WriteOptions, load_series, scan, write_series};
use hounsfield::io::{Window, save_png};
use hounsfield::recon::{Fbp2d, Fdk, Geometry, Phantom, SheppLogan, centred_grid};
use hounsfield::stats::{statistics, threshold_otsu};
use hounsfield::{Backend, BoundaryMode, Grid, Volume, filter::Gaussian};
use ndarray::{Array3, Axis};

#[derive(Parser, Debug)]
#[command(about = "Smooth a synthetic CT volume on GPU and CPU and compare")]
struct Args {
    /// Volume shape as NZ NY NX.
    #[arg(long, num_args = 3, default_values_t = [96, 256, 256])]
    shape: Vec<usize>,
    /// Gaussian sigma in millimetres (voxels are 2.0 × 0.8 × 0.8 mm).
    #[arg(long, default_value_t = 1.6)]
    sigma_mm: f64,
    /// Boundary mode: reflect, mirror, nearest, wrap, constant[:value].
    #[arg(long, default_value = "reflect")]
    mode: String,
    /// Where to write the PNG slices.
    #[arg(long, default_value = "out")]
    out: PathBuf,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let shape = [args.shape[0], args.shape[1], args.shape[2]];
    let mode: BoundaryMode = args.mode.parse()?;
    let grid = Grid::with_spacing([2.0, 0.8, 0.8])?;
    let volume = Volume::new(synthetic_ct(shape), grid)?;
    let filter = Gaussian::from_mm(&[args.sigma_mm], &grid)?.mode(mode);
    println!(
        "volume {}×{}×{} ({:.1} MiB), spacing {:?} mm, sigma {} mm, mode {mode}",
        shape[0],
        shape[1],
        shape[2],
        volume.data().len() as f64 * 4.0 / 1048576.0,
        grid.spacing,
        args.sigma_mm
    );

    let t = Instant::now();
    let cpu = filter.apply_volume(&Backend::Cpu, &volume)?;
    let cpu_ms = t.elapsed().as_secs_f64() * 1e3;
    println!("CPU ({} threads): {cpu_ms:.1} ms", rayon::current_num_threads());

    let selection = Backend::select()?;
    println!("backend: {} ({})", selection.backend, selection.reason);
    let gpu_result = match &selection.backend {
        Backend::Gpu(ctx) => {
            // First call compiles the shader; time the second, as a running application would.
            let warm = GpuVolume::upload(ctx, volume.data())?;
            filter.apply_gpu(ctx, &warm)?;
            let t = Instant::now();
            let resident = GpuVolume::upload(ctx, volume.data())?;
            let (out, kernel) = filter.apply_gpu_timed(ctx, &resident)?;
            let data = out.download(ctx)?;
            let e2e_ms = t.elapsed().as_secs_f64() * 1e3;
            println!("GPU: end to end (upload + filter + download) {e2e_ms:.1} ms, kernels {kernel}");
            if ctx.adapter().is_software {
                println!(
                    "note: '{}' is a software rasteriser: its timings are CPU timings, not GPU speed",
                    ctx.adapter().name
                );
            }
            Some(data)
        }
        Backend::Cpu => {
            println!("GPU: skipped ({})", selection.reason);
            None
        }
    };

    let mid = shape[0] / 2;
    let window = Window::center_width(40.0, 400.0)?;
    std::fs::create_dir_all(&args.out)?;
    save_png(
        volume.data().index_axis(Axis(0), mid),
        window,
        args.out.join("demo_before.png"),
    )?;
    save_png(
        cpu.data().index_axis(Axis(0), mid),
        window,
        args.out.join("demo_after_cpu.png"),
    )?;
    println!("wrote {}/demo_before.png, demo_after_cpu.png", args.out.display());

    if let Some(gpu) = gpu_result {
        save_png(
            gpu.index_axis(Axis(0), mid),
            window,
            args.out.join("demo_after_gpu.png"),
        )?;
        let max_diff = gpu
            .iter()
            .zip(cpu.data().iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        let max_abs = cpu.data().iter().map(|v| v.abs()).fold(0.0f32, f32::max);
        let rel = max_diff / max_abs.max(1e-30);
        println!("GPU vs CPU: max abs difference {max_diff:.3e} HU (relative {rel:.2e}); wrote demo_after_gpu.png");
        if rel > 1e-5 {
            return Err(format!("GPU and CPU disagree (relative difference {rel:.2e} > 1e-5)").into());
        }
        println!("GPU and CPU agree.");
    }
    denoise(&volume, &selection.backend, &args.out)?;
    reconstruct(&selection.backend, &args.out)?;
    study(&volume, &selection.backend, &args.out)
}

/// The programs' round trip on a study of our own: the volume, resampled to thick slices, is
/// written as a CT series, found again by scanning, loaded (checked against what was written,
/// within the int16 quantisation), filtered by a pipeline given as text, written as a derived
/// series of the same study, and shown as axial/coronal/sagittal MIPs.
fn study(volume: &Volume, backend: &Backend, out: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("DICOM study:");
    let [nz, ny, nx] = volume.shape();
    let thick = Resample::to_shape(&[nz / 2, ny / 2, nx / 2]).apply_volume(backend, volume)?;
    // The demo owns these folders; the library itself never writes into an existing series.
    let (study_dir, filtered_dir) = (out.join("study"), out.join("study_filtered"));
    for dir in [&study_dir, &filtered_dir] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
    }
    let t = Instant::now();
    let files = write_series(
        &thick,
        &study_dir,
        &WriteOptions {
            description: "hounsfield demo phantom".into(),
            ..WriteOptions::default()
        },
    )?;
    println!(
        "  wrote {} CT slices of {}×{} to {} in {:.0} ms",
        files.len(),
        thick.shape()[1],
        thick.shape()[2],
        study_dir.display(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let found = scan(&study_dir)?;
    let info = found.series.first().ok_or("the written series was not found by scan")?;
    let loaded = load_series(info, Policy::Strict)?.volume;
    let (lo, hi) = thick
        .data()
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let step = f64::from(hi - lo) / 65535.0;
    let worst = loaded
        .data()
        .iter()
        .zip(thick.data())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    println!(
        "  scanned and loaded {} '{}' {:?} in {:.0} ms: spacing {:.3?} mm, largest difference {worst:.3} HU (quantisation step {step:.3})",
        info.modality,
        info.description,
        loaded.shape(),
        t.elapsed().as_secs_f64() * 1e3,
        loaded.grid().spacing
    );
    let spacing_error = (0..3)
        .map(|a| (loaded.grid().spacing[a] - thick.grid().spacing[a]).abs())
        .fold(0.0, f64::max);
    // DICOM decimal strings carry at most 16 characters.
    if f64::from(worst) > step || spacing_error > 1e-9 {
        return Err("the DICOM round trip changed the volume beyond its quantisation step".into());
    }
    let steps = "median:1 gaussian:1.0";
    let pipeline = Pipeline::parse(steps, loaded.grid())?;
    let t = Instant::now();
    let filtered = pipeline.apply_volume(backend, &loaded)?;
    let on = match backend {
        Backend::Gpu(ctx) => format!("GPU {}", ctx.adapter().name),
        Backend::Cpu => "CPU".into(),
    };
    println!(
        "  '{steps}' ({}) on {on}: {:.0} ms",
        pipeline.describe(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let files = write_series(
        &filtered,
        &filtered_dir,
        &WriteOptions {
            description: format!("hounsfield {steps}"),
            source: info.files().first().cloned(),
            ..WriteOptions::default()
        },
    )?;
    println!(
        "  wrote the derived series (same study) to {} ({} files)",
        filtered_dir.display(),
        files.len()
    );
    let bone = Window::from(WindowPreset::Bone);
    for view in orthogonal_projections(backend, &filtered, ProjectionKind::Max)? {
        save_png(view.image.view(), bone, out.join(format!("demo_mip_{}.png", view.name)))?;
    }
    println!("  wrote {}/demo_mip_{{axial,coronal,sagittal}}.png", out.display());
    println!(
        "  next: cargo run --release --example info -- {0}; --example mip -- {0} out/mip; --example filter -- {0} out/filtered",
        study_dir.display()
    );
    Ok(())
}

/// Mean absolute error of `rec` against `truth` over the voxels that `inside` accepts (by their
/// (z, y, x) index).
fn mae(rec: &Array3<f32>, truth: &Array3<f32>, inside: impl Fn(usize, usize, usize) -> bool) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for ((z, y, x), &t) in truth.indexed_iter() {
        if inside(z, y, x) {
            sum += f64::from((rec[[z, y, x]] - t).abs());
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

fn relative_difference(a: &Array3<f32>, b: &Array3<f32>) -> f64 {
    let peak = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let worst = a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    f64::from(worst / peak.max(1e-30))
}

/// Shepp–Logan → exact projections (no inverse crime) → 2D parallel FBP and cone-beam FDK on
/// the CPU and the GPU; prints errors against the phantom and timings, writes PNGs.
fn reconstruct(backend: &Backend, out: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let unit = Window::center_width(0.5, 1.0)?;
    // 2D parallel beam, 256² at 1 mm, 360 views over 180° (scikit-image's centre: pixel n/2,
    // so the detector is shifted by half a pixel to match).
    let n = 256;
    let angles: Vec<f64> = (0..360).map(|k| k as f64 * 0.5).collect();
    let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 120.0)?;
    let mut g = Geometry::parallel_2d(&angles, n, 1.0)?;
    g.offset_u = -0.5;
    let t = Instant::now();
    let sino = g.project_exact(&phantom)?.index_axis_move(Axis(1), 0);
    println!(
        "reconstruction: exact projections of Shepp-Logan 2D, {} views × {n} ({:.0} ms)",
        angles.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let grid = Grid {
        origin: [-(n as f64) / 2.0, -(n as f64) / 2.0, 0.0],
        ..Grid::default()
    };
    let truth = phantom.rasterize([1, n, n], &grid, 4)?;
    let fbp = Fbp2d::new(&angles);
    let t = Instant::now();
    let cpu = fbp.reconstruct_cpu(sino.view())?.insert_axis(Axis(0));
    let cpu_ms = t.elapsed().as_secs_f64() * 1e3;
    let r = n as f64 / 2.0 - 8.0;
    let in_circle = |_: usize, y: usize, x: usize| {
        let (dy, dx) = (y as f64 - n as f64 / 2.0, x as f64 - n as f64 / 2.0);
        dx * dx + dy * dy < r * r
    };
    println!(
        "  FBP 2D {n}²: CPU {cpu_ms:.1} ms, mean absolute error {:.4} (phantom range 0..1)",
        mae(&cpu, &truth, in_circle)
    );
    save_png(truth.index_axis(Axis(0), 0), unit, out.join("demo_phantom_2d.png"))?;
    save_png(cpu.index_axis(Axis(0), 0), unit, out.join("demo_fbp_cpu.png"))?;
    if let Backend::Gpu(ctx) = backend {
        fbp.reconstruct_gpu(ctx, sino.view())?; // compile the shaders before timing
        let t = Instant::now();
        let gpu = fbp.reconstruct_gpu(ctx, sino.view())?.insert_axis(Axis(0));
        let rel = relative_difference(&gpu, &cpu);
        println!(
            "  FBP 2D {n}²: GPU {:.1} ms end to end{}, GPU vs CPU {rel:.1e}",
            t.elapsed().as_secs_f64() * 1e3,
            if ctx.adapter().is_software {
                " (software rasteriser: not GPU speed)"
            } else {
                ""
            }
        );
        save_png(gpu.index_axis(Axis(0), 0), unit, out.join("demo_fbp_gpu.png"))?;
        if rel > 1e-4 {
            return Err(format!("FBP: GPU and CPU disagree ({rel:.1e})").into());
        }
    }

    // Cone beam: 3D Shepp–Logan (radius 60 mm), 180 views over 360° of a 160² panel of
    // 1.5 mm pixels, SID 500 mm, SDD 1000 mm, into 96³ voxels of 1.25 mm.
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 60.0)?;
    let angles: Vec<f64> = (0..180).map(|k| k as f64 * 2.0).collect();
    let g = Geometry::cone(&angles, 500.0, 1000.0, 160, 160, [1.5, 1.5], [0.0, 0.0])?;
    let t = Instant::now();
    let projections = g.project_exact(&phantom)?;
    println!(
        "reconstruction: exact cone-beam projections, {} views × 160² ({:.0} ms)",
        angles.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let shape = [96, 96, 96];
    let grid = centred_grid(shape, [1.25; 3])?;
    let truth = phantom.rasterize(shape, &grid, 2)?;
    let fdk = Fdk::new(&g)?;
    let t = Instant::now();
    let cpu = fdk.reconstruct_cpu(projections.view(), shape, &grid)?;
    let cpu_ms = t.elapsed().as_secs_f64() * 1e3;
    // Inside 48 mm of the axis, within 15 mm of the central slice (cone-beam artefacts grow
    // away from it).
    let central = |z: usize, y: usize, x: usize| {
        let c = |i: usize| (i as f64 - 47.5) * 1.25;
        c(x).hypot(c(y)) < 48.0 && c(z).abs() < 15.0
    };
    println!(
        "  FDK 96³: CPU {cpu_ms:.1} ms, mean absolute error {:.4}",
        mae(&cpu, &truth, central)
    );
    save_png(truth.index_axis(Axis(0), 48), unit, out.join("demo_phantom_3d.png"))?;
    save_png(cpu.index_axis(Axis(0), 48), unit, out.join("demo_fdk_cpu.png"))?;
    save_png(cpu.index_axis(Axis(2), 48), unit, out.join("demo_fdk_cpu_sagittal.png"))?;
    if let Backend::Gpu(ctx) = backend {
        let t = Instant::now();
        let gpu = fdk.reconstruct_gpu(ctx, projections.view(), shape, &grid)?;
        let rel = relative_difference(&gpu, &cpu);
        println!(
            "  FDK 96³: GPU {:.1} ms end to end{}, GPU vs CPU {rel:.1e}",
            t.elapsed().as_secs_f64() * 1e3,
            if ctx.adapter().is_software {
                " (software rasteriser: not GPU speed)"
            } else {
                ""
            }
        );
        save_png(gpu.index_axis(Axis(0), 48), unit, out.join("demo_fdk_gpu.png"))?;
        if rel > 1e-4 {
            return Err(format!("FDK: GPU and CPU disagree ({rel:.1e})").into());
        }
    }
    println!(
        "wrote {}/demo_phantom_*.png, demo_fbp_*.png, demo_fdk_*.png",
        out.display()
    );
    Ok(())
}

/// Median → bilateral → soft-tissue window, resident on the GPU in one submission and on the
/// CPU; writes the middle slice of both and checks that they agree.
fn denoise(volume: &Volume, backend: &Backend, out: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let stats = statistics(backend, volume.data())?;
    let otsu = threshold_otsu(backend, volume.data(), 256)?;
    println!(
        "statistics: min {:.0} HU, max {:.0} HU, mean {:.1} HU, std {:.1} HU; Otsu threshold {otsu:.1} HU",
        stats.min, stats.max, stats.mean, stats.std
    );
    let pipeline = Pipeline::new()
        .then(Median::new(&[1]))
        .then(Bilateral::new(&[0.8], 40.0).for_grid(volume.grid()))
        .then(WindowLevel::preset(WindowPreset::SoftTissue));
    println!("pipeline: {}", pipeline.describe());
    let t = Instant::now();
    let cpu = pipeline.apply_volume(&Backend::Cpu, volume)?;
    println!("  CPU: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let mid = volume.shape()[0] / 2;
    let unit = Window::center_width(0.5, 1.0)?;
    save_png(
        cpu.data().index_axis(Axis(0), mid),
        unit,
        out.join("demo_denoised_cpu.png"),
    )?;
    if let Backend::Gpu(ctx) = backend {
        let resident = GpuVolume::upload(ctx, volume.data())?;
        if !ctx.adapter().is_software {
            pipeline.apply_gpu(ctx, &resident)?; // compile the shaders before timing
        }
        let t = Instant::now();
        let (gpu, kernels) = pipeline.apply_gpu_timed(ctx, &resident)?;
        let gpu = gpu.download(ctx)?;
        println!(
            "  GPU: {:.1} ms with download, kernels {kernels}{}",
            t.elapsed().as_secs_f64() * 1e3,
            if ctx.adapter().is_software {
                " (software rasteriser: not GPU speed)"
            } else {
                ""
            }
        );
        save_png(gpu.index_axis(Axis(0), mid), unit, out.join("demo_denoised_gpu.png"))?;
        let max_diff = gpu
            .iter()
            .zip(cpu.data().iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        println!("  GPU vs CPU: max difference {max_diff:.2e} (display range 0..1)");
        if max_diff > 1e-3 {
            return Err(format!("denoising pipeline: GPU and CPU disagree by {max_diff:.2e}").into());
        }
    }
    println!("wrote {}/demo_denoised_*.png", out.display());
    Ok(())
}

/// A CT-like phantom in HU: air outside, a soft-tissue body ellipse, two organs, a bony ring
/// (spine-like) and Gaussian-ish noise, so that smoothing is visible on the PNGs.
fn synthetic_ct(shape: [usize; 3]) -> Array3<f32> {
    let [nz, ny, nx] = shape;
    let mut seed = 0x853c_49e6_748f_ea9bu64;
    let mut noise = move || {
        // Sum of uniforms ≈ Gaussian, standard deviation ≈ 40 HU.
        let mut s = 0.0f32;
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s += (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        }
        s * 70.0
    };
    Array3::from_shape_fn(shape, |(z, y, x)| {
        let u = (x as f32 + 0.5) / nx as f32 * 2.0 - 1.0;
        let v = (y as f32 + 0.5) / ny as f32 * 2.0 - 1.0;
        let w = (z as f32 + 0.5) / nz as f32 * 2.0 - 1.0;
        let inside = |cu: f32, cv: f32, ru: f32, rv: f32| {
            ((u - cu) / ru).powi(2) + ((v - cv) / rv).powi(2) + (w / 1.2).powi(2) <= 1.0
        };
        let mut hu = -1000.0;
        if inside(0.0, 0.0, 0.85, 0.65) {
            hu = 40.0;
            if inside(-0.35, -0.1, 0.25, 0.3) {
                hu = 60.0; // liver-like
            }
            if inside(0.35, -0.05, 0.2, 0.22) {
                hu = -800.0; // lung-like
            }
            let r = ((u / 0.14).powi(2) + ((v - 0.4) / 0.14).powi(2)).sqrt();
            if (0.6..=1.0).contains(&r) {
                hu = 700.0; // cortical bone ring
            }
        }
        hu + noise()
    })
}

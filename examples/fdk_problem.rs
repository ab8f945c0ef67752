//! Times CPU FDK on the benchmark's problem (256³ from 360 projections of 384²) and writes the
//! problem for `scripts/python_recon_baseline.py` (RTK on the same projections):
//! `cargo run --release --example fdk_problem -- /tmp/fdk`.

use std::time::Instant;

use hounsfield::recon::{Fdk, Geometry, Phantom, SheppLogan, centred_grid};
use ndarray_npy::write_npy;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fdk_problem".into()));
    std::fs::create_dir_all(&dir)?;
    let angles: Vec<f64> = (0..360).map(f64::from).collect();
    let g = Geometry::cone(&angles, 1000.0, 1500.0, 384, 384, [1.2, 1.2], [0.0, 0.0])?;
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 120.0)?;
    let t = Instant::now();
    let projections = g.project_exact(&phantom)?;
    println!("exact projections 360×384²: {:.1} s", t.elapsed().as_secs_f64());
    let shape = [256, 256, 256];
    let grid = centred_grid(shape, [1.0; 3])?;
    let truth = phantom.rasterize(shape, &grid, 2)?;
    let fdk = Fdk::new(&g)?;
    for _ in 0..2 {
        let t = Instant::now();
        let rec = fdk.reconstruct_cpu(projections.view(), shape, &grid)?;
        let secs = t.elapsed().as_secs_f64();
        let (mut err, mut n) = (0.0f64, 0usize);
        for ((z, y, x), &v) in truth.indexed_iter() {
            let (px, py, pz) = (x as f64 - 127.5, y as f64 - 127.5, z as f64 - 127.5);
            if px * px + py * py < 100.0 * 100.0 && pz.abs() < 40.0 {
                err += (f64::from(rec[[z, y, x]]) - f64::from(v)).abs();
                n += 1;
            }
        }
        println!(
            "hounsfield CPU FDK 256³: {:.2} s, MAE {:.4} (r < 100 mm, |z| < 40 mm)",
            secs,
            err / n as f64
        );
    }
    write_npy(dir.join("projections.npy"), &projections)?;
    write_npy(dir.join("truth.npy"), &truth)?;
    println!("wrote {}", dir.display());
    Ok(())
}

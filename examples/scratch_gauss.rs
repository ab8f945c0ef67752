use hounsfield::prelude::*;
use std::time::Instant;
fn main() {
    let (nz, ny, nx) = (256, 512, 512);
    let mut s = 1u64;
    let input = ndarray::Array3::<f32>::from_shape_simple_fn((nz, ny, nx), || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % 1000) as f32
    });
    let mut out = ndarray::Array3::<f32>::zeros((nz, ny, nx));
    out.fill(1.0);
    let which = std::env::args().nth(1).unwrap_or("zyx".into());
    let sigma: Vec<f64> = match which.as_str() {
        "z" => vec![2.0, 0.0, 0.0],
        "yx" => vec![0.0, 2.0, 2.0],
        "y" => vec![0.0, 2.0, 0.0],
        "x" => vec![0.0, 0.0, 2.0],
        _ => vec![2.0],
    };
    let g = Gaussian::new(&sigma);
    let mut times = vec![];
    let reps: usize = std::env::var("REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    for _ in 0..reps {
        let t = Instant::now();
        g.apply_cpu_into(input.view(), out.view_mut()).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let mut c = out.clone();
    let t = Instant::now();
    c.assign(&input);
    let copy = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    c.assign(&input);
    let copy2 = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "{which}: best {:.1} median {:.1} ms; copy {:.1} {:.1} ms",
        times[0],
        times[times.len() / 2],
        copy,
        copy2
    );
}

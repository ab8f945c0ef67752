//! Projection-domain corrections (issue 23): tomopy's normalisation and −log (fixtures written
//! out from its formulas), algotom's sorting-based stripe removal (fixtures), the water
//! beam-hardening linearisation against a simulated polychromatic scan (cupping removed), the
//! noise model's statistics, GPU = CPU on every adapter, and bad input.

mod common;

use common::{backends, fixture};
use hounsfield::recon::{
    Ellipsoid, Fbp2d, Geometry, NoiseModel, Phantom, StripeRemoval, Transmission, WaterCorrection,
};
use hounsfield::{Backend, Error};
use ndarray::{Array3, Axis, Ix3, s};

fn load(name: &str) -> Array3<f32> {
    fixture::<f32>(&format!("corrections/{name}.npy"))
        .into_dimensionality::<Ix3>()
        .unwrap()
}

fn name(backend: &Backend) -> String {
    match backend {
        Backend::Cpu => "CPU".into(),
        Backend::Gpu(ctx) => format!("GPU {}", ctx.adapter().name),
    }
}

/// Equal within `rel` of each value, NaN where the reference is NaN, the same infinities.
fn assert_matches(got: &Array3<f32>, want: &Array3<f32>, rel: f32, what: &str) {
    assert_eq!(got.dim(), want.dim(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= rel * w.abs().max(1e-3)
        };
        assert!(ok, "{what} element {i}: {g} vs {w}");
    }
}

#[test]
fn normalisation_and_minus_log_follow_tomopy() {
    let (raw, flat, dark) = (load("raw"), load("flat"), load("dark"));
    for backend in backends() {
        let on = name(&backend);
        let normalize = Transmission::new().normalize(flat.view(), dark.view()).unwrap();
        let got = normalize.apply(&backend, raw.view()).unwrap();
        assert_matches(&got, &load("normalized"), 1e-6, &format!("normalize, {on}"));
        // The dead pixel (flat = dark): the denominator is raised to 1e-6 as tomopy does.
        assert!(got[[2, 1, 1]].abs() > 1e6, "{on}: {}", got[[2, 1, 1]]);
        let cut = normalize
            .clone()
            .cutoff(0.8)
            .unwrap()
            .apply(&backend, raw.view())
            .unwrap();
        assert_matches(&cut, &load("normalized_cutoff"), 1e-6, &format!("cut-off, {on}"));
        let log = normalize
            .clone()
            .minus_log(None)
            .unwrap()
            .apply(&backend, raw.view())
            .unwrap();
        // A negative transmission (counts below the dark level) is NaN, as numpy's log.
        assert!(log[[0, 0, 0]].is_nan(), "{on}");
        assert_matches(&log, &load("minus_log"), 2e-6, &format!("-log, {on}"));
        // The floor raises starved pixels first: −log(1e-3) instead of NaN.
        let floored = normalize
            .minus_log(Some(1e-3))
            .unwrap()
            .apply(&backend, raw.view())
            .unwrap();
        assert!(
            (floored[[0, 0, 0]] - 1e-3f32.ln().abs()).abs() < 1e-5,
            "{on}: {}",
            floored[[0, 0, 0]]
        );
        assert_eq!(
            floored[[3, 2, 4]],
            log[[3, 2, 4]],
            "{on}: the floor changes nothing above it"
        );
    }
}

#[test]
fn sorting_stripe_removal_equals_algotom() {
    let input = load("stripes_input");
    for backend in backends() {
        for (size, dim) in [(5, 1), (21, 1), (5, 2)] {
            let mut removal = StripeRemoval::sorting(size).unwrap();
            if dim == 2 {
                removal = removal.two_dimensional();
            }
            let got = removal.apply(&backend, input.view()).unwrap();
            let want = load(&format!("stripes_size{size}_dim{dim}"));
            // The median and the sort are exact: equal to the last bit.
            assert_eq!(got, want, "size {size}, dim {dim} on {}", name(&backend));
        }
    }
}

/// The GPU's bitonic sort and scatter equal the CPU's stable sort bit for bit: ties (kept in
/// view order), ±0, slabs of detector rows under 64 KiB bindings, and more views than the
/// workgroup network holds (the CPU sort then).
#[test]
fn gpu_stripe_removal_equals_the_cpu_bit_for_bit() {
    let mut rng = hounsfield::rng::XorShift64::new(9);
    let mut stack = Array3::from_shape_simple_fn((200, 5, 40), || (rng.next_f32() * 8.0).floor() * 0.25);
    stack[[3, 1, 2]] = -0.0;
    stack[[4, 1, 2]] = 0.0;
    let long = Array3::from_shape_simple_fn((2100, 1, 9), || rng.next_f32());
    for (ctx, what) in common::all_gpus() {
        // (The 2D window only at size 5: a 21 × 21 median is slow on the software GPU.)
        for (input, size, two_d) in [(&stack, 5, true), (&stack, 21, false), (&long, 3, true)] {
            let removal = StripeRemoval::sorting(size).unwrap();
            let cpu = removal.apply_cpu(input.view()).unwrap();
            let gpu = removal.apply_gpu(&ctx, input.view()).unwrap();
            assert_eq!(
                gpu,
                cpu,
                "{:?} size {size} on {} ({what})",
                input.dim(),
                ctx.adapter().name
            );
            if two_d {
                let (cpu2, gpu2) = (
                    removal.two_dimensional().apply_cpu(input.view()).unwrap(),
                    removal.two_dimensional().apply_gpu(&ctx, input.view()).unwrap(),
                );
                assert_eq!(
                    gpu2,
                    cpu2,
                    "2D, {:?} size {size} on {} ({what})",
                    input.dim(),
                    ctx.adapter().name
                );
            }
        }
    }
}

#[test]
fn stripe_removal_erases_a_defective_column_from_a_phantom_sinogram() {
    let angles: Vec<f64> = (0..180).map(f64::from).collect();
    let geometry = Geometry::parallel_3d(&angles, 2, 96, [1.0, 1.0]).unwrap();
    let phantom = Phantom::shepp_logan_3d(hounsfield::recon::SheppLogan::Modified, 40.0).unwrap();
    let clean = geometry.project_exact(&phantom).unwrap();
    let mut striped = clean.clone();
    striped.slice_mut(s![.., .., 40]).mapv_inplace(|v| v + 2.0);
    let fixed = StripeRemoval::sorting(11).unwrap().apply_cpu(striped.view()).unwrap();
    let deviation = |a: &Array3<f32>, col: usize| {
        a.slice(s![.., .., col])
            .iter()
            .zip(clean.slice(s![.., .., col]))
            .map(|(x, y)| f64::from((x - y).abs()))
            .sum::<f64>()
            / (a.len_of(Axis(0)) * 2) as f64
    };
    let (before, after) = (deviation(&striped, 40), deviation(&fixed, 40));
    // Measured: 2.0 → 0.23 (the rest is the median smoothing the object's own structure, as in
    // the columns beside it).
    assert!(
        after < before / 5.0,
        "the stripe's mean offset went from {before} to {after}"
    );
    // Elsewhere the sinogram keeps its values (the median of sorted ramps is the ramp).
    let elsewhere = deviation(&fixed, 20);
    eprintln!("stripe {before} → {after}; column 20 moved by {elsewhere}");
    assert!(
        elsewhere < 0.02 * clean.iter().fold(0.0f32, |m, v| m.max(*v)) as f64,
        "{elsewhere}"
    );
}

/// Water's mass attenuation coefficients, cm²/g (NIST XCOM / J. H. Hubbell and S. M. Seltzer,
/// NIST Standard Reference Database 126), and a coarse 120 kVp-like spectrum (relative photons).
const SPECTRUM: [(f64, f64, f64); 7] = [
    // (keV, water μ/ρ cm²/g, weight)
    (30.0, 0.3756, 0.08),
    (40.0, 0.2683, 0.18),
    (50.0, 0.2269, 0.22),
    (60.0, 0.2059, 0.20),
    (80.0, 0.1837, 0.18),
    (100.0, 0.1707, 0.10),
    (150.0, 0.1505, 0.04),
];

/// The measured (polychromatic) line integral of `length_mm` of water.
fn polychromatic(length_mm: f64) -> f64 {
    let total: f64 = SPECTRUM.iter().map(|s| s.2).sum();
    let transmitted: f64 = SPECTRUM
        .iter()
        .map(|&(_, mu, w)| w * (-mu * 0.1 * length_mm).exp())
        .sum();
    -(transmitted / total).ln()
}

#[test]
fn the_water_correction_removes_cupping_from_a_water_cylinder() {
    // Calibration: 0–300 mm of water; the target μ is the spectrum's at thin layers (the slope
    // at 0), so corrected values are in that μ.
    let thickness: Vec<f64> = (0..=60).map(|k| k as f64 * 5.0).collect();
    let measured: Vec<f64> = thickness.iter().map(|&l| polychromatic(l)).collect();
    let mu0 = (polychromatic(0.01) - polychromatic(0.0)) / 0.01;
    let ideal: Vec<f64> = thickness.iter().map(|&l| mu0 * l).collect();
    let correction = WaterCorrection::fit(&measured, &ideal, 4).unwrap();
    for (&m, &i) in measured.iter().zip(&ideal) {
        assert!(
            (correction.correct(m) - i).abs() < 2e-3 * i.max(1.0),
            "{m} → {} vs {i}",
            correction.correct(m)
        );
    }
    // A 200 mm water cylinder, 2D parallel beam: chord lengths, then the polychromatic measurement.
    let n = 256;
    let angles: Vec<f64> = (0..180).map(f64::from).collect();
    let mut geometry = Geometry::parallel_2d(&angles, n, 1.0).unwrap();
    geometry.offset_u = -0.5;
    let cylinder = Phantom {
        ellipsoids: vec![Ellipsoid {
            centre: [0.0; 3],
            semi_axes: [100.0, 100.0, f64::INFINITY],
            phi_degrees: 0.0,
            value: 1.0,
        }],
    };
    let chords = geometry.project_exact(&cylinder).unwrap();
    let measured = chords.mapv(|l| polychromatic(f64::from(l)) as f32);
    let cupping = |sinogram: &Array3<f32>| {
        let image = Fbp2d::new(&angles)
            .reconstruct_cpu(sinogram.index_axis(Axis(1), 0))
            .unwrap();
        let mean = |r0: f64, r1: f64| {
            let (mut s, mut k) = (0.0f64, 0);
            for ((y, x), &v) in image.indexed_iter() {
                let r = (x as f64 - n as f64 / 2.0).hypot(y as f64 - n as f64 / 2.0);
                if r >= r0 && r < r1 {
                    s += f64::from(v);
                    k += 1;
                }
            }
            s / k as f64
        };
        // Centre against the rim, relative to the rim.
        (mean(80.0, 90.0) - mean(0.0, 10.0)) / mean(80.0, 90.0)
    };
    let before = cupping(&measured);
    for backend in backends() {
        let corrected = Transmission::new()
            .water(&correction)
            .apply(&backend, measured.view())
            .unwrap();
        let after = cupping(&corrected);
        eprintln!("cupping {before:.4} → {after:.4} ({})", name(&backend));
        assert!(
            before > 0.03,
            "the simulated beam hardening cups the cylinder: {before}"
        );
        assert!(
            after.abs() < 0.003,
            "cupping after the correction: {after} ({})",
            name(&backend)
        );
        // Corrected values are water's μ at the spectrum's low-thickness limit.
        let centre = Fbp2d::new(&angles)
            .reconstruct_cpu(corrected.index_axis(Axis(1), 0))
            .unwrap()[[n / 2, n / 2]];
        assert!((f64::from(centre) - mu0).abs() < 0.01 * mu0, "{centre} vs {mu0}");
    }
}

#[test]
fn simulated_noise_has_the_statistics_of_counts() {
    let (i0, p) = (2.0e4, 1.5f32);
    let ideal = Array3::from_elem((40, 50, 60), p);
    let model = NoiseModel::new(i0).unwrap().seed(3);
    let counts = model.counts_cpu(ideal.view()).unwrap();
    let lambda = i0 * (-f64::from(p)).exp();
    let n = counts.len() as f64;
    let mean = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
    let var = counts.iter().map(|&c| (f64::from(c) - mean).powi(2)).sum::<f64>() / (n - 1.0);
    assert!(
        (mean - lambda).abs() < 5.0 * (lambda / n).sqrt(),
        "mean {mean} vs {lambda}"
    );
    assert!((var / lambda - 1.0).abs() < 0.03, "variance {var} vs {lambda}");
    // Repeatable for a seed, different for another.
    assert_eq!(counts, model.counts_cpu(ideal.view()).unwrap());
    assert_ne!(counts, model.clone().seed(4).counts_cpu(ideal.view()).unwrap());
    // Electronic noise adds its variance.
    let sigma = 30.0;
    let noisy = model
        .clone()
        .electronic(sigma)
        .unwrap()
        .counts_cpu(ideal.view())
        .unwrap();
    let m2 = noisy.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
    let v2 = noisy.iter().map(|&c| (f64::from(c) - m2).powi(2)).sum::<f64>() / (n - 1.0);
    assert!((v2 / (lambda + sigma * sigma) - 1.0).abs() < 0.03, "variance {v2}");
    // Line integrals: unbiased to first order, variance ≈ 1 / λ.
    let lines = model.apply_cpu(ideal.view()).unwrap();
    let lm = lines.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let lv = lines.iter().map(|&v| (f64::from(v) - lm).powi(2)).sum::<f64>() / (n - 1.0);
    assert!((lm - f64::from(p)).abs() < 1e-3, "{lm}");
    assert!((lv * lambda - 1.0).abs() < 0.05, "{lv}");
    // Starved pixels: 1 count at most, −ln(1 / I₀).
    let dark = NoiseModel::new(5.0)
        .unwrap()
        .apply_cpu(Array3::from_elem((1, 1, 200), 30.0f32).view())
        .unwrap();
    assert!(dark.iter().all(|&v| (v - 5.0f32.ln()).abs() < 1e-6), "{dark:?}");
}

#[test]
fn bad_input_is_a_typed_error() {
    let (flat, dark) = (Array3::<f32>::ones((2, 4, 5)), Array3::<f32>::zeros((2, 4, 6)));
    assert!(matches!(
        Transmission::new().normalize(flat.view(), dark.view()),
        Err(Error::InvalidShape(_))
    ));
    let mut nan = flat.clone();
    nan[[0, 1, 1]] = f32::NAN;
    assert!(Transmission::new().normalize(nan.view(), flat.view()).is_err());
    let t = Transmission::new().normalize(flat.view(), flat.view()).unwrap();
    let err = t.apply_cpu(Array3::<f32>::zeros((3, 4, 4)).view()).unwrap_err();
    assert!(err.to_string().contains("4×5"), "{err}");
    assert!(Transmission::new().cutoff(f32::NAN).is_err());
    assert!(Transmission::new().minus_log(Some(0.0)).is_err());
    assert!(StripeRemoval::sorting(4).is_err() && StripeRemoval::sorting(1).is_err());
    let mut with_nan = Array3::<f32>::zeros((5, 2, 9));
    with_nan[[1, 1, 1]] = f32::NAN;
    assert!(StripeRemoval::sorting(3).unwrap().apply_cpu(with_nan.view()).is_err());
    assert!(NoiseModel::new(0.0).is_err() && NoiseModel::new(f64::INFINITY).is_err());
    assert!(NoiseModel::new(10.0).unwrap().electronic(-1.0).is_err());
    assert!(NoiseModel::new(10.0).unwrap().apply_cpu(with_nan.view()).is_err());
    assert!(
        NoiseModel::new(10.0)
            .unwrap()
            .apply_cpu(Array3::<f32>::zeros((0, 2, 2)).view())
            .is_err()
    );
}

/// Flat and dark tables as large as a view work where a view just fits one binding (64 KiB
/// bindings, 100 × 100 pixels): each table is bound alone.
#[test]
fn normalisation_tables_fit_the_bindings_a_view_fits() {
    let flat = Array3::<f32>::from_elem((2, 100, 100), 1000.0);
    let dark = Array3::<f32>::from_elem((1, 100, 100), 10.0);
    let raw = Array3::<f32>::from_shape_fn((5, 100, 100), |(v, y, x)| 100.0 + (v * 7 + y * 3 + x) as f32);
    let t = Transmission::new()
        .normalize(flat.view(), dark.view())
        .unwrap()
        .minus_log(None)
        .unwrap();
    let cpu = t.apply_cpu(raw.view()).unwrap();
    for ctx in common::gpus_small_bindings() {
        let gpu = t.apply_gpu_host(&ctx, raw.view()).unwrap();
        assert_matches(&gpu, &cpu, 2e-6, &format!("64 KiB bindings on {}", ctx.adapter().name));
    }
}

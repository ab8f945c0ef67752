//! The benchmark harness (`benches/harness/`): its statistics and throughput arithmetic, that
//! every kernel of the library is registered in it, and a quick run that must produce a report
//! with one entry per workload and every required field (numbers are not asserted: this is the
//! CI smoke test of the harness and its report).

// The harness's modules, compiled here as in the bench target.
#[allow(dead_code)]
#[path = "../benches/harness/env.rs"]
mod env;
#[allow(dead_code)]
#[path = "../benches/harness/registry.rs"]
mod registry;
#[allow(dead_code)]
#[path = "../benches/harness/report.rs"]
mod report;
#[allow(dead_code)]
#[path = "../benches/harness/run.rs"]
mod run;
#[allow(dead_code)]
#[path = "../benches/harness/stats.rs"]
mod stats;

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use ndarray::Array3;

use stats::{Plan, Work, copy_bandwidth, measure, speedup, summarize};

#[test]
fn timing_statistics_are_the_median_and_spread() {
    let t = summarize(&[3.0, 1.0, 2.0]).unwrap();
    assert_eq!((t.median_s, t.min_s, t.max_s, t.runs), (2.0, 1.0, 3.0, 3));
    assert_eq!(t.spread, 1.0);
    let even = summarize(&[4.0, 1.0, 2.0, 3.0]).unwrap();
    assert_eq!(even.median_s, 2.5);
    assert!((even.spread - 3.0 / 2.5).abs() < 1e-12);
    assert!(summarize(&[]).is_none());
    assert!(summarize(&[1.0, f64::NAN]).is_none());
    assert!(summarize(&[-1.0]).is_none());
}

#[test]
fn measuring_follows_the_plan() {
    let mut calls = 0;
    let plan = Plan {
        warmup: 2,
        min_runs: 3,
        max_runs: 5,
        budget: Duration::ZERO,
    };
    let (wall, inner) = measure::<()>(&plan, || {
        calls += 1;
        Ok(Some(Duration::from_millis(1)))
    })
    .unwrap();
    // Two untimed warm-ups, then the minimum (the budget is spent at once).
    assert_eq!((calls, wall.runs), (5, 3));
    assert_eq!(inner.unwrap().median_s, 1e-3);
    let plan = Plan {
        warmup: 0,
        min_runs: 1,
        max_runs: 4,
        budget: Duration::from_secs(3600),
    };
    let (wall, inner) = measure::<()>(&plan, || Ok(None)).unwrap();
    assert_eq!(wall.runs, 4);
    assert!(inner.is_none());
    let failing = measure::<&str>(&plan, || Err("boom"));
    assert_eq!(failing.unwrap_err(), "boom");
}

#[test]
fn throughput_arithmetic() {
    // 2 GB in 0.5 s is 4 GB/s; 3·10⁹ updates in 1.5 s are 2 GUPS.
    assert_eq!(Work::Bytes(2_000_000_000).rate(0.5), 4.0);
    assert_eq!(Work::Updates(3_000_000_000).rate(1.5), 2.0);
    assert_eq!(Work::Bytes(1).unit(), "GB/s");
    assert_eq!(Work::Updates(1).unit(), "GUPS");
    assert!(Work::Bytes(1).rate(0.0).is_nan());
    // A copy reads and writes: 1 GB copied in 0.25 s moves 8 GB/s.
    assert_eq!(copy_bandwidth(1_000_000_000, 0.25), 8.0);
    assert_eq!(speedup(3.0, 0.5), 6.0);
    assert!(speedup(1.0, 0.0).is_nan());
}

#[test]
fn parity_check_flags_differences_and_nan_mismatches() {
    let cpu = Array3::from_shape_vec((1, 1, 3), vec![1.0f32, -4.0, f32::NAN]).unwrap();
    let close = Array3::from_shape_vec((1, 1, 3), vec![1.0f32, -4.0001, f32::NAN]).unwrap();
    let p = run::parity(&cpu, &close, 1e-4);
    assert_eq!(p.peak, 4.0);
    assert!(p.passed, "{p:?}");
    assert!(!run::parity(&cpu, &close, 1e-6).passed);
    let nan = Array3::from_shape_vec((1, 1, 3), vec![f32::NAN, -4.0, f32::NAN]).unwrap();
    assert!(!run::parity(&cpu, &nan, 1.0).passed);
    assert!(!run::parity(&cpu, &Array3::zeros((1, 1, 2)), 1.0).passed);
}

/// The operations the library has, from its registry (no source text is read): every
/// operation of `hounsfield::registry::OPERATIONS`, and both directions and an iterative run of
/// every projector pair.
fn library_kernels() -> BTreeSet<String> {
    let mut kernels: BTreeSet<String> = hounsfield::registry::OPERATIONS
        .iter()
        .map(|op| op.name.to_string())
        .collect();
    for kind in hounsfield::recon::ProjectorKind::ALL {
        for part in ["forward", "transpose", "iterative"] {
            kernels.insert(format!("projector:{}:{part}", kind.name()));
        }
    }
    kernels
}

#[test]
fn every_kernel_of_the_library_is_registered_in_the_harness() {
    let kernels = library_kernels();
    for known in [
        "gaussian",
        "median",
        "convolve",
        "sigmoid",
        "fdk",
        "histogram",
        "fista_tv",
    ] {
        assert!(kernels.contains(known), "the registry lacks {known}: {kernels:?}");
    }
    let workloads = registry::workloads();
    let covered: BTreeSet<String> = workloads
        .iter()
        .flat_map(|w| w.covers.iter().map(|c| c.to_string()))
        .collect();
    let missing: Vec<_> = kernels.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "kernels without a workload in benches/harness/registry.rs: {missing:?}"
    );
    let stale: Vec<_> = covered.difference(&kernels).collect();
    assert!(
        stale.is_empty(),
        "workloads cover kernels that no longer exist: {stale:?}"
    );
    let names: BTreeSet<_> = workloads.iter().map(|w| w.name).collect();
    assert_eq!(names.len(), workloads.len(), "workload names must be unique");
}

#[test]
fn quick_run_writes_a_complete_report() {
    let gpu = common::gpu().is_some();
    let out = std::env::temp_dir().join(format!("hounsfield-harness-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let options = run::Options {
        quick: true,
        only: Vec::new(),
        out: out.clone(),
        scale: 1.0,
        scaling_max: 512,
        peers: None,
        gpu,
        model_only: false,
    };
    let mut report = run::run(&options).unwrap();
    // Python peers merge by workload name.
    let peers = out.join("peers-test.json");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        &peers,
        r#"{"environment": {"python": "3.11", "quick": true, "scale": 1.0}, "results": {"gaussian_s2": {"scipy.ndimage.gaussian_filter": 0.5, "SimpleITK": 0.25}}}"#,
    )
    .unwrap();
    assert_eq!(run::merge_peers(&mut report, &peers).unwrap(), 2);
    // Peers measured at other sizes are refused.
    let other = out.join("peers-full.json");
    std::fs::write(
        &other,
        r#"{"environment": {"quick": false, "scale": 1.0}, "results": {}}"#,
    )
    .unwrap();
    assert!(
        run::merge_peers(&mut report, &other)
            .unwrap_err()
            .contains("same options")
    );
    let paths = report::write_all(&report, &out).unwrap();
    for file in ["report.json", "report.md", "speedup.svg", "scaling.svg"] {
        assert!(paths.contains(&out.join(file)), "{file} not written");
        assert!(
            std::fs::metadata(out.join(file)).unwrap().len() > 100,
            "{file} is empty"
        );
    }

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let env = &json["environment"];
    for field in [
        "date_utc",
        "git_commit",
        "cpu_model",
        "logical_cores",
        "os",
        "host_copy_gbps",
    ] {
        assert!(!env[field].is_null(), "environment lacks {field}");
    }
    assert!(env["host_copy_gbps"].as_f64().unwrap() > 0.0);
    let entries = json["entries"].as_array().unwrap();
    let registered = registry::workloads();
    assert_eq!(entries.len(), registered.len(), "one entry per registered workload");
    for (entry, workload) in entries.iter().zip(&registered) {
        let name = entry["name"].as_str().unwrap();
        assert_eq!(name, workload.name);
        let status = entry["status"].as_str().unwrap();
        let timed_on_gpu = gpu && !workload.cpu_only;
        let expected = if timed_on_gpu { "ok" } else { "cpu_only" };
        assert_eq!(status, expected, "{name}: {entry}");
        for field in ["size", "work", "cpu", "cpu_rate", "rate_unit"] {
            assert!(!entry[field].is_null(), "{name} lacks {field}");
        }
        assert!(entry["cpu"]["median_s"].as_f64().unwrap() > 0.0);
        if timed_on_gpu {
            for field in ["parity", "gpu_end_to_end", "speedup_end_to_end", "gpu_rate"] {
                assert!(!entry[field].is_null(), "{name} lacks {field}");
            }
            assert_eq!(entry["parity"]["passed"], true);
            // The work model of one counted run: something dispatched and waited for, priced on
            // every reference GPU.
            let model = &entry["model"];
            assert!(model["dispatches"].as_u64().unwrap() > 0, "{name}: {model}");
            assert!(model["submissions"].as_u64().unwrap() > 0, "{name}: {model}");
            assert!(model["device_bytes"].as_u64().unwrap() > 0, "{name}: {model}");
            let gpus = model["gpus"].as_array().unwrap();
            assert_eq!(gpus.len(), hounsfield::gpu::work::REFERENCE_GPUS.len());
            for g in gpus {
                let (m, f) = (g["modelled_s"].as_f64().unwrap(), g["floor_s"].as_f64().unwrap());
                assert!(m > 0.0 && f > 0.0 && (g["over_floor"].as_f64().unwrap() - m / f).abs() < 1e-9 * m / f);
            }
        }
    }
    let gauss = &entries[0];
    assert_eq!(gauss["peers"][0]["tool"], "SimpleITK");
    let cpu = gauss["cpu"]["median_s"].as_f64().unwrap();
    assert!((gauss["peers"][0]["cpu_speedup"].as_f64().unwrap() - 0.25 / cpu).abs() < 1e-9 * (0.25 / cpu));
    let scaling = json["scaling"].as_array().unwrap();
    assert_eq!(
        scaling.len(),
        2 * registered.iter().filter(|w| w.scaling).count(),
        "two quick sizes per scaling workload"
    );
    assert!(
        scaling
            .iter()
            .all(|p| p["error"].is_null() && p["cpu_s"].as_f64().is_some())
    );

    // Honesty: a software adapter is named as such in the table and the charts.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let chart = std::fs::read_to_string(out.join("speedup.svg")).unwrap();
    if json["environment"]["adapter"]["software"] == true {
        assert!(md.contains("software adapter") && md.contains("not GPU speedups"));
        assert!(md.contains("not a GPU speedup"), "the ratio columns must say so");
        assert!(chart.contains("software"));
        assert!(!md.contains("| GPU speedup"));
    }
    assert!(md.contains("quick mode"));
    if gpu {
        assert!(md.contains("Work model (*model, not measured*)") && md.contains("NVIDIA H200"));
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn model_only_runs_count_every_gpu_workload_without_timing() {
    let Some(_) = common::gpu() else { return };
    let out = std::env::temp_dir().join(format!("hounsfield-harness-model-{}", std::process::id()));
    let options = run::Options {
        quick: true,
        only: vec!["gaussian_s2".into(), "median_r1".into(), "fdk_cone".into()],
        out: out.clone(),
        scale: 1.0,
        scaling_max: 512,
        peers: None,
        gpu: true,
        model_only: true,
    };
    let report = run::run(&options).unwrap();
    // `gaussian_s2` also selects its CPU-only twin `gaussian_s2_into`, which has no model.
    assert_eq!(report.entries.len(), 4);
    assert!(report.scaling.is_empty());
    for e in &report.entries {
        assert!(e.cpu.is_none() && e.gpu_resident.is_none(), "{}: timed", e.name);
        if e.name == "gaussian_s2_into" {
            assert!(
                e.model.is_none() && e.status == run::Status::CpuOnly,
                "{}: {:?}",
                e.name,
                e.status
            );
            continue;
        }
        let m = e.model.as_ref().unwrap_or_else(|| panic!("{}: {:?}", e.name, e.error));
        assert!(m.dispatches > 0 && m.submissions > 0, "{}: {m:?}", e.name);
    }
    // The separable Gaussian: three passes, one submission on resident data.
    let gauss = report.entries.iter().find(|e| e.name == "gaussian_s2").unwrap();
    let m = gauss.model.as_ref().unwrap();
    assert_eq!((m.path, m.submissions, m.readbacks), ("resident", 1, 0));
    assert_eq!(m.dispatches % 3, 0, "{m:?}");
    let _ = std::fs::remove_dir_all(&out);
}

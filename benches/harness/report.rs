//! The report's three forms: `report.json` (everything, machine-readable), `report.md` (the
//! table people read) and two SVG charts (`speedup.svg`, `scaling.svg`). Software-adapter
//! results carry their label in each.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::run::{Report, Status};
use crate::stats::Timing;

/// Writes every form into `dir`; returns the paths written.
pub fn write_all(report: &Report, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let json = dir.join("report.json");
    std::fs::write(
        &json,
        serde_json::to_string_pretty(report).map_err(std::io::Error::other)?,
    )?;
    let md = dir.join("report.md");
    std::fs::write(&md, markdown(report))?;
    let mut written = vec![json, md];
    let speed = dir.join("speedup.svg");
    speedup_chart(report, &speed).map_err(|e| std::io::Error::other(e.to_string()))?;
    written.push(speed);
    if !report.scaling.is_empty() {
        let scaling = dir.join("scaling.svg");
        scaling_chart(report, &scaling).map_err(|e| std::io::Error::other(e.to_string()))?;
        written.push(scaling);
    }
    Ok(written)
}

/// Seconds as the table shows them.
pub fn duration(seconds: f64) -> String {
    if seconds >= 10.0 {
        format!("{seconds:.1} s")
    } else if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 0.1 {
        format!("{:.0} ms", seconds * 1e3)
    } else if seconds >= 1e-3 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{:.1} µs", seconds * 1e6)
    }
}

fn timing(t: &Option<Timing>) -> String {
    match t {
        Some(t) => format!("{} ±{:.0}%", duration(t.median_s), 50.0 * t.spread),
        None => "–".into(),
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map_or("–".into(), |r| format!("{r:.2}×"))
}

fn rate(r: Option<f64>, unit: &str, fraction: Option<f64>) -> String {
    match (r, fraction) {
        (Some(r), Some(f)) => format!("{r:.2} {unit} ({:.0}% of copy)", 100.0 * f),
        (Some(r), None) => format!("{r:.2} {unit}"),
        _ => "–".into(),
    }
}

/// The Markdown report.
pub fn markdown(report: &Report) -> String {
    let env = &report.environment;
    let software = report.gpu_note.is_some();
    let mut s = String::new();
    let _ = writeln!(s, "# hounsfield benchmark report\n");
    let _ = writeln!(
        s,
        "- Date (UTC): {}; commit `{}`{}",
        env.date_utc,
        env.git_commit,
        if env.quick {
            "; **quick mode** (tiny sizes: a smoke test, not a measurement)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "- CPU: {} ({} logical cores, {}); host copy bandwidth {:.1} GB/s",
        env.cpu_model, env.logical_cores, env.os, env.host_copy_gbps
    );
    match &env.adapter {
        Some(a) => {
            let _ = writeln!(
                s,
                "- GPU: {} ({}, {}, driver {}){}; device copy bandwidth {:.1} GB/s; timestamps {}",
                a.name,
                a.backend,
                a.device_type,
                a.driver,
                if a.software { " — **software adapter**" } else { "" },
                env.device_copy_gbps.unwrap_or(f64::NAN),
                if a.timestamps { "available" } else { "not available" }
            );
        }
        None => {
            let _ = writeln!(s, "- GPU: none (CPU paths only)");
        }
    }
    if env.scale != 1.0 && !env.quick {
        let _ = writeln!(s, "- Sizes: the realistic sizes with every edge × {}", env.scale);
    }
    if let Some(note) = &report.gpu_note {
        let _ = writeln!(s, "\n> **{note}.**");
    }
    let _ = writeln!(
        s,
        "\nTimes are medians of several runs (± half the min–max spread). *End to end* includes upload \
         and download; *resident* runs on data already on the GPU (submission and wait included); \
         *kernel* is the sum of GPU timestamp intervals. Rates are GB/s (input + output bytes) for \
         filters and reductions, giga-updates/s (views × voxels) for projectors.\n"
    );
    let gpu_label = if software { "software GPU" } else { "GPU" };
    let ratio_label = if software {
        "CPU/software-GPU time ratio (not a GPU speedup)"
    } else {
        "GPU speedup"
    };
    let _ = writeln!(
        s,
        "| kernel | size | CPU | {gpu_label} end to end | {gpu_label} resident | {gpu_label} kernel | {ratio_label}: end to end | resident | CPU rate | {gpu_label} rate | fastest Python peer | CPU × vs that peer |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for e in &report.entries {
        let unit = e.rate_unit.clone().unwrap_or_default();
        let status = match e.status {
            Status::ParityFailed => {
                let p = e.parity.expect("parity measured");
                format!(
                    " **parity failed** (max diff {:.2e}, peak {:.3e}, tolerance {:.0e}) — not timed",
                    p.max_abs_diff, p.peak, p.tolerance
                )
            }
            Status::Error => format!(" **error**: {}", e.error.clone().unwrap_or_default()),
            Status::CpuOnly => e.error.as_ref().map_or(String::new(), |why| format!(" ({why})")),
            Status::Ok => String::new(),
        };
        let peer = e.peers.first();
        let _ = writeln!(
            s,
            "| {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            e.name,
            status,
            e.size,
            timing(&e.cpu),
            timing(&e.gpu_end_to_end),
            timing(&e.gpu_resident),
            timing(&e.gpu_kernel),
            ratio(e.speedup_end_to_end),
            ratio(e.speedup_resident),
            rate(e.cpu_rate, &unit, e.cpu_fraction_of_host_copy),
            rate(e.gpu_rate, &unit, e.gpu_fraction_of_device_copy),
            peer.map_or("–".into(), |p| format!("{} {}", p.tool, duration(p.seconds))),
            peer.map_or("–".into(), |p| format!("{:.1}×", p.cpu_speedup)),
        );
    }
    if !report.scaling.is_empty() {
        let _ = writeln!(s, "\n## Scaling (time per run against cube size)\n");
        let _ = writeln!(
            s,
            "| kernel | edge | CPU | {gpu_label} end to end | {gpu_label} resident |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|");
        for p in &report.scaling {
            let d = |v: Option<f64>| v.map_or("–".into(), duration);
            let _ = writeln!(
                s,
                "| {} | {}³ | {} | {} | {} |{}",
                p.workload,
                p.edge,
                d(p.cpu_s),
                d(p.gpu_end_to_end_s),
                d(p.gpu_resident_s),
                p.error.as_deref().map(|e| format!(" error: {e}")).unwrap_or_default()
            );
        }
    }
    work_model(&mut s, report);
    if let Some(peers) = &report.peers_environment {
        let _ = writeln!(s, "\nPython peers measured on: `{peers}`");
    }
    s
}

/// The work model's section: counts of one GPU run per workload and its modelled time against
/// the floor on the reference GPUs.
fn work_model(s: &mut String, report: &Report) {
    let modelled: Vec<_> = report
        .entries
        .iter()
        .filter_map(|e| e.model.as_ref().map(|m| (e, m)))
        .collect();
    if modelled.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Work model (*model, not measured*)\n");
    let _ = writeln!(
        s,
        "Counted while one GPU run of each workload was recorded and submitted on this machine's adapter \
         (dispatches, submissions, read-backs, bytes of the storage windows each dispatch binds, less what a \
         kernel that skips settled blocks counted on the device it did not touch: the watershed), then \
         priced on reference GPUs: bytes / bandwidth + {:.0} µs per dispatch + {:.0} µs per submission + {:.0} µs \
         per read-back. The floor is the workload's unavoidable traffic (input and output once; for projectors \
         {} FLOP per update) at peak. Bound windows touched once is optimistic for kernels that re-read \
         neighbourhoods or are compute-bound (medians, projectors): for those the measured times are the \
         guide.\n",
        hounsfield::gpu::work::LAUNCH_SECONDS * 1e6,
        hounsfield::gpu::work::SUBMIT_SECONDS * 1e6,
        hounsfield::gpu::work::READBACK_SECONDS * 1e6,
        crate::run::UPDATE_FLOPS,
    );
    let names: Vec<&str> = modelled[0].1.gpus.iter().map(|g| g.gpu).collect();
    let _ = write!(
        s,
        "| kernel | path | dispatches | submissions | host syncs | modelled bytes | × unavoidable | {} model | {} floor |",
        names[0], names[0]
    );
    for name in &names {
        let _ = write!(s, " {name} × floor |");
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "|{}", "---|".repeat(9 + names.len()));
    for (e, m) in modelled {
        let first = &m.gpus[0];
        let _ = write!(
            s,
            "| {} | {} | {} | {} | {} | {:.1} MiB | {} | {} | {} |",
            e.name,
            m.path,
            m.dispatches,
            m.submissions,
            m.host_syncs,
            m.device_bytes as f64 / 1048576.0,
            m.bytes_over_floor.map_or("–".into(), |r| format!("{r:.2}×")),
            duration(first.modelled_s),
            duration(first.floor_s),
        );
        for g in &m.gpus {
            let _ = write!(s, " {:.1}× |", g.over_floor);
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "\nReference GPUs (vendors' peak figures):\n");
    for g in hounsfield::gpu::work::REFERENCE_GPUS {
        let _ = writeln!(
            s,
            "- {}: {:.0} GB/s, {:.1} TFLOP/s FP32 — {}",
            g.name, g.bandwidth_gbps, g.fp32_tflops, g.source
        );
    }
}

type ChartResult = Result<(), Box<dyn std::error::Error>>;

/// Horizontal bars per kernel (log scale): the GPU's ratio over the CPU (resident where
/// measured) and the CPU's speedup over the fastest Python peer.
fn speedup_chart(report: &Report, path: &Path) -> ChartResult {
    let rows: Vec<_> = report
        .entries
        .iter()
        .filter(|e| e.cpu.is_some())
        .map(|e| {
            (
                e.name.as_str(),
                e.speedup_resident.or(e.speedup_end_to_end),
                e.peers.first().map(|p| p.cpu_speedup),
            )
        })
        .collect();
    let n = rows.len().max(1) as i32;
    let height = 120 + 26 * n as u32;
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let values = rows
        .iter()
        .flat_map(|r| [r.1, r.2])
        .flatten()
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((0.5f64, 2.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let gpu_series = match &report.gpu_note {
        Some(_) => "CPU time / software-GPU time (not a GPU speedup)",
        None => "GPU speedup over the CPU path",
    };
    let caption = match (&report.gpu_note, &report.environment.adapter) {
        (Some(_), _) => "hounsfield: ratios per kernel (GPU = software adapter)".to_string(),
        (None, None) => "hounsfield: CPU path against the fastest Python tool (no GPU in this run)".to_string(),
        (None, Some(a)) => format!("hounsfield: speedups per kernel (GPU: {})", a.name),
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(260)
        .build_cartesian_2d((lo / 1.5..hi * 1.5).log_scale(), (0..n).into_segmented())?;
    chart
        .configure_mesh()
        .x_desc("× (log scale; 1 = equal time)")
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => rows.get(*i as usize).map_or(String::new(), |r| r.0.to_string()),
            _ => String::new(),
        })
        .y_labels(n as usize)
        .draw()?;
    let bar = |i: usize, v: f64, upper: bool| {
        let (a, b) = if upper {
            (SegmentValue::Exact(i as i32), SegmentValue::CenterOf(i as i32))
        } else {
            (SegmentValue::CenterOf(i as i32), SegmentValue::Exact(i as i32 + 1))
        };
        (a, b, v)
    };
    let gpu_color = RGBColor(60, 110, 200);
    let peer_color = RGBColor(220, 120, 40);
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
            r.1.filter(|v| v.is_finite() && *v > 0.0).map(|v| {
                let (a, b, v) = bar(i, v, true);
                Rectangle::new([(1.0, a), (v, b)], gpu_color.filled())
            })
        }))?
        .label(gpu_series)
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], gpu_color.filled()));
    chart
        .draw_series(rows.iter().enumerate().filter_map(|(i, r)| {
            r.2.filter(|v| v.is_finite() && *v > 0.0).map(|v| {
                let (a, b, v) = bar(i, v, false);
                Rectangle::new([(1.0, a), (v, b)], peer_color.filled())
            })
        }))?
        .label("CPU path speedup over the fastest Python peer")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], peer_color.filled()));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Time against voxels (log–log) per kernel and path.
fn scaling_chart(report: &Report, path: &Path) -> ChartResult {
    let root = SVGBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let times = report
        .scaling
        .iter()
        .flat_map(|p| [p.cpu_s, p.gpu_end_to_end_s, p.gpu_resident_s])
        .flatten()
        .filter(|t| *t > 0.0);
    let (tlo, thi) = times.fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let (tlo, thi) = if tlo <= thi { (tlo, thi) } else { (1e-3, 1.0) };
    let vmax = report.scaling.iter().map(|p| p.voxels).max().unwrap_or(1) as f64;
    let vmin = report.scaling.iter().map(|p| p.voxels).min().unwrap_or(1) as f64;
    let gpu = if report.gpu_note.is_some() {
        "software GPU"
    } else {
        "GPU"
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("hounsfield: time against size (CPU and {gpu})"),
            ("sans-serif", 20),
        )
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((vmin / 1.5..vmax * 1.5).log_scale(), (tlo / 1.5..thi * 1.5).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("voxels")
        .y_desc("seconds per run")
        .x_label_formatter(&|v| format!("{:.0}³", v.cbrt()))
        .draw()?;
    let mut names: Vec<&str> = report.scaling.iter().map(|p| p.workload.as_str()).collect();
    names.dedup();
    for (k, name) in names.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        type Pick = fn(&crate::run::ScalingPoint) -> Option<f64>;
        let paths: [(&str, Pick, bool); 3] = [
            ("CPU", |p| p.cpu_s, false),
            ("end to end", |p| p.gpu_end_to_end_s, true),
            ("resident", |p| p.gpu_resident_s, true),
        ];
        for (label, pick, dashed) in paths {
            let points: Vec<(f64, f64)> = report
                .scaling
                .iter()
                .filter(|p| p.workload == *name)
                .filter_map(|p| pick(p).map(|t| (p.voxels as f64, t)))
                .collect();
            if points.is_empty() {
                continue;
            }
            // CPU: thick; end to end: thin; resident: thin and paler.
            let style = ShapeStyle {
                color: if label == "resident" { color.mix(0.45) } else { color },
                filled: false,
                stroke_width: if dashed { 1 } else { 2 },
            };
            let series_label = if label == "CPU" {
                format!("{name} CPU")
            } else {
                format!("{name} {gpu} {label}")
            };
            chart
                .draw_series(LineSeries::new(points.clone(), style).point_size(3))?
                .label(series_label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

//! The harness's run: every selected workload on the CPU and the GPU (parity first, then
//! timing), the scaling study, the Python peers' results merged in.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hounsfield::gpu::GpuContext;
use hounsfield::gpu::work::{REFERENCE_GPUS, WorkCounts};
use ndarray::Array3;
use serde::Serialize;

use crate::env::Environment;
use crate::registry::{Category, Sizing, Workload, workloads};
use crate::stats::{Plan, Timing, Work, measure, speedup};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tiny sizes, few runs: a smoke test of the harness and its report.
    pub quick: bool,
    /// Only these workloads (names or name prefixes); all when empty.
    pub only: Vec<String>,
    /// Report folder.
    pub out: PathBuf,
    /// Edge multiplier of the full sizes (1 = the realistic sizes).
    pub scale: f64,
    /// Largest cube edge of the scaling study (0: no scaling study).
    pub scaling_max: usize,
    /// Python peers' JSON (default: `<out>/peers.json` when it exists).
    pub peers: Option<PathBuf>,
    /// Use the GPU when one exists.
    pub gpu: bool,
    /// Only the work model: one counted GPU run per workload.
    pub model_only: bool,
}

/// How a workload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Timed on every path.
    Ok,
    /// No GPU: timed on the CPU only.
    CpuOnly,
    /// GPU and CPU outputs differ beyond the tolerance: not timed.
    ParityFailed,
    /// A path returned an error (in `error`).
    Error,
}

/// GPU output against CPU output.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Parity {
    /// Largest absolute difference (NaN where only one side is NaN).
    pub max_abs_diff: f64,
    /// Largest absolute CPU value.
    pub peak: f64,
    /// The workload's tolerance, as a fraction of the peak.
    pub tolerance: f64,
    /// `max_abs_diff ≤ tolerance · peak`.
    pub passed: bool,
}

/// One Python tool's time for a workload, from the peers' JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Peer {
    /// Tool and call (`scipy.ndimage.median_filter`).
    pub tool: String,
    /// Median seconds per run.
    pub seconds: f64,
    /// How many times faster the CPU path is.
    pub cpu_speedup: f64,
}

/// One workload's results.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: String,
    pub category: Category,
    pub covers: Vec<String>,
    pub size: String,
    pub work: Option<Work>,
    pub status: Status,
    pub error: Option<String>,
    pub parity: Option<Parity>,
    /// CPU path.
    pub cpu: Option<Timing>,
    /// GPU with upload and download.
    pub gpu_end_to_end: Option<Timing>,
    /// GPU on resident data (submission and wait included).
    pub gpu_resident: Option<Timing>,
    /// GPU kernel time from timestamp queries.
    pub gpu_kernel: Option<Timing>,
    /// CPU median over GPU end-to-end median.
    pub speedup_end_to_end: Option<f64>,
    /// CPU median over GPU resident median.
    pub speedup_resident: Option<f64>,
    /// `GB/s` or `GUPS`.
    pub rate_unit: Option<String>,
    pub cpu_rate: Option<f64>,
    /// GPU rate on resident data where measured, else end to end.
    pub gpu_rate: Option<f64>,
    /// CPU GB/s over the host's copy bandwidth (filters and reductions).
    pub cpu_fraction_of_host_copy: Option<f64>,
    /// GPU GB/s over the device's copy bandwidth.
    pub gpu_fraction_of_device_copy: Option<f64>,
    /// The work model of one GPU run (*model, not measured*).
    pub model: Option<Model>,
    /// Python tools on the same workload, fastest first.
    pub peers: Vec<Peer>,
}

/// FLOPs per voxel update a projector or back-projector cannot avoid (an interpolation and a
/// weight): the compute floor of update workloads in the work model (an assumption).
pub const UPDATE_FLOPS: u64 = 10;

/// What one GPU run of a workload recorded, and its modelled cost on the reference GPUs
/// (`hounsfield::gpu::work`): *model, not measured*.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// The path counted: `resident` (data already on the GPU) or `end to end`.
    pub path: &'static str,
    pub dispatches: u64,
    pub submissions: u64,
    pub readbacks: u64,
    /// Submissions waited for plus read-backs.
    pub host_syncs: u64,
    /// Bytes of the storage windows bound, plus copies (the model's device traffic).
    pub device_bytes: u64,
    /// `device_bytes` over the workload's unavoidable bytes (filters and reductions).
    pub bytes_over_floor: Option<f64>,
    /// Per reference GPU: modelled seconds, floor seconds and their ratio.
    pub gpus: Vec<ModelledGpu>,
}

/// One reference GPU's line of a [`Model`].
#[derive(Debug, Clone, Serialize)]
pub struct ModelledGpu {
    pub gpu: &'static str,
    pub modelled_s: f64,
    pub floor_s: f64,
    pub over_floor: f64,
}

/// The model of `counts`, the work of one run of a workload doing `work`.
pub fn model(counts: &WorkCounts, work: Work, path: &'static str) -> Model {
    let (floor_bytes, floor_flops) = match work {
        Work::Bytes(b) => (b, 0),
        Work::Updates(u) => (0, u.saturating_mul(UPDATE_FLOPS)),
    };
    let gpus = REFERENCE_GPUS
        .iter()
        .map(|g| {
            let modelled_s = g.modelled_seconds(counts);
            let floor_s = g.floor_seconds(floor_bytes, floor_flops);
            ModelledGpu {
                gpu: g.name,
                modelled_s,
                floor_s,
                over_floor: modelled_s / floor_s,
            }
        })
        .collect();
    Model {
        path,
        dispatches: counts.dispatches,
        submissions: counts.submissions,
        readbacks: counts.readbacks,
        host_syncs: counts.host_syncs(),
        device_bytes: counts.device_bytes(),
        bytes_over_floor: (floor_bytes > 0).then(|| counts.device_bytes() as f64 / floor_bytes as f64),
        gpus,
    }
}

/// One point of the scaling study.
#[derive(Debug, Clone, Serialize)]
pub struct ScalingPoint {
    pub workload: String,
    pub edge: usize,
    pub voxels: u64,
    pub cpu_s: Option<f64>,
    pub gpu_end_to_end_s: Option<f64>,
    pub gpu_resident_s: Option<f64>,
    pub error: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub environment: Environment,
    /// Said wherever GPU numbers appear when the adapter is software.
    pub gpu_note: Option<String>,
    pub entries: Vec<Entry>,
    pub scaling: Vec<ScalingPoint>,
    /// The peers' own environment, when merged.
    pub peers_environment: Option<serde_json::Value>,
}

/// The note every table and chart carries when the GPU is a software adapter.
pub fn software_note(adapter: &str) -> String {
    format!(
        "GPU = {adapter}, a software adapter (a CPU emulating a GPU): its times are not GPU speed, \
         and CPU/GPU ratios here are not GPU speedups"
    )
}

fn selected(workload: &Workload, only: &[String]) -> bool {
    only.is_empty() || only.iter().any(|o| workload.name.starts_with(o.as_str()))
}

fn plans(quick: bool) -> (Plan, Plan) {
    if quick {
        let p = Plan {
            warmup: 0,
            min_runs: 2,
            max_runs: 2,
            budget: Duration::ZERO,
        };
        (p, Plan { warmup: 1, ..p })
    } else {
        // The parity run already warmed the path up; the resident path warms up once more
        // (its first run follows the upload).
        let p = Plan {
            warmup: 0,
            min_runs: 3,
            max_runs: 10,
            budget: Duration::from_secs(10),
        };
        (p, Plan { warmup: 1, ..p })
    }
}

/// Compares GPU with CPU output.
pub fn parity(cpu: &Array3<f32>, gpu: &Array3<f32>, tolerance: f64) -> Parity {
    if cpu.dim() != gpu.dim() {
        return Parity {
            max_abs_diff: f64::INFINITY,
            peak: 0.0,
            tolerance,
            passed: false,
        };
    }
    let mut diff = 0.0f64;
    let mut peak = 0.0f64;
    for (&c, &g) in cpu.iter().zip(gpu) {
        if c.is_nan() || g.is_nan() {
            if c.is_nan() != g.is_nan() {
                diff = f64::NAN;
            }
            continue;
        }
        peak = peak.max(f64::from(c.abs()));
        if !diff.is_nan() {
            diff = diff.max(f64::from((c - g).abs()));
        }
    }
    Parity {
        max_abs_diff: diff,
        peak,
        tolerance,
        passed: diff <= tolerance * peak,
    }
}

/// Runs the harness; progress goes to stderr.
pub fn run(options: &Options) -> hounsfield::Result<Report> {
    let ctx = if options.gpu {
        match GpuContext::new() {
            Ok(ctx) => Some(ctx),
            Err(e) => {
                eprintln!("no GPU: {e}; CPU paths only");
                None
            }
        }
    } else {
        None
    };
    let sizing = Sizing {
        quick: options.quick,
        scale: options.scale,
        cube: None,
    };
    eprintln!("measuring copy bandwidths…");
    let environment = Environment::capture(ctx.as_ref(), options.quick, options.scale)?;
    let gpu_note = environment
        .software_gpu()
        .then(|| software_note(&environment.adapter.as_ref().expect("software adapter").name));
    if let Some(note) = &gpu_note {
        eprintln!("note: {note}");
    }
    let (plan, resident_plan) = plans(options.quick);
    let chosen: Vec<Workload> = workloads().into_iter().filter(|w| selected(w, &options.only)).collect();
    let mut entries = Vec::new();
    for (i, workload) in chosen.iter().enumerate() {
        let t = Instant::now();
        let entry = match (options.model_only, ctx.as_ref()) {
            (true, Some(ctx)) => model_workload(workload, &sizing, ctx),
            _ => run_workload(workload, &sizing, ctx.as_ref(), &environment, &plan, &resident_plan),
        };
        eprintln!(
            "[{}/{}] {} ({:.1} s): {}",
            i + 1,
            chosen.len(),
            workload.name,
            t.elapsed().as_secs_f64(),
            summary_line(&entry)
        );
        entries.push(entry);
    }
    let scaling = if options.model_only {
        Vec::new()
    } else {
        scaling_study(&chosen, options, ctx.as_ref())
    };
    let mut report = Report {
        environment,
        gpu_note,
        entries,
        scaling,
        peers_environment: None,
    };
    let peers = options.peers.clone().or_else(|| {
        let default = options.out.join("peers.json");
        default.exists().then_some(default)
    });
    if let Some(path) = peers {
        match merge_peers(&mut report, &path) {
            Ok(n) => eprintln!("merged {n} Python peer results from {}", path.display()),
            Err(e) => eprintln!("could not merge the Python peers' results from {}: {e}", path.display()),
        }
    }
    Ok(report)
}

fn summary_line(e: &Entry) -> String {
    let ms = |t: &Option<Timing>| t.map_or("–".to_string(), |t| format!("{:.2} ms", t.median_s * 1e3));
    match e.status {
        Status::Error => format!("error: {}", e.error.as_deref().unwrap_or("")),
        Status::ParityFailed => format!("PARITY FAILED {:?}", e.parity),
        _ => format!(
            "{}: CPU {}, GPU end-to-end {}, resident {}",
            e.size,
            ms(&e.cpu),
            ms(&e.gpu_end_to_end),
            ms(&e.gpu_resident)
        ),
    }
}

/// The work model alone: one counted GPU run (resident where the case has that form).
fn model_workload(w: &Workload, sizing: &Sizing, ctx: &GpuContext) -> Entry {
    let mut entry = empty_entry(w);
    let outcome = (|| -> hounsfield::Result<()> {
        let mut case = (w.make)(sizing)?;
        entry.size = case.size();
        let work = case.work();
        entry.work = Some(work);
        if w.cpu_only {
            entry.status = Status::CpuOnly;
            return Ok(());
        }
        let resident = case.upload(ctx)?;
        // A first run compiles the kernels; the counted second is the steady state.
        let run = |case: &dyn crate::registry::Case| -> hounsfield::Result<()> {
            if resident {
                case.gpu_resident(ctx).map(|_| ())
            } else {
                case.gpu(ctx).map(|_| ())
            }
        };
        run(case.as_ref())?;
        let before = ctx.work();
        run(case.as_ref())?;
        let path = if resident { "resident" } else { "end to end" };
        entry.model = Some(model(&ctx.work().since(&before), work, path));
        Ok(())
    })();
    if let Err(e) = outcome {
        entry.status = Status::Error;
        entry.error = Some(e.to_string());
    }
    entry
}

fn empty_entry(w: &Workload) -> Entry {
    Entry {
        name: w.name.to_string(),
        category: w.category,
        covers: w.covers.iter().map(|c| c.to_string()).collect(),
        size: String::new(),
        work: None,
        status: Status::Ok,
        error: None,
        parity: None,
        cpu: None,
        gpu_end_to_end: None,
        gpu_resident: None,
        gpu_kernel: None,
        speedup_end_to_end: None,
        speedup_resident: None,
        rate_unit: None,
        cpu_rate: None,
        gpu_rate: None,
        cpu_fraction_of_host_copy: None,
        gpu_fraction_of_device_copy: None,
        model: None,
        peers: Vec::new(),
    }
}

fn run_workload(
    w: &Workload,
    sizing: &Sizing,
    ctx: Option<&GpuContext>,
    environment: &Environment,
    plan: &Plan,
    resident_plan: &Plan,
) -> Entry {
    let mut entry = empty_entry(w);
    let fail = |mut entry: Entry, e: hounsfield::Error| {
        entry.status = Status::Error;
        entry.error = Some(e.to_string());
        entry
    };
    let mut case = match (w.make)(sizing) {
        Ok(c) => c,
        Err(e) => return fail(entry, e),
    };
    entry.size = case.size();
    let work = case.work();
    entry.work = Some(work);
    entry.rate_unit = Some(work.unit().to_string());
    let ctx = ctx.filter(|_| !w.cpu_only);
    // Parity before timing: a GPU path that disagrees with the CPU is not timed.
    let cpu_out = match case.cpu() {
        Ok(o) => o,
        Err(e) => return fail(entry, e),
    };
    let mut ctx = ctx;
    if let Some(gpu) = ctx {
        match case.gpu(gpu) {
            Ok(gpu_out) => {
                let p = parity(&cpu_out, &gpu_out, w.tolerance);
                entry.parity = Some(p);
                if !p.passed {
                    entry.status = Status::ParityFailed;
                    return entry;
                }
            }
            // The adapter cannot hold the problem (a storage binding, a loop budget): the CPU
            // is still timed, and the report says why the GPU was not.
            Err(e @ (hounsfield::Error::TooLarge(_) | hounsfield::Error::AdapterLimit(_))) => {
                entry.error = Some(format!("GPU not run: {e}"));
                ctx = None;
            }
            Err(e) => return fail(entry, e),
        }
    }
    if ctx.is_none() {
        entry.status = Status::CpuOnly;
    }
    drop(cpu_out);
    let cpu = match measure(plan, || case.cpu_timed().map(|_| None)) {
        Ok((t, _)) => t,
        Err(e) => return fail(entry, e),
    };
    entry.cpu = Some(cpu);
    entry.cpu_rate = Some(work.rate(cpu.median_s));
    if let Work::Bytes(_) = work {
        entry.cpu_fraction_of_host_copy = Some(work.rate(cpu.median_s) / environment.host_copy_gbps);
    }
    let Some(ctx) = ctx else { return entry };
    let e2e = match measure(plan, || case.gpu_timed(ctx).map(|_| None)) {
        Ok((t, _)) => t,
        Err(e) => return fail(entry, e),
    };
    entry.gpu_end_to_end = Some(e2e);
    entry.speedup_end_to_end = Some(speedup(cpu.median_s, e2e.median_s));
    let mut gpu_seconds = e2e.median_s;
    let resident = match case.upload(ctx) {
        Ok(true) => match measure(resident_plan, || case.gpu_resident(ctx)) {
            Ok((wall, kernel)) => {
                entry.gpu_resident = Some(wall);
                entry.gpu_kernel = kernel;
                entry.speedup_resident = Some(speedup(cpu.median_s, wall.median_s));
                gpu_seconds = wall.median_s;
                true
            }
            Err(e) => return fail(entry, e),
        },
        Ok(false) => false,
        Err(e) => return fail(entry, e),
    };
    // One more run, counted: the work model of the path that was timed last.
    let before = ctx.work();
    let counted = if resident {
        case.gpu_resident(ctx).map(|_| "resident")
    } else {
        case.gpu(ctx).map(|_| "end to end")
    };
    match counted {
        Ok(path) => entry.model = Some(model(&ctx.work().since(&before), work, path)),
        Err(e) => return fail(entry, e),
    }
    entry.gpu_rate = Some(work.rate(gpu_seconds));
    if let (Work::Bytes(_), Some(device)) = (work, environment.device_copy_gbps) {
        entry.gpu_fraction_of_device_copy = Some(work.rate(gpu_seconds) / device);
    }
    entry
}

fn scaling_study(chosen: &[Workload], options: &Options, ctx: Option<&GpuContext>) -> Vec<ScalingPoint> {
    let edges: Vec<usize> = if options.quick {
        vec![8, 16]
    } else {
        [64, 128, 256, 512]
            .into_iter()
            .filter(|&n| n <= options.scaling_max)
            .collect()
    };
    let plan = Plan {
        warmup: 1,
        min_runs: if options.quick { 1 } else { 2 },
        max_runs: if options.quick { 1 } else { 5 },
        budget: Duration::from_secs(if options.quick { 0 } else { 3 }),
    };
    let mut points = Vec::new();
    for w in chosen.iter().filter(|w| w.scaling) {
        for &edge in &edges {
            let sizing = Sizing {
                quick: options.quick,
                scale: options.scale,
                cube: Some(edge),
            };
            let t = Instant::now();
            let point = scaling_point(w, &sizing, edge, ctx, &plan);
            eprintln!(
                "scaling {} {edge}³ ({:.1} s): CPU {:?} s, GPU end-to-end {:?} s, resident {:?} s{}",
                w.name,
                t.elapsed().as_secs_f64(),
                point.cpu_s,
                point.gpu_end_to_end_s,
                point.gpu_resident_s,
                point
                    .error
                    .as_deref()
                    .map(|e| format!(", error: {e}"))
                    .unwrap_or_default()
            );
            points.push(point);
        }
    }
    points
}

fn scaling_point(w: &Workload, sizing: &Sizing, edge: usize, ctx: Option<&GpuContext>, plan: &Plan) -> ScalingPoint {
    let mut point = ScalingPoint {
        workload: w.name.to_string(),
        edge,
        voxels: (edge as u64).pow(3),
        cpu_s: None,
        gpu_end_to_end_s: None,
        gpu_resident_s: None,
        error: None,
    };
    let result = (|| -> hounsfield::Result<()> {
        let mut case = (w.make)(sizing)?;
        point.cpu_s = Some(measure(plan, || case.cpu().map(|_| None))?.0.median_s);
        if let Some(ctx) = ctx {
            point.gpu_end_to_end_s = Some(measure(plan, || case.gpu(ctx).map(|_| None))?.0.median_s);
            if case.upload(ctx)? {
                point.gpu_resident_s = Some(measure(plan, || case.gpu_resident(ctx))?.0.median_s);
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        point.error = Some(e.to_string());
    }
    point
}

/// Merges `{"environment": {...}, "results": {"<workload>": {"<tool>": seconds}}}`; returns the
/// number of peer results merged.
pub fn merge_peers(report: &mut Report, path: &std::path::Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    // Peers timed at other sizes would make meaningless ratios.
    if let Some(peer_env) = json.get("environment") {
        let ours = &report.environment;
        let quick = peer_env.get("quick").and_then(|q| q.as_bool());
        let scale = peer_env.get("scale").and_then(|s| s.as_f64());
        if quick.is_some_and(|q| q != ours.quick) || scale.is_some_and(|s| (s - ours.scale).abs() > 1e-9) {
            return Err(format!(
                "the peers ran with quick={quick:?}, scale={scale:?}; this run has quick={}, scale={}: \
                 rerun scripts/python_peers.py with the same options",
                ours.quick, ours.scale
            ));
        }
    }
    let results = json
        .get("results")
        .and_then(|r| r.as_object())
        .ok_or("no \"results\" object")?;
    let mut merged = 0;
    for entry in &mut report.entries {
        let (Some(tools), Some(cpu)) = (results.get(&entry.name).and_then(|t| t.as_object()), entry.cpu) else {
            continue;
        };
        let mut peers: Vec<Peer> = tools
            .iter()
            .filter_map(|(tool, s)| {
                s.as_f64().filter(|s| *s > 0.0).map(|seconds| Peer {
                    tool: tool.clone(),
                    seconds,
                    cpu_speedup: speedup(seconds, cpu.median_s),
                })
            })
            .collect();
        peers.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        merged += peers.len();
        entry.peers = peers;
    }
    report.peers_environment = json.get("environment").cloned();
    Ok(merged)
}

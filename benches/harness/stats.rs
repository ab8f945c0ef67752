//! Robust timing: warm-up runs, then repeated runs summarised by their median and spread, and
//! the throughput arithmetic of the report (GB/s, giga-updates per second, speedups).

use std::time::{Duration, Instant};

use serde::Serialize;

/// How many times a path runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Untimed runs first (pipeline compilation, caches, page faults).
    pub warmup: usize,
    /// Timed runs at least.
    pub min_runs: usize,
    /// Timed runs at most.
    pub max_runs: usize,
    /// Past `min_runs`, stop once the timed runs took this long.
    pub budget: Duration,
}

/// A summary of timed runs, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timing {
    /// Median.
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Slowest run.
    pub max_s: f64,
    /// `(max − min) / median`.
    pub spread: f64,
    /// Timed runs.
    pub runs: usize,
}

/// The median, extremes and relative spread of `samples` (seconds); `None` when empty or when
/// a sample is not a finite non-negative time.
pub fn summarize(samples: &[f64]) -> Option<Timing> {
    if samples.is_empty() || samples.iter().any(|s| !s.is_finite() || *s < 0.0) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let (min, max) = (sorted[0], sorted[n - 1]);
    Some(Timing {
        median_s: median,
        min_s: min,
        max_s: max,
        spread: if median > 0.0 { (max - min) / median } else { 0.0 },
        runs: n,
    })
}

/// Runs `f` per `plan` and summarises the wall times of the timed runs. `f` may also return a
/// second duration measured inside it (GPU timestamps), summarised alike when every run has one.
pub fn measure<E>(
    plan: &Plan,
    mut f: impl FnMut() -> Result<Option<Duration>, E>,
) -> Result<(Timing, Option<Timing>), E> {
    for _ in 0..plan.warmup {
        f()?;
    }
    let mut wall = Vec::new();
    let mut inner = Vec::new();
    let start = Instant::now();
    while wall.len() < plan.max_runs.max(1) && (wall.len() < plan.min_runs.max(1) || start.elapsed() < plan.budget) {
        let t = Instant::now();
        let measured = f()?;
        wall.push(t.elapsed().as_secs_f64());
        if let Some(d) = measured {
            inner.push(d.as_secs_f64());
        }
    }
    let wall = summarize(&wall).expect("at least one finite run");
    let inner = if inner.len() == wall.runs {
        summarize(&inner)
    } else {
        None
    };
    Ok((wall, inner))
}

/// What a workload does per run, for its throughput.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "amount", rename_all = "snake_case")]
pub enum Work {
    /// Bytes a run must read and write at least (input + output): filters.
    Bytes(u64),
    /// Voxel updates (views × voxels per projection or back-projection): projectors.
    Updates(u64),
}

impl Work {
    /// GB/s (10⁹ bytes) or giga-updates per second at `seconds` per run.
    pub fn rate(self, seconds: f64) -> f64 {
        let amount = match self {
            Work::Bytes(b) => b,
            Work::Updates(u) => u,
        };
        if seconds > 0.0 {
            amount as f64 / seconds / 1e9
        } else {
            f64::NAN
        }
    }

    /// The unit of [`Work::rate`].
    pub fn unit(self) -> &'static str {
        match self {
            Work::Bytes(_) => "GB/s",
            Work::Updates(_) => "GUPS",
        }
    }
}

/// Copy bandwidth in GB/s: a copy of `bytes` reads and writes each byte once.
pub fn copy_bandwidth(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        2.0 * bytes as f64 / seconds / 1e9
    } else {
        f64::NAN
    }
}

/// How many times faster `fast` is than `slow` (both seconds).
pub fn speedup(slow: f64, fast: f64) -> f64 {
    if fast > 0.0 { slow / fast } else { f64::NAN }
}

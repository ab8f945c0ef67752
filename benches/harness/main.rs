//! The benchmark harness: every registered kernel on the CPU and the GPU, against the Python
//! tools (merged from `scripts/python_peers.py`), as JSON, Markdown and SVG charts.
//!
//! `cargo bench --bench harness -- [--quick] [--only median,fdk] [--out DIR] [--scale 0.5]`
//!
//! Kernels join by registration in `registry.rs`; see README's Benchmarks section.

mod env;
mod registry;
mod report;
mod run;
mod stats;

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "hounsfield benchmark harness: CPU against GPU against the Python tools")]
struct Args {
    /// Tiny sizes and few runs: checks that the harness and its report work (numbers mean nothing).
    #[arg(long)]
    quick: bool,
    /// Only these workloads (comma-separated names or prefixes, e.g. `median,fdk`).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Report folder.
    #[arg(long, default_value = "target/harness")]
    out: PathBuf,
    /// Multiply every edge of the realistic sizes (0.5: 256×256×128 instead of 512×512×256).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Largest cube edge of the scaling study (64…512; 0 skips it).
    #[arg(long, default_value_t = 512)]
    scaling_max: usize,
    /// The Python peers' JSON (default: <out>/peers.json when present).
    #[arg(long)]
    peers: Option<PathBuf>,
    /// CPU paths only.
    #[arg(long)]
    no_gpu: bool,
    /// The work model only: one counted GPU run per workload, no CPU, no timing (runs on a
    /// software adapter at full size in minutes; the model needs no real GPU).
    #[arg(long)]
    model_only: bool,
    /// Ignored: cargo bench passes it to every bench target.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    if !(args.scale > 0.0 && args.scale.is_finite()) {
        eprintln!("error: --scale must be a positive number, not {}", args.scale);
        std::process::exit(2);
    }
    let options = run::Options {
        quick: args.quick,
        only: args.only,
        out: args.out,
        scale: args.scale,
        scaling_max: args.scaling_max,
        peers: args.peers,
        gpu: !args.no_gpu,
        model_only: args.model_only,
    };
    let result = run::run(&options)
        .map_err(|e| e.to_string())
        .and_then(|report| report::write_all(&report, &options.out).map_err(|e| e.to_string()));
    match result {
        Ok(paths) => {
            for p in paths {
                println!("wrote {}", p.display());
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

"""Benchmark (not a test): hounsfield on Dask, measured on this machine.

1. A cohort: 8 synthetic CT studies (DICOM, int16) through ``hounsfield.batch.process_series``
   with a text pipeline, on a ``distributed.LocalCluster`` of 1 and of 2 worker processes (one
   thread each), and on 1 worker process with 2 threads. Each with the library's own CPU threads
   limited to 1 per task (``RAYON_NUM_THREADS=1``: the scaling Dask itself adds) and left at the
   machine's cores (what a user gets by default).
2. Out of core: a float32 volume in zarr larger than the memory limit given to the workers,
   Gaussian then median 3x3x3 chunk by chunk, written back to zarr; peak worker memory reported.

Writes a JSON report and a Markdown table (``--out``). Usage:

    python python/benches/dask_scaling.py --out docs/benchmarks/2026-12-01-dask
"""

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import dask.array as da
import distributed
import numpy as np

import hounsfield as h
import hounsfield.dask as hd
from hounsfield.batch import process_series

PIPELINE = "median:1 gaussian:1.0"


def make_studies(root, count, shape, seed=7):
    """Synthetic CT studies: a water cylinder with bone and air inserts, plus noise (HU)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]].astype(np.float32)
    cy, cx = (shape[1] - 1) / 2, (shape[2] - 1) / 2
    r = np.hypot(y - cy, x - cx)
    base = np.where(r < 0.42 * shape[1], 0.0, -1000.0).astype(np.float32)
    base[np.hypot(y - cy * 0.7, x - cx * 1.2) < 0.08 * shape[1]] = 700.0
    base[np.hypot(y - cy * 1.3, x - cx * 0.8) < 0.06 * shape[1]] = -800.0
    folders = []
    for i in range(count):
        folder = root / f"study{i:02d}"
        noisy = np.round(base + rng.normal(0, 25, size=shape)).astype(np.float32)
        h.write_dicom_series(noisy, folder, spacing=(1.25, 0.7, 0.7))
        folders.append(folder)
    return folders


def run_cohort(folders, out, workers, threads, rayon_threads):
    env = {} if rayon_threads is None else {"RAYON_NUM_THREADS": str(rayon_threads)}
    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=":0", env=env
    )
    try:
        with distributed.Client(cluster) as client:
            # Warm each worker (imports, thread pools) outside the timing.
            client.run(lambda: h.median_filter(np.zeros((8, 8, 8), np.float32), backend="cpu"))
            shutil.rmtree(out, ignore_errors=True)
            start = time.perf_counter()
            rows = process_series(folders, PIPELINE, out=out, client=client, backend="cpu", progress=False)
            seconds = time.perf_counter() - start
    finally:
        cluster.close()
    bad = [r for r in rows if r["status"] != "done"]
    if bad:
        raise RuntimeError(f"cohort failed: {bad}")
    return seconds


def worker_peak_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_out_of_core(root, shape, chunks, memory_limit):
    src, dst = str(root / "in.zarr"), str(root / "out.zarr")
    da.random.default_rng(3).random(shape, chunks=chunks, dtype=np.float32).to_zarr(src, overwrite=True)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", memory_limit=memory_limit
    )
    try:
        with distributed.Client(cluster) as client:
            client.run(lambda: h.median_filter(np.zeros((8, 8, 8), np.float32), backend="cpu"))
            base = client.run(worker_peak_mib)
            x = da.from_zarr(src)
            start = time.perf_counter()
            job = hd.median_filter(hd.gaussian_filter(x, 1.0, backend="cpu"), size=3, backend="cpu").to_zarr(
                dst, overwrite=True, compute=False
            )
            client.compute(job).result()
            seconds = time.perf_counter() - start
            peaks = client.run(worker_peak_mib)
    finally:
        cluster.close()
    return seconds, base, peaks


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="target/dask-bench", help="report path without extension")
    parser.add_argument("--studies", type=int, default=8)
    parser.add_argument("--study-shape", default="48,256,256", help="z,y,x of each synthetic study")
    parser.add_argument("--volume-shape", default="768,512,512", help="z,y,x of the out-of-core volume (float32)")
    parser.add_argument("--memory-limit", default="512MiB", help="per worker, out-of-core run")
    args = parser.parse_args()
    study_shape = tuple(int(v) for v in args.study_shape.split(","))
    volume_shape = tuple(int(v) for v in args.volume_shape.split(","))

    root = Path(tempfile.mkdtemp(prefix="hounsfield-dask-bench-"))
    report = {
        "machine": f"{platform.node()} ({os.cpu_count()} cores, {platform.machine()})",
        "python": platform.python_version(),
        "dask": __import__("dask").__version__,
        "distributed": distributed.__version__,
        "pipeline": PIPELINE,
        "studies": args.studies,
        "study_shape": study_shape,
        "cohort": [],
    }
    try:
        folders = make_studies(root / "in", args.studies, study_shape)
        for rayon in (1, None):
            for workers, threads in ((1, 1), (2, 1), (1, 2)):
                seconds = run_cohort(folders, root / "out", workers, threads, rayon)
                report["cohort"].append(
                    {"workers": workers, "threads_per_worker": threads, "rayon_threads": rayon or os.cpu_count(), "seconds": round(seconds, 2)}
                )
                print(report["cohort"][-1], flush=True)
        seconds, base, peaks = run_out_of_core(root, volume_shape, (16,) + volume_shape[1:], args.memory_limit)
        report["out_of_core"] = {
            "shape": volume_shape,
            "volume_mib": round(np.prod(volume_shape) * 4 / 2**20),
            "memory_limit_per_worker": args.memory_limit,
            "workers": 2,
            "seconds": round(seconds, 2),
            "worker_peak_mib": [round(v) for v in peaks.values()],
            "worker_base_mib": [round(v) for v in base.values()],
        }
        print(report["out_of_core"], flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    lines = [
        f"# hounsfield on Dask — {report['machine']}",
        "",
        f"dask {report['dask']}, distributed {report['distributed']}, Python {report['python']}; CPU backend.",
        "",
        f"## Cohort: {args.studies} synthetic CT studies of {study_shape[0]}×{study_shape[1]}×{study_shape[2]}, `{PIPELINE}`",
        "",
        "| worker processes | threads per worker | library threads per task | seconds | speed-up vs 1×1 |",
        "|---|---|---|---|---|",
    ]
    for rayon in sorted({r["rayon_threads"] for r in report["cohort"]}):
        rows = [r for r in report["cohort"] if r["rayon_threads"] == rayon]
        base = next(r["seconds"] for r in rows if r["workers"] == 1 and r["threads_per_worker"] == 1)
        for r in rows:
            lines.append(
                f"| {r['workers']} | {r['threads_per_worker']} | {rayon} | {r['seconds']:.2f} | {base / r['seconds']:.2f}× |"
            )
    o = report["out_of_core"]
    lines += [
        "",
        f"## Out of core: {o['shape'][0]}×{o['shape'][1]}×{o['shape'][2]} float32 ({o['volume_mib']} MiB) in zarr, "
        f"Gaussian σ=1 then median 3³, 2 workers limited to {o['memory_limit_per_worker']} each",
        "",
        f"{o['seconds']:.1f} s; peak resident memory per worker {o['worker_peak_mib']} MiB "
        f"(after start-up {o['worker_base_mib']} MiB).",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

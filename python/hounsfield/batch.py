"""Cohorts: one pipeline over many DICOM series, one task per series, on Dask.

``process_series(folders, pipeline, out=..., client=...)`` reads each series, runs a text
pipeline (``"median:1 gaussian:0.8"``, the example programs' syntax) or any function of
``(volume, meta)`` (a filter chain, an FDK or iterative reconstruction), and writes the result as
a derived DICOM series that joins the source's patient and study. With a
``dask.distributed.Client`` the tasks run on its workers (a laptop's ``LocalCluster``, SLURM
through dask-jobqueue, Kubernetes); without one on the local threaded scheduler.

* **Failures stay local.** A corrupt or unreadable study is reported in its row of the result
  (``status="error"`` and the message); the others complete.
* **Nothing partial looks complete.** Each output is written to a temporary folder beside its
  destination, a ``.hounsfield-complete.json`` marker written last, and the folder renamed into
  place; a destination without its marker (an interrupted run) is replaced.
* **Resumable.** A destination with its marker is skipped (``status="skipped"``) unless
  ``overwrite=True``.
* **Progress** shows as dask's progress bar (``distributed.progress`` on a cluster; its dashboard
  shows the tasks too).
"""

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import hounsfield as _hf

__all__ = ["process_series", "MARKER"]

MARKER = ".hounsfield-complete.json"
"""The file whose presence says an output series is complete."""


def _destinations(folders, out, suffix):
    """One output folder per input folder: ``out/<name>`` (names made unique) or, without
    ``out``, ``<folder><suffix>`` beside each input."""
    result, seen = [], {}
    for folder in folders:
        folder = Path(folder)
        if out is None:
            result.append(folder.parent / (folder.name + suffix))
            continue
        name = folder.name or "series"
        count = seen.get(name, 0)
        seen[name] = count + 1
        result.append(Path(out) / (name if count == 0 else f"{name}-{count}"))
    if len(set(result)) != len(result):
        raise ValueError("two inputs map to the same output folder; give distinct folders or out=")
    return result


def _is_complete(destination):
    return (Path(destination) / MARKER).is_file()


def _run_pipeline(volume, meta, pipeline, backend):
    if callable(pipeline):
        return pipeline(volume, meta)
    return _hf.pipeline(volume, pipeline, spacing=meta["spacing"], backend=backend)


def _process_one(job):
    """One series, start to finish; never raises (the row says what happened)."""
    folder, destination, pipeline, backend, index, lenient, description, overwrite = job
    row = {"folder": str(folder), "output": str(destination), "status": "error", "slices": 0, "seconds": 0.0, "message": ""}
    start = time.perf_counter()
    try:
        destination = Path(destination)
        if _is_complete(destination) and not overwrite:
            row["status"] = "skipped"
            row["message"] = "complete output found (its marker exists); pass overwrite=True to redo it"
            return row
        volume, meta = _hf.read_dicom_series(folder, index=index, lenient=lenient)
        result = _run_pipeline(volume, meta, pipeline, backend)
        result = result.to_numpy() if isinstance(result, _hf.GpuArray) else result
        if getattr(result, "ndim", 0) != 3:
            raise ValueError(f"the pipeline returned {type(result).__name__} of {getattr(result, 'ndim', '?')} dimensions; return a (z, y, x) volume")
        source = _first_file(folder)
        temporary = destination.parent / f".{destination.name}.partial-{uuid.uuid4().hex[:8]}"
        temporary.mkdir(parents=True)
        try:
            files = _hf.write_dicom_series(
                result,
                temporary,
                spacing=_output_spacing(meta["spacing"], volume.shape, result.shape),
                origin=meta["origin"],
                direction=meta["direction"],
                description=description,
                source=source,
            )
            (temporary / MARKER).write_text(
                json.dumps({"source": str(folder), "pipeline": pipeline if isinstance(pipeline, str) else repr(pipeline), "files": len(files)})
            )
            if destination.exists():
                shutil.rmtree(destination)
            os.replace(temporary, destination)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)
        row.update(status="done", slices=int(result.shape[0]), message="; ".join(meta["warnings"]))
    except Exception as error:  # one bad study must not stop the cohort
        row["message"] = f"{type(error).__name__}: {error}"
    finally:
        row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def _output_spacing(spacing, shape_in, shape_out):
    """A resampling pipeline changes the voxel size: keep the physical extent."""
    return tuple(
        s * (n_in - 1) / (n_out - 1) if n_out > 1 and n_in > 1 and n_in != n_out else s
        for s, n_in, n_out in zip(spacing, shape_in, shape_out)
    )


def _first_file(folder):
    """A DICOM file of the folder (preamble + "DICM") whose patient and study the output joins;
    other files (notes, thumbnails) are passed over."""
    candidates = [e for e in sorted(Path(folder).iterdir()) if e.is_file() and not e.name.startswith(".")]
    for entry in candidates:
        with open(entry, "rb") as f:
            if f.read(132)[128:] == b"DICM":
                return str(entry)
    return str(candidates[0]) if candidates else None


def process_series(
    folders,
    pipeline,
    out=None,
    client=None,
    *,
    backend="auto",
    index=0,
    lenient=False,
    description=None,
    overwrite=False,
    suffix="_hounsfield",
    progress=True,
):
    """Runs ``pipeline`` over the DICOM series in ``folders`` (one task per folder; series
    ``index`` of each, largest first) and writes each result as a derived series.

    ``pipeline``: a text pipeline or a picklable function ``f(volume, meta) -> volume``. ``out``:
    the folder for the outputs (``out/<folder name>``); without it each output goes beside its
    input as ``<folder><suffix>``. ``client``: a ``dask.distributed.Client`` (``None``: dask's
    local threaded scheduler). Returns one dict per folder, in order: ``folder``, ``output``,
    ``status`` (``"done"``, ``"skipped"`` or ``"error"``), ``slices``, ``seconds``, ``message``
    (``pandas.DataFrame(rows)`` makes it a table).
    """
    import dask

    if isinstance(folders, (str, os.PathLike)):
        raise TypeError("folders: give a list of series folders, not one path")
    folders = [Path(f) for f in folders]
    if not (isinstance(pipeline, str) or callable(pipeline)):
        raise TypeError("pipeline: give a text pipeline (e.g. 'median:1 gaussian:0.8') or a function f(volume, meta)")
    if isinstance(pipeline, str):
        _hf._hounsfield.pipeline(_tiny(), pipeline, [1.0, 1.0, 1.0], "cpu")  # a typo fails here, not in every task
    if description is None:
        description = f"hounsfield {pipeline}" if isinstance(pipeline, str) else f"hounsfield {getattr(pipeline, '__name__', 'function')}"
    destinations = _destinations(folders, out, suffix)
    jobs = [(str(f), str(d), pipeline, backend, int(index), bool(lenient), description, bool(overwrite)) for f, d in zip(folders, destinations)]
    if not jobs:
        return []
    if client is None:
        tasks = [dask.delayed(_process_one, pure=False)(job) for job in jobs]
        if progress:
            from dask.diagnostics import ProgressBar

            with ProgressBar():
                return list(dask.compute(*tasks, scheduler="threads"))
        return list(dask.compute(*tasks, scheduler="threads"))
    futures = client.map(_process_one, jobs, pure=False)
    if progress:
        from distributed import progress as show_progress

        show_progress(futures)
    rows = []
    for job, future in zip(jobs, futures):
        try:
            rows.append(future.result())
        except Exception as error:  # the worker or the cluster went away
            rows.append(
                {"folder": job[0], "output": job[1], "status": "error", "slices": 0, "seconds": 0.0, "message": f"lost: {type(error).__name__}: {error}"}
            )
    return rows


def _tiny():
    import numpy as np

    return np.zeros((4, 4, 4), dtype=np.float32)

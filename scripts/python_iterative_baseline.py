"""ASTRA's CPU SIRT on the sinogram `examples/sirt_problem.rs` writes, for the side-by-side
comparison of issue 7: `cargo run --release --example sirt_problem -- /tmp/sirt`, then
`python scripts/python_iterative_baseline.py /tmp/sirt`.

ASTRA's 2D parallel geometry, its 'linear' (Joseph) projector and SIRT; 100 iterations; time
(best of two) and mean absolute error against the same rasterised phantom hounsfield reports.
ASTRA's angle and row conventions differ from hounsfield's (scikit-image's): the script picks
the orientation whose ASTRA forward projection of the phantom matches the sinogram best and
says which.
"""
import json
import sys
import time

import astra
import numpy as np

folder = sys.argv[1] if len(sys.argv) > 1 else "sirt_problem"
sinogram = np.load(f"{folder}/sinogram.npy")[:, 0, :].astype(np.float32)  # views × cols
truth = np.load(f"{folder}/truth.npy")[0].astype(np.float32)  # y × x
views, cols = sinogram.shape
angles = np.deg2rad(np.arange(views, dtype=np.float64))
vol_geom = astra.create_vol_geom(truth.shape[0], truth.shape[1])


def forward(image, angle_sign):
    proj_geom = astra.create_proj_geom("parallel", 1.0, cols, angle_sign * angles)
    pid = astra.create_projector("linear", proj_geom, vol_geom)
    _, data = astra.create_sino(image, pid)
    astra.projector.delete(pid)
    astra.data2d.clear()
    return data


candidates = {}
for sign in (1, -1):
    for flip in (False, True):
        image = truth[::-1] if flip else truth
        candidates[(sign, flip)] = float(np.abs(forward(image, sign) - sinogram).mean())
(sign, flip), mismatch = min(candidates.items(), key=lambda kv: kv[1])
print(f"orientation: angle sign {sign}, rows flipped {flip} (mean |ASTRA FP - sinogram| {mismatch:.4f}; others "
      + ", ".join(f"{k}: {v:.3f}" for k, v in candidates.items() if k != (sign, flip)) + ")")

proj_geom = astra.create_proj_geom("parallel", 1.0, cols, sign * angles)
best = None
for _ in range(2):
    pid = astra.create_projector("linear", proj_geom, vol_geom)
    sid = astra.data2d.create("-sino", proj_geom, sinogram)
    rid = astra.data2d.create("-vol", vol_geom, 0)
    cfg = astra.astra_dict("SIRT")
    cfg["ProjectorId"] = pid
    cfg["ProjectionDataId"] = sid
    cfg["ReconstructionDataId"] = rid
    aid = astra.algorithm.create(cfg)
    t = time.perf_counter()
    astra.algorithm.run(aid, 100)
    secs = time.perf_counter() - t
    rec = astra.data2d.get(rid)
    astra.algorithm.delete(aid)
    astra.data2d.clear()
    astra.projector.delete(pid)
    best = secs if best is None else min(best, secs)
if flip:
    rec = rec[::-1]
mae = float(np.abs(rec - truth).mean())
print(f"ASTRA {astra.__version__} CPU SIRT 256² / {views} views, 100 iterations: {best:.2f} s, MAE {mae:.4f}")
ours = np.load(f"{folder}/sirt.npy")[0]
print(f"hounsfield SIRT vs ASTRA SIRT: mean |difference| {float(np.abs(ours - rec).mean()):.2e} (phantom range 0..1)")
json.dump({"astra_sirt_s": best, "astra_sirt_mae": mae}, open(f"{folder}/astra.json", "w"))

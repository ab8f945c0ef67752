"""The Python tools a team uses today, on the benchmark harness's workloads (same names, same
sizes, same kind of data), timed on this machine and written as JSON for the harness to merge:

    python scripts/python_peers.py [--quick] [--scale 0.5] [--only median,fdk] [--out target/harness]
    cargo bench --bench harness -- [--quick] [--scale 0.5] --out target/harness   # merges peers.json

Tools: scipy.ndimage, scikit-image, SimpleITK, ASTRA (CPU, 2D), RTK (CPU, itk-rtk), numpy, and
numba `@njit(parallel=True)` versions of the loops a team writes first (median 3x3x3, box mean,
window). Each tool runs the same operation as the hounsfield workload of the same name; its
median time over the runs is reported. Tools that are not installed are skipped with a note.
Sizes follow benches/harness/registry.rs (`Sizing::edge`): the realistic sizes times --scale,
or /32 with --quick.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

FULL = (256, 512, 512)
THIN = (64, 512, 512)
CUBE = (256, 256, 256)


def edge(full, args):
    n = full / 32.0 if args.quick else full * args.scale
    return max(int(round(n)), 4)


def shape(full, args):
    return tuple(edge(d, args) for d in full)


def noise(shp):
    rng = np.random.default_rng(0)
    return (rng.random(shp, dtype=np.float32) * 2000 - 1000).astype(np.float32)


def ct_mask(shp):
    """Twin of `ct_mask` in benches/harness/registry.rs: an elliptic body with two lung
    cavities and small spherical nodules inside the lungs every 24 slices."""
    nz, ny, nx = shp
    z, y, x = np.ogrid[:nz, :ny, :nx]
    x = x + 0.5
    y = y + 0.5
    cx, cy = nx / 2.0, ny / 2.0
    pitch, radius = max(0.06 * nx, 3.0), max(0.012 * nx, 1.0)
    body = ((x - cx) / (0.43 * nx)) ** 2 + ((y - cy) / (0.32 * ny)) ** 2 < 1.0
    lung = ((np.abs(x - cx) - 0.18 * nx) / (0.1 * nx)) ** 2 + ((y - cy) / (0.2 * ny)) ** 2 < 1.0
    gx, gy = np.round(x / pitch) * pitch, np.round(y / pitch) * pitch
    gz = np.round(z / 24.0) * 24.0 + 4.0
    nodule = (x - gx) ** 2 + (y - gy) ** 2 + ((z - gz) * 2.0) ** 2 < radius * radius
    return ((body & ~lung) | (lung & nodule)).astype(np.float32)


def optional(name):
    try:
        return __import__(name)
    except ImportError:
        print(f"note: {name} is not installed; its columns are skipped", file=sys.stderr)
        return None


def numba_kernels():
    numba = optional("numba")
    if numba is None:
        return {}
    from numba import njit, prange

    @njit(parallel=True, cache=False)
    def median3(v):
        nz, ny, nx = v.shape
        out = np.empty_like(v)
        for z in prange(nz):
            buf = np.empty(27, np.float32)
            for y in range(ny):
                for x in range(nx):
                    k = 0
                    for dz in range(-1, 2):
                        zz = min(max(z + dz, 0), nz - 1)
                        for dy in range(-1, 2):
                            yy = min(max(y + dy, 0), ny - 1)
                            for dx in range(-1, 2):
                                xx = min(max(x + dx, 0), nx - 1)
                                buf[k] = v[zz, yy, xx]
                                k += 1
                    out[z, y, x] = np.sort(buf)[13]
        return out

    @njit(parallel=True, cache=False)
    def box3(v):
        nz, ny, nx = v.shape
        out = np.empty_like(v)
        for z in prange(nz):
            for y in range(ny):
                for x in range(nx):
                    s = 0.0
                    for dz in range(-1, 2):
                        zz = min(max(z + dz, 0), nz - 1)
                        for dy in range(-1, 2):
                            yy = min(max(y + dy, 0), ny - 1)
                            for dx in range(-1, 2):
                                xx = min(max(x + dx, 0), nx - 1)
                                s += v[zz, yy, xx]
                    out[z, y, x] = s / 27.0
        return out

    @njit(parallel=True, cache=False)
    def window(v, c, w):
        out = np.empty_like(v)
        flat, res = v.ravel(), out.ravel()
        for i in prange(flat.size):
            res[i] = min(max((flat[i] - (c - 0.5)) / (w - 1.0) + 0.5, 0.0), 1.0)
        return out

    return {"median3": median3, "box3": box3, "window": window}


def filter_cases(args):
    import scipy.ndimage as ndi

    skimage = optional("skimage")
    sitk = optional("SimpleITK")
    nb = numba_kernels()
    cases = {}

    def add(name, full, tools, binary=False):
        cases[name] = (full, tools, binary)

    def sitk_img(v, spacing=None):
        img = sitk.GetImageFromArray(v)
        if spacing:
            img.SetSpacing(spacing)
        return img

    gauss = {"scipy.ndimage.gaussian_filter": lambda v: ndi.gaussian_filter(v, 2.0)}
    if sitk:
        gauss["SimpleITK.SmoothingRecursiveGaussian"] = lambda v: sitk.SmoothingRecursiveGaussian(sitk_img(v), 2.0)
    add("gaussian_s2", FULL, gauss)
    uniform = {"scipy.ndimage.uniform_filter": lambda v: ndi.uniform_filter(v, 3)}
    if nb:
        uniform["numba box mean 3x3x3"] = nb["box3"]
    add("uniform_3", FULL, uniform)
    add("correlate1d_5_x", FULL, {"scipy.ndimage.correlate1d": lambda v: ndi.correlate1d(v, [1, 4, 6, 4, 1], axis=2)})
    add("correlate_3x3x3", FULL, {"scipy.ndimage.correlate": lambda v: ndi.correlate(v, np.full((3, 3, 3), 1 / 27))})
    add("sobel_magnitude", FULL, {"scipy.ndimage.sobel x3 + sqrt": lambda v: np.sqrt(sum(ndi.sobel(v, axis=a) ** 2 for a in range(3)))})
    add("prewitt_magnitude", FULL, {"scipy.ndimage.prewitt x3 + sqrt": lambda v: np.sqrt(sum(ndi.prewitt(v, axis=a) ** 2 for a in range(3)))})
    add("laplace", FULL, {"scipy.ndimage.laplace": ndi.laplace})
    ggm = {"scipy.ndimage.gaussian_gradient_magnitude": lambda v: ndi.gaussian_gradient_magnitude(v, 2.0)}
    if sitk:
        ggm["SimpleITK.GradientMagnitudeRecursiveGaussian"] = lambda v: sitk.GradientMagnitudeRecursiveGaussian(sitk_img(v), 2.0)
    add("gaussian_gradient_magnitude_s2", FULL, ggm)
    add("gaussian_laplace_s2", FULL, {"scipy.ndimage.gaussian_laplace": lambda v: ndi.gaussian_laplace(v, 2.0)})
    if sitk:
        add("gradient_magnitude", FULL, {"SimpleITK.GradientMagnitude": lambda v: sitk.GradientMagnitude(sitk_img(v))})
    if skimage:
        import skimage.filters

        add("unsharp_mask_r2", FULL, {"skimage.filters.unsharp_mask": lambda v: skimage.filters.unsharp_mask(v, radius=2.0, amount=1.0, preserve_range=True)})
    med1 = {"scipy.ndimage.median_filter": lambda v: ndi.median_filter(v, size=3)}
    med2 = {"scipy.ndimage.median_filter": lambda v: ndi.median_filter(v, size=5)}
    if sitk:
        med1["SimpleITK.Median"] = lambda v: sitk.Median(sitk_img(v), [1, 1, 1])
        med2["SimpleITK.Median"] = lambda v: sitk.Median(sitk_img(v), [2, 2, 2])
    if nb:
        med1["numba median 3x3x3"] = nb["median3"]
    add("median_r1", THIN, med1)
    add("median_r2", THIN, med2)
    if sitk:
        add("bilateral_d1_r50", CUBE, {"SimpleITK.Bilateral": lambda v: sitk.Bilateral(sitk_img(v), 1.0, 50.0)})
        add("diffusion_gradient_5it", CUBE, {"SimpleITK.GradientAnisotropicDiffusion": lambda v: sitk.GradientAnisotropicDiffusion(sitk_img(v), 0.0625, 3.0, 1, 5)})
        add("diffusion_curvature_5it", CUBE, {"SimpleITK.CurvatureAnisotropicDiffusion": lambda v: sitk.CurvatureAnisotropicDiffusion(sitk_img(v), 0.0625, 3.0, 1, 5)})
    erode = {"scipy.ndimage.grey_erosion": lambda v: ndi.grey_erosion(v, size=3)}
    if sitk:
        erode["SimpleITK.GrayscaleErode"] = lambda v: sitk.GrayscaleErode(sitk_img(v), [1, 1, 1], sitk.sitkBox)
    add("grey_erosion_box1", FULL, erode)
    if skimage:
        import skimage.morphology

        dilate = {"scipy.ndimage.grey_dilation (ball)": lambda v: ndi.grey_dilation(v, footprint=skimage.morphology.ball(2).astype(bool))}
        if sitk:
            dilate["SimpleITK.GrayscaleDilate (ball)"] = lambda v: sitk.GrayscaleDilate(sitk_img(v), [2, 2, 2], sitk.sitkBall)
        add("grey_dilation_ball2", THIN, dilate)
    add("binary_opening_cross", FULL, {"scipy.ndimage.binary_opening": lambda v: ndi.binary_opening(v > 0)}, binary=True)
    add("fill_holes", FULL, {"scipy.ndimage.binary_fill_holes": lambda v: ndi.binary_fill_holes(v > 0)}, binary=True)
    win = {"numpy window": lambda v: np.clip((v - (40.0 - 0.5)) / (400.0 - 1.0) + 0.5, 0.0, 1.0)}
    if nb:
        win["numba window"] = lambda v: nb["window"](v, 40.0, 400.0)
    add("window_soft_tissue", FULL, win)
    thr = {"numpy threshold": lambda v: ((v >= -100) & (v <= 300)).astype(np.float32)}
    if sitk:
        thr["SimpleITK.BinaryThreshold"] = lambda v: sitk.BinaryThreshold(sitk_img(v), -100, 300, 1, 0)
    add("threshold", FULL, thr)
    add("rescale", FULL, {"numpy slope/intercept": lambda v: v * np.float32(1.0) + np.float32(-1024.0)})
    add("clip", FULL, {"numpy.clip": lambda v: np.clip(v, -200.0, 400.0)})
    resample = {"scipy.ndimage.zoom (order 1)": lambda v: ndi.zoom(v, (2.5, 0.7, 0.7), order=1)}
    if sitk:
        def sitk_resample(v):
            img = sitk_img(v, (0.7, 0.7, 2.5))
            size = [int(round(n * s)) for n, s in zip(img.GetSize(), img.GetSpacing())]
            return sitk.Resample(img, size, sitk.Transform(), sitk.sitkLinear, img.GetOrigin(), (1.0, 1.0, 1.0))

        resample["SimpleITK.Resample (linear)"] = sitk_resample
    add("resample_0.7x0.7x2.5_to_1mm", FULL, resample)
    add("mip_z", FULL, {"numpy.max": lambda v: v.max(axis=0)})
    add("mip_render_30deg", FULL, {"scipy.ndimage.rotate + max": lambda v: ndi.rotate(v, 30.0, axes=(1, 2), order=1, reshape=True).max(axis=2)})
    add("statistics", FULL, {"numpy min/max/mean/std": lambda v: (v.min(), v.max(), v.mean(), v.std())})
    add("histogram_256", FULL, {"numpy.histogram": lambda v: np.histogram(v, 256, (-1000.0, 1000.0))})
    if skimage:
        add("threshold_otsu_256", FULL, {"skimage.filters.threshold_otsu": lambda v: skimage.filters.threshold_otsu(v, nbins=256)})
    label = {"scipy.ndimage.label": lambda v: ndi.label(v)}
    edt = {"scipy.ndimage.distance_transform_edt": ndi.distance_transform_edt}
    if skimage:
        import skimage.measure

        label["skimage.measure.label (connectivity 1)"] = lambda v: skimage.measure.label(v > 0, connectivity=1)
    if sitk:
        label["SimpleITK.ConnectedComponent"] = lambda v: sitk.ConnectedComponent(sitk.GetImageFromArray((v > 0).astype(np.uint8)))
        edt["SimpleITK.SignedMaurerDistanceMap"] = lambda v: sitk.SignedMaurerDistanceMap(
            sitk.GetImageFromArray((v == 0).astype(np.uint8)), insideIsPositive=False, squaredDistance=False, useImageSpacing=True
        )
    add("label_ct_mask", FULL, label, binary="ct_mask")
    add("edt_ct_mask", FULL, edt, binary="ct_mask")
    if skimage:
        import skimage.segmentation

        add(
            "watershed_ct_peaks",
            FULL,
            {"skimage.segmentation.watershed": lambda d: skimage.segmentation.watershed(d[0], d[1], mask=d[2])},
            binary="ct_watershed",
        )
    # (noise, labels of the CT mask): 64 bins per component, as the harness's workload.
    add(
        "label_histograms_ct",
        FULL,
        {"scipy.ndimage.histogram": lambda d: ndi.histogram(d[0], -1000.0, 1000.0, 64, d[1], np.arange(1, int(d[1].max()) + 1))},
        binary="ct_labels",
    )
    return cases


def ct_watershed(shp):
    """(heights, markers, mask) of the harness's watershed_ct_peaks, the same arrays: markers the
    labelled 3×3×3 maxima of the CT mask's distance map above 1.5, heights the ranks of
    (−distance, a hash of the position) written as consecutive float32 values."""
    import scipy.ndimage as ndi

    mask = ct_mask(shp) > 0
    d = ndi.distance_transform_edt(mask)
    markers = ndi.label((d == ndi.maximum_filter(d, 3)) & (d > 1.5))[0].astype(np.uint32)
    n = d.size
    q = np.rint((d * d).ravel()).astype(np.uint64)
    hashed = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    key = ((np.uint64((1 << 40) - 1) - q) << np.uint64(24)) | hashed
    order = np.argsort(key, kind="stable")
    heights = np.empty(n, dtype=np.float64)
    heights[order] = (np.uint32(0x3F800000) + np.arange(n, dtype=np.uint32)).view(np.float32)
    return heights.reshape(shp), markers, mask


def time_tool(fn, data, runs):
    fn(data)  # warm-up (numba compiles here)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(data)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def recon_cases(args):
    """(name, {tool: zero-argument callable}) for the reconstruction and iterative workloads."""
    cases = {}
    skimage = optional("skimage")
    astra = optional("astra")
    # Parallel FBP: a stack of 720-view sinograms of 512 columns.
    n = edge(512, args)
    views = max(edge(720, args), 16)
    slices = max(edge(16, args), 2)
    theta = np.linspace(0.0, 180.0, views, endpoint=False)
    sino = np.ones((n, views), np.float32)
    fbp = {}
    if skimage:
        from skimage.transform import iradon

        fbp["skimage.transform.iradon (per slice)"] = lambda: [iradon(sino, theta=theta, filter_name="ramp") for _ in range(slices)]
    if astra:
        def astra_fbp():
            vol = astra.create_vol_geom(n, n)
            proj = astra.create_proj_geom("parallel", 1.0, n, np.deg2rad(theta))
            pid = astra.create_projector("linear", proj, vol)
            for _ in range(slices):
                sid = astra.data2d.create("-sino", proj, sino.T)
                rid = astra.data2d.create("-vol", vol, 0)
                cfg = astra.astra_dict("FBP")
                cfg.update(ProjectorId=pid, ProjectionDataId=sid, ReconstructionDataId=rid)
                aid = astra.algorithm.create(cfg)
                astra.algorithm.run(aid)
                astra.algorithm.delete(aid)
                astra.data2d.delete([sid, rid])
            astra.projector.delete(pid)

        fbp["ASTRA FBP (CPU, per slice)"] = astra_fbp
    cases["fbp_parallel_720"] = fbp

    # Iterative, 2D parallel: ASTRA's CPU algorithms, 10 iterations (2 in quick mode). ASTRA's
    # EM runs on CUDA only, and nothing here does FISTA-TV or OSEM on the CPU.
    if astra:
        m = edge(256, args)
        iviews = max(edge(180, args), 12)
        iterations = 2 if args.quick else 10
        angles = np.deg2rad(np.linspace(0.0, 180.0, iviews, endpoint=False))
        sinogram = np.ones((iviews, m), np.float32)

        def astra_iterative(algorithm, loops=1):
            def run():
                vol = astra.create_vol_geom(m, m)
                proj = astra.create_proj_geom("parallel", 1.0, m, angles)
                pid = astra.create_projector("linear", proj, vol)
                sid = astra.data2d.create("-sino", proj, sinogram)
                rid = astra.data2d.create("-vol", vol, 0)
                cfg = astra.astra_dict(algorithm)
                cfg.update(ProjectorId=pid, ProjectionDataId=sid, ReconstructionDataId=rid)
                aid = astra.algorithm.create(cfg)
                astra.algorithm.run(aid, iterations * loops)
                astra.algorithm.delete(aid)
                astra.data2d.delete([sid, rid])
                astra.projector.delete(pid)

            return run

        cases["sirt_2d"] = {"ASTRA SIRT (CPU)": astra_iterative("SIRT")}
        cases["cgls_2d"] = {"ASTRA CGLS (CPU)": astra_iterative("CGLS")}
        # ASTRA's SART updates one view per iteration: views × iterations of them make the
        # same number of passes over the data as OS-SART's iterations.
        cases["os_sart_2d_10_subsets"] = {"ASTRA SART (CPU, one view per update)": astra_iterative("SART", iviews)}

    # Projection corrections (harness `transmission`, `stripe_removal`): tomopy's normalize and
    # minus_log written out in numpy (tomopy is not on PyPI for every platform), and algotom's
    # sorting-based stripe removal one sinogram at a time, as it takes them.
    tdet, tviews = edge(384, args), max(edge(360, args), 8)
    rng = np.random.default_rng(23)
    raw = (rng.random((tviews, tdet, tdet), dtype=np.float32) * 8000 + 500).astype(np.float32)
    flat = (rng.random((8, tdet, tdet), dtype=np.float32) * 200 + 9000).astype(np.float32)
    dark = (rng.random((8, tdet, tdet), dtype=np.float32) * 20 + 90).astype(np.float32)

    def tomopy_formulas():
        f = np.mean(flat, axis=0, dtype=np.float32)
        d = np.mean(dark, axis=0, dtype=np.float32)
        denom = f - d
        denom = np.where(denom < np.float32(1e-6), np.float32(1e-6), denom)
        return -np.log((raw - d) / denom)

    cases["transmission"] = {"numpy (tomopy's normalize + minus_log formulas)": tomopy_formulas}
    if optional("algotom"):
        import algotom.prep.removal as removal

        rows = min(edge(576, args), 64)
        stack = rng.random((tviews, rows, tdet), dtype=np.float32)
        cases["stripe_removal"] = {
            "algotom remove_stripe_based_sorting (per sinogram)": lambda: [
                removal.remove_stripe_based_sorting(stack[:, r, :], size=21, dim=1) for r in range(rows)
            ]
        }

    # Cone beam with RTK's CPU filters: 256³ from 360 views of 384² at full size.
    try:
        import itk
        from itk import RTK as rtk
    except ImportError:
        print("note: itk-rtk is not installed; the cone-beam columns are skipped", file=sys.stderr)
        return cases
    c = edge(256, args)
    cviews = max(edge(360, args), 8)
    det = c * 3 // 2
    pixel = 1.2 * 256.0 / c
    image = itk.Image[itk.F, 3]
    geometry = rtk.ThreeDCircularProjectionGeometry.New()
    for k in range(cviews):
        geometry.AddProjection(1000.0, 1500.0, 360.0 * k / cviews)

    def source(size, spacing, value=0.0):
        s = rtk.ConstantImageSource[image].New()
        s.SetSize(size)
        s.SetSpacing(spacing)
        s.SetOrigin([-(n_ - 1) / 2 * sp for n_, sp in zip(size, spacing)])
        s.SetConstant(value)
        s.Update()
        return s.GetOutput()

    volume = source([c, c, c], [1.0, 1.0, 1.0], 1.0)
    projections = source([det, det, cviews], [pixel, pixel, 1.0], 1.0)

    def rtk_filter(make):
        def run():
            f = make()
            f.SetGeometry(geometry)
            f.Update()

        return run

    def fdk():
        f = rtk.FDKConeBeamReconstructionFilter[image].New()
        f.SetInput(0, source([c, c, c], [1.0, 1.0, 1.0]))
        f.SetInput(1, projections)
        return f

    def forward():
        f = rtk.JosephForwardProjectionImageFilter[image, image].New()
        f.SetInput(0, source([det, det, cviews], [pixel, pixel, 1.0]))
        f.SetInput(1, volume)
        return f

    def joseph_back():
        f = rtk.JosephBackProjectionImageFilter[image, image].New()
        f.SetInput(0, source([c, c, c], [1.0, 1.0, 1.0]))
        f.SetInput(1, projections)
        return f

    def back():
        f = rtk.BackProjectionImageFilter[image, image].New()
        f.SetInput(0, source([c, c, c], [1.0, 1.0, 1.0]))
        f.SetInput(1, projections)
        return f

    cases["fdk_cone"] = {"RTK FDKConeBeamReconstructionFilter (CPU)": rtk_filter(fdk)}
    cases["joseph_forward_cone"] = {"RTK JosephForwardProjectionImageFilter (CPU)": rtk_filter(forward)}
    cases["joseph_transpose_cone"] = {"RTK JosephBackProjectionImageFilter (CPU)": rtk_filter(joseph_back)}
    cases["backproject_cone"] = {"RTK BackProjectionImageFilter (CPU)": rtk_filter(back)}
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", default="", help="comma-separated workload names or prefixes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default="target/harness")
    args = parser.parse_args()
    only = [o for o in args.only.split(",") if o]
    selected = lambda name: not only or any(name.startswith(o) for o in only)
    runs = 1 if args.quick else args.runs
    results = {}
    volumes = {}
    for name, (full, tools, binary) in filter_cases(args).items():
        if not selected(name):
            continue
        shp = shape(full, args)
        key = (shp, binary)
        if key not in volumes:
            if binary == "ct_mask":
                volumes[key] = ct_mask(shp)
            elif binary == "ct_watershed":
                volumes[key] = ct_watershed(shp)
            elif binary == "ct_labels":
                import scipy.ndimage as ndi

                volumes[key] = (noise(shp), ndi.label(ct_mask(shp) > 0)[0])
            else:
                v = noise(shp)
                volumes[key] = (v > 0).astype(np.float32) if binary else v
        for tool, fn in tools.items():
            seconds = time_tool(fn, volumes[key], runs)
            results.setdefault(name, {})[tool] = seconds
            print(f"{name} {shp}: {tool} {seconds * 1e3:.1f} ms", file=sys.stderr)
    volumes.clear()
    for name, tools in recon_cases(args).items():
        if not selected(name):
            continue
        for tool, fn in tools.items():
            seconds = time_tool(lambda _: fn(), None, runs)
            results.setdefault(name, {})[tool] = seconds
            print(f"{name}: {tool} {seconds * 1e3:.1f} ms", file=sys.stderr)
    versions = {}
    for module in ("numpy", "scipy", "skimage", "SimpleITK", "astra", "itk", "numba"):
        try:
            versions[module] = getattr(__import__(module), "__version__", "?")
        except ImportError:
            pass
    cpu = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    report = {
        "environment": {
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": platform.python_version(),
            "cpu_model": cpu,
            "logical_cores": os.cpu_count(),
            "versions": versions,
            "quick": args.quick,
            "scale": args.scale,
        },
        "results": results,
    }
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "peers.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

//! `hounsfield._hounsfield`: the compiled half of the Python package. It takes C-contiguous
//! float32 arrays (the Python half, `hounsfield/__init__.py`, converts dtypes, byte order and
//! layout the way scipy does and fills in the defaults users know), runs the library with the
//! GIL released, and turns the library's errors into Python exceptions: bad parameters and
//! shapes → `ValueError`, sizes beyond the machine → `MemoryError`, GPU failures →
//! `hounsfield.GpuError`, files → `OSError`. Nothing here panics on user data.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use hounsfield::filter::{
    AnisotropicDiffusion, Bilateral, BinaryMorphology, Correlate, Correlate1d, FillHoles, Filter, Footprint, Gaussian,
    GaussianGradientMagnitude, GaussianLaplace, GreyMorphology, Interpolation, Laplace, Median, MorphOp, Pipeline,
    Prewitt, Projection, ProjectionKind, Resample, ResampleWindow, Sobel, Uniform, UnsharpMask, WindowLevel,
};
use hounsfield::gpu::{GpuContext, GpuVolume, Recorder};
use hounsfield::recon::iterative::{Constraint, Control, Iterative, Method};
use hounsfield::recon::{
    Beam, Detector, Fbp2d, Fdk, Geometry, HelicalFdk, NoiseModel, ProjectorKind, RampWindow, StripeRemoval,
    Transmission, View, WaterCorrection, centred_grid,
};
use hounsfield::{Backend, BoundaryMode, Error, Grid, Volume, stats};
use ndarray::{Array3, ArrayD, ArrayView3, ArrayViewD, ArrayViewMutD, Axis, Ix2, Ix3};
use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn};
use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

mod ndimage;
mod segment;

pyo3::create_exception!(
    _hounsfield,
    GpuError,
    PyRuntimeError,
    "A GPU could not be used or failed (no adapter, device lost, driver error)."
);

/// The library's error as the Python exception a scipy user expects.
fn py_err(e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::InvalidParameter { .. } | Error::InvalidShape(_) | Error::Environment { .. } => {
            PyValueError::new_err(message)
        }
        Error::TooLarge(_) | Error::GpuOutOfMemory(_) => PyMemoryError::new_err(message),
        Error::NoGpu(_) | Error::DeviceLost(_) | Error::Gpu(_) | Error::AdapterLimit(_) => GpuError::new_err(message),
        Error::Io { .. } => PyOSError::new_err(message),
        Error::Dicom { .. } | Error::Series { .. } | Error::Image(_) => PyValueError::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}

type PyResultArray = PyResult<Py<PyArrayDyn<f32>>>;

/// The shared GPU backend, created once per process (device creation and shader compilation
/// are the expensive parts).
fn gpu_backend() -> Result<Backend, String> {
    static GPU: OnceLock<Result<Backend, String>> = OnceLock::new();
    GPU.get_or_init(|| Backend::gpu().map_err(|e| e.to_string())).clone()
}

/// `"auto" | "cpu" | "gpu"`. `auto` uses the GPU when one works, else the CPU (and honours
/// `HOUNSFIELD_BACKEND`).
fn select_backend(name: &str) -> PyResult<Backend> {
    match name {
        "cpu" => Ok(Backend::Cpu),
        "gpu" => gpu_backend().map_err(GpuError::new_err),
        "auto" => {
            static AUTO: OnceLock<Result<Backend, String>> = OnceLock::new();
            AUTO.get_or_init(|| Backend::auto().map_err(|e| e.to_string()))
                .clone()
                .map_err(PyValueError::new_err)
        }
        other => Err(PyValueError::new_err(format!(
            "backend must be 'auto', 'cpu' or 'gpu', not {other:?}"
        ))),
    }
}

/// Runs `work` on `backend`; under `"auto"`, work the GPU adapter cannot run correctly
/// ([`Error::AdapterLimit`], e.g. loops beyond llvmpipe's limit) runs on the CPU instead.
fn on_backend<T>(
    name: &str,
    backend: &Backend,
    mut work: impl FnMut(&Backend) -> hounsfield::Result<T>,
) -> hounsfield::Result<T> {
    match work(backend) {
        Err(Error::AdapterLimit(_)) if name == "auto" && !matches!(backend, Backend::Cpu) => work(&Backend::Cpu),
        other => other,
    }
}

fn mode(name: &str) -> PyResult<BoundaryMode> {
    name.parse().map_err(py_err)
}

/// Runs `filter` on a 2D or 3D float32 array with the GIL released.
fn run_filter<F: Filter + Sync>(
    py: Python<'_>,
    filter: F,
    input: PyReadonlyArrayDyn<'_, f32>,
    backend_name: &str,
) -> PyResultArray {
    let backend = select_backend(backend_name)?;
    let view = input.as_array();
    let out = py
        .detach(|| on_backend(backend_name, &backend, |b| apply(&filter, b, view.view())))
        .map_err(py_err)?;
    Ok(out.into_pyarray(py).unbind())
}

fn apply<F: Filter>(filter: &F, backend: &Backend, view: ArrayViewD<'_, f32>) -> hounsfield::Result<ArrayD<f32>> {
    match view.ndim() {
        2 => Ok(filter
            .apply(backend, view.into_dimensionality::<Ix2>().expect("2D"))?
            .into_dyn()),
        3 => Ok(filter
            .apply(backend, view.into_dimensionality::<Ix3>().expect("3D"))?
            .into_dyn()),
        n => Err(Error::InvalidShape(format!(
            "a {n}-dimensional array: give a 2D (y, x) image or a 3D (z, y, x) volume"
        ))),
    }
}

/// A volume (or image) resident on the GPU, for chaining filters without round trips:
/// `hounsfield.to_gpu(array)`, the filters' `GpuArray` inputs and outputs, `.to_numpy()`.
#[pyclass(module = "hounsfield._hounsfield", frozen)]
struct GpuArray {
    volume: GpuVolume,
    ndim: usize,
    ctx: Arc<GpuContext>,
}

#[pymethods]
impl GpuArray {
    /// Uploads a 2D or 3D float32 array to the shared GPU.
    #[new]
    fn new(py: Python<'_>, array: PyReadonlyArrayDyn<'_, f32>) -> PyResult<GpuArray> {
        let ctx = gpu_backend()
            .map_err(GpuError::new_err)?
            .gpu_context()
            .cloned()
            .ok_or_else(|| GpuError::new_err("no GPU"))?;
        let view = array.as_array();
        let ndim = view.ndim();
        let volume = py
            .detach(|| -> hounsfield::Result<GpuVolume> {
                let v3 = as_volume(view)?;
                GpuVolume::upload(&ctx, v3)
            })
            .map_err(py_err)?;
        Ok(GpuArray { volume, ndim, ctx })
    }

    /// Downloads the array (float32, the shape it was uploaded with).
    fn to_numpy(&self, py: Python<'_>) -> PyResultArray {
        let out = py.detach(|| self.volume.download(&self.ctx)).map_err(py_err)?;
        let out = if self.ndim == 2 {
            out.index_axis_move(Axis(0), 0).into_dyn()
        } else {
            out.into_dyn()
        };
        Ok(out.into_pyarray(py).unbind())
    }

    /// The array's shape.
    #[getter]
    fn shape(&self) -> Vec<usize> {
        let s = self.volume.shape();
        if self.ndim == 2 { s[1..].to_vec() } else { s.to_vec() }
    }

    #[getter]
    fn ndim(&self) -> usize {
        self.ndim
    }

    fn __repr__(&self) -> String {
        format!(
            "GpuArray(shape={:?}, dtype=float32, adapter={:?})",
            self.shape(),
            self.ctx.adapter().name
        )
    }
}

fn as_volume(view: ArrayViewD<'_, f32>) -> hounsfield::Result<ArrayView3<'_, f32>> {
    match view.ndim() {
        2 => Ok(view.into_dimensionality::<Ix2>().expect("2D").insert_axis(Axis(0))),
        3 => Ok(view.into_dimensionality::<Ix3>().expect("3D")),
        n => Err(Error::InvalidShape(format!(
            "a {n}-dimensional array: give a 2D (y, x) image or a 3D (z, y, x) volume"
        ))),
    }
}

/// Runs `filter` on a resident array; the result stays on the GPU.
fn run_resident<F: Filter + Sync>(py: Python<'_>, filter: F, input: &GpuArray) -> PyResult<GpuArray> {
    let volume = py
        .detach(|| -> hounsfield::Result<GpuVolume> {
            let mut rec = Recorder::new(&input.ctx);
            let out = filter.record(&mut rec, &input.volume, input.ndim)?;
            rec.submit()?;
            Ok(out)
        })
        .map_err(py_err)?;
    Ok(GpuArray {
        volume,
        ndim: input.ndim,
        ctx: input.ctx.clone(),
    })
}

/// A numpy array or a `GpuArray`, and what each filter returns for it.
#[derive(FromPyObject)]
enum Input<'py> {
    Resident(PyRef<'py, GpuArray>),
    Host(PyReadonlyArrayDyn<'py, f32>),
}

fn dispatch<F: Filter + Sync>(py: Python<'_>, filter: F, input: Input<'_>, backend_name: &str) -> PyResult<Py<PyAny>> {
    dispatch_into(py, filter, input, backend_name, None)
}

/// An array the filter writes its result into (scipy's `output=` array), passed on by the
/// Python half only when it is float32, C-contiguous, writeable, of the result's shape and
/// apart from the input; the filter then writes it directly instead of returning a new array
/// that is copied into it.
type Output<'py> = Option<Bound<'py, PyArrayDyn<f32>>>;

/// [`dispatch`] into `out` when given (returned as the result).
fn dispatch_into<F: Filter + Sync>(
    py: Python<'_>,
    filter: F,
    input: Input<'_>,
    backend_name: &str,
    out: Output<'_>,
) -> PyResult<Py<PyAny>> {
    match (input, out) {
        (Input::Resident(_), Some(_)) => Err(PyValueError::new_err(
            "output= does not apply to GpuArray inputs: the result stays on the GPU",
        )),
        (Input::Resident(g), None) => Ok(Py::new(py, run_resident(py, filter, &g)?)?.into_any()),
        (Input::Host(a), None) => Ok(run_filter(py, filter, a, backend_name)?.into_any()),
        (Input::Host(a), Some(out)) => {
            let backend = select_backend(backend_name)?;
            {
                let mut target = out
                    .try_readwrite()
                    .map_err(|e| PyValueError::new_err(format!("output cannot be written: {e}")))?;
                let (view, mut target) = (a.as_array(), target.as_array_mut());
                py.detach(|| {
                    on_backend(backend_name, &backend, |b| {
                        apply_into(&filter, b, view.view(), target.view_mut())
                    })
                })
                .map_err(py_err)?;
            }
            Ok(out.into_any().unbind())
        }
    }
}

fn apply_into<F: Filter>(
    filter: &F,
    backend: &Backend,
    view: ArrayViewD<'_, f32>,
    out: ArrayViewMutD<'_, f32>,
) -> hounsfield::Result<()> {
    match (view.ndim(), out.ndim()) {
        (2, 2) => filter.apply_into(
            backend,
            view.into_dimensionality::<Ix2>().expect("2D"),
            out.into_dimensionality::<Ix2>().expect("2D"),
        ),
        (3, 3) => filter.apply_into(
            backend,
            view.into_dimensionality::<Ix3>().expect("3D"),
            out.into_dimensionality::<Ix3>().expect("3D"),
        ),
        (n, m) => Err(Error::InvalidShape(format!(
            "a {n}-dimensional input into a {m}-dimensional output: give 2D (y, x) or 3D (z, y, x) arrays of the result's shape"
        ))),
    }
}

/// The Gaussian family (`kind`: `smooth`, `laplace`, `gradient_magnitude`): scipy's sigma in
/// voxels, `truncate`, boundary mode.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (input, kind, sigma, mode_name, truncate, backend, out=None))]
fn gaussian(
    py: Python<'_>,
    input: Input<'_>,
    kind: &str,
    sigma: Vec<f64>,
    mode_name: &str,
    truncate: f64,
    backend: &str,
    out: Output<'_>,
) -> PyResult<Py<PyAny>> {
    let mode = mode(mode_name)?;
    match kind {
        "smooth" => dispatch_into(
            py,
            Gaussian::new(&sigma).truncate(truncate).mode(mode),
            input,
            backend,
            out,
        ),
        "laplace" => dispatch_into(
            py,
            GaussianLaplace::new(&sigma).truncate(truncate).mode(mode),
            input,
            backend,
            out,
        ),
        "gradient_magnitude" => dispatch_into(
            py,
            GaussianGradientMagnitude::new(&sigma).truncate(truncate).mode(mode),
            input,
            backend,
            out,
        ),
        other => Err(PyValueError::new_err(format!("unknown Gaussian filter {other:?}"))),
    }
}

#[pyfunction]
#[pyo3(signature = (input, size, mode_name, backend, out=None))]
fn uniform_filter(
    py: Python<'_>,
    input: Input<'_>,
    size: Vec<usize>,
    mode_name: &str,
    backend: &str,
    out: Output<'_>,
) -> PyResult<Py<PyAny>> {
    dispatch_into(py, Uniform::new(&size).mode(mode(mode_name)?), input, backend, out)
}

#[pyfunction]
#[pyo3(signature = (input, radius, mode_name, backend, out=None))]
fn median_filter(
    py: Python<'_>,
    input: Input<'_>,
    radius: Vec<usize>,
    mode_name: &str,
    backend: &str,
    out: Output<'_>,
) -> PyResult<Py<PyAny>> {
    dispatch_into(py, Median::new(&radius).mode(mode(mode_name)?), input, backend, out)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn correlate1d(
    py: Python<'_>,
    input: Input<'_>,
    weights: Vec<f64>,
    axis: usize,
    mode_name: &str,
    origin: isize,
    backend: &str,
) -> PyResult<Py<PyAny>> {
    dispatch(
        py,
        Correlate1d::new(&weights, axis).origin(origin).mode(mode(mode_name)?),
        input,
        backend,
    )
}

#[pyfunction]
#[pyo3(signature = (input, weights, mode_name, flip, backend, out=None))]
fn correlate(
    py: Python<'_>,
    input: Input<'_>,
    weights: PyReadonlyArrayDyn<'_, f64>,
    mode_name: &str,
    flip: bool,
    backend: &str,
    out: Output<'_>,
) -> PyResult<Py<PyAny>> {
    let w = weights.as_array();
    let filter = if flip {
        Correlate::convolve(w)
    } else {
        Correlate::new(w)
    };
    dispatch_into(py, filter.mode(mode(mode_name)?), input, backend, out)
}

/// Sobel or Prewitt (`kind`) along `axis`, or the gradient magnitude when `axis` is None.
#[pyfunction]
#[pyo3(signature = (input, kind, axis, mode_name, backend, out=None))]
fn edge(
    py: Python<'_>,
    input: Input<'_>,
    kind: &str,
    axis: Option<usize>,
    mode_name: &str,
    backend: &str,
    out: Output<'_>,
) -> PyResult<Py<PyAny>> {
    let mode = mode(mode_name)?;
    match (kind, axis) {
        ("sobel", Some(a)) => dispatch_into(py, Sobel::axis(a).mode(mode), input, backend, out),
        ("sobel", None) => dispatch_into(py, Sobel::magnitude().mode(mode), input, backend, out),
        ("prewitt", Some(a)) => dispatch_into(py, Prewitt::axis(a).mode(mode), input, backend, out),
        ("prewitt", None) => dispatch_into(py, Prewitt::magnitude().mode(mode), input, backend, out),
        (other, _) => Err(PyValueError::new_err(format!("unknown edge filter {other:?}"))),
    }
}

#[pyfunction]
#[pyo3(signature = (input, mode_name, backend, out=None))]
fn laplace(py: Python<'_>, input: Input<'_>, mode_name: &str, backend: &str, out: Output<'_>) -> PyResult<Py<PyAny>> {
    dispatch_into(py, Laplace::new().mode(mode(mode_name)?), input, backend, out)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (input, op, radius, ball, mode_name, backend, out=None))]
fn grey_morphology(
    py: Python<'_>,
    input: Input<'_>,
    op: &str,
    radius: Vec<usize>,
    ball: bool,
    mode_name: &str,
    backend: &str,
    out: Output<'_>,
) -> PyResult<Py<PyAny>> {
    let op = morph_op(op)?;
    let footprint = if ball {
        Footprint::Ball(radius.first().copied().unwrap_or(1))
    } else {
        Footprint::Box(radius)
    };
    dispatch_into(
        py,
        GreyMorphology::new(op, footprint).mode(mode(mode_name)?),
        input,
        backend,
        out,
    )
}

fn morph_op(op: &str) -> PyResult<MorphOp> {
    Ok(match op {
        "erosion" => MorphOp::Erosion,
        "dilation" => MorphOp::Dilation,
        "opening" => MorphOp::Opening,
        "closing" => MorphOp::Closing,
        other => return Err(PyValueError::new_err(format!("unknown morphology operation {other:?}"))),
    })
}

/// scipy's `binary_<op>` with `border_value = 0`: the default cross (`box_radius` None) or a box
/// of `2r + 1` voxels per axis, each elementary step `iterations` times; output 0/1.
#[pyfunction]
fn binary_morphology(
    py: Python<'_>,
    input: Input<'_>,
    op: &str,
    box_radius: Option<Vec<usize>>,
    iterations: usize,
    backend: &str,
) -> PyResult<Py<PyAny>> {
    let mut filter = BinaryMorphology::new(morph_op(op)?).iterations(iterations);
    if let Some(radius) = box_radius {
        filter = filter.footprint(Footprint::Box(radius));
    }
    dispatch(py, filter, input, backend)
}

/// scipy's `binary_fill_holes` with its default structure; output 0/1.
#[pyfunction]
fn fill_holes(py: Python<'_>, input: Input<'_>, backend: &str) -> PyResult<Py<PyAny>> {
    dispatch(py, FillHoles, input, backend)
}

/// `(input_shape, input_start, output_start, output_shape)` of one block of a larger zoom.
type ZoomWindow = (Vec<usize>, Vec<usize>, Vec<usize>, Vec<usize>);

#[pyfunction]
/// `window`: one block of a larger zoom (see `ResampleWindow`), for chunked arrays.
#[pyo3(signature = (input, shape, order, backend, window=None))]
fn zoom(
    py: Python<'_>,
    input: Input<'_>,
    shape: Vec<usize>,
    order: u8,
    backend: &str,
    window: Option<ZoomWindow>,
) -> PyResult<Py<PyAny>> {
    let interpolation = match order {
        0 => Interpolation::Nearest,
        1 => Interpolation::Linear,
        o => {
            return Err(PyValueError::new_err(format!(
                "order={o}: hounsfield interpolates with order 0 (nearest) or 1 (linear); spline orders 2–5 are not implemented"
            )));
        }
    };
    let mut filter = Resample::to_shape(&shape).interpolation(interpolation);
    if let Some((input_shape, input_start, output_start, output_shape)) = window {
        filter = filter.window(ResampleWindow {
            input_shape,
            input_start,
            output_start,
            output_shape,
        });
    }
    dispatch(py, filter, input, backend)
}

#[pyfunction]
fn unsharp_mask(
    py: Python<'_>,
    input: Input<'_>,
    radius: Vec<f64>,
    amount: f64,
    mode_name: &str,
    backend: &str,
) -> PyResult<Py<PyAny>> {
    dispatch(
        py,
        UnsharpMask::new(&radius, amount).mode(mode(mode_name)?),
        input,
        backend,
    )
}

#[pyfunction]
fn bilateral(
    py: Python<'_>,
    input: Input<'_>,
    domain_sigma: Vec<f64>,
    range_sigma: f64,
    spacing: Vec<f64>,
    backend: &str,
) -> PyResult<Py<PyAny>> {
    dispatch(
        py,
        Bilateral::new(&domain_sigma, range_sigma).spacing(&spacing),
        input,
        backend,
    )
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (input, iterations, conductance, time_step, curvature, spacing, backend, mean_gradient_squared=None))]
fn anisotropic_diffusion(
    py: Python<'_>,
    input: Input<'_>,
    iterations: usize,
    conductance: f64,
    time_step: Option<f64>,
    curvature: bool,
    spacing: Vec<f64>,
    backend: &str,
    mean_gradient_squared: Option<f64>,
) -> PyResult<Py<PyAny>> {
    let mut f = if curvature {
        AnisotropicDiffusion::curvature(iterations, conductance)
    } else {
        AnisotropicDiffusion::gradient(iterations, conductance)
    }
    .spacing(&spacing);
    if let Some(dt) = time_step {
        f = f.time_step(dt);
    }
    if let Some(mean) = mean_gradient_squared {
        f = f.mean_gradient_squared(mean);
    }
    dispatch(py, f, input, backend)
}

#[pyfunction]
fn window_level(
    py: Python<'_>,
    input: Input<'_>,
    center: f64,
    width: f64,
    out_min: f64,
    out_max: f64,
    backend: &str,
) -> PyResult<Py<PyAny>> {
    dispatch(
        py,
        WindowLevel::new(center, width).output(out_min, out_max),
        input,
        backend,
    )
}

#[pyfunction]
fn projection(py: Python<'_>, input: Input<'_>, axis: usize, kind: &str, backend: &str) -> PyResult<Py<PyAny>> {
    let kind = match kind {
        "max" => ProjectionKind::Max,
        "min" => ProjectionKind::Min,
        "mean" => ProjectionKind::Mean,
        other => {
            return Err(PyValueError::new_err(format!(
                "kind must be 'max', 'min' or 'mean', not {other:?}"
            )));
        }
    };
    dispatch(py, Projection::new(kind, axis), input, backend)
}

/// A filter pipeline from text (`"median:1 gaussian:0.8"`, as `Pipeline::parse` reads it): on
/// the GPU all steps run in one submission.
#[pyfunction]
fn pipeline(py: Python<'_>, input: Input<'_>, spec: &str, spacing: [f64; 3], backend: &str) -> PyResult<Py<PyAny>> {
    let grid = Grid::with_spacing(spacing).map_err(py_err)?;
    let p = Pipeline::parse(spec, &grid).map_err(py_err)?;
    dispatch(py, p, input, backend)
}

#[pyfunction]
fn statistics<'py>(
    py: Python<'py>,
    input: PyReadonlyArrayDyn<'py, f32>,
    backend: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let backend = select_backend(backend)?;
    let view = input.as_array();
    let s = py
        .detach(|| -> hounsfield::Result<stats::Statistics> { stats::statistics(&backend, as_volume(view)?) })
        .map_err(py_err)?;
    let d = PyDict::new(py);
    d.set_item("count", s.count)?;
    d.set_item("nan_count", s.nan_count)?;
    d.set_item("min", s.min)?;
    d.set_item("max", s.max)?;
    d.set_item("mean", s.mean)?;
    d.set_item("std", s.std)?;
    Ok(d)
}

#[pyfunction]
#[pyo3(signature = (input, bins, range, backend))]
fn histogram(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, f32>,
    bins: usize,
    range: Option<(f64, f64)>,
    backend: &str,
) -> PyResult<(Vec<u64>, Vec<f64>)> {
    let backend = select_backend(backend)?;
    let view = input.as_array();
    let h = py
        .detach(|| -> hounsfield::Result<stats::Histogram> {
            stats::histogram(&backend, as_volume(view)?, bins, range)
        })
        .map_err(py_err)?;
    Ok((h.counts, h.edges))
}

/// The f32 edges `histogram` uses for `range` or, without one, for data spanning `lo..hi`.
#[pyfunction]
fn histogram_edges(bins: usize, range: Option<(f64, f64)>, lo: f32, hi: f32) -> PyResult<Vec<f32>> {
    stats::histogram_edges(bins, range, (lo, hi)).map_err(py_err)
}

/// Counts per bin of the given edges (for histograms of data in blocks).
#[pyfunction]
fn histogram_counts(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, f32>,
    edges: Vec<f32>,
    backend: &str,
) -> PyResult<Vec<u64>> {
    let backend = select_backend(backend)?;
    let view = input.as_array();
    py.detach(|| stats::histogram_counts(&backend, as_volume(view)?, &edges))
        .map_err(py_err)
}

/// Otsu's threshold of summed counts on `edges`.
#[pyfunction]
fn otsu_from_counts(counts: Vec<u64>, edges: Vec<f32>) -> PyResult<f32> {
    stats::otsu_from_counts(&counts, &edges).map_err(py_err)
}

#[pyfunction]
fn threshold_otsu(py: Python<'_>, input: PyReadonlyArrayDyn<'_, f32>, nbins: usize, backend: &str) -> PyResult<f32> {
    let backend = select_backend(backend)?;
    let view = input.as_array();
    py.detach(|| -> hounsfield::Result<f32> { stats::threshold_otsu(&backend, as_volume(view)?, nbins) })
        .map_err(py_err)
}

// ---------------------------------------------------------------------------------------------
// Reconstruction.

/// An acquisition geometry (`hounsfield.Geometry.parallel_2d(...)`, `.fan(...)`, `.cone(...)`,
/// `.parallel_3d(...)`); angles in degrees, lengths in mm.
#[pyclass(module = "hounsfield._hounsfield", frozen, name = "Geometry")]
#[derive(Clone)]
struct PyGeometry {
    inner: Geometry,
}

#[pymethods]
impl PyGeometry {
    #[staticmethod]
    fn parallel_2d(angles: Vec<f64>, cols: usize, spacing: f64) -> PyResult<Self> {
        Ok(PyGeometry {
            inner: Geometry::parallel_2d(&angles, cols, spacing).map_err(py_err)?,
        })
    }

    #[staticmethod]
    fn parallel_3d(angles: Vec<f64>, rows: usize, cols: usize, spacing: (f64, f64)) -> PyResult<Self> {
        Ok(PyGeometry {
            inner: Geometry::parallel_3d(&angles, rows, cols, [spacing.0, spacing.1]).map_err(py_err)?,
        })
    }

    #[staticmethod]
    #[pyo3(signature = (angles, sid, sdd, cols, spacing, arc=false, offset=0.0))]
    fn fan(angles: Vec<f64>, sid: f64, sdd: f64, cols: usize, spacing: f64, arc: bool, offset: f64) -> PyResult<Self> {
        let detector = if arc { Detector::Arc } else { Detector::Flat };
        Ok(PyGeometry {
            inner: Geometry::fan(&angles, sid, sdd, cols, spacing, detector, offset).map_err(py_err)?,
        })
    }

    #[staticmethod]
    #[pyo3(signature = (angles, sid, sdd, rows, cols, spacing, offsets=(0.0, 0.0)))]
    fn cone(
        angles: Vec<f64>,
        sid: f64,
        sdd: f64,
        rows: usize,
        cols: usize,
        spacing: (f64, f64),
        offsets: (f64, f64),
    ) -> PyResult<Self> {
        let make = Geometry::cone(
            &angles,
            sid,
            sdd,
            rows,
            cols,
            [spacing.0, spacing.1],
            [offsets.0, offsets.1],
        );
        Ok(PyGeometry {
            inner: make.map_err(py_err)?,
        })
    }

    /// A circular cone beam with a cylindrical detector about the source (radius SDD, as
    /// clinical multi-row CT and RTK's `RadiusCylindricalDetector = SDD`); `spacing` and
    /// `offsets` as `cone`, the column spacing measured along the arc.
    #[staticmethod]
    #[pyo3(signature = (angles, sid, sdd, rows, cols, spacing, offsets=(0.0, 0.0)))]
    fn cone_cylindrical(
        angles: Vec<f64>,
        sid: f64,
        sdd: f64,
        rows: usize,
        cols: usize,
        spacing: (f64, f64),
        offsets: (f64, f64),
    ) -> PyResult<Self> {
        let make = Geometry::cone_cylindrical(
            &angles,
            sid,
            sdd,
            rows,
            cols,
            [spacing.0, spacing.1],
            [offsets.0, offsets.1],
        );
        Ok(PyGeometry {
            inner: make.map_err(py_err)?,
        })
    }

    /// Per-view vectors in ASTRA's layout (`kind` "parallel": ray, detector centre, u, v;
    /// "cone": source, detector centre, u, v), mm, in hounsfield's frame: an `(n, 12)` array.
    #[staticmethod]
    fn from_vectors(kind: &str, vectors: Vec<[f64; 12]>, rows: usize, cols: usize) -> PyResult<Self> {
        let beam = match kind {
            "parallel" => Beam::Parallel,
            "cone" => Beam::Divergent,
            other => {
                return Err(PyValueError::new_err(format!(
                    "kind {other:?}: use 'parallel' (ray directions) or 'cone' (source positions)"
                )));
            }
        };
        let views = vectors
            .iter()
            .map(|r| View {
                source: [r[0], r[1], r[2]],
                detector_centre: [r[3], r[4], r[5]],
                u: [r[6], r[7], r[8]],
                v: [r[9], r[10], r[11]],
            })
            .collect();
        Ok(PyGeometry {
            inner: Geometry::from_vectors(beam, rows, cols, views).map_err(py_err)?,
        })
    }

    /// The per-view vectors (`(n, 12)`: source or ray, detector centre of the middle pixel with
    /// the offsets applied, u, v), as `from_vectors` takes them (flat detectors; for arc and
    /// cylindrical detectors the centre and `u` of the flat panel tangent at the central ray).
    #[getter]
    fn vectors(&self) -> Vec<[f64; 12]> {
        let g = &self.inner;
        g.views
            .iter()
            .map(|w| {
                let shift = |k: usize| w.detector_centre[k] + w.u[k] * g.offset_u + w.v[k] * g.offset_v;
                [
                    w.source[0],
                    w.source[1],
                    w.source[2],
                    shift(0),
                    shift(1),
                    shift(2),
                    w.u[0],
                    w.u[1],
                    w.u[2],
                    w.v[0],
                    w.v[1],
                    w.v[2],
                ]
            })
            .collect()
    }

    /// "parallel" or "cone" (fan geometries are one-row cones).
    #[getter]
    fn kind(&self) -> &'static str {
        match self.inner.beam {
            Beam::Parallel => "parallel",
            Beam::Divergent => "cone",
        }
    }

    /// This cone-beam geometry as a helical scan: source and detector advance by
    /// `feed_per_turn` mm along z per full turn, the first view at `z_first` mm (the projectors
    /// and iterative methods take it; FDK refuses it).
    #[pyo3(signature = (feed_per_turn, z_first=0.0))]
    fn helical(&self, feed_per_turn: f64, z_first: f64) -> PyResult<Self> {
        Ok(PyGeometry {
            inner: self.inner.clone().helical(feed_per_turn, z_first).map_err(py_err)?,
        })
    }

    /// The detector's shape: "flat", "arc" (a one-row equiangular fan detector) or
    /// "cylindrical" (a multi-row arc: a cylinder about the source).
    #[getter]
    fn detector(&self) -> &'static str {
        match (self.inner.beam, self.inner.detector) {
            (Beam::Divergent, Detector::Arc) if self.inner.rows > 1 => "cylindrical",
            (Beam::Divergent, Detector::Arc) => "arc",
            _ => "flat",
        }
    }

    /// `(views, rows, cols)` of the projections this geometry takes.
    #[getter]
    fn projection_shape(&self) -> (usize, usize, usize) {
        (self.inner.views.len(), self.inner.rows, self.inner.cols)
    }

    fn __repr__(&self) -> String {
        format!(
            "Geometry({:?}, {} views × {} rows × {} cols)",
            self.inner.beam,
            self.inner.views.len(),
            self.inner.rows,
            self.inner.cols
        )
    }
}

fn volume3(view: ArrayViewD<'_, f32>, what: &str) -> PyResult<Array3<f32>> {
    view.into_dimensionality::<Ix3>()
        .map(|v| v.to_owned())
        .map_err(|_| PyValueError::new_err(format!("{what} must be 3D")))
}

/// The library's operations (`hounsfield::registry::OPERATIONS`): name, family, summary, pipeline
/// steps `(keyword, [parameter names])`, and Python exposure (`"functions"` with their names,
/// `"generated"`, or `"none"`).
#[pyfunction]
fn operations(py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
    use hounsfield::registry::{Family, OPERATIONS, Python as Exposure};
    OPERATIONS
        .iter()
        .map(|op| {
            let d = pyo3::types::PyDict::new(py);
            d.set_item("name", op.name)?;
            let family = match op.family {
                Family::Filter => "filter",
                Family::Statistics => "statistics",
                Family::Reconstruction => "reconstruction",
                Family::Iterative => "iterative",
                Family::Segmentation => "segmentation",
            };
            d.set_item("family", family)?;
            d.set_item("summary", op.summary)?;
            let steps: Vec<(&str, Vec<&str>)> = op.steps.iter().map(|s| (s.keyword, s.params.to_vec())).collect();
            d.set_item("steps", steps)?;
            let (kind, names): (&str, Vec<&str>) = match op.python {
                Exposure::Functions(names) => ("functions", names.to_vec()),
                Exposure::Generated => ("generated", Vec::new()),
                Exposure::None => ("none", Vec::new()),
            };
            d.set_item("python", kind)?;
            d.set_item("functions", names)?;
            Ok(d.into_any().unbind())
        })
        .collect()
}

/// The names of the projector pairs, from the library's registry.
#[pyfunction]
fn projectors() -> Vec<&'static str> {
    ProjectorKind::ALL.iter().map(|k| k.name()).collect()
}

/// Forward projection of a `(z, y, x)` volume of `voxel` mm centred on the isocentre, by the
/// projector pair named `projector`.
#[pyfunction]
fn forward_project(
    py: Python<'_>,
    volume: PyReadonlyArrayDyn<'_, f32>,
    geometry: &PyGeometry,
    voxel: [f64; 3],
    projector: &str,
    backend: &str,
) -> PyResultArray {
    let backend_name = backend;
    let backend = select_backend(backend_name)?;
    let kind = ProjectorKind::from_name(projector).map_err(py_err)?;
    let v = volume3(volume.as_array(), "volume")?;
    let out = py
        .detach(|| -> hounsfield::Result<Array3<f32>> {
            let shape = [v.dim().0, v.dim().1, v.dim().2];
            let grid = centred_grid(shape, voxel)?;
            let projector = kind.build(&geometry.inner, shape, &grid)?;
            on_backend(backend_name, &backend, |backend| match backend.gpu_context() {
                Some(ctx) => {
                    let up = GpuVolume::upload(ctx, v.view())?;
                    projector.forward_gpu(ctx, &up)?.download(ctx)
                }
                None => projector.forward_cpu(v.view()),
            })
        })
        .map_err(py_err)?;
    Ok(out.into_dyn().into_pyarray(py).unbind())
}

/// Parallel-beam FBP, scikit-image's `iradon` semantics, of a `(views, cols)` sinogram stack
/// `(views, slices, cols)` or one sinogram `(views, cols)`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn fbp(
    py: Python<'_>,
    sinograms: PyReadonlyArrayDyn<'_, f32>,
    angles: Vec<f64>,
    filter_name: &str,
    output_size: Option<usize>,
    circle: bool,
    backend: &str,
) -> PyResultArray {
    let backend = select_backend(backend)?;
    let window = ramp_window(filter_name)?;
    let mut fbp = Fbp2d::new(&angles).window(window).circle(circle);
    if let Some(n) = output_size {
        fbp = fbp.output_size(n);
    }
    let view = sinograms.as_array();
    let out = py
        .detach(|| -> hounsfield::Result<ArrayD<f32>> {
            let (stack, two_d) = match view.ndim() {
                2 => (
                    view.into_dimensionality::<Ix2>().expect("2D").insert_axis(Axis(1)),
                    true,
                ),
                3 => (view.into_dimensionality::<Ix3>().expect("3D"), false),
                n => {
                    return Err(Error::InvalidShape(format!(
                        "sinograms: {n}-D; give (views, cols) or (views, slices, cols)"
                    )));
                }
            };
            let out = match backend.gpu_context() {
                Some(ctx) => fbp.reconstruct_stack_gpu(ctx, stack)?,
                None => fbp.reconstruct_stack_cpu(stack)?,
            };
            Ok(if two_d {
                out.index_axis_move(Axis(0), 0).into_dyn()
            } else {
                out.into_dyn()
            })
        })
        .map_err(py_err)?;
    Ok(out.into_pyarray(py).unbind())
}

fn ramp_window(name: &str) -> PyResult<RampWindow> {
    Ok(match name {
        "ramp" | "ram-lak" => RampWindow::Ramp,
        "shepp-logan" => RampWindow::SheppLogan,
        "cosine" => RampWindow::Cosine,
        "hamming" => RampWindow::Hamming,
        "hann" => RampWindow::Hann,
        other => {
            return Err(PyValueError::new_err(format!(
                "filter_name {other:?}: use 'ramp', 'shepp-logan', 'cosine', 'hamming' or 'hann'"
            )));
        }
    })
}

/// FDK (cone beam; fan beam with one row; helical FDK for a helix) into a `shape` volume of
/// `voxel` mm.
#[pyfunction]
fn fdk(
    py: Python<'_>,
    projections: PyReadonlyArrayDyn<'_, f32>,
    geometry: &PyGeometry,
    shape: [usize; 3],
    voxel: [f64; 3],
    filter_name: &str,
    backend: &str,
) -> PyResultArray {
    let backend_name = backend;
    let backend = select_backend(backend_name)?;
    let window = ramp_window(filter_name)?;
    let p = volume3(projections.as_array(), "projections")?;
    let out = py
        .detach(|| {
            on_backend(backend_name, &backend, |backend| -> hounsfield::Result<Array3<f32>> {
                let grid = centred_grid(shape, voxel)?;
                // A helix (Geometry.helical) takes the helical FDK; anything else FDK's checks.
                let fdk = match Fdk::new(&geometry.inner) {
                    Ok(fdk) => fdk.window(window),
                    Err(circular) => {
                        let Ok(helical) = HelicalFdk::new(&geometry.inner) else {
                            return Err(circular);
                        };
                        let helical = helical.window(window);
                        return match backend.gpu_context() {
                            Some(ctx) => helical.reconstruct_gpu(ctx, p.view(), shape, &grid),
                            None => helical.reconstruct_cpu(p.view(), shape, &grid),
                        };
                    }
                };
                match backend.gpu_context() {
                    Some(ctx) => fdk.reconstruct_gpu(ctx, p.view(), shape, &grid),
                    None => fdk.reconstruct_cpu(p.view(), shape, &grid),
                }
            })
        })
        .map_err(py_err)?;
    Ok(out.into_dyn().into_pyarray(py).unbind())
}

/// tomopy's `normalize` (flat and dark stacks averaged over their first axis) and, with
/// `minus_log`, `minus_log` (`floor`: transmissions below it are raised first); `water`: the
/// coefficients of a water linearisation applied last.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (projections, flat, dark, cutoff, minus_log, floor, water, backend))]
fn transmission(
    py: Python<'_>,
    projections: PyReadonlyArrayDyn<'_, f32>,
    flat: Option<PyReadonlyArrayDyn<'_, f32>>,
    dark: Option<PyReadonlyArrayDyn<'_, f32>>,
    cutoff: Option<f32>,
    minus_log: bool,
    floor: Option<f32>,
    water: Option<Vec<f64>>,
    backend: &str,
) -> PyResultArray {
    let backend = select_backend(backend)?;
    let p = volume3(projections.as_array(), "projections")?;
    let mut t = Transmission::new();
    match (flat, dark) {
        (Some(f), Some(d)) => {
            let (f, d) = (volume3(f.as_array(), "flat")?, volume3(d.as_array(), "dark")?);
            t = t.normalize(f.view(), d.view()).map_err(py_err)?;
        }
        (None, None) => {}
        _ => return Err(PyValueError::new_err("give both flat and dark images, or neither")),
    }
    if let Some(c) = cutoff {
        t = t.cutoff(c).map_err(py_err)?;
    }
    if minus_log {
        t = t.minus_log(floor).map_err(py_err)?;
    } else if floor.is_some() {
        return Err(PyValueError::new_err("floor applies to minus_log only"));
    }
    if let Some(c) = water {
        t = t.water(&WaterCorrection::from_coefficients(&c).map_err(py_err)?);
    }
    let out = py.detach(|| t.apply(&backend, p.view())).map_err(py_err)?;
    Ok(out.into_dyn().into_pyarray(py).unbind())
}

/// Least-squares water linearisation coefficients `c1..c_degree`.
#[pyfunction]
fn water_correction(measured: Vec<f64>, ideal: Vec<f64>, degree: usize) -> PyResult<Vec<f64>> {
    Ok(WaterCorrection::fit(&measured, &ideal, degree)
        .map_err(py_err)?
        .coefficients()
        .to_vec())
}

/// Sorting-based stripe removal of a `(views, rows, cols)` stack (dim 1 or 2 as algotom).
#[pyfunction]
fn remove_stripe_based_sorting(
    py: Python<'_>,
    projections: PyReadonlyArrayDyn<'_, f32>,
    size: usize,
    dim: usize,
    backend: &str,
) -> PyResultArray {
    let backend = select_backend(backend)?;
    let p = volume3(projections.as_array(), "projections")?;
    let removal = match dim {
        1 => StripeRemoval::sorting(size),
        2 => StripeRemoval::sorting(size).map(StripeRemoval::two_dimensional),
        other => return Err(PyValueError::new_err(format!("dim must be 1 or 2, not {other}"))),
    }
    .map_err(py_err)?;
    let out = py.detach(|| removal.apply(&backend, p.view())).map_err(py_err)?;
    Ok(out.into_dyn().into_pyarray(py).unbind())
}

/// Poisson + electronic noise on ideal line integrals (`counts`: return the counts instead).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn simulate_noise(
    py: Python<'_>,
    line_integrals: PyReadonlyArrayDyn<'_, f32>,
    photons: f64,
    electronic: f64,
    floor: f64,
    seed: u64,
    counts: bool,
) -> PyResultArray {
    let p = volume3(line_integrals.as_array(), "line integrals")?;
    let model = NoiseModel::new(photons)
        .and_then(|m| m.electronic(electronic))
        .and_then(|m| m.floor(floor))
        .map_err(py_err)?
        .seed(seed);
    let out = py
        .detach(|| {
            if counts {
                model.counts_cpu(p.view())
            } else {
                model.apply_cpu(p.view())
            }
        })
        .map_err(py_err)?;
    Ok(out.into_dyn().into_pyarray(py).unbind())
}

/// The iterative methods. `callback(iteration, residual)` may return True to stop.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (projections, geometry, shape, voxel, method, iterations, relaxation, subsets, lam, tv_iterations, nonnegative, initial, projector, backend, callback=None))]
fn iterative(
    py: Python<'_>,
    projections: PyReadonlyArrayDyn<'_, f32>,
    geometry: &PyGeometry,
    shape: [usize; 3],
    voxel: [f64; 3],
    method: &str,
    iterations: usize,
    relaxation: f64,
    subsets: usize,
    lam: f64,
    tv_iterations: usize,
    nonnegative: bool,
    initial: Option<PyReadonlyArrayDyn<'_, f32>>,
    projector: &str,
    backend: &str,
    callback: Option<Py<PyAny>>,
) -> PyResult<(Py<PyArrayDyn<f32>>, Vec<f64>)> {
    let backend_name = backend;
    let backend = select_backend(backend_name)?;
    let method = Method::from_name(method, subsets, lam, tv_iterations).map_err(py_err)?;
    let p = volume3(projections.as_array(), "projections")?;
    let initial = match initial {
        Some(a) => Some(volume3(a.as_array(), "initial")?),
        None => None,
    };
    let grid = centred_grid(shape, voxel).map_err(py_err)?;
    let projector = ProjectorKind::from_name(projector)
        .and_then(|kind| kind.build(&geometry.inner, shape, &grid))
        .map_err(py_err)?;
    let mut run = Iterative::with_projector(projector, method)
        .iterations(iterations)
        .relaxation(relaxation);
    if nonnegative && method != Method::Cgls {
        run = run.constraint(Constraint::NonNegative);
    }
    if let Some(x0) = initial {
        run = run.initial(x0);
    }
    // The callback needs the GIL; it is taken for each call only.
    let mut callback_error: Option<PyErr> = None;
    let result = py
        .detach(|| {
            let mut on_iteration = |progress: &hounsfield::recon::iterative::Progress| {
                let Some(cb) = &callback else { return Control::Continue };
                Python::attach(|py| match cb.call1(py, (progress.iteration, progress.residual)) {
                    Ok(v) if v.is_truthy(py).unwrap_or(false) => Control::Stop,
                    Ok(_) => Control::Continue,
                    Err(e) => {
                        callback_error = Some(e);
                        Control::Stop
                    }
                })
            };
            // A refusal (AdapterLimit) comes from the first iteration's recording, before any
            // callback.
            on_backend(backend_name, &backend, |backend| match backend.gpu_context() {
                Some(ctx) => run.run_gpu(ctx, p.view(), &mut on_iteration),
                None => run.run_cpu(p.view(), &mut on_iteration),
            })
        })
        .map_err(py_err)?;
    if let Some(e) = callback_error {
        return Err(e);
    }
    let residuals = result.history.iter().map(|h| h.residual).collect();
    Ok((result.volume.into_dyn().into_pyarray(py).unbind(), residuals))
}

// ---------------------------------------------------------------------------------------------
// DICOM.

/// Reads series `index` (largest first) of a folder: `(array, spacing, origin, direction,
/// warnings)` in (z, y, x) order for the array and (x, y, z) LPS for the geometry.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn read_dicom_series(
    py: Python<'_>,
    folder: PathBuf,
    index: usize,
    lenient: bool,
) -> PyResult<(Py<PyArrayDyn<f32>>, [f64; 3], [f64; 3], [[f64; 3]; 3], Vec<String>)> {
    use hounsfield::io::dicom::{Policy, load_series, scan};
    let loaded = py
        .detach(|| -> hounsfield::Result<_> {
            let scanned = scan(&folder)?;
            let series = scanned.series_at(index)?;
            load_series(series, if lenient { Policy::Lenient } else { Policy::Strict })
        })
        .map_err(py_err)?;
    let grid = *loaded.volume.grid();
    let array = loaded.volume.into_data().into_dyn().into_pyarray(py).unbind();
    Ok((array, grid.spacing, grid.origin, grid.direction, loaded.warnings))
}

/// Projections, geometry (if one can be built) and header values of a DICOM-CT-PD scan.
type ProjectionScan<'py> = (Py<PyArrayDyn<f32>>, Option<PyGeometry>, Bound<'py, pyo3::types::PyDict>);

/// A DICOM-CT-PD scan: projections, the geometry (or why there is none) and the raw header
/// values, as a dict.
#[pyfunction]
fn read_dicom_projections<'py>(
    py: Python<'py>,
    folder: PathBuf,
    ignore_flying_focal_spot: bool,
) -> PyResult<ProjectionScan<'py>> {
    use hounsfield::io::dicom::{DetectorShape, load_projection_data};
    let scan = py.detach(|| load_projection_data(&folder)).map_err(py_err)?;
    let meta = pyo3::types::PyDict::new(py);
    let geometry = if ignore_flying_focal_spot {
        scan.focal_centre_geometry()
    } else {
        scan.geometry()
    };
    meta.set_item("largest_source_shift", scan.largest_source_shift())?;
    let (geometry, geometry_error) = match geometry {
        Ok(g) => (Some(PyGeometry { inner: g }), None),
        Err(e) => (None, Some(e.to_string())),
    };
    meta.set_item("geometry_error", geometry_error)?;
    meta.set_item("angles", scan.views.iter().map(|v| v.angle).collect::<Vec<_>>())?;
    meta.set_item("z", scan.views.iter().map(|v| v.z).collect::<Vec<_>>())?;
    meta.set_item("radius", scan.views.iter().map(|v| v.radius).collect::<Vec<_>>())?;
    meta.set_item(
        "source_shift",
        scan.views.iter().map(|v| v.source_shift).collect::<Vec<_>>(),
    )?;
    let shape = match scan.shape {
        DetectorShape::Cylindrical => "cylindrical",
        DetectorShape::Flat => "flat",
    };
    meta.set_item("detector_shape", shape)?;
    meta.set_item("spacing", scan.spacing)?;
    meta.set_item("focal_distance", scan.focal_distance)?;
    meta.set_item("central_element", scan.central_element)?;
    meta.set_item("flying_focal_spot", &scan.flying_focal_spot)?;
    meta.set_item("views_per_rotation", scan.views_per_rotation)?;
    meta.set_item("water_attenuation", scan.water_attenuation)?;
    meta.set_item("files", &scan.files)?;
    meta.set_item("warnings", &scan.warnings)?;
    let array = scan.projections.into_dyn().into_pyarray(py).unbind();
    Ok((array, geometry, meta))
}

type Layout = ([usize; 3], [f64; 3], [f64; 3], [[f64; 3]; 3], Vec<String>);

/// The shape, grid and warnings `read_dicom_series` would give, from the headers alone.
#[pyfunction]
fn dicom_series_layout(py: Python<'_>, folder: PathBuf, index: usize, lenient: bool) -> PyResult<Layout> {
    use hounsfield::io::dicom::{Policy, scan, series_layout};
    let (shape, grid, warnings) = py
        .detach(|| -> hounsfield::Result<_> {
            let scanned = scan(&folder)?;
            series_layout(
                scanned.series_at(index)?,
                if lenient { Policy::Lenient } else { Policy::Strict },
            )
        })
        .map_err(py_err)?;
    Ok((shape, grid.spacing, grid.origin, grid.direction, warnings))
}

/// Slices `z0..z1` of a series, decoding only the files they need.
#[pyfunction]
#[pyo3(signature = (folder, index, lenient, z0, z1, padding_fill=None))]
fn read_dicom_slab(
    py: Python<'_>,
    folder: PathBuf,
    index: usize,
    lenient: bool,
    z0: usize,
    z1: usize,
    padding_fill: Option<f32>,
) -> PyResult<(Py<PyArrayDyn<f32>>, Vec<String>)> {
    use hounsfield::io::dicom::{Policy, load_series_slab, scan};
    let loaded = py
        .detach(|| -> hounsfield::Result<_> {
            let scanned = scan(&folder)?;
            let policy = if lenient { Policy::Lenient } else { Policy::Strict };
            load_series_slab(scanned.series_at(index)?, policy, z0..z1, padding_fill)
        })
        .map_err(py_err)?;
    let array = loaded.volume.into_data().into_dyn().into_pyarray(py).unbind();
    Ok((array, loaded.warnings))
}

/// Writes a `(z, y, x)` volume as a new DICOM series; returns the files written.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn write_dicom_series(
    py: Python<'_>,
    volume: PyReadonlyArrayDyn<'_, f32>,
    folder: PathBuf,
    spacing: [f64; 3],
    origin: [f64; 3],
    direction: [[f64; 3]; 3],
    description: String,
    source: Option<PathBuf>,
) -> PyResult<Vec<PathBuf>> {
    use hounsfield::io::dicom::{WriteOptions, write_series};
    let data = volume3(volume.as_array(), "volume")?;
    py.detach(|| -> hounsfield::Result<Vec<PathBuf>> {
        let grid = Grid {
            spacing,
            origin,
            direction,
        };
        let volume = Volume::new(data, grid)?;
        let options = WriteOptions {
            description,
            source,
            ..WriteOptions::default()
        };
        write_series(&volume, &folder, &options)
    })
    .map_err(py_err)
}

/// The adapter `backend="gpu"` uses, or the reason there is none.
#[pyfunction]
fn gpu_adapter() -> PyResult<String> {
    match gpu_backend() {
        Ok(b) => Ok(b.gpu_context().map_or("none".into(), |c| c.adapter().to_string())),
        Err(e) => Err(GpuError::new_err(e)),
    }
}

/// Every usable GPU adapter, best first: position `i` is what `HOUNSFIELD_ADAPTER=i` selects.
#[pyfunction]
fn gpu_adapters(py: Python<'_>) -> Vec<String> {
    py.detach(|| GpuContext::adapters().iter().map(|a| a.to_string()).collect())
}

#[pymodule]
fn _hounsfield(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("GpuError", m.py().get_type::<GpuError>())?;
    m.add_class::<GpuArray>()?;
    m.add_class::<PyGeometry>()?;
    m.add_function(wrap_pyfunction!(gaussian, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_adapters, m)?)?;
    m.add_function(wrap_pyfunction!(histogram_edges, m)?)?;
    m.add_function(wrap_pyfunction!(histogram_counts, m)?)?;
    m.add_function(wrap_pyfunction!(otsu_from_counts, m)?)?;
    m.add_function(wrap_pyfunction!(dicom_series_layout, m)?)?;
    m.add_function(wrap_pyfunction!(read_dicom_slab, m)?)?;
    m.add_function(wrap_pyfunction!(uniform_filter, m)?)?;
    m.add_function(wrap_pyfunction!(median_filter, m)?)?;
    m.add_function(wrap_pyfunction!(correlate1d, m)?)?;
    m.add_function(wrap_pyfunction!(correlate, m)?)?;
    m.add_function(wrap_pyfunction!(edge, m)?)?;
    m.add_function(wrap_pyfunction!(laplace, m)?)?;
    m.add_function(wrap_pyfunction!(binary_morphology, m)?)?;
    m.add_function(wrap_pyfunction!(fill_holes, m)?)?;
    m.add_function(wrap_pyfunction!(grey_morphology, m)?)?;
    m.add_function(wrap_pyfunction!(zoom, m)?)?;
    m.add_function(wrap_pyfunction!(unsharp_mask, m)?)?;
    m.add_function(wrap_pyfunction!(bilateral, m)?)?;
    m.add_function(wrap_pyfunction!(anisotropic_diffusion, m)?)?;
    m.add_function(wrap_pyfunction!(window_level, m)?)?;
    m.add_function(wrap_pyfunction!(projection, m)?)?;
    m.add_function(wrap_pyfunction!(pipeline, m)?)?;
    m.add_function(wrap_pyfunction!(statistics, m)?)?;
    m.add_function(wrap_pyfunction!(histogram, m)?)?;
    m.add_function(wrap_pyfunction!(threshold_otsu, m)?)?;
    m.add_function(wrap_pyfunction!(forward_project, m)?)?;
    m.add_function(wrap_pyfunction!(projectors, m)?)?;
    m.add_function(wrap_pyfunction!(operations, m)?)?;
    m.add_function(wrap_pyfunction!(fbp, m)?)?;
    m.add_function(wrap_pyfunction!(fdk, m)?)?;
    m.add_function(wrap_pyfunction!(transmission, m)?)?;
    m.add_function(wrap_pyfunction!(water_correction, m)?)?;
    m.add_function(wrap_pyfunction!(remove_stripe_based_sorting, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_noise, m)?)?;
    m.add_function(wrap_pyfunction!(iterative, m)?)?;
    m.add_function(wrap_pyfunction!(read_dicom_series, m)?)?;
    m.add_function(wrap_pyfunction!(read_dicom_projections, m)?)?;
    m.add_function(wrap_pyfunction!(write_dicom_series, m)?)?;
    m.add_function(wrap_pyfunction!(gpu_adapter, m)?)?;
    ndimage::register(m)?;
    segment::register(m)?;
    Ok(())
}

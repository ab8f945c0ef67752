//! `hounsfield._hounsfield.nd_*`: scipy.ndimage's primitives in double with per-pass stores
//! (`hounsfield::ndimage`), for the Python half to compose scipy's filters from where the
//! float32 kernels do not give scipy's bytes (integer and float64 data, origins, even windows,
//! footprints, per-axis modes, any number of axes). Arrays come in as float64 holding the
//! input's values and go back as float64 holding the output type's values; the 1D passes
//! filter a C-contiguous float64 array in place (no new array per pass).

use hounsfield::BoundaryMode;
use hounsfield::ndimage::{self, Dtype};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn, PyReadwriteArrayDyn};
use pyo3::prelude::*;

use crate::py_err;

type Float64Array = PyResult<Py<PyArrayDyn<f64>>>;

fn mode(name: &str) -> PyResult<BoundaryMode> {
    name.parse().map_err(py_err)
}

fn dtype(name: &str) -> PyResult<Dtype> {
    name.parse().map_err(py_err)
}

fn finish(py: Python<'_>, out: hounsfield::Result<ndarray::ArrayD<f64>>) -> Float64Array {
    Ok(out.map_err(py_err)?.into_pyarray(py).unbind())
}

/// (mask, shape) of a bool footprint.
fn mask(footprint: &PyReadonlyArrayDyn<'_, bool>) -> (Vec<bool>, Vec<usize>) {
    let view = footprint.as_array();
    (view.iter().copied().collect(), view.shape().to_vec())
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn nd_correlate1d(
    py: Python<'_>,
    mut data: PyReadwriteArrayDyn<'_, f64>,
    weights: Vec<f64>,
    axis: usize,
    mode_name: &str,
    cval: f64,
    origin: isize,
    output: &str,
) -> PyResult<()> {
    let (mode, output, view) = (mode(mode_name)?, dtype(output)?, data.as_array_mut());
    py.detach(|| ndimage::correlate1d(view, &weights, axis, mode, cval, origin, output))
        .map_err(py_err)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn nd_uniform1d(
    py: Python<'_>,
    mut data: PyReadwriteArrayDyn<'_, f64>,
    size: usize,
    axis: usize,
    mode_name: &str,
    cval: f64,
    origin: isize,
    output: &str,
) -> PyResult<()> {
    let (mode, output, view) = (mode(mode_name)?, dtype(output)?, data.as_array_mut());
    py.detach(|| ndimage::uniform_filter1d(view, size, axis, mode, cval, origin, output))
        .map_err(py_err)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn nd_min_or_max1d(
    py: Python<'_>,
    mut data: PyReadwriteArrayDyn<'_, f64>,
    size: usize,
    axis: usize,
    mode_name: &str,
    cval: f64,
    origin: isize,
    minimum: bool,
    output: &str,
) -> PyResult<()> {
    let (mode, output, view) = (mode(mode_name)?, dtype(output)?, data.as_array_mut());
    py.detach(|| ndimage::min_or_max_filter1d(view, size, axis, mode, cval, origin, minimum, output))
        .map_err(py_err)
}

#[pyfunction]
pub(crate) fn nd_correlate(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, f64>,
    weights: PyReadonlyArrayDyn<'_, f64>,
    mode_name: &str,
    cval: f64,
    origins: Vec<isize>,
    output: &str,
) -> Float64Array {
    let (mode, output, view, w) = (mode(mode_name)?, dtype(output)?, input.as_array(), weights.as_array());
    let out = py.detach(|| ndimage::correlate(view, w, mode, cval, &origins, output));
    finish(py, out)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn nd_rank(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, f64>,
    rank: usize,
    footprint: PyReadonlyArrayDyn<'_, bool>,
    mode_name: &str,
    cval: f64,
    origins: Vec<isize>,
    input_dtype: &str,
    output: &str,
) -> Float64Array {
    let (mode, input_dtype, output, view) = (mode(mode_name)?, dtype(input_dtype)?, dtype(output)?, input.as_array());
    let (mask, fshape) = mask(&footprint);
    let out = py.detach(|| ndimage::rank_filter(view, rank, &mask, &fshape, mode, cval, &origins, input_dtype, output));
    finish(py, out)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn nd_min_or_max(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, f64>,
    footprint: PyReadonlyArrayDyn<'_, bool>,
    structure: Option<PyReadonlyArrayDyn<'_, f64>>,
    mode_name: &str,
    cval: f64,
    origins: Vec<isize>,
    minimum: bool,
    input_dtype: &str,
    output: &str,
) -> Float64Array {
    let (mode, input_dtype, output, view) = (mode(mode_name)?, dtype(input_dtype)?, dtype(output)?, input.as_array());
    let (mask, fshape) = mask(&footprint);
    let structure: Option<Vec<f64>> = structure.map(|s| s.as_array().iter().copied().collect());
    let out = py.detach(|| {
        ndimage::min_or_max_filter(
            view,
            &mask,
            &fshape,
            structure.as_deref(),
            mode,
            cval,
            &origins,
            minimum,
            input_dtype,
            output,
        )
    });
    finish(py, out)
}

fn interpolation_mode(name: &str) -> PyResult<ndimage::InterpolationMode> {
    name.parse().map_err(py_err)
}

#[pyfunction]
pub(crate) fn nd_spline_filter1d(
    py: Python<'_>,
    mut data: PyReadwriteArrayDyn<'_, f64>,
    order: usize,
    axis: usize,
    mode_name: &str,
    output: &str,
) -> PyResult<()> {
    let (mode, output, view) = (interpolation_mode(mode_name)?, dtype(output)?, data.as_array_mut());
    py.detach(|| ndimage::spline_filter1d(view, order, axis, mode, output))
        .map_err(py_err)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn nd_zoom_shift(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, f64>,
    out_shape: Vec<usize>,
    zoom: Option<Vec<f64>>,
    shift: Option<Vec<f64>>,
    order: usize,
    mode_name: &str,
    cval: f64,
    nprepad: usize,
    grid_mode: bool,
    output: &str,
) -> Float64Array {
    let (mode, output, view) = (interpolation_mode(mode_name)?, dtype(output)?, input.as_array());
    let out = py.detach(|| {
        ndimage::zoom_shift(
            view,
            &out_shape,
            zoom.as_deref(),
            shift.as_deref(),
            order,
            mode,
            cval,
            nprepad,
            grid_mode,
            output,
        )
    });
    finish(py, out)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn nd_geometric_transform(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, f64>,
    out_shape: Vec<usize>,
    matrix: Option<Vec<f64>>,
    offset: Option<Vec<f64>>,
    coordinates: Option<PyReadonlyArrayDyn<'_, f64>>,
    order: usize,
    mode_name: &str,
    cval: f64,
    nprepad: usize,
    output: &str,
) -> Float64Array {
    let (mode, output, view) = (interpolation_mode(mode_name)?, dtype(output)?, input.as_array());
    let coordinate_view = coordinates.as_ref().map(|c| c.as_array());
    let out = py.detach(|| {
        let source = match (&matrix, &offset, coordinate_view) {
            (Some(m), Some(o), _) => ndimage::Coordinates::Affine { matrix: m, offset: o },
            (_, _, Some(c)) => ndimage::Coordinates::Array(c),
            _ => {
                return Err(hounsfield::Error::InvalidParameter {
                    name: "coordinates",
                    reason: "give a matrix and an offset, or a coordinate array".into(),
                });
            }
        };
        ndimage::geometric_transform(view, &out_shape, source, order, mode, cval, nprepad, output)
    });
    finish(py, out)
}

/// scipy's `_binary_erosion` (`invert` = the dilation half): a bool array back.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn nd_binary_erosion(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, bool>,
    structure: PyReadonlyArrayDyn<'_, bool>,
    origins: Vec<isize>,
    mask: Option<PyReadonlyArrayDyn<'_, bool>>,
    border_value: bool,
    invert: bool,
    iterations: i64,
) -> PyResult<Py<PyArrayDyn<bool>>> {
    let (points, sshape) = self::mask(&structure);
    let (view, mask_view) = (input.as_array(), mask.as_ref().map(|m| m.as_array()));
    let out = py.detach(|| {
        ndimage::binary_erosion(
            view,
            &points,
            &sshape,
            &origins,
            mask_view,
            border_value,
            invert,
            iterations,
        )
    });
    Ok(out.map_err(py_err)?.into_pyarray(py).unbind())
}

/// The value scipy stores when it converts `value` to `dtype` (a C cast on x86-64).
#[pyfunction]
pub(crate) fn nd_store(value: f64, output: &str) -> PyResult<f64> {
    Ok(dtype(output)?.store(value))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(nd_correlate1d, m)?)?;
    m.add_function(wrap_pyfunction!(nd_uniform1d, m)?)?;
    m.add_function(wrap_pyfunction!(nd_min_or_max1d, m)?)?;
    m.add_function(wrap_pyfunction!(nd_correlate, m)?)?;
    m.add_function(wrap_pyfunction!(nd_rank, m)?)?;
    m.add_function(wrap_pyfunction!(nd_min_or_max, m)?)?;
    m.add_function(wrap_pyfunction!(nd_store, m)?)?;
    m.add_function(wrap_pyfunction!(nd_spline_filter1d, m)?)?;
    m.add_function(wrap_pyfunction!(nd_zoom_shift, m)?)?;
    m.add_function(wrap_pyfunction!(nd_geometric_transform, m)?)?;
    m.add_function(wrap_pyfunction!(nd_binary_erosion, m)?)?;
    Ok(())
}

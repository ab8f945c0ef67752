//! `hounsfield._hounsfield.seg_*`: the Rust cores of the segmentation and measurement functions
//! (`hounsfield::segment`); `hounsfield/_segment.py` gives them scipy's signatures.

use hounsfield::segment;
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;

use crate::py_err;

type Array<T> = Py<PyArrayDyn<T>>;

/// (labels as uint32, count) on `backend` (`auto` | `cpu` | `gpu`).
#[pyfunction]
pub(crate) fn seg_label(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, bool>,
    structure: Option<PyReadonlyArrayDyn<'_, bool>>,
    backend: &str,
) -> PyResult<(Array<u32>, usize)> {
    let backend = crate::select_backend(backend)?;
    let (view, s) = (input.as_array(), structure.as_ref().map(|s| s.as_array()));
    let out = py.detach(|| segment::label_with(&backend, view, s)).map_err(py_err)?;
    Ok((out.labels.into_pyarray(py).unbind(), out.count))
}

/// Histograms `[histograms, bins]` over `edges` and the samples of each: of every sample
/// (`labels` None), of the samples labelled above 0 (`range` None) or of each label
/// `first..=last`. Values float32 or float64, labels int32 or int64 (no copies).
#[pyfunction]
pub(crate) fn seg_label_histograms(
    py: Python<'_>,
    values: &Bound<'_, PyAny>,
    labels: Option<&Bound<'_, PyAny>>,
    range: Option<(i64, i64)>,
    edges: Vec<f64>,
) -> PyResult<(Py<numpy::PyArray2<u64>>, Vec<u64>)> {
    use numpy::PyArrayMethods;
    let which = match (labels, range) {
        (None, _) => segment::HistogramLabels::All,
        (Some(_), None) => segment::HistogramLabels::Positive,
        (Some(_), Some((first, last))) => segment::HistogramLabels::Range { first, last },
    };
    fn count<V: Copy + Into<f64> + Sync + numpy::Element, L: Copy + Into<i64> + Sync + numpy::Element>(
        py: Python<'_>,
        values: &Bound<'_, numpy::PyArrayDyn<V>>,
        labels: Option<&Bound<'_, numpy::PyArrayDyn<L>>>,
        which: segment::HistogramLabels,
        edges: &[f64],
    ) -> PyResult<segment::LabelHistograms> {
        let (v, l) = (values.readonly(), labels.map(|l| l.readonly()));
        let (v, l) = (v.as_array(), l.as_ref().map(|l| l.as_array()));
        py.detach(|| segment::label_histograms(v, l, which, edges))
            .map_err(py_err)
    }
    let counted = match (
        values.cast::<numpy::PyArrayDyn<f32>>(),
        values.cast::<numpy::PyArrayDyn<f64>>(),
    ) {
        (Ok(v), _) => match labels {
            None => count::<f32, i64>(py, v, None, which, &edges)?,
            Some(l) => match l.cast::<numpy::PyArrayDyn<i32>>() {
                Ok(l) => count(py, v, Some(l), which, &edges)?,
                Err(_) => count(py, v, Some(l.cast::<numpy::PyArrayDyn<i64>>()?), which, &edges)?,
            },
        },
        (_, Ok(v)) => match labels {
            None => count::<f64, i64>(py, v, None, which, &edges)?,
            Some(l) => match l.cast::<numpy::PyArrayDyn<i32>>() {
                Ok(l) => count(py, v, Some(l), which, &edges)?,
                Err(_) => count(py, v, Some(l.cast::<numpy::PyArrayDyn<i64>>()?), which, &edges)?,
            },
        },
        (Err(e), _) => return Err(e.into()),
    };
    let bins = edges.len().saturating_sub(1);
    let flat: Vec<u64> = counted.counts.into_iter().flatten().collect();
    let rows = flat.len() / bins.max(1);
    let array = ndarray::Array2::from_shape_vec((rows, bins), flat).expect("rows × bins");
    Ok((array.into_pyarray(py).unbind(), counted.samples))
}

/// (count, sum, minimum, maximum, minimum_position, maximum_position, weighted coordinates,
/// saw_nan) of every label `0..=max_label`.
#[pyfunction]
#[allow(clippy::type_complexity)]
pub(crate) fn seg_label_statistics(
    py: Python<'_>,
    values: PyReadonlyArrayDyn<'_, f64>,
    labels: PyReadonlyArrayDyn<'_, i64>,
    max_label: usize,
    coordinates: bool,
) -> PyResult<(
    Vec<u64>,
    Vec<f64>,
    Vec<f64>,
    Vec<f64>,
    Vec<usize>,
    Vec<usize>,
    Vec<f64>,
    bool,
)> {
    let (v, l) = (values.as_array(), labels.as_array());
    let s = py
        .detach(|| segment::label_statistics(v, l, max_label, coordinates))
        .map_err(py_err)?;
    Ok((
        s.count,
        s.sum,
        s.minimum,
        s.maximum,
        s.minimum_position,
        s.maximum_position,
        s.weighted_coordinates,
        s.saw_nan,
    ))
}

#[pyfunction]
pub(crate) fn seg_max_label(py: Python<'_>, labels: PyReadonlyArrayDyn<'_, i64>) -> PyResult<usize> {
    let l = labels.as_array();
    py.detach(|| segment::max_label(l)).map_err(py_err)
}

#[pyfunction]
pub(crate) fn seg_centred_sum_of_squares(
    py: Python<'_>,
    values: PyReadonlyArrayDyn<'_, f64>,
    labels: PyReadonlyArrayDyn<'_, i64>,
    means: Vec<f64>,
) -> PyResult<Vec<f64>> {
    let (v, l) = (values.as_array(), labels.as_array());
    py.detach(|| segment::centred_sum_of_squares(v, l, &means))
        .map_err(py_err)
}

#[pyfunction]
#[allow(clippy::type_complexity)]
pub(crate) fn seg_find_objects(
    py: Python<'_>,
    labels: PyReadonlyArrayDyn<'_, i64>,
    max_label: usize,
) -> PyResult<Vec<Option<Vec<(usize, usize)>>>> {
    let l = labels.as_array();
    py.detach(|| segment::find_objects(l, max_label)).map_err(py_err)
}

/// (distances, indices or None).
#[pyfunction]
pub(crate) fn seg_distance_transform_edt(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, bool>,
    sampling: Option<Vec<f64>>,
    return_indices: bool,
) -> PyResult<(Array<f64>, Option<Array<i32>>)> {
    let view = input.as_array();
    let out = py
        .detach(|| segment::distance_transform_edt(view, sampling.as_deref(), return_indices))
        .map_err(py_err)?;
    Ok((
        out.distances.into_pyarray(py).unbind(),
        out.indices.map(|i| i.into_pyarray(py).unbind()),
    ))
}

/// Distances on the GPU (float32 values).
#[pyfunction]
pub(crate) fn seg_distance_transform_edt_gpu(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, bool>,
    sampling: Option<Vec<f64>>,
) -> PyResult<Array<f32>> {
    let backend = crate::select_backend("gpu")?;
    let hounsfield::Backend::Gpu(ctx) = backend else {
        unreachable!("select_backend(\"gpu\") returns a GPU backend")
    };
    let view = input.as_array();
    let out = py
        .detach(|| segment::distance_transform_edt_on_gpu(&ctx, view, sampling.as_deref()))
        .map_err(py_err)?;
    Ok(out.into_pyarray(py).unbind())
}

/// (distances, indices or None).
#[pyfunction]
pub(crate) fn seg_distance_transform_cdt(
    py: Python<'_>,
    input: PyReadonlyArrayDyn<'_, bool>,
    metric: PyReadonlyArrayDyn<'_, bool>,
    return_indices: bool,
) -> PyResult<(Array<i32>, Option<Array<i32>>)> {
    let (view, m) = (input.as_array(), metric.as_array());
    let out = py
        .detach(|| segment::distance_transform_cdt(view, m, return_indices))
        .map_err(py_err)?;
    Ok((
        out.distances.into_pyarray(py).unbind(),
        out.indices.map(|i| i.into_pyarray(py).unbind()),
    ))
}

/// Watershed markers as numpy holds them: int32 and int64 pass without a copy (the Python
/// side converts other integer types to int64); the labels come back in the same type.
#[derive(FromPyObject)]
pub(crate) enum Markers<'py> {
    I32(PyReadonlyArrayDyn<'py, i32>),
    I64(PyReadonlyArrayDyn<'py, i64>),
}

/// skimage's watershed; labels in the markers' type. `backend` `gpu`: the GPU flood (classic
/// watershed, its tie rule); anything else the CPU's.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn seg_watershed(
    py: Python<'_>,
    image: PyReadonlyArrayDyn<'_, f64>,
    markers: Markers<'_>,
    mask: Option<PyReadonlyArrayDyn<'_, bool>>,
    footprint: PyReadonlyArrayDyn<'_, bool>,
    offset: Option<Vec<usize>>,
    compactness: f64,
    watershed_line: bool,
    backend: &str,
) -> PyResult<Py<PyAny>> {
    let options = segment::WatershedOptions {
        mask: mask.as_ref().map(|m| m.as_array()),
        footprint: Some(footprint.as_array()),
        offset,
        compactness,
        watershed_line,
    };
    let ctx = if backend == "gpu" {
        let hounsfield::Backend::Gpu(ctx) = crate::select_backend("gpu")? else {
            unreachable!("select_backend(\"gpu\") returns a GPU backend")
        };
        Some(ctx)
    } else {
        None
    };
    let image = image.as_array();
    fn run<M: Copy + Ord + Default + Send + Sync + numpy::Element>(
        py: Python<'_>,
        ctx: Option<&hounsfield::gpu::GpuContext>,
        image: ndarray::ArrayViewD<'_, f64>,
        markers: ndarray::ArrayViewD<'_, M>,
        options: &segment::WatershedOptions<'_>,
    ) -> PyResult<Py<PyAny>> {
        let out = py
            .detach(|| match ctx {
                Some(ctx) => segment::watershed_on_gpu(ctx, image, markers, options),
                None => segment::watershed(image, markers, options),
            })
            .map_err(py_err)?;
        Ok(out.into_pyarray(py).into_any().unbind())
    }
    match &markers {
        Markers::I32(m) => run(py, ctx.as_deref(), image, m.as_array(), &options),
        Markers::I64(m) => run(py, ctx.as_deref(), image, m.as_array(), &options),
    }
}

#[pyfunction]
pub(crate) fn seg_generate_binary_structure(py: Python<'_>, rank: usize, connectivity: i64) -> PyResult<Array<bool>> {
    let s = segment::generate_binary_structure(rank, connectivity).map_err(py_err)?;
    Ok(s.into_pyarray(py).unbind())
}

#[pyfunction]
pub(crate) fn seg_iterate_structure(
    py: Python<'_>,
    structure: PyReadonlyArrayDyn<'_, bool>,
    iterations: i64,
) -> PyResult<Array<bool>> {
    let view = structure.as_array();
    let (s, _) = py
        .detach(|| segment::iterate_structure(view, iterations, None))
        .map_err(py_err)?;
    Ok(s.into_pyarray(py).unbind())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(seg_label, m)?)?;
    m.add_function(wrap_pyfunction!(seg_label_statistics, m)?)?;
    m.add_function(wrap_pyfunction!(seg_label_histograms, m)?)?;
    m.add_function(wrap_pyfunction!(seg_max_label, m)?)?;
    m.add_function(wrap_pyfunction!(seg_centred_sum_of_squares, m)?)?;
    m.add_function(wrap_pyfunction!(seg_find_objects, m)?)?;
    m.add_function(wrap_pyfunction!(seg_distance_transform_edt, m)?)?;
    m.add_function(wrap_pyfunction!(seg_distance_transform_cdt, m)?)?;
    m.add_function(wrap_pyfunction!(seg_distance_transform_edt_gpu, m)?)?;
    m.add_function(wrap_pyfunction!(seg_generate_binary_structure, m)?)?;
    m.add_function(wrap_pyfunction!(seg_watershed, m)?)?;
    m.add_function(wrap_pyfunction!(seg_iterate_structure, m)?)?;
    Ok(())
}

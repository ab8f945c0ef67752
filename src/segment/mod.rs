//! Segmentation and measurement: connected components, per-label measurements, distance
//! transforms, structuring elements — scipy.ndimage's semantics (`label`, `find_objects`,
//! `sum_labels` … `center_of_mass`, `distance_transform_edt` / `_cdt`,
//! `generate_binary_structure`, `iterate_structure`) and scikit-image's for the helpers
//! (`remove_small_objects`, the largest component).
//!
//! Arrays have any number of axes, C order, `(z, y, x)` for volumes. Masks are `bool` (the
//! Python package applies scipy's truthiness: any non-zero value, NaN included, is true).

mod cdt;
mod edt;
mod edt_gpu;
mod label;
mod label_gpu;
mod measure;
mod priority;
mod structure;
mod watershed;
mod watershed_flood;
mod watershed_gpu;

pub use cdt::{ChamferTransform, distance_transform_cdt};
pub use edt::{DistanceTransform, distance_transform_edt};
#[cfg(test)]
pub(crate) use edt_gpu::KERNELS as EDT_KERNELS;
pub use edt_gpu::{distance_transform_edt_gpu, distance_transform_edt_gpu_timed, distance_transform_edt_on_gpu};
pub use label::{Labels, label};
pub(crate) use label::{RunForest, backward_neighbours, run_forest};
#[cfg(test)]
pub(crate) use label_gpu::KERNELS as LABEL_KERNELS;
pub(crate) use label_gpu::record_fill_holes;
pub use label_gpu::{GpuLabels, label_gpu, label_on_gpu};
pub use measure::{
    BoundingBox, HistogramLabels, LabelHistograms, LabelStatistics, centred_sum_of_squares, find_objects,
    label_histograms, label_statistics, max_label, select_labels,
};
pub use structure::{generate_binary_structure, iterate_structure};
pub use watershed::{WatershedOptions, watershed};
#[cfg(test)]
pub(crate) use watershed_gpu::KERNELS as WATERSHED_KERNELS;
pub use watershed_gpu::{
    BlockVisibility, GpuFloodTrace, watershed_on_gpu, watershed_on_gpu_traced, watershed_on_gpu_traced_with,
};

use ndarray::{ArrayD, ArrayViewD};

use crate::backend::Backend;
use crate::error::Result;

/// The `(z, y, x)` volume shape of a 2D `(y, x)` or 3D array, for the GPU paths (`what` names
/// the operation in the error).
pub(crate) fn volume_shape(dims: &[usize], what: &str) -> Result<[usize; 3]> {
    match *dims {
        [ny, nx] => Ok([1, ny, nx]),
        [nz, ny, nx] => Ok([nz, ny, nx]),
        _ => Err(crate::error::Error::InvalidShape(format!(
            "{what} on the GPU takes 2D and 3D masks; got shape {dims:?} (use the CPU backend)"
        ))),
    }
}

/// A mask as the 0/1 f32 volume the GPU kernels read (2D masks become one slice).
pub(crate) fn mask_volume(input: ArrayViewD<'_, bool>, shape: [usize; 3]) -> Result<ndarray::Array3<f32>> {
    // In parallel where the mask is contiguous: the fresh 256 MiB of a CT-sized mask costs a
    // page fault per 4 KiB on first touch, slow on one thread (see gpu::volume::copy_in_parallel).
    let as_float = |&v: &bool| f32::from(u8::from(v));
    let flat: Vec<f32> = match input.as_slice() {
        Some(samples) => {
            use rayon::prelude::*;
            samples.par_iter().map(as_float).collect()
        }
        None => input.iter().map(as_float).collect(),
    };
    ndarray::Array3::from_shape_vec(shape, flat).map_err(|e| crate::error::Error::InvalidShape(e.to_string()))
}

/// [`label`] on `backend`: the GPU takes 2D and 3D masks (other ranks are an error there: use
/// the CPU), the CPU any number of axes. Both give scipy's labels.
pub fn label_with(
    backend: &Backend,
    input: ArrayViewD<'_, bool>,
    structure: Option<ArrayViewD<'_, bool>>,
) -> Result<Labels> {
    match backend {
        Backend::Cpu => label(input, structure),
        Backend::Gpu(ctx) => label_on_gpu(ctx, input, structure),
    }
}

/// The largest component of `input` (joined through `structure`, default faces) as a mask;
/// ties go to the component found first in raster order. An input without true samples gives
/// an all-false mask.
pub fn largest_component(input: ArrayViewD<'_, bool>, structure: Option<ArrayViewD<'_, bool>>) -> Result<ArrayD<bool>> {
    let labels = label(input, structure)?;
    let mut counts = vec![0u64; labels.count + 1];
    for &l in &labels.labels {
        counts[l as usize] += 1;
    }
    let largest = (1..counts.len()).fold(
        0usize,
        |best, l| if counts[l] > counts[best] || best == 0 { l } else { best },
    );
    Ok(labels.labels.mapv(|l| largest != 0 && l as usize == largest))
}

/// `skimage.morphology.remove_small_objects(input, min_size)` for a mask: components
/// (joined through `structure`) with fewer than `min_size` samples are removed.
pub fn remove_small_objects(
    input: ArrayViewD<'_, bool>,
    min_size: u64,
    structure: Option<ArrayViewD<'_, bool>>,
) -> Result<ArrayD<bool>> {
    let mut labels = label(input, structure)?.labels;
    select_labels(&mut labels, |_, count| count >= min_size);
    Ok(labels.mapv(|l| l != 0))
}

//! The three orthogonal projections radiologists read — axial, coronal, sagittal — as 2D images
//! ready to display: square pixels of the finer in-plane spacing (the projection is resampled
//! with the spacing of the volume), and the head up in coronal and sagittal views (slice z grows
//! towards the head in LPS, images are drawn top-down). A composition of [`Projection`] and
//! [`Resample`], on whichever backend is given.

use ndarray::{Array2, Axis, s};

use crate::Backend;
use crate::error::Result;
use crate::filter::{Filter, Projection, ProjectionKind, Resample};
use crate::volume::Volume;

/// One projected view.
#[derive(Debug, Clone)]
pub struct OrthogonalView {
    /// `"axial"`, `"coronal"` or `"sagittal"`.
    pub name: &'static str,
    /// The image, `(rows, columns)`, row 0 at the top.
    pub image: Array2<f32>,
    /// Side of its square pixels, mm.
    pub pixel_mm: f64,
}

/// Axial, coronal and sagittal projections of `volume` (`kind`: MIP, MinIP or mean).
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::{ProjectionKind, orthogonal_projections};
/// let grid = Grid::with_spacing([2.0, 1.0, 1.0])?;
/// let volume = Volume::new(ndarray::Array3::<f32>::zeros((10, 16, 12)), grid)?;
/// let views = orthogonal_projections(&Backend::Cpu, &volume, ProjectionKind::Max)?;
/// // Coronal: 10 slices of 2 mm become 20 rows of 1 mm; 12 columns.
/// assert_eq!(views[1].image.dim(), (20, 12));
/// # Ok::<(), hounsfield::Error>(())
/// ```
pub fn orthogonal_projections(backend: &Backend, volume: &Volume, kind: ProjectionKind) -> Result<[OrthogonalView; 3]> {
    let [sz, sy, sx] = volume.grid().spacing;
    let view = |name: &'static str, axis: usize| -> Result<OrthogonalView> {
        let projected = Projection::new(kind, axis).apply(backend, volume.data())?;
        // The 2D image (rows, columns) and the spacing along each.
        let (image, rows_mm, cols_mm) = match axis {
            0 => (projected.index_axis_move(Axis(0), 0), sy, sx),
            1 => (head_up(projected.index_axis_move(Axis(1), 0)), sz, sx),
            _ => (head_up(projected.index_axis_move(Axis(2), 0)), sz, sy),
        };
        let fine = rows_mm.min(cols_mm);
        let (h, w) = image.dim();
        let shape = [
            ((h as f64 * rows_mm / fine).round() as usize).max(1),
            ((w as f64 * cols_mm / fine).round() as usize).max(1),
        ];
        let image = if shape == [h, w] {
            image
        } else {
            Resample::to_shape(&shape).apply(backend, image.view())?
        };
        Ok(OrthogonalView {
            name,
            image,
            pixel_mm: fine,
        })
    };
    Ok([view("axial", 0)?, view("coronal", 1)?, view("sagittal", 2)?])
}

/// Rows reversed: slice z grows towards the head, images are drawn top-down.
fn head_up(image: Array2<f32>) -> Array2<f32> {
    image.slice(s![..;-1, ..]).to_owned()
}

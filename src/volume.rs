//! The volume model: `f32` voxels in `(z, y, x)` order plus the grid that places them in space.

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut3, Axis};

use crate::error::{Error, Result};

/// Where the voxels of a [`Volume`] sit in DICOM patient coordinates (LPS, millimetres).
///
/// All per-axis arrays are in array-axis order `(z, y, x)`, like the data:
/// `spacing[0]` is the distance between slices. `origin` is the patient position of voxel
/// `(0, 0, 0)` as `(x, y, z)` in LPS. `direction[a]` is the unit vector, in LPS `(x, y, z)`, along
/// which array axis `a` increases (for an axial DICOM series: `direction[2]` is the row
/// direction cosine, `direction[1]` the column direction cosine, `direction[0]` their cross
/// product).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    /// Voxel size along `(z, y, x)` in millimetres; strictly positive and finite.
    pub spacing: [f64; 3],
    /// Patient position (LPS x, y, z in mm) of the centre of voxel `(0, 0, 0)`.
    pub origin: [f64; 3],
    /// Direction cosines of the array axes `(z, y, x)`, each an LPS `(x, y, z)` unit vector.
    pub direction: [[f64; 3]; 3],
}

impl Default for Grid {
    /// 1 mm isotropic voxels at the origin, axes aligned with the patient axes.
    fn default() -> Self {
        Grid {
            spacing: [1.0; 3],
            origin: [0.0; 3],
            direction: [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]],
        }
    }
}

impl Grid {
    /// A grid with the given `(z, y, x)` spacing in mm and default origin and direction.
    pub fn with_spacing(spacing: [f64; 3]) -> Result<Self> {
        let grid = Grid {
            spacing,
            ..Grid::default()
        };
        grid.validate()?;
        Ok(grid)
    }

    /// Checks that spacing is positive and finite and that origin and direction are finite.
    pub fn validate(&self) -> Result<()> {
        for (axis, s) in ["z", "y", "x"].iter().zip(self.spacing) {
            if !(s.is_finite() && s > 0.0) {
                return Err(Error::param(
                    "spacing",
                    format!("spacing along {axis} is {s}; it must be a positive, finite number of millimetres"),
                ));
            }
        }
        if self
            .origin
            .iter()
            .chain(self.direction.iter().flatten())
            .any(|v| !v.is_finite())
        {
            return Err(Error::param("grid", "origin and direction must be finite numbers"));
        }
        Ok(())
    }
}

/// A 3D image: `f32` voxels in C-order `(z, y, x)` plus its [`Grid`].
///
/// 2D images are handled by every filter directly as `ndarray` 2D arrays (`(y, x)`), or as a
/// volume with one slice; [`Volume::slice`] extracts one.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    data: Array3<f32>,
    grid: Grid,
}

impl Volume {
    /// Wraps `data` with `grid`, checking the grid and that no axis is empty.
    pub fn new(data: Array3<f32>, grid: Grid) -> Result<Self> {
        grid.validate()?;
        check_shape(data.shape())?;
        Ok(Volume { data, grid })
    }

    /// Wraps `data` with a 1 mm isotropic grid.
    pub fn from_array(data: Array3<f32>) -> Result<Self> {
        Volume::new(data, Grid::default())
    }

    /// The voxels, `(z, y, x)`.
    pub fn data(&self) -> ArrayView3<'_, f32> {
        self.data.view()
    }

    /// The voxels, mutable (a view, so the shape cannot change under the grid).
    pub fn data_mut(&mut self) -> ArrayViewMut3<'_, f32> {
        self.data.view_mut()
    }

    /// Takes the voxel array out of the volume.
    pub fn into_data(self) -> Array3<f32> {
        self.data
    }

    /// The grid.
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// Shape as `[nz, ny, nx]`.
    pub fn shape(&self) -> [usize; 3] {
        let s = self.data.shape();
        [s[0], s[1], s[2]]
    }

    /// A copy of slice `z` as a 2D `(y, x)` image.
    pub fn slice(&self, z: usize) -> Result<Array2<f32>> {
        let nz = self.shape()[0];
        if z >= nz {
            return Err(Error::param(
                "z",
                format!("slice {z} requested from a volume with {nz} slices"),
            ));
        }
        Ok(self.data.index_axis(Axis(0), z).to_owned())
    }
}

/// Rejects empty axes with a message that names the axis.
pub(crate) fn check_shape(shape: &[usize]) -> Result<()> {
    if shape.is_empty() {
        return Err(Error::InvalidShape("a 0-dimensional array has no voxels".into()));
    }
    if let Some(axis) = shape.iter().position(|&n| n == 0) {
        return Err(Error::InvalidShape(format!(
            "axis {axis} of shape {shape:?} has length 0; every axis needs at least one voxel"
        )));
    }
    Ok(())
}

/// Views a 2D `(y, x)` image as a one-slice volume `(1, y, x)` without copying.
pub(crate) fn image_as_volume(image: ArrayView2<'_, f32>) -> ArrayView3<'_, f32> {
    image.insert_axis(Axis(0))
}

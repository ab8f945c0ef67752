//! FDK (Feldkamp, Davis & Kress, JOSA A 1(6), 1984) for circular cone beams with a flat panel
//! or a cylindrical detector, and its 2D special case, fan-beam FBP, for flat and arc detectors
//! (Kak & Slaney, *Principles of Computerized Tomographic Imaging*, §3.4; the cylindrical form
//! as in H. Turbell, *Cone-beam reconstruction using filtered backprojection*, PhD thesis,
//! Linköping University, 2001):
//!
//! 1. pre-weighting: `SID / √(SID² + ũ² + ṽ²)` (ũ, ṽ: detector coordinates scaled to the
//!    isocentre) for flat detectors, `SID · cos γ · SID / √(SID² + ṽ²)` for arcs and cylinders
//!    (γ the column's angle; one row: `ṽ = 0`); short scans multiply by Parker's weights
//!    (doubled, see [`super::parker`]);
//! 2. ramp filtering along detector rows (the equiangular kernel for arcs and cylinders),
//!    zero-padded, with the windows of [`super::ramp`];
//! 3. voxel-driven back-projection ([`super::backproject`]) weighted by `(SID / distance)²`
//!    (arcs and cylinders: `1 / L²`, L the in-plane distance to the source), each view by its
//!    angular gap, which makes unevenly spaced views integrate correctly.
//!
//! Output: a volume on any [`Grid`] in the geometry's frame (see [`centred_grid`]); voxels
//! outside the field of view get whatever rays reach them (no mask), as RTK. NaN or infinite
//! projections are an error (FBP would spread them over the whole volume).
//!
//! ```
//! use hounsfield::recon::{Fdk, Geometry, Phantom, SheppLogan, centred_grid};
//!
//! // 120 views over 360° of a 48 × 64 panel (1 mm pixels), SID 300 mm, SDD 500 mm.
//! let angles: Vec<f64> = (0..120).map(|k| k as f64 * 3.0).collect();
//! let geometry = Geometry::cone(&angles, 300.0, 500.0, 48, 64, [1.0, 1.0], [0.0, 0.0])?;
//! let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 15.0)?;
//! let projections = geometry.project_exact(&phantom)?; // views × rows × cols
//! let shape = [16, 32, 32];
//! let grid = centred_grid(shape, [1.0; 3])?;
//! let volume = Fdk::new(&geometry)?.reconstruct_cpu(projections.view(), shape, &grid)?;
//! // The phantom's centre (value 0.2 in the modified table) comes back.
//! assert!((volume[[8, 16, 16]] - 0.2).abs() < 0.05);
//! // On a GPU: Fdk::reconstruct_gpu(&ctx, projections.view(), shape, &grid).
//! # Ok::<(), hounsfield::Error>(())
//! ```

use std::f64::consts::PI;

use ndarray::{Array3, ArrayView3};

use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuProjections, GpuVolume};
use crate::recon::geometry::DetectorMap;
use crate::recon::geometry::{Beam, Detector, Geometry};
use crate::recon::parker::Scan;
use crate::recon::ramp::{RampWindow, equiangular_response, frequency_response, padded_len};
use crate::recon::stages::{FilteredBackprojection, Weighting};
use crate::volume::Grid;

/// A grid of `voxel_mm = [z, y, x]` voxels whose centre lies on the isocentre (voxel
/// `(n − 1)/2` at 0 along every axis), in the geometry's frame.
pub fn centred_grid(shape: [usize; 3], voxel_mm: [f64; 3]) -> Result<Grid> {
    crate::volume::check_shape(&shape)?;
    let mut grid = Grid::with_spacing(voxel_mm)?;
    grid.origin = [
        -(shape[2] as f64 - 1.0) / 2.0 * voxel_mm[2],
        -(shape[1] as f64 - 1.0) / 2.0 * voxel_mm[1],
        -(shape[0] as f64 - 1.0) / 2.0 * voxel_mm[0],
    ];
    Ok(grid)
}

/// Checks projections of `dims` against `g` and a `shape` volume on `grid` (FDK and the
/// helical FDK).
pub(crate) fn check_sizes(g: &Geometry, dims: (usize, usize, usize), shape: [usize; 3], grid: &Grid) -> Result<()> {
    if dims != (g.views.len(), g.rows, g.cols) {
        return Err(Error::InvalidShape(format!(
            "projections {}×{}×{} do not match the geometry's {} views × {} rows × {} columns",
            dims.0,
            dims.1,
            dims.2,
            g.views.len(),
            g.rows,
            g.cols
        )));
    }
    crate::volume::check_shape(&shape)?;
    grid.validate()?;
    if shape.iter().product::<usize>() > 1 << 34 {
        return Err(Error::TooLarge(format!("a {shape:?} volume")));
    }
    Ok(())
}

/// Refuses NaN or infinite host projections, which FBP would spread over the whole volume.
pub(crate) fn check_finite(projections: ArrayView3<'_, f32>) -> Result<()> {
    if projections.iter().any(|v| !v.is_finite()) {
        return Err(Error::param(
            "projections",
            "the projections hold NaN or infinite values; FDK would spread them over the whole volume",
        ));
    }
    Ok(())
}

/// FDK / fan-beam FBP.
#[derive(Debug, Clone, PartialEq)]
pub struct Fdk {
    geometry: Geometry,
    window: RampWindow,
    cutoff: f64,
    scan: Scan,
}

/// What the filtering needs to know about the detector.
struct Detectorics {
    sid: f64,
    /// Spacing of the filtered samples: mm at the isocentre (flat) or radians (arc).
    spacing: f64,
    /// Row spacing at the isocentre, mm.
    row_spacing: f64,
    centre_col: f64,
    centre_row: f64,
}

impl Fdk {
    /// FDK for projections taken with `geometry` ([`Geometry::cone`],
    /// [`Geometry::cone_cylindrical`] or [`Geometry::fan`]),
    /// ramp filter. Full scans (360°) and short scans (180° + fan angle or more) are accepted,
    /// with views in increasing angle order, evenly spaced or not.
    pub fn new(geometry: &Geometry) -> Result<Fdk> {
        if geometry.beam != Beam::Divergent {
            return Err(Error::param(
                "geometry",
                "FDK needs a divergent beam (Geometry::cone or Geometry::fan); use Fbp2d for parallel beams",
            ));
        }
        geometry.check_circular()?;
        Ok(Fdk {
            geometry: geometry.clone(),
            window: RampWindow::Ramp,
            cutoff: 1.0,
            scan: Scan::of(geometry)?,
        })
    }

    /// Filter window (default ramp).
    pub fn window(mut self, window: RampWindow) -> Self {
        self.window = window;
        self
    }

    /// Frequency cut-off as a fraction of Nyquist (default 1).
    pub fn cutoff(mut self, cutoff: f64) -> Self {
        self.cutoff = cutoff;
        self
    }

    /// The geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Whether the views form a short scan (Parker-weighted).
    pub fn is_short_scan(&self) -> bool {
        self.scan.short.is_some()
    }

    fn detectorics(&self) -> Detectorics {
        let g = &self.geometry;
        let v0 = &g.views[0];
        let sid = (v0.source[0].powi(2) + v0.source[1].powi(2)).sqrt();
        let du = (v0.u[0].powi(2) + v0.u[1].powi(2) + v0.u[2].powi(2)).sqrt();
        let dv = (v0.v[0].powi(2) + v0.v[1].powi(2) + v0.v[2].powi(2)).sqrt();
        Detectorics {
            sid,
            spacing: match g.detector {
                Detector::Flat => du * sid / g.sdd,
                Detector::Arc => du / g.sdd,
            },
            row_spacing: dv * sid / g.sdd,
            centre_col: (g.cols as f64 - 1.0) / 2.0 - g.offset_u,
            centre_row: (g.rows as f64 - 1.0) / 2.0 - g.offset_v,
        }
    }

    /// The weighting stage: cosine weights (`rows × cols`) and, for short scans, Parker's
    /// weights (`views × cols`; a full scan has none).
    pub(crate) fn weighting(&self) -> Weighting {
        let g = &self.geometry;
        let d = self.detectorics();
        let coord = |col: usize| (col as f64 - d.centre_col) * d.spacing;
        let cosine = (0..g.rows)
            .flat_map(|row| {
                let v = (row as f64 - d.centre_row) * d.row_spacing;
                (0..g.cols).map(move |col| {
                    let u = coord(col);
                    match g.detector {
                        Detector::Flat => d.sid / (d.sid * d.sid + u * u + v * v).sqrt(),
                        // The cosine of the ray's angle to the central ray on a cylinder
                        // about the source: cos γ · D / √(D² + v²) (v at the isocentre; one
                        // row: v = 0, the fan's cos γ). The extra D cancels the view weight's
                        // 1 / SID² with the back-projector's SID² / L².
                        Detector::Arc => d.sid * u.cos() * d.sid / (d.sid * d.sid + v * v).sqrt(),
                    }
                })
            })
            .map(|w| w as f32)
            .collect();
        let short_scan = self.is_short_scan().then(|| {
            (0..g.views.len())
                .flat_map(|view| {
                    (0..g.cols).map(move |col| {
                        let gamma = match g.detector {
                            Detector::Flat => (coord(col) / d.sid).atan(),
                            Detector::Arc => coord(col),
                        };
                        self.scan.weight(view, gamma) as f32
                    })
                })
                .collect()
        });
        Weighting {
            cosine: Some(cosine),
            short_scan,
        }
    }

    /// The reconstruction as stages for a volume on `grid`: weighting, ramp, back-projection.
    pub(crate) fn stages(&self, grid: &Grid) -> Result<FilteredBackprojection> {
        Ok(FilteredBackprojection {
            weighting: self.weighting(),
            response: self.response()?,
            map: DetectorMap::new(&self.geometry, grid)?,
            view_weights: self.view_weights(),
            mask: None,
        })
    }

    /// The ramp's frequency response for rows padded to [`padded_len`].
    pub(crate) fn response(&self) -> Result<Vec<f64>> {
        let padded = padded_len(self.geometry.cols);
        match self.geometry.detector {
            Detector::Flat => frequency_response(padded, self.window, self.cutoff),
            Detector::Arc => equiangular_response(padded, self.window, self.cutoff, self.detectorics().spacing),
        }
    }

    /// The weight of each view in the back-projection: its angular gap, the ramp's units
    /// (`1 / (4 · spacing)`, the formula's ½ included), and `1 / SID²` for arcs, whose
    /// back-projector weight is `SID² / L²`.
    pub(crate) fn view_weights(&self) -> Vec<f64> {
        let scale = self.view_scale();
        self.scan.delta_beta.iter().map(|b| b * scale).collect()
    }

    /// The view weight per radian of angular gap (see [`Fdk::view_weights`]).
    pub(crate) fn view_scale(&self) -> f64 {
        let d = self.detectorics();
        match self.geometry.detector {
            Detector::Flat => 1.0 / (4.0 * d.spacing),
            Detector::Arc => 1.0 / (4.0 * d.spacing * d.sid * d.sid),
        }
    }

    /// The detector-only stages of FDK for `geometry`'s detector (cosine weights, ramp, view
    /// scale), without the circular-scan checks: for the helical FDK, which weighs its views
    /// itself.
    pub(crate) fn detector_stages(geometry: &Geometry, window: RampWindow, cutoff: f64) -> Fdk {
        Fdk {
            geometry: geometry.clone(),
            window,
            cutoff,
            scan: Scan {
                angles: Vec::new(),
                reversed: false,
                delta_beta: Vec::new(),
                short: None,
            },
        }
    }

    /// Checks projections against the geometry and the volume against the field of view.
    pub(crate) fn check(&self, dims: (usize, usize, usize), shape: [usize; 3], grid: &Grid) -> Result<()> {
        let g = &self.geometry;
        check_sizes(g, dims, shape, grid)?;
        // Extent of the volume in (x, y, z), voxel edges included.
        let extent = |axis: usize, n: usize| {
            let (o, s) = (grid.origin[axis], grid.spacing[2 - axis]);
            (o - s / 2.0, o + (n as f64 - 0.5) * s)
        };
        let (x, y, z) = (extent(0, shape[2]), extent(1, shape[1]), extent(2, shape[0]));
        let corner = x.0.abs().max(x.1.abs()).hypot(y.0.abs().max(y.1.abs()));
        g.check_source_outside(corner)?;
        // The field of view: the cylinder the detector sees at every angle (the fan's half angle
        // on the narrower side) must hold the cylinder inscribed in the volume, and the detector
        // rows must cover the volume's height at the isocentre.
        let d = self.detectorics();
        let narrow = (g.cols as f64) / 2.0 - g.offset_u.abs();
        let fov = match g.detector {
            Detector::Flat => d.sid * (narrow * d.spacing / d.sid).atan().sin(),
            Detector::Arc => d.sid * (narrow * d.spacing).min(PI / 2.0).sin(),
        };
        let inscribed = [-x.0, x.1, -y.0, y.1].into_iter().fold(f64::INFINITY, f64::min);
        let slack = grid.spacing[1].max(grid.spacing[2]);
        if inscribed > fov + slack {
            return Err(Error::param(
                "detector",
                format!(
                    "the detector sees a field of view of radius {fov:.1} mm but the volume reaches {inscribed:.1} mm \
                     from the axis; use a wider detector (or offset) or a smaller volume"
                ),
            ));
        }
        if g.rows > 1 {
            let half_height = (g.rows as f64 / 2.0 - g.offset_v.abs()) * d.row_spacing;
            let reach = z.0.abs().max(z.1.abs());
            if reach > half_height + grid.spacing[0] {
                return Err(Error::param(
                    "detector",
                    format!(
                        "the detector rows cover ±{half_height:.1} mm at the isocentre but the volume reaches \
                         {reach:.1} mm along z; use more detector rows or fewer slices"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Reconstructs `views × rows × cols` projections into a `shape = [nz, ny, nx]` volume on
    /// `grid`, on the CPU.
    pub fn reconstruct_cpu(
        &self,
        projections: ArrayView3<'_, f32>,
        shape: [usize; 3],
        grid: &Grid,
    ) -> Result<Array3<f32>> {
        self.check(projections.dim(), shape, grid)?;
        check_finite(projections)?;
        self.stages(grid)?.reconstruct_cpu(projections, shape)
    }
}

impl Fdk {
    /// Reconstructs on the GPU into a resident volume (see [`Fdk::reconstruct_gpu`]), calling
    /// `progress(views done, views)` after each batch (for progress bars on long runs).
    pub fn reconstruct_gpu_volume(
        &self,
        ctx: &GpuContext,
        projections: ArrayView3<'_, f32>,
        shape: [usize; 3],
        grid: &Grid,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<GpuVolume> {
        self.check(projections.dim(), shape, grid)?;
        check_finite(projections)?;
        self.stages(grid)?.reconstruct_gpu(ctx, projections, shape, progress)
    }

    /// Reconstructs `views × rows × cols` host projections on the GPU: the views travel in
    /// batches of one storage binding, are weighted and filtered on the GPU (WGSL FFT) and
    /// back-projected there, so projections larger than GPU memory work; the volume is tiled
    /// in z-slabs when it exceeds one binding.
    pub fn reconstruct_gpu(
        &self,
        ctx: &GpuContext,
        projections: ArrayView3<'_, f32>,
        shape: [usize; 3],
        grid: &Grid,
    ) -> Result<Array3<f32>> {
        self.reconstruct_gpu_volume(ctx, projections, shape, grid, &mut |_, _| {})?
            .download(ctx)
    }

    /// Reconstructs projections already on the GPU (left unchanged: each batch is filtered in
    /// a copy). NaN in them propagates to the voxels that see it.
    pub fn reconstruct_resident(
        &self,
        ctx: &GpuContext,
        projections: &GpuProjections,
        shape: [usize; 3],
        grid: &Grid,
    ) -> Result<GpuVolume> {
        let [views, rows, cols] = projections.shape();
        self.check((views, rows, cols), shape, grid)?;
        self.stages(grid)?.reconstruct_resident(ctx, projections, shape)
    }
}

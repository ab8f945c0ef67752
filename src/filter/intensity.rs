//! Intensity transforms: rescale (slope/intercept), clip, window/level with the DICOM VOI LUT
//! functions, binary thresholds (fixed or Otsu). All are pointwise programs
//! (`filter/pointwise.rs`): one pass over the data on either backend.
//!
//! NaN in the data: [`Rescale`], [`Clip`] and [`WindowLevel`] keep NaN; [`Threshold`] maps it to
//! `outside` (a NaN is in no interval).

use ndarray::{Array, Array3, ArrayView, ArrayView3, ArrayViewMut3};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::filter::pointwise::{self, Op};
use crate::filter::{Filter, Spatial, check_ndim};
use crate::gpu::{GpuVolume, Recorder};
use crate::stats::{threshold_otsu, threshold_otsu_gpu};

fn finite(name: &'static str, v: f64) -> Result<f32> {
    if v.is_finite() && v.abs() <= f64::from(f32::MAX) {
        Ok(v as f32)
    } else {
        Err(Error::param(name, format!("{v} is not a finite f32 value")))
    }
}

/// Implements [`Filter`] for a filter whose whole work is the pointwise program `ops()`.
macro_rules! pointwise_filter {
    ($ty:ty, $name:literal) => {
        impl Filter for $ty {
            fn name(&self) -> &'static str {
                $name
            }

            fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
                check_ndim(ndim)?;
                Ok(pointwise::run_cpu(&self.ops()?, input, None))
            }

            fn cpu_into(&self, input: ArrayView3<'_, f32>, ndim: usize, output: ArrayViewMut3<'_, f32>) -> Result<()> {
                check_ndim(ndim)?;
                pointwise::run_cpu_into(&self.ops()?, input, None, output);
                Ok(())
            }

            fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
                check_ndim(ndim)?;
                pointwise::record(rec, &self.ops()?, input, None)
            }
        }
    };
}

/// `value * slope + intercept`: the DICOM modality LUT (stored values → Hounsfield units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rescale {
    /// Multiplier (DICOM RescaleSlope).
    pub slope: f64,
    /// Offset (DICOM RescaleIntercept).
    pub intercept: f64,
}

impl Rescale {
    fn ops(&self) -> Result<Vec<Op>> {
        Ok(vec![Op::Affine {
            scale: finite("slope", self.slope)?,
            offset: finite("intercept", self.intercept)?,
        }])
    }
}
pointwise_filter!(Rescale, "rescale");

/// scikit-image's sigmoid contrast curve (`skimage.exposure.adjust_sigmoid` on float data):
/// `1 / (1 + exp(gain · (cutoff − v)))`, a soft window centred on `cutoff` whose slope there is
/// `gain / 4` (`inv=True` is a negative gain). For CT in HU, e.g. `cutoff = 40`, `gain = 0.02`
/// for soft tissue. NaN stays NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sigmoid {
    /// Where the curve crosses 0.5.
    pub cutoff: f64,
    /// Steepness (per unit of the data); negative inverts the curve.
    pub gain: f64,
}

impl Sigmoid {
    fn ops(&self) -> Result<Vec<Op>> {
        Ok(vec![Op::Sigmoid {
            cutoff: finite("cutoff", self.cutoff)?,
            gain: finite("gain", self.gain)?,
        }])
    }
}
pointwise_filter!(Sigmoid, "sigmoid");

/// Limits values to `[lo, hi]` (`numpy.clip`); NaN stays NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clip {
    /// Lower limit.
    pub lo: f64,
    /// Upper limit.
    pub hi: f64,
}

impl Clip {
    fn ops(&self) -> Result<Vec<Op>> {
        let (lo, hi) = (finite("lo", self.lo)?, finite("hi", self.hi)?);
        if lo > hi {
            return Err(Error::param(
                "lo",
                format!("lower limit {lo} is above the upper limit {hi}"),
            ));
        }
        Ok(vec![Op::Clip { lo, hi }])
    }
}
pointwise_filter!(Clip, "clip");

/// The DICOM VOI LUT functions (PS3.3 C.11.2.1.2, VOI LUT Function (0028,1056)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VoiFunction {
    /// `LINEAR` (the DICOM default): centre and width as stored, `width >= 1`.
    #[default]
    Linear,
    /// `LINEAR_EXACT`: the exact window `[c - w/2, c + w/2]`, `width > 0`.
    LinearExact,
    /// `SIGMOID`: `y_min + (y_max - y_min) / (1 + exp(-4 (x - c) / w))`, `width > 0`.
    Sigmoid,
}

/// Named display windows for CT in HU, as (centre, width).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPreset {
    /// Soft tissue / abdomen: L 40, W 400.
    SoftTissue,
    /// Lung: L -600, W 1500.
    Lung,
    /// Bone: L 400, W 1800.
    Bone,
    /// Brain: L 40, W 80.
    Brain,
}

impl WindowPreset {
    /// `(centre, width)` in HU.
    pub fn center_width(self) -> (f64, f64) {
        match self {
            WindowPreset::SoftTissue => (40.0, 400.0),
            WindowPreset::Lung => (-600.0, 1500.0),
            WindowPreset::Bone => (400.0, 1800.0),
            WindowPreset::Brain => (40.0, 80.0),
        }
    }
}

impl std::str::FromStr for WindowPreset {
    type Err = Error;

    /// `soft-tissue` (or `soft`, `abdomen`), `lung`, `bone`, `brain`.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "soft-tissue" | "soft" | "abdomen" => Ok(WindowPreset::SoftTissue),
            "lung" => Ok(WindowPreset::Lung),
            "bone" => Ok(WindowPreset::Bone),
            "brain" => Ok(WindowPreset::Brain),
            _ => Err(Error::param(
                "window",
                format!("unknown window preset '{s}'; use soft-tissue, lung, bone or brain"),
            )),
        }
    }
}

/// Window/level with a DICOM VOI LUT function, mapping to `[y_min, y_max]` (default `[0, 1]`).
///
/// ```
/// use hounsfield::prelude::*;
/// use hounsfield::filter::{WindowLevel, WindowPreset};
/// let hu = ndarray::array![[-1000.0f32, 40.0, 3000.0]];
/// let grey = WindowLevel::preset(WindowPreset::SoftTissue).apply_u8(&Backend::Cpu, hu.view())?;
/// assert_eq!(grey, ndarray::array![[0u8, 128, 255]]);
/// # Ok::<(), hounsfield::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowLevel {
    /// Window centre (level), DICOM WindowCenter.
    pub center: f64,
    /// Window width, DICOM WindowWidth.
    pub width: f64,
    /// The VOI LUT function.
    pub function: VoiFunction,
    /// Output range `(y_min, y_max)`.
    pub output: (f64, f64),
}

impl WindowLevel {
    /// A LINEAR window with output `[0, 1]`.
    pub fn new(center: f64, width: f64) -> Self {
        WindowLevel {
            center,
            width,
            function: VoiFunction::Linear,
            output: (0.0, 1.0),
        }
    }

    /// A named CT window (LINEAR, output `[0, 1]`).
    pub fn preset(preset: WindowPreset) -> Self {
        let (c, w) = preset.center_width();
        WindowLevel::new(c, w)
    }

    /// Uses another VOI LUT function.
    pub fn function(mut self, function: VoiFunction) -> Self {
        self.function = function;
        self
    }

    /// Maps to `[y_min, y_max]` instead of `[0, 1]`.
    pub fn output(mut self, y_min: f64, y_max: f64) -> Self {
        self.output = (y_min, y_max);
        self
    }

    fn ops(&self) -> Result<Vec<Op>> {
        let center = finite("center", self.center)?;
        let width = finite("width", self.width)?;
        let (y_min, y_max) = (finite("output", self.output.0)?, finite("output", self.output.1)?);
        let min_width = if self.function == VoiFunction::Linear {
            1.0
        } else {
            f32::MIN_POSITIVE
        };
        if width < min_width {
            return Err(Error::param(
                "width",
                format!(
                    "window width {width} is too small: {:?} needs width {}",
                    self.function,
                    if self.function == VoiFunction::Linear {
                        ">= 1"
                    } else {
                        "> 0"
                    }
                ),
            ));
        }
        Ok(vec![match self.function {
            VoiFunction::Linear => Op::WindowLinear {
                center,
                width,
                y_min,
                y_max,
            },
            VoiFunction::LinearExact => Op::WindowLinearExact {
                center,
                width,
                y_min,
                y_max,
            },
            VoiFunction::Sigmoid => Op::WindowSigmoid {
                center,
                width,
                y_min,
                y_max,
            },
        }])
    }

    /// Windows to 8-bit grey levels for display: output `[0, 255]`, rounded to nearest.
    /// NaN becomes 0.
    pub fn apply_u8<D: Spatial>(&self, backend: &Backend, input: ArrayView<'_, f32, D>) -> Result<Array<u8, D>> {
        let grey = self.output(0.0, 255.0).apply(backend, input)?;
        Ok(grey.mapv(|v| {
            if v.is_nan() {
                0
            } else {
                v.round().clamp(0.0, 255.0) as u8
            }
        }))
    }
}
pointwise_filter!(WindowLevel, "window");

/// Binary threshold: `inside` where `lower <= v <= upper`, else `outside` (SimpleITK
/// `BinaryThreshold`; defaults 1 and 0), or above Otsu's threshold ([`Threshold::otsu`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    bounds: Bounds,
    /// Value inside the interval.
    pub inside: f64,
    /// Value outside the interval (and for NaN).
    pub outside: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bounds {
    Interval(f64, f64),
    /// `v > threshold_otsu(input, nbins)`, the convention of scikit-image's example.
    Otsu(usize),
}

impl Threshold {
    /// `lower <= v <= upper` (use infinities for one-sided thresholds).
    pub fn between(lower: f64, upper: f64) -> Self {
        Threshold {
            bounds: Bounds::Interval(lower, upper),
            inside: 1.0,
            outside: 0.0,
        }
    }

    /// `v > t`.
    pub fn above(t: f64) -> Self {
        // The smallest f32 above t: the data are f32.
        let f = t as f32;
        let first = if f64::from(f) > t { f } else { f.next_up() };
        Threshold::between(first.into(), f64::INFINITY)
    }

    /// `v > threshold_otsu(input, nbins)` (scikit-image: `image > threshold_otsu(image)`).
    pub fn otsu(nbins: usize) -> Self {
        Threshold {
            bounds: Bounds::Otsu(nbins),
            inside: 1.0,
            outside: 0.0,
        }
    }

    /// Output values inside and outside (default 1 and 0).
    pub fn values(mut self, inside: f64, outside: f64) -> Self {
        self.inside = inside;
        self.outside = outside;
        self
    }

    /// The CPU program: the interval, or Otsu's threshold of `input` as its lower end.
    fn cpu_ops(&self, input: ArrayView3<'_, f32>) -> Result<Vec<Op>> {
        match self.bounds {
            Bounds::Interval(lo, hi) => self.ops_for(lo, hi),
            Bounds::Otsu(nbins) => {
                let t = threshold_otsu(&Backend::Cpu, input, nbins)?;
                self.ops_for(f64::from(t.next_up()), f64::INFINITY)
            }
        }
    }

    fn ops_for(&self, lower: f64, upper: f64) -> Result<Vec<Op>> {
        if lower.is_nan() || upper.is_nan() || lower > upper {
            return Err(Error::param(
                "lower",
                format!("threshold interval [{lower}, {upper}] is empty or NaN"),
            ));
        }
        let clamp = |v: f64| v.clamp(f64::from(f32::MIN), f64::from(f32::MAX)) as f32;
        let bound = |v: f64| if v.is_infinite() { v as f32 } else { clamp(v) };
        Ok(vec![Op::Threshold {
            lo: bound(lower),
            hi: bound(upper),
            inside: finite("inside", self.inside)?,
            outside: finite("outside", self.outside)?,
        }])
    }
}

impl Filter for Threshold {
    fn name(&self) -> &'static str {
        "threshold"
    }

    fn cpu(&self, input: ArrayView3<'_, f32>, ndim: usize) -> Result<Array3<f32>> {
        check_ndim(ndim)?;
        Ok(pointwise::run_cpu(&self.cpu_ops(input)?, input, None))
    }

    fn cpu_into(&self, input: ArrayView3<'_, f32>, ndim: usize, output: ArrayViewMut3<'_, f32>) -> Result<()> {
        check_ndim(ndim)?;
        pointwise::run_cpu_into(&self.cpu_ops(input)?, input, None, output);
        Ok(())
    }

    fn record(&self, rec: &mut Recorder<'_>, input: &GpuVolume, ndim: usize) -> Result<GpuVolume> {
        check_ndim(ndim)?;
        let ops = match self.bounds {
            Bounds::Interval(lo, hi) => self.ops_for(lo, hi)?,
            Bounds::Otsu(nbins) => {
                // The threshold depends on the data: run what is recorded so far, reduce, continue.
                rec.flush()?;
                let t = threshold_otsu_gpu(rec.context(), input, nbins)?;
                self.ops_for(f64::from(t.next_up()), f64::INFINITY)?
            }
        };
        pointwise::record(rec, &ops, input, None)
    }
}

/// `scipy`-style convenience: `input * slope + intercept` on `backend`.
pub fn rescale<D: Spatial>(
    backend: &Backend,
    input: ArrayView<'_, f32, D>,
    slope: f64,
    intercept: f64,
) -> Result<Array<f32, D>> {
    Rescale { slope, intercept }.apply(backend, input)
}

//! 8-bit greyscale PNG output of 2D images (slices), with a display window.

use std::path::Path;

use ndarray::ArrayView2;

use crate::error::{Error, Result};
use crate::filter::WindowPreset;
use crate::volume::check_shape;

/// Maps values to grey levels: `lower` → black, `upper` → white, clamped outside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Value shown as black.
    pub lower: f32,
    /// Value shown as white.
    pub upper: f32,
}

impl Window {
    /// The window spanning the finite values of `image` (0..1 if it has none or is flat).
    pub fn min_max(image: ArrayView2<'_, f32>) -> Window {
        let (lo, hi) = image
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        if lo < hi {
            Window { lower: lo, upper: hi }
        } else {
            Window { lower: 0.0, upper: 1.0 }
        }
    }

    /// A window from a DICOM-style centre and width (e.g. soft tissue: 40, 400 HU).
    pub fn center_width(center: f32, width: f32) -> Result<Window> {
        if !(center.is_finite() && width.is_finite() && width > 0.0) {
            return Err(Error::param(
                "window",
                format!("center {center} / width {width}: need finite values and width > 0"),
            ));
        }
        Ok(Window {
            lower: center - width / 2.0,
            upper: center + width / 2.0,
        })
    }
}

impl From<WindowPreset> for Window {
    /// The preset's DICOM centre and width (soft tissue 40/400 HU, lung −600/1500, bone
    /// 400/1800, brain 40/80), drawn with the linear ramp `lower → black, upper → white`.
    ///
    /// ```
    /// use hounsfield::filter::WindowPreset;
    /// use hounsfield::io::Window;
    /// let lung = Window::from("lung".parse::<WindowPreset>()?);
    /// assert_eq!((lung.lower, lung.upper), (-1350.0, 150.0));
    /// # Ok::<(), hounsfield::Error>(())
    /// ```
    fn from(preset: WindowPreset) -> Window {
        let (center, width) = preset.center_width();
        Window {
            lower: (center - width / 2.0) as f32,
            upper: (center + width / 2.0) as f32,
        }
    }
}

/// Writes `image` (`(y, x)`, row 0 at the top) as an 8-bit greyscale PNG. NaN is drawn black.
pub fn save_png(image: ArrayView2<'_, f32>, window: Window, path: impl AsRef<Path>) -> Result<()> {
    check_shape(image.shape())?;
    let (h, w) = image.dim();
    let (Ok(h32), Ok(w32)) = (u32::try_from(h), u32::try_from(w)) else {
        return Err(Error::TooLarge(format!(
            "{h}×{w} image exceeds PNG's 32-bit dimensions"
        )));
    };
    if !(window.lower.is_finite() && window.upper.is_finite() && window.upper > window.lower) {
        return Err(Error::param(
            "window",
            format!("{window:?}: need finite bounds with upper > lower"),
        ));
    }
    let scale = 255.0 / (window.upper - window.lower);
    let pixels: Vec<u8> = image
        .iter()
        .map(|&v| {
            if v.is_nan() {
                0
            } else {
                ((v - window.lower) * scale).clamp(0.0, 255.0).round() as u8
            }
        })
        .collect();
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    image::save_buffer(path, &pixels, w32, h32, image::ExtendedColorType::L8)
        .map_err(|e| Error::Image(format!("writing {}: {e}", path.display())))
}

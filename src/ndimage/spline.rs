//! `scipy.ndimage.spline_filter1d`: B-spline coefficients of orders 2–5 by the recursive
//! filters of Unser, Aldroubi and Eden (IEEE TPAMI 13(3), 1991) — a gain, then a causal and an
//! anticausal pass per pole — with the boundary initialisations scipy uses for mirror, periodic
//! and reflect extension.

use std::str::FromStr;

use ndarray::ArrayViewMutD;

use super::Dtype;
use super::lines::along_axis;
use crate::boundary::BoundaryMode;
use crate::error::{Error, Result};

/// scipy.ndimage's interpolation modes (`zoom`, `shift`, `spline_filter`), which distinguish
/// the `grid-` variants the filters treat alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterpolationMode {
    /// Repeat the edge sample.
    Nearest,
    /// Periodic with period `n − 1` (scipy's "wrap" for interpolation).
    Wrap,
    /// Half-sample symmetric ("reflect", "grid-mirror").
    Reflect,
    /// Whole-sample symmetric.
    Mirror,
    /// `cval` beyond the outermost samples, no interpolation past them.
    Constant,
    /// Periodic with period `n`.
    GridWrap,
    /// `cval` samples beyond the edges, interpolated with the data.
    GridConstant,
}

impl FromStr for InterpolationMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "nearest" => InterpolationMode::Nearest,
            "wrap" => InterpolationMode::Wrap,
            "reflect" | "grid-mirror" => InterpolationMode::Reflect,
            "mirror" => InterpolationMode::Mirror,
            "constant" => InterpolationMode::Constant,
            "grid-wrap" => InterpolationMode::GridWrap,
            "grid-constant" => InterpolationMode::GridConstant,
            other => {
                return Err(Error::param(
                    "mode",
                    format!(
                        "'{other}': use nearest, wrap, reflect, grid-mirror, mirror, constant, grid-wrap or \
                         grid-constant"
                    ),
                ));
            }
        })
    }
}

/// The filter's poles for spline `order` (2–5): sqrt(8) − 3; sqrt(3) − 2; for order 4
/// ±sqrt(664 ∓ sqrt(438976)) ± sqrt(304) − 19; for order 5 sqrt(67.5 ∓ sqrt(4436.25)) ±
/// sqrt(26.25) − 6.5 — written to 36 digits so they round to the same doubles as scipy's.
#[allow(clippy::excessive_precision)]
fn poles(order: usize) -> Result<&'static [f64]> {
    Ok(match order {
        2 => &[-0.171572875253809902396622551580603843],
        3 => &[-0.267949192431122706472553658494127633],
        4 => &[
            -0.361341225900220177092212841325675255,
            -0.013725429297339121360331226939128204,
        ],
        5 => &[
            -0.430575347099973791851434783493520110,
            -0.043096288203264653822712376822550182,
        ],
        _ => {
            return Err(Error::param(
                "order",
                format!("{order}: spline prefilters exist for orders 2 to 5"),
            ));
        }
    })
}

fn causal_mirror(c: &mut [f64], z: f64) {
    let n = c.len();
    let z_n_1 = z.powf((n - 1) as f64);
    let mut z_i = z;
    c[0] += z_n_1 * c[n - 1];
    for i in 1..n - 1 {
        c[0] += z_i * (c[i] + z_n_1 * c[n - 1 - i]);
        z_i *= z;
    }
    c[0] /= 1.0 - z_n_1 * z_n_1;
}

fn anticausal_mirror(c: &mut [f64], z: f64) {
    let n = c.len();
    c[n - 1] = (z * c[n - 2] + c[n - 1]) * z / (z * z - 1.0);
}

fn causal_wrap(c: &mut [f64], z: f64) {
    let n = c.len();
    let mut z_i = z;
    for i in 1..n {
        c[0] += z_i * c[n - i];
        z_i *= z;
    }
    c[0] /= 1.0 - z_i;
}

fn anticausal_wrap(c: &mut [f64], z: f64) {
    let n = c.len();
    let mut z_i = z;
    for i in 0..n - 1 {
        c[n - 1] += z_i * c[i];
        z_i *= z;
    }
    c[n - 1] *= z / (z_i - 1.0);
}

fn causal_reflect(c: &mut [f64], z: f64) {
    let n = c.len();
    let z_n = z.powf(n as f64);
    let c0 = c[0];
    let mut z_i = z;
    c[0] += z_n * c[n - 1];
    for i in 1..n {
        c[0] += z_i * (c[i] + z_n * c[n - 1 - i]);
        z_i *= z;
    }
    c[0] *= z / (1.0 - z_n * z_n);
    c[0] += c0;
}

fn anticausal_reflect(c: &mut [f64], z: f64) {
    let n = c.len();
    c[n - 1] *= z / (z - 1.0);
}

/// Turns one line of samples into spline coefficients, in place (lines of one sample stay).
fn filter_line(c: &mut [f64], poles: &[f64], mode: InterpolationMode) {
    if c.len() < 2 {
        return;
    }
    type Init = fn(&mut [f64], f64);
    // scipy 1.17's choice: exact periodic initialisation for grid-wrap only ("wrap" interpolates
    // with period n − 1 and is prefiltered as mirror), half-sample symmetric for reflect and
    // nearest, whole-sample symmetric for the others.
    let (causal, anticausal): (Init, Init) = match mode {
        InterpolationMode::GridWrap => (causal_wrap, anticausal_wrap),
        InterpolationMode::Reflect | InterpolationMode::Nearest => (causal_reflect, anticausal_reflect),
        _ => (causal_mirror, anticausal_mirror),
    };
    let gain = poles.iter().fold(1.0, |g, &z| g * ((1.0 - z) * (1.0 - 1.0 / z)));
    for v in c.iter_mut() {
        *v *= gain;
    }
    for &z in poles {
        causal(c, z);
        for i in 1..c.len() {
            c[i] += z * c[i - 1];
        }
        anticausal(c, z);
        for i in (0..c.len() - 1).rev() {
            c[i] = z * (c[i + 1] - c[i]);
        }
    }
}

/// Spline coefficients of `order` (2–5) along `axis`, in place, stored as `output`.
pub fn spline_filter1d(
    data: ArrayViewMutD<'_, f64>,
    order: usize,
    axis: usize,
    mode: InterpolationMode,
    output: Dtype,
) -> Result<()> {
    let poles = poles(order)?;
    along_axis(
        data,
        axis,
        0,
        0,
        BoundaryMode::Nearest,
        0.0,
        output,
        move |line, out| {
            out.copy_from_slice(line);
            filter_line(out, poles, mode);
        },
    )
}

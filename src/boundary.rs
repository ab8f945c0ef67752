//! Boundary modes shared by every stencil kernel, CPU and GPU (`shaders/common/boundary.wgsl` is
//! the WGSL twin of [`BoundaryMode::map_index`]; keep them in step).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// How a filter extends the input beyond its edges; names and semantics of `scipy.ndimage`.
///
/// With input `a b c d`:
///
/// | mode | extension |
/// |---|---|
/// | `Reflect` (default) | `d c b a | a b c d | d c b a` |
/// | `Mirror` | `d c b | a b c d | c b a` |
/// | `Nearest` | `a a a | a b c d | d d d` |
/// | `Constant(cval)` | `k k k | a b c d | k k k` |
/// | `Wrap` | `a b c d | a b c d | a b c d` |
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum BoundaryMode {
    /// Half-sample symmetric: the edge voxel is repeated (`scipy` "reflect").
    #[default]
    Reflect,
    /// Whole-sample symmetric: the edge voxel is not repeated (`scipy` "mirror").
    Mirror,
    /// The edge voxel is repeated forever (`scipy` "nearest").
    Nearest,
    /// A constant value outside the input (`scipy` "constant" with `cval`).
    Constant(f32),
    /// Periodic (`scipy` "wrap").
    Wrap,
}

impl BoundaryMode {
    /// Numeric code used in shader parameter blocks (`MODE_*` in `boundary.wgsl`).
    pub(crate) fn code(self) -> u32 {
        match self {
            BoundaryMode::Reflect => 0,
            BoundaryMode::Mirror => 1,
            BoundaryMode::Nearest => 2,
            BoundaryMode::Constant(_) => 3,
            BoundaryMode::Wrap => 4,
        }
    }

    /// The constant used outside the input (0 for modes other than `Constant`).
    pub fn cval(self) -> f32 {
        match self {
            BoundaryMode::Constant(c) => c,
            _ => 0.0,
        }
    }

    /// Maps index `i` of the infinite extension of the range `lo..hi` to the index inside it
    /// that supplies its value, or `None` where the value is the constant (`Constant` mode).
    /// Handles any distance from the edge (a radius larger than the axis folds repeatedly).
    #[inline]
    pub fn map_index(self, i: isize, lo: isize, hi: isize) -> Option<isize> {
        let n = hi - lo;
        debug_assert!(n > 0);
        let j = i - lo;
        if (0..n).contains(&j) {
            return Some(i);
        }
        let mapped = match self {
            BoundaryMode::Constant(_) => return None,
            BoundaryMode::Nearest => j.clamp(0, n - 1),
            BoundaryMode::Wrap => j.rem_euclid(n),
            BoundaryMode::Reflect => {
                let k = j.rem_euclid(2 * n);
                if k >= n { 2 * n - 1 - k } else { k }
            }
            BoundaryMode::Mirror => {
                if n == 1 {
                    0
                } else {
                    let k = j.rem_euclid(2 * n - 2);
                    if k >= n { 2 * n - 2 - k } else { k }
                }
            }
        };
        Some(lo + mapped)
    }
}

impl fmt::Display for BoundaryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundaryMode::Reflect => write!(f, "reflect"),
            BoundaryMode::Mirror => write!(f, "mirror"),
            BoundaryMode::Nearest => write!(f, "nearest"),
            BoundaryMode::Constant(c) => write!(f, "constant({c})"),
            BoundaryMode::Wrap => write!(f, "wrap"),
        }
    }
}

impl FromStr for BoundaryMode {
    type Err = Error;

    /// Parses scipy's names: `reflect`, `mirror`, `nearest`, `wrap`, `constant` (cval 0) or
    /// `constant:<value>`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "reflect" => Ok(BoundaryMode::Reflect),
            "mirror" => Ok(BoundaryMode::Mirror),
            "nearest" => Ok(BoundaryMode::Nearest),
            "wrap" => Ok(BoundaryMode::Wrap),
            "constant" => Ok(BoundaryMode::Constant(0.0)),
            other => {
                if let Some(v) = other.strip_prefix("constant:") {
                    let c: f32 = v
                        .parse()
                        .map_err(|_| Error::param("mode", format!("'{v}' in '{s}' is not a number")))?;
                    if !c.is_finite() {
                        return Err(Error::param("mode", "the constant must be finite"));
                    }
                    Ok(BoundaryMode::Constant(c))
                } else {
                    Err(Error::param(
                        "mode",
                        format!(
                            "unknown boundary mode '{s}'; use reflect, mirror, nearest, wrap, \
                             constant or constant:<value>"
                        ),
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extends `a b c d` (indices 0..4) over -4..8 and spells the result with letters.
    fn extend(mode: BoundaryMode) -> String {
        (-4..8)
            .map(|i| match mode.map_index(i, 0, 4) {
                Some(m) => (b'a' + m as u8) as char,
                None => 'k',
            })
            .collect()
    }

    #[test]
    fn modes_extend_like_scipy_documents() {
        // scipy.ndimage docs: reflect `d c b a | a b c d | d c b a`, mirror `d c b | a b c d | c b a`,
        // nearest `a a a | a b c d | d d d`, constant `k k k | a b c d | k k k`, wrap `a b c d | a b c d`.
        assert_eq!(extend(BoundaryMode::Reflect), "dcbaabcddcba");
        assert_eq!(extend(BoundaryMode::Mirror), "cdcbabcdcbab");
        assert_eq!(extend(BoundaryMode::Nearest), "aaaaabcddddd");
        assert_eq!(extend(BoundaryMode::Constant(2.0)), "kkkkabcdkkkk");
        assert_eq!(extend(BoundaryMode::Wrap), "abcdabcdabcd");
    }

    #[test]
    fn far_indices_fold_repeatedly_and_single_voxel_axes_work() {
        assert_eq!(BoundaryMode::Reflect.map_index(-9, 0, 4), Some(0)); // -9 → 8 → ... period 8
        assert_eq!(BoundaryMode::Mirror.map_index(13, 0, 4), Some(1)); // period 6
        for mode in [
            BoundaryMode::Reflect,
            BoundaryMode::Mirror,
            BoundaryMode::Nearest,
            BoundaryMode::Wrap,
        ] {
            for i in -5..6 {
                assert_eq!(mode.map_index(i, 0, 1), Some(0), "{mode} at {i}");
                // A shifted domain behaves like the unshifted one.
                assert_eq!(mode.map_index(i + 10, 10, 14).map(|m| m - 10), mode.map_index(i, 0, 4));
            }
        }
    }

    #[test]
    fn names_parse_like_scipy() {
        assert_eq!("Reflect".parse::<BoundaryMode>().unwrap(), BoundaryMode::Reflect);
        assert_eq!(
            "constant:-1000".parse::<BoundaryMode>().unwrap(),
            BoundaryMode::Constant(-1000.0)
        );
        assert!("constant:nan".parse::<BoundaryMode>().is_err());
        let err = "grid-wrap".parse::<BoundaryMode>().unwrap_err();
        assert!(err.to_string().contains("unknown boundary mode"), "{err}");
    }
}

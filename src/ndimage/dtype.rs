//! Element types of `scipy.ndimage` outputs and the C conversion scipy applies when it stores a
//! double into one.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A numpy element type an `ndimage` pass stores its double results into.
///
/// scipy computes every pass in double and converts to the output's type as a C cast does on
/// x86-64 (truncation toward zero; integers wrap modulo their width, as `cvttsd2si` followed by
/// a narrowing store gives). The next pass reads those stored values back, so per-pass rounding
/// is part of scipy's answer; [`Dtype::store`] reproduces it on an `f64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// numpy `bool` (a byte: the stored value is the byte, read back as such by a later pass).
    Bool,
    /// numpy `uint8`.
    U8,
    /// numpy `uint16`.
    U16,
    /// numpy `uint32`.
    U32,
    /// numpy `uint64`.
    U64,
    /// numpy `int8`.
    I8,
    /// numpy `int16`.
    I16,
    /// numpy `int32`.
    I32,
    /// numpy `int64`.
    I64,
    /// numpy `float32`.
    F32,
    /// numpy `float64`.
    F64,
}

/// `cvttsd2si` to 32 bits: truncation, or `i32::MIN` when out of range or NaN.
fn to_i32(x: f64) -> i32 {
    let t = x.trunc();
    if (-2147483648.0..2147483648.0).contains(&t) {
        t as i32
    } else {
        i32::MIN
    }
}

/// `cvttsd2si` to 64 bits: truncation, or `i64::MIN` when out of range or NaN.
fn to_i64(x: f64) -> i64 {
    let t = x.trunc();
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&t) {
        t as i64
    } else {
        i64::MIN
    }
}

impl Dtype {
    /// The value a C cast of `x` to this type stores, as a double (what the next pass reads).
    #[inline]
    pub fn store(self, x: f64) -> f64 {
        match self {
            Dtype::F64 => x,
            Dtype::F32 => x as f32 as f64,
            Dtype::Bool | Dtype::U8 => to_i32(x) as u8 as f64,
            Dtype::U16 => to_i32(x) as u16 as f64,
            Dtype::I8 => to_i32(x) as i8 as f64,
            Dtype::I16 => to_i32(x) as i16 as f64,
            Dtype::I32 => to_i32(x) as f64,
            Dtype::U32 => to_i64(x) as u32 as f64,
            Dtype::I64 => to_i64(x) as f64,
            Dtype::U64 => {
                // gcc's double -> uint64: values from 2^63 up are shifted into range first.
                const TWO_63: f64 = 9.223_372_036_854_776e18;
                if x >= TWO_63 {
                    (to_i64(x - TWO_63) as u64 ^ (1u64 << 63)) as f64
                } else {
                    to_i64(x) as u64 as f64
                }
            }
        }
    }

    /// The value scipy's interpolators (`zoom`, `shift`, `map_coordinates`) store: integers
    /// rounded half away from zero (unsigned: negatives to 0) and saturated at the type's
    /// limits; floats and bool as [`Dtype::store`].
    #[inline]
    pub fn store_interpolated(self, x: f64) -> f64 {
        let (lo, hi) = match self {
            Dtype::U8 => (0.0, 255.0),
            Dtype::U16 => (0.0, 65535.0),
            Dtype::U32 => (0.0, 4294967295.0),
            Dtype::U64 => (0.0, 18446744073709551615.0),
            Dtype::I8 => (-128.0, 127.0),
            Dtype::I16 => (-32768.0, 32767.0),
            Dtype::I32 => (-2147483648.0, 2147483647.0),
            Dtype::I64 => (-9223372036854775808.0, 9223372036854775807.0),
            Dtype::Bool | Dtype::F32 | Dtype::F64 => return self.store(x),
        };
        let rounded = if lo == 0.0 {
            if x > 0.0 { x + 0.5 } else { 0.0 }
        } else if x > 0.0 {
            x + 0.5
        } else {
            x - 0.5
        };
        self.store(rounded.clamp(lo, hi))
    }

    /// Whether values are integers (stored by truncation).
    pub fn is_integer(self) -> bool {
        !matches!(self, Dtype::F32 | Dtype::F64)
    }

    /// numpy's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "bool",
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::U32 => "uint32",
            Dtype::U64 => "uint64",
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::I64 => "int64",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Dtype {
    type Err = Error;

    /// numpy's names (`"int16"`, `"float32"`, `"bool"`, ...).
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "bool" => Dtype::Bool,
            "uint8" => Dtype::U8,
            "uint16" => Dtype::U16,
            "uint32" => Dtype::U32,
            "uint64" => Dtype::U64,
            "int8" => Dtype::I8,
            "int16" => Dtype::I16,
            "int32" => Dtype::I32,
            "int64" => Dtype::I64,
            "float32" => Dtype::F32,
            "float64" => Dtype::F64,
            other => {
                return Err(Error::param(
                    "dtype",
                    format!(
                        "'{other}' is not supported: use bool, (u)int8/16/32/64, float32 or float64 \
                         (convert float16 or complex data first)"
                    ),
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_like_a_c_cast_on_x86_64() {
        assert_eq!(Dtype::I16.store(-2.9), -2.0);
        assert_eq!(Dtype::I16.store(2.9), 2.0);
        assert_eq!(Dtype::U16.store(-19.0), 65517.0);
        assert_eq!(Dtype::U8.store(-1.5), 255.0);
        assert_eq!(Dtype::I16.store(40000.0), -25536.0);
        assert_eq!(Dtype::U32.store(-1.0), 4294967295.0);
        assert_eq!(Dtype::U16.store(f64::NAN), 0.0);
        assert_eq!(Dtype::I32.store(3e9), i32::MIN as f64);
        assert_eq!(Dtype::Bool.store(2.7), 2.0);
        assert_eq!(Dtype::F32.store(0.1), 0.1f32 as f64);
        assert_eq!(Dtype::F64.store(0.1), 0.1);
        let near_max = 2f64.powi(64) - 2048.0;
        assert_eq!(Dtype::U64.store(near_max), near_max);
        assert_eq!("int16".parse::<Dtype>().unwrap(), Dtype::I16);
        assert!("float16".parse::<Dtype>().is_err());
    }
}

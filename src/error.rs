//! The crate's one error type. Every public function returns [`Result<T>`].

use thiserror::Error as ThisError;

/// Convenience alias used by every public function of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, phrased so that the message tells the caller what to fix.
#[derive(Debug, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// A parameter (sigma, truncate, radius, ...) is outside its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name as it appears in the API.
        name: &'static str,
        /// What is wrong and what would be accepted.
        reason: String,
    },

    /// The input array has an unusable shape (empty, zero-length axis, wrong rank, mismatch).
    #[error("invalid shape: {0}")]
    InvalidShape(String),

    /// The data is larger than this machine or adapter can address.
    #[error("too large: {0}")]
    TooLarge(String),

    /// No GPU adapter could be used; the message says why and how to get one.
    #[error("no usable GPU: {0}")]
    NoGpu(String),

    /// The GPU ran out of memory.
    #[error("GPU out of memory: {0}")]
    GpuOutOfMemory(String),

    /// The GPU device was lost (driver reset, removal); create a new `GpuContext`.
    #[error("GPU device lost: {0}")]
    DeviceLost(String),

    /// The adapter cannot run this work correctly (for example Mesa's llvmpipe ends every
    /// shader invocation's loops after 65,535 iterations); the CPU backend can.
    #[error("this GPU adapter cannot run it correctly: {0}")]
    AdapterLimit(String),

    /// Any other error reported by the GPU API (validation, mapping, timeout).
    #[error("GPU error: {0}")]
    Gpu(String),

    /// An environment variable has a value the crate does not understand.
    #[error("environment variable {name}={value:?} is not valid: {reason}")]
    Environment {
        /// The variable's name.
        name: &'static str,
        /// Its value.
        value: String,
        /// What values are accepted.
        reason: String,
    },

    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Encoding or decoding an image file failed.
    #[error("image error: {0}")]
    Image(String),

    /// A file is not usable DICOM: corrupt, truncated, hostile, or in a transfer syntax this
    /// build cannot decode (the message names it).
    #[error("DICOM error in {path}: {reason}")]
    Dicom {
        /// The file involved.
        path: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// The slices of a series do not form a volume (missing or duplicate slices, mixed sizes or
    /// orientations, tilted stacks in strict mode); the message says which and how to proceed.
    #[error("DICOM series {series}: {reason}")]
    Series {
        /// The series' instance UID or description.
        series: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub(crate) fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }
}

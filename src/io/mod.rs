//! Reading and writing images.

pub mod dicom;
pub mod nifti;
pub mod png;

pub use png::{Window, save_png};

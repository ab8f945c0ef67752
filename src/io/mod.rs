//! Reading and writing images.

pub mod png;

pub use png::{Window, save_png};

//! Atlas's hot paths, in plain Rust with no Python dependency.
//!
//! Every kernel here has Rust unit tests and criterion benches in this crate; the
//! Python binding lives in `atlas-py` and adds nothing but argument conversion.

pub mod aggregator;
pub mod buffer;
pub mod drift;
pub mod error;
pub mod ingest;
pub mod replay;
pub mod rng;

pub use error::{KernelError, Result};

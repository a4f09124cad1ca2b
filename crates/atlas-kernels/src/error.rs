//! The one error type of the kernels; the binding maps each variant to a typed
//! Python exception (`atlas_core.errors`).

use thiserror::Error;

/// Everything a kernel call can refuse or fail with. No kernel panics on user input.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum KernelError {
    /// An argument is out of its domain (capacity 0, NaN priority, mismatched lengths, ...).
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    /// Sampling or reading from something that holds no items.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// A bounded buffer refused an event under the `reject` policy.
    #[error("buffer full: capacity {capacity} reached, {rejected} event(s) rejected")]
    Full { capacity: usize, rejected: usize },
    /// A bounded buffer stayed full for the whole `block` timeout.
    #[error("timed out after {seconds:.3}s waiting for buffer space")]
    Timeout { seconds: f64 },
    /// The buffer was closed; no more pushes are accepted.
    #[error("buffer is closed")]
    Closed,
    /// Saved state could not be decoded or is inconsistent.
    #[error("invalid saved state: {0}")]
    State(String),
}

impl KernelError {
    /// Shorthand for [`KernelError::InvalidArgument`].
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        KernelError::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, KernelError>;

/// Checks that every column of a batch has `expected` rows.
pub fn check_len(name: &'static str, actual: usize, expected: usize) -> Result<()> {
    if actual == expected {
        Ok(())
    } else {
        Err(KernelError::invalid(
            name,
            format!("has {actual} rows, expected {expected} (columns must have equal lengths)"),
        ))
    }
}

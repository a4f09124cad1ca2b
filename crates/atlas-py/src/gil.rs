//! The one place that releases the GIL.
//!
//! Every call that works on a batch goes through [`detach`]: the kernel runs with
//! the GIL released (other Python threads keep running), a kernel error becomes a
//! typed exception, and a panic is caught here so that it never crosses into
//! Python as anything but `atlas_core.errors.InternalError`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use atlas_kernels::KernelError;
use pyo3::prelude::*;

use crate::errors::{to_py, InternalError};

/// Runs `work` without the GIL and maps its error or panic to a Python exception.
pub fn detach<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, KernelError> + Send,
{
    let outcome = py.detach(|| catch_unwind(AssertUnwindSafe(work)));
    settle(outcome)
}

/// Runs a short `work` with the GIL held, with the same error and panic mapping.
/// For per-event calls where releasing the GIL would cost more than the work.
pub fn attached<T, F>(work: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T, KernelError>,
{
    settle(catch_unwind(AssertUnwindSafe(work)))
}

fn settle<T>(outcome: std::thread::Result<Result<T, KernelError>>) -> PyResult<T> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_py(err)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(InternalError::new_err(format!(
                "internal error in a native kernel (please report): {what}"
            )))
        }
    }
}

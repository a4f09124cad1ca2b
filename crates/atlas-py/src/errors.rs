//! Kernel errors to the typed exceptions of `atlas_core.errors`.
//!
//! The hierarchy is defined in Python (so each class can also derive from the
//! matching built-in, e.g. `ValueError`) and imported lazily here.

use atlas_kernels::KernelError;
use pyo3::import_exception;
use pyo3::PyErr;

import_exception!(atlas_core.errors, InvalidArgumentError);
import_exception!(atlas_core.errors, EmptyError);
import_exception!(atlas_core.errors, BufferFullError);
import_exception!(atlas_core.errors, BufferTimeoutError);
import_exception!(atlas_core.errors, BufferClosedError);
import_exception!(atlas_core.errors, StateError);
import_exception!(atlas_core.errors, InternalError);

/// The one conversion from a kernel error to a Python exception.
pub fn to_py(err: KernelError) -> PyErr {
    let msg = err.to_string();
    match err {
        KernelError::InvalidArgument { .. } => InvalidArgumentError::new_err(msg),
        KernelError::Empty(_) => EmptyError::new_err(msg),
        KernelError::Full { .. } => BufferFullError::new_err(msg),
        KernelError::Timeout { .. } => BufferTimeoutError::new_err(msg),
        KernelError::Closed => BufferClosedError::new_err(msg),
        KernelError::State(_) => StateError::new_err(msg),
    }
}

/// Shorthand for an invalid-argument error raised by the binding itself.
pub fn invalid(name: &'static str, reason: impl Into<String>) -> PyErr {
    to_py(KernelError::invalid(name, reason))
}

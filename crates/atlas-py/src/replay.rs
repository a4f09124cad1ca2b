//! Python bindings of the replay samplers (`atlas_kernels::replay`).
//!
//! Each class wraps its kernel in a mutex and is `frozen`, so it can be shared between
//! Python threads: batch calls lock inside [`gil::detach`] (GIL released), and calls
//! from other threads simply wait their turn. Every class pickles through
//! `save_state` / `load_state`.

use std::sync::{Mutex, MutexGuard};

use atlas_kernels::KernelError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::PyTypeInfo;

/// `#[pymethods]` for a sampler class `$py { inner: Mutex<$kernel> }`: the given methods
/// plus `save_state`, `load_state` and `__reduce__`, which are the same for every sampler.
macro_rules! persisted_pymethods {
    ($py:ident, $kernel:ty, { $($methods:tt)* }) => {
        #[pymethods]
        impl $py {
            $($methods)*

            /// The whole state, generator included, as bytes.
            fn save_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                let bytes = detach(py, || lock(&self.inner)?.save_state())?;
                Ok(PyBytes::new(py, &bytes))
            }

            /// A sampler restored from `save_state()`; it continues with the same draws.
            #[staticmethod]
            fn load_state(py: Python<'_>, state: &[u8]) -> PyResult<Self> {
                let inner = detach(py, || <$kernel>::load_state(state))?;
                Ok(Self {
                    inner: Mutex::new(inner),
                })
            }

            fn __reduce__<'py>(
                &self,
                py: Python<'py>,
            ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
                let state = detach(py, || lock(&self.inner)?.save_state())?;
                reduce::<Self>(py, state)
            }
        }
    };
}

mod args;
mod prioritized;
mod reservoir;
mod stratified;
mod uniform;

/// Adds the replay classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<uniform::PyUniformReplay>()?;
    m.add_class::<prioritized::PyPrioritizedReplay>()?;
    m.add_class::<reservoir::PyReservoirSampler>()?;
    m.add_class::<stratified::PyStratifiedReplay>()?;
    Ok(())
}

/// Locks a kernel. A poisoned lock means an earlier call panicked half-way (a bug,
/// already reported as `InternalError`); the kernel may be inconsistent, so refuse.
fn lock<T>(kernel: &Mutex<T>) -> Result<MutexGuard<'_, T>, KernelError> {
    kernel.lock().map_err(|_| {
        KernelError::State("sampler left inconsistent by an earlier internal error".into())
    })
}

/// `__reduce__` for a class with a `load_state(bytes)` static method.
fn reduce<'py, T: PyTypeInfo>(
    py: Python<'py>,
    state: Vec<u8>,
) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
    let load = py.get_type::<T>().getattr("load_state")?;
    Ok((load, (PyBytes::new(py, &state),)))
}

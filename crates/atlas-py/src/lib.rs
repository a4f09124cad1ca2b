//! `atlas_core._native`: the Python face of `atlas-kernels`.
//!
//! Each submodule converts arguments and results and nothing more; batch calls
//! release the GIL through [`gil::detach`], and every kernel error becomes a typed
//! exception from `atlas_core.errors` through [`errors::to_py`].

use pyo3::prelude::*;

mod aggregator;
mod buffer;
mod drift;
mod errors;
mod gil;
mod ingest;
mod replay;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    buffer::register(m)?;
    aggregator::register(m)?;
    replay::register(m)?;
    drift::register(m)?;
    ingest::register(m)?;
    Ok(())
}

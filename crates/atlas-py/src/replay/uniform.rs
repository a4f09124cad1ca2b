//! `UniformReplay`: a FIFO ring sampled uniformly with replacement.

use std::sync::Mutex;

use atlas_kernels::replay::UniformReplay;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::args::{count, seed, slots_out, u64_column};
use super::{lock, reduce};
use crate::gil::{attached, detach};

type Arr<'py, T> = Bound<'py, PyArray1<T>>;

/// A fixed-capacity ring of u64 ids (oldest overwritten when full), sampled uniformly
/// with replacement.
#[derive(Debug)]
#[pyclass(module = "atlas_core._native", name = "UniformReplay", frozen)]
pub struct PyUniformReplay {
    inner: Mutex<UniformReplay>,
}

persisted_pymethods!(PyUniformReplay, UniformReplay, {
    #[new]
    #[pyo3(signature = (capacity, seed = 0))]
    fn new(capacity: i64, seed: i128) -> PyResult<Self> {
        let capacity = count(capacity, "capacity", 1)?;
        let seed = self::seed(seed)?;
        let inner = attached(|| UniformReplay::new(capacity, seed))?;
        Ok(PyUniformReplay {
            inner: Mutex::new(inner),
        })
    }

    /// Number of slots.
    #[getter]
    fn capacity(&self) -> PyResult<usize> {
        attached(|| Ok(lock(&self.inner)?.capacity()))
    }

    fn __len__(&self) -> PyResult<usize> {
        attached(|| Ok(lock(&self.inner)?.len()))
    }

    /// Appends ids (uint64 array or int sequence); returns the slot of each (int64).
    fn add<'py>(&self, py: Python<'py>, ids: &Bound<'py, PyAny>) -> PyResult<Arr<'py, i64>> {
        let ids = u64_column(ids, "ids")?;
        let slots = detach(py, || Ok(lock(&self.inner)?.add(&ids)))?;
        Ok(PyArray1::from_vec(py, slots_out(slots)))
    }

    /// Draws `batch` items uniformly with replacement: `(slots int64, ids uint64)`.
    fn sample<'py>(&self, py: Python<'py>, batch: i64) -> PyResult<(Arr<'py, i64>, Arr<'py, u64>)> {
        let batch = count(batch, "batch", 0)?;
        let (slots, ids) = detach(py, || lock(&self.inner)?.sample(batch))?;
        Ok((
            PyArray1::from_vec(py, slots_out(slots)),
            PyArray1::from_vec(py, ids),
        ))
    }

    /// The ids held, by slot (a copy).
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Arr<'py, u64>> {
        let ids = detach(py, || Ok(lock(&self.inner)?.ids().to_vec()))?;
        Ok(PyArray1::from_vec(py, ids))
    }

    fn __repr__(&self) -> PyResult<String> {
        attached(|| {
            let r = lock(&self.inner)?;
            Ok(format!(
                "UniformReplay(len={}, capacity={})",
                r.len(),
                r.capacity()
            ))
        })
    }
});

//! `ReservoirSampler`: a uniform sample of an unbounded stream of ids.

use std::sync::Mutex;

use atlas_kernels::replay::ReservoirSampler;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::args::{count, seed, slots_out, u64_column};
use super::{lock, reduce};
use crate::gil::{attached, detach};

type Arr<'py, T> = Bound<'py, PyArray1<T>>;

/// Keeps a uniform random sample of at most `capacity` of the ids offered (Algorithm L).
#[derive(Debug)]
#[pyclass(module = "atlas_core._native", name = "ReservoirSampler", frozen)]
pub struct PyReservoirSampler {
    inner: Mutex<ReservoirSampler>,
}

persisted_pymethods!(PyReservoirSampler, ReservoirSampler, {
    #[new]
    #[pyo3(signature = (capacity, seed = 0))]
    fn new(capacity: i64, seed: i128) -> PyResult<Self> {
        let capacity = count(capacity, "capacity", 1)?;
        let seed = self::seed(seed)?;
        let inner = attached(|| ReservoirSampler::new(capacity, seed))?;
        Ok(PyReservoirSampler {
            inner: Mutex::new(inner),
        })
    }

    /// Maximum number of ids kept.
    #[getter]
    fn capacity(&self) -> PyResult<usize> {
        attached(|| Ok(lock(&self.inner)?.capacity()))
    }

    /// Number of ids offered so far.
    #[getter]
    fn seen(&self) -> PyResult<u64> {
        attached(|| Ok(lock(&self.inner)?.seen()))
    }

    fn __len__(&self) -> PyResult<usize> {
        attached(|| Ok(lock(&self.inner)?.len()))
    }

    /// Offers ids in order; returns per id the slot it went to, or -1 if not kept.
    fn add<'py>(&self, py: Python<'py>, ids: &Bound<'py, PyAny>) -> PyResult<Arr<'py, i64>> {
        let ids = u64_column(ids, "ids")?;
        let slots = detach(py, || Ok(lock(&self.inner)?.add(&ids)))?;
        Ok(PyArray1::from_vec(py, slots))
    }

    /// Draws `batch` kept ids uniformly with replacement: `(slots int64, ids uint64)`.
    fn sample<'py>(&self, py: Python<'py>, batch: i64) -> PyResult<(Arr<'py, i64>, Arr<'py, u64>)> {
        let batch = count(batch, "batch", 0)?;
        let (slots, ids) = detach(py, || lock(&self.inner)?.sample(batch))?;
        Ok((
            PyArray1::from_vec(py, slots_out(slots)),
            PyArray1::from_vec(py, ids),
        ))
    }

    /// The ids kept, by slot (a copy).
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Arr<'py, u64>> {
        let items = detach(py, || Ok(lock(&self.inner)?.items().to_vec()))?;
        Ok(PyArray1::from_vec(py, items))
    }

    fn __repr__(&self) -> PyResult<String> {
        attached(|| {
            let r = lock(&self.inner)?;
            Ok(format!(
                "ReservoirSampler(len={}, capacity={}, seen={})",
                r.len(),
                r.capacity(),
                r.seen()
            ))
        })
    }
});

//! `StratifiedReplay`: per-key memories, batches mixing new items with replay.

use std::sync::Mutex;

use atlas_kernels::replay::StratifiedReplay;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::args::{count, seed, u64_column};
use super::{lock, reduce};
use crate::gil::{attached, detach};

type Arr<'py, T> = Bound<'py, PyArray1<T>>;

/// Replay stratified by a u64 key: at most `capacity_per_key` items per key (a full key
/// evicts its oldest); each batch is new items plus `replay_ratio` replay spread evenly
/// over every key.
#[derive(Debug)]
#[pyclass(module = "atlas_core._native", name = "StratifiedReplay", frozen)]
pub struct PyStratifiedReplay {
    inner: Mutex<StratifiedReplay>,
}

persisted_pymethods!(PyStratifiedReplay, StratifiedReplay, {
    #[new]
    #[pyo3(signature = (capacity_per_key, replay_ratio = 0.5, seed = 0))]
    fn new(capacity_per_key: i64, replay_ratio: f64, seed: i128) -> PyResult<Self> {
        let capacity = count(capacity_per_key, "capacity_per_key", 1)?;
        let seed = self::seed(seed)?;
        let inner = attached(|| StratifiedReplay::new(capacity, replay_ratio, seed))?;
        Ok(PyStratifiedReplay {
            inner: Mutex::new(inner),
        })
    }

    /// Maximum number of items kept per key.
    #[getter]
    fn capacity_per_key(&self) -> PyResult<usize> {
        attached(|| Ok(lock(&self.inner)?.capacity_per_key()))
    }

    /// Fraction of each batch drawn from replay.
    #[getter]
    fn replay_ratio(&self) -> PyResult<f64> {
        attached(|| Ok(lock(&self.inner)?.replay_ratio()))
    }

    /// Number of items not yet handed out by a batch.
    #[getter]
    fn new_count(&self) -> PyResult<usize> {
        attached(|| Ok(lock(&self.inner)?.new_count()))
    }

    /// Number of items evicted by full keys so far.
    #[getter]
    fn evicted(&self) -> PyResult<u64> {
        attached(|| Ok(lock(&self.inner)?.evicted().0))
    }

    /// Number of items evicted before any batch handed them out.
    #[getter]
    fn evicted_new(&self) -> PyResult<u64> {
        attached(|| Ok(lock(&self.inner)?.evicted().1))
    }

    fn __len__(&self) -> PyResult<usize> {
        attached(|| Ok(lock(&self.inner)?.len()))
    }

    /// The keys seen so far, in order of first appearance (uint64).
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Arr<'py, u64>> {
        let keys = detach(py, || Ok(lock(&self.inner)?.keys()))?;
        Ok(PyArray1::from_vec(py, keys))
    }

    /// Number of items held per key, in the order of `keys()` (uint64).
    fn key_counts<'py>(&self, py: Python<'py>) -> PyResult<Arr<'py, u64>> {
        let counts = detach(py, || Ok(lock(&self.inner)?.key_counts()))?;
        Ok(PyArray1::from_vec(py, counts))
    }

    /// Adds `ids[i]` under `keys[i]` (both uint64 arrays or int sequences, equal length).
    fn add(&self, py: Python<'_>, ids: &Bound<'_, PyAny>, keys: &Bound<'_, PyAny>) -> PyResult<()> {
        let ids = u64_column(ids, "ids")?;
        let keys = u64_column(keys, "keys")?;
        detach(py, || lock(&self.inner)?.add(&ids, &keys))
    }

    /// Draws a batch: `(ids uint64, keys uint64, is_new bool)`, new items first.
    fn sample<'py>(
        &self,
        py: Python<'py>,
        batch: i64,
    ) -> PyResult<(Arr<'py, u64>, Arr<'py, u64>, Arr<'py, bool>)> {
        let batch = count(batch, "batch", 0)?;
        let drawn = detach(py, || lock(&self.inner)?.sample(batch))?;
        Ok((
            PyArray1::from_vec(py, drawn.ids),
            PyArray1::from_vec(py, drawn.keys),
            PyArray1::from_vec(py, drawn.is_new),
        ))
    }

    fn __repr__(&self) -> PyResult<String> {
        attached(|| {
            let r = lock(&self.inner)?;
            Ok(format!(
                "StratifiedReplay(len={}, keys={}, capacity_per_key={}, replay_ratio={})",
                r.len(),
                r.keys().len(),
                r.capacity_per_key(),
                r.replay_ratio()
            ))
        })
    }
});

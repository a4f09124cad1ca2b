//! `PrioritizedReplay`: proportional prioritized replay with importance weights.

use std::sync::Mutex;

use atlas_kernels::replay::PrioritizedReplay;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::args::{count, f64_column, seed, slot_column, slots_out, u64_column, SlotColumn};
use super::{lock, reduce};
use crate::gil::{attached, detach};

type Arr<'py, T> = Bound<'py, PyArray1<T>>;

/// Prioritized replay (PER) over a FIFO ring of u64 ids: an item of priority `p` is
/// drawn with probability `(p + eps)^alpha / sum((p + eps)^alpha)`.
#[derive(Debug)]
#[pyclass(module = "atlas_core._native", name = "PrioritizedReplay", frozen)]
pub struct PyPrioritizedReplay {
    inner: Mutex<PrioritizedReplay>,
}

persisted_pymethods!(PyPrioritizedReplay, PrioritizedReplay, {
    #[new]
    #[pyo3(signature = (capacity, alpha = 0.6, beta = 0.4, eps = 1e-6, seed = 0))]
    fn new(capacity: i64, alpha: f64, beta: f64, eps: f64, seed: i128) -> PyResult<Self> {
        let capacity = count(capacity, "capacity", 1)?;
        let seed = self::seed(seed)?;
        let inner = attached(|| PrioritizedReplay::new(capacity, alpha, beta, eps, seed))?;
        Ok(PyPrioritizedReplay {
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

    /// The priority exponent.
    #[getter]
    fn alpha(&self) -> PyResult<f64> {
        attached(|| Ok(lock(&self.inner)?.alpha()))
    }

    /// The default importance-weight exponent (settable, e.g. to anneal it towards 1).
    #[getter]
    fn beta(&self) -> PyResult<f64> {
        attached(|| Ok(lock(&self.inner)?.beta()))
    }

    #[setter]
    fn set_beta(&self, beta: f64) -> PyResult<()> {
        attached(|| lock(&self.inner)?.set_beta(beta))
    }

    /// The constant added to every priority.
    #[getter]
    fn eps(&self) -> PyResult<f64> {
        attached(|| Ok(lock(&self.inner)?.eps()))
    }

    /// `sum((p + eps)^alpha)` over the stored items.
    #[getter]
    fn total_priority(&self) -> PyResult<f64> {
        attached(|| Ok(lock(&self.inner)?.total_priority()))
    }

    /// `min((p + eps)^alpha)` over the stored items; `None` when empty.
    #[getter]
    fn min_priority(&self) -> PyResult<Option<f64>> {
        attached(|| Ok(lock(&self.inner)?.min_priority()))
    }

    /// The largest `p + eps` seen so far (1.0 initially): the priority new items get.
    #[getter]
    fn max_priority(&self) -> PyResult<f64> {
        attached(|| Ok(lock(&self.inner)?.max_priority()))
    }

    /// Appends ids at the max priority seen so far; returns the slot of each (int64).
    fn add<'py>(&self, py: Python<'py>, ids: &Bound<'py, PyAny>) -> PyResult<Arr<'py, i64>> {
        let ids = u64_column(ids, "ids")?;
        let slots = detach(py, || Ok(lock(&self.inner)?.add(&ids)))?;
        Ok(PyArray1::from_vec(py, slots_out(slots)))
    }

    /// Draws `batch` items, one per equal segment of the total priority mass:
    /// `(slots int64, ids uint64, weights float64)`, slots ascending. `beta` overrides
    /// the default exponent for this call.
    #[pyo3(signature = (batch, beta = None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        batch: i64,
        beta: Option<f64>,
    ) -> PyResult<(Arr<'py, i64>, Arr<'py, u64>, Arr<'py, f64>)> {
        let batch = count(batch, "batch", 0)?;
        let drawn = detach(py, || lock(&self.inner)?.sample(batch, beta))?;
        Ok((
            PyArray1::from_vec(py, slots_out(drawn.slots)),
            PyArray1::from_vec(py, drawn.ids),
            PyArray1::from_vec(py, drawn.weights),
        ))
    }

    /// Sets `priorities[i]` for `slots[i]` (last wins on repeats); all or nothing.
    fn update_priorities(
        &self,
        py: Python<'_>,
        slots: &Bound<'_, PyAny>,
        priorities: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let slots = slot_column(slots, "slots")?;
        let priorities = f64_column(priorities, "priorities")?;
        detach(py, || {
            let mut replay = lock(&self.inner)?;
            match &slots {
                SlotColumn::Signed(s) => replay.update_priorities(s, &priorities),
                SlotColumn::Unsigned(s) => replay.update_priorities(s, &priorities),
            }
        })
    }

    /// The probability `P(i)` that one draw picks each slot.
    fn probabilities<'py>(
        &self,
        py: Python<'py>,
        slots: &Bound<'py, PyAny>,
    ) -> PyResult<Arr<'py, f64>> {
        let slots = u64_column(slots, "slots")?;
        let p = detach(py, || lock(&self.inner)?.probabilities(&slots))?;
        Ok(PyArray1::from_vec(py, p))
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
                "PrioritizedReplay(len={}, capacity={}, alpha={}, beta={}, eps={})",
                r.len(),
                r.capacity(),
                r.alpha(),
                r.beta(),
                r.eps()
            ))
        })
    }
});

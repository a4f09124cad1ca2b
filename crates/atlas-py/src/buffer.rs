//! `FeedbackBuffer`: the bounded many-producer event buffer (kernel: `atlas_kernels::buffer`).
//!
//! A single-event push runs with the GIL held (releasing it would cost more than the
//! push) unless the buffer is full under `block`; batch pushes and drains release it.
//! A blocked push waits without the GIL, in slices, re-taking it between slices only
//! to let Python run its signal handlers, so Ctrl-C interrupts it.

mod columns;

use atlas_kernels::buffer::{Admission, Event, EventBatch, FeedbackBuffer, Policy, ID_LEN};
use atlas_kernels::KernelError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{invalid, InternalError};
use crate::gil;
use columns::{column, id16, id_column, payload_bytes, BytesColumn, OffsetsColumn};

/// Bounded, thread-safe buffer of interaction and feedback events, drained as columns.
#[derive(Debug)]
#[pyclass(
    module = "atlas_core._native",
    name = "FeedbackBuffer",
    subclass,
    frozen
)]
pub struct PyFeedbackBuffer {
    inner: FeedbackBuffer,
}

#[pymethods]
impl PyFeedbackBuffer {
    #[new]
    #[pyo3(signature = (capacity, policy = "block", timeout = None))]
    fn new(capacity: i64, policy: &str, timeout: Option<f64>) -> PyResult<Self> {
        let capacity = usize::try_from(capacity)
            .map_err(|_| invalid("capacity", format!("must be at least 1, got {capacity}")))?;
        let policy = Policy::parse(policy, timeout).map_err(crate::errors::to_py)?;
        let inner = FeedbackBuffer::new(capacity, policy).map_err(crate::errors::to_py)?;
        Ok(Self { inner })
    }

    /// Pushes one event and returns its 16-byte event id (a fresh UUIDv7 unless given).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (interaction_id, kind, value = f64::NAN, key = None, payload = None, ts_ns = None, event_id = None))]
    fn push<'py>(
        &self,
        py: Python<'py>,
        interaction_id: &Bound<'py, PyAny>,
        kind: i64,
        value: f64,
        key: Option<&Bound<'py, PyAny>>,
        payload: Option<&Bound<'py, PyAny>>,
        ts_ns: Option<i64>,
        event_id: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let event = Event {
            interaction_id: id16("interaction_id", interaction_id)?,
            kind: u8::try_from(kind)
                .map_err(|_| invalid("kind", format!("must be in 0..=255, got {kind}")))?,
            key: match key {
                None => 0,
                Some(k) => k.extract::<u64>().map_err(|_| {
                    invalid("key", format!("must be an integer in [0, 2**64), got {k}"))
                })?,
            },
            value,
            ts_ns,
            event_id: event_id.map(|id| id16("event_id", id)).transpose()?,
            payload: payload_bytes(payload)?,
        };
        let id = match gil::attached(|| self.inner.try_push(&event))? {
            Admission::Accepted(id) => id,
            Admission::WouldBlock => wait_without_gil(py, |keep_waiting| {
                self.inner.push_wait(&event, keep_waiting)
            })?,
        };
        Ok(PyBytes::new(py, &id))
    }

    /// Pushes a columnar batch whole (or not at all) and returns its number of events.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (interaction_id, kind, *, value = None, key = None, ts_ns = None, event_id = None, payload_offsets = None, payload_data = None))]
    fn push_batch<'py>(
        &self,
        py: Python<'py>,
        interaction_id: &Bound<'py, PyAny>,
        kind: &Bound<'py, PyAny>,
        value: Option<&Bound<'py, PyAny>>,
        key: Option<&Bound<'py, PyAny>>,
        ts_ns: Option<&Bound<'py, PyAny>>,
        event_id: Option<&Bound<'py, PyAny>>,
        payload_offsets: Option<&Bound<'py, PyAny>>,
        payload_data: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<usize> {
        let (interaction_id, _) = id_column("interaction_id", interaction_id)?;
        let kind = column::<u8>("kind", kind)?;
        let value = value.map(|v| column::<f64>("value", v)).transpose()?;
        let key = key.map(|k| column::<u64>("key", k)).transpose()?;
        let ts_ns = ts_ns.map(|t| column::<i64>("ts_ns", t)).transpose()?;
        let event_id = event_id.map(|e| id_column("event_id", e)).transpose()?;
        let payload = match (payload_offsets, payload_data) {
            (Some(o), Some(d)) => Some((OffsetsColumn::extract(o)?, BytesColumn::extract(d)?)),
            (None, None) => None,
            (None, Some(_)) => {
                return Err(invalid(
                    "payload_offsets",
                    "is required when payload_data is given",
                ))
            }
            (Some(_), None) => {
                return Err(invalid(
                    "payload_data",
                    "is required when payload_offsets is given",
                ))
            }
        };

        let to_py = crate::errors::to_py;
        let mut batch = EventBatch::new(
            slice(&interaction_id, "interaction_id")?,
            slice(&kind, "kind")?,
        )
        .map_err(to_py)?;
        if let Some(v) = &value {
            batch = batch.value(slice(v, "value")?).map_err(to_py)?;
        }
        if let Some(k) = &key {
            batch = batch.key(slice(k, "key")?).map_err(to_py)?;
        }
        if let Some(t) = &ts_ns {
            batch = batch.ts_ns(slice(t, "ts_ns")?).map_err(to_py)?;
        }
        if let Some((e, _)) = &event_id {
            batch = batch.event_id(slice(e, "event_id")?).map_err(to_py)?;
        }
        if let Some((offsets, data)) = &payload {
            batch = batch
                .payload(offsets.as_offsets()?, data.as_slice()?)
                .map_err(to_py)?;
        }

        match gil::detach(py, || self.inner.try_push_batch(&batch))? {
            Admission::Accepted(n) => Ok(n),
            Admission::WouldBlock => wait_without_gil(py, |keep_waiting| {
                self.inner.push_batch_wait(&batch, keep_waiting)
            }),
        }
    }

    /// Removes up to `max_events` (all if None) of the oldest events and returns them as
    /// NumPy columns that own their memory: `event_id`, `interaction_id` ((n, 16) uint8),
    /// `kind` (uint8), `key` (uint64), `value` (float64), `ts_ns` (int64),
    /// `payload_offsets` (int64, n + 1) and `payload_data` (uint8).
    #[pyo3(signature = (max_events = None))]
    fn drain<'py>(&self, py: Python<'py>, max_events: Option<i64>) -> PyResult<Bound<'py, PyDict>> {
        let max_events = max_events
            .map(|m| {
                usize::try_from(m)
                    .map_err(|_| invalid("max_events", format!("must be >= 0 or None, got {m}")))
            })
            .transpose()?;
        let drained = gil::detach(py, || Ok(self.inner.drain(max_events)))?;
        columns::drained_to_dict(py, drained)
    }

    /// Blocks (without the GIL; Ctrl-C works) until at least `min_events` (capped at the
    /// capacity) are buffered or the buffer is closed (True), or `timeout` seconds pass (False).
    #[pyo3(signature = (min_events = 1, timeout = None))]
    fn wait_for_events(
        &self,
        py: Python<'_>,
        min_events: i64,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        let min_events = usize::try_from(min_events)
            .ok()
            .filter(|&m| m >= 1)
            .ok_or_else(|| {
                invalid(
                    "min_events",
                    format!("must be at least 1, got {min_events}"),
                )
            })?;
        let timeout = match timeout {
            None => None,
            Some(t) if t.is_finite() && t >= 0.0 => Some(std::time::Duration::from_secs_f64(t)),
            Some(t) => {
                return Err(invalid(
                    "timeout",
                    format!("must be a finite number of seconds >= 0 or None, got {t}"),
                ))
            }
        };
        wait_without_gil(py, |keep_waiting| {
            Ok(self
                .inner
                .wait_for_events(min_events, timeout, keep_waiting))
        })
    }

    /// Refuses later pushes (BufferClosedError) and wakes blocked producers; drain still works.
    fn close(&self) {
        self.inner.close();
    }

    /// Counters and size read together: pushed, dropped, rejected, drained, len, capacity.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.inner.stats();
        let out = PyDict::new(py);
        out.set_item("pushed", s.pushed)?;
        out.set_item("dropped", s.dropped)?;
        out.set_item("rejected", s.rejected)?;
        out.set_item("drained", s.drained)?;
        out.set_item("len", s.len)?;
        out.set_item("capacity", s.capacity)?;
        Ok(out)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        let s = self.inner.stats();
        format!(
            "FeedbackBuffer(capacity={}, policy={:?}, len={}, pushed={}, dropped={}, rejected={}, drained={}{})",
            s.capacity,
            self.inner.policy().name(),
            s.len,
            s.pushed,
            s.dropped,
            s.rejected,
            s.drained,
            if s.closed { ", closed" } else { "" }
        )
    }

    /// Maximum number of events held.
    #[getter]
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// "block", "reject" or "drop_oldest".
    #[getter]
    fn policy(&self) -> &'static str {
        self.inner.policy().name()
    }

    /// Seconds a `block` push waits before BufferTimeoutError; None: forever (or not `block`).
    #[getter]
    fn timeout(&self) -> Option<f64> {
        match self.inner.policy() {
            Policy::Block { timeout } => timeout.map(|t| t.as_secs_f64()),
            _ => None,
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Events admitted since construction (including those dropped later).
    #[getter]
    fn pushed(&self) -> u64 {
        self.inner.stats().pushed
    }

    /// Events evicted by `drop_oldest`.
    #[getter]
    fn dropped(&self) -> u64 {
        self.inner.stats().dropped
    }

    /// Events refused by `reject`, or whose `block` push timed out.
    #[getter]
    fn rejected(&self) -> u64 {
        self.inner.stats().rejected
    }

    /// Events handed out by `drain`.
    #[getter]
    fn drained(&self) -> u64 {
        self.inner.stats().drained
    }
}

fn slice<'a, T: numpy::Element>(
    array: &'a numpy::PyReadonlyArray1<'_, T>,
    name: &'static str,
) -> PyResult<&'a [T]> {
    array
        .as_slice()
        .map_err(|_| invalid(name, "is not contiguous"))
}

/// Runs a wait (a `block`-policy push, `wait_for_events`) without the GIL. Between slices it re-takes the GIL to
/// run Python's signal handlers; if one raises (Ctrl-C), the wait stops with that error.
fn wait_without_gil<T: Send>(
    py: Python<'_>,
    wait: impl FnOnce(&mut dyn FnMut() -> bool) -> Result<Option<T>, KernelError> + Send,
) -> PyResult<T> {
    let mut interrupted: Option<PyErr> = None;
    let outcome = gil::detach(py, || {
        let mut keep_waiting = || {
            Python::attach(|py| match py.check_signals() {
                Ok(()) => true,
                Err(err) => {
                    interrupted = Some(err);
                    false
                }
            })
        };
        wait(&mut keep_waiting)
    })?;
    match (outcome, interrupted) {
        (Some(value), _) => Ok(value),
        (None, Some(err)) => Err(err),
        (None, None) => Err(InternalError::new_err(
            "a blocked push stopped without a reason",
        )),
    }
}

/// Adds `FeedbackBuffer` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFeedbackBuffer>()?;
    m.add("EVENT_ID_LEN", ID_LEN)?;
    Ok(())
}

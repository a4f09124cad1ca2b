//! `RewardAggregator`: per-key streaming statistics (see `atlas_kernels::aggregator`).
//!
//! The key type (`"int"` or `"str"`) is chosen at construction; the class wraps one of the two
//! monomorphic kernels. Batch calls read NumPy columns without copying and release the GIL.

pub mod columns;

use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use atlas_kernels::aggregator::{
    quantile_column_name, saved_key_type, AggregatorConfig, KeyType, RewardAggregator, Snapshot,
    StrKey,
};
use atlas_kernels::KernelError;
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::errors::invalid;
use crate::gil::{attached, detach};
use columns::{column, describe, Column};

/// The two key types a Python aggregator can have.
#[derive(Debug, Clone)]
enum Inner {
    Int(RewardAggregator<i64>),
    Str(RewardAggregator<StrKey>),
}

impl Inner {
    fn config(&self) -> &AggregatorConfig {
        match self {
            Inner::Int(a) => a.config(),
            Inner::Str(a) => a.config(),
        }
    }

    fn key_type(&self) -> &'static str {
        match self {
            Inner::Int(_) => "int",
            Inner::Str(_) => "str",
        }
    }
}

/// Streaming statistics per key; the Python-facing class.
///
/// The state sits behind a mutex (the class is `frozen`), so threads sharing one aggregator
/// wait for each other instead of failing with a borrow error; batch calls take the lock only
/// after releasing the GIL.
#[pyclass(
    module = "atlas_core._native",
    name = "RewardAggregator",
    subclass,
    frozen
)]
#[derive(Debug)]
pub struct PyRewardAggregator {
    inner: Mutex<Inner>,
}

/// Seconds since the Unix epoch, the default timestamp of an event.
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn at_least_one(name: &'static str, n: i64) -> PyResult<usize> {
    usize::try_from(n)
        .ok()
        .filter(|&v| v >= 1)
        .ok_or_else(|| invalid(name, format!("must be >= 1, got {n}")))
}

/// Decodes `offsets`/`data` (Arrow's UTF-8 layout) into string slices, checking bounds and UTF-8.
fn utf8_keys<'a, O: Copy + TryInto<usize>>(
    offsets: &[O],
    data: &'a [u8],
) -> Result<Vec<&'a str>, KernelError> {
    if offsets.is_empty() {
        return Err(KernelError::invalid(
            "offsets",
            "must hold at least one element (n keys need n + 1 offsets)",
        ));
    }
    let at = |i: usize| -> Result<usize, KernelError> {
        offsets[i]
            .try_into()
            .ok()
            .filter(|&o| o <= data.len())
            .ok_or_else(|| {
                KernelError::invalid(
                    "offsets",
                    format!("element {i} is negative or past the end of `data`"),
                )
            })
    };
    let mut keys = Vec::with_capacity(offsets.len() - 1);
    let mut start = at(0)?;
    for i in 1..offsets.len() {
        let end = at(i)?;
        if end < start {
            return Err(KernelError::invalid(
                "offsets",
                format!("must be non-decreasing; element {i} goes backwards"),
            ));
        }
        let key = std::str::from_utf8(&data[start..end]).map_err(|e| {
            KernelError::invalid("data", format!("key {} is not valid UTF-8: {e}", i - 1))
        })?;
        keys.push(key);
        start = end;
    }
    Ok(keys)
}

fn columns_dict<'py, K>(
    py: Python<'py>,
    snap: Snapshot<K>,
    quantiles: &[f64],
    keys: impl FnOnce(Vec<K>) -> PyResult<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let to_i64 = |v: Vec<u64>| v.into_iter().map(|c| c as i64).collect::<Vec<i64>>();
    let out = PyDict::new(py);
    out.set_item("key", keys(snap.keys)?)?;
    out.set_item("count", PyArray1::from_vec(py, to_i64(snap.count)))?;
    out.set_item("mean", PyArray1::from_vec(py, snap.mean))?;
    out.set_item("var", PyArray1::from_vec(py, snap.var))?;
    out.set_item("min", PyArray1::from_vec(py, snap.min))?;
    out.set_item("max", PyArray1::from_vec(py, snap.max))?;
    out.set_item("ema", PyArray1::from_vec(py, snap.ema))?;
    out.set_item("last_n_mean", PyArray1::from_vec(py, snap.last_n_mean))?;
    out.set_item(
        "window_count",
        PyArray1::from_vec(py, to_i64(snap.window_count)),
    )?;
    out.set_item("window_mean", PyArray1::from_vec(py, snap.window_mean))?;
    for (&q, col) in quantiles.iter().zip(snap.quantiles) {
        out.set_item(quantile_column_name(q), PyArray1::from_vec(py, col))?;
    }
    Ok(out)
}

/// Both snapshots' possible results, computed without the GIL.
enum AnySnapshot {
    Int(Snapshot<i64>),
    Str(Snapshot<StrKey>),
}

impl PyRewardAggregator {
    /// Runs `f` on the state under the lock. A poisoned lock (a panic caught earlier) is taken
    /// over rather than propagated: every kernel call validates before it mutates.
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }

    fn timestamps<'py>(
        timestamps: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Column<'py, f64>>> {
        timestamps
            .map(|t| column::<f64>("timestamps", t, "float64"))
            .transpose()
    }
}

#[pymethods]
impl PyRewardAggregator {
    /// An empty aggregator. `key_type` is "int" (int64 keys) or "str"; `half_life` is in the
    /// key's events; the time window is `window_seconds` long in `window_buckets` buckets;
    /// quantiles come from a sketch with relative accuracy `relative_accuracy`.
    #[new]
    #[pyo3(signature = (key_type="str", *, half_life=100.0, last_n=100, window_seconds=3600.0, window_buckets=60, relative_accuracy=0.01, quantiles=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        key_type: &str,
        half_life: f64,
        last_n: i64,
        window_seconds: f64,
        window_buckets: i64,
        relative_accuracy: f64,
        quantiles: Option<Vec<f64>>,
    ) -> PyResult<Self> {
        let config = AggregatorConfig {
            half_life,
            last_n: at_least_one("last_n", last_n)?,
            window_seconds,
            window_buckets: at_least_one("window_buckets", window_buckets)?,
            relative_accuracy,
            quantiles: quantiles.unwrap_or_else(|| vec![0.5, 0.9, 0.99]),
        };
        let inner = match key_type {
            "int" => Inner::Int(attached(|| RewardAggregator::new(config))?),
            "str" => Inner::Str(attached(|| RewardAggregator::new(config))?),
            other => {
                return Err(invalid(
                    "key_type",
                    format!("must be 'int' or 'str', got {other:?}"),
                ))
            }
        };
        Ok(Self {
            inner: Mutex::new(inner),
        })
    }

    /// "int" or "str".
    #[getter]
    fn key_type(&self) -> &'static str {
        self.with(|i| i.key_type())
    }

    /// EMA half-life, in events of the key.
    #[getter]
    fn half_life(&self) -> f64 {
        self.with(|i| i.config().half_life)
    }

    /// How many newest values the last-N mean covers.
    #[getter]
    fn last_n(&self) -> usize {
        self.with(|i| i.config().last_n)
    }

    /// Length of the time window in seconds.
    #[getter]
    fn window_seconds(&self) -> f64 {
        self.with(|i| i.config().window_seconds)
    }

    /// Buckets of the time window (granularity = window_seconds / window_buckets).
    #[getter]
    fn window_buckets(&self) -> usize {
        self.with(|i| i.config().window_buckets)
    }

    /// Relative accuracy of the quantile sketch.
    #[getter]
    fn relative_accuracy(&self) -> f64 {
        self.with(|i| i.config().relative_accuracy)
    }

    /// Quantiles reported by `snapshot`, in column order.
    #[getter]
    fn quantiles(&self) -> Vec<f64> {
        self.with(|i| i.config().quantiles.clone())
    }

    /// Events added over all keys.
    #[getter]
    fn total_count(&self) -> u64 {
        self.with(|i| match i {
            Inner::Int(a) => a.total_count(),
            Inner::Str(a) => a.total_count(),
        })
    }

    /// Newest timestamp seen (the default end of the time window), None before any event.
    #[getter]
    fn watermark(&self) -> Option<f64> {
        let w = self.with(|i| match i {
            Inner::Int(a) => a.watermark(),
            Inner::Str(a) => a.watermark(),
        });
        w.is_finite().then_some(w)
    }

    /// Number of distinct keys.
    fn __len__(&self) -> usize {
        self.with(|i| match i {
            Inner::Int(a) => a.len(),
            Inner::Str(a) => a.len(),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "RewardAggregator(key_type={:?}, keys={}, events={})",
            self.key_type(),
            self.__len__(),
            self.total_count()
        )
    }

    /// Adds one event; `timestamp` is Unix seconds (default: now). NaN/inf raise InvalidArgumentError.
    #[pyo3(signature = (key, value, timestamp=None))]
    fn add(&self, key: &Bound<'_, PyAny>, value: f64, timestamp: Option<f64>) -> PyResult<()> {
        let ts = timestamp.unwrap_or_else(unix_now);
        let int_key = key.extract::<i64>().ok();
        let str_key = key
            .cast::<PyString>()
            .ok()
            .map(|s| s.to_str())
            .transpose()?;
        self.with(|inner| match inner {
            Inner::Int(a) => match int_key {
                Some(k) => attached(|| a.add(&k, value, ts)),
                None => Err(invalid(
                    "key",
                    format!("must be an int for key_type='int', got {}", describe(key)),
                )),
            },
            Inner::Str(a) => match str_key {
                Some(k) => attached(|| a.add(k, value, ts)),
                None => Err(invalid(
                    "key",
                    format!("must be a str for key_type='str', got {}", describe(key)),
                )),
            },
        })
    }

    /// Adds a batch in order, without the GIL. `keys`: int64 NumPy array (key_type "int") or a
    /// list of str ("str"); `values`/`timestamps`: float64 NumPy arrays of the same length
    /// (timestamps default to now). A NaN/inf rejects the whole batch.
    #[pyo3(signature = (keys, values, timestamps=None))]
    fn add_batch(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        timestamps: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let values = column::<f64>("values", values, "float64")?;
        let ts = Self::timestamps(timestamps)?;
        let now = unix_now();
        let (v, t) = (values.as_slice(), ts.as_ref().map(|c| c.as_slice()));
        if self.key_type() == "int" {
            let keys = column::<i64>("keys", keys, "int64 (key_type='int')")?;
            let k = keys.as_slice();
            return detach(py, || {
                self.with(|inner| match inner {
                    Inner::Int(a) => a.add_batch(k.iter(), v, t, now),
                    Inner::Str(_) => Err(KernelError::invalid(
                        "keys",
                        "key_type changed during the call",
                    )),
                })
            });
        }
        let list: Vec<Bound<'_, PyString>> = keys
            .try_iter()
            .map_err(|_| {
                invalid(
                    "keys",
                    format!(
                        "must be a list of str (key_type='str'), got {}",
                        describe(keys)
                    ),
                )
            })?
            .enumerate()
            .map(|(i, item)| {
                item.and_then(|o| {
                    o.cast_into::<PyString>().map_err(|e| {
                        invalid(
                            "keys",
                            format!("element {i} is not a str: {}", describe(&e.into_inner())),
                        )
                    })
                })
            })
            .collect::<PyResult<_>>()?;
        let strs: Vec<&str> = list.iter().map(|s| s.to_str()).collect::<PyResult<_>>()?;
        detach(py, || {
            self.with(|inner| match inner {
                Inner::Str(a) => a.add_batch(strs.iter().copied(), v, t, now),
                Inner::Int(_) => Err(KernelError::invalid(
                    "keys",
                    "key_type changed during the call",
                )),
            })
        })
    }

    /// Adds a batch of string keys given in Arrow's UTF-8 layout: key `i` is
    /// `data[offsets[i]:offsets[i+1]]`; `offsets` is int32 or int64, `data` uint8.
    #[pyo3(signature = (offsets, data, values, timestamps=None))]
    fn add_batch_utf8(
        &self,
        py: Python<'_>,
        offsets: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        timestamps: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let values = column::<f64>("values", values, "float64")?;
        let ts = Self::timestamps(timestamps)?;
        let bytes = column::<u8>("data", data, "uint8")?;
        let now = unix_now();
        let (v, t, d) = (
            values.as_slice(),
            ts.as_ref().map(|c| c.as_slice()),
            bytes.as_slice(),
        );
        let add = |keys: Vec<&str>| {
            self.with(|inner| match inner {
                Inner::Str(a) => a.add_batch(keys.into_iter(), v, t, now),
                Inner::Int(_) => Err(KernelError::invalid(
                    "keys",
                    "string keys need key_type='str'",
                )),
            })
        };
        if let Ok(off) = column::<i64>("offsets", offsets, "int64") {
            let off = off.as_slice();
            return detach(py, || add(utf8_keys(off, d)?));
        }
        let off = column::<i32>("offsets", offsets, "int32 or int64")?;
        let off = off.as_slice();
        detach(py, || add(utf8_keys(off, d)?))
    }

    /// Folds `other` in (same key type and configuration). Exact for count, mean, var, min, max,
    /// time window and quantile sketch; for EMA and last-N, `other`'s events count as later.
    fn merge(&self, py: Python<'_>, other: &Bound<'_, PyRewardAggregator>) -> PyResult<()> {
        let theirs = other.get();
        if std::ptr::eq(self, theirs) {
            return Err(invalid("other", "cannot merge an aggregator into itself"));
        }
        detach(py, || {
            // Lock in address order so that a.merge(b) and b.merge(a) on two threads cannot deadlock.
            let (first, second) = if (self as *const Self) < (theirs as *const Self) {
                (self, theirs)
            } else {
                (theirs, self)
            };
            let mut g1 = first.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let mut g2 = second.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let (ours, other) = if std::ptr::eq(first, self) {
                (&mut *g1, &*g2)
            } else {
                (&mut *g2, &*g1)
            };
            match (ours, other) {
                (Inner::Int(a), Inner::Int(b)) => a.merge(b),
                (Inner::Str(a), Inner::Str(b)) => a.merge(b),
                _ => Err(KernelError::invalid("other", "has a different key_type")),
            }
        })
    }

    /// The estimate of `key`'s lower `q`-quantile (within relative_accuracy), None for an unknown key.
    fn quantile(&self, key: &Bound<'_, PyAny>, q: f64) -> PyResult<Option<f64>> {
        let int_key = key.extract::<i64>().ok();
        let str_key = key
            .cast::<PyString>()
            .ok()
            .map(|s| s.to_str())
            .transpose()?;
        self.with(|inner| match inner {
            Inner::Int(a) => match int_key {
                Some(k) => attached(|| a.quantile(&k, q)),
                None => Err(invalid(
                    "key",
                    format!("must be an int for key_type='int', got {}", describe(key)),
                )),
            },
            Inner::Str(a) => match str_key {
                Some(k) => attached(|| a.quantile(k, q)),
                None => Err(invalid(
                    "key",
                    format!("must be a str for key_type='str', got {}", describe(key)),
                )),
            },
        })
    }

    /// One row per key, sorted by key, as a dict of columns: "key" (int64 array or list of str),
    /// "count", "mean", "var" (ddof=1), "min", "max", "ema", "last_n_mean", "window_count",
    /// "window_mean", then one "pXX" column per quantile. The window ends at `now` (Unix
    /// seconds; default: the newest timestamp seen).
    #[pyo3(signature = (now=None))]
    fn snapshot<'py>(&self, py: Python<'py>, now: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
        let (snap, quantiles) = detach(py, || {
            self.with(|inner| {
                let quantiles = inner.config().quantiles.clone();
                let snap = match inner {
                    Inner::Int(a) => AnySnapshot::Int(a.snapshot(now)?),
                    Inner::Str(a) => AnySnapshot::Str(a.snapshot(now)?),
                };
                Ok((snap, quantiles))
            })
        })?;
        match snap {
            AnySnapshot::Int(s) => columns_dict(py, s, &quantiles, |k| {
                Ok(PyArray1::from_vec(py, k).into_any())
            }),
            AnySnapshot::Str(s) => columns_dict(py, s, &quantiles, |k| {
                Ok(PyList::new(py, k.iter().map(StrKey::as_str))?.into_any())
            }),
        }
    }

    /// The whole state (configuration included) as bytes.
    fn save_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = detach(py, || {
            self.with(|inner| match inner {
                Inner::Int(a) => a.save(),
                Inner::Str(a) => a.save(),
            })
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Replaces this aggregator's state (configuration and key type included) with one from
    /// `save_state`. Raises StateError on bytes that are not an aggregator state.
    fn load_state(&self, py: Python<'_>, state: &[u8]) -> PyResult<()> {
        let loaded = detach(py, || match saved_key_type(state)? {
            KeyType::Int => RewardAggregator::<i64>::load(state).map(Inner::Int),
            KeyType::Str => RewardAggregator::<StrKey>::load(state).map(Inner::Str),
        })?;
        self.with(|inner| *inner = loaded);
        Ok(())
    }
}

/// Adds the class to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRewardAggregator>()
}

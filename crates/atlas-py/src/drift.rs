//! `ADWIN` and `PageHinkley`: drift detectors over reward or error streams
//! (see `atlas_kernels::drift`). `update_batch` releases the GIL and returns the positions
//! where a change was detected.

use std::sync::{Mutex, MutexGuard, PoisonError};

use atlas_kernels::drift::{
    Adwin, AdwinConfig, Direction, DriftDetector, PageHinkley, PageHinkleyConfig,
};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::aggregator::columns::column;
use crate::errors::invalid;
use crate::gil::{attached, detach};

/// `#[pymethods]` for a detector class `$py { inner: Mutex<$kernel> }`: the given methods
/// plus those every detector shares (feeding, reset, estimate, counters, state).
macro_rules! detector_pymethods {
    ($py:ident, $kernel:ty, { $($methods:tt)* }) => {
        #[pymethods]
        impl $py {
            $($methods)*

            /// Feeds one value; True when a change was detected at it.
            fn update(&self, x: f64) -> PyResult<bool> {
                attached(|| locked(&self.inner).update(x))
            }

            /// Feeds a float64 NumPy array in order; returns the int64 positions where a
            /// change was detected.
            fn update_batch<'py>(
                &self,
                py: Python<'py>,
                xs: &Bound<'py, PyAny>,
            ) -> PyResult<Bound<'py, PyArray1<i64>>> {
                run_batch(py, &self.inner, xs)
            }

            /// Forgets what was fed and the counters (the configuration stays).
            fn reset(&self) {
                locked(&self.inner).reset();
            }

            /// The current estimate of the stream's mean (NaN when there is none).
            #[getter]
            fn mean(&self) -> f64 {
                locked(&self.inner).mean()
            }

            /// Values fed since creation or reset.
            #[getter]
            fn n_seen(&self) -> u64 {
                locked(&self.inner).n_seen()
            }

            /// Changes detected since creation or reset.
            #[getter]
            fn n_detections(&self) -> u64 {
                locked(&self.inner).n_detections()
            }

            /// The state (configuration included) as bytes.
            fn save_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
                Ok(PyBytes::new(py, &attached(|| locked(&self.inner).save())?))
            }

            /// Replaces the state with one from `save_state`; StateError on anything else.
            fn load_state(&self, state: &[u8]) -> PyResult<()> {
                let loaded = attached(|| <$kernel>::load(state))?;
                *locked(&self.inner) = loaded;
                Ok(())
            }
        }
    };
}

fn at_least_one(name: &'static str, n: i64) -> PyResult<u64> {
    u64::try_from(n)
        .ok()
        .filter(|&v| v >= 1)
        .ok_or_else(|| invalid(name, format!("must be >= 1, got {n}")))
}

/// The detector under its lock. Detectors are shared between threads behind a mutex (the
/// classes are `frozen`), so concurrent callers wait instead of failing with a borrow error;
/// a poisoned lock is taken over, since every update validates before it mutates.
fn locked<D>(detector: &Mutex<D>) -> MutexGuard<'_, D> {
    detector.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs a detector over a float64 column without the GIL (the lock is taken after release).
fn run_batch<'py, D: DriftDetector + Send>(
    py: Python<'py>,
    detector: &Mutex<D>,
    xs: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let xs = column::<f64>("xs", xs, "float64")?;
    let slice = xs.as_slice();
    let fired = detach(py, || locked(detector).update_batch(slice))?;
    Ok(PyArray1::from_vec(py, fired))
}

/// ADWIN (Bifet & Gavaldà 2007): an adaptive window that drops its older part when the
/// means of the two parts differ by more than a bound with confidence `delta`.
#[pyclass(module = "atlas_core._native", name = "ADWIN", frozen)]
#[derive(Debug)]
pub struct PyAdwin {
    inner: Mutex<Adwin>,
}

detector_pymethods!(PyAdwin, Adwin, {
    /// A detector with confidence `delta`, checking every `clock` values, `max_buckets` per
    /// histogram row and sub-windows of at least `min_window` values.
    #[new]
    #[pyo3(signature = (delta=0.002, *, clock=32, max_buckets=5, min_window=5))]
    fn new(delta: f64, clock: i64, max_buckets: i64, min_window: i64) -> PyResult<Self> {
        let clock = u32::try_from(at_least_one("clock", clock)?)
            .map_err(|_| invalid("clock", "is too large"))?;
        let config = AdwinConfig {
            delta,
            clock,
            max_buckets: at_least_one("max_buckets", max_buckets)? as usize,
            min_window: at_least_one("min_window", min_window)?,
        };
        Ok(Self {
            inner: Mutex::new(attached(|| Adwin::new(config))?),
        })
    }

    /// The confidence parameter.
    #[getter]
    fn delta(&self) -> f64 {
        locked(&self.inner).config().delta
    }

    /// Values between two change checks.
    #[getter]
    fn clock(&self) -> u32 {
        locked(&self.inner).config().clock
    }

    /// Buckets per histogram row.
    #[getter]
    fn max_buckets(&self) -> usize {
        locked(&self.inner).config().max_buckets
    }

    /// Shortest sub-window either side of a cut.
    #[getter]
    fn min_window(&self) -> u64 {
        locked(&self.inner).config().min_window
    }

    /// Values in the current window.
    #[getter]
    fn width(&self) -> u64 {
        locked(&self.inner).width()
    }

    /// Population variance of the current window (NaN when empty).
    #[getter]
    fn variance(&self) -> f64 {
        locked(&self.inner).variance()
    }

    /// Histogram buckets held (memory use).
    #[getter]
    fn n_buckets(&self) -> usize {
        locked(&self.inner).n_buckets()
    }

    fn __repr__(&self) -> String {
        format!(
            "ADWIN(delta={}, width={}, mean={}, detections={})",
            self.delta(),
            self.width(),
            self.mean(),
            self.n_detections()
        )
    }
});

/// The Page–Hinkley test: fires when the cumulative deviation from the running mean (less
/// `delta` per value, forgotten at rate `alpha`) exceeds `threshold` in the watched direction.
#[pyclass(module = "atlas_core._native", name = "PageHinkley", frozen)]
#[derive(Debug)]
pub struct PyPageHinkley {
    inner: Mutex<PageHinkley>,
}

detector_pymethods!(PyPageHinkley, PageHinkley, {
    /// A detector; `direction` is "decrease" (rewards dropping), "increase" (error rate
    /// rising) or "both".
    #[new]
    #[pyo3(signature = (delta=0.005, threshold=50.0, *, alpha=0.9999, min_instances=30, direction="both"))]
    fn new(
        delta: f64,
        threshold: f64,
        alpha: f64,
        min_instances: i64,
        direction: &str,
    ) -> PyResult<Self> {
        let config = PageHinkleyConfig {
            delta,
            threshold,
            alpha,
            min_instances: at_least_one("min_instances", min_instances)?,
            direction: attached(|| Direction::parse(direction))?,
        };
        Ok(Self {
            inner: Mutex::new(attached(|| PageHinkley::new(config))?),
        })
    }

    /// Magnitude of change tolerated.
    #[getter]
    fn delta(&self) -> f64 {
        locked(&self.inner).config().delta
    }

    /// Detection threshold (lambda).
    #[getter]
    fn threshold(&self) -> f64 {
        locked(&self.inner).config().threshold
    }

    /// Forgetting factor of the cumulative sums.
    #[getter]
    fn alpha(&self) -> f64 {
        locked(&self.inner).config().alpha
    }

    /// Values needed after a restart before the test may fire.
    #[getter]
    fn min_instances(&self) -> u64 {
        locked(&self.inner).config().min_instances
    }

    /// "increase", "decrease" or "both".
    #[getter]
    fn direction(&self) -> &'static str {
        locked(&self.inner).config().direction.name()
    }

    /// The current test statistic (fires when it exceeds `threshold`).
    #[getter]
    fn statistic(&self) -> f64 {
        locked(&self.inner).statistic()
    }

    /// Values since the last restart.
    #[getter]
    fn n_since_reset(&self) -> u64 {
        locked(&self.inner).n_since_reset()
    }

    /// "increase" or "decrease" for the latest detection, None before the first.
    #[getter]
    fn last_direction(&self) -> Option<&'static str> {
        locked(&self.inner).last_direction().map(Direction::name)
    }

    fn __repr__(&self) -> String {
        format!(
            "PageHinkley(direction={:?}, threshold={}, statistic={}, detections={})",
            self.direction(),
            self.threshold(),
            self.statistic(),
            self.n_detections()
        )
    }
});

/// Adds both detector classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyAdwin>()?;
    m.add_class::<PyPageHinkley>()
}

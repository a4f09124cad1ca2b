//! Drift detectors over reward or error streams: ADWIN ([`adwin`]) and Page–Hinkley
//! ([`page_hinkley`]). Both take one finite value at a time, say whether a change was
//! detected at that value, and keep counters; `update_batch` returns the positions that fired.

pub mod adwin;
pub mod page_hinkley;

pub use adwin::{Adwin, AdwinConfig};
pub use page_hinkley::{Direction, PageHinkley, PageHinkleyConfig};

use crate::error::Result;

/// What every detector offers to the batch path.
pub trait DriftDetector {
    /// Feeds one value; `true` when a change was detected at it. Fails on a non-finite value.
    fn update(&mut self, x: f64) -> Result<bool>;

    /// Feeds `xs` in order and returns the positions (indices into `xs`) where a change was
    /// detected. A non-finite value rejects the whole batch before anything is fed.
    fn update_batch(&mut self, xs: &[f64]) -> Result<Vec<i64>> {
        crate::aggregator::check_all_finite("xs", xs)?;
        let mut fired = Vec::new();
        for (i, &x) in xs.iter().enumerate() {
            if self.update(x)? {
                fired.push(i as i64);
            }
        }
        Ok(fired)
    }
}

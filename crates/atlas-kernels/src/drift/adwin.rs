//! ADWIN, the adaptive windowing detector of Bifet & Gavaldà (SDM 2007), in its ADWIN2 form.
//!
//! The window is an exponential histogram: row `i` holds up to `max_buckets` buckets of
//! `2^i` values each (sum and sum of squared deviations), newest first, so a window of `W`
//! values takes `O(max_buckets · log W)` memory. Every `clock` values the detector tries
//! each split of the window, at bucket boundaries, into an older part `W₀` and a newer `W₁`
//! (both at least `min_window` long) and cuts when
//!
//! `|μ̂₀ − μ̂₁| > ε = sqrt(2/m · σ̂² · ln(2/δ')) + 2/(3m) · ln(2/δ')`,
//! `m = 1 / (1/n₀ + 1/n₁)`, `δ' = δ / ln W`, `σ̂²` the window's variance
//!
//! (the paper's Bernstein-style bound). A cut drops the oldest bucket and the test repeats
//! until no split differs; an update at which the window shrank reports a change.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::DriftDetector;
use crate::aggregator::check_finite;
use crate::error::{KernelError, Result};
use crate::rng;

/// Parameters of ADWIN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdwinConfig {
    /// Confidence `δ` in `(0, 1)`: smaller means fewer false alarms and slower detection.
    pub delta: f64,
    /// Check for a change every `clock` values (≥ 1); larger is faster but detects later.
    pub clock: u32,
    /// Buckets per histogram row (≥ 2); larger is more precise and slower.
    pub max_buckets: usize,
    /// Shortest sub-window either side of a cut (≥ 1).
    pub min_window: u64,
}

impl Default for AdwinConfig {
    fn default() -> Self {
        Self {
            delta: 0.002,
            clock: 32,
            max_buckets: 5,
            min_window: 5,
        }
    }
}

impl AdwinConfig {
    fn validate(&self) -> Result<()> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(KernelError::invalid(
                "delta",
                format!("must be in (0, 1), got {}", self.delta),
            ));
        }
        if self.clock == 0 {
            return Err(KernelError::invalid("clock", "must be >= 1"));
        }
        if !(2..=1024).contains(&self.max_buckets) {
            return Err(KernelError::invalid(
                "max_buckets",
                format!("must be in 2..=1024, got {}", self.max_buckets),
            ));
        }
        if self.min_window == 0 {
            return Err(KernelError::invalid("min_window", "must be >= 1"));
        }
        Ok(())
    }
}

/// `2^row` values summarised by their sum and sum of squared deviations from their mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Bucket {
    total: f64,
    m2: f64,
}

/// The ADWIN detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adwin {
    config: AdwinConfig,
    /// `rows[i]` holds buckets of `2^i` values, newest at the front.
    rows: Vec<VecDeque<Bucket>>,
    width: u64,
    total: f64,
    m2: f64,
    seen: u64,
    detections: u64,
}

impl Adwin {
    /// An empty detector; fails on an invalid configuration.
    pub fn new(config: AdwinConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            rows: Vec::new(),
            width: 0,
            total: 0.0,
            m2: 0.0,
            seen: 0,
            detections: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AdwinConfig {
        &self.config
    }

    /// Number of values in the current window.
    pub fn width(&self) -> u64 {
        self.width
    }

    /// Mean of the current window (NaN when empty).
    pub fn mean(&self) -> f64 {
        if self.width == 0 {
            f64::NAN
        } else {
            self.total / self.width as f64
        }
    }

    /// Population variance of the current window (NaN when empty).
    pub fn variance(&self) -> f64 {
        if self.width == 0 {
            f64::NAN
        } else {
            (self.m2 / self.width as f64).max(0.0)
        }
    }

    /// Values fed since creation or [`reset`](Self::reset).
    pub fn n_seen(&self) -> u64 {
        self.seen
    }

    /// Changes detected since creation or [`reset`](Self::reset).
    pub fn n_detections(&self) -> u64 {
        self.detections
    }

    /// Number of histogram buckets held (memory use).
    pub fn n_buckets(&self) -> usize {
        self.rows.iter().map(VecDeque::len).sum()
    }

    /// Forgets the window and the counters.
    pub fn reset(&mut self) {
        *self = Self {
            config: self.config.clone(),
            rows: Vec::new(),
            width: 0,
            total: 0.0,
            m2: 0.0,
            seen: 0,
            detections: 0,
        };
    }

    fn insert(&mut self, x: f64) {
        if self.width > 0 {
            let w = self.width as f64;
            let d = x - self.total / w;
            self.m2 += d * d * w / (w + 1.0);
        }
        self.width += 1;
        self.total += x;
        if self.rows.is_empty() {
            self.rows
                .push(VecDeque::with_capacity(self.config.max_buckets + 1));
        }
        self.rows[0].push_front(Bucket { total: x, m2: 0.0 });
        self.compress();
    }

    /// Keeps at most `max_buckets` per row by merging a row's two oldest buckets into the next row.
    fn compress(&mut self) {
        let mut row = 0;
        while row < self.rows.len() && self.rows[row].len() > self.config.max_buckets {
            let (Some(older), Some(newer)) = (self.rows[row].pop_back(), self.rows[row].pop_back())
            else {
                break;
            };
            let half = (1u64 << row) as f64;
            let d = older.total / half - newer.total / half;
            let merged = Bucket {
                total: older.total + newer.total,
                m2: older.m2 + newer.m2 + d * d * half / 2.0,
            };
            if row + 1 == self.rows.len() {
                self.rows
                    .push(VecDeque::with_capacity(self.config.max_buckets + 1));
            }
            self.rows[row + 1].push_front(merged);
            row += 1;
        }
    }

    /// Whether some split of the window has sub-window means further apart than the bound.
    fn has_cut(&self) -> bool {
        let min = self.config.min_window;
        let w = self.width as f64;
        let ln_term = (2.0 * w.ln() / self.config.delta).ln();
        let var = self.variance();
        let (mut n0, mut s0) = (0u64, 0.0f64);
        for (row, buckets) in self.rows.iter().enumerate().rev() {
            let size = 1u64 << row;
            for b in buckets.iter().rev() {
                n0 += size;
                s0 += b.total;
                let n1 = self.width - n0;
                if n1 < min {
                    return false;
                }
                if n0 < min {
                    continue;
                }
                let (f0, f1) = (n0 as f64, n1 as f64);
                let m = 1.0 / (1.0 / f0 + 1.0 / f1);
                let eps = (2.0 / m * var * ln_term).sqrt() + 2.0 / (3.0 * m) * ln_term;
                if (s0 / f0 - (self.total - s0) / f1).abs() > eps {
                    return true;
                }
            }
        }
        false
    }

    fn drop_oldest(&mut self) {
        let Some(top) = self.rows.len().checked_sub(1) else {
            return;
        };
        let Some(b) = self.rows[top].pop_back() else {
            return;
        };
        let size = 1u64 << top;
        let rest = self.width - size;
        if rest == 0 {
            self.total = 0.0;
            self.m2 = 0.0;
        } else {
            let (fs, fr) = (size as f64, rest as f64);
            let rest_total = self.total - b.total;
            let d = b.total / fs - rest_total / fr;
            self.m2 = (self.m2 - b.m2 - d * d * fs * fr / (fs + fr)).max(0.0);
            self.total = rest_total;
        }
        self.width = rest;
        while self.rows.last().is_some_and(VecDeque::is_empty) {
            self.rows.pop();
        }
    }

    /// The state as bytes (kind `ADWIN`).
    pub fn save(&self) -> Result<Vec<u8>> {
        rng::save_state(rng::kind::ADWIN, self)
    }

    /// Restores a state written by [`save`](Self::save).
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let a: Self = rng::load_state(rng::kind::ADWIN, bytes)?;
        a.config
            .validate()
            .map_err(|e| KernelError::State(e.to_string()))?;
        let held: u64 = a
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.len() as u64) << i)
            .sum();
        if held != a.width || a.rows.len() > 63 {
            return Err(KernelError::State(
                "ADWIN buckets do not add up to the window width".into(),
            ));
        }
        Ok(a)
    }
}

impl DriftDetector for Adwin {
    #[inline]
    fn update(&mut self, x: f64) -> Result<bool> {
        check_finite("x", x)?;
        self.seen += 1;
        self.insert(x);
        if self.seen % u64::from(self.config.clock) != 0 || self.width < 2 * self.config.min_window
        {
            return Ok(false);
        }
        let mut shrank = false;
        while self.width >= 2 * self.config.min_window && self.has_cut() {
            self.drop_oldest();
            shrank = true;
        }
        if shrank {
            self.detections += 1;
        }
        Ok(shrank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bernoulli(seed: u64, n: usize, p: f64) -> Vec<f64> {
        let mut r = rng::seeded(seed);
        (0..n)
            .map(|_| if rng::unit(&mut r) < p { 1.0 } else { 0.0 })
            .collect()
    }

    #[test]
    fn window_statistics_match_the_values() {
        let mut a = Adwin::new(AdwinConfig::default()).unwrap();
        let xs: Vec<f64> = (0..1000).map(|i| (i % 10) as f64).collect();
        assert!(a.update_batch(&xs).unwrap().is_empty());
        assert_eq!(a.width(), 1000);
        assert!((a.mean() - 4.5).abs() < 1e-9);
        assert!((a.variance() - 8.25).abs() < 1e-6);
        // Exponential histogram: logarithmic number of buckets.
        assert!(a.n_buckets() <= 5 * 10 + 1, "{}", a.n_buckets());
    }

    #[test]
    fn detects_a_drop_and_shrinks_the_window() {
        let mut xs = bernoulli(1, 3000, 0.8);
        xs.extend(bernoulli(2, 3000, 0.4));
        let mut a = Adwin::new(AdwinConfig::default()).unwrap();
        let fired = a.update_batch(&xs).unwrap();
        assert!(
            !fired.is_empty() && fired[0] >= 3000 && fired[0] < 3300,
            "{fired:?}"
        );
        assert!(a.width() < 3300);
        assert!((a.mean() - 0.4).abs() < 0.05, "{}", a.mean());
        assert_eq!(a.n_detections(), fired.len() as u64);
    }

    #[test]
    fn rejects_bad_input_and_round_trips() {
        assert!(Adwin::new(AdwinConfig {
            delta: 0.0,
            ..Default::default()
        })
        .is_err());
        assert!(Adwin::new(AdwinConfig {
            clock: 0,
            ..Default::default()
        })
        .is_err());
        let mut a = Adwin::new(AdwinConfig::default()).unwrap();
        assert!(a.update(f64::NAN).is_err());
        assert!(a.update_batch(&[1.0, f64::NAN]).is_err());
        assert_eq!(a.n_seen(), 0);
        a.update_batch(&bernoulli(5, 777, 0.3)).unwrap();
        let back = Adwin::load(&a.save().unwrap()).unwrap();
        assert_eq!(back, a);
        let other_kind = crate::drift::PageHinkley::new(Default::default())
            .unwrap()
            .save()
            .unwrap();
        assert!(Adwin::load(&other_kind).is_err());
        a.reset();
        assert_eq!((a.width(), a.n_seen()), (0, 0));
    }
}

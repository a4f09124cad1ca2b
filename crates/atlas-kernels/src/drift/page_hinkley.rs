//! The Page–Hinkley test (Page 1954), with a forgetting factor on the cumulative sums.
//!
//! With `x̄ₜ` the mean since the last reset, it keeps for an increase
//! `Uₜ = α·Uₜ₋₁ + (xₜ − x̄ₜ − δ)` and for a decrease `Lₜ = α·Lₜ₋₁ + (x̄ₜ − xₜ − δ)`, each with
//! its running minimum (starting at 0). A change fires when `Uₜ − min U > λ` (increase) or
//! `Lₜ − min L > λ` (decrease), for the watched direction(s), once at least `min_instances`
//! values were seen since the last reset; firing resets the test.

use serde::{Deserialize, Serialize};

use super::DriftDetector;
use crate::aggregator::check_finite;
use crate::error::{KernelError, Result};
use crate::rng;

/// Which change to watch for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// The mean rises (e.g. an error rate).
    Increase,
    /// The mean falls (e.g. a reward).
    Decrease,
    /// Either.
    Both,
}

impl Direction {
    /// Parses `"increase"`, `"decrease"` or `"both"`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "increase" => Ok(Self::Increase),
            "decrease" => Ok(Self::Decrease),
            "both" => Ok(Self::Both),
            other => Err(KernelError::invalid(
                "direction",
                format!("must be 'increase', 'decrease' or 'both', got {other:?}"),
            )),
        }
    }

    /// The name [`parse`](Self::parse) accepts.
    pub fn name(self) -> &'static str {
        match self {
            Self::Increase => "increase",
            Self::Decrease => "decrease",
            Self::Both => "both",
        }
    }
}

/// Parameters of the test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageHinkleyConfig {
    /// Magnitude of change tolerated (`δ ≥ 0`), in the stream's units.
    pub delta: f64,
    /// Detection threshold `λ > 0`.
    pub threshold: f64,
    /// Forgetting factor `α` in `(0, 1]` applied to the cumulative sums (1 = no forgetting).
    pub alpha: f64,
    /// Values needed since the last reset before the test may fire (≥ 1).
    pub min_instances: u64,
    /// Which change to watch for.
    pub direction: Direction,
}

impl Default for PageHinkleyConfig {
    fn default() -> Self {
        Self {
            delta: 0.005,
            threshold: 50.0,
            alpha: 0.9999,
            min_instances: 30,
            direction: Direction::Both,
        }
    }
}

impl PageHinkleyConfig {
    fn validate(&self) -> Result<()> {
        if !(self.delta.is_finite() && self.delta >= 0.0) {
            return Err(KernelError::invalid(
                "delta",
                format!("must be finite and >= 0, got {}", self.delta),
            ));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(KernelError::invalid(
                "threshold",
                format!("must be finite and > 0, got {}", self.threshold),
            ));
        }
        if !(self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(KernelError::invalid(
                "alpha",
                format!("must be in (0, 1], got {}", self.alpha),
            ));
        }
        if self.min_instances == 0 {
            return Err(KernelError::invalid("min_instances", "must be >= 1"));
        }
        Ok(())
    }
}

/// A Page–Hinkley detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageHinkley {
    config: PageHinkleyConfig,
    n: u64,
    mean: f64,
    up: f64,
    up_min: f64,
    down: f64,
    down_min: f64,
    seen: u64,
    detections: u64,
    last_direction: Option<Direction>,
}

impl PageHinkley {
    /// A fresh detector; fails on an invalid configuration.
    pub fn new(config: PageHinkleyConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            n: 0,
            mean: 0.0,
            up: 0.0,
            up_min: 0.0,
            down: 0.0,
            down_min: 0.0,
            seen: 0,
            detections: 0,
            last_direction: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PageHinkleyConfig {
        &self.config
    }

    /// Restarts the test (the mean and sums); counters are kept.
    fn restart(&mut self) {
        self.n = 0;
        self.mean = 0.0;
        self.up = 0.0;
        self.up_min = 0.0;
        self.down = 0.0;
        self.down_min = 0.0;
    }

    /// Forgets everything, counters included.
    pub fn reset(&mut self) {
        self.restart();
        self.seen = 0;
        self.detections = 0;
        self.last_direction = None;
    }

    /// Mean of the values since the last restart (NaN if none).
    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            f64::NAN
        } else {
            self.mean
        }
    }

    /// Values since the last restart.
    pub fn n_since_reset(&self) -> u64 {
        self.n
    }

    /// The current test statistic: the larger of `U − min U` and `L − min L` over the watched directions.
    pub fn statistic(&self) -> f64 {
        let up = self.up - self.up_min;
        let down = self.down - self.down_min;
        match self.config.direction {
            Direction::Increase => up,
            Direction::Decrease => down,
            Direction::Both => up.max(down),
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

    /// Direction of the latest detection, if any.
    pub fn last_direction(&self) -> Option<Direction> {
        self.last_direction
    }

    /// The state as bytes (kind `PAGE_HINKLEY`).
    pub fn save(&self) -> Result<Vec<u8>> {
        rng::save_state(rng::kind::PAGE_HINKLEY, self)
    }

    /// Restores a state written by [`save`](Self::save).
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let ph: Self = rng::load_state(rng::kind::PAGE_HINKLEY, bytes)?;
        ph.config
            .validate()
            .map_err(|e| KernelError::State(e.to_string()))?;
        Ok(ph)
    }
}

impl DriftDetector for PageHinkley {
    #[inline]
    fn update(&mut self, x: f64) -> Result<bool> {
        check_finite("x", x)?;
        let c = &self.config;
        self.seen += 1;
        self.n += 1;
        self.mean += (x - self.mean) / self.n as f64;
        self.up = c.alpha * self.up + (x - self.mean - c.delta);
        self.up_min = self.up_min.min(self.up);
        self.down = c.alpha * self.down + (self.mean - x - c.delta);
        self.down_min = self.down_min.min(self.down);
        if self.n < c.min_instances {
            return Ok(false);
        }
        let rose = c.direction != Direction::Decrease && self.up - self.up_min > c.threshold;
        let fell = c.direction != Direction::Increase && self.down - self.down_min > c.threshold;
        if !(rose || fell) {
            return Ok(false);
        }
        self.detections += 1;
        self.last_direction = Some(if rose {
            Direction::Increase
        } else {
            Direction::Decrease
        });
        self.restart();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(seed: u64, n: usize, mean: f64) -> Vec<f64> {
        let mut r = rng::seeded(seed);
        (0..n)
            .map(|_| mean + (rng::unit(&mut r) - 0.5) * 0.4)
            .collect()
    }

    #[test]
    fn detects_a_drop_only_when_watching_decreases() {
        let mut xs = stream(1, 2000, 0.8);
        xs.extend(stream(2, 2000, 0.5));
        let mut down = PageHinkley::new(PageHinkleyConfig {
            direction: Direction::Decrease,
            ..Default::default()
        })
        .unwrap();
        let fired = down.update_batch(&xs).unwrap();
        assert!(
            !fired.is_empty() && fired[0] >= 2000 && fired[0] < 2400,
            "{fired:?}"
        );
        assert_eq!(down.last_direction(), Some(Direction::Decrease));
        let mut up = PageHinkley::new(PageHinkleyConfig {
            direction: Direction::Increase,
            ..Default::default()
        })
        .unwrap();
        assert!(up.update_batch(&xs).unwrap().is_empty());
        assert_eq!(up.n_seen(), 4000);
    }

    #[test]
    fn quiet_on_a_stationary_stream() {
        let mut ph = PageHinkley::new(PageHinkleyConfig::default()).unwrap();
        assert!(ph.update_batch(&stream(3, 20_000, 0.7)).unwrap().is_empty());
        assert!((ph.mean() - 0.7).abs() < 0.01);
    }

    #[test]
    fn rejects_bad_input_and_round_trips() {
        assert!(PageHinkley::new(PageHinkleyConfig {
            alpha: 0.0,
            ..Default::default()
        })
        .is_err());
        assert!(PageHinkley::new(PageHinkleyConfig {
            threshold: -1.0,
            ..Default::default()
        })
        .is_err());
        assert!(Direction::parse("sideways").is_err());
        let mut ph = PageHinkley::new(PageHinkleyConfig::default()).unwrap();
        assert!(ph.update(f64::NAN).is_err());
        assert!(ph.update_batch(&[0.1, f64::INFINITY]).is_err());
        assert_eq!(ph.n_seen(), 0);
        ph.update_batch(&stream(4, 100, 0.3)).unwrap();
        let back = PageHinkley::load(&ph.save().unwrap()).unwrap();
        assert_eq!(back, ph);
        ph.reset();
        assert_eq!(ph.n_seen(), 0);
        assert!(ph.mean().is_nan());
    }
}

//! Count, mean, variance, min and max of a stream: Welford's update for one value and
//! Chan et al.'s pairwise formula for merging two partial results.
//!
//! Both keep the sum of squared deviations (`m2`) instead of the sum of squares, so the
//! variance stays accurate when the mean is large compared with the spread.

use serde::{Deserialize, Serialize};

/// Running moments of one stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of values seen.
    pub count: u64,
    /// Arithmetic mean (0 when empty).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    /// Smallest value (+inf when empty).
    pub min: f64,
    /// Largest value (-inf when empty).
    pub max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Self {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Moments {
    /// Adds one finite value (Welford).
    #[inline]
    pub fn add(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Folds `other` into `self` (Chan's parallel formula); the result is the moments of
    /// the union of both streams, whatever their order.
    pub fn merge(&mut self, other: &Moments) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Sample variance (divisor `count - 1`, like polars' and NumPy's `ddof=1`); NaN below 2 values.
    pub fn sample_variance(&self) -> f64 {
        if self.count < 2 {
            f64::NAN
        } else {
            (self.m2 / (self.count - 1) as f64).max(0.0)
        }
    }

    /// The mean, NaN when empty.
    pub fn mean_or_nan(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.mean
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(xs: &[f64]) -> Moments {
        let mut m = Moments::default();
        xs.iter().for_each(|&x| m.add(x));
        m
    }

    #[test]
    fn matches_two_pass_formulas() {
        let xs = [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0];
        let m = of(&xs);
        assert_eq!(m.count, 4);
        assert!((m.mean - (1e9 + 10.0)).abs() < 1e-6);
        // Exact sample variance is 30; a naive sum-of-squares loses it at this offset.
        assert!((m.sample_variance() - 30.0).abs() < 1e-6);
        assert_eq!((m.min, m.max), (1e9 + 4.0, 1e9 + 16.0));
    }

    #[test]
    fn merge_equals_single_stream() {
        let xs: Vec<f64> = (0..100)
            .map(|i| ((i * 37) % 101) as f64 * 0.25 - 3.0)
            .collect();
        for cut in [0, 1, 50, 99, 100] {
            let mut a = of(&xs[..cut]);
            a.merge(&of(&xs[cut..]));
            let whole = of(&xs);
            assert_eq!(a.count, whole.count);
            assert!((a.mean - whole.mean).abs() < 1e-12);
            assert!((a.m2 - whole.m2).abs() < 1e-9 * whole.m2);
            assert_eq!((a.min, a.max), (whole.min, whole.max));
        }
    }

    #[test]
    fn variance_is_nan_below_two_values() {
        assert!(of(&[]).sample_variance().is_nan());
        assert!(of(&[3.0]).sample_variance().is_nan());
        assert!(of(&[]).mean_or_nan().is_nan());
    }
}

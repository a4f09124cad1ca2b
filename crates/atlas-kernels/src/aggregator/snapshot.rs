//! The snapshot: one row per key, sorted by key, every statistic as a column.

use super::{check_finite, AggregatorKey, Moments, RewardAggregator};
use crate::error::Result;

/// One row per key, sorted by key; NaN where a statistic is undefined.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot<K> {
    pub keys: Vec<K>,
    pub count: Vec<u64>,
    pub mean: Vec<f64>,
    /// Sample variance (`ddof = 1`).
    pub var: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
    pub ema: Vec<f64>,
    pub last_n_mean: Vec<f64>,
    pub window_count: Vec<u64>,
    pub window_mean: Vec<f64>,
    /// One column per configured quantile, in configuration order.
    pub quantiles: Vec<Vec<f64>>,
}

impl<K: AggregatorKey> RewardAggregator<K> {
    /// One row per key, sorted by key. The time window ends at `now` (default: the watermark)
    /// and covers the buckets `(floor(now/g) − B, floor(now/g)]`, i.e. events with timestamp in
    /// `[g·(floor(now/g) − B + 1), g·(floor(now/g) + 1))`, `g` = granularity, `B` = buckets.
    pub fn snapshot(&self, now: Option<f64>) -> Result<Snapshot<K>> {
        let now = match now {
            Some(t) => {
                check_finite("now", t)?;
                t
            }
            None => self.watermark,
        };
        let newest = if now.is_finite() {
            (now / self.config.granularity()).floor() as i64
        } else {
            i64::MIN
        };
        let mut order: Vec<usize> = (0..self.keys.len()).collect();
        order.sort_unstable_by(|&a, &b| self.keys[a].cmp(&self.keys[b]));
        let n = order.len();
        let mut snap = Snapshot {
            keys: Vec::with_capacity(n),
            count: Vec::with_capacity(n),
            mean: Vec::with_capacity(n),
            var: Vec::with_capacity(n),
            min: Vec::with_capacity(n),
            max: Vec::with_capacity(n),
            ema: Vec::with_capacity(n),
            last_n_mean: Vec::with_capacity(n),
            window_count: Vec::with_capacity(n),
            window_mean: Vec::with_capacity(n),
            quantiles: vec![Vec::with_capacity(n); self.config.quantiles.len()],
        };
        let mut estimates = vec![0.0; self.config.quantiles.len()];
        for slot in order {
            let s = &self.stats[slot];
            snap.keys.push(self.keys[slot].clone());
            snap.count.push(s.moments.count);
            snap.mean.push(s.moments.mean_or_nan());
            snap.var.push(s.moments.sample_variance());
            snap.min.push(s.moments.min);
            snap.max.push(s.moments.max);
            snap.ema.push(s.ema.value());
            snap.last_n_mean.push(s.last.mean());
            let (wc, wm) = s.window.stats(newest);
            snap.window_count.push(wc);
            snap.window_mean.push(wm);
            s.sketch
                .quantiles(&self.mapping, &self.config.quantiles, &mut estimates);
            for ((col, &e), &q) in snap
                .quantiles
                .iter_mut()
                .zip(&estimates)
                .zip(&self.config.quantiles)
            {
                col.push(exact_at_extremes(&s.moments, q, e));
            }
        }
        Ok(snap)
    }
}

/// A sketch estimate made exact where the rank is the smallest or largest value, and clamped
/// to `[min, max]` elsewhere (which only moves it towards the true quantile).
pub(super) fn exact_at_extremes(m: &Moments, q: f64, estimate: f64) -> f64 {
    if m.count == 0 {
        return f64::NAN;
    }
    let last = m.count - 1;
    match (q * last as f64).floor() as u64 {
        0 => m.min,
        r if r >= last => m.max,
        _ => estimate.max(m.min).min(m.max),
    }
}

/// The snapshot column of quantile `q`: `p50` for 0.5, `p99.9` for 0.999, `p0` for 0.
pub fn quantile_column_name(q: f64) -> String {
    // Round away binary noise such as 0.999 * 100 = 99.899999...
    let percent = (q * 100.0 * 1e6).round() / 1e6;
    format!("p{percent}")
}

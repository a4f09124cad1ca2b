//! A DDSketch-style quantile sketch (Masson, Rim & Lee, VLDB 2019) with relative accuracy `α`.
//!
//! Contract: for any quantile `q`, the estimate `v` of the exact lower quantile `x`
//! (the item of rank `floor(q · (n − 1))` in sorted order) satisfies `|v − x| ≤ α·|x|`
//! when `|x| ≥ MIN_INDEXABLE`, and `|v − x| < MIN_INDEXABLE` otherwise.
//!
//! Why it merges exactly: a value's bucket depends only on the value, never on what was
//! seen before, and the stores are never collapsed. So the counts of a merged sketch are
//! the counts of the sketch of the union, bucket by bucket, in any order. The price is
//! memory: one counter per bucket between the smallest and largest magnitude seen, at most
//! about `ln(f64::MAX / MIN_INDEXABLE) / ln γ` (≈ 36,000 at `α = 0.01`); rewards in
//! `[1e-3, 1]` need about 350.

use serde::{Deserialize, Serialize};

use crate::error::{KernelError, Result};

/// Magnitudes below this are counted in the zero bucket (and reported as 0).
pub const MIN_INDEXABLE: f64 = 1e-9;

/// The finest accuracy accepted: it bounds one key's sketch to about 3.7 million buckets even
/// for values spanning `[1e-9, f64::MAX]` (and keeps bucket indices well inside `i32`).
pub const MIN_RELATIVE_ACCURACY: f64 = 1e-4;

/// The value-to-bucket mapping shared by every sketch of one aggregator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SketchMapping {
    alpha: f64,
    gamma: f64,
    inv_ln_gamma: f64,
}

impl SketchMapping {
    /// A mapping with relative accuracy `alpha` in `[MIN_RELATIVE_ACCURACY, 1)`.
    pub fn new(alpha: f64) -> Result<Self> {
        if !(MIN_RELATIVE_ACCURACY..1.0).contains(&alpha) {
            return Err(KernelError::invalid(
                "relative_accuracy",
                format!("must be in [{MIN_RELATIVE_ACCURACY}, 1), got {alpha}"),
            ));
        }
        let gamma = (1.0 + alpha) / (1.0 - alpha);
        Ok(Self {
            alpha,
            gamma,
            inv_ln_gamma: 1.0 / gamma.ln(),
        })
    }

    /// The relative accuracy `α`.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Bucket `i` holds magnitudes in `(γ^(i−1), γ^i]`.
    #[inline]
    fn index(&self, magnitude: f64) -> i32 {
        (magnitude.ln() * self.inv_ln_gamma).ceil() as i32
    }

    /// The point of bucket `i` whose relative distance to any magnitude in it is at most `α`.
    #[inline]
    fn representative(&self, index: i32) -> f64 {
        2.0 * self.gamma.powi(index) / (self.gamma + 1.0)
    }
}

/// Dense counters for a contiguous run of bucket indices, grown on demand.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Store {
    offset: i32,
    counts: Vec<u64>,
}

impl Store {
    #[inline]
    fn add(&mut self, index: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = index;
            self.counts.push(0);
        } else if index < self.offset {
            // Grow downwards with some slack so a slowly widening range is not quadratic.
            let need = (self.offset - index) as usize;
            let grow = need.max(self.counts.len() / 4).max(8);
            let mut counts = vec![0u64; grow + self.counts.len()];
            counts[grow..].copy_from_slice(&self.counts);
            self.counts = counts;
            self.offset -= grow as i32;
        } else if index >= self.offset + self.counts.len() as i32 {
            let need = (index - self.offset) as usize + 1 - self.counts.len();
            let grow = need.max(self.counts.len() / 4).max(8);
            self.counts.resize(self.counts.len() + grow, 0);
        }
        self.counts[(index - self.offset) as usize] += n;
    }

    fn merge(&mut self, other: &Store) {
        for (i, &c) in other.counts.iter().enumerate() {
            if c > 0 {
                self.add(other.offset + i as i32, c);
            }
        }
    }

    /// Non-empty buckets in ascending index order.
    fn buckets(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(move |(i, &c)| (self.offset + i as i32, c))
    }
}

/// The bucket counts of one stream.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sketch {
    positive: Store,
    negative: Store,
    zero: u64,
    count: u64,
}

impl Sketch {
    /// Counts one finite value.
    #[inline]
    pub fn add(&mut self, mapping: &SketchMapping, x: f64) {
        self.count += 1;
        if x >= MIN_INDEXABLE {
            self.positive.add(mapping.index(x), 1);
        } else if x <= -MIN_INDEXABLE {
            self.negative.add(mapping.index(-x), 1);
        } else {
            self.zero += 1;
        }
    }

    /// Where `x`'s counter lives in memory if already allocated (for prefetching), else null.
    #[inline]
    pub fn counter_ptr(&self, mapping: &SketchMapping, x: f64) -> *const u8 {
        let (store, index) = if x >= MIN_INDEXABLE {
            (&self.positive, mapping.index(x))
        } else if x <= -MIN_INDEXABLE {
            (&self.negative, mapping.index(-x))
        } else {
            return std::ptr::null();
        };
        match usize::try_from(i64::from(index) - i64::from(store.offset)) {
            Ok(pos) if pos < store.counts.len() => store.counts[pos..].as_ptr().cast(),
            _ => std::ptr::null(),
        }
    }

    /// Adds `other`'s counts; the result equals the sketch of both streams together.
    pub fn merge(&mut self, other: &Sketch) {
        self.positive.merge(&other.positive);
        self.negative.merge(&other.negative);
        self.zero += other.zero;
        self.count += other.count;
    }

    /// Number of values counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The estimate of the lower `q`-quantile (see the module contract), NaN when empty.
    /// `q` must be in `[0, 1]`; the caller clamps the result to the exact min and max.
    pub fn quantile(&self, mapping: &SketchMapping, q: f64) -> f64 {
        let mut out = [0.0];
        self.quantiles(mapping, &[q], &mut out);
        out[0]
    }

    /// [`quantile`](Self::quantile) for each of `qs` (any order) into `out`.
    ///
    /// Ranks in the lower half are found walking up from the smallest bucket, the others
    /// walking down from the largest, so the walk stays short where the mass is (rewards
    /// concentrate in the top buckets of the log scale).
    pub fn quantiles(&self, mapping: &SketchMapping, qs: &[f64], out: &mut [f64]) {
        if self.count == 0 {
            out.iter_mut().for_each(|o| *o = f64::NAN);
            return;
        }
        let last = self.count - 1;
        for (o, &q) in out.iter_mut().zip(qs) {
            let rank = (q * last as f64).floor() as u64;
            let (sign, index) = if rank <= last / 2 {
                self.walk_up(rank)
            } else {
                self.walk_down(last - rank)
            };
            *o = if sign == 0 {
                0.0
            } else {
                f64::from(sign) * mapping.representative(index)
            };
        }
    }

    /// The bucket `(sign, index)` holding the item of ascending rank `rank`.
    fn walk_up(&self, rank: u64) -> (i8, i32) {
        let mut seen = 0u64;
        let neg = &self.negative;
        for (pos, &c) in neg.counts.iter().enumerate().rev() {
            seen += c;
            if seen > rank {
                return (-1, neg.offset + pos as i32);
            }
        }
        seen += self.zero;
        if seen > rank {
            return (0, 0);
        }
        let pos_store = &self.positive;
        for (pos, &c) in pos_store.counts.iter().enumerate() {
            seen += c;
            if seen > rank {
                return (1, pos_store.offset + pos as i32);
            }
        }
        self.top_bucket()
    }

    /// The bucket `(sign, index)` holding the item of descending rank `rank` (0 = the largest).
    fn walk_down(&self, rank: u64) -> (i8, i32) {
        let mut seen = 0u64;
        let pos_store = &self.positive;
        for (pos, &c) in pos_store.counts.iter().enumerate().rev() {
            seen += c;
            if seen > rank {
                return (1, pos_store.offset + pos as i32);
            }
        }
        seen += self.zero;
        if seen > rank {
            return (0, 0);
        }
        let neg = &self.negative;
        for (pos, &c) in neg.counts.iter().enumerate() {
            seen += c;
            if seen > rank {
                return (-1, neg.offset + pos as i32);
            }
        }
        self.top_bucket()
    }

    /// Only reached when counts are inconsistent (corrupt state): the largest bucket.
    fn top_bucket(&self) -> (i8, i32) {
        match self.positive.buckets().next_back() {
            Some((i, _)) => (1, i),
            None => (0, 0),
        }
    }

    /// Whether two sketches hold the same count in every bucket (ignoring allocation slack).
    pub fn same_counts(&self, other: &Sketch) -> bool {
        self.zero == other.zero
            && self.count == other.count
            && self.positive.buckets().eq(other.positive.buckets())
            && self.negative.buckets().eq(other.negative.buckets())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch_of(m: &SketchMapping, xs: &[f64]) -> Sketch {
        let mut s = Sketch::default();
        xs.iter().for_each(|&x| s.add(m, x));
        s
    }

    fn exact(xs: &[f64], q: f64) -> f64 {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        v[(q * (v.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn quantiles_within_relative_accuracy() {
        let m = SketchMapping::new(0.01).unwrap();
        let mut rng = crate::rng::seeded(3);
        let xs: Vec<f64> = (0..5000)
            .map(|_| (crate::rng::unit(&mut rng) - 0.3) * 1e3)
            .chain([0.0, 1e-12, -5e-10])
            .collect();
        let s = sketch_of(&m, &xs);
        for q in [0.0, 0.01, 0.1, 0.25, 0.5, 0.9, 0.99, 1.0] {
            let (est, x) = (s.quantile(&m, q), exact(&xs, q));
            let bound = if x.abs() >= MIN_INDEXABLE {
                0.01 * x.abs() * (1.0 + 1e-9)
            } else {
                MIN_INDEXABLE
            };
            assert!((est - x).abs() <= bound, "q={q}: {est} vs {x}");
        }
    }

    #[test]
    fn merge_equals_sketch_of_union() {
        let m = SketchMapping::new(0.02).unwrap();
        let a: Vec<f64> = (1..300).map(|i| i as f64 * 0.37).collect();
        let b: Vec<f64> = (1..200)
            .map(|i| -(i as f64) * 11.0)
            .chain([0.0, 1e6])
            .collect();
        let mut merged = sketch_of(&m, &a);
        merged.merge(&sketch_of(&m, &b));
        let union: Vec<f64> = a.iter().chain(&b).copied().collect();
        assert!(merged.same_counts(&sketch_of(&m, &union)));
    }

    #[test]
    fn rejects_bad_accuracy() {
        for alpha in [0.0, 1e-5, 1.0, -0.1, f64::NAN] {
            assert!(SketchMapping::new(alpha).is_err());
        }
    }

    #[test]
    fn empty_is_nan() {
        let m = SketchMapping::new(0.01).unwrap();
        assert!(Sketch::default().quantile(&m, 0.5).is_nan());
    }
}

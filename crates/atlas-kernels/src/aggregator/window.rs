//! The order- and time-dependent statistics of one key: an exponential moving average,
//! the mean of the last N values and the mean over a bucketed time window.

use serde::{Deserialize, Serialize};

/// Exponentially weighted mean whose weights halve every `half_life` events of the key.
///
/// Kept as a normalised weighted sum (`Σ dᵏ·xₖ / Σ dᵏ`, `d = 2^(−1/half_life)`, `k` = how
/// many of the key's events came after `xₖ`), which has no start-up bias and composes
/// exactly when one stream is appended to another (see [`Ema::append`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ema {
    weighted_sum: f64,
    weight: f64,
}

impl Ema {
    /// Adds one value; `decay` is `d`.
    #[inline]
    pub fn add(&mut self, x: f64, decay: f64) {
        self.weighted_sum = self.weighted_sum * decay + x;
        self.weight = self.weight * decay + 1.0;
    }

    /// Becomes the EMA of `self`'s stream followed by `later`'s, which held `later_count` events.
    pub fn append(&mut self, later: &Ema, later_count: u64, half_life: f64) {
        let shrink = (-(later_count as f64) / half_life).exp2();
        self.weighted_sum = self.weighted_sum * shrink + later.weighted_sum;
        self.weight = self.weight * shrink + later.weight;
    }

    /// The current average, NaN before the first value.
    pub fn value(&self) -> f64 {
        if self.weight > 0.0 {
            self.weighted_sum / self.weight
        } else {
            f64::NAN
        }
    }
}

/// The last `capacity` values of a key, in arrival order (a ring).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastN {
    values: Vec<f64>,
    /// Where the next value goes once the ring is full (= the oldest value).
    next: usize,
}

impl LastN {
    /// Adds one value, dropping the oldest when `capacity` are held.
    #[inline]
    pub fn add(&mut self, x: f64, capacity: usize) {
        if self.values.len() < capacity {
            self.values.push(x);
        } else {
            self.values[self.next] = x;
            self.next = (self.next + 1) % capacity;
        }
    }

    /// The held values, oldest first.
    pub fn ordered(&self) -> impl Iterator<Item = f64> + '_ {
        let (newer, older) = self.values.split_at(self.next);
        older.iter().chain(newer).copied()
    }

    /// Where the next value will be written once the ring holds `capacity` values (for
    /// prefetching), else null.
    #[inline]
    pub fn next_ptr(&self, capacity: usize) -> *const u8 {
        match self.values.get(self.next) {
            Some(v) if self.values.len() >= capacity => std::ptr::from_ref(v).cast(),
            _ => std::ptr::null(),
        }
    }

    /// Becomes the last `capacity` of `self`'s values followed by `later`'s.
    pub fn append(&mut self, later: &LastN, capacity: usize) {
        let mut joined: Vec<f64> = self.ordered().chain(later.ordered()).collect();
        let excess = joined.len().saturating_sub(capacity);
        joined.drain(..excess);
        self.values = joined;
        self.next = 0;
    }

    /// Whether the ring fits `capacity` (checked when loading saved state).
    pub fn is_consistent(&self, capacity: usize) -> bool {
        self.values.len() <= capacity && (self.next == 0 || self.next < self.values.len())
    }

    /// Mean of the held values, NaN when empty.
    pub fn mean(&self) -> f64 {
        if self.values.is_empty() {
            f64::NAN
        } else {
            self.values.iter().sum::<f64>() / self.values.len() as f64
        }
    }
}

/// Count and sum of a key's events per time bucket, for the newest `buckets` buckets.
///
/// Time is cut into buckets of `granularity = window_seconds / buckets` seconds aligned on
/// the Unix epoch: an event at `t` lands in bucket `floor(t / granularity)`. Bucket `b` lives
/// in slot `b mod buckets`, and a slot keeps only the newest bucket ever routed to it, so the
/// state depends on the set of events and not on their order; merging is then exact.
/// An event older than the bucket already in its slot is at least `window_seconds −
/// granularity` older than the key's newest event and is left out of the window (it still
/// counts in every other statistic).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// One record per slot, so that an update touches a single cache line.
    slots: Vec<WindowSlot>,
}

/// The bucket a slot holds and its events' count and sum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct WindowSlot {
    bucket: i64,
    count: u64,
    sum: f64,
}

/// Marks a slot that never held a bucket.
const EMPTY: WindowSlot = WindowSlot {
    bucket: i64::MIN,
    count: 0,
    sum: 0.0,
};

impl TimeWindow {
    fn ensure(&mut self, slots: usize) {
        if self.slots.is_empty() {
            self.slots = vec![EMPTY; slots];
        }
    }

    /// Adds one value to bucket `bucket`.
    #[inline]
    pub fn add(&mut self, bucket: i64, x: f64, slots: usize) {
        self.ensure(slots);
        let slot = bucket.rem_euclid(slots as i64) as usize;
        Self::put(&mut self.slots[slot], bucket, 1, x);
    }

    /// Where bucket `bucket` lives in memory once allocated (for prefetching), else null.
    #[inline]
    pub fn slot_ptr(&self, bucket: i64) -> *const u8 {
        if self.slots.is_empty() {
            return std::ptr::null();
        }
        let slot = bucket.rem_euclid(self.slots.len() as i64) as usize;
        self.slots[slot..].as_ptr().cast()
    }

    #[inline]
    fn put(held: &mut WindowSlot, bucket: i64, count: u64, sum: f64) {
        if bucket > held.bucket {
            *held = WindowSlot { bucket, count, sum };
        } else if bucket == held.bucket {
            held.count += count;
            held.sum += sum;
        }
    }

    /// Adds `other`'s buckets (same slot count); equals the window of both streams together.
    pub fn merge(&mut self, other: &TimeWindow, slots: usize) {
        if other.slots.is_empty() {
            return;
        }
        self.ensure(slots);
        for (ours, theirs) in self.slots.iter_mut().zip(&other.slots) {
            if theirs.bucket != EMPTY.bucket {
                Self::put(ours, theirs.bucket, theirs.count, theirs.sum);
            }
        }
    }

    /// Whether the slots match `slots` (checked when loading saved state).
    pub fn is_consistent(&self, slots: usize) -> bool {
        self.slots.is_empty() || self.slots.len() == slots
    }

    /// Count and mean of the buckets in `(newest − slots, newest]`; mean is NaN when empty.
    pub fn stats(&self, newest: i64) -> (u64, f64) {
        let oldest = newest.saturating_sub(self.slots.len() as i64);
        let (mut n, mut s) = (0u64, 0.0f64);
        for slot in &self.slots {
            if slot.bucket != EMPTY.bucket && slot.bucket > oldest && slot.bucket <= newest {
                n += slot.count;
                s += slot.sum;
            }
        }
        (n, if n == 0 { f64::NAN } else { s / n as f64 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_weights_halve_every_half_life() {
        let d = 0.5f64; // half-life 1 event
        let mut e = Ema::default();
        for x in [4.0, 2.0, 1.0] {
            e.add(x, d);
        }
        let expect = (4.0 * 0.25 + 2.0 * 0.5 + 1.0) / (0.25 + 0.5 + 1.0);
        assert!((e.value() - expect).abs() < 1e-12);
        assert!(Ema::default().value().is_nan());
    }

    #[test]
    fn ema_append_equals_one_stream() {
        let h = 3.5;
        let d = (-1.0f64 / h).exp2();
        let (mut a, mut b, mut whole) = (Ema::default(), Ema::default(), Ema::default());
        for i in 0..10 {
            a.add(i as f64, d);
            whole.add(i as f64, d);
        }
        for i in 10..17 {
            b.add(i as f64, d);
            whole.add(i as f64, d);
        }
        a.append(&b, 7, h);
        assert!((a.value() - whole.value()).abs() < 1e-12);
    }

    #[test]
    fn last_n_keeps_newest_in_order() {
        let mut l = LastN::default();
        (0..7).for_each(|i| l.add(i as f64, 3));
        assert_eq!(l.ordered().collect::<Vec<_>>(), vec![4.0, 5.0, 6.0]);
        assert_eq!(l.mean(), 5.0);
        let mut later = LastN::default();
        later.add(9.0, 3);
        l.append(&later, 3);
        assert_eq!(l.ordered().collect::<Vec<_>>(), vec![5.0, 6.0, 9.0]);
    }

    #[test]
    fn window_is_order_independent_and_drops_stale() {
        let mut w = TimeWindow::default();
        w.add(10, 1.0, 4);
        w.add(14, 3.0, 4); // same slot, newer: replaces bucket 10
        w.add(10, 100.0, 4); // stale: ignored
        w.add(13, 5.0, 4);
        assert_eq!(w.stats(14), (2, 4.0));
        assert_eq!(w.stats(13), (1, 5.0));
        assert_eq!(w.stats(20).0, 0);
        assert!(w.stats(20).1.is_nan());
        let mut r = TimeWindow::default();
        r.add(13, 5.0, 4);
        r.add(10, 100.0, 4);
        let mut other = TimeWindow::default();
        other.add(14, 3.0, 4);
        r.merge(&other, 4);
        assert_eq!(r.stats(14), w.stats(14));
    }
}

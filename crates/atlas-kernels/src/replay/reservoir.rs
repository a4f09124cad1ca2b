//! Reservoir sampling: a uniform sample of `capacity` items from an unbounded stream.
//!
//! Algorithm L (Li, 1994): instead of one random number per item (Algorithm R), it
//! draws how many items to skip before the next one is taken, so a long stream costs
//! O(capacity * (1 + log(seen / capacity))) random numbers, not O(seen).

use serde::{Deserialize, Serialize};

use super::check_capacity;
use crate::error::{KernelError, Result};
use crate::rng::{self, KernelRng};

/// Keeps a uniform random subset of at most `capacity` of the ids seen so far: after
/// `n >= capacity` ids, each one is held with probability `capacity / n`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReservoirSampler {
    capacity: usize,
    items: Vec<u64>,
    seen: u64,
    /// Algorithm L's running `W` (the largest key among the kept items).
    w: f64,
    /// Stream index of the next item to be taken once the reservoir is full.
    next_take: u64,
    rng: KernelRng,
}

/// A uniform draw in `(0, 1]`, so its logarithm is finite.
fn open_unit(rng: &mut KernelRng) -> f64 {
    1.0 - rng::unit(rng)
}

impl ReservoirSampler {
    /// An empty reservoir of `capacity > 0` items whose draws are fixed by `seed`.
    pub fn new(capacity: usize, seed: u64) -> Result<Self> {
        check_capacity("capacity", capacity)?;
        Ok(ReservoirSampler {
            capacity,
            items: Vec::new(),
            seen: 0,
            w: 1.0,
            next_take: 0,
            rng: rng::seeded(seed),
        })
    }

    /// Maximum number of items kept.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of items kept (`min(seen, capacity)`).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing was added yet.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of ids offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The ids kept, by slot.
    pub fn items(&self) -> &[u64] {
        &self.items
    }

    /// Draws the gap to the next taken item and moves `W` on (one Algorithm L step).
    fn schedule_next(&mut self, current: u64) {
        let k = self.capacity as f64;
        self.w *= (open_unit(&mut self.rng).ln() / k).exp();
        // ln(1 - W) via ln_1p keeps precision when W is tiny (very long streams).
        let skip = (open_unit(&mut self.rng).ln() / (-self.w).ln_1p()).floor();
        // `as u64` saturates, so an astronomically long skip simply never comes.
        self.next_take = current.saturating_add(skip as u64).saturating_add(1);
    }

    /// Offers `ids` in order. Returns, per id, the slot it was placed in, or `-1` if it
    /// was not kept (a kept id may still be replaced by a later one).
    pub fn add(&mut self, ids: &[u64]) -> Vec<i64> {
        let mut slots = Vec::with_capacity(ids.len());
        for &id in ids {
            let t = self.seen;
            self.seen += 1;
            if self.items.len() < self.capacity {
                self.items.push(id);
                slots.push((self.items.len() - 1) as i64);
                if self.items.len() == self.capacity {
                    self.w = 1.0;
                    self.schedule_next(t);
                }
            } else if t == self.next_take {
                let slot = rng::index(&mut self.rng, self.capacity);
                self.items[slot] = id;
                slots.push(slot as i64);
                self.schedule_next(t);
            } else {
                slots.push(-1);
            }
        }
        slots
    }

    /// Draws `batch` of the kept items uniformly with replacement; returns `(slots, ids)`.
    pub fn sample(&mut self, batch: usize) -> Result<(Vec<u64>, Vec<u64>)> {
        let n = self.items.len();
        if n == 0 {
            return Err(KernelError::Empty("reservoir"));
        }
        let slots: Vec<u64> = (0..batch)
            .map(|_| rng::index(&mut self.rng, n) as u64)
            .collect();
        let ids = slots.iter().map(|&s| self.items[s as usize]).collect();
        Ok((slots, ids))
    }

    /// The whole state, generator included.
    pub fn save_state(&self) -> Result<Vec<u8>> {
        rng::save_state(rng::kind::RESERVOIR, self)
    }

    /// Reverses [`ReservoirSampler::save_state`].
    pub fn load_state(bytes: &[u8]) -> Result<Self> {
        let this: ReservoirSampler = rng::load_state(rng::kind::RESERVOIR, bytes)?;
        let consistent = this.capacity > 0
            && this.items.len() <= this.capacity
            && this.items.len() as u64 == this.seen.min(this.capacity as u64)
            && this.w > 0.0
            && this.w <= 1.0;
        if !consistent {
            return Err(KernelError::State("inconsistent reservoir".into()));
        }
        Ok(this)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_capacity_items_from_the_stream() {
        let mut r = ReservoirSampler::new(10, 3).unwrap();
        let slots = r.add(&(0..5).collect::<Vec<u64>>());
        assert_eq!(slots, vec![0, 1, 2, 3, 4]);
        r.add(&(5..10_000).collect::<Vec<u64>>());
        assert_eq!(r.len(), 10);
        assert_eq!(r.seen(), 10_000);
        let mut items = r.items().to_vec();
        items.sort_unstable();
        items.dedup();
        assert_eq!(items.len(), 10);
    }

    #[test]
    fn inclusion_is_uniform() {
        // Each of 20 items should be kept with probability 5/20 over many seeds.
        let (n, k, runs) = (20u64, 5usize, 20_000u64);
        let mut counts = vec![0u64; n as usize];
        for seed in 0..runs {
            let mut r = ReservoirSampler::new(k, seed).unwrap();
            r.add(&(0..n).collect::<Vec<u64>>());
            for &id in r.items() {
                counts[id as usize] += 1;
            }
        }
        let expected = runs as f64 * k as f64 / n as f64;
        for c in counts {
            // 5000 expected, sd ~61: six sd is a bug, not chance.
            assert!((c as f64 - expected).abs() < 370.0, "{c} vs {expected}");
        }
    }

    #[test]
    fn restored_state_continues_identically() {
        let mut a = ReservoirSampler::new(7, 11).unwrap();
        a.add(&(0..100).collect::<Vec<u64>>());
        let mut b = ReservoirSampler::load_state(&a.save_state().unwrap()).unwrap();
        assert_eq!(
            a.add(&(100..1000).collect::<Vec<u64>>()),
            b.add(&(100..1000).collect::<Vec<u64>>())
        );
        assert_eq!(a.items(), b.items());
        assert_eq!(a.sample(20).unwrap(), b.sample(20).unwrap());
    }
}

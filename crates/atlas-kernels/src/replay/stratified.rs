//! Replay stratified by key (e.g. a learning key) with a new-vs-replay mix.
//!
//! Each key has its own FIFO memory of `capacity_per_key` items (memory is bounded per
//! key: adding to a full key evicts that key's oldest item, whether or not it was
//! handed out yet). An item is *new* until a batch hands it out; after that it is *seen*
//! and may be replayed. Within a key the new items are always the newest, so a key's
//! memory is `[seen..., new...]` and "new" is just a count.
//!
//! A batch of size `B` holds `B - round(B * replay_ratio)` new items (rounded half
//! up; oldest first across all keys) and fills the rest with replay drawn from the seen items of every
//! key: spread evenly over the keys that have seen items (each gets `R / K`, the
//! remaining `R mod K` go to distinct keys picked at random), uniform with replacement
//! within a key. If fewer new items exist, replay fills the batch; if nothing has been
//! seen yet, the batch is all new and may be shorter than `B`.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::check_capacity;
use crate::error::{check_len, KernelError, Result};
use crate::rng::{self, KernelRng};

/// One item of a key's memory: its id and its global arrival number.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Entry {
    id: u64,
    arrival: u64,
}

/// The memory of one key: oldest first, the last `new` entries not yet handed out.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct KeyMemory {
    key: u64,
    entries: VecDeque<Entry>,
    new: usize,
}

impl KeyMemory {
    fn seen(&self) -> usize {
        self.entries.len() - self.new
    }

    /// Arrival number of the oldest new entry, if any.
    fn oldest_new(&self) -> Option<u64> {
        (self.new > 0).then(|| self.entries[self.seen()].arrival)
    }
}

/// One stratified batch: new items first, then replay.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StratifiedBatch {
    /// Item ids.
    pub ids: Vec<u64>,
    /// The key of each item.
    pub keys: Vec<u64>,
    /// Whether each item is handed out for the first time (otherwise it is replay).
    pub is_new: Vec<bool>,
}

/// Per-key bounded memories sampled as a mix of new items and replay over every key.
#[derive(Clone, Debug)]
pub struct StratifiedReplay {
    capacity_per_key: usize,
    replay_ratio: f64,
    /// Keys in order of first appearance (fixes the order of draws).
    memories: Vec<KeyMemory>,
    index: HashMap<u64, usize>,
    /// For each key holding new items: the arrival of its oldest one -> key position.
    /// Popping the minimum hands new items out oldest first across keys.
    new_queue: BTreeMap<u64, usize>,
    next_arrival: u64,
    stored: usize,
    new_total: usize,
    evicted: u64,
    evicted_new: u64,
    rng: KernelRng,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    capacity_per_key: usize,
    replay_ratio: f64,
    memories: Vec<KeyMemory>,
    next_arrival: u64,
    evicted: u64,
    evicted_new: u64,
    rng: KernelRng,
}

impl StratifiedReplay {
    /// An empty replay keeping at most `capacity_per_key > 0` items per key; a batch is
    /// `replay_ratio` (in `[0, 1]`) replay and the rest new items.
    pub fn new(capacity_per_key: usize, replay_ratio: f64, seed: u64) -> Result<Self> {
        check_capacity("capacity_per_key", capacity_per_key)?;
        if !(0.0..=1.0).contains(&replay_ratio) {
            return Err(KernelError::invalid(
                "replay_ratio",
                format!("must be in [0, 1], got {replay_ratio}"),
            ));
        }
        Ok(StratifiedReplay {
            capacity_per_key,
            replay_ratio,
            memories: Vec::new(),
            index: HashMap::new(),
            new_queue: BTreeMap::new(),
            next_arrival: 0,
            stored: 0,
            new_total: 0,
            evicted: 0,
            evicted_new: 0,
            rng: rng::seeded(seed),
        })
    }

    /// Maximum number of items kept per key.
    pub fn capacity_per_key(&self) -> usize {
        self.capacity_per_key
    }

    /// Fraction of each batch drawn from replay.
    pub fn replay_ratio(&self) -> f64 {
        self.replay_ratio
    }

    /// Number of items held over all keys.
    pub fn len(&self) -> usize {
        self.stored
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.stored == 0
    }

    /// Number of items not yet handed out.
    pub fn new_count(&self) -> usize {
        self.new_total
    }

    /// Items evicted so far, and how many of them were evicted before being handed out.
    pub fn evicted(&self) -> (u64, u64) {
        (self.evicted, self.evicted_new)
    }

    /// The keys seen so far, in order of first appearance.
    pub fn keys(&self) -> Vec<u64> {
        self.memories.iter().map(|m| m.key).collect()
    }

    /// Number of items held per key, in the order of [`StratifiedReplay::keys`].
    pub fn key_counts(&self) -> Vec<u64> {
        self.memories
            .iter()
            .map(|m| m.entries.len() as u64)
            .collect()
    }

    /// Adds `ids[i]` under `keys[i]`, in order; a full key evicts its oldest item.
    pub fn add(&mut self, ids: &[u64], keys: &[u64]) -> Result<()> {
        check_len("keys", keys.len(), ids.len())?;
        for (&id, &key) in ids.iter().zip(keys) {
            let pos = match self.index.get(&key) {
                Some(&pos) => pos,
                None => {
                    self.memories.push(KeyMemory {
                        key,
                        entries: VecDeque::new(),
                        new: 0,
                    });
                    self.index.insert(key, self.memories.len() - 1);
                    self.memories.len() - 1
                }
            };
            let arrival = self.next_arrival;
            self.next_arrival += 1;
            let mem = &mut self.memories[pos];
            if mem.entries.len() == self.capacity_per_key {
                let evicted_was_new = mem.seen() == 0;
                if let Some(old) = mem.entries.pop_front() {
                    self.evicted += 1;
                    self.stored -= 1;
                    if evicted_was_new {
                        mem.new -= 1;
                        self.new_total -= 1;
                        self.evicted_new += 1;
                        self.new_queue.remove(&old.arrival);
                        if let Some(next) = mem.oldest_new() {
                            self.new_queue.insert(next, pos);
                        }
                    }
                }
            }
            mem.entries.push_back(Entry { id, arrival });
            mem.new += 1;
            if mem.new == 1 {
                self.new_queue.insert(arrival, pos);
            }
            self.stored += 1;
            self.new_total += 1;
        }
        Ok(())
    }

    /// Draws one batch of up to `batch` items (see the module docs for its make-up).
    /// Fails with [`KernelError::Empty`] when nothing is held.
    pub fn sample(&mut self, batch: usize) -> Result<StratifiedBatch> {
        if self.stored == 0 {
            return Err(KernelError::Empty("stratified replay"));
        }
        let seen_total = self.stored - self.new_total;
        let (n_new, n_replay) = if seen_total == 0 {
            (batch.min(self.new_total), 0)
        } else {
            let wanted_new = batch - ((batch as f64) * self.replay_ratio).round() as usize;
            let n_new = wanted_new.min(self.new_total);
            (n_new, batch - n_new)
        };
        let mut out = StratifiedBatch {
            ids: Vec::with_capacity(n_new + n_replay),
            keys: Vec::with_capacity(n_new + n_replay),
            is_new: Vec::with_capacity(n_new + n_replay),
        };
        // Replay is drawn before the new items are marked seen, so no item is both
        // new and replayed in one batch.
        let replay = self.draw_replay(n_replay);
        self.take_new(n_new, &mut out);
        for (pos, slot) in replay {
            let mem = &self.memories[pos];
            out.ids.push(mem.entries[slot].id);
            out.keys.push(mem.key);
            out.is_new.push(false);
        }
        Ok(out)
    }

    /// Hands out the `n` oldest new items across keys.
    fn take_new(&mut self, n: usize, out: &mut StratifiedBatch) {
        for _ in 0..n {
            let Some((_, pos)) = self.new_queue.pop_first() else {
                break;
            };
            let mem = &mut self.memories[pos];
            let entry = mem.entries[mem.seen()];
            mem.new -= 1;
            self.new_total -= 1;
            if let Some(next) = mem.oldest_new() {
                self.new_queue.insert(next, pos);
            }
            out.ids.push(entry.id);
            out.keys.push(mem.key);
            out.is_new.push(true);
        }
    }

    /// `n` replay draws as `(key position, entry index)`, spread evenly over the keys
    /// that have seen items.
    fn draw_replay(&mut self, n: usize) -> Vec<(usize, usize)> {
        let mut keys: Vec<usize> = (0..self.memories.len())
            .filter(|&p| self.memories[p].seen() > 0)
            .collect();
        let mut draws = Vec::with_capacity(n);
        if keys.is_empty() || n == 0 {
            return draws;
        }
        let per_key = n / keys.len();
        let extra = n % keys.len();
        // Partial Fisher-Yates: the first `extra` keys after it get one more draw.
        for i in 0..extra {
            let j = i + rng::index(&mut self.rng, keys.len() - i);
            keys.swap(i, j);
        }
        for (rank, &pos) in keys.iter().enumerate() {
            let count = per_key + usize::from(rank < extra);
            let seen = self.memories[pos].seen();
            for _ in 0..count {
                draws.push((pos, rng::index(&mut self.rng, seen)));
            }
        }
        draws
    }

    /// The whole state, generator included.
    pub fn save_state(&self) -> Result<Vec<u8>> {
        let saved = Saved {
            capacity_per_key: self.capacity_per_key,
            replay_ratio: self.replay_ratio,
            memories: self.memories.clone(),
            next_arrival: self.next_arrival,
            evicted: self.evicted,
            evicted_new: self.evicted_new,
            rng: self.rng.clone(),
        };
        rng::save_state(rng::kind::STRATIFIED, &saved)
    }

    /// Reverses [`StratifiedReplay::save_state`], rebuilding the indexes.
    pub fn load_state(bytes: &[u8]) -> Result<Self> {
        let s: Saved = rng::load_state(rng::kind::STRATIFIED, bytes)?;
        let bad = || KernelError::State("inconsistent stratified replay".into());
        let mut this =
            StratifiedReplay::new(s.capacity_per_key, s.replay_ratio, 0).map_err(|_| bad())?;
        for (pos, mem) in s.memories.iter().enumerate() {
            if mem.new > mem.entries.len()
                || mem.entries.len() > s.capacity_per_key
                || this.index.insert(mem.key, pos).is_some()
                || mem.entries.iter().any(|e| e.arrival >= s.next_arrival)
            {
                return Err(bad());
            }
            if let Some(arrival) = mem.oldest_new() {
                if this.new_queue.insert(arrival, pos).is_some() {
                    return Err(bad());
                }
            }
            this.stored += mem.entries.len();
            this.new_total += mem.new;
        }
        this.memories = s.memories;
        this.next_arrival = s.next_arrival;
        this.evicted = s.evicted;
        this.evicted_new = s.evicted_new;
        this.rng = s.rng;
        Ok(this)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_batch_is_all_new_then_mixes() {
        let mut r = StratifiedReplay::new(100, 0.5, 1).unwrap();
        assert!(matches!(r.sample(4), Err(KernelError::Empty(_))));
        r.add(&[1, 2, 3], &[10, 10, 20]).unwrap();
        let b = r.sample(8).unwrap();
        assert_eq!(b.ids, vec![1, 2, 3]);
        assert_eq!(b.is_new, vec![true; 3]);
        r.add(&[4, 5, 6, 7, 8], &[30, 30, 30, 30, 30]).unwrap();
        let b = r.sample(8).unwrap();
        assert_eq!(&b.ids[..4], &[4, 5, 6, 7]);
        assert_eq!(b.is_new.iter().filter(|&&x| x).count(), 4);
        // Replay covers both keys that have seen items, two draws each.
        let replay_keys: Vec<u64> = b.keys[4..].to_vec();
        assert_eq!(replay_keys.iter().filter(|&&k| k == 10).count(), 2);
        assert_eq!(replay_keys.iter().filter(|&&k| k == 20).count(), 2);
        assert_eq!(r.new_count(), 1);
    }

    #[test]
    fn full_key_evicts_its_oldest() {
        let mut r = StratifiedReplay::new(2, 0.0, 1).unwrap();
        r.add(&[1, 2, 3], &[5, 5, 5]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.evicted(), (1, 1));
        let b = r.sample(10).unwrap();
        assert_eq!(b.ids, vec![2, 3]);
    }

    #[test]
    fn restored_state_continues_identically() {
        let mut a = StratifiedReplay::new(50, 0.7, 9).unwrap();
        let ids: Vec<u64> = (0..300).collect();
        let keys: Vec<u64> = ids.iter().map(|i| i % 7).collect();
        a.add(&ids, &keys).unwrap();
        a.sample(32).unwrap();
        let mut b = StratifiedReplay::load_state(&a.save_state().unwrap()).unwrap();
        for _ in 0..5 {
            assert_eq!(a.sample(32).unwrap(), b.sample(32).unwrap());
        }
        assert!(StratifiedReplay::new(1, 1.5, 0).is_err());
    }
}

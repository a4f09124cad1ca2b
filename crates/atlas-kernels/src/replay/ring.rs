//! The fixed-capacity id ring shared by the uniform and prioritized samplers.

use serde::{Deserialize, Serialize};

use crate::error::{KernelError, Result};

/// Ids in `capacity` slots, written in FIFO order: once full, each new id overwrites
/// the oldest. Slot `i` keeps its meaning until it is overwritten.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct IdRing {
    capacity: usize,
    ids: Vec<u64>,
    next: usize,
}

impl IdRing {
    pub(crate) fn new(capacity: usize) -> Self {
        IdRing {
            capacity,
            ids: Vec::new(),
            next: 0,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn ids(&self) -> &[u64] {
        &self.ids
    }

    #[inline]
    pub(crate) fn id(&self, slot: usize) -> u64 {
        self.ids[slot]
    }

    /// Writes `ids` in order and returns the slot of each. Also returns the at most two
    /// contiguous slot runs `(start, len)` that now hold the surviving ids (an id
    /// overwritten later in the same batch does not survive).
    pub(crate) fn push(&mut self, ids: &[u64]) -> (Vec<u64>, [(usize, usize); 2]) {
        let cap = self.capacity;
        let mut slots = Vec::with_capacity(ids.len());
        for _ in 0..ids.len() {
            slots.push(self.next_slot() as u64);
        }
        // Only the last `capacity` ids survive; write just those.
        let skip = ids.len().saturating_sub(cap);
        let survivors = &ids[skip..];
        let new_len = (self.ids.len() + ids.len()).min(cap);
        self.ids.resize(new_len, 0);
        let start = (self.next + cap - survivors.len()) % cap;
        for (k, &id) in survivors.iter().enumerate() {
            self.ids[(start + k) % cap] = id;
        }
        let first = survivors.len().min(cap - start);
        let runs = [(start, first), (0, survivors.len() - first)];
        (slots, runs)
    }

    /// Advances the write position and returns the slot written.
    fn next_slot(&mut self) -> usize {
        let slot = self.next;
        self.next = (self.next + 1) % self.capacity;
        slot
    }

    /// Checks a state read back from bytes.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.capacity == 0
            || self.ids.len() > self.capacity
            || self.next >= self.capacity
            || (self.ids.len() < self.capacity && self.next != self.ids.len())
        {
            return Err(KernelError::State("inconsistent ring".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overwrites_oldest_and_reports_runs() {
        let mut ring = IdRing::new(4);
        let (slots, runs) = ring.push(&[10, 11, 12]);
        assert_eq!(slots, vec![0, 1, 2]);
        assert_eq!(runs, [(0, 3), (0, 0)]);
        let (slots, runs) = ring.push(&[13, 14]);
        assert_eq!(slots, vec![3, 0]);
        assert_eq!(runs, [(3, 1), (0, 1)]);
        assert_eq!(ring.ids(), &[14, 11, 12, 13]);
        // A batch longer than the ring keeps only its tail.
        let (slots, runs) = ring.push(&[20, 21, 22, 23, 24, 25]);
        assert_eq!(slots, vec![1, 2, 3, 0, 1, 2]);
        assert_eq!(ring.ids(), &[23, 24, 25, 22]);
        assert_eq!(runs, [(3, 1), (0, 3)]);
        ring.validate().unwrap();
    }
}

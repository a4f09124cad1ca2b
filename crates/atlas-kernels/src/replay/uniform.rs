//! Uniform replay: a FIFO ring sampled uniformly with replacement.

use serde::{Deserialize, Serialize};

use super::check_capacity;
use super::ring::IdRing;
use crate::error::{KernelError, Result};
use crate::rng::{self, KernelRng};

/// A fixed-capacity ring of ids (the oldest is overwritten when full), sampled
/// uniformly with replacement from the ids it holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UniformReplay {
    ring: IdRing,
    rng: KernelRng,
}

impl UniformReplay {
    /// An empty replay of `capacity > 0` slots whose draws are fixed by `seed`.
    pub fn new(capacity: usize, seed: u64) -> Result<Self> {
        check_capacity("capacity", capacity)?;
        Ok(UniformReplay {
            ring: IdRing::new(capacity),
            rng: rng::seeded(seed),
        })
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Number of ids held (at most `capacity`).
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether no id has been added yet.
    pub fn is_empty(&self) -> bool {
        self.ring.len() == 0
    }

    /// The ids held, by slot.
    pub fn ids(&self) -> &[u64] {
        self.ring.ids()
    }

    /// Appends `ids` (overwriting the oldest when full) and returns the slot of each.
    pub fn add(&mut self, ids: &[u64]) -> Vec<u64> {
        self.ring.push(ids).0
    }

    /// Draws `batch` slots uniformly with replacement; returns `(slots, ids)`.
    /// Fails with [`KernelError::Empty`] when nothing was added.
    pub fn sample(&mut self, batch: usize) -> Result<(Vec<u64>, Vec<u64>)> {
        let n = self.ring.len();
        if n == 0 {
            return Err(KernelError::Empty("uniform replay"));
        }
        let mut slots = Vec::with_capacity(batch);
        let mut ids = Vec::with_capacity(batch);
        for _ in 0..batch {
            let slot = rng::index(&mut self.rng, n);
            slots.push(slot as u64);
            ids.push(self.ring.id(slot));
        }
        Ok((slots, ids))
    }

    /// The whole state, generator included.
    pub fn save_state(&self) -> Result<Vec<u8>> {
        rng::save_state(rng::kind::UNIFORM, self)
    }

    /// Reverses [`UniformReplay::save_state`].
    pub fn load_state(bytes: &[u8]) -> Result<Self> {
        let this: UniformReplay = rng::load_state(rng::kind::UNIFORM, bytes)?;
        this.ring.validate()?;
        Ok(this)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_only_held_ids_and_restores_exactly() {
        let mut r = UniformReplay::new(3, 9).unwrap();
        assert!(matches!(r.sample(4), Err(KernelError::Empty(_))));
        assert_eq!(r.add(&[1, 2, 3, 4]), vec![0, 1, 2, 0]);
        assert_eq!(r.ids(), &[4, 2, 3]);
        let (slots, ids) = r.sample(100).unwrap();
        for (&s, &id) in slots.iter().zip(&ids) {
            assert_eq!(r.ids()[s as usize], id);
        }
        let saved = r.save_state().unwrap();
        let mut back = UniformReplay::load_state(&saved).unwrap();
        assert_eq!(r.sample(50).unwrap(), back.sample(50).unwrap());
        assert!(UniformReplay::new(0, 0).is_err());
    }
}

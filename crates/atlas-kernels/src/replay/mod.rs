//! Replay samplers: what a learner trains on, drawn from what was recorded.
//!
//! All samplers store `u64` item ids (the caller maps ids to data), are seeded with
//! [`crate::rng`], and save and restore their whole state, generator included, so a
//! restored sampler continues with exactly the same draws.
//!
//! * [`UniformReplay`]: a fixed-capacity ring (FIFO overwrite), sampled uniformly
//!   with replacement.
//! * [`PrioritizedReplay`]: proportional prioritized replay (PER) over a wide sum and
//!   min tree ([`tree`]), with `alpha`, `beta` importance weights and batch updates.
//! * [`ReservoirSampler`]: a uniform sample of an unbounded stream (Algorithm L).
//! * [`StratifiedReplay`]: per-key memories; each batch mixes new items with replay
//!   spread evenly over every key, so no key is forgotten.

pub mod pow;
mod prioritized;
mod reservoir;
mod ring;
mod stratified;
pub mod tree;
mod uniform;

pub use prioritized::{PrioritizedBatch, PrioritizedReplay};
pub use reservoir::ReservoirSampler;
pub use stratified::{StratifiedBatch, StratifiedReplay};
pub use tree::SlotIndex;
pub use uniform::UniformReplay;

use crate::error::{KernelError, Result};

/// Checks that a capacity is positive (and small enough to index).
pub(crate) fn check_capacity(name: &'static str, capacity: usize) -> Result<()> {
    if capacity == 0 {
        return Err(KernelError::invalid(name, "must be at least 1"));
    }
    if capacity > u32::MAX as usize {
        return Err(KernelError::invalid(
            name,
            format!("must be at most {}, got {capacity}", u32::MAX),
        ));
    }
    Ok(())
}

/// Checks that a real parameter is finite and at least `low`.
pub(crate) fn check_at_least(name: &'static str, value: f64, low: f64) -> Result<()> {
    if value.is_finite() && value >= low {
        Ok(())
    } else {
        Err(KernelError::invalid(
            name,
            format!("must be a finite number >= {low}, got {value}"),
        ))
    }
}

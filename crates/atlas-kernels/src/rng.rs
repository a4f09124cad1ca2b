//! The seeded generator every sampler uses, and state (de)serialisation helpers.
//!
//! PCG64 is small (32 bytes of state), fast and serialisable, so a sampler's
//! whole state, generator included, round-trips through `save`/`load`.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{KernelError, Result};

/// The generator type shared by all kernels.
pub type KernelRng = Pcg64Mcg;

/// A generator from a seed; the same seed always gives the same stream.
pub fn seeded(seed: u64) -> KernelRng {
    KernelRng::seed_from_u64(seed)
}

/// A uniform draw in `[0, 1)`.
#[inline]
pub fn unit(rng: &mut KernelRng) -> f64 {
    rng.random::<f64>()
}

/// A uniform index in `0..n` (`n > 0`).
#[inline]
pub fn index(rng: &mut KernelRng, n: usize) -> usize {
    rng.random_range(0..n)
}

/// Magic prefix and format version of every saved state, so a wrong blob fails clearly.
const STATE_MAGIC: &[u8; 4] = b"ATLK";
const STATE_VERSION: u8 = 1;

/// Serialises a kernel's state, tagged with its kind so it cannot be loaded into another kernel.
pub fn save_state<T: Serialize>(kind: u8, value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(STATE_MAGIC);
    out.push(STATE_VERSION);
    out.push(kind);
    bincode::serialize_into(&mut out, value).map_err(|e| KernelError::State(e.to_string()))?;
    Ok(out)
}

/// Reverses [`save_state`], checking the magic, version and kind.
pub fn load_state<T: DeserializeOwned>(kind: u8, bytes: &[u8]) -> Result<T> {
    if bytes.len() < 6 || &bytes[..4] != STATE_MAGIC {
        return Err(KernelError::State("not an Atlas kernel state".into()));
    }
    if bytes[4] != STATE_VERSION {
        return Err(KernelError::State(format!(
            "state format version {} is not supported (expected {STATE_VERSION})",
            bytes[4]
        )));
    }
    if bytes[5] != kind {
        return Err(KernelError::State(format!(
            "state is of kernel kind {}, expected {kind}",
            bytes[5]
        )));
    }
    bincode::deserialize(&bytes[6..]).map_err(|e| KernelError::State(e.to_string()))
}

/// Kind tags for [`save_state`]; one per kernel that saves state.
pub mod kind {
    pub const UNIFORM: u8 = 1;
    pub const PRIORITIZED: u8 = 2;
    pub const RESERVOIR: u8 = 3;
    pub const STRATIFIED: u8 = 4;
    pub const AGGREGATOR: u8 = 5;
    pub const ADWIN: u8 = 6;
    pub const PAGE_HINKLEY: u8 = 7;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = seeded(7);
        let mut b = seeded(7);
        for _ in 0..100 {
            assert_eq!(unit(&mut a).to_bits(), unit(&mut b).to_bits());
        }
    }

    #[test]
    fn state_round_trip_and_kind_check() {
        let bytes = save_state(kind::UNIFORM, &vec![1u64, 2, 3]).unwrap();
        let back: Vec<u64> = load_state(kind::UNIFORM, &bytes).unwrap();
        assert_eq!(back, vec![1, 2, 3]);
        assert!(matches!(
            load_state::<Vec<u64>>(kind::RESERVOIR, &bytes),
            Err(KernelError::State(_))
        ));
        assert!(matches!(
            load_state::<Vec<u64>>(kind::UNIFORM, b"garbage"),
            Err(KernelError::State(_))
        ));
    }
}

//! UUIDv7 event ids (RFC 9562): 48 bits of Unix milliseconds, then random bits.
//!
//! Ids sort by creation time, so the store can index them as a time-ordered key.
//! Within one generator ids are strictly increasing: inside one millisecond (or if
//! the clock steps back) the 74 random bits are used as a counter, started at a
//! random value with its top bit clear so that it has room to count (RFC 9562 §6.2).

use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

use crate::rng::{seeded, KernelRng};

/// Number of bits after the timestamp that are random (12 of `rand_a`, 62 of `rand_b`).
const RAND_BITS: u32 = 74;
const RAND_MAX: u128 = (1u128 << RAND_BITS) - 1;
const RAND_B_MASK: u128 = (1u128 << 62) - 1;
const MS_MASK: u64 = (1u64 << 48) - 1;

/// A generator of strictly increasing UUIDv7s.
#[derive(Debug, Clone)]
pub struct Uuid7Generator {
    rng: KernelRng,
    last_ms: u64,
    last_rand: u128,
}

impl Uuid7Generator {
    /// A generator seeded from the OS-random keys of std's `RandomState` mixed with
    /// the clock, so that two buffers (or two processes) draw different random bits.
    pub fn from_entropy() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(now_ns_since_epoch() as u128);
        hasher.write_u32(std::process::id());
        Self::with_seed(hasher.finish())
    }

    /// A reproducible generator (tests).
    pub fn with_seed(seed: u64) -> Self {
        Self {
            rng: seeded(seed),
            last_ms: 0,
            last_rand: 0,
        }
    }

    /// The next id for a clock reading of `now_ms` (Unix milliseconds).
    #[inline]
    pub fn next_id(&mut self, now_ms: u64) -> [u8; 16] {
        if now_ms > self.last_ms {
            self.last_ms = now_ms;
            self.last_rand = self.fresh();
        } else if self.last_rand < RAND_MAX {
            self.last_rand += 1;
        } else {
            // 2^73 ids in one millisecond cannot happen in practice; borrow the next one.
            self.last_ms += 1;
            self.last_rand = self.fresh();
        }
        encode(self.last_ms, self.last_rand)
    }

    fn fresh(&mut self) -> u128 {
        let hi = u128::from(self.rng.random::<u64>());
        let lo = u128::from(self.rng.random::<u64>());
        ((hi << 64) | lo) & (RAND_MAX >> 1)
    }
}

/// Lays out timestamp, version 7, the random bits and the RFC 4122 variant.
#[inline]
fn encode(ms: u64, rand: u128) -> [u8; 16] {
    let rand_a = rand >> 62;
    let rand_b = rand & RAND_B_MASK;
    let value =
        (u128::from(ms & MS_MASK) << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b;
    value.to_be_bytes()
}

/// The Unix time of `id` in milliseconds (its first 48 bits).
pub fn timestamp_ms(id: &[u8; 16]) -> u64 {
    let mut ms = [0u8; 8];
    ms[2..].copy_from_slice(&id[..6]);
    u64::from_be_bytes(ms)
}

/// Nanoseconds since the Unix epoch now (0 if the clock is before the epoch).
pub fn now_ns_since_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_variant_and_timestamp_are_laid_out_per_rfc() {
        let mut g = Uuid7Generator::with_seed(1);
        let id = g.next_id(1_700_000_000_123);
        assert_eq!(id[6] >> 4, 7, "version nibble");
        assert_eq!(id[8] >> 6, 0b10, "variant bits");
        assert_eq!(timestamp_ms(&id), 1_700_000_000_123);
    }

    #[test]
    fn ids_strictly_increase_within_a_millisecond_and_when_the_clock_steps_back() {
        let mut g = Uuid7Generator::with_seed(2);
        let mut prev = g.next_id(5_000);
        for now in [5_000, 5_000, 4_000, 5_001, 5_001, 3, 6_000] {
            let id = g.next_id(now);
            assert!(id > prev, "{id:?} <= {prev:?}");
            prev = id;
        }
        assert_eq!(timestamp_ms(&prev), 6_000);
    }

    #[test]
    fn counter_overflow_moves_to_the_next_millisecond() {
        let mut g = Uuid7Generator::with_seed(3);
        let _ = g.next_id(10);
        g.last_rand = RAND_MAX;
        let id = g.next_id(10);
        assert_eq!(timestamp_ms(&id), 11);
    }

    #[test]
    fn generators_from_entropy_differ() {
        let a = Uuid7Generator::from_entropy().next_id(1);
        let b = Uuid7Generator::from_entropy().next_id(1);
        assert_ne!(a, b);
    }
}

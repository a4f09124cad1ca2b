//! The key map: key → slot index, with a small fast hasher.
//!
//! Keys are learning keys or version numbers chosen by the application, not by remote users,
//! so a fast non-cryptographic hash is the right trade (SipHash costs more than the
//! statistics update itself on the batch path).

use std::hash::{BuildHasherDefault, Hasher};

/// A multiply–rotate hasher with a final avalanche step.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl KeyHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(MULTIPLIER).rotate_left(29);
    }
}

impl Hasher for KeyHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    #[inline]
    fn write_i64(&mut self, n: i64) {
        self.mix(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Both the low bits (bucket) and the high bits (control byte) must depend on every input bit.
        let mut h = self.0;
        h ^= h >> 32;
        h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        h ^= h >> 32;
        h
    }
}

/// The `BuildHasher` of the key map.
pub type BuildKeyHasher = BuildHasherDefault<KeyHasher>;

//! `StrKey`: a string key stored inline when short, so that a hash-map lookup compares it
//! without reading a separate heap allocation (the heap read was the largest cost of adding
//! string-keyed events). Learning keys and version names are short; longer ones go to the heap.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest string kept inline (the enum is then 24 bytes, the size of a `String`).
const INLINE: usize = 22;

/// An owned string key; behaves exactly like the `str` it holds (equality, order, hash).
#[derive(Debug, Clone)]
pub enum StrKey {
    /// Strings of at most `INLINE` bytes; bytes past `len` are zero.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// Longer strings.
    Heap(Box<str>),
}

impl StrKey {
    /// The key for `s`.
    pub fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            StrKey::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            StrKey::Heap(s.into())
        }
    }

    /// The key as a string slice.
    #[inline]
    pub fn as_str(&self) -> &str {
        match self {
            // Always valid: the bytes were copied from a `str`. The check is a few
            // nanoseconds on short ASCII keys and keeps this module free of `unsafe`.
            StrKey::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            StrKey::Heap(s) => s,
        }
    }

    #[inline]
    fn as_bytes(&self) -> &[u8] {
        match self {
            StrKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            StrKey::Heap(s) => s.as_bytes(),
        }
    }
}

impl PartialEq for StrKey {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for StrKey {}

impl Ord for StrKey {
    // UTF-8 byte order is code-point order, i.e. the order of `str`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl PartialOrd for StrKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for StrKey {
    // Must hash like the borrowed `str` for `HashMap<StrKey, _>::get(&str)`.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Borrow<str> for StrKey {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for StrKey {
    fn from(s: &str) -> Self {
        StrKey::new(s)
    }
}

impl Serialize for StrKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StrKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| StrKey::new(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_like_its_str() {
        let short = "learning-key-00042";
        let long = "a learning key much longer than twenty-two bytes";
        for s in [short, long, "", "é"] {
            let k = StrKey::new(s);
            assert_eq!(k.as_str(), s);
            assert_eq!(k, StrKey::from(s));
        }
        assert!(matches!(StrKey::new(short), StrKey::Inline { .. }));
        assert!(matches!(StrKey::new(long), StrKey::Heap(_)));
        let mut keys = [StrKey::new("b"), StrKey::new(long), StrKey::new("")];
        keys.sort();
        let sorted: Vec<&str> = keys.iter().map(StrKey::as_str).collect();
        assert_eq!(sorted, vec!["", long, "b"]);
        let map: HashMap<StrKey, u8> = [(StrKey::new(short), 1), (StrKey::new(long), 2)].into();
        assert_eq!(
            (map.get(short), map.get(long), map.get("x")),
            (Some(&1), Some(&2), None)
        );
        let bytes = bincode::serialize(&StrKey::new(long)).unwrap();
        assert_eq!(
            bincode::deserialize::<StrKey>(&bytes).unwrap().as_str(),
            long
        );
    }
}

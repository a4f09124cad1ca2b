//! What a producer hands the buffer: one [`Event`] or a columnar [`EventBatch`].
//!
//! A batch borrows its columns (from NumPy or Arrow memory, say) and is validated
//! once, when it is built, so that the buffer's lock is held only to copy.

use crate::error::{check_len, KernelError, Result};

/// Bytes in an event or interaction id (a UUID).
pub const ID_LEN: usize = 16;

/// One event. `event_id` and `ts_ns` are filled in by the buffer when `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event<'a> {
    pub interaction_id: [u8; ID_LEN],
    /// `EventKind` code: 0 interaction, 1 rating, 2 signal, 3 edit, 4 comment, 5 label; the rest are free.
    pub kind: u8,
    /// Learning-key id.
    pub key: u64,
    /// NaN when the event carries no number.
    pub value: f64,
    pub ts_ns: Option<i64>,
    pub event_id: Option<[u8; ID_LEN]>,
    /// JSON of the event's text parts; may be empty.
    pub payload: &'a [u8],
}

impl<'a> Event<'a> {
    /// An event with no value, key 0, no payload, and id and timestamp left to the buffer.
    pub fn new(interaction_id: [u8; ID_LEN], kind: u8) -> Self {
        Self {
            interaction_id,
            kind,
            key: 0,
            value: f64::NAN,
            ts_ns: None,
            event_id: None,
            payload: &[],
        }
    }
}

/// Arrow-style payload offsets: row `i` is `data[offsets[i]..offsets[i + 1]]`.
/// Both Arrow widths are accepted so that `binary` and `large_binary` columns pass without a copy.
#[derive(Debug, Clone, Copy)]
pub enum Offsets<'a> {
    I32(&'a [i32]),
    I64(&'a [i64]),
}

impl Offsets<'_> {
    fn len(&self) -> usize {
        match self {
            Offsets::I32(o) => o.len(),
            Offsets::I64(o) => o.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> i64 {
        match self {
            Offsets::I32(o) => i64::from(o[i]),
            Offsets::I64(o) => o[i],
        }
    }
}

/// A validated columnar batch of events. Optional columns take their defaults
/// (`key` 0, `value` NaN, `ts_ns` now, `event_id` a fresh UUIDv7, empty payload).
#[derive(Debug, Clone, Copy)]
pub struct EventBatch<'a> {
    len: usize,
    interaction_id: &'a [u8],
    kind: &'a [u8],
    key: Option<&'a [u64]>,
    value: Option<&'a [f64]>,
    ts_ns: Option<&'a [i64]>,
    event_id: Option<&'a [u8]>,
    payload: Option<(Offsets<'a>, &'a [u8])>,
}

impl<'a> EventBatch<'a> {
    /// A batch of `kind.len()` events; `interaction_id` holds 16 bytes per event, row after row.
    pub fn new(interaction_id: &'a [u8], kind: &'a [u8]) -> Result<Self> {
        let len = kind.len();
        check_ids("interaction_id", interaction_id, len)?;
        Ok(Self {
            len,
            interaction_id,
            kind,
            key: None,
            value: None,
            ts_ns: None,
            event_id: None,
            payload: None,
        })
    }

    /// Sets the learning-key column.
    pub fn key(mut self, key: &'a [u64]) -> Result<Self> {
        check_len("key", key.len(), self.len)?;
        self.key = Some(key);
        Ok(self)
    }

    /// Sets the value column (NaN where absent).
    pub fn value(mut self, value: &'a [f64]) -> Result<Self> {
        check_len("value", value.len(), self.len)?;
        self.value = Some(value);
        Ok(self)
    }

    /// Sets the timestamp column (ns since the Unix epoch).
    pub fn ts_ns(mut self, ts_ns: &'a [i64]) -> Result<Self> {
        check_len("ts_ns", ts_ns.len(), self.len)?;
        self.ts_ns = Some(ts_ns);
        Ok(self)
    }

    /// Sets caller-chosen event ids (16 bytes per event), e.g. for idempotent retries.
    pub fn event_id(mut self, event_id: &'a [u8]) -> Result<Self> {
        check_ids("event_id", event_id, self.len)?;
        self.event_id = Some(event_id);
        Ok(self)
    }

    /// Sets the payload column: `len + 1` non-decreasing offsets into `data`.
    /// Offsets need not start at 0 (a sliced Arrow array does not).
    pub fn payload(mut self, offsets: Offsets<'a>, data: &'a [u8]) -> Result<Self> {
        if offsets.len() != self.len + 1 {
            return Err(KernelError::invalid(
                "payload_offsets",
                format!(
                    "has {} entries, expected {} (one more than the number of events)",
                    offsets.len(),
                    self.len + 1
                ),
            ));
        }
        let mut prev = offsets.get(0);
        if prev < 0 {
            return Err(KernelError::invalid(
                "payload_offsets",
                format!("starts at {prev}, must be >= 0"),
            ));
        }
        for i in 1..offsets.len() {
            let next = offsets.get(i);
            if next < prev {
                return Err(KernelError::invalid(
                    "payload_offsets",
                    format!(
                        "must be non-decreasing, but entry {i} ({next}) < entry {} ({prev})",
                        i - 1
                    ),
                ));
            }
            prev = next;
        }
        if usize::try_from(prev).map_or(true, |end| end > data.len()) {
            return Err(KernelError::invalid(
                "payload_offsets",
                format!(
                    "end at {prev}, past the {} bytes of payload_data",
                    data.len()
                ),
            ));
        }
        self.payload = Some((offsets, data));
        Ok(self)
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch has no events.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn interaction_ids(&self, rows: std::ops::Range<usize>) -> &'a [u8] {
        &self.interaction_id[rows.start * ID_LEN..rows.end * ID_LEN]
    }

    pub(crate) fn kinds(&self, rows: std::ops::Range<usize>) -> &'a [u8] {
        &self.kind[rows]
    }

    pub(crate) fn keys(&self, rows: std::ops::Range<usize>) -> Option<&'a [u64]> {
        self.key.map(|k| &k[rows])
    }

    pub(crate) fn values(&self, rows: std::ops::Range<usize>) -> Option<&'a [f64]> {
        self.value.map(|v| &v[rows])
    }

    pub(crate) fn timestamps(&self, rows: std::ops::Range<usize>) -> Option<&'a [i64]> {
        self.ts_ns.map(|t| &t[rows])
    }

    pub(crate) fn event_ids(&self, rows: std::ops::Range<usize>) -> Option<&'a [u8]> {
        self.event_id
            .map(|e| &e[rows.start * ID_LEN..rows.end * ID_LEN])
    }

    /// The payload bytes of `rows` as one contiguous slice, and each row's length.
    pub(crate) fn payloads(
        &self,
        rows: std::ops::Range<usize>,
    ) -> Option<(&'a [u8], impl Iterator<Item = u64> + 'a)> {
        let (offsets, data) = self.payload?;
        // Validated in `payload`: offsets are non-negative, non-decreasing and within `data`.
        let start = offsets.get(rows.start) as usize;
        let end = offsets.get(rows.end) as usize;
        let lens =
            (rows.start..rows.end).map(move |i| (offsets.get(i + 1) - offsets.get(i)) as u64);
        Some((&data[start..end], lens))
    }
}

fn check_ids(name: &'static str, ids: &[u8], rows: usize) -> Result<()> {
    if ids.len() == rows * ID_LEN {
        Ok(())
    } else {
        Err(KernelError::invalid(
            name,
            format!(
                "has {} bytes, expected {} (16 bytes per event for {rows} events)",
                ids.len(),
                rows * ID_LEN
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_name<T: std::fmt::Debug>(r: Result<T>) -> &'static str {
        match r {
            Err(KernelError::InvalidArgument { name, .. }) => name,
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn mismatched_columns_are_refused_naming_the_column() {
        let ids = [0u8; 32];
        assert_eq!(
            invalid_name(EventBatch::new(&ids[..31], &[1, 2])),
            "interaction_id"
        );
        let b = EventBatch::new(&ids, &[1, 2]).unwrap();
        assert_eq!(invalid_name(b.key(&[1])), "key");
        assert_eq!(invalid_name(b.value(&[1.0, 2.0, 3.0])), "value");
        assert_eq!(invalid_name(b.ts_ns(&[])), "ts_ns");
        assert_eq!(invalid_name(b.event_id(&ids[..16])), "event_id");
    }

    #[test]
    fn payload_offsets_are_validated() {
        let ids = [0u8; 32];
        let b = EventBatch::new(&ids, &[1, 2]).unwrap();
        let data = b"abcdef";
        assert_eq!(
            invalid_name(b.payload(Offsets::I64(&[0, 1]), data)),
            "payload_offsets"
        );
        assert_eq!(
            invalid_name(b.payload(Offsets::I64(&[0, 3, 2]), data)),
            "payload_offsets"
        );
        assert_eq!(
            invalid_name(b.payload(Offsets::I32(&[-1, 0, 2]), data)),
            "payload_offsets"
        );
        assert_eq!(
            invalid_name(b.payload(Offsets::I32(&[0, 3, 7]), data)),
            "payload_offsets"
        );
        let ok = b.payload(Offsets::I32(&[2, 3, 6]), data).unwrap();
        let (bytes, lens) = ok.payloads(0..2).unwrap();
        assert_eq!(bytes, b"cdef");
        assert_eq!(lens.collect::<Vec<_>>(), vec![1, 3]);
        let (bytes, lens) = ok.payloads(1..2).unwrap();
        assert_eq!(bytes, b"def");
        assert_eq!(lens.collect::<Vec<_>>(), vec![3]);
    }
}

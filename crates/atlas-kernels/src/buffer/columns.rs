//! The buffer's storage: one ring (`VecDeque`) per column, so that a batch is
//! appended and a drain is taken with a few `memcpy`s rather than per-event work.

use std::collections::VecDeque;
use std::ops::Range;

use super::event::{Event, EventBatch, ID_LEN};
use super::uuid7::Uuid7Generator;

/// Events drained from the buffer, oldest first, as owned columns.
/// Ids are 16 bytes per event, row after row; payload row `i` is
/// `payload_data[payload_offsets[i]..payload_offsets[i + 1]]` (Arrow `large_binary` layout).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrainedEvents {
    pub event_id: Vec<u8>,
    pub interaction_id: Vec<u8>,
    pub kind: Vec<u8>,
    pub key: Vec<u64>,
    pub value: Vec<f64>,
    pub ts_ns: Vec<i64>,
    pub payload_offsets: Vec<i64>,
    pub payload_data: Vec<u8>,
}

impl DrainedEvents {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.kind.len()
    }

    /// Whether no event was drained.
    pub fn is_empty(&self) -> bool {
        self.kind.is_empty()
    }

    /// Event `i`'s id.
    pub fn event_id_at(&self, i: usize) -> [u8; ID_LEN] {
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&self.event_id[i * ID_LEN..(i + 1) * ID_LEN]);
        id
    }

    /// Event `i`'s payload.
    pub fn payload_at(&self, i: usize) -> &[u8] {
        let (start, end) = (self.payload_offsets[i], self.payload_offsets[i + 1]);
        &self.payload_data[start as usize..end as usize]
    }
}

/// Column storage. Every column always holds `len()` rows (ids: 16 bytes per row).
#[derive(Debug, Default)]
pub(crate) struct Columns {
    event_id: VecDeque<u8>,
    interaction_id: VecDeque<u8>,
    kind: VecDeque<u8>,
    key: VecDeque<u64>,
    value: VecDeque<f64>,
    ts_ns: VecDeque<i64>,
    payload_len: VecDeque<u64>,
    payload_data: VecDeque<u8>,
    /// Generated ids of the batch being pushed (kept to reuse its allocation).
    id_scratch: Vec<u8>,
}

impl Columns {
    pub(crate) fn len(&self) -> usize {
        self.kind.len()
    }

    /// Appends one event, returning its id.
    pub(crate) fn push_event(
        &mut self,
        event: &Event<'_>,
        ids: &mut Uuid7Generator,
        now_ns: i64,
    ) -> [u8; ID_LEN] {
        let id = event.event_id.unwrap_or_else(|| ids.next_id(ms_of(now_ns)));
        self.event_id.extend(&id);
        self.interaction_id.extend(&event.interaction_id);
        self.kind.push_back(event.kind);
        self.key.push_back(event.key);
        self.value.push_back(event.value);
        self.ts_ns.push_back(event.ts_ns.unwrap_or(now_ns));
        self.payload_len.push_back(event.payload.len() as u64);
        self.payload_data.extend(event.payload);
        id
    }

    /// Appends `rows` of `batch`, filling absent columns with their defaults.
    pub(crate) fn push_rows(
        &mut self,
        batch: &EventBatch<'_>,
        rows: Range<usize>,
        ids: &mut Uuid7Generator,
        now_ns: i64,
    ) {
        let n = rows.len();
        match batch.event_ids(rows.clone()) {
            Some(given) => self.event_id.extend(given),
            None => {
                // Built in a reused flat Vec and appended with one copy: extending the
                // ring 16 bytes at a time costs a wrap check per id.
                let now_ms = ms_of(now_ns);
                self.id_scratch.clear();
                self.id_scratch.reserve(n * ID_LEN);
                for _ in 0..n {
                    self.id_scratch.extend_from_slice(&ids.next_id(now_ms));
                }
                self.event_id.extend(&self.id_scratch);
            }
        }
        self.interaction_id
            .extend(batch.interaction_ids(rows.clone()));
        self.kind.extend(batch.kinds(rows.clone()));
        extend_or_fill(&mut self.key, batch.keys(rows.clone()), 0, n);
        extend_or_fill(&mut self.value, batch.values(rows.clone()), f64::NAN, n);
        extend_or_fill(&mut self.ts_ns, batch.timestamps(rows.clone()), now_ns, n);
        match batch.payloads(rows) {
            Some((data, lens)) => {
                self.payload_len.extend(lens);
                self.payload_data.extend(data);
            }
            None => self.payload_len.resize(self.payload_len.len() + n, 0),
        }
    }

    /// Removes the `k` oldest events (`k <= len()`).
    pub(crate) fn drop_front(&mut self, k: usize) {
        let bytes: u64 = self.payload_len.range(..k).sum();
        self.event_id.drain(..k * ID_LEN);
        self.interaction_id.drain(..k * ID_LEN);
        self.kind.drain(..k);
        self.key.drain(..k);
        self.value.drain(..k);
        self.ts_ns.drain(..k);
        self.payload_len.drain(..k);
        self.payload_data.drain(..bytes as usize);
    }

    /// Removes and returns the `k` oldest events (`k <= len()`).
    pub(crate) fn take_front(&mut self, k: usize) -> DrainedEvents {
        let mut payload_offsets = Vec::with_capacity(k + 1);
        let mut end = 0i64;
        payload_offsets.push(end);
        for len in self.payload_len.drain(..k) {
            end += len as i64;
            payload_offsets.push(end);
        }
        DrainedEvents {
            event_id: take(&mut self.event_id, k * ID_LEN),
            interaction_id: take(&mut self.interaction_id, k * ID_LEN),
            kind: take(&mut self.kind, k),
            key: take(&mut self.key, k),
            value: take(&mut self.value, k),
            ts_ns: take(&mut self.ts_ns, k),
            payload_offsets,
            payload_data: take(&mut self.payload_data, end as usize),
        }
    }
}

/// Unix milliseconds of a nanosecond timestamp (0 before the epoch).
fn ms_of(ns: i64) -> u64 {
    u64::try_from(ns / 1_000_000).unwrap_or(0)
}

fn extend_or_fill<T: Copy>(column: &mut VecDeque<T>, given: Option<&[T]>, default: T, n: usize) {
    match given {
        Some(values) => column.extend(values),
        None => column.resize(column.len() + n, default),
    }
}

/// Moves the first `k` items out as a `Vec`: two slice copies, then an O(1) head move.
fn take<T: Copy>(column: &mut VecDeque<T>, k: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(k);
    let (front, back) = column.as_slices();
    if k <= front.len() {
        out.extend_from_slice(&front[..k]);
    } else {
        out.extend_from_slice(front);
        out.extend_from_slice(&back[..k - front.len()]);
    }
    column.drain(..k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::event::Offsets;

    #[test]
    fn batch_rows_round_trip_through_take_front_with_defaults_filled() {
        let mut cols = Columns::default();
        let mut ids = Uuid7Generator::with_seed(1);
        let iid: Vec<u8> = (0..48).collect();
        let data = b"xxhelloworld!";
        let batch = EventBatch::new(&iid, &[1, 2, 3])
            .unwrap()
            .value(&[0.5, f64::NAN, 2.0])
            .unwrap()
            .payload(Offsets::I32(&[2, 7, 12, 13]), data)
            .unwrap();
        cols.push_rows(&batch, 1..3, &mut ids, 42_000_000);
        cols.push_rows(&batch, 0..1, &mut ids, 43_000_000);
        assert_eq!(cols.len(), 3);
        let out = cols.take_front(2);
        assert_eq!(cols.len(), 1);
        assert_eq!(out.kind, vec![2, 3]);
        assert_eq!(out.key, vec![0, 0]);
        assert!(out.value[0].is_nan());
        assert_eq!(out.value[1], 2.0);
        assert_eq!(out.ts_ns, vec![42_000_000, 42_000_000]);
        assert_eq!(out.interaction_id, (16..48).collect::<Vec<u8>>());
        assert_eq!(out.payload_at(0), b"world");
        assert_eq!(out.payload_at(1), b"!");
        assert!(out.event_id_at(0) < out.event_id_at(1));
        let rest = cols.take_front(1);
        assert_eq!(rest.payload_at(0), b"hello");
        assert_eq!(rest.ts_ns, vec![43_000_000]);
    }

    #[test]
    fn drop_front_keeps_payloads_aligned_across_the_ring_wrap() {
        let mut cols = Columns::default();
        let mut ids = Uuid7Generator::with_seed(2);
        for round in 0..50u8 {
            let payload = vec![round; usize::from(round % 7)];
            let mut ev = Event::new([round; 16], round);
            ev.payload = &payload;
            cols.push_event(&ev, &mut ids, 1);
            if cols.len() > 5 {
                cols.drop_front(2);
            }
        }
        let out = cols.take_front(cols.len());
        for i in 0..out.len() {
            let k = out.kind[i];
            assert_eq!(out.payload_at(i), vec![k; usize::from(k % 7)].as_slice());
            assert_eq!(&out.interaction_id[i * 16..(i + 1) * 16], &[k; 16]);
        }
    }
}

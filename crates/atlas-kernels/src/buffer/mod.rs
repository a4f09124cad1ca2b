//! The FeedbackBuffer: a bounded, thread-safe, many-producer buffer of interaction
//! and feedback events, drained as columns.
//!
//! Producers push one [`Event`] or a columnar [`EventBatch`]; a consumer drains up to
//! N events as [`DrainedEvents`] (one `Vec` per column). A batch is admitted whole or
//! not at all, under one lock, so events keep their order and are never split.
//! When full, the [`Policy`] chosen at construction decides: wait (`block`), refuse
//! (`reject`) or evict the oldest (`drop_oldest`). Counters obey
//! `pushed - dropped - drained == len` at every instant.

mod columns;
mod event;
mod policy;
mod uuid7;

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

pub use columns::DrainedEvents;
pub use event::{Event, EventBatch, Offsets, ID_LEN};
pub use policy::Policy;
pub use uuid7::{now_ns_since_epoch, timestamp_ms, Uuid7Generator};

use crate::error::{KernelError, Result};
use columns::Columns;

/// How long a blocked producer sleeps before it asks its caller whether to keep
/// waiting (the binding uses that moment to let Python handle Ctrl-C).
pub const WAIT_SLICE: Duration = Duration::from_millis(50);

/// What an attempt that does not wait returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission<T> {
    /// The events are in the buffer.
    Accepted(T),
    /// `block` policy only: there is no room now; the caller may wait with the `*_wait` methods.
    WouldBlock,
}

/// Counters since construction, and the size, read together under the lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events admitted (including those later dropped).
    pub pushed: u64,
    /// Events evicted by `drop_oldest`.
    pub dropped: u64,
    /// Events refused by `reject`, or whose `block` push timed out.
    pub rejected: u64,
    /// Events handed out by `drain`.
    pub drained: u64,
    /// Events in the buffer now.
    pub len: usize,
    pub capacity: usize,
    pub closed: bool,
}

#[derive(Debug)]
struct State {
    columns: Columns,
    ids: Uuid7Generator,
    pushed: u64,
    dropped: u64,
    rejected: u64,
    drained: u64,
    closed: bool,
}

/// The bounded many-producer event buffer. Share it by reference (`&self` methods) across threads.
#[derive(Debug)]
pub struct FeedbackBuffer {
    capacity: usize,
    policy: Policy,
    state: Mutex<State>,
    /// Signalled when space frees up (a drain) or the buffer closes.
    space: Condvar,
}

impl FeedbackBuffer {
    /// A buffer holding at most `capacity` (> 0) events.
    pub fn new(capacity: usize, policy: Policy) -> Result<Self> {
        Self::with_ids(capacity, policy, Uuid7Generator::from_entropy())
    }

    /// Like [`FeedbackBuffer::new`] with a chosen id generator (reproducible tests).
    pub fn with_ids(capacity: usize, policy: Policy, ids: Uuid7Generator) -> Result<Self> {
        if capacity == 0 {
            return Err(KernelError::invalid("capacity", "must be at least 1"));
        }
        Ok(Self {
            capacity,
            policy,
            state: Mutex::new(State {
                columns: Columns::default(),
                ids,
                pushed: 0,
                dropped: 0,
                rejected: 0,
                drained: 0,
                closed: false,
            }),
            space: Condvar::new(),
        })
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Events in the buffer now.
    pub fn len(&self) -> usize {
        self.state.lock().columns.len()
    }

    /// Whether the buffer holds no events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters and size, consistent with each other.
    pub fn stats(&self) -> Stats {
        let s = self.state.lock();
        Stats {
            pushed: s.pushed,
            dropped: s.dropped,
            rejected: s.rejected,
            drained: s.drained,
            len: s.columns.len(),
            capacity: self.capacity,
            closed: s.closed,
        }
    }

    /// Pushes one event without waiting and returns its id. Errors: `Closed`; `Full` under `reject`.
    pub fn try_push(&self, event: &Event<'_>) -> Result<Admission<[u8; ID_LEN]>> {
        let mut s = self.state.lock();
        if !self.make_room(&mut s, 1)? {
            return Ok(Admission::WouldBlock);
        }
        s.pushed += 1;
        let state = &mut *s;
        let id = state
            .columns
            .push_event(event, &mut state.ids, now_ns_since_epoch());
        Ok(Admission::Accepted(id))
    }

    /// Pushes a batch whole, without waiting, and returns how many events it had.
    /// Errors: `Closed`; `Full` under `reject`; `InvalidArgument` under `block` if the
    /// batch is larger than the capacity (it could never fit whole).
    pub fn try_push_batch(&self, batch: &EventBatch<'_>) -> Result<Admission<usize>> {
        let n = batch.len();
        if matches!(self.policy, Policy::Block { .. }) && n > self.capacity {
            return Err(KernelError::invalid(
                "batch",
                format!(
                    "{n} events can never fit whole in a `block` buffer of capacity {}",
                    self.capacity
                ),
            ));
        }
        let mut s = self.state.lock();
        if !self.make_room(&mut s, n)? {
            return Ok(Admission::WouldBlock);
        }
        // Under drop_oldest a batch larger than the buffer keeps only its newest rows,
        // exactly as if its events had been pushed one by one.
        let skipped = n.saturating_sub(self.capacity);
        s.pushed += n as u64;
        s.dropped += skipped as u64;
        let state = &mut *s;
        state
            .columns
            .push_rows(batch, skipped..n, &mut state.ids, now_ns_since_epoch());
        Ok(Admission::Accepted(n))
    }

    /// [`FeedbackBuffer::try_push`], waiting under `block` as the policy says. While it
    /// waits it calls `keep_waiting` every [`WAIT_SLICE`]; `Ok(None)` if that said stop.
    pub fn push_wait(
        &self,
        event: &Event<'_>,
        keep_waiting: &mut dyn FnMut() -> bool,
    ) -> Result<Option<[u8; ID_LEN]>> {
        self.wait_until_admitted(1, keep_waiting, || self.try_push(event))
    }

    /// [`FeedbackBuffer::try_push_batch`], waiting like [`FeedbackBuffer::push_wait`].
    pub fn push_batch_wait(
        &self,
        batch: &EventBatch<'_>,
        keep_waiting: &mut dyn FnMut() -> bool,
    ) -> Result<Option<usize>> {
        self.wait_until_admitted(batch.len(), keep_waiting, || self.try_push_batch(batch))
    }

    /// Removes and returns up to `max_events` (all if `None`) of the oldest events.
    /// Still works after [`FeedbackBuffer::close`], so nothing accepted is lost.
    pub fn drain(&self, max_events: Option<usize>) -> DrainedEvents {
        let mut s = self.state.lock();
        let k = max_events.map_or(s.columns.len(), |m| m.min(s.columns.len()));
        if k == 0 {
            return s.columns.take_front(0);
        }
        s.drained += k as u64;
        let out = s.columns.take_front(k);
        drop(s);
        self.space.notify_all();
        out
    }

    /// Refuses all later pushes with `Closed` and wakes blocked producers (who get `Closed`).
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.space.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Applies the policy so that `n` more events fit. `Ok(false)`: must wait (`block`).
    fn make_room(&self, s: &mut State, n: usize) -> Result<bool> {
        if s.closed {
            return Err(KernelError::Closed);
        }
        let free = self.capacity - s.columns.len();
        if n <= free {
            return Ok(true);
        }
        match self.policy {
            Policy::Block { .. } => Ok(false),
            Policy::Reject => {
                s.rejected += n as u64;
                Err(KernelError::Full {
                    capacity: self.capacity,
                    rejected: n,
                })
            }
            Policy::DropOldest => {
                let evict = (n - free).min(s.columns.len());
                s.columns.drop_front(evict);
                s.dropped += evict as u64;
                Ok(true)
            }
        }
    }

    /// The `block` loop: retry, sleeping on the condvar in slices until the deadline.
    fn wait_until_admitted<T>(
        &self,
        n: usize,
        keep_waiting: &mut dyn FnMut() -> bool,
        mut attempt: impl FnMut() -> Result<Admission<T>>,
    ) -> Result<Option<T>> {
        let timeout = match self.policy {
            Policy::Block { timeout } => timeout,
            _ => None,
        };
        let started = Instant::now();
        let mut last_check = started;
        loop {
            if let Admission::Accepted(value) = attempt()? {
                return Ok(Some(value));
            }
            let waited = started.elapsed();
            let slice = match timeout {
                Some(limit) if waited >= limit => {
                    self.state.lock().rejected += n as u64;
                    return Err(KernelError::Timeout {
                        seconds: limit.as_secs_f64(),
                    });
                }
                Some(limit) => (limit - waited).min(WAIT_SLICE),
                None => WAIT_SLICE,
            };
            {
                let mut s = self.state.lock();
                if !s.closed && self.capacity - s.columns.len() < n {
                    self.space.wait_for(&mut s, slice);
                }
            }
            // Asked once per slice, not on every wake-up, so a busy drainer does not
            // make each blocked producer re-take the GIL at every drain.
            if last_check.elapsed() >= WAIT_SLICE {
                last_check = Instant::now();
                if !keep_waiting() {
                    return Ok(None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

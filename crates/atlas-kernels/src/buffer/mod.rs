//! The FeedbackBuffer: a bounded, thread-safe, many-producer buffer of interaction
//! and feedback events, drained as columns.
//!
//! Producers push one [`Event`] or a columnar [`EventBatch`]; a consumer drains up to
//! N events as [`DrainedEvents`] (one `Vec` per column). A batch is admitted whole or
//! not at all, under one lock, so events keep their order and are never split.
//! When full, the [`Policy`] chosen at construction decides: wait (`block`), refuse
//! (`reject`) or evict the oldest (`drop_oldest`); blocked producers are served in
//! arrival order, so a large batch is never starved by small pushes. Counters obey
//! `pushed - dropped - drained == len` at every instant.

mod columns;
mod event;
mod policy;
mod uuid7;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

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
    /// Tickets of the producers blocked under `block`, oldest first.
    waiters: VecDeque<u64>,
    next_ticket: u64,
}

impl State {
    fn insert_event(&mut self, event: &Event<'_>) -> [u8; ID_LEN] {
        self.pushed += 1;
        self.columns
            .push_event(event, &mut self.ids, now_ns_since_epoch())
    }

    fn insert_batch(&mut self, batch: &EventBatch<'_>, capacity: usize) -> usize {
        let n = batch.len();
        // Under drop_oldest a batch larger than the buffer keeps only its newest rows,
        // exactly as if its events had been pushed one by one.
        let skipped = n.saturating_sub(capacity);
        self.pushed += n as u64;
        self.dropped += skipped as u64;
        self.columns
            .push_rows(batch, skipped..n, &mut self.ids, now_ns_since_epoch());
        n
    }
}

/// The bounded many-producer event buffer. Share it by reference (`&self` methods) across threads.
#[derive(Debug)]
pub struct FeedbackBuffer {
    capacity: usize,
    policy: Policy,
    state: Mutex<State>,
    /// Signalled when space frees up (a drain) or the buffer closes.
    space: Condvar,
    /// Signalled when events arrive or the buffer closes (for `wait_for_events`).
    items: Condvar,
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
                waiters: VecDeque::new(),
                next_ticket: 0,
            }),
            space: Condvar::new(),
            items: Condvar::new(),
        })
    }

    /// The most events the buffer holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The back-pressure policy chosen at construction.
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
        let admitted = self.admit(1, None, |s| s.insert_event(event))?;
        Ok(admitted.map_or(Admission::WouldBlock, Admission::Accepted))
    }

    /// Pushes a batch whole, without waiting, and returns how many events it had.
    /// Errors: `Closed`; `Full` under `reject`; `InvalidArgument` under `block` if the
    /// batch is larger than the capacity (it could never fit whole).
    pub fn try_push_batch(&self, batch: &EventBatch<'_>) -> Result<Admission<usize>> {
        let admitted = self.admit(batch.len(), None, |s| s.insert_batch(batch, self.capacity))?;
        Ok(admitted.map_or(Admission::WouldBlock, Admission::Accepted))
    }

    /// [`FeedbackBuffer::try_push`], waiting under `block` as the policy says. While it
    /// waits it calls `keep_waiting` (without the lock) about every [`WAIT_SLICE`];
    /// `Ok(None)` if that said stop. Blocked producers are served first come, first served.
    pub fn push_wait(
        &self,
        event: &Event<'_>,
        keep_waiting: &mut dyn FnMut() -> bool,
    ) -> Result<Option<[u8; ID_LEN]>> {
        self.admit(1, Some(keep_waiting), |s| s.insert_event(event))
    }

    /// [`FeedbackBuffer::try_push_batch`], waiting like [`FeedbackBuffer::push_wait`].
    pub fn push_batch_wait(
        &self,
        batch: &EventBatch<'_>,
        keep_waiting: &mut dyn FnMut() -> bool,
    ) -> Result<Option<usize>> {
        self.admit(batch.len(), Some(keep_waiting), |s| {
            s.insert_batch(batch, self.capacity)
        })
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
        self.items.notify_all();
    }

    /// Waits until at least `min_events` (capped at the capacity) are buffered or the
    /// buffer is closed (`Some(true)`), or `timeout` passes (`Some(false)`). For a
    /// consumer that flushes in batches. Calls `keep_waiting` like
    /// [`FeedbackBuffer::push_wait`]; `None` if that said stop.
    pub fn wait_for_events(
        &self,
        min_events: usize,
        timeout: Option<Duration>,
        keep_waiting: &mut dyn FnMut() -> bool,
    ) -> Option<bool> {
        let target = min_events.min(self.capacity);
        let started = Instant::now();
        let mut last_check = started;
        let mut s = self.state.lock();
        loop {
            if s.closed || s.columns.len() >= target {
                return Some(true);
            }
            let waited = started.elapsed();
            let slice = match timeout {
                Some(limit) if waited >= limit => return Some(false),
                Some(limit) => (limit - waited).min(WAIT_SLICE),
                None => WAIT_SLICE,
            };
            self.items.wait_for(&mut s, slice);
            if last_check.elapsed() >= WAIT_SLICE {
                last_check = Instant::now();
                if !MutexGuard::unlocked(&mut s, &mut *keep_waiting) {
                    return None;
                }
            }
        }
    }

    /// Whether [`FeedbackBuffer::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Admits `n` events with `insert` once the policy allows. Without `keep_waiting`,
    /// `Ok(None)` means "would block"; with it, the producer queues (FIFO ticket) and
    /// waits, and `Ok(None)` means `keep_waiting` said stop.
    fn admit<T>(
        &self,
        n: usize,
        keep_waiting: Option<&mut dyn FnMut() -> bool>,
        insert: impl FnOnce(&mut State) -> T,
    ) -> Result<Option<T>> {
        let timeout = match self.policy {
            Policy::Block { timeout } => {
                if n > self.capacity {
                    return Err(KernelError::invalid(
                        "batch",
                        format!(
                            "{n} events can never fit whole in a `block` buffer of capacity {}",
                            self.capacity
                        ),
                    ));
                }
                timeout
            }
            _ => None,
        };
        let mut s = self.state.lock();
        if self.has_room(&mut s, n, None)? {
            let inserted = insert(&mut s);
            drop(s);
            self.items.notify_all();
            return Ok(Some(inserted));
        }
        let Some(keep_waiting) = keep_waiting else {
            return Ok(None);
        };
        // Only `block` gets here. Take a place in line so that a large batch is not
        // overtaken forever by a stream of small pushes.
        let ticket = s.next_ticket;
        s.next_ticket += 1;
        s.waiters.push_back(ticket);
        let started = Instant::now();
        let mut last_check = started;
        loop {
            // Checked before every wait, so that a wake-up missed while `keep_waiting`
            // ran (without the lock) costs nothing.
            match self.has_room(&mut s, n, Some(ticket)) {
                Ok(true) => {
                    self.leave_line(&mut s, ticket);
                    let inserted = insert(&mut s);
                    drop(s);
                    self.items.notify_all();
                    return Ok(Some(inserted));
                }
                Ok(false) => {}
                Err(err) => {
                    self.leave_line(&mut s, ticket);
                    return Err(err);
                }
            }
            let waited = started.elapsed();
            let slice = match timeout {
                Some(limit) if waited >= limit => {
                    s.rejected += n as u64;
                    self.leave_line(&mut s, ticket);
                    return Err(KernelError::Timeout {
                        seconds: limit.as_secs_f64(),
                    });
                }
                Some(limit) => (limit - waited).min(WAIT_SLICE),
                None => WAIT_SLICE,
            };
            self.space.wait_for(&mut s, slice);
            // Asked once per slice, not at every wake-up, and without the lock: the
            // binding takes the GIL in there, and a GIL holder may be waiting for the lock.
            if last_check.elapsed() >= WAIT_SLICE {
                last_check = Instant::now();
                if !MutexGuard::unlocked(&mut s, &mut *keep_waiting) {
                    self.leave_line(&mut s, ticket);
                    return Ok(None);
                }
            }
        }
    }

    /// Whether `n` more events may go in now, after applying the policy (`reject`
    /// refuses, `drop_oldest` evicts). `ticket`: the caller's place in the `block` line.
    fn has_room(&self, s: &mut State, n: usize, ticket: Option<u64>) -> Result<bool> {
        if s.closed {
            return Err(KernelError::Closed);
        }
        let free = self.capacity - s.columns.len();
        match self.policy {
            Policy::Block { .. } => {
                let my_turn = match ticket {
                    None => s.waiters.is_empty(),
                    Some(t) => s.waiters.front() == Some(&t),
                };
                Ok(my_turn && n <= free)
            }
            _ if n <= free => Ok(true),
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

    /// Removes `ticket` from the line and lets the next in line look again.
    fn leave_line(&self, s: &mut State, ticket: u64) {
        s.waiters.retain(|&t| t != ticket);
        if !s.waiters.is_empty() {
            self.space.notify_all();
        }
    }
}

#[cfg(test)]
mod tests;

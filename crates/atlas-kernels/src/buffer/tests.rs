//! Unit tests of the buffer's policies, counters and thread safety.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::*;

fn event(tag: u8) -> Event<'static> {
    let mut e = Event::new([tag; 16], tag);
    e.ts_ns = Some(i64::from(tag));
    e.event_id = Some([tag; 16]);
    e
}

fn pushed_tags(out: &DrainedEvents) -> Vec<u8> {
    out.kind.clone()
}

fn push_all(buf: &FeedbackBuffer, tags: impl IntoIterator<Item = u8>) {
    for t in tags {
        assert!(matches!(
            buf.try_push(&event(t)),
            Ok(Admission::Accepted(_))
        ));
    }
}

#[test]
fn capacity_zero_is_refused() {
    assert!(matches!(
        FeedbackBuffer::new(0, Policy::Reject),
        Err(KernelError::InvalidArgument {
            name: "capacity",
            ..
        })
    ));
}

#[test]
fn fills_defaults_and_generates_increasing_ids() {
    let buf = FeedbackBuffer::new(10, Policy::Reject).unwrap();
    let before = now_ns_since_epoch();
    let Ok(Admission::Accepted(id)) = buf.try_push(&Event::new([7; 16], 1)) else {
        panic!()
    };
    let Ok(Admission::Accepted(id2)) = buf.try_push(&Event::new([7; 16], 2)) else {
        panic!()
    };
    assert!(id < id2);
    let out = buf.drain(None);
    assert_eq!(out.event_id_at(0), id);
    assert!(out.ts_ns[0] >= before && out.ts_ns[0] <= now_ns_since_epoch());
    assert!(out.value[0].is_nan());
    assert_eq!(out.key, vec![0, 0]);
    assert_eq!(out.payload_offsets, vec![0, 0, 0]);
    assert!(timestamp_ms(&id) >= (before / 1_000_000) as u64);
}

#[test]
fn reject_refuses_whole_batches_and_counts_them() {
    let buf = FeedbackBuffer::new(3, Policy::Reject).unwrap();
    push_all(&buf, [1, 2]);
    let ids = [0u8; 32];
    let batch = EventBatch::new(&ids, &[3, 4]).unwrap();
    assert_eq!(
        buf.try_push_batch(&batch),
        Err(KernelError::Full {
            capacity: 3,
            rejected: 2
        })
    );
    assert!(matches!(
        buf.try_push(&event(9)),
        Ok(Admission::Accepted(_))
    ));
    assert!(matches!(
        buf.try_push(&event(10)),
        Err(KernelError::Full { .. })
    ));
    let s = buf.stats();
    assert_eq!((s.pushed, s.rejected, s.dropped, s.len), (3, 3, 0, 3));
    assert_eq!(pushed_tags(&buf.drain(None)), vec![1, 2, 9]);
}

#[test]
fn drop_oldest_evicts_and_keeps_the_newest_rows_of_an_oversized_batch() {
    let buf = FeedbackBuffer::new(3, Policy::DropOldest).unwrap();
    push_all(&buf, [1, 2, 3, 4]);
    assert_eq!(buf.stats().dropped, 1);
    let ids = [0u8; 80];
    let batch = EventBatch::new(&ids, &[10, 11, 12, 13, 14]).unwrap();
    assert_eq!(buf.try_push_batch(&batch), Ok(Admission::Accepted(5)));
    let s = buf.stats();
    assert_eq!((s.pushed, s.dropped, s.len), (9, 6, 3));
    assert_eq!(pushed_tags(&buf.drain(Some(2))), vec![12, 13]);
    let s = buf.stats();
    assert_eq!(s.pushed - s.dropped - s.drained, s.len as u64);
}

#[test]
fn block_reports_would_block_then_times_out_counting_rejects() {
    let buf = FeedbackBuffer::new(
        1,
        Policy::Block {
            timeout: Some(Duration::from_millis(30)),
        },
    )
    .unwrap();
    push_all(&buf, [1]);
    assert_eq!(buf.try_push(&event(2)), Ok(Admission::WouldBlock));
    let started = Instant::now();
    let r = buf.push_wait(&event(2), &mut || true);
    assert!(matches!(r, Err(KernelError::Timeout { .. })), "{r:?}");
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert_eq!(buf.stats().rejected, 1);
    let ids = [0u8; 32];
    let too_big = EventBatch::new(&ids, &[1, 2]).unwrap();
    assert!(matches!(
        buf.try_push_batch(&too_big),
        Err(KernelError::InvalidArgument { name: "batch", .. })
    ));
}

#[test]
fn block_wakes_when_a_drain_frees_space() {
    let buf = Arc::new(FeedbackBuffer::new(1, Policy::Block { timeout: None }).unwrap());
    push_all(&buf, [1]);
    let drainer = {
        let buf = Arc::clone(&buf);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            buf.drain(None)
        })
    };
    assert!(buf.push_wait(&event(2), &mut || true).unwrap().is_some());
    assert_eq!(pushed_tags(&drainer.join().unwrap()), vec![1]);
    assert_eq!(pushed_tags(&buf.drain(None)), vec![2]);
}

#[test]
fn a_blocked_push_stops_when_asked_and_close_wakes_it_with_closed() {
    let buf = Arc::new(FeedbackBuffer::new(1, Policy::Block { timeout: None }).unwrap());
    push_all(&buf, [1]);
    let mut calls = 0;
    let r = buf.push_wait(&event(2), &mut || {
        calls += 1;
        calls < 2
    });
    assert_eq!(r, Ok(None));
    let closer = {
        let buf = Arc::clone(&buf);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            buf.close();
        })
    };
    assert_eq!(
        buf.push_wait(&event(3), &mut || true),
        Err(KernelError::Closed)
    );
    closer.join().unwrap();
    assert_eq!(
        pushed_tags(&buf.drain(None)),
        vec![1],
        "drain still returns what is left"
    );
}

#[test]
fn many_producers_and_a_drainer_lose_and_duplicate_nothing() {
    const PRODUCERS: u8 = 4;
    const PER_PRODUCER: usize = 20_000;
    let buf = Arc::new(FeedbackBuffer::new(512, Policy::Block { timeout: None }).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let drainer = {
        let (buf, done) = (Arc::clone(&buf), Arc::clone(&done));
        thread::spawn(move || {
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::Acquire);
                let out = buf.drain(Some(300));
                for i in 0..out.len() {
                    seen.push((out.kind[i], out.key[i]));
                }
                if finished && buf.is_empty() {
                    return seen;
                }
            }
        })
    };
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let buf = Arc::clone(&buf);
            thread::spawn(move || {
                let iid = [p; 16];
                for i in (0..PER_PRODUCER as u64).step_by(2) {
                    let mut e = Event::new([p; 16], p);
                    e.key = i;
                    buf.push_wait(&e, &mut || true).unwrap();
                    let (kind, key) = ([p], [i + 1]);
                    let b = EventBatch::new(&iid, &kind).unwrap().key(&key).unwrap();
                    buf.push_batch_wait(&b, &mut || true).unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let seen = drainer.join().unwrap();
    assert_eq!(seen.len(), PRODUCERS as usize * PER_PRODUCER);
    let unique: HashSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an event was duplicated");
    for p in 0..PRODUCERS {
        let keys: Vec<u64> = seen
            .iter()
            .filter(|(k, _)| *k == p)
            .map(|(_, key)| *key)
            .collect();
        assert_eq!(
            keys,
            (0..PER_PRODUCER as u64).collect::<Vec<_>>(),
            "producer {p} out of order"
        );
    }
    let s = buf.stats();
    assert_eq!(
        (s.pushed, s.drained, s.dropped, s.rejected),
        (seen.len() as u64, seen.len() as u64, 0, 0)
    );
}

#[test]
fn blocked_producers_are_served_in_arrival_order_so_a_batch_is_not_starved() {
    let buf = Arc::new(FeedbackBuffer::new(2, Policy::Block { timeout: None }).unwrap());
    push_all(&buf, [1, 2]);
    let batch_pusher = {
        let buf = Arc::clone(&buf);
        thread::spawn(move || {
            let ids = [0u8; 32];
            let batch = EventBatch::new(&ids, &[10, 10]).unwrap();
            buf.push_batch_wait(&batch, &mut || true).unwrap()
        })
    };
    thread::sleep(Duration::from_millis(50));
    let single_pusher = {
        let buf = Arc::clone(&buf);
        thread::spawn(move || buf.push_wait(&event(20), &mut || true).unwrap())
    };
    thread::sleep(Duration::from_millis(50));
    // One free slot: the single push behind the batch must not take it.
    assert_eq!(pushed_tags(&buf.drain(Some(1))), vec![1]);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(buf.len(), 1, "a later producer jumped the line");
    assert_eq!(pushed_tags(&buf.drain(Some(1))), vec![2]);
    assert_eq!(batch_pusher.join().unwrap(), Some(2));
    assert_eq!(pushed_tags(&buf.drain(None)), vec![10, 10]);
    assert!(single_pusher.join().unwrap().is_some());
    assert_eq!(pushed_tags(&buf.drain(None)), vec![20]);
}

#[test]
fn wait_for_events_returns_when_enough_arrive_on_close_or_on_timeout() {
    let buf = Arc::new(FeedbackBuffer::new(4, Policy::DropOldest).unwrap());
    let started = Instant::now();
    assert_eq!(
        buf.wait_for_events(1, Some(Duration::from_millis(30)), &mut || true),
        Some(false)
    );
    assert!(started.elapsed() >= Duration::from_millis(30));
    let producer = {
        let buf = Arc::clone(&buf);
        thread::spawn(move || {
            for t in 0..3 {
                thread::sleep(Duration::from_millis(10));
                push_all(&buf, [t]);
            }
        })
    };
    assert_eq!(
        buf.wait_for_events(3, Some(Duration::from_secs(10)), &mut || true),
        Some(true)
    );
    assert!(buf.len() >= 3);
    producer.join().unwrap();
    // More than the capacity can never be buffered: capped, so this returns at once.
    push_all(&buf, [3]);
    assert_eq!(
        buf.wait_for_events(100, Some(Duration::ZERO), &mut || true),
        Some(true)
    );
    buf.drain(None);
    let closer = {
        let buf = Arc::clone(&buf);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            buf.close();
        })
    };
    assert_eq!(buf.wait_for_events(1, None, &mut || true), Some(true));
    closer.join().unwrap();
    let empty = FeedbackBuffer::new(4, Policy::Reject).unwrap();
    assert_eq!(empty.wait_for_events(1, None, &mut || false), None);
}

"""FeedbackBuffer under real Python threads: many producers and a drainer lose and duplicate
nothing; a blocked push waits without the GIL, wakes on drain or close, and Ctrl-C interrupts it."""

from __future__ import annotations

import _thread
import contextlib
import threading
import time
import uuid
from collections import Counter

import numpy as np
import pytest

from atlas_core.errors import BufferClosedError, BufferFullError
from atlas_core.kernels.buffer import EventKind, FeedbackBuffer

PRODUCERS = 4
ROUNDS = 1000
BATCH = 7


def producer(buf: FeedbackBuffer, p: int, sent: list[bytes]) -> None:
    """Alternates single pushes (buffer-made ids) and batches (ids chosen here); keys count up."""
    key = 0
    for _ in range(ROUNDS):
        sent.append(buf.push(uuid.uuid4().bytes, EventKind.SIGNAL, key=p << 32 | key))
        key += 1
        eids = np.frombuffer(b"".join(uuid.uuid4().bytes for _ in range(BATCH)), np.uint8).reshape(
            BATCH, 16
        )
        buf.push_batch(
            np.zeros((BATCH, 16), np.uint8),
            np.full(BATCH, EventKind.RATING, np.uint8),
            key=np.arange(key, key + BATCH, dtype=np.uint64) | np.uint64(p << 32),
            event_id=eids,
        )
        sent.extend(row.tobytes() for row in eids)
        key += BATCH


def test_many_producers_one_drainer_every_event_exactly_once_in_order() -> None:
    buf = FeedbackBuffer(64, "block", timeout=30.0)  # small: producers block often
    total = PRODUCERS * ROUNDS * (1 + BATCH)
    sent: list[list[bytes]] = [[] for _ in range(PRODUCERS)]
    received_ids: list[bytes] = []
    received_keys: list[int] = []

    def drainer() -> None:
        while len(received_keys) < total:
            cols = buf.drain_columns(50)
            received_ids.extend(row.tobytes() for row in cols.event_id)
            received_keys.extend(cols.key.tolist())
            if not len(cols):
                time.sleep(0.0005)

    threads = [threading.Thread(target=producer, args=(buf, p, sent[p])) for p in range(PRODUCERS)]
    threads.append(threading.Thread(target=drainer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()

    everything_sent = Counter(i for ids in sent for i in ids)
    assert len(everything_sent) == total, "ids sent were not unique"
    assert Counter(received_ids) == everything_sent, "an event was lost or duplicated"
    for p in range(PRODUCERS):
        keys = [k & 0xFFFFFFFF for k in received_keys if k >> 32 == p]
        assert keys == list(range(ROUNDS * (1 + BATCH))), f"producer {p}'s events out of order"
    assert buf.stats() == {
        "pushed": total,
        "dropped": 0,
        "rejected": 0,
        "drained": total,
        "len": 0,
        "capacity": 64,
    }


@pytest.mark.parametrize("policy", ["reject", "drop_oldest"])
def test_concurrent_reject_and_drop_oldest_account_for_every_event(policy: str) -> None:
    buf = FeedbackBuffer(16, policy)
    accepted: list[list[bytes]] = [[] for _ in range(PRODUCERS)]
    received: list[bytes] = []
    done = threading.Event()

    def produce(p: int) -> None:
        for _ in range(2000):
            with contextlib.suppress(BufferFullError):
                accepted[p].append(buf.push(b"p" * 16, p))

    def drain() -> None:
        while not done.is_set() or len(buf):
            received.extend(row.tobytes() for row in buf.drain_columns(5).event_id)

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(PRODUCERS)]
    drainer = threading.Thread(target=drain)
    for t in [*threads, drainer]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    drainer.join()

    everything = {i for ids in accepted for i in ids}
    stats = buf.stats()
    assert len(received) == len(set(received)), "an event was drained twice"
    assert set(received) <= everything, "a drained event was never accepted"
    assert stats["pushed"] == len(everything)
    assert stats["drained"] == len(received)
    assert stats["pushed"] + stats["rejected"] == PRODUCERS * 2000
    assert stats["pushed"] - stats["dropped"] == len(received)
    if policy == "reject":
        assert stats["dropped"] == 0
        assert set(received) == everything


def test_a_blocked_push_releases_the_gil_and_completes_after_a_drain() -> None:
    buf = FeedbackBuffer(1, "block", timeout=10.0)
    buf.push(b"a" * 16, 1)
    drained: list[int] = []

    def drain_later() -> None:
        time.sleep(0.1)  # needs the GIL: runs only if the blocked push released it
        drained.extend(buf.drain_columns().kind.tolist())

    t = threading.Thread(target=drain_later)
    t.start()
    started = time.monotonic()
    buf.push(b"b" * 16, 2)
    t.join()
    assert drained == [1]
    assert time.monotonic() - started < 5
    assert buf.drain_columns().kind.tolist() == [2]


def test_close_wakes_a_blocked_producer_with_closed() -> None:
    buf = FeedbackBuffer(1, "block")
    buf.push(b"a" * 16, 1)
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            buf.push_batch(np.zeros((1, 16), np.uint8), np.ones(1, np.uint8))
        except BaseException as err:
            errors.append(err)

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.1)
    buf.close()
    t.join(timeout=5)
    assert not t.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], BufferClosedError)
    assert buf.drain_columns().kind.tolist() == [1]


def test_ctrl_c_interrupts_a_push_blocked_forever() -> None:
    buf = FeedbackBuffer(1, "block")  # no timeout: only Ctrl-C (or a drain) ends the wait
    buf.push(b"a" * 16, 1)
    rescue = threading.Timer(10.0, buf.drain)  # if the interrupt is missed, fail instead of hanging
    interrupt = threading.Timer(0.2, _thread.interrupt_main)
    rescue.start()
    interrupt.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            buf.push(b"b" * 16, 2)
    finally:
        rescue.cancel()
        interrupt.cancel()
    assert time.monotonic() - started < 5
    assert len(buf) == 1
    assert buf.pushed == 1


def test_wait_for_events_wakes_on_arrivals_and_close_and_times_out() -> None:
    buf = FeedbackBuffer(8, "reject")
    started = time.monotonic()
    assert buf.wait_for_events(1, timeout=0.1) is False
    assert time.monotonic() - started >= 0.1

    def produce() -> None:
        for i in range(3):
            time.sleep(0.02)
            buf.push(b"w" * 16, i)

    producer_thread = threading.Thread(target=produce)
    producer_thread.start()
    assert buf.wait_for_events(3, timeout=10) is True  # waits without the GIL
    producer_thread.join()
    assert len(buf) == 3
    buf.drain()
    closer = threading.Timer(0.05, buf.close)
    closer.start()
    assert buf.wait_for_events(timeout=10) is True
    closer.join()


def test_ctrl_c_interrupts_wait_for_events() -> None:
    buf = FeedbackBuffer(4)
    interrupt = threading.Timer(0.2, _thread.interrupt_main)
    rescue = threading.Timer(10.0, buf.close)
    interrupt.start()
    rescue.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            buf.wait_for_events()
    finally:
        interrupt.cancel()
        rescue.cancel()

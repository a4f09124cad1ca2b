"""The embedded transport: flush semantics, concurrency, retries, policies, exit flush."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from atlas_core.errors import BufferClosedError, BufferFullError, InvalidArgumentError
from atlas_core.kernels.buffer import EventKind
from atlas_core.sdk import EmbeddedTransport, Recorder, Transport
from atlas_core.store import Store, StoreError, WriteResult, open_store


class FlakyStore:
    """Delegates to a real store; the first ``failures`` writes raise a transient error.

    With ``apply_before_failing`` the write is committed and *then* the error raised, as when
    a connection drops after the commit: the retry must not duplicate anything.
    """

    def __init__(self, inner: Store, failures: int, *, apply_before_failing: bool = False):
        self.inner = inner
        self.failures = failures
        self.apply_before_failing = apply_before_failing
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()

    def _write(self, write: Any, frame: pl.DataFrame) -> WriteResult:
        self.gate.wait()
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            if self.apply_before_failing:
                write(frame)
            raise StoreError("database is locked")
        return write(frame)

    def write_interactions(self, frame: pl.DataFrame) -> WriteResult:
        return self._write(self.inner.write_interactions, frame)

    def write_feedback(self, frame: pl.DataFrame) -> WriteResult:
        return self._write(self.inner.write_feedback, frame)

    def close(self) -> None:
        self.inner.close()


def _recorder(store: Any, **options: Any) -> Recorder:
    options.setdefault("flush_interval", 0.01)
    options.setdefault("retry_base", 0.005)
    return Recorder(EmbeddedTransport(store, **options))


def test_is_a_transport(recorder: Recorder) -> None:
    assert isinstance(recorder.transport, Transport)


def test_flush_returns_only_when_everything_before_it_is_stored(store: Store) -> None:
    rec = _recorder(store, flush_interval=0.5, batch_size=50)
    ids = [rec.record_interaction(input=f"q{i}", output="a") for i in range(120)]
    assert store.interactions("default").height < 120  # not yet: the flusher waits
    assert rec.flush(10)
    stored = {uuid.UUID(bytes=b) for b in store.interactions("default")["id"]}
    assert stored == set(ids)
    stats = rec.transport.stats()
    assert (stats.accepted, stats.delivered, stats.pending, stats.failed) == (120, 120, 0, 0)
    assert rec.close(10)


def test_flush_times_out_while_the_store_is_stuck(store: Store) -> None:
    stuck = FlakyStore(store, failures=0)
    stuck.gate.clear()
    rec = _recorder(stuck)
    rec.record_interaction(input="q", output="a")
    started = time.monotonic()
    assert rec.flush(0.2) is False
    assert time.monotonic() - started < 2
    assert rec.transport.stats().pending == 1
    stuck.gate.set()
    assert rec.flush(10)
    assert store.interactions("default").height == 1
    rec.close(10)


def test_flush_with_nothing_recorded_is_immediate(recorder: Recorder) -> None:
    started = time.monotonic()
    assert recorder.flush(5)
    assert time.monotonic() - started < 0.5


def test_many_threads_exact_counts_no_duplicates(store: Store) -> None:
    rec = _recorder(store, batch_size=256, capacity=4096)
    threads, per_thread = 8, 500
    made: list[list[uuid.UUID]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            iid = rec.record_interaction(input=f"t{t}-{i}", output="a", learning_key=f"k{t}")
            made[t].append(iid)
            rec.signal(iid, "copy")

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert rec.flush(30)
    inter = store.interactions("default")
    feedback = store.feedback("default")
    total = threads * per_thread
    assert inter.height == total
    assert inter["id"].n_unique() == total
    assert feedback.height == total
    assert feedback["id"].n_unique() == total
    assert {uuid.UUID(bytes=b) for b in inter["id"]} == {i for ids in made for i in ids}
    assert set(feedback["interaction_id"].to_list()) == set(inter["id"].to_list())
    counts = inter.group_by("learning_key").len().sort("learning_key")
    assert counts["len"].to_list() == [per_thread] * threads
    stats = rec.transport.stats()
    assert (stats.delivered, stats.duplicates, stats.failed) == (2 * total, 0, 0)
    rec.close(10)


@pytest.mark.parametrize("apply_before_failing", [False, True])
def test_transient_failures_are_retried_without_loss_or_duplicates(
    store: Store, apply_before_failing: bool
) -> None:
    flaky = FlakyStore(store, failures=3, apply_before_failing=apply_before_failing)
    rec = _recorder(flaky, batch_size=1000, flush_interval=0.05)
    ids = [rec.record_interaction(input=f"q{i}", output="a") for i in range(300)]
    for iid in ids[:50]:
        rec.rate(iid, 5)
    assert rec.flush(30)
    inter = store.interactions("default")
    assert inter.height == 300
    assert inter["id"].n_unique() == 300
    assert store.feedback("default").height == 50
    stats = rec.transport.stats()
    assert stats.retries == 3
    assert stats.failed == 0
    assert stats.delivered == 350
    if apply_before_failing:
        assert stats.duplicates > 0  # the retry re-sent committed ids; the store skipped them
    else:
        assert stats.duplicates == 0
    rec.close(10)


def test_gives_up_after_max_retries_and_counts_the_loss(store: Store) -> None:
    flaky = FlakyStore(store, failures=100)
    rec = _recorder(flaky, max_retries=2)
    rec.record_interaction(input="q", output="a")
    assert rec.flush(10)  # settled: counted as failed, the flusher moved on
    stats = rec.transport.stats()
    assert (stats.failed, stats.retries, stats.delivered) == (1, 2, 0)
    flaky.failures = 0
    rec.record_interaction(input="q2", output="a")
    assert rec.flush(10)
    assert store.interactions("default")["output"].to_list() == ["a"]
    rec.close(10)


def test_a_row_the_store_rejects_costs_only_that_row(store: Store) -> None:
    transport = EmbeddedTransport(store, flush_interval=0.01)
    rec = Recorder(transport)
    good = rec.record_interaction(input="q", output="a")
    # An event the SDK would never encode: a rating whose value lies off its scale.
    bad_payload = (
        b'{"tenant_id":"default","source":"sdk","metadata":"{}","scale_min":1.0,"scale_max":5.0}\n'
    )
    transport.send(good.bytes, EventKind.RATING, 9.0, 0, bad_payload, time.time_ns())
    ok = rec.rate(good, 3)
    assert rec.flush(10)
    assert {uuid.UUID(bytes=b) for b in store.feedback("default")["id"]} == {ok}
    stats = transport.stats()
    assert (stats.failed, stats.delivered) == (1, 2)
    rec.close(10)


def test_undecodable_events_are_counted_not_fatal(store: Store) -> None:
    transport = EmbeddedTransport(store, flush_interval=0.01)
    transport.send(uuid.uuid4().bytes, EventKind.COMMENT, 0.0, 0, b"not json", time.time_ns())
    assert transport.flush(10)
    assert transport.stats().failed == 1
    rec = Recorder(transport)
    rec.record_interaction(input="q", output="a")
    assert rec.flush(10)
    assert store.interactions("default").height == 1
    transport.close(10)


def test_reject_policy_raises_when_full(store: Store) -> None:
    stuck = FlakyStore(store, failures=0)
    stuck.gate.clear()
    rec = _recorder(stuck, capacity=4, policy="reject", batch_size=1)
    accepted = 0

    def fill() -> None:
        nonlocal accepted
        for i in range(20):
            rec.record_interaction(input=f"q{i}", output="a")
            accepted += 1

    with pytest.raises(BufferFullError):
        fill()
    # The capacity, plus at most the one event the flusher holds at the stuck store.
    assert 4 <= accepted <= 5
    assert rec.transport.stats().rejected == 1
    stuck.gate.set()
    assert rec.flush(10)
    rec.close(10)


def test_block_policy_times_out_then_recovers(store: Store) -> None:
    stuck = FlakyStore(store, failures=0)
    stuck.gate.clear()
    rec = _recorder(stuck, capacity=2, policy="block", block_timeout=0.05, batch_size=1)

    def fill() -> None:
        for i in range(10):
            rec.record_interaction(input=f"q{i}", output="a")

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        fill()
    assert time.monotonic() - started < 2  # waited about block_timeout, not forever
    assert rec.transport.stats().rejected == 1
    stuck.gate.set()
    assert rec.flush(10)
    assert store.interactions("default").height == rec.transport.stats().delivered
    rec.close(10)


def test_drop_oldest_policy_settles_dropped_events(store: Store) -> None:
    stuck = FlakyStore(store, failures=0)
    stuck.gate.clear()
    rec = _recorder(stuck, capacity=3, policy="drop_oldest", batch_size=1)
    for i in range(20):
        rec.record_interaction(input=f"q{i}", output="a")
    stuck.gate.set()
    assert rec.flush(10)  # dropped events count as settled, so flush completes
    stats = rec.transport.stats()
    assert stats.dropped > 0
    assert stats.delivered + stats.dropped == 20
    assert store.interactions("default").height == stats.delivered
    rec.close(10)


def test_close_flushes_then_refuses_sends(store: Store) -> None:
    rec = _recorder(store, flush_interval=1.0)
    for i in range(10):
        rec.record_interaction(input=f"q{i}", output="a")
    assert rec.close(10)
    assert store.interactions("default").height == 10
    with pytest.raises(BufferClosedError):
        rec.record_interaction(input="late", output="a")
    assert rec.close(10)  # idempotent


def test_owned_store_is_closed_with_the_transport(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'owned.db'}"
    rec = Recorder.embedded(url, tenant_id="acme", flush_interval=0.01)
    rec.record_interaction(input="q", output="a")
    assert rec.close(10)
    with open_store(url) as check:
        assert check.interactions("acme").height == 1
        assert check.interactions("default").height == 0


@pytest.mark.parametrize(
    ("option", "value"),
    [("policy", "sometimes"), ("batch_size", 0), ("flush_interval", 0), ("max_retries", -1)],
)
def test_bad_options_raise_naming_the_argument(store: Store, option: str, value: Any) -> None:
    with pytest.raises(InvalidArgumentError, match=option):
        EmbeddedTransport(store, **{option: value})


def test_interpreter_exit_flushes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    script = textwrap.dedent(
        f"""
        import atlas_core
        atlas_core.configure(store={url!r}, flush_interval=5.0)
        agent = atlas_core.wrap(lambda q: q + "!", learning_key="exit")
        for i in range(500):
            agent(f"q{{i}}")
            atlas_core.signal(atlas_core.last_interaction_id(), "copy")
        # no flush, no close: the atexit hook must deliver everything
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with open_store(url) as check:
        assert check.interactions("default").height == 500
        assert check.feedback("default").height == 500


def test_a_wholly_bad_batch_costs_n_log_n_not_n_squared(store: Store) -> None:
    counting = FlakyStore(store, failures=0)
    transport = EmbeddedTransport(counting, flush_interval=0.01, batch_size=256)
    bad = (
        b'{"tenant_id":"default","source":"sdk","metadata":"{}","scale_min":1.0,"scale_max":5.0}\n'
    )
    target = uuid.uuid4().bytes
    stuck_gate = counting.gate
    stuck_gate.clear()  # hold the flusher so the whole lot arrives as one batch
    for _ in range(256):
        transport.send(target, EventKind.RATING, 9.0, 0, bad, time.time_ns())
    good = Recorder(transport).rate(target, 2)
    stuck_gate.set()
    assert transport.flush(30)
    stats = transport.stats()
    assert (stats.failed, stats.delivered) == (256, 1)
    assert {uuid.UUID(bytes=b) for b in store.feedback("default")["id"]} == {good}
    # Splitting in halves around each bad row: far fewer than the 256 * 257 / 2 rows of
    # a one-by-one retry; about 2 writes per bad row.
    assert counting.calls <= 4 * 257
    transport.close(10)


def test_async_feedback_on_a_full_blocking_buffer_does_not_stall_the_loop(store: Store) -> None:
    import asyncio

    stuck = FlakyStore(store, failures=0)
    stuck.gate.clear()
    rec = _recorder(stuck, capacity=2, policy="block", block_timeout=5.0, batch_size=1)
    target = uuid.uuid4()
    for _ in range(2):  # fill; let the flusher take one to the stuck store; fill again
        while rec.transport.has_room():
            rec.signal(target, "copy")
        time.sleep(0.1)
    assert not rec.transport.has_room()

    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        pending = asyncio.create_task(rec.arate(target, 3))
        await asyncio.sleep(0.2)
        assert not pending.done()  # waiting for space, on a worker thread
        seen = ticks
        stuck.gate.set()  # the store recovers: space frees up, the rating goes in
        await asyncio.wait_for(pending, 5)
        task.cancel()
        return seen

    ticks_while_blocked = asyncio.run(main())
    assert ticks_while_blocked >= 5  # the loop kept running while the push waited
    assert rec.flush(10)
    assert store.feedback("default")["kind"].to_list().count("rating") == 1
    rec.close(10)


def test_a_chosen_interaction_id_is_kept_and_a_retry_stores_one_row(store: Store) -> None:
    recorder = _recorder(store)
    chosen = uuid.UUID("01890000-0000-7000-8000-000000000001")
    for _ in range(2):  # the caller retries the same call
        got = recorder.record_interaction(
            input="q", output="a", learning_key="k", interaction_id=str(chosen)
        )
        assert got == chosen
    recorder.flush()
    rows = store.interactions("default")
    assert [bytes(i) for i in rows["id"]] == [chosen.bytes]
    with pytest.raises(InvalidArgumentError, match="`interaction_id`"):
        recorder.record_interaction(input="q", output="a", interaction_id="not-a-uuid")
    recorder.close()
    assert store.interactions("default").height == 1  # the refused call stored nothing

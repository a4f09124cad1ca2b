"""SDK recording overhead: ``wrap`` on the embedded transport vs writing each call to the store.

Run: ``uv run pytest benchmarks/bench_sdk.py --benchmark-enable``.

Hot path ``sdk.record``: 1,000 calls of a trivial agent (it returns a fixed answer, so the
time is the recording's) with a typical chat input, on a real SQLite store in a temp dir.

- ``impl="atlas"``: the agent wrapped with :func:`atlas_core.wrap` on an embedded recorder;
  each call times the agent, encodes one event and pushes it to the native buffer; the
  background flusher writes batches to the store. The untimed setup between rounds flushes,
  so every round starts from an empty buffer (the flusher's work is not hidden in a backlog
  that a later round pays for).
- ``impl="sync-store-write"``: the baseline without an SDK buffer: the same agent, and after
  each call one ``Interaction`` model written with ``store.write_interactions([...])`` (a
  committed write per call, as a naive synchronous logger does).

Hot path ``sdk.feedback``: 1,000 ``rate`` calls, the same two ways.

Both assert that everything they recorded is stored, with the right fields, before timing.

Measured on the shared 2-core development machine (load average ~4), mean per 1,000 calls:

- sdk.record: atlas 6.8-10.9 ms (6.8-10.9 us a call; the bare agent call is 0.07 us) vs
  sync-store-write 2.06-2.47 s (about 2 ms a call, one SQLite commit each): 189-364x.
- sdk.feedback: atlas 5.1-7.1 ms (5-7 us a rating) vs sync-store-write 2.97-3.36 s: 475-583x.

Sustained (100,000 wrapped calls in a loop, then ``flush``; /tmp script, not a benchmark):
11 us a call with the flusher writing concurrently, ~44,000 interactions/s stored end to end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from atlas_core import wrap
from atlas_core.ids import new_id
from atlas_core.sdk import EmbeddedTransport, Recorder
from atlas_core.store import Store, open_store
from atlas_core.types import Feedback, FeedbackKind, Interaction

CALLS = 1_000
SMOKE_CALLS = 50  # the normal test run: each body once, quickly
QUESTION = [
    {"role": "system", "content": "You are a helpful support agent for Acme."},
    {"role": "user", "content": "How do I reset my password? I tried the link twice."},
]
ANSWER = "Open Settings → Security, choose 'Reset password' and follow the e-mailed link."


def agent(messages: list[dict[str, str]]) -> str:
    """The agent under test: no work of its own, so only recording is measured."""
    return ANSWER


@pytest.fixture
def calls(request: pytest.FixtureRequest) -> int:
    """Calls per timed round: the full count with ``--benchmark-enable``, few otherwise."""
    config = request.config
    full = config.getoption("benchmark_enable") and not config.getoption("benchmark_skip")
    return CALLS if full else SMOKE_CALLS


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'bench.db'}")
    yield opened
    opened.close()


@pytest.fixture
def recorder(store: Store) -> Iterator[Recorder]:
    rec = Recorder(EmbeddedTransport(store, capacity=100_000, batch_size=1_000))
    yield rec
    rec.close(30)


def _sync_store_writer(store: Store) -> Callable[[list[dict[str, str]]], str]:
    """The baseline: the agent, then one committed store write per call."""

    def call(messages: list[dict[str, str]]) -> str:
        started = time.perf_counter_ns()
        answer = agent(messages)
        row = {
            "input": messages,
            "output": answer,
            "learning_key": "support",
            "model_version": "m1",
            "prompt_version": "p1",
            "latency_ms": (time.perf_counter_ns() - started) / 1e6,
        }
        store.write_interactions([Interaction.model_validate(row)])
        return answer

    return call


def _calls(fn: Callable[[list[dict[str, str]]], str], n: int) -> None:
    for _ in range(n):
        fn(QUESTION)


def bench_record_atlas(benchmark: Any, recorder: Recorder, store: Store, calls: int) -> None:
    wrapped = wrap(
        agent, learning_key="support", model_version="m1", prompt_version="p1", recorder=recorder
    )
    _calls(wrapped, calls)
    assert recorder.flush(30)
    rows = store.interactions("default")
    assert rows.height == calls
    assert rows["output"].unique().to_list() == [ANSWER]
    assert rows["learning_key"].unique().to_list() == ["support"]
    benchmark.group = "sdk.record"
    benchmark.extra_info.update(impl="atlas", items=calls, targets={"sync-store-write": 10.0})
    benchmark.pedantic(
        _calls, args=(wrapped, calls), setup=lambda: recorder.flush(30) and None, rounds=30
    )
    assert recorder.flush(30)
    assert recorder.transport.stats().failed == 0


def bench_record_sync_store_write(benchmark: Any, store: Store, calls: int) -> None:
    call = _sync_store_writer(store)
    _calls(call, calls)
    rows = store.interactions("default")
    assert rows.height == calls
    assert rows["output"].unique().to_list() == [ANSWER]
    benchmark.group = "sdk.record"
    benchmark.extra_info.update(impl="sync-store-write", items=calls)
    benchmark.pedantic(_calls, args=(call, calls), rounds=5)


def bench_feedback_atlas(benchmark: Any, recorder: Recorder, store: Store, calls: int) -> None:
    target = new_id()

    def rate_all() -> None:
        for i in range(calls):
            recorder.rate(target, 1 + i % 5)

    rate_all()
    assert recorder.flush(30)
    values = store.feedback("default")["value"]
    assert values.len() == calls
    assert values.sum() == 3 * calls
    benchmark.group = "sdk.feedback"
    benchmark.extra_info.update(impl="atlas", items=calls)
    benchmark.pedantic(rate_all, setup=lambda: recorder.flush(30) and None, rounds=30)
    assert recorder.flush(30)


def bench_feedback_sync_store_write(benchmark: Any, store: Store, calls: int) -> None:
    target = new_id()

    def rate_all() -> None:
        for i in range(calls):
            row = {
                "interaction_id": target,
                "kind": FeedbackKind.RATING,
                "value": 1 + i % 5,
                "scale_min": 1,
                "scale_max": 5,
                "source": "sdk",
            }
            store.write_feedback([Feedback.model_validate(row)])

    rate_all()
    values = store.feedback("default")["value"]
    assert values.len() == calls
    assert values.sum() == 3 * calls
    benchmark.group = "sdk.feedback"
    benchmark.extra_info.update(impl="sync-store-write", items=calls)
    benchmark.pedantic(rate_all, rounds=5)

"""The ingest pipeline over a real SQLite store: validation, tenancy, group commit, limits."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from atlas_core.config import ServeConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.serve.errors import (
    LimitExceededError,
    OverloadedError,
    RateLimitedError,
    ShuttingDownError,
    StoreUnavailableError,
)
from atlas_core.serve.loadgen import sdk_columns
from atlas_core.serve.metrics import ServeMetrics
from atlas_core.serve.pipeline import IngestPipeline
from atlas_core.store import BatchValidationError, PreparedEvents, Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'atlas.db'}")
    yield opened
    opened.close()


def _pipeline(store: Store, **limits: Any) -> IngestPipeline:
    return IngestPipeline(store, ServeConfig(**limits), ServeMetrics())


@pytest.fixture
def pipeline(store: Store) -> Iterator[IngestPipeline]:
    p = _pipeline(store)
    yield p
    p.close(10)


def _interaction(**fields: Any) -> dict[str, Any]:
    return {"learning_key": "qa", "input": "hi", "output": "hello", **fields}


def _rating(interaction_id: uuid.UUID, value: float = 4, **fields: Any) -> dict[str, Any]:
    return {"interaction_id": str(interaction_id), "kind": "rating", "value": value, **fields}


def test_typed_events_are_committed_with_the_callers_tenant(
    pipeline: IngestPipeline, store: Store
) -> None:
    result = pipeline.submit(
        "acme", rate_key="k", interactions=[_interaction(), _interaction(user_id="u")]
    ).result(10)
    assert result.accepted == 2
    assert result.rejected == ()
    first = result.interaction_ids[0]
    fb = pipeline.submit("acme", rate_key="k", feedback=[_rating(first)]).result(10)
    assert fb.accepted == 1
    stored = store.interactions("acme")
    assert stored.height == 2
    assert set(stored["id"].to_list()) == {i.bytes for i in result.interaction_ids}
    assert store.interactions("default").height == 0
    rating = store.feedback("acme").row(0, named=True)
    assert rating["interaction_id"] == first.bytes
    assert (rating["value"], rating["scale_min"], rating["scale_max"]) == (4.0, 1.0, 5.0)
    assert rating["source"] == "api"


def test_bad_events_are_named_and_their_neighbours_committed(
    pipeline: IngestPipeline, store: Store
) -> None:
    good = uuid.uuid4()
    events = [
        _interaction(id=str(good)),
        _interaction(latency_ms="slow"),
        {"input": "x", "output": "y"},  # no learning key
        _interaction(prompt_tokens=-3),
        _interaction(surprise=1),
        _interaction(output="\ud800"),
        _interaction(created_at="yesterday"),
        _interaction(tenant_id="other"),
        "not an object",
    ]
    result = pipeline.submit("acme", rate_key="k", interactions=events).result(10)  # type: ignore[list-item]
    assert result.accepted == 1
    got = {(e.index, e.field) for e in result.rejected}
    assert got == {
        (1, "latency_ms"),
        (2, "learning_key"),
        (3, "prompt_tokens"),
        (4, "surprise"),
        (5, "output"),
        (6, "created_at"),
        (7, "tenant_id"),
        (8, "interaction"),
    }
    assert all(e.kind == "interaction" and e.reason for e in result.rejected)
    assert store.interactions("acme")["id"].to_list() == [good.bytes]


def test_feedback_value_rules(pipeline: IngestPipeline) -> None:
    iid = pipeline.submit("acme", rate_key="k", interactions=[_interaction()]).result(10)
    target = iid.interaction_ids[0]
    feedback = [
        _rating(target, 9),  # off its 1..5 scale
        _rating(target, float("nan")),
        {"interaction_id": str(target), "kind": "signal", "name": "copy"},
        {"interaction_id": str(target), "kind": "edit"},  # no text
        {"interaction_id": str(target), "kind": "applause"},
        {"interaction_id": "not-a-uuid", "kind": "signal", "name": "copy"},
        _rating(target, 0.5, scale_min=0, scale_max=1),
    ]
    result = pipeline.submit("acme", rate_key="k", feedback=feedback).result(10)
    assert result.accepted == 2
    assert {(e.index, e.field) for e in result.rejected} == {
        (0, "value"),
        (1, "value"),
        (3, "text"),
        (4, "kind"),
        (5, "interaction_id"),
    }


def test_feedback_must_be_about_an_interaction_of_the_same_tenant(
    pipeline: IngestPipeline, store: Store
) -> None:
    theirs = pipeline.submit("globex", rate_key="g", interactions=[_interaction()]).result(10)
    other = theirs.interaction_ids[0]
    result = pipeline.submit(
        "acme", rate_key="a", feedback=[_rating(other), _rating(uuid.uuid4())]
    ).result(10)
    assert result.accepted == 0
    assert [(e.index, e.field) for e in result.rejected] == [
        (0, "interaction_id"),
        (1, "interaction_id"),
    ]
    assert "unknown interaction" in result.rejected[0].reason
    assert store.feedback("globex").height == 0
    assert store.feedback("acme").height == 0


def test_feedback_may_ride_with_its_interaction_or_follow_a_stored_one(
    tmp_path: Path, store: Store
) -> None:
    own = uuid.uuid4()
    pipeline = _pipeline(store)
    both = pipeline.submit(
        "acme",
        rate_key="k",
        interactions=[_interaction(id=str(own))],
        feedback=[_rating(own)],
    ).result(10)
    assert both.accepted == 2
    pipeline.close(10)
    # A fresh pipeline has no memory of it: the store answers.
    fresh = _pipeline(store)
    later = fresh.submit("acme", rate_key="k", feedback=[_rating(own, 2)]).result(10)
    fresh.close(10)
    assert later.accepted == 1
    assert store.feedback("acme").height == 2


def test_a_retry_with_the_same_ids_is_stored_once_and_counted(
    pipeline: IngestPipeline, store: Store
) -> None:
    events = [_interaction(id=str(uuid.uuid4())) for _ in range(5)]
    first = pipeline.submit("acme", rate_key="k", interactions=events).result(10)
    again = pipeline.submit("acme", rate_key="k", interactions=events).result(10)
    assert (first.accepted, first.duplicates) == (5, 0)
    assert (again.accepted, again.duplicates) == (5, 5)
    assert again.interaction_ids == first.interaction_ids
    assert store.interactions("acme").height == 5


def test_one_id_twice_in_a_commit_is_stored_once(pipeline: IngestPipeline, store: Store) -> None:
    same = str(uuid.uuid4())
    events = [_interaction(id=same), _interaction(), _interaction(id=same, output="again")]
    result = pipeline.submit("acme", rate_key="k", interactions=events).result(10)
    assert (result.accepted, result.duplicates) == (3, 1)
    stored = store.interactions("acme")
    assert stored.height == 2
    assert stored.filter(pl.col("id") == uuid.UUID(same).bytes)["output"].to_list() == ["hello"]


def test_sdk_columns_are_committed_under_the_callers_tenant(
    pipeline: IngestPipeline, store: Store
) -> None:
    columns, ids = sdk_columns("claimed-by-payload", 20)
    result = pipeline.submit_columns("acme", rate_key="k", columns=columns).result(10)
    assert (result.accepted, result.rejected) == (40, ())
    assert result.interaction_ids == ()  # the client minted them all
    assert set(store.interactions("acme")["id"].to_list()) == {i.bytes for i in ids}
    assert store.interactions("acme").height == 20
    assert store.feedback("acme").height == 20
    assert store.interactions("claimed-by-payload").height == 0


def test_limits_refuse_the_whole_request(store: Store) -> None:
    small = _pipeline(store, max_batch_events=3)
    with pytest.raises(LimitExceededError, match="max_batch_events"):
        small.submit("acme", rate_key="k", interactions=[_interaction()] * 4)
    small.close(10)
    limited = _pipeline(store, rate_limit_events_per_s=1.0, rate_limit_burst=5)
    limited.submit("acme", rate_key="k", interactions=[_interaction()] * 5).result(10)
    with pytest.raises(RateLimitedError) as info:
        limited.submit("acme", rate_key="k", interactions=[_interaction()])
    assert 0 < info.value.retry_after_s <= 1.0
    # Another key has its own bucket.
    limited.submit("acme", rate_key="other", interactions=[_interaction()]).result(10)
    limited.close(10)
    assert store.interactions("acme").height == 6


class _SlowStore:
    """The real store, with writes held until released (to fill the queue)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.gate = threading.Event()
        self.failures = 0

    def write_events(self, prepared: PreparedEvents) -> Any:
        self.gate.wait(10)
        if self.failures:
            self.failures -= 1
            raise OSError("disk unplugged")
        return self._store.write_events(prepared)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_overload_answers_with_a_retry_hint_and_loses_nothing_taken(store: Store) -> None:
    slow = _SlowStore(store)
    pipeline = IngestPipeline(slow, ServeConfig(buffer_capacity=10), ServeMetrics())  # type: ignore[arg-type]
    taken = [pipeline.submit("acme", rate_key="k", interactions=[_interaction()] * 5)]
    taken.append(pipeline.submit("acme", rate_key="k", interactions=[_interaction()] * 5))
    with pytest.raises(OverloadedError) as info:
        pipeline.submit("acme", rate_key="k", interactions=[_interaction()] * 5)
    assert info.value.retry_after_s > 0
    slow.gate.set()
    assert sum(f.result(10).accepted for f in taken) == 10
    assert pipeline.close(10)
    assert store.interactions("acme").height == 10


def test_a_failing_store_is_retried_then_reported_unavailable(store: Store) -> None:
    slow = _SlowStore(store)
    slow.gate.set()
    pipeline = IngestPipeline(slow, ServeConfig(), ServeMetrics())  # type: ignore[arg-type]
    slow.failures = 2  # transient: retried inside the pipeline
    ok = pipeline.submit("acme", rate_key="k", interactions=[_interaction()]).result(10)
    assert ok.accepted == 1
    assert pipeline.ready
    slow.failures = 100  # persistent: the request fails, the client retries later
    with pytest.raises(StoreUnavailableError):
        pipeline.submit("acme", rate_key="k", interactions=[_interaction()]).result(30)
    assert not pipeline.ready
    slow.failures = 0
    pipeline.submit("acme", rate_key="k", interactions=[_interaction()]).result(10)
    assert pipeline.ready
    pipeline.close(10)
    assert store.interactions("acme").height == 2


def test_concurrent_requests_share_commits_and_close_drains(store: Store) -> None:
    metrics = ServeMetrics()
    pipeline = IngestPipeline(store, ServeConfig(), metrics)
    futures = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(50):
            f = pipeline.submit("acme", rate_key="k", interactions=[_interaction()] * 4)
            with lock:
                futures.append(f)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pipeline.close(30)
    assert all(f.done() for f in futures)
    assert sum(f.result().accepted for f in futures) == 800
    assert store.interactions("acme").height == 800
    commits = metrics.commit_events.collect()[0]
    count = next(s.value for s in commits.samples if s.name.endswith("_count"))
    assert count < 200  # group commit: fewer transactions than requests
    with pytest.raises(ShuttingDownError):
        pipeline.submit("acme", rate_key="k", interactions=[_interaction()])


def test_a_broken_column_batch_fails_alone_in_its_commit(store: Store) -> None:
    slow = _SlowStore(store)  # hold the writer so that both requests share one commit
    pipeline = IngestPipeline(slow, ServeConfig(), ServeMetrics())  # type: ignore[arg-type]
    holder = pipeline.submit("acme", rate_key="k", interactions=[_interaction()])
    good, _ = sdk_columns("acme", 3)
    bad, _ = sdk_columns("acme", 3)
    data = bad.payload_data.copy()
    data[1] = ord("!")  # still one line per event, but not JSON
    bad = dataclasses.replace(bad, payload_data=data)
    with pytest.raises(InvalidArgumentError, match="payload_offsets"):
        pipeline.submit_columns(
            "acme",
            rate_key="k",
            columns=dataclasses.replace(good, payload_offsets=good.payload_offsets[:-1]),
        )
    futures = [pipeline.submit_columns("acme", rate_key="k", columns=c) for c in (good, bad)]
    slow.gate.set()
    assert holder.result(10).accepted == 1
    assert futures[0].result(10).accepted == 6
    with pytest.raises(InvalidArgumentError, match="payload"):
        futures[1].result(10)
    pipeline.close(10)
    assert store.interactions("acme").height == 4


def test_feedback_about_a_refused_interaction_is_refused_too(
    pipeline: IngestPipeline, store: Store
) -> None:
    bad, good = uuid.uuid4(), uuid.uuid4()
    result = pipeline.submit(
        "acme",
        rate_key="k",
        interactions=[_interaction(id=str(bad), prompt_tokens=-1), _interaction(id=str(good))],
        feedback=[_rating(bad), _rating(good)],
    ).result(10)
    assert result.accepted == 2
    assert {(e.kind, e.index, e.field) for e in result.rejected} == {
        ("interaction", 0, "prompt_tokens"),
        ("feedback", 0, "interaction_id"),
    }
    assert store.interactions("acme")["id"].to_list() == [good.bytes]
    assert store.feedback("acme")["interaction_id"].to_list() == [good.bytes]
    # The refused interaction is not remembered as known.
    later = pipeline.submit("acme", rate_key="k", feedback=[_rating(bad)]).result(10)
    assert [e.field for e in later.rejected] == ["interaction_id"]


def _commits(metrics: ServeMetrics) -> int:
    samples = metrics.commit_events.collect()[0].samples
    return int(next(s.value for s in samples if s.name.endswith("_count")))


def test_small_requests_linger_to_share_one_commit(store: Store) -> None:
    metrics = ServeMetrics()
    pipeline = IngestPipeline(store, ServeConfig(commit_linger_ms=200), metrics)
    futures = [
        pipeline.submit("acme", rate_key="k", interactions=[_interaction()]) for _ in range(10)
    ]
    assert sum(f.result(10).accepted for f in futures) == 10
    assert _commits(metrics) == 1  # the first waited for the others
    assert pipeline.close(10)


def test_a_full_batch_does_not_linger(store: Store) -> None:
    metrics = ServeMetrics()
    pipeline = IngestPipeline(store, ServeConfig(commit_linger_ms=1000), metrics)
    started = time.monotonic()
    batch = pipeline.submit("acme", rate_key="k", interactions=[_interaction()] * 100)
    assert batch.result(10).accepted == 100
    assert time.monotonic() - started < 0.9  # 100 events >= the threshold: no wait
    assert pipeline.close(10)
    assert store.interactions("acme").height == 100


class _PickyStore:
    """Refuses, when preparing, any batch holding the output "refuse-me" (a rule the
    pipeline's own bad_rows does not know), as a store with a stricter rule would."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def prepare_events(self, interactions: Any, feedback: Any) -> PreparedEvents:
        frame = interactions.frame if hasattr(interactions, "frame") else interactions
        if isinstance(frame, pl.DataFrame) and "refuse-me" in frame["output"].to_list():
            raise BatchValidationError("interactions", "output", 0, "refused by the store")
        return self._store.prepare_events(interactions, feedback)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_a_refusal_the_rules_miss_fails_only_its_own_request(store: Store) -> None:
    config = ServeConfig(commit_linger_ms=200)  # both requests in one group
    pipeline = IngestPipeline(_PickyStore(store), config, ServeMetrics())  # type: ignore[arg-type]
    fine = pipeline.submit("acme", rate_key="k", interactions=[_interaction()])
    refused = pipeline.submit("acme", rate_key="k", interactions=[_interaction(output="refuse-me")])
    assert fine.result(10).accepted == 1
    with pytest.raises(BatchValidationError, match="refused by the store"):
        refused.result(10)
    assert pipeline.close(10)
    assert store.interactions("acme")["output"].to_list() == ["hello"]

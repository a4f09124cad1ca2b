"""One group commit of the ingest pipeline, as the store sees it, on SQLite.

A commit of 2,000 SDK events (1,000 interactions, each with a rating: 20 gRPC requests of
100) decoded by the server's native decoder, written three ways:

- ``atlas``: the decoder's CheckedFrames, both tables in one transaction
  (``Store.write_events``), no second check of the value rules (what the pipeline does);
- ``checked-two-transactions``: the same frames, one transaction per table;
- ``rechecked-two-transactions``: plain frames, one transaction per table, the store
  checking every rule again (what the pipeline did before).

Every round writes fresh ids (the decode is outside the timing), so each is a real insert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from atlas_core.serve.column_decode import decode_columns
from atlas_core.serve.loadgen import sdk_columns
from atlas_core.store import Store, WriteResult, open_store

PAIRS = 1_000
TENANT = "bench"
_rounds = count()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'commit.db'}")
    yield opened
    opened.close()


def _events(store: Store) -> Any:
    return decode_columns(sdk_columns(TENANT, PAIRS, tag=f"{next(_rounds)}-")[0], [TENANT])


def _one_transaction(store: Store, decoded: Any) -> tuple[WriteResult, WriteResult]:
    return store.write_events(decoded.interactions, decoded.feedback)


def _checked_two(store: Store, decoded: Any) -> tuple[WriteResult, WriteResult]:
    return store.write_interactions(decoded.interactions), store.write_feedback(decoded.feedback)


def _rechecked_two(store: Store, decoded: Any) -> tuple[WriteResult, WriteResult]:
    interactions, feedback = decoded.interactions.frame, decoded.feedback.frame
    return store.write_interactions(interactions), store.write_feedback(feedback)


@pytest.mark.parametrize(
    ("impl", "write"),
    [
        ("atlas", _one_transaction),
        ("checked-two-transactions", _checked_two),
        ("rechecked-two-transactions", _rechecked_two),
    ],
    ids=["atlas", "checked-two-transactions", "rechecked-two-transactions"],
)
def bench_commit_2000_events(
    benchmark: Any, store: Store, impl: str, write: Callable[[Store, Any], Any]
) -> None:
    first = write(store, _events(store))
    assert first == (WriteResult(PAIRS, 0), WriteResult(PAIRS, 0))
    benchmark.group = f"ingest commit of {2 * PAIRS} events (SQLite)"
    benchmark.extra_info.update(impl=impl, items=2 * PAIRS)
    benchmark.pedantic(
        write, setup=lambda: ((store, _events(store)), {}), rounds=30, warmup_rounds=2
    )
    assert store.feedback(TENANT).height == PAIRS * (1 + 32 if benchmark.enabled else 2)

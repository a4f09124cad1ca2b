"""One group commit of the ingest pipeline, as the store sees it, on SQLite.

A commit of 2,000 SDK events (1,000 interactions, each with a rating: 20 gRPC requests of
100) decoded by the server's native decoder, written three ways:

- ``atlas``: the decoder's CheckedFrames through ``prepare_events`` (no check of the
  value rules again, Arrow conversion) and ``write_events`` (one transaction for both
  tables): what the pipeline does, its preparer thread doing the first step;
- ``two_tx``: the same CheckedFrames, one ``write_*`` call and transaction per table
  (what the pipeline did before ``write_events``);
- ``rechecked``: the same rows as plain frames, one transaction per table, the store
  checking every rule again (what the pipeline did before the decoder applied them).

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


def _prepared_then_written(store: Store, decoded: Any) -> tuple[WriteResult, WriteResult]:
    return store.write_events(store.prepare_events(decoded.interactions, decoded.feedback))


def _checked(store: Store, decoded: Any) -> tuple[WriteResult, WriteResult]:
    return store.write_interactions(decoded.interactions), store.write_feedback(decoded.feedback)


def _rechecked(store: Store, decoded: Any) -> tuple[WriteResult, WriteResult]:
    interactions, feedback = decoded.interactions.frame, decoded.feedback.frame
    return store.write_interactions(interactions), store.write_feedback(feedback)


@pytest.mark.parametrize(
    ("impl", "write"),
    [("atlas", _prepared_then_written), ("two_tx", _checked), ("rechecked", _rechecked)],
    ids=["atlas", "two_tx", "rechecked"],
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

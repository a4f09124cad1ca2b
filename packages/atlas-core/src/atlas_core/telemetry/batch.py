"""Batch export: a store's recorded interactions as traces, after the fact.

``export_interactions`` pages through a tenant's interactions (oldest first, optionally
between ``since`` and ``until`` and for some learning keys), each with its latest reward,
and sends their span trees in requests of ``batch_size`` interactions. Ids are derived
from the interaction ids (:mod:`.ids`), so exporting the same range again sends the very
same spans: a backend that stores by span id keeps one copy, not two.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry.sdk.resources import Resource

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Query, Store
from atlas_core.telemetry.exporter import TraceExporter
from atlas_core.telemetry.spans import SpanOptions, interaction_spans, resource_for
from atlas_core.types import Interaction

__all__ = ["ExportReport", "export_interactions", "interaction_from_row"]

_PAGE = 2_000


@dataclass(frozen=True)
class ExportReport:
    """What one batch export sent."""

    interactions: int
    spans: int
    requests: int
    endpoint: str


def interaction_from_row(row: dict[str, Any]) -> Interaction:
    """An Interaction from a row of ``Store.interactions`` (JSON columns decoded)."""
    return Interaction(
        id=uuid.UUID(bytes=row["id"]),
        tenant_id=row["tenant_id"],
        session_id=row["session_id"],
        user_id=row["user_id"],
        learning_key=row["learning_key"],
        model_version=row["model_version"],
        prompt_version=row["prompt_version"],
        input=json.loads(row["input"]),
        output=row["output"],
        latency_ms=None if _missing(row["latency_ms"]) else row["latency_ms"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        metadata=json.loads(row["metadata"]) if row["metadata"] else {},
        created_at=row["created_at"],
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _rows(
    store: Store, tenant: str, since: datetime | None, until: datetime | None, keys: Any
) -> Iterator[dict[str, Any]]:
    """Every matching row once, oldest first, a page at a time."""
    cursor, seen_at_cursor, page = since, set[bytes](), _PAGE
    while True:
        frame = store.interactions_with_rewards(
            tenant, Query(since=cursor, until=until, learning_key=keys, limit=page)
        )
        fresh = [r for r in frame.iter_rows(named=True) if r["id"] not in seen_at_cursor]
        yield from fresh
        if frame.height < page:
            return
        if not fresh:  # a full page of rows sharing the cursor's time: read more at once
            page *= 2
            continue
        last = fresh[-1]["created_at"]
        if last != cursor:
            cursor, seen_at_cursor = last, set()
        seen_at_cursor.update(r["id"] for r in fresh if r["created_at"] == last)
        page = _PAGE


def export_interactions(
    store: Store,
    tenant: str,
    exporter: TraceExporter,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    learning_keys: Sequence[str] | None = None,
    batch_size: int = 256,
    resource: Resource | None = None,
    options: SpanOptions | None = None,
) -> ExportReport:
    """Exports the tenant's interactions created in [``since``, ``until``) as traces.

    Raises TelemetryExportError at the first request the receiver does not take (the
    requests before it were delivered; exporting again is safe: same ids).
    """
    if batch_size < 1:
        raise InvalidArgumentError(f"invalid argument `batch_size`: must be >= 1, got {batch_size}")
    if since is not None and until is not None and until <= since:
        raise InvalidArgumentError(
            f"invalid argument `until`: {until.isoformat()} is not after since {since.isoformat()}"
        )
    res = resource or resource_for()
    keys = list(learning_keys) if learning_keys else None
    n_interactions = n_spans = n_requests = 0
    batch: list[Any] = []

    def send() -> None:
        nonlocal n_spans, n_requests
        exporter.export(batch)
        n_spans += len(batch)
        n_requests += 1
        batch.clear()

    pending = 0
    for row in _rows(store, tenant, since, until, keys):
        reward = None if _missing(row["reward"]) else row["reward"]
        batch.extend(
            interaction_spans(
                interaction_from_row(row), reward=reward, resource=res, options=options
            )
        )
        n_interactions += 1
        pending += 1
        if pending >= batch_size:
            send()
            pending = 0
    if batch:
        send()
    return ExportReport(n_interactions, n_spans, n_requests, exporter.endpoint)

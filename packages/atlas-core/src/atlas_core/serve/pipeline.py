"""The ingest pipeline shared by both transports: validate → bounded queue → group commit.

A transport authenticates the request (API key or feedback token), checks the scope, and
hands the events to :meth:`IngestPipeline.submit` (typed events as JSON-like mappings) or
:meth:`IngestPipeline.submit_columns` (the SDK's columnar encoding). The pipeline:

1. charges the caller's token bucket (``RateLimitedError`` when over its rate);
2. validates every event column-wise, setting ``tenant_id`` from the caller (never from
   the payload); invalid events are reported per event (kind, index, field, reason) and
   left out, the valid ones go on;
3. enqueues the valid events in a queue bounded by event count and bytes
   (``OverloadedError`` with a retry hint when full: nothing of that request is taken);
4. one writer thread takes everything queued (many requests), checks that feedback
   refers to interactions the tenant has, writes each table with one store call and
   commits, then resolves every request's future. **A request is acknowledged only after
   the commit that holds its events.** Ids are client ids, so a client's retry of an
   acknowledged or half-written request is stored once.

``close`` stops taking requests (``ShuttingDownError``) and drains the queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

if TYPE_CHECKING:
    from atlas_core.config import ServeConfig
    from atlas_core.kernels.buffer import EventColumns
    from atlas_core.serve.metrics import ServeMetrics
    from atlas_core.store import Store

__all__ = ["EventError", "IngestPipeline", "IngestResult"]


@dataclass(frozen=True, slots=True)
class EventError:
    """Why one event of a request was not accepted."""

    kind: Literal["interaction", "feedback"]
    """Which list of the request it was in."""
    index: int
    """Its position in that list (for columnar batches: in the batch)."""
    field: str
    """The field at fault (e.g. ``value``, ``interaction_id``)."""
    reason: str
    """What is wrong, for a human."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "index": self.index, "field": self.field, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What a committed request did."""

    accepted: int
    """Events of the request that are now stored (new ones and ones already stored)."""
    duplicates: int
    """Of ``accepted``, events whose id was already stored (a client's retry)."""
    rejected: tuple[EventError, ...]
    """Events left out, each with the field at fault."""
    interaction_ids: tuple[UUID, ...]
    """The id of every interaction of the request, in order (given, or minted here)."""
    feedback_ids: tuple[UUID, ...]
    """The id of every feedback event of the request, in order (given, or minted here)."""


class IngestPipeline:
    """See the module docstring. Thread-safe; one per server process.

    Typed event mappings use the field names of :class:`atlas_core.types.Interaction` and
    :class:`atlas_core.types.Feedback` (without ``tenant_id``, which comes from the caller):
    ``id`` (UUID or its text; minted when absent), ``created_at`` (datetime, RFC 3339 text
    or Unix nanoseconds; now when absent), ``input`` (a JSON array of messages, or a string
    taken as one user message), ``metadata`` (a JSON object).
    """

    # Interface; implemented in the next commit.
    def __init__(self, store: Store, config: ServeConfig, metrics: ServeMetrics | None = None):
        raise NotImplementedError

    def submit(
        self,
        tenant_id: str,
        *,
        rate_key: str,
        interactions: Sequence[Mapping[str, Any]] = (),
        feedback: Sequence[Mapping[str, Any]] = (),
    ) -> Future[IngestResult]:
        """Validates and enqueues; the future resolves once the events are committed.

        ``rate_key`` names the token bucket charged (the API key id, or the interaction
        of a browser feedback token). Raises at once (nothing taken): ``RateLimitedError``,
        ``OverloadedError``, ``LimitExceededError`` (more than ``max_batch_events``),
        ``ShuttingDownError``. Per-event problems are in the result's ``rejected``.
        """
        raise NotImplementedError

    def submit_columns(
        self, tenant_id: str, *, rate_key: str, columns: EventColumns
    ) -> Future[IngestResult]:
        """Like :meth:`submit` for the SDK's columnar encoding (an ``EventColumns``, as the
        SDK's buffer drains it; see :mod:`atlas_core.sdk.events`). Every ``tenant_id``
        in the payloads is replaced by ``tenant_id``. ``rejected`` indexes are positions in
        the batch; ``interaction_ids``/``feedback_ids`` list the ids per kind in order."""
        raise NotImplementedError

    @property
    def ready(self) -> bool:
        """Whether the writer is running and the store answered its last write."""
        raise NotImplementedError

    @property
    def pending_events(self) -> int:
        """Events accepted and not committed yet."""
        raise NotImplementedError

    def close(self, timeout: float | None = None) -> bool:
        """Refuses new requests, commits everything queued (up to ``timeout``), stops the
        writer. True when the queue was drained. Idempotent. Does not close the store."""
        raise NotImplementedError

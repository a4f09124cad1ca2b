"""What the ingest pipeline answers: per-request results and per-event errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

__all__ = ["EventError", "EventKindName", "IngestResult"]

EventKindName = Literal["interaction", "feedback"]


@dataclass(frozen=True, slots=True)
class EventError:
    """Why one event of a request was not accepted."""

    kind: EventKindName
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
    """Of ``accepted``, events whose id was already stored (a client's retry). Exact when
    the request was alone in its commit, or nothing in the commit was a duplicate; see
    ``IngestPipeline._attribute_skipped`` for the rare shared case."""
    rejected: tuple[EventError, ...]
    """Events left out, each with the field at fault."""
    interaction_ids: tuple[UUID, ...]
    """The id of every interaction of the request, in order (given, or minted here)."""
    feedback_ids: tuple[UUID, ...]
    """The id of every feedback event of the request, in order (given, or minted here)."""

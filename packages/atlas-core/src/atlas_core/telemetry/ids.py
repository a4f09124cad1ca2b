"""Trace and span ids derived from the interaction id, so a re-export is idempotent.

The trace id *is* the interaction's UUID (128 bits, the same hex digits without dashes):
a trace found in a tracing backend leads straight to the stored interaction, and the
interaction id is all one needs to look its trace up. Span ids (64 bits) are a keyed hash
of the interaction id and the span's position, so exporting the same interaction twice
produces the same spans, which backends deduplicate or overwrite rather than double.
"""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["ROOT", "span_id", "trace_id"]

ROOT = -1
"""The position of the root span (steps are 0, 1, ...)."""


def trace_id(interaction_id: uuid.UUID) -> int:
    """The OTel trace id of an interaction: its UUID as a 128-bit integer (never 0 for UUIDv7)."""
    value = interaction_id.int
    # An all-zero trace id is invalid in OTel; only the nil UUID maps there.
    return value if value else 1


def span_id(interaction_id: uuid.UUID, position: int) -> int:
    """The 64-bit span id of the root (``ROOT``) or of step ``position`` of an interaction."""
    digest = hashlib.blake2b(
        interaction_id.bytes + position.to_bytes(4, "big", signed=True),
        digest_size=8,
        person=b"atlas.span",
    ).digest()
    return int.from_bytes(digest, "big") or 1

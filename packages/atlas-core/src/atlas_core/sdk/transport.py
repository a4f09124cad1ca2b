"""The ``Transport`` protocol: how recorded events leave the process.

A transport takes encoded events on the caller's thread and ships them elsewhere in
the background. ``send`` is on the agent's hot path, so every implementation must only
enqueue there (microseconds, no I/O); the shipping happens on the transport's own thread.

Implementations: :class:`atlas_core.sdk.embedded.EmbeddedTransport` (native buffer →
``Store`` in this process). A remote transport (batched gRPC to ``atlas serve``) plugs in
behind the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Transport", "TransportStats"]


@dataclass(frozen=True)
class TransportStats:
    """Counters of a transport since it was created (a consistent-enough snapshot)."""

    accepted: int
    """Events taken by ``send``."""
    delivered: int
    """Events committed at the destination (including ids it already had)."""
    duplicates: int
    """Delivered events the destination already had (retries of a partly applied batch)."""
    dropped: int
    """Events the buffer evicted under the ``drop_oldest`` policy."""
    rejected: int
    """Events ``send`` refused (``reject`` policy full, or a ``block`` timeout)."""
    failed: int
    """Events given up on: permanently invalid, or still failing after every retry."""
    retries: int
    """Transient failures that were retried."""
    pending: int
    """Events accepted but not settled yet (queued or in flight)."""


@runtime_checkable
class Transport(Protocol):
    """Ships encoded events; see the module docstring for the hot-path rule."""

    def send(
        self,
        interaction_id: bytes,
        kind: int,
        value: float,
        key: int,
        payload: bytes,
        ts_ns: int,
        event_id: bytes | None = None,
    ) -> bytes:
        """Enqueues one event and returns its event id; never does I/O.

        Raises BufferFullError / BufferTimeoutError per the declared buffer policy, and
        BufferClosedError after ``close``.
        """
        ...

    def flush(self, timeout: float | None = None) -> bool:
        """Blocks until every event sent before the call is settled (delivered or counted
        as failed/dropped); False if ``timeout`` seconds passed first."""
        ...

    def close(self, timeout: float | None = None) -> bool:
        """Flushes (up to ``timeout``), stops the background work and refuses further
        sends; True if everything was settled. Idempotent."""
        ...

    def has_room(self) -> bool:
        """Whether ``send`` would return at once now (a hint for async callers)."""
        ...

    def stats(self) -> TransportStats:
        """The transport's counters."""
        ...

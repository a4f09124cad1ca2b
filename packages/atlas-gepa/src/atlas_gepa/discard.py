"""A recorder transport that drops every event: evaluation runs are not traffic.

The optimizer serves thousands of evaluation runs through the real runtime; what it scores
is each run's outcome, so their recordings would only cost store writes and CPU.
"""

from __future__ import annotations

from atlas_core.ids import new_id
from atlas_core.sdk.transport import TransportStats

__all__ = ["DiscardTransport"]


class DiscardTransport:
    """A recorder transport that drops every event: evaluation runs are not traffic."""

    def __init__(self) -> None:
        self._accepted = 0

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
        """Accepts and forgets the event; its id."""
        self._accepted += 1  # a counter race loses a count, nothing else: it is only a stat
        return event_id if event_id is not None else new_id().bytes

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing is ever pending."""
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Nothing to settle."""
        return True

    def has_room(self) -> bool:
        """Always."""
        return True

    def stats(self) -> TransportStats:
        """Every event accepted, none delivered (dropped on purpose)."""
        n = self._accepted
        return TransportStats(n, 0, 0, n, 0, 0, 0, 0)

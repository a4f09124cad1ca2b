"""Interaction ids committed lately, per tenant: the pipeline's shortcut past the store.

Most feedback is about an interaction committed moments before, so the pipeline checks
this memory before asking the store (:meth:`atlas_core.store.Store.known_interactions`).
It holds two generations of plain sets per tenant: ids go into the newer one, and when
it has taken ``capacity / 2`` ids the older generation is dropped whole. Every
operation is a C-level set operation over the batch (no per-id Python), and at least the
last ``capacity / 2`` ids added are always remembered. Forgetting an id the store does
hold only costs a store lookup later, never a wrong answer.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable

__all__ = ["RecentIds"]


class RecentIds:
    """See the module docstring. Thread-safe."""

    def __init__(self, capacity: int) -> None:
        self._half = max(1, capacity // 2)
        self._new: dict[str, set[bytes]] = {}
        self._old: dict[str, set[bytes]] = {}
        self._added = 0
        self._lock = threading.Lock()

    def add(self, tenant: str, ids: Collection[bytes]) -> None:
        """Remembers ``ids`` as committed interactions of ``tenant``."""
        with self._lock:
            self._new.setdefault(tenant, set()).update(ids)
            self._added += len(ids)
            if self._added >= self._half:
                self._old, self._new, self._added = self._new, {}, 0

    def discard(self, tenant: str, ids: Iterable[bytes]) -> None:
        """Forgets ``ids`` (their write failed)."""
        ids = set(ids)
        with self._lock:
            for generation in (self._new, self._old):
                held = generation.get(tenant)
                if held is not None:
                    held -= ids

    def unknown(self, tenant: str, ids: Iterable[bytes]) -> set[bytes]:
        """The ids of ``ids`` not remembered for ``tenant``."""
        rest = set(ids)
        with self._lock:
            for generation in (self._new, self._old):
                held = generation.get(tenant)
                if held and rest:
                    rest -= held
        return rest

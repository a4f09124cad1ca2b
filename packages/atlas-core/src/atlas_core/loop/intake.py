"""What each update reads: the examples recorded since the last update, each exactly once.

Feedback often arrives after the interaction, sometimes after the next update. The intake
keeps a read position (``since``) and the ids it already handed out after it: an update
takes every interaction since then that has a reward or a gold answer and was not taken
before; an interaction still without either stays in the window while it is less than
``feedback_wait_s`` older than the newest one read (times are the interactions' own, so a
simulated clock and real traffic agree), and is given up after. The position and the ids
live in the store's key-value entries (namespace ``loop.engine``).
"""

from __future__ import annotations

import json

from atlas_core.loop.examples import Example, load_examples
from atlas_core.store import Query, Store
from atlas_core.types import from_ns

__all__ = ["ExampleIntake"]

NAMESPACE = "loop.engine"


def _ns(seconds: float) -> int:
    # round, not int: the float seconds are within half a microsecond of the stored time
    return round(seconds * 1e6) * 1_000


class ExampleIntake:
    """Hands out new learnable examples once each, waiting for late feedback."""

    def __init__(self, store: Store, tenant: str, scope: str, feedback_wait_s: float) -> None:
        self.store = store
        self.tenant = tenant
        self.feedback_wait_s = feedback_wait_s
        self._key = f"{scope}/intake"

    def take(self) -> list[Example]:
        """The learnable examples not handed out before, oldest first."""
        saved = self.store.kv_get(self.tenant, NAMESPACE, [self._key]).get(self._key)
        state = json.loads(saved) if saved else {"since_ns": None, "taken": []}
        since_ns: int | None = state["since_ns"]
        taken = set(state["taken"])
        window = load_examples(
            self.store,
            self.tenant,
            Query(since=from_ns(since_ns)) if since_ns is not None else None,
            rewarded_only=False,
        )
        if not window:
            return []
        learnable = [e for e in window if e.reward is not None or e.reference is not None]
        fresh = [e for e in learnable if e.id.hex not in taken]
        newest = max(e.created_at for e in window)
        waiting = [
            e.created_at
            for e in window
            if e.reward is None
            and e.reference is None
            and newest - e.created_at < self.feedback_wait_s
        ]
        # Re-read from the oldest interaction still waiting for feedback, else past the newest.
        next_ns = _ns(min(waiting)) if waiting else _ns(newest) + 1_000
        taken |= {e.id.hex for e in fresh}
        keep = [e.id.hex for e in learnable if e.id.hex in taken and _ns(e.created_at) >= next_ns]
        self.store.kv_put(
            self.tenant, NAMESPACE, {self._key: json.dumps({"since_ns": next_ns, "taken": keep})}
        )
        return fresh

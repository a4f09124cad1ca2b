"""A run directory's record of what was already paid for, so a resume does not pay again.

GEPA checkpoints its state at the start of every iteration; an interrupted iteration is run
again on resume, and the engine re-evaluates the seed on the validation set before it loads
its checkpoint. :class:`RunCache` keeps every example evaluation (by candidate hash and
example id) and every reflection answer (by prompt hash) in an append-only JSON-lines file,
so work done before the interruption is read back instead of bought again.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

__all__ = ["RunCache"]


class RunCache:
    """Append-only key -> JSON value map persisted at ``path`` (a torn last line, from a
    crash mid-write, is ignored on load)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._items: dict[str, Any] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the line a crash cut short
                self._items[entry["k"]] = entry["v"]
        path.parent.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or None."""
        with self._lock:
            return self._items.get(key)

    def put_many(self, items: dict[str, Any]) -> None:
        """Stores ``items`` and appends them to the file (flushed before returning)."""
        if not items:
            return
        lines = "".join(
            json.dumps({"k": k, "v": v}, separators=(",", ":")) + "\n" for k, v in items.items()
        )
        with self._lock:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(lines)
                f.flush()
            self._items.update(items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

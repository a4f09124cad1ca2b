"""A cross-process lock held exactly while a write transaction is open on one SQLite file.

SQLite lets one writer in at a time; a process that finds the write lock taken polls for
it (the busy handler sleeps 1, 2, 5, 10 … 100 ms between tries). With ``atlas serve
--workers N`` the workers' commits meet often, and those sleeps show as tens of
milliseconds on the tail of acknowledgements (measured: p99 wait 20 ms, max 54 ms, for
transactions that hold the lock 3–5 ms). Queueing on an advisory ``flock`` first, held
from ``BEGIN IMMEDIATE`` to ``COMMIT``/``ROLLBACK`` and nothing more, wakes the next
writer the moment the previous one commits. It serialises nothing SQLite does not
serialise already; writers that do not take it (another program on the same file) are
still handled by SQLite's busy timeout. The kernel drops the lock when its holder dies,
so a ``kill -9`` never leaves it taken.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]

__all__ = ["WriteLock"]


class WriteLock:
    """``with lock:`` blocks (without the GIL) until no other process holds it.

    Not re-entrant, and not a lock between the threads of one process (the store keeps
    its own for that). A no-op where ``fcntl`` is missing.
    """

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + "-writer.lock")
        self._fd: int | None = None
        if fcntl is not None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> WriteLock:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Closes the lock file (releasing the lock if held). Idempotent."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

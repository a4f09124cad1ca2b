"""One commit at a time across the worker processes of one ``atlas serve``.

SQLite takes one writer at a time; a second process that finds the write lock taken
waits in SQLite's busy handler, which *sleeps* (1, 2, 5, 10, … up to 100 ms) and tries
again, so the lock is often idle while a worker sleeps, and an unlucky commit waits
hundreds of milliseconds. The workers of ``atlas serve --workers N`` instead take their
turns through an advisory ``flock`` on a file the supervisor creates: the kernel wakes the
next waiter the moment the lock is released (and the wait releases the GIL), so SQLite's
lock is free by the time a worker asks for it.

The supervisor names the file in the environment (:data:`COMMIT_LOCK_ENV`, inherited by
the workers); a single process has no lock file and no turn-taking.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator

__all__ = ["COMMIT_LOCK_ENV", "CommitLock"]

COMMIT_LOCK_ENV = "ATLAS_SERVE_COMMIT_LOCK"
"""Path of the lock file the workers of one supervisor share (set by the supervisor)."""


class CommitLock:
    """An exclusive turn shared by every process that opens the same file (``path``), or
    no-op turns when ``path`` is None."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._fd = None if path is None else os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._threads = threading.Lock()  # flock is per open file: serialise our threads too

    @classmethod
    def from_env(cls) -> CommitLock:
        """The lock the supervisor set up for its workers, or a no-op one."""
        return cls(os.environ.get(COMMIT_LOCK_ENV) or None)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Holds the lock for the body (blocks, GIL released, while another holds it)."""
        if self._fd is None:
            yield
            return
        with self._threads:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Releases the file (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

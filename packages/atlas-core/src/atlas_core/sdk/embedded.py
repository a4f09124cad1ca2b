"""The embedded transport: native FeedbackBuffer → ``Store`` on a background flusher thread.

The agent's thread only pushes to the bounded native buffer. One daemon thread waits for a
batch (or at most ``flush_interval`` seconds), drains it, decodes it into polars frames
(:func:`atlas_core.sdk.events.decode`) and writes them with the store's bulk path.

Delivery rules:

- A transient store error (anything but a validation error) is retried with capped
  exponential back-off and jitter, resending the same frame with the same event ids; the
  store skips ids it already has, so a retry of a partly applied write never duplicates.
- A row the store rejects as invalid (``BatchValidationError`` naming the row) is dropped
  and counted as failed; the rest of the batch is written.
- After ``max_retries`` the batch is counted as failed and logged; the flusher moves on, so
  one broken store cannot wedge the process forever.
- ``flush`` waits until everything sent before it is settled; ``close`` and interpreter
  exit (``atexit``) flush with a timeout, then stop the thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventColumns
from atlas_core.sdk.events import decode
from atlas_core.sdk.flusher import BufferedTransport
from atlas_core.store import BatchValidationError, Store, WriteResult

if TYPE_CHECKING:
    import polars as pl

__all__ = ["EmbeddedTransport"]

log = logging.getLogger("atlas_core.sdk")


class EmbeddedTransport(BufferedTransport):
    """A :class:`~atlas_core.sdk.transport.Transport` that writes to a ``Store`` in-process.

    Buffer and retry options as in :class:`~atlas_core.sdk.flusher.BufferedTransport`;
    ``batch_size`` caps one store write. ``owns_store``: ``close`` also closes the store.
    """

    def __init__(
        self,
        store: Store,
        *,
        capacity: int = 100_000,
        policy: str = "block",
        block_timeout: float | None = 1.0,
        batch_size: int = 1_000,
        flush_interval: float = 0.02,
        max_retries: int = 8,
        retry_base: float = 0.05,
        retry_max: float = 2.0,
        exit_timeout: float = 10.0,
        owns_store: bool = False,
    ) -> None:
        super().__init__(
            capacity=capacity,
            policy=policy,
            block_timeout=block_timeout,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_retries=max_retries,
            retry_base=retry_base,
            retry_max=retry_max,
            exit_timeout=exit_timeout,
        )
        self.store = store
        self._owns_store = owns_store
        self._start()

    def _release(self, stopped: bool) -> None:
        if self._owns_store and stopped:
            self.store.close()

    # -- delivery (on the flusher thread) -------------------------------------------------
    def _deliver(self, columns: EventColumns) -> None:
        n = len(columns)
        try:
            batch = decode(columns)
        except InvalidArgumentError as err:
            log.error("atlas sdk: dropping %d undecodable event(s): %s", n, err)
            self._settle(n, failed=n)
            return
        delivered, duplicates, failed = 0, 0, batch.invalid
        if batch.invalid:
            self._log_rejected(
                batch.invalid, InvalidArgumentError("unknown kind or fields missing")
            )
        for frame, write in (
            (batch.interactions, self.store.write_interactions),
            (batch.feedback, self.store.write_feedback),
        ):
            if frame.height:
                ok, dup, bad = self._write(frame, write)
                delivered, duplicates, failed = delivered + ok, duplicates + dup, failed + bad
        self._settle(n, delivered=delivered, duplicates=duplicates, failed=failed)

    def _write(
        self, frame: pl.DataFrame, write: Callable[[pl.DataFrame], WriteResult]
    ) -> tuple[int, int, int]:
        """(delivered, duplicates, failed) of writing ``frame``, retrying transient errors."""
        attempt = 0
        while True:
            try:
                result = write(frame)
            except BatchValidationError as err:
                return self._write_around(frame, write, err)
            except InvalidArgumentError as err:
                self._log_rejected(frame.height, err)
                return 0, 0, frame.height
            except Exception as err:
                attempt += 1
                delay = self._retry_delay(attempt)
                if delay is None:
                    log.error(
                        "atlas sdk: giving up on %d event(s) after %d attempt(s): %r",
                        frame.height,
                        attempt,
                        err,
                    )
                    return 0, 0, frame.height
                log.warning("atlas sdk: store write failed (%r); retry in %.2fs", err, delay)
                self._sleep(delay)
            else:
                return result.inserted + result.skipped, result.skipped, 0

    def _write_around(
        self,
        frame: pl.DataFrame,
        write: Callable[[pl.DataFrame], WriteResult],
        err: BatchValidationError,
    ) -> tuple[int, int, int]:
        """Writes ``frame`` without the row the store rejected: one bad row must not cost its
        neighbours. The rest is written in halves, so k bad rows in n cost O(k log n) writes
        (and a wholly bad batch O(n log n) validated rows, not O(n^2))."""
        row = err.row
        if row is None or not 0 <= row < frame.height:
            self._log_rejected(frame.height, err)
            return 0, 0, frame.height
        self._log_rejected(1, err)
        rest = frame.slice(0, row).vstack(frame.slice(row + 1))
        mid = rest.height // 2
        delivered, duplicates, failed = 0, 0, 1
        for part in (rest.slice(0, mid), rest.slice(mid)):
            if part.height:
                ok, dup, bad = self._write(part, write)
                delivered, duplicates, failed = delivered + ok, duplicates + dup, failed + bad
        return delivered, duplicates, failed

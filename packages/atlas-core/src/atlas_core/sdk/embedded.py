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

import atexit
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventColumns, FeedbackBuffer
from atlas_core.sdk.events import decode
from atlas_core.sdk.transport import TransportStats
from atlas_core.store import BatchValidationError, Store, WriteResult

if TYPE_CHECKING:
    import polars as pl

__all__ = ["EmbeddedTransport"]

log = logging.getLogger("atlas_core.sdk")

_POLICIES = ("block", "reject", "drop_oldest")


class EmbeddedTransport:
    """A :class:`~atlas_core.sdk.transport.Transport` that writes to a ``Store`` in-process.

    ``capacity`` bounds the buffer; ``policy`` says what ``send`` does when it is full:
    ``"block"`` waits up to ``block_timeout`` seconds then raises BufferTimeoutError,
    ``"reject"`` raises BufferFullError at once, ``"drop_oldest"`` evicts (counted).
    ``batch_size`` caps one store write; ``flush_interval`` is the longest an event waits
    in the buffer before the flusher looks. ``owns_store``: ``close`` also closes the store.
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
        if policy not in _POLICIES:
            raise InvalidArgumentError(
                f"invalid argument `policy`: one of {_POLICIES}, got {policy!r}"
            )
        _positive("batch_size", batch_size)
        _positive("flush_interval", flush_interval)
        _positive("retry_base", retry_base)
        _positive("retry_max", retry_max)
        if max_retries < 0:
            raise InvalidArgumentError(
                f"invalid argument `max_retries`: must be >= 0, got {max_retries}"
            )
        self.store = store
        self._buffer = FeedbackBuffer(
            capacity, policy, block_timeout if policy == "block" else None
        )
        self._batch_size = batch_size
        self._interval = flush_interval
        self._max_retries = max_retries
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._exit_timeout = exit_timeout
        self._owns_store = owns_store
        self._cond = threading.Condition()
        self._settled = 0  # drained events that were delivered or given up on
        self._delivered = 0
        self._duplicates = 0
        self._failed = 0
        self._retries = 0
        self._rejections = 0  # store validation rejections, for rate-limited logging
        self._abandon = False  # set when close() timed out: stop retrying, count as failed
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="atlas-sdk-flusher", daemon=True)
        self._thread.start()
        atexit.register(self._at_exit)

    # -- the hot path ------------------------------------------------------------------
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
        """Pushes one event to the native buffer (no I/O); see ``Transport.send``."""
        return self._buffer.push(interaction_id, kind, value, key, payload, ts_ns, event_id)

    # -- flushing ----------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> bool:
        """Blocks until every event sent before the call is settled; False on timeout."""
        target = self._buffer.pushed
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._settled + self._buffer.dropped < target:
                if not self._thread.is_alive():
                    return False
                wait = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
                if wait <= 0:
                    return False
                self._cond.wait(wait)
        return True

    def close(self, timeout: float | None = 30.0) -> bool:
        """Flushes up to ``timeout`` seconds, stops the flusher and refuses further sends.

        True when everything was settled; on timeout the events still queued or failing
        are counted as failed and logged. Idempotent; closes the store if it owns it.
        """
        with self._cond:
            if self._closed:
                return self._settled + self._buffer.dropped >= self._buffer.pushed
            self._closed = True
        atexit.unregister(self._at_exit)
        self._buffer.close()  # refuses new sends, wakes the flusher for its last drains
        complete = self.flush(timeout)
        if not complete:
            self._abandon = True
        self._thread.join(timeout=5.0 if complete else 1.0)
        if self._owns_store and not self._thread.is_alive():
            self.store.close()
        if not complete:
            log.error("atlas sdk: close timed out with %d event(s) unsettled", self.stats().pending)
        return complete

    def _at_exit(self) -> None:
        self.close(self._exit_timeout)

    def has_room(self) -> bool:
        """Whether ``send`` would return at once: space left, or a policy that never waits."""
        return self._buffer.policy != "block" or len(self._buffer) < self._buffer.capacity

    def stats(self) -> TransportStats:
        """The transport's counters (see :class:`TransportStats`)."""
        s = self._buffer.stats()
        with self._cond:
            settled, delivered, duplicates = self._settled, self._delivered, self._duplicates
            failed, retries = self._failed, self._retries
        return TransportStats(
            accepted=s["pushed"],
            delivered=delivered,
            duplicates=duplicates,
            dropped=s["dropped"],
            rejected=s["rejected"],  # the buffer counts reject-policy refusals and block timeouts
            failed=failed,
            retries=retries,
            pending=s["pushed"] - settled - s["dropped"],
        )

    @property
    def buffer(self) -> FeedbackBuffer:
        """The native buffer (for inspection: ``len``, ``stats()``, policy)."""
        return self._buffer

    # -- the flusher thread ------------------------------------------------------------------
    def _run(self) -> None:
        buffer = self._buffer
        while True:
            buffer.wait_for_events(self._batch_size, self._interval)
            columns = buffer.drain_columns(self._batch_size)
            if len(columns):
                try:
                    self._deliver(columns)
                except Exception:  # a bug here must not kill the flusher and wedge flush()
                    log.exception("atlas sdk: delivering a batch of %d failed", len(columns))
                    self._settle(len(columns), failed=len(columns))
            elif buffer.closed:
                return

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
                if attempt > self._max_retries or self._abandon:
                    log.error(
                        "atlas sdk: giving up on %d event(s) after %d attempt(s): %r",
                        frame.height,
                        attempt,
                        err,
                    )
                    return 0, 0, frame.height
                with self._cond:
                    self._retries += 1
                delay = min(self._retry_max, self._retry_base * 2 ** (attempt - 1))
                log.warning("atlas sdk: store write failed (%r); retry in %.2fs", err, delay)
                time.sleep(delay * (0.5 + random.random() / 2))  # jitter spreads retries
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

    def _log_rejected(self, n: int, err: Exception) -> None:
        # Rate-limited: a flood of bad events must not become a flood of log lines.
        self._rejections += 1
        if self._rejections & (self._rejections - 1) == 0:
            log.error(
                "atlas sdk: store rejected %d event(s) (%d rejection(s) so far): %s",
                n,
                self._rejections,
                err,
            )

    def _settle(self, n: int, *, delivered: int = 0, duplicates: int = 0, failed: int = 0) -> None:
        with self._cond:
            self._settled += n
            self._delivered += delivered
            self._duplicates += duplicates
            self._failed += failed
            self._cond.notify_all()


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise InvalidArgumentError(f"invalid argument `{name}`: must be > 0, got {value}")

"""What every buffered transport shares: the native FeedbackBuffer on the caller's side and
one background flusher thread that drains it in batches and hands them to ``_deliver``.

Subclasses say where a batch goes (:class:`~atlas_core.sdk.embedded.EmbeddedTransport`: a
``Store`` in this process; :class:`~atlas_core.sdk.remote.RemoteTransport`: ``atlas
serve`` over gRPC) and must settle every drained event exactly once through ``_settle``
(delivered, or counted as failed), so ``flush`` can tell when everything is done.
"""

from __future__ import annotations

import atexit
import logging
import random
import threading
import time

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventColumns, FeedbackBuffer
from atlas_core.sdk.transport import TransportStats

__all__ = ["BufferedTransport"]

log = logging.getLogger("atlas_core.sdk")

_POLICIES = ("block", "reject", "drop_oldest")


class BufferedTransport:
    """Base of the buffered transports (see the module docstring); not used directly.

    ``capacity`` bounds the buffer; ``policy`` says what ``send`` does when it is full:
    ``"block"`` waits up to ``block_timeout`` seconds then raises BufferTimeoutError,
    ``"reject"`` raises BufferFullError at once, ``"drop_oldest"`` evicts (counted).
    ``batch_size`` caps one delivery; ``flush_interval`` is the longest an event waits in
    the buffer before the flusher looks. Transient failures are retried up to
    ``max_retries`` times, after ``retry_base * 2**k`` seconds (capped at ``retry_max``,
    with jitter). ``exit_timeout`` bounds the flush at interpreter exit.
    """

    _thread_name = "atlas-sdk-flusher"

    def __init__(
        self,
        *,
        capacity: int,
        policy: str,
        block_timeout: float | None,
        batch_size: int,
        flush_interval: float,
        max_retries: int,
        retry_base: float,
        retry_max: float,
        exit_timeout: float,
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
        self._buffer = FeedbackBuffer(
            capacity, policy, block_timeout if policy == "block" else None
        )
        self._batch_size = batch_size
        self._interval = flush_interval
        self._max_retries = max_retries
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._exit_timeout = exit_timeout
        self._cond = threading.Condition()
        self._settled = 0  # drained events that were delivered or given up on
        self._delivered = 0
        self._duplicates = 0
        self._failed = 0
        self._retries = 0
        self._rejections = 0  # permanent rejections, for rate-limited logging
        self._abandoned = threading.Event()  # close() timed out: stop retrying, count as failed
        self._closed = False

    def _start(self) -> None:
        """Starts the flusher; subclasses call it last in ``__init__``."""
        self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
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
        are counted as failed and logged. Idempotent.
        """
        with self._cond:
            if self._closed:
                return self._settled + self._buffer.dropped >= self._buffer.pushed
            self._closed = True
        atexit.unregister(self._at_exit)
        self._buffer.close()  # refuses new sends, wakes the flusher for its last drains
        complete = self.flush(timeout)
        if not complete:
            self._abandoned.set()
        self._thread.join(timeout=5.0 if complete else 1.0)
        self._release(stopped=not self._thread.is_alive())
        if not complete:
            log.error("atlas sdk: close timed out with %d event(s) unsettled", self.stats().pending)
        return complete

    def _release(self, stopped: bool) -> None:
        """Frees what the subclass holds once the flusher is done (``stopped``) or abandoned."""

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

    # -- the flusher thread ------------------------------------------------------------
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
                self._drained()
                return

    def _deliver(self, columns: EventColumns) -> None:
        """Ships one drained batch and settles it (possibly later, on another thread)."""
        raise NotImplementedError

    def _drained(self) -> None:
        """Called on the flusher thread after the last batch of a closed buffer."""

    # -- helpers for subclasses --------------------------------------------------------
    def _retry_delay(self, attempt: int) -> float | None:
        """Seconds to wait before retry ``attempt`` (1-based), counted; None: give up."""
        if attempt > self._max_retries or self._abandoned.is_set():
            return None
        with self._cond:
            self._retries += 1
        delay: float = min(self._retry_max, self._retry_base * 2.0 ** (attempt - 1))
        return delay * (0.5 + random.random() / 2)  # jitter spreads the clients' retries

    def _sleep(self, seconds: float) -> None:
        """Sleeps, but wakes at once when ``close`` gives up on the backlog."""
        self._abandoned.wait(seconds)

    def _log_rejected(self, n: int, err: object) -> None:
        # Rate-limited: a flood of bad events must not become a flood of log lines.
        with self._cond:
            self._rejections += 1
            count = self._rejections
        if count & (count - 1) == 0:
            log.error(
                "atlas sdk: %d event(s) rejected for good (%d rejection(s) so far): %s",
                n,
                count,
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

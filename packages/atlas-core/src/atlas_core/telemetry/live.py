"""Live export: each interaction a Recorder buffers becomes a trace, sent in the background.

:class:`LiveTraceExport` is an interaction hook (:mod:`.hooks`). Called on the recording
thread, it only appends the encoded interaction to a bounded queue (the oldest is dropped
and counted when full): validating, building spans and the network happen on its worker
thread, in batches of ``batch_size`` at least every ``export_interval_s``. A receiver that
is down costs the worker retries and the batch (counted in ``failed``, logged), never the
agent's call. Attach one to a recorder with :meth:`LiveTraceExport.attach`, or let every
new Recorder get the process-wide one from the ``telemetry`` configuration.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from opentelemetry.sdk.resources import Resource

from atlas_core.config.models import TelemetryConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.sdk.recorder import Recorder
from atlas_core.telemetry.errors import TelemetryError
from atlas_core.telemetry.exporter import TraceExporter, build_exporter
from atlas_core.telemetry.hooks import RecordedInteraction
from atlas_core.telemetry.spans import SpanOptions, interaction_spans, resource_for

__all__ = ["LiveExportStats", "LiveTraceExport"]

log = logging.getLogger("atlas_core.telemetry")


@dataclass(frozen=True)
class LiveExportStats:
    """Counters of a live export, in interactions."""

    queued: int
    """Waiting for the worker or in the batch being sent."""
    exported: int
    failed: int
    """Lost to a failed export (receiver down, refused, timed out) or a conversion error."""
    dropped: int
    """Dropped unexported because the queue was full."""


class LiveTraceExport:
    """A bounded queue of recorded interactions and the thread exporting their traces."""

    def __init__(
        self,
        exporter: TraceExporter,
        *,
        resource: Resource | None = None,
        options: SpanOptions | None = None,
        queue_size: int = 10_000,
        batch_size: int = 256,
        export_interval_s: float = 1.0,
    ) -> None:
        for name, value in (("queue_size", queue_size), ("batch_size", batch_size)):
            if value < 1:
                raise InvalidArgumentError(f"invalid argument `{name}`: must be >= 1, got {value}")
        if not export_interval_s > 0:
            raise InvalidArgumentError(
                f"invalid argument `export_interval_s`: must be > 0, got {export_interval_s}"
            )
        self.exporter = exporter
        self.resource = resource or resource_for()
        self.options = options or SpanOptions()
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.export_interval_s = export_interval_s
        self._queue: deque[RecordedInteraction] = deque()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._in_flight = 0
        self._exported = self._failed = self._dropped = 0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="atlas-otel-export", daemon=True)
        self._thread.start()
        atexit.register(self.close, 5.0)  # traces recorded just before exit still go out

    @classmethod
    def from_config(cls, config: TelemetryConfig) -> LiveTraceExport:
        """The export the ``telemetry`` section describes."""
        exporter = build_exporter(
            config.endpoint,
            protocol=config.protocol,
            headers={k: v.get_secret_value() for k, v in config.headers.items()} or None,
            timeout_s=config.timeout_s,
        )
        return cls(
            exporter,
            resource=resource_for(config.service_name),
            options=SpanOptions(config.include_content, config.max_content_chars),
            queue_size=config.queue_size,
            batch_size=config.batch_size,
            export_interval_s=config.export_interval_s,
        )

    def attach(self, recorder: Recorder) -> Recorder:
        """Adds this export to ``recorder``'s hooks (once) and returns the recorder."""
        if self not in recorder.interaction_hooks:
            recorder.interaction_hooks.append(self)
        return recorder

    # -- the hook (recording thread) -------------------------------------------------------
    def __call__(self, recorded: RecordedInteraction) -> None:
        """Queues one interaction; never blocks on the exporter, never raises."""
        with self._lock:
            if self._closed:
                self._dropped += 1
                return
            if len(self._queue) >= self.queue_size:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append(recorded)
            full = len(self._queue) >= self.batch_size
        if full:
            self._wake.set()

    # -- control -----------------------------------------------------------------------------
    def stats(self) -> LiveExportStats:
        """The counters now."""
        with self._lock:
            return LiveExportStats(
                len(self._queue) + self._in_flight, self._exported, self._failed, self._dropped
            )

    def flush(self, timeout: float | None = None) -> bool:
        """Blocks until everything queued before the call was sent (or failed); False on
        timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._idle:
            while self._queue or self._in_flight:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left if left is None else min(left, 0.05))
                self._wake.set()
        return True

    def close(self, timeout: float | None = 30.0) -> bool:
        """Sends what is queued, stops the worker and the exporter; True when nothing was
        left unsent. Idempotent."""
        with self._lock:
            if self._closed:
                return True
        done = self.flush(timeout)
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        self.exporter.shutdown()
        atexit.unregister(self.close)
        return done

    # -- the worker -------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait(self.export_interval_s)
            self._wake.clear()
            while True:
                with self._lock:
                    if not self._queue:
                        self._idle.notify_all()
                        if self._closed:
                            return
                        break
                    batch = [
                        self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))
                    ]
                    self._in_flight = len(batch)
                ok = self._send(batch)
                with self._lock:
                    self._in_flight = 0
                    if ok:
                        self._exported += len(batch)
                    else:
                        self._failed += len(batch)

    def _send(self, batch: list[RecordedInteraction]) -> bool:
        try:
            spans = [
                span
                for recorded in batch
                for span in interaction_spans(
                    recorded.to_interaction(), resource=self.resource, options=self.options
                )
            ]
            self.exporter.export(spans)
            return True
        except TelemetryError as exc:
            log.warning("atlas telemetry: %s", exc)
        except Exception:
            log.exception("atlas telemetry: could not export %d interactions", len(batch))
        return False

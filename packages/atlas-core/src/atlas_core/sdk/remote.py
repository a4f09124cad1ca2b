"""The remote transport: native FeedbackBuffer → ``atlas serve`` over gRPC (``IngestColumns``).

The agent's thread only pushes to the bounded native buffer. The flusher thread drains
batches and hands each to one of ``max_in_flight`` sender threads (through a queue of at
most ``max_in_flight`` batches), which sends it as one columnar ``IngestColumns`` call and
waits for the server's commit.

Delivery rules:

- UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL and RESOURCE_EXHAUSTED are transient: the same
  batch is resent with THE SAME event ids (the server stores an id once, so a retry of a
  committed batch whose answer was lost never duplicates), after capped exponential
  back-off with jitter, or after the server's ``retry-after-ms`` hint when it sent one.
- A batch above ``max_message_bytes`` is split in halves before it is sent; and a
  RESOURCE_EXHAUSTED "message larger than max" (grpcio refusing a message above the
  server's limit) splits it the same way.
- INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED (and any other code) are permanent:
  the batch is counted as failed and logged (rate-limited). Events the server rejected one
  by one (``IngestResponse.rejected``) are counted as failed; the rest as delivered.
- After ``max_retries`` a batch is counted as failed and logged; ``flush``/``close`` as in
  :class:`~atlas_core.sdk.flusher.BufferedTransport`.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import grpc
import numpy as np

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventColumns
from atlas_core.sdk.flusher import BufferedTransport
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve._generated.atlas.v1 import ingest_pb2_grpc as pb_grpc
from atlas_core.serve.grpc_columns import columns_to_batch

__all__ = ["RemoteTransport"]

log = logging.getLogger("atlas_core.sdk")

_TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
    }
)
_RESULT_METADATA = "atlas-ingest-response-bin"  # the server's IngestResponse on INVALID_ARGUMENT


class RemoteTransport(BufferedTransport):
    """A :class:`~atlas_core.sdk.transport.Transport` that ships to ``atlas serve`` over gRPC.

    ``target`` is ``host:port``; ``api_key`` an ``atlas_...`` secret with the ``ingest``
    scope (the server takes the tenant from it). ``credentials``: TLS channel credentials
    (None: plaintext). ``timeout`` is the deadline of one call; ``max_in_flight`` bounds
    the calls awaiting the server's commit at once. It is 1 by default, which keeps
    delivery in order: the server refuses feedback about an interaction it does not have
    yet, so a feedback batch must not overtake (or be retried past) the batch holding its
    interaction. Raise it only for streams where that cannot happen (e.g. interactions
    only). ``max_message_bytes`` should match the
    server's ``serve.max_request_bytes``: larger batches are split before sending (a
    server with a lower limit refuses them, and they are split then, one round trip
    later). Buffer and retry options as in
    :class:`~atlas_core.sdk.flusher.BufferedTransport`.
    """

    _thread_name = "atlas-sdk-remote-flusher"

    def __init__(
        self,
        target: str,
        api_key: str,
        *,
        capacity: int = 100_000,
        policy: str = "block",
        block_timeout: float | None = 1.0,
        batch_size: int = 1_000,
        flush_interval: float = 0.02,
        max_retries: int = 10,
        retry_base: float = 0.1,
        retry_max: float = 5.0,
        exit_timeout: float = 10.0,
        timeout: float = 10.0,
        max_in_flight: int = 1,
        max_message_bytes: int = 4 * 1024 * 1024,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        if not isinstance(target, str) or not target:
            raise InvalidArgumentError(f"invalid argument `target`: host:port, got {target!r}")
        if not isinstance(api_key, str) or not api_key.strip():
            raise InvalidArgumentError("invalid argument `api_key`: must be a non-empty str")
        if not timeout > 0:
            raise InvalidArgumentError(f"invalid argument `timeout`: must be > 0, got {timeout}")
        if max_message_bytes < 1024:
            raise InvalidArgumentError(
                f"invalid argument `max_message_bytes`: must be >= 1024, got {max_message_bytes}"
            )
        if max_in_flight < 1:
            raise InvalidArgumentError(
                f"invalid argument `max_in_flight`: must be >= 1, got {max_in_flight}"
            )
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
        self.target = target
        # Reconnect quickly after a server restart (grpcio's default backoff grows to 120s).
        options = [
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", int(retry_max * 1000)),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._channel = (
            grpc.insecure_channel(target, options=options)
            if credentials is None
            else grpc.secure_channel(target, credentials, options=options)
        )
        self._call = pb_grpc.IngestStub(self._channel).IngestColumns
        self._metadata = (("authorization", f"Bearer {api_key.strip()}"),)
        self._timeout = timeout
        self._max_message_bytes = max_message_bytes
        # Own threads, not a ThreadPoolExecutor: an executor refuses work once interpreter
        # shutdown begins, before atexit handlers run, and the exit flush needs them.
        self._batches: queue.Queue[EventColumns] = queue.Queue(maxsize=max_in_flight)
        self._stopping = threading.Event()
        self._senders = [
            threading.Thread(target=self._send_loop, name=f"atlas-sdk-sender-{i}", daemon=True)
            for i in range(max_in_flight)
        ]
        for sender in self._senders:
            sender.start()
        self._start()

    # -- delivery ------------------------------------------------------------------------
    def _deliver(self, columns: EventColumns) -> None:
        # A bounded hand-off: with every sender busy and the queue full the flusher waits,
        # so a slow server fills the buffer and the declared policy applies, instead of
        # an unbounded queue of batches.
        while True:
            try:
                self._batches.put(columns, timeout=0.1)
                return
            except queue.Full:
                if self._abandoned.is_set():  # close() gave up on the backlog
                    self._settle(len(columns), failed=len(columns))
                    return

    def _drained(self) -> None:
        self._stopping.set()  # the senders finish what is queued, then exit

    def _send_loop(self) -> None:
        while True:
            try:
                columns = self._batches.get(timeout=0.1)
            except queue.Empty:
                if self._stopping.is_set():
                    return
                continue
            n = len(columns)
            try:
                delivered, duplicates, failed = self._send(columns)
            except Exception:  # a bug must not lose the count: flush() would wait forever
                log.exception("atlas sdk: sending a batch of %d failed", n)
                delivered, duplicates, failed = 0, 0, n
            self._settle(n, delivered=delivered, duplicates=duplicates, failed=failed)

    def _send(self, columns: EventColumns) -> tuple[int, int, int]:
        """(delivered, duplicates, failed) of one batch, retrying transient errors."""
        n = len(columns)
        request = columns_to_batch(columns)
        if n > 1 and request.ByteSize() > self._max_message_bytes:
            return self._send_halves(columns)  # split here: no round trip to be refused
        attempt = 0
        while True:
            try:
                response: pb.IngestResponse = self._call(
                    request, metadata=self._metadata, timeout=self._timeout
                )
            except grpc.RpcError as err:
                code = _code(err)
                hint = _retry_after_s(err)
                if code == grpc.StatusCode.INVALID_ARGUMENT:
                    rejected = _result(err)
                    if rejected is not None:  # every event rejected, one by one
                        self._log_rejected(n, _first_reason(rejected))
                        return 0, 0, n
                if code == grpc.StatusCode.RESOURCE_EXHAUSTED and _too_large(err) and n > 1:
                    return self._send_halves(columns)
                if code not in _TRANSIENT:
                    self._log_rejected(n, f"{code.name if code else 'unknown'}: {_details(err)}")
                    return 0, 0, n
                attempt += 1
                delay = self._retry_delay(attempt)
                if delay is None:
                    log.error(
                        "atlas sdk: giving up on %d event(s) after %d attempt(s) to %s: %s %s",
                        n,
                        attempt,
                        self.target,
                        code.name if code else "unknown",
                        _details(err),
                    )
                    return 0, 0, n
                if hint is not None:
                    delay = max(delay, hint)
                log.debug("atlas sdk: %s from %s; retry in %.2fs", code, self.target, delay)
                self._sleep(delay)
            else:
                if response.rejected:
                    self._log_rejected(len(response.rejected), _first_reason(response))
                return response.accepted, response.duplicates, len(response.rejected)

    def _send_halves(self, columns: EventColumns) -> tuple[int, int, int]:
        mid = len(columns) // 2
        first = self._send(_slice(columns, 0, mid))
        second = self._send(_slice(columns, mid, len(columns)))
        return first[0] + second[0], first[1] + second[1], first[2] + second[2]

    def _release(self, stopped: bool) -> None:
        self._stopping.set()
        for sender in self._senders:
            sender.join(timeout=1.0 if stopped else 0.2)
        self._channel.close()


def _code(err: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(err, "code", None)
    return code() if callable(code) else None


def _details(err: grpc.RpcError) -> str:
    details = getattr(err, "details", None)
    return str(details()) if callable(details) else repr(err)


def _too_large(err: grpc.RpcError) -> bool:
    # grpcio's own refusal of an oversize message; no status detail marks it otherwise.
    return "larger than max" in _details(err)


def _trailing(err: grpc.RpcError) -> dict[str, Any]:
    trailing = getattr(err, "trailing_metadata", None)
    items = trailing() if callable(trailing) else None
    return {key: value for key, value in items or ()}


def _retry_after_s(err: grpc.RpcError) -> float | None:
    """The server's retry hint in seconds (``retry-after-ms``), or None."""
    trailing = _trailing(err)
    for key in ("retry-after-ms", "grpc-retry-pushback-ms"):
        value = trailing.get(key)
        if value is not None:
            try:
                return max(0.0, int(value) / 1000)
            except (TypeError, ValueError):
                return None
    return None


def _result(err: grpc.RpcError) -> pb.IngestResponse | None:
    raw = _trailing(err).get(_RESULT_METADATA)
    if not isinstance(raw, bytes):
        return None
    try:
        return pb.IngestResponse.FromString(raw)
    except Exception:  # a malformed hint is no reason to crash the sender
        return None


def _first_reason(response: pb.IngestResponse) -> str:
    if not response.rejected:
        return "rejected"
    e = response.rejected[0]
    return f"server rejected {e.kind}[{e.index}].{e.field}: {e.reason}"


def _slice(columns: EventColumns, start: int, stop: int) -> EventColumns:
    offsets = columns.payload_offsets[start : stop + 1]
    base = int(offsets[0])
    return EventColumns(
        event_id=columns.event_id[start:stop],
        interaction_id=columns.interaction_id[start:stop],
        kind=columns.kind[start:stop],
        key=columns.key[start:stop],
        value=columns.value[start:stop],
        ts_ns=columns.ts_ns[start:stop],
        payload_offsets=(offsets - base).astype(np.int64),
        payload_data=columns.payload_data[base : int(offsets[-1])],
    )

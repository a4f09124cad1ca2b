"""The load generator behind ``atlas bench ingest``: events/s and latency of a live server.

Two workloads, each over real sockets against a running ``atlas serve``:

- **gRPC batches**: ``IngestColumns`` requests of ``batch`` events each (the SDK's remote
  transport's encoding), from ``concurrency`` concurrent calls on one channel.
- **HTTP single events**: one feedback event per ``POST /v1/feedback`` request over
  ``concurrency`` keep-alive connections. The client writes HTTP/1.1 by hand on asyncio
  streams (as ``wrk`` does): a general-purpose client library would spend more CPU per
  request than the server, and both share this machine's cores.

Requests are built before the clock starts (distinct ids in every event, so nothing is
deduplicated away); each request's latency is from send to acknowledgement, which the
server gives only after the commit. Loss is checked afterwards by counting the rows the
server stored against the events it acknowledged. Each report carries the generator's own
CPU time beside the server's: both share the machine's cores, so a target "on this machine"
includes the client.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter, deque
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from atlas_core.sdk.events import dumps

if TYPE_CHECKING:
    from atlas_core.kernels.buffer import EventColumns

__all__ = [
    "LoadReport",
    "feedback_bodies",
    "run_grpc_append",
    "run_grpc_batches",
    "run_http_single",
    "sdk_batches",
    "sdk_columns",
]

_GRPC_CONNECTIONS = 8  # connections the gRPC workload spreads its calls over


@dataclass
class LoadReport:
    """What one workload reached."""

    workload: str
    requests: int
    events: int
    seconds: float
    latencies_s: np.ndarray[Any, np.dtype[np.float64]]
    errors: Counter[str] = field(default_factory=Counter)
    acknowledged: int = 0
    """Events the server acknowledged (committed)."""
    server_cpu_s: float | None = None
    """CPU seconds the server (every process of it) used during the workload, when known."""
    client_cpu_s: float | None = None
    """CPU seconds this load generator (every thread of its process) used for the workload."""

    @property
    def server_cpu_us_per_event(self) -> float | None:
        """Server CPU per acknowledged event, in microseconds (None when not measured)."""
        if self.server_cpu_s is None or not self.acknowledged:
            return None
        return self.server_cpu_s / self.acknowledged * 1e6

    @property
    def client_cpu_us_per_event(self) -> float | None:
        """The generator's CPU per acknowledged event, in microseconds (None: not measured)."""
        if self.client_cpu_s is None or not self.acknowledged:
            return None
        return self.client_cpu_s / self.acknowledged * 1e6

    @property
    def events_per_s(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if not len(self.latencies_s):
            return float("nan")
        return float(np.percentile(self.latencies_s, q) * 1000)

    def summary(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "requests": self.requests,
            "events_acknowledged": self.acknowledged,
            "seconds": round(self.seconds, 3),
            "events_per_s": round(self.events_per_s),
            "requests_per_s": round(self.requests_per_s),
            "p50_ms": round(self.percentile_ms(50), 2),
            "p99_ms": round(self.percentile_ms(99), 2),
            "server_cpu_s": None if self.server_cpu_s is None else round(self.server_cpu_s, 2),
            "server_cpu_us_per_event": (
                None
                if self.server_cpu_us_per_event is None
                else round(self.server_cpu_us_per_event, 2)
            ),
            "client_cpu_s": None if self.client_cpu_s is None else round(self.client_cpu_s, 2),
            "client_cpu_us_per_event": (
                None
                if self.client_cpu_us_per_event is None
                else round(self.client_cpu_us_per_event, 2)
            ),
            "errors": dict(self.errors),
        }


def feedback_bodies(interaction_ids: Sequence[uuid.UUID], n: int, seed: int = 0) -> list[bytes]:
    """``n`` JSON bodies of single rating events on the given interactions, distinct ids."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, len(interaction_ids), n)
    values = rng.integers(1, 6, n)
    return [
        dumps(
            {
                "id": str(uuid.uuid4()),
                "interaction_id": str(interaction_ids[int(t)]),
                "kind": "rating",
                "value": int(v),
                "scale_min": 1,
                "scale_max": 5,
            }
        )
        for t, v in zip(targets, values, strict=True)
    ]


async def _http_connection(
    host: str,
    port: int,
    head: bytes,
    bodies: list[bytes],
    latencies: list[float],
    errors: Counter[str],
) -> int:
    """Sends ``bodies`` one request at a time on one keep-alive connection; acked events."""
    reader, writer = await asyncio.open_connection(host, port)
    acked = 0
    try:
        for body in bodies:
            started = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            header = await reader.readuntil(b"\r\n\r\n")
            status = int(header[9:12])
            length = 0
            for line in header.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status == 200:
                acked += 1
            else:
                errors[f"http {status}"] += 1
    finally:
        writer.close()
    return acked


async def _run_http(
    host: str, port: int, path: str, api_key: str, bodies: list[bytes], concurrency: int
) -> LoadReport:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {api_key}\r\n"
        "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    shares = [bodies[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    acked = await asyncio.gather(
        *(_http_connection(host, port, head, share, latencies, errors) for share in shares)
    )
    seconds = time.perf_counter() - started
    return LoadReport(
        workload=f"http single {path} x{concurrency}",
        requests=len(bodies),
        events=len(bodies),
        seconds=seconds,
        latencies_s=np.asarray(latencies),
        errors=errors,
        acknowledged=sum(acked),
    )


def run_http_single(
    host: str,
    port: int,
    api_key: str,
    bodies: list[bytes],
    *,
    path: str = "/v1/feedback",
    concurrency: int = 32,
) -> LoadReport:
    """Posts every body as its own request; see the module docstring."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    started = _process_cpu_s()
    report: LoadReport = runner(_run_http(host, port, path, api_key, bodies, concurrency))
    report.client_cpu_s = _process_cpu_s() - started
    return report


def sdk_columns(
    tenant_id: str, pairs: int, *, tag: str = ""
) -> tuple[EventColumns, list[uuid.UUID]]:
    """``pairs`` interactions, each with a rating, encoded by the real SDK recorder and
    drained as one column batch; and the interactions' ids."""
    from atlas_core.kernels.buffer import FeedbackBuffer
    from atlas_core.sdk.recorder import Recorder

    buffer = FeedbackBuffer(max(2, 2 * pairs), "reject", None)
    recorder = Recorder(_BufferTransport(buffer), tenant_id=tenant_id)
    ids = []
    for i in range(pairs):
        iid = recorder.record_interaction(
            input=[{"role": "user", "content": f"question {tag}{i}"}],
            output=f"answer {tag}{i}",
            learning_key="bench",
            latency_ms=12.5,
        )
        recorder.rate(iid, 1 + i % 5)
        ids.append(iid)
    return buffer.drain_columns(2 * pairs), ids


def sdk_batches(tenant_id: str, batches: int, batch: int) -> list[bytes]:
    """``batches`` serialized ``ColumnBatch`` messages of ``batch`` events each (see
    :func:`sdk_columns`: every rating's interaction is in the same batch)."""
    from atlas_core.serve.grpc_columns import columns_to_batch

    return [
        columns_to_batch(sdk_columns(tenant_id, batch // 2, tag=f"{b}-")[0]).SerializeToString()
        for b in range(batches)
    ]


class _BufferTransport:
    """Hands the recorder's events to a buffer drained by the caller (no flusher)."""

    def __init__(self, buffer: Any) -> None:
        self._buffer = buffer

    def send(self, *args: Any, **kwargs: Any) -> bytes:
        event_id: bytes = self._buffer.push(*args, **kwargs)
        return event_id

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self, timeout: float | None = None) -> bool:
        return True

    def has_room(self) -> bool:
        return True

    def stats(self) -> Any:
        return None


async def _run_grpc(
    target: str, api_key: str, messages: list[bytes], events_per_message: int, concurrency: int
) -> LoadReport:
    import grpc

    latencies: list[float] = []
    errors: Counter[str] = Counter()
    metadata = (("authorization", f"Bearer {api_key}"),)
    acked = 0
    channels = _channels(target, min(concurrency, _GRPC_CONNECTIONS))
    # Pre-serialized requests: the generator measures the server, not protobuf encoding.
    calls = [
        channel.unary_unary(
            "/atlas.v1.Ingest/IngestColumns",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        for channel in channels
    ]
    queue = iter(messages)

    async def worker(call: Any) -> None:
        nonlocal acked
        for message in queue:
            started = time.perf_counter()
            try:
                await call(message, metadata=metadata, timeout=30)
            except grpc.aio.AioRpcError as err:
                errors[str(err.code().name)] += 1
            else:
                acked += events_per_message
            latencies.append(time.perf_counter() - started)

    seconds = await _timed(channels, *(worker(calls[i % len(calls)]) for i in range(concurrency)))
    return _grpc_report(
        f"grpc IngestColumns batches of {events_per_message} x{concurrency}",
        messages,
        events_per_message,
        seconds,
        latencies,
        errors,
        acked,
    )


async def _run_grpc_append(
    target: str,
    api_key: str,
    messages: list[bytes],
    events_per_message: int,
    streams: int,
    in_flight: int,
) -> LoadReport:
    import grpc

    from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
    from atlas_core.serve.grpc_calls import status_name

    latencies: list[float] = []
    errors: Counter[str] = Counter()
    metadata = (("authorization", f"Bearer {api_key}"),)
    acked = 0
    channels = _channels(target, streams)  # a connection per stream
    # Serialized before the clock starts: the generator measures the server.
    framed = [
        pb.IngestStreamMessage(columns=pb.ColumnBatch.FromString(m)).SerializeToString()
        for m in messages
    ]
    # The batches in flight, spread over the streams as evenly as they divide.
    windows = [in_flight // streams + (i < in_flight % streams) for i in range(streams)]

    async def stream(channel: Any, share: list[bytes], window: int) -> None:
        nonlocal acked
        call = channel.stream_stream(
            "/atlas.v1.Ingest/IngestAppend",
            request_serializer=lambda b: b,
            response_deserializer=pb.AppendResponse.FromString,
        )(metadata=metadata, timeout=600)
        sent: deque[float] = deque()
        room = asyncio.Semaphore(window)  # messages in flight on this stream

        async def answers() -> None:
            nonlocal acked
            async for answer in call:
                latencies.append(time.perf_counter() - sent.popleft())
                room.release()
                if answer.code == 0:
                    acked += answer.result.accepted
                else:
                    errors[status_name(answer.code)] += 1

        reading = asyncio.create_task(answers())
        try:
            for message in share:
                await room.acquire()
                sent.append(time.perf_counter())
                await call.write(message)
            await call.done_writing()
            await reading
        except grpc.aio.AioRpcError as err:
            errors[str(err.code().name)] += 1
            reading.cancel()

    seconds = await _timed(
        channels, *(stream(channels[i], framed[i::streams], windows[i]) for i in range(streams))
    )
    return _grpc_report(
        f"grpc IngestAppend batches of {events_per_message} x{in_flight}/{streams}",
        messages,
        events_per_message,
        seconds,
        latencies,
        errors,
        acked,
    )


def run_grpc_append(
    target: str,
    api_key: str,
    messages: list[bytes],
    events_per_message: int,
    *,
    in_flight: int = 24,
    streams: int = 8,
) -> LoadReport:
    """Sends every pre-serialized ``ColumnBatch`` over ``IngestAppend`` streams (at most
    ``streams``), ``in_flight`` batches unanswered in all; see the module docstring."""
    if in_flight < 1:
        raise ValueError(f"in_flight: must be >= 1, got {in_flight}")
    streams = max(1, min(streams, in_flight))
    started = _process_cpu_s()
    report: LoadReport = asyncio.run(
        _run_grpc_append(target, api_key, messages, events_per_message, streams, in_flight)
    )
    report.client_cpu_s = _process_cpu_s() - started
    return report


def _channels(target: str, n: int) -> list[Any]:
    """``n`` channels, a connection each (not pooled), so that a server with several
    workers sharing the port gets calls on all of them: the kernel spreads connections."""
    import grpc

    return [
        grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        for _ in range(n)
    ]


async def _timed(channels: list[Any], *clients: Coroutine[Any, Any, None]) -> float:
    """Runs the clients side by side; their wall time. Closes the channels after."""
    started = time.perf_counter()
    await asyncio.gather(*clients)
    seconds = time.perf_counter() - started
    for channel in channels:
        await channel.close()
    return seconds


def _grpc_report(
    workload: str,
    messages: list[bytes],
    events_per_message: int,
    seconds: float,
    latencies: list[float],
    errors: Counter[str],
    acked: int,
) -> LoadReport:
    return LoadReport(
        workload=workload,
        requests=len(messages),
        events=len(messages) * events_per_message,
        seconds=seconds,
        latencies_s=np.asarray(latencies),
        errors=errors,
        acknowledged=acked,
    )


def run_grpc_batches(
    target: str,
    api_key: str,
    messages: list[bytes],
    events_per_message: int,
    *,
    concurrency: int = 8,
) -> LoadReport:
    """Sends every pre-serialized ``ColumnBatch``; see the module docstring."""
    started = _process_cpu_s()
    report: LoadReport = asyncio.run(
        _run_grpc(target, api_key, messages, events_per_message, concurrency)
    )
    report.client_cpu_s = _process_cpu_s() - started
    return report


def _process_cpu_s() -> float:
    """User + system CPU seconds of this process, all threads (grpcio's poller included)."""
    times = os.times()
    return times.user + times.system

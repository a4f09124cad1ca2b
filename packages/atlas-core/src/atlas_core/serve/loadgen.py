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
server stored against the events it acknowledged.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from atlas_core.sdk.events import dumps

__all__ = ["LoadReport", "run_http_single"]


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
    report: LoadReport = runner(_run_http(host, port, path, api_key, bodies, concurrency))
    return report

"""Load test of single-event ``POST /v1/feedback``: requests/s and latency percentiles.

Usage: ``uv run python benchmarks/http_load.py [--seconds 10] [--connections 32]``

Starts the HTTP API (real SQLite store, real pipeline, real keys) in a child process, so
the server and this load generator each have their own interpreter, as they would in
production. The load generator is a minimal HTTP/1.1 keep-alive client on uvloop
(pre-encoded requests, responses parsed by Content-Length): a general client such as
httpx spends more CPU per request than the server, and on 2 cores it would measure itself.
Each connection sends one request at a time (no pipelining); latency is from the write of
a request to the last byte of its answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any


def serve(db: str) -> None:
    """Child process: the API over a fresh store; prints one JSON line with what to call."""
    from atlas_core.auth import FeedbackTokens, KeyVerifier
    from atlas_core.config import ServeConfig
    from atlas_core.serve.http_app import create_app
    from atlas_core.serve.http_server import HttpServer
    from atlas_core.serve.metrics import ServeMetrics
    from atlas_core.serve.pipeline import IngestPipeline
    from atlas_core.store import open_store
    from atlas_core.types import ApiKey, Interaction, Tenant

    store = open_store(f"sqlite:///{db}")
    store.put_tenant(Tenant.model_validate({"id": "bench"}))
    key, secret = ApiKey.issue("bench", ("ingest",))
    store.put_api_key(key)
    target = Interaction.model_validate(
        {"tenant_id": "bench", "input": [], "output": "answer", "learning_key": "bench"}
    )
    store.write_interactions([target])
    config = ServeConfig()
    metrics = ServeMetrics()
    pipeline = IngestPipeline(store, config, metrics)
    tokens = FeedbackTokens(["bench-secret-0123456789abcdef-0123456789"])
    app = create_app(pipeline, store, KeyVerifier(store), tokens, metrics, config)
    server = HttpServer(app, "127.0.0.1", 0, log_level="error")
    port = server.start()
    print(
        json.dumps({"port": port, "secret": secret, "interaction_id": str(target.id)}), flush=True
    )
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        server.stop()
        pipeline.close(timeout=10)
        store.close()


async def _connection(
    port: int, request: bytes, until: float, latencies: list[float], statuses: Counter[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses[int(head[9:12])] += 1
    finally:
        writer.close()


def _request(port: int, secret: str, interaction_id: str) -> bytes:
    body = json.dumps(
        {"interaction_id": interaction_id, "kind": "signal", "name": "copy", "value": 1.0}
    ).encode()
    head = (
        f"POST /v1/feedback HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def load(
    port: int, secret: str, interaction_id: str, seconds: float, connections: int
) -> dict[str, Any]:
    """Runs the load and returns the figures."""
    request = _request(port, secret, interaction_id)
    warm: list[float] = []
    await _connection(port, request, time.perf_counter() + 0.5, warm, Counter())
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(
        *(_connection(port, request, until, latencies, statuses) for _ in range(connections))
    )
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed),
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "statuses": dict(statuses),
        "connections": connections,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--serve", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(Path(tmp) / "bench.db")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            info = json.loads(child.stdout.readline())
            print(f"server pid {child.pid} on port {info['port']}", file=sys.stderr, flush=True)
            import uvloop

            figures = uvloop.run(
                load(
                    info["port"],
                    info["secret"],
                    info["interaction_id"],
                    args.seconds,
                    args.connections,
                )
            )
            figures["cpus"] = os.cpu_count()
            print(json.dumps(figures))
        finally:
            child.stdin.close()
            child.wait(timeout=30)


if __name__ == "__main__":
    main()

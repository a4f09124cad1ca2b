"""Load test of the HTTP API alone: single-event ``POST /v1/feedback`` requests/s, p50/p99.

Usage: ``uv run python benchmarks/http_load.py [--requests 20000] [--connections 32]``

Starts only the HTTP API (real SQLite store, real pipeline, real keys; no gRPC) in a child
process, so the server and the load generator each have their own interpreter, and drives
it with :func:`atlas_core.serve.loadgen.run_http_single` (the client behind ``atlas bench
ingest``: hand-written HTTP/1.1 on keep-alive connections, one request at a time each,
latency from send to the acknowledgement that follows the commit). Prints the figures as
JSON, with the rows the server stored, to check that nothing acknowledged was lost.

``--null-pipeline`` swaps the pipeline for :class:`NullPipeline`, which acknowledges every
event at once and stores nothing: the HTTP layer's own ceiling (auth, body, JSON, routing,
uvicorn), to tell its cost from the pipeline's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any
from uuid import UUID

from atlas_core.ids import new_id
from atlas_core.serve.loadgen import feedback_bodies, run_http_single
from atlas_core.serve.pipeline import IngestResult


class NullPipeline:
    """A measurement stand-in: every submit is acknowledged at once, nothing is stored."""

    ready = True
    pending_events = 0

    def submit(
        self,
        tenant_id: str,
        *,
        rate_key: str,
        interactions: Sequence[Mapping[str, Any]] = (),
        feedback: Sequence[Mapping[str, Any]] = (),
    ) -> Future[IngestResult]:
        done: Future[IngestResult] = Future()
        ids = tuple(new_id() for _ in feedback)
        done.set_result(IngestResult(len(feedback), 0, (), (), ids))
        return done

    def close(self, timeout: float | None = None) -> bool:
        return True


def serve(db: str, null_pipeline: bool) -> None:
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
    pipeline: Any = NullPipeline() if null_pipeline else IngestPipeline(store, config, metrics)
    tokens = FeedbackTokens(["bench-secret-0123456789abcdef-0123456789"])
    app = create_app(pipeline, store, KeyVerifier(store), tokens, metrics, config)
    server = HttpServer(app, "127.0.0.1", 0, log_level="error")
    port = server.start()
    print(
        json.dumps({"port": port, "secret": secret, "interaction_id": str(target.id)}), flush=True
    )
    try:
        sys.stdin.readline()  # until the parent asks for the count (or goes away)
    finally:
        server.stop()
        pipeline.close(timeout=10)
        print(json.dumps({"stored_feedback": store.feedback("bench").height}), flush=True)
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--null-pipeline", action="store_true", help="measure HTTP alone")
    parser.add_argument("--serve", metavar="DB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.null_pipeline)
        return
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(Path(tmp) / "bench.db")]
            + (["--null-pipeline"] if args.null_pipeline else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            info = json.loads(child.stdout.readline())
            print(f"server pid {child.pid} on port {info['port']}", file=sys.stderr, flush=True)
            target = [UUID(info["interaction_id"])]
            warm = feedback_bodies(target, 500, seed=1)
            run_http_single("127.0.0.1", info["port"], info["secret"], warm, concurrency=8)
            bodies = feedback_bodies(target, args.requests)
            report = run_http_single(
                "127.0.0.1", info["port"], info["secret"], bodies, concurrency=args.connections
            )
            child.stdin.write("done\n")
            child.stdin.flush()
            stored = json.loads(child.stdout.readline())["stored_feedback"]
            figures = {**report.summary(), "stored": stored, "warm_up": len(warm)}
            if not args.null_pipeline:
                figures["lost"] = report.acknowledged + len(warm) - stored
            figures["cpus"] = os.cpu_count()
            print(json.dumps(figures))
        finally:
            child.stdin.close()
            child.wait(timeout=30)


if __name__ == "__main__":
    main()

"""Quick load test of ``IngestColumns``: a gRPC server process and a client process on
loopback; reports events/s and per-call latency.

Usage: ``uv run python scripts/grpc_throughput.py [--batch 100] [--seconds 5]
[--in-flight 32] [--pipeline real|null]``. ``null`` resolves every submit at once (the
gRPC layer's own ceiling); ``real`` commits to SQLite through ``IngestPipeline``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any


def _serve(
    db: str, secret_out: Any, port_out: Any, pipeline_kind: str, stop: Any, workers: int
) -> None:
    from atlas_core.auth import KeyVerifier
    from atlas_core.config import ServeConfig
    from atlas_core.serve.grpc_service import create_grpc_server
    from atlas_core.serve.metrics import ServeMetrics
    from atlas_core.serve.pipeline import IngestResult
    from atlas_core.store import open_store
    from atlas_core.types import ApiKey, Tenant

    store = open_store(f"sqlite:///{db}")
    store.put_tenant(Tenant(id="bench"))
    key, secret = ApiKey.issue("bench", ("ingest",))
    store.put_api_key(key)
    config = ServeConfig(rate_limit_events_per_s=1e9, rate_limit_burst=10**9)
    metrics = ServeMetrics()

    class NullPipeline:
        ready = True

        def submit_columns(self, tenant_id: str, *, rate_key: str, columns: Any) -> Future[Any]:
            done: Future[Any] = Future()
            done.set_result(IngestResult(len(columns), 0, (), (), ()))
            return done

    if pipeline_kind == "null":
        pipeline: Any = NullPipeline()
    else:
        from atlas_core.serve.pipeline import IngestPipeline

        pipeline = IngestPipeline(store, config, metrics)
    server, port = create_grpc_server(
        pipeline,
        store,
        KeyVerifier(store),
        metrics,
        config,
        port=0,
        host="127.0.0.1",
        max_workers=workers,
    )
    secret_out.put(secret)
    port_out.put(port)
    cpu = time.process_time()
    stop.wait()
    cpu = time.process_time() - cpu
    server.stop(1).wait()
    if pipeline_kind != "null":
        pipeline.close(30)
    count = store.interactions("bench").height
    port_out.put((count, cpu))
    store.close()


def _batches(n_batches: int, batch: int) -> list[bytes]:
    from atlas_core.kernels.buffer import EventKind, FeedbackBuffer
    from atlas_core.sdk.events import NO_INTERACTION, interaction_payload
    from atlas_core.serve.grpc_columns import columns_to_batch

    buffer = FeedbackBuffer(n_batches * batch)
    payload = interaction_payload(
        tenant_id="bench",
        learning_key="bench",
        input_json='[{"role":"user","content":"How do I reset my password?"}]',
        output="Open settings, then security, then reset.",
        metadata_json="{}",
    )
    for _ in range(n_batches * batch):
        buffer.push(NO_INTERACTION, EventKind.INTERACTION, 12.0, 1, payload, time.time_ns(), None)
    return [
        columns_to_batch(buffer.drain_columns(batch)).SerializeToString() for _ in range(n_batches)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--pipeline", choices=("real", "null"), default="real")
    parser.add_argument("--workers", type=int, default=32, help="server thread pool size")
    args = parser.parse_args()

    import grpc

    ctx = mp.get_context("spawn")
    secret_q, port_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        server = ctx.Process(
            target=_serve, args=(db, secret_q, port_q, args.pipeline, stop, args.workers)
        )
        server.start()
        secret, port = secret_q.get(timeout=60), port_q.get(timeout=60)
        # Distinct ids per batch: a pool large enough that no id is sent twice.
        expected_calls = int(args.seconds * 400_000 / args.batch) + args.in_flight
        payloads = _batches(expected_calls, args.batch)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        call = channel.unary_unary("/atlas.v1.Ingest/IngestColumns")
        metadata = (("authorization", f"Bearer {secret}"),)
        call(payloads.pop(), metadata=metadata, timeout=30)  # warm-up (connection, caches)
        client_cpu = time.process_time()

        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        slots = threading.Semaphore(args.in_flight)
        sent = 0

        def done(started: float, future: Any) -> None:
            try:
                future.result()
                with lock:
                    latencies.append(time.perf_counter() - started)
            except grpc.RpcError as err:
                with lock:
                    errors.append(str(err.code()))
            finally:
                slots.release()

        start = time.perf_counter()
        deadline = start + args.seconds
        while time.perf_counter() < deadline and payloads:
            slots.acquire()
            started = time.perf_counter()
            future = call.future(payloads.pop(), metadata=metadata, timeout=30)
            future.add_done_callback(lambda f, s=started: done(s, f))
            sent += 1
        for _ in range(args.in_flight):
            slots.acquire()
        elapsed = time.perf_counter() - start
        client_cpu = time.process_time() - client_cpu
        channel.close()
        stop.set()
        stored, server_cpu = port_q.get(timeout=60)
        server.join(60)

    latencies.sort()
    ok = len(latencies)
    report = {
        "pipeline": args.pipeline,
        "batch": args.batch,
        "in_flight": args.in_flight,
        "workers": args.workers,
        "calls": sent,
        "errors": len(errors),
        "events_per_s": round(ok * args.batch / elapsed),
        "p50_ms": round(1000 * latencies[ok // 2], 2) if ok else None,
        "p99_ms": round(1000 * latencies[min(ok - 1, int(ok * 0.99))], 2) if ok else None,
        "server_cpu_us_per_call": round(1e6 * server_cpu / max(1, sent)),
        "client_cpu_us_per_call": round(1e6 * client_cpu / max(1, sent)),
        "stored": stored,
        "expected_stored": (ok + 1) * args.batch if args.pipeline == "real" else None,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()

"""``atlas bench ingest``: load a real ``atlas serve`` over loopback and report what it reached.

By default it starts its own server (a child process on a fresh SQLite store in a temporary
directory, with a bench tenant and key), runs the gRPC batch workload and then the HTTP
single-event workload, and checks that the store holds exactly the events that were
acknowledged (zero loss, no duplicates). ``--store-url`` points the server it starts at
another store (e.g. PostgreSQL).
"""

from __future__ import annotations

import enum
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["bench_app"]


class GrpcRpc(enum.StrEnum):
    """Which gRPC ingest call the batch workload uses."""

    append = "append"
    unary = "unary"
    both = "both"


bench_app = typer.Typer(help="Measure Atlas on this machine.", no_args_is_help=True)
_out = Console()


@bench_app.command("ingest")
def ingest(
    events: Annotated[int, typer.Option(min=1, help="Events sent over gRPC in all.")] = 200_000,
    batch: Annotated[int, typer.Option(min=2, help="Events per gRPC request (pairs).")] = 100,
    grpc_rpc: Annotated[
        GrpcRpc,
        typer.Option(
            help="append: IngestAppend streams (each batch answered once committed, many in "
            "flight per stream); unary: one IngestColumns call per batch; both: one run each."
        ),
    ] = GrpcRpc.both,
    grpc_concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            help="gRPC batches in flight (append: over up to 8 streams). Latency is about "
            "batches in flight / rate (Little's law): 24 batches of 100 events at 100,000 "
            "events/s wait ~24 ms each on average.",
        ),
    ] = 24,
    http_requests: Annotated[
        int, typer.Option(min=0, help="Single-event HTTP requests in all (0: skip).")
    ] = 20_000,
    http_concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            help="Keep-alive HTTP connections. More in flight let single-event requests "
            "share commits (less server CPU each): 64 at 3,000 requests/s wait ~21 ms.",
        ),
    ] = 64,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Worker processes of the server it starts (default: one per core)."
        ),
    ] = max(1, os.cpu_count() or 1),
    store_url: Annotated[
        str | None, typer.Option(help="Store of the server it starts (default: temp SQLite).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Load a local `atlas serve` with gRPC batches and single-event HTTP requests; report
    events/s, requests/s, p50/p99 latency, the server's CPU per event and loss."""
    from atlas_core.serve.cpu_times import tree_cpu_seconds
    from atlas_core.serve.loadgen import (
        feedback_bodies,
        run_grpc_append,
        run_grpc_batches,
        run_http_single,
        sdk_batches,
    )
    from atlas_core.serve.process import ServerProcess
    from atlas_core.store import open_store
    from atlas_core.types import ApiKey, Tenant

    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as tmp:
        url = store_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        tenant = "bench"
        with open_store(url) as store:
            store.put_tenant(Tenant(id=tenant, name="atlas bench ingest"))
            key, secret = ApiKey.issue(tenant, ("ingest", "read"), name="bench")
            store.put_api_key(key)
            before = _counts(store, tenant)
        _out.print(f"preparing {events} gRPC events per run and {http_requests} HTTP requests …")
        rpcs = [GrpcRpc.append, GrpcRpc.unary] if grpc_rpc is GrpcRpc.both else [grpc_rpc]
        # Fresh events for each run (new ids), so that nothing is deduplicated away.
        runs = {rpc: sdk_batches(tenant, max(1, events // batch), batch) for rpc in rpcs}
        server = ServerProcess(
            url,
            Path(tmp),
            "--rate-limit",
            "1e9",
            "--rate-burst",
            str(10**9),
            "--workers",
            str(workers),
        )
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        reports = []
        try:
            for rpc, messages in runs.items():
                cpu = tree_cpu_seconds(pid)
                if rpc is GrpcRpc.append:
                    report = run_grpc_append(
                        server.grpc_target, secret, messages, batch, in_flight=grpc_concurrency
                    )
                else:
                    report = run_grpc_batches(
                        server.grpc_target, secret, messages, batch, concurrency=grpc_concurrency
                    )
                report.server_cpu_s = _used(cpu, tree_cpu_seconds(pid))
                reports.append(report)
            if http_requests:
                with open_store(url) as store:
                    targets = store.interactions(tenant).head(10_000)["id"].to_list()
                import uuid

                bodies = feedback_bodies([uuid.UUID(bytes=t) for t in targets], http_requests)
                cpu = tree_cpu_seconds(pid)
                reports.append(
                    run_http_single(
                        "127.0.0.1", server.http_port, secret, bodies, concurrency=http_concurrency
                    )
                )
                reports[-1].server_cpu_s = _used(cpu, tree_cpu_seconds(pid))
        finally:
            code, log = server.terminate()
        with open_store(url) as store:
            after = _counts(store, tenant)
    stored = sum(after.values()) - sum(before.values())
    acknowledged = sum(r.acknowledged for r in reports)
    result: dict[str, Any] = {
        "workloads": [r.summary() for r in reports],
        "acknowledged": acknowledged,
        "stored": stored,
        "lost": max(0, acknowledged - stored),
        "server_exit": code,
    }
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    if result["lost"] or code != 0:
        _out.print(log[-2000:], markup=False)
        raise typer.Exit(1)


def _used(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _counts(store: Any, tenant: str) -> dict[str, int]:
    return {
        "interactions": store.interactions(tenant).height,
        "feedback": store.feedback(tenant).height,
    }


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _print(result: dict[str, Any]) -> None:
    table = Table(title="atlas bench ingest (loopback)")
    columns = ("workload", "events/s", "requests/s", "p50 ms", "p99 ms")
    # Both sides share this machine's cores: where its CPU goes, per acknowledged event.
    cpu = ("server CPU µs/event", "client CPU µs/event")
    for column in (*columns, *cpu, "errors"):
        table.add_column(column)
    for w in result["workloads"]:
        table.add_row(
            w["workload"],
            f"{w['events_per_s']:,}",
            f"{w['requests_per_s']:,}",
            f"{w['p50_ms']:.2f}",
            f"{w['p99_ms']:.2f}",
            *(_us(w.get(key)) for key in ("server_cpu_us_per_event", "client_cpu_us_per_event")),
            ", ".join(f"{k}: {v}" for k, v in w["errors"].items()) or "-",
        )
    _out.print(table)
    _out.print(
        f"acknowledged {result['acknowledged']:,}, stored {result['stored']:,}, "
        f"lost {result['lost']:,}; server exit status {result['server_exit']}"
    )

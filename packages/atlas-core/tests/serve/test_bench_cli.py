"""`atlas bench ingest` end to end, small: it starts a real server, loads both transports
and checks the store holds exactly what was acknowledged."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from atlas_core.cli import build_app


def test_bench_ingest_reports_every_workload_and_zero_loss() -> None:
    args = ["bench", "ingest", "--events", "2000", "--http-requests", "200", "--json"]
    result = CliRunner().invoke(build_app(), [*args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert (report["acknowledged"], report["stored"], report["lost"]) == (4200, 4200, 0)
    assert report["server_exit"] == 0
    append, unary, http = report["workloads"]
    assert append["workload"].startswith("grpc IngestAppend")
    assert unary["workload"].startswith("grpc IngestColumns")
    assert append["events_acknowledged"] == unary["events_acknowledged"] == 2000
    assert http["events_acknowledged"] == 200
    for workload in (append, unary, http):
        assert workload["events_per_s"] > 0
        assert 0 < workload["p50_ms"] <= workload["p99_ms"]
        assert workload["errors"] == {}


def test_bench_ingest_refuses_no_batches_in_flight_naming_the_option() -> None:
    result = CliRunner().invoke(build_app(), ["bench", "ingest", "--grpc-concurrency", "0"])
    assert result.exit_code == 2
    assert "--grpc-concurrency" in result.output

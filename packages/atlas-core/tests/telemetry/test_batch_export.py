"""Batch export of a store's interactions (``atlas traces export``): ranges, rewards,
paging and idempotency, against a real receiver and a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atlas_core.cli import app
from atlas_core.cli_traces import parse_time
from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Store, open_store
from atlas_core.telemetry import TelemetryExportError, export_interactions
from atlas_core.telemetry import batch as batch_module
from atlas_core.telemetry.exporter import build_exporter
from atlas_core.types import Interaction, Reward

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return "sqlite:///" + str(tmp_path / "a.db")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def fill(store: Store) -> list[Interaction]:
    """Ten interactions a minute apart (two sharing a time), in two keys and two tenants;
    the third one rewarded twice (the latest reward counts)."""
    rows = [
        Interaction(
            learning_key="math" if i % 2 else "chat",
            input=[{"role": "user", "content": f"q{i}"}],
            output=f"a{i}",
            latency_ms=10.0 + i,
            created_at=T0 + timedelta(minutes=min(i, 8)),  # 8 and 9 share a time
        )
        for i in range(10)
    ]
    store.write_interactions(rows)
    store.write_interactions(
        [Interaction(tenant_id="other", input=[{"role": "user", "content": "x"}], output="y")]
    )
    store.write_rewards(
        [
            Reward(interaction_id=rows[2].id, score=0.2, created_at=T0 + timedelta(hours=1)),
            Reward(interaction_id=rows[2].id, score=0.9, created_at=T0 + timedelta(hours=2)),
        ]
    )
    return rows


def test_a_range_is_exported_once_per_interaction_with_its_latest_reward(
    receiver: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = fill(store)
    monkeypatch.setattr(batch_module, "_PAGE", 3)  # several pages, one boundary inside a time
    exporter = build_exporter(receiver.url, timeout_s=5)
    report = export_interactions(
        store, "default", exporter, since=T0 + timedelta(minutes=1), batch_size=4
    )
    assert (report.interactions, report.spans, report.requests) == (9, 9, 3)
    assert [len(r) for r in receiver.requests] == [4, 4, 1]
    assert [s.trace_id for s in receiver.spans] == [r.id.bytes for r in rows[1:]]
    rewards = {s.trace_id: s.attributes.get("atlas.reward") for s in receiver.spans}
    assert rewards[rows[2].id.bytes] == pytest.approx(0.9)
    assert sum(v is not None for v in rewards.values()) == 1

    receiver.requests.clear()
    only_math = export_interactions(
        store, "default", exporter, learning_keys=["math"], until=T0 + timedelta(minutes=5)
    )
    assert only_math.interactions == 2  # minutes 1 and 3
    assert {s.attributes["atlas.learning_key"] for s in receiver.spans} == {"math"}


def test_exporting_twice_sends_identical_spans(receiver: Any, store: Store) -> None:
    fill(store)
    exporter = build_exporter(receiver.url, timeout_s=5)
    export_interactions(store, "default", exporter)
    export_interactions(store, "default", exporter)
    first, second = receiver.requests
    assert len(first) == 10
    key = lambda s: (s.trace_id, s.span_id, s.parent_span_id, s.start_ns, s.end_ns)  # noqa: E731
    assert [key(s) for s in first] == [key(s) for s in second]
    assert [s.attributes for s in first] == [s.attributes for s in second]


def test_bad_ranges_and_a_dead_receiver_raise(store: Store, dead_url: str) -> None:
    fill(store)
    exporter = build_exporter(dead_url, timeout_s=0.5)
    with pytest.raises(InvalidArgumentError, match="`until`"):
        export_interactions(store, "default", exporter, since=T0, until=T0)
    with pytest.raises(InvalidArgumentError, match="`batch_size`"):
        export_interactions(store, "default", exporter, batch_size=0)
    with pytest.raises(TelemetryExportError, match="export of 10 spans"):
        export_interactions(store, "default", exporter)


def test_parse_time_takes_iso_times_and_ages() -> None:
    now = datetime(2026, 5, 2, tzinfo=UTC)
    assert parse_time("24h", "--since", now) == datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_time("90s", "--since", now) == now - timedelta(seconds=90)
    assert parse_time("2026-05-01T12:00:00Z", "--since") == T0
    assert parse_time("2026-05-01T12:00:00", "--since") == T0  # naive is UTC
    with pytest.raises(InvalidArgumentError, match="`--since`"):
        parse_time("yesterday", "--since")


def test_the_cli_exports_and_reports(receiver: Any, store: Store, store_url: str) -> None:
    rows = fill(store)
    runner = CliRunner()
    args = ["traces", "export", "--store", store_url, "--endpoint", receiver.url]
    result = runner.invoke(app, [*args, "--since", "2026-05-01T12:07:00Z", "--include-content"])
    assert result.exit_code == 0, result.output
    assert f"exported 3 interactions (3 spans) in 1 requests to {receiver.url}" in result.output
    assert [s.trace_id for s in receiver.spans] == [r.id.bytes for r in rows[7:]]
    assert "gen_ai.input.messages" in receiver.spans[0].attributes

    other = runner.invoke(app, [*args, "--tenant", "other", "--header", "x-team=atlas"])
    assert other.exit_code == 0, other.output
    assert "exported 1 interactions" in other.output


def test_the_cli_fails_with_one_line(store_url: str, dead_url: str) -> None:
    runner = CliRunner()
    args = ["traces", "export", "--store", store_url]
    bad_since = runner.invoke(app, [*args, "--since", "last week"])
    assert bad_since.exit_code == 1
    assert "invalid argument `--since`" in bad_since.output
    bad_protocol = runner.invoke(app, [*args, "--protocol", "zipkin"])
    assert bad_protocol.exit_code == 1
    assert "`--protocol`" in bad_protocol.output
    with open_store(store_url) as store:
        fill(store)
    down = runner.invoke(app, [*args, "--endpoint", dead_url, "--timeout", "0.5"])
    assert down.exit_code == 1
    assert f"error: OTLP export of 10 spans to {dead_url} failed" in down.output

"""Live export: interactions recorded through the SDK and the runtime reach the receiver."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atlas_core import wrap
from atlas_core.runtime import FunctionAgent, Runtime
from atlas_core.sdk import EmbeddedTransport, Recorder
from atlas_core.store import Store, open_store
from atlas_core.telemetry import LiveTraceExport, default_hooks, reset_default_hooks
from atlas_core.telemetry.exporter import build_exporter


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store("sqlite:///" + str(tmp_path / "a.db"))
    yield opened
    opened.close()


@pytest.fixture
def recorder(store: Store) -> Iterator[Recorder]:
    rec = Recorder.embedded(store)
    yield rec
    rec.close()


def live(url: str, **options: Any) -> LiveTraceExport:
    options.setdefault("export_interval_s", 0.05)
    return LiveTraceExport(build_exporter(url, timeout_s=2), **options)


def test_wrapped_calls_are_exported_as_their_stored_interactions(
    receiver: Any, recorder: Recorder, store: Store
) -> None:
    export = live(receiver.url)
    export.attach(recorder)
    export.attach(recorder)  # once only
    assert recorder.interaction_hooks.count(export) == 1

    @wrap(learning_key="support", model_version="m1", recorder=recorder)
    def agent(question: str) -> str:
        if question == "fail":
            raise ValueError("cannot")
        return "answer to " + question

    agent("a")
    agent("b")
    with pytest.raises(ValueError, match="cannot"):
        agent("fail")
    assert recorder.flush(10)
    assert export.close(10)
    stats = export.stats()
    assert (stats.exported, stats.failed, stats.dropped, stats.queued) == (3, 0, 0, 0)

    rows = store.interactions("default")
    roots = {s.trace_id: s for s in receiver.spans}
    assert set(roots) == set(rows["id"].to_list())  # one trace per stored interaction
    for row in rows.iter_rows(named=True):
        root = roots[row["id"]]
        assert root.name == "invoke_agent support"
        assert root.attributes["atlas.interaction.id"] == str(uuid.UUID(bytes=row["id"]))
        assert root.attributes["gen_ai.request.model"] == "m1"
        created_ns = int(row["created_at"].timestamp() * 1e6) * 1000  # microseconds
        assert abs(root.end_ns - created_ns) <= 1000
        assert root.end_ns - root.start_ns == pytest.approx(row["latency_ms"] * 1e6, abs=1e3)
        failed = row["output"] == ""
        assert root.status_code == (2 if failed else 0)


def test_a_receiver_that_is_down_never_affects_the_agent_call(
    dead_url: str, recorder: Recorder, store: Store
) -> None:
    export = live(dead_url)
    export.attach(recorder)
    wrapped = wrap(lambda q: q.upper(), recorder=recorder)
    assert wrapped("hello") == "HELLO"
    assert wrapped.recording_errors == 0
    assert recorder.flush(10)
    assert store.interactions("default").height == 1  # recorded all the same
    export.flush(10)
    stats = export.stats()
    assert (stats.exported, stats.failed) == (0, 1)
    export.close(1)


def test_a_full_queue_drops_the_oldest_and_counts_them(receiver: Any, recorder: Recorder) -> None:
    export = live(receiver.url, queue_size=2, batch_size=100, export_interval_s=60)
    export.attach(recorder)
    ids = [recorder.record_interaction(input=str(i), output="x") for i in range(5)]
    assert export.stats().dropped == 3
    assert export.flush(10)
    assert export.stats().exported == 2
    assert [s.trace_id for s in receiver.spans] == [i.bytes for i in ids[3:]]
    export.close(1)


def test_runtime_runs_are_exported_with_one_span_per_step(
    receiver: Any, store: Store, recorder: Recorder
) -> None:
    export = live(receiver.url)
    export.attach(recorder)

    def student(prompt: str) -> str:
        return "42"

    def teacher(prompt: str) -> str:
        raise TimeoutError("teacher is slow")

    with Runtime(
        FunctionAgent(student, name="student-1"),
        FunctionAgent(teacher, name="teacher-1"),
        store=store,
        recorder=recorder,
    ) as runtime:
        outcome = runtime.run("What is 20 + 22?", learning_key="math", lane="paired")
    assert outcome.answer == "42"
    assert outcome.degraded
    assert recorder.flush(10)
    assert export.close(10)
    steps = outcome.trace.steps
    root, *children = receiver.spans
    assert root.trace_id == outcome.interaction_id.bytes  # type: ignore[union-attr]
    assert root.attributes["atlas.lane"] == "paired"
    assert root.attributes["atlas.versions.teacher"] == "teacher-1"
    assert [c.attributes["atlas.step.name"] for c in children] == [s.name for s in steps]
    assert all(c.parent_span_id == root.span_id for c in children)
    failed = [c for c in children if c.status_code == 2]
    assert [c.attributes["atlas.step.name"] for c in failed] == [
        s.name for s in steps if s.error is not None
    ]
    assert failed
    assert all(c.events[0][0] == "exception" for c in failed)
    assert root.status_code == 0  # the student's answer was served


@pytest.fixture
def clean_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.chdir(tmp_path)  # no atlas.yaml around
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "ATLAS_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    reset_default_hooks()
    yield
    reset_default_hooks()


@pytest.mark.usefixtures("clean_defaults")
def test_the_standard_endpoint_variable_turns_live_export_on(
    receiver: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_hooks() == []
    reset_default_hooks()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url)
    monkeypatch.setenv("ATLAS_TELEMETRY__EXPORT_INTERVAL_S", "0.05")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout-agent")
    rec = Recorder.embedded(store)
    (hook,) = rec.interaction_hooks
    assert isinstance(hook, LiveTraceExport)
    # A bare recorder (evaluation runs, load tests: not traffic) exports nothing.
    assert Recorder(EmbeddedTransport(store)).interaction_hooks == []
    interaction_id = rec.record_interaction(input="q", output="a", learning_key="k")
    assert rec.close(10)
    assert hook.flush(10)
    (root,) = receiver.spans
    assert root.trace_id == interaction_id.bytes
    assert root.resource["service.name"] == "checkout-agent"


@pytest.mark.usefixtures("clean_defaults")
def test_telemetry_enabled_false_wins_over_the_variable(
    receiver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("ATLAS_TELEMETRY__ENABLED", "false")
    assert default_hooks() == []


def test_when_the_configuration_turns_export_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from atlas_core.config.models import TelemetryConfig

    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    assert not TelemetryConfig().active()
    assert TelemetryConfig(enabled=True).active()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert TelemetryConfig().active()
    assert not TelemetryConfig(enabled=False).active()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not TelemetryConfig().active()
    assert TelemetryConfig(enabled=True).active()  # an explicit setting wins

"""Delivery: retries of a busy receiver, a receiver that is down, gRPC, the extra's error."""

from __future__ import annotations

from typing import Any

import pytest

from atlas_core.errors import ConfigError, InvalidArgumentError
from atlas_core.telemetry import MissingExtraError, TelemetryExportError
from atlas_core.telemetry.errors import require
from atlas_core.telemetry.exporter import build_exporter, resolve_endpoint
from atlas_core.telemetry.spans import interaction_spans
from atlas_core.types import Interaction


def _interaction() -> Interaction:
    return Interaction(input=[{"role": "user", "content": "hi"}], output="hello", latency_ms=5.0)


def test_a_busy_receiver_is_retried_until_it_takes_the_spans(receiver: Any) -> None:
    receiver.fail_with = [503, 503]
    interaction = _interaction()
    build_exporter(receiver.url, timeout_s=5).export(interaction_spans(interaction))
    assert receiver.attempts == 3  # two 503s, then the 200
    assert [s.trace_id for s in receiver.spans] == [interaction.id.bytes]


def test_a_receiver_that_is_down_fails_with_a_clear_error(dead_url: str) -> None:
    exporter = build_exporter(dead_url, timeout_s=0.5)
    with pytest.raises(TelemetryExportError, match=r"export of 1 spans to http://127\.0\.0\.1:"):
        exporter.export(interaction_spans(_interaction()))


def test_a_client_error_is_not_retried(receiver: Any) -> None:
    receiver.fail_with = [400]
    with pytest.raises(TelemetryExportError, match="refused the request"):
        build_exporter(receiver.url, timeout_s=5).export(interaction_spans(_interaction()))
    assert receiver.attempts == 1
    assert receiver.requests == []


def test_grpc_export_reaches_a_grpc_receiver(grpc_receiver: Any) -> None:
    interaction = _interaction()
    exporter = build_exporter(grpc_receiver.url, protocol="grpc", timeout_s=5)
    try:
        exporter.export(interaction_spans(interaction))
    finally:
        exporter.shutdown()
    (root,) = grpc_receiver.spans
    assert (root.trace_id, root.name) == (interaction.id.bytes, "invoke_agent default")


def test_endpoint_resolution_follows_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert resolve_endpoint(None) == "http://localhost:4318/v1/traces"
    assert resolve_endpoint(None, "grpc") == "http://localhost:4317"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert resolve_endpoint(None) == "http://collector:4318/v1/traces"
    assert resolve_endpoint(None, "grpc") == "http://collector:4318/"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t.example/in")
    assert resolve_endpoint(None) == "https://t.example/in"
    assert resolve_endpoint("http://x:1/v1/traces") == "http://x:1/v1/traces"
    with pytest.raises(InvalidArgumentError, match="`endpoint`: an http:// or https:// URL"):
        resolve_endpoint("collector:4318")
    with pytest.raises(InvalidArgumentError, match="`protocol`"):
        build_exporter("http://x:1", protocol="thrift")  # type: ignore[arg-type]


def test_a_missing_library_names_the_extra_to_install() -> None:
    with pytest.raises(MissingExtraError, match=r"atlas-core\[otel\]") as info:
        require("atlas_no_such_module.sub", "otel", "OTLP export")
    assert "atlas_no_such_module" in str(info.value)
    assert isinstance(info.value, ConfigError)

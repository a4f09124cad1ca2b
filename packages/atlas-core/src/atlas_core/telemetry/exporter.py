"""Sending spans to an OTLP receiver (a collector, Jaeger, Tempo, Honeycomb, ...).

``build_exporter`` makes the OpenTelemetry SDK's OTLP exporter for ``http/protobuf``
(default) or ``grpc``; :class:`TraceExporter` wraps it so a failed export raises
:class:`TelemetryExportError` naming the endpoint instead of returning a bare FAILURE.
The SDK exporter retries 429/502/503/504 and connection errors with exponential backoff
(honouring ``Retry-After``) until ``timeout_s`` runs out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Literal

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from atlas_core.errors import InvalidArgumentError
from atlas_core.telemetry.errors import TelemetryExportError, require

__all__ = [
    "DEFAULT_HTTP_ENDPOINT",
    "Protocol",
    "TraceExporter",
    "build_exporter",
    "resolve_endpoint",
]

Protocol = Literal["http/protobuf", "grpc"]
DEFAULT_HTTP_ENDPOINT = "http://localhost:4318/v1/traces"
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"


def resolve_endpoint(endpoint: str | None, protocol: Protocol = "http/protobuf") -> str:
    """The traces URL: ``endpoint``, else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (plus ``/v1/traces`` over HTTP), else the local default."""
    url = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not url:
        base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if base:
            url = base if protocol == "grpc" else base.rstrip("/") + "/v1/traces"
        else:
            url = DEFAULT_GRPC_ENDPOINT if protocol == "grpc" else DEFAULT_HTTP_ENDPOINT
    if not url.startswith(("http://", "https://")):
        raise InvalidArgumentError(
            f"invalid argument `endpoint`: an http:// or https:// URL, got {url!r}"
        )
    return url


def build_exporter(
    endpoint: str | None = None,
    *,
    protocol: Protocol = "http/protobuf",
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
) -> TraceExporter:
    """An exporter to ``endpoint`` (see :func:`resolve_endpoint`); ``headers`` default to
    ``OTEL_EXPORTER_OTLP_HEADERS``. MissingExtraError without the ``otel`` extra."""
    if protocol not in ("http/protobuf", "grpc"):
        raise InvalidArgumentError(
            f"invalid argument `protocol`: 'http/protobuf' or 'grpc', got {protocol!r}"
        )
    if not timeout_s > 0:
        raise InvalidArgumentError(f"invalid argument `timeout_s`: must be > 0, got {timeout_s}")
    url = resolve_endpoint(endpoint, protocol)
    inner: SpanExporter
    if protocol == "grpc":
        grpc_exporter = require(
            "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "otel", "OTLP/gRPC export"
        )
        inner = grpc_exporter.OTLPSpanExporter(
            endpoint=url,
            insecure=url.startswith("http://"),
            headers=dict(headers) if headers else None,
            timeout=timeout_s,
        )
    else:
        http_exporter = require(
            "opentelemetry.exporter.otlp.proto.http.trace_exporter", "otel", "OTLP/HTTP export"
        )
        inner = http_exporter.OTLPSpanExporter(
            endpoint=url, headers=dict(headers) if headers else None, timeout=timeout_s
        )
    return TraceExporter(inner, url)


class TraceExporter:
    """An SDK span exporter and the URL it sends to; :meth:`export` raises on failure."""

    def __init__(self, exporter: SpanExporter, endpoint: str) -> None:
        self.exporter = exporter
        self.endpoint = endpoint

    def export(self, spans: Sequence[ReadableSpan]) -> None:
        """Sends ``spans`` in one request (retrying transient failures); raises
        TelemetryExportError when the receiver did not take them."""
        if not spans:
            return
        try:
            result = self.exporter.export(spans)
        except Exception as exc:  # the SDK's exporters log and return; be safe anyway
            raise TelemetryExportError(
                f"OTLP export of {len(spans)} spans to {self.endpoint} failed: {exc!r}"
            ) from exc
        if result is not SpanExportResult.SUCCESS:
            raise TelemetryExportError(
                f"OTLP export of {len(spans)} spans to {self.endpoint} failed: the receiver "
                "is down, refused the request or did not answer in time (the "
                "opentelemetry.exporter log has the cause)"
            )

    def shutdown(self) -> None:
        """Releases the exporter's connections."""
        self.exporter.shutdown()

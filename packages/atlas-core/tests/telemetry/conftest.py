"""A real OTLP/HTTP receiver (and an OTLP/gRPC one) for the telemetry tests.

:class:`OtlpReceiver` is an HTTP server on localhost accepting ``POST /v1/traces`` with a
protobuf ``ExportTraceServiceRequest`` (gzip or not), decoded with ``opentelemetry-proto``.
It can be scripted to answer some requests with an error status first (``fail_with``).
Received spans are flattened into :class:`Received` records for assertions.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


@dataclass
class Received:
    """One span as the receiver decoded it."""

    name: str
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    start_ns: int
    end_ns: int
    kind: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status_code: int
    status_message: str
    resource: dict[str, Any]
    scope: str


def decode(request: trace_service_pb2.ExportTraceServiceRequest) -> list[Received]:
    """The spans of one export request, flattened."""
    spans = []
    for rs in request.resource_spans:
        resource = {a.key: _value(a.value) for a in rs.resource.attributes}
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(
                    Received(
                        name=s.name,
                        trace_id=s.trace_id,
                        span_id=s.span_id,
                        parent_span_id=s.parent_span_id,
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                        kind=s.kind,
                        attributes={a.key: _value(a.value) for a in s.attributes},
                        events=[
                            (e.name, {a.key: _value(a.value) for a in e.attributes})
                            for e in s.events
                        ],
                        status_code=s.status.code,
                        status_message=s.status.message,
                        resource=resource,
                        scope=ss.scope.name,
                    )
                )
    return spans


@dataclass
class OtlpReceiver:
    """Requests received (decoded) and the script of error answers still to give."""

    url: str = ""
    requests: list[list[Received]] = field(default_factory=list)
    attempts: int = 0
    """Every POST, answered with an error or not."""
    fail_with: list[int] = field(default_factory=list)
    """Statuses to answer the next requests with (then 200)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def spans(self) -> list[Received]:
        with self.lock:
            return [s for request in self.requests for s in request]


def _handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            with receiver.lock:
                receiver.attempts += 1
                status = receiver.fail_with.pop(0) if receiver.fail_with else 200
            if status != 200:
                self.send_response(status)
                self.send_header("Retry-After", "0")  # keep the exporter's retry fast
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            assert self.headers.get("Content-Type") == "application/x-protobuf"
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            with receiver.lock:
                receiver.requests.append(decode(request))
            payload = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver on a free localhost port; ``receiver.url`` is its traces URL."""
    state = OtlpReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def grpc_receiver() -> Iterator[OtlpReceiver]:
    """An OTLP/gRPC receiver (TraceService/Export) on a free localhost port."""
    state = OtlpReceiver()

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(  # noqa: N802 - the generated service's method name
            self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
        ) -> trace_service_pb2.ExportTraceServiceResponse:
            with state.lock:
                state.attempts += 1
                state.requests.append(decode(request))
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    state.url = f"http://127.0.0.1:{port}"
    yield state
    server.stop(None)


@pytest.fixture
def dead_url() -> str:
    """A traces URL on a localhost port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"

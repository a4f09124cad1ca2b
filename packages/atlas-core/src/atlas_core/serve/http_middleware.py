"""Pure ASGI middleware of the HTTP API: body-size limit, browser CORS, request metrics.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) because each layer is on the hot path:
a wrapper around ``receive``/``send`` costs a few microseconds, a task-per-request
middleware costs tens.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atlas_core.serve.http_errors import BodyTooLargeError, error_response
from atlas_core.serve.metrics import ServeMetrics

__all__ = ["BodyLimit", "BrowserCors", "RequestMetrics"]

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, never buffering more than that.

    A declared ``Content-Length`` over the limit is answered at once, before any of the
    body is read. A body without one (chunked), or longer than declared, is counted as it
    streams in: ``receive`` raises :class:`BodyTooLargeError` as soon as the count passes
    the limit, and the answer closes the connection so the rest is never read. (The HTTP
    parser itself never hands over more than ``Content-Length`` bytes as this request's
    body; extra bytes are parsed as the next request and refused as malformed.)
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            err = BodyTooLargeError(
                f"body: Content-Length {int(declared)} exceeds the limit of {limit} bytes"
            )
            await error_response(err)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(f"body: exceeds the limit of {limit} bytes")
            return message

        await self.app(scope, limited, send)


class BrowserCors:
    """CORS for the browser-feedback paths only: any origin may POST (the feedback token in
    the request is the credential, no cookies are involved). Answers preflights itself and
    adds ``Access-Control-Allow-Origin: *`` to every answer of those paths, errors included,
    so a page can read why its post was refused."""

    def __init__(self, app: ASGIApp, paths: Iterable[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", b"POST, OPTIONS"),
                        (b"access-control-allow-headers", b"authorization, content-type"),
                        (b"access-control-max-age", b"86400"),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((b"access-control-allow-origin", b"*"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_cors)


class RequestMetrics:
    """Counts every answer in ``metrics.requests`` (transport ``http``, method = HTTP method
    and route template, status) and observes its duration. Unrouted paths share one label
    (``unmatched``), so a scanner cannot grow the label set without bound."""

    def __init__(self, app: ASGIApp, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # if the app raises before answering, the server answers 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            verb = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
            method = f"{verb} {path}"
            self.metrics.requests.labels("http", method, str(status)).inc()
            self.metrics.request_seconds.labels("http", method).observe(time.perf_counter() - start)

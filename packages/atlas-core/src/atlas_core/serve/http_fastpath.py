"""The write endpoints served straight from ASGI, ahead of FastAPI.

Measured on the 2-core machine (single-event ``POST /v1/feedback`` over 32 keep-alive
connections, the load generator on the same cores, a pipeline that acknowledges at once so
only HTTP is measured): the same handlers as ordinary FastAPI routes served 2.9-3.5k
requests/s with p99 82-103 ms (py-spy: the handler itself ~20 % of the server's time, the
framework's routing, dependency solving, ``Request`` objects and exception middlewares most
of the rest); answered here, 5.8-7.4k requests/s with p99 10-12 ms. The writes are the hot
paths (one request per agent call or user click), so :class:`FastPath` answers them
itself: a dict lookup on the path, the body read under the size limit, the handler, one
orjson-encoded answer. Everything else (reads, health, docs) goes on to the FastAPI app.
The OpenAPI document still describes these endpoints, from their :class:`Endpoint`
records (:mod:`atlas_core.serve.http_openapi`).

What the framework did for these paths is done here: the body-size limit (while reading,
so a lying or absent ``Content-Length`` cannot make the server buffer more than
``max_body_bytes``), error answers (:func:`atlas_core.serve.http_errors.error_response`),
CORS for the browser endpoint, 405 for another method, and the request metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atlas_core.errors import AtlasError
from atlas_core.serve.http_errors import BodyTooLargeError, error_response
from atlas_core.serve.http_middleware import observe
from atlas_core.serve.metrics import ServeMetrics

__all__ = ["Answer", "Endpoint", "FastPath", "Handler", "header", "read_body"]

_log = logging.getLogger("atlas.serve.http")

Answer = tuple[int, Any]
"""A handler's answer: HTTP status and a JSON-encodable body (orjson: UUIDs, datetimes)."""
Handler = Callable[[Scope, bytes], Awaitable[Answer]]
"""A write handler: the ASGI scope (for headers) and the whole body; raises AtlasError."""

_JSON = (b"content-type", b"application/json")
_CORS = (b"access-control-allow-origin", b"*")
_PREFLIGHT = [
    _CORS,
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


@dataclass(frozen=True)
class Endpoint:
    """One write endpoint: where, what it does, and what the OpenAPI document says of it."""

    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel]
    """The request body's model (documentation: the handler parses the body itself)."""
    response: type[BaseModel]
    description: str = ""
    cors: bool = False
    """Whether any web origin may call it (the browser feedback endpoint)."""
    errors: tuple[int, ...] = field(default=(401, 403, 413, 422, 429, 503))


class _DisconnectedError(Exception):
    """The client went away before its body arrived: nobody to answer."""


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case bytes), or None."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing (BodyTooLargeError) as soon as it is known to be
    over ``limit`` bytes: at once from ``Content-Length``, else while it streams in."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(
            f"body: Content-Length {int(declared)} exceeds the limit of {limit} bytes"
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"body: exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FastPath:
    """ASGI app answering ``endpoints`` itself and passing every other request to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        endpoints: list[Endpoint],
        metrics: ServeMetrics,
        max_body_bytes: int,
        app_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.endpoints = {(e.method, e.path): e for e in endpoints}
        self.paths = {e.path: e for e in endpoints}
        self.app_paths = app_paths
        """Paths ``app`` serves too (with other methods): those requests go on to it."""
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        endpoint = self.endpoints.get((method, path))
        if endpoint is None:
            await self._not_ours(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        started = False
        try:
            body = await read_body(scope, receive, self.max_body_bytes)
            status, payload = await endpoint.handler(scope, body)
            content = orjson.dumps(payload)
            headers = [_JSON, (b"content-length", str(len(content)).encode())]
            if endpoint.cors:
                headers.append(_CORS)
            started = True
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})
        except _DisconnectedError:
            status = 499  # nginx's "client closed request": counted, not answered
        except Exception as exc:
            if started:
                raise  # the answer is half sent: only the server can end the connection
            if not isinstance(exc, AtlasError):
                _log.error("unhandled error on %s %s", method, path, exc_info=exc)
            response = error_response(exc)
            status = response.status_code
            await response(scope, receive, _with_cors(send) if endpoint.cors else send)
        finally:
            observe(self.metrics, f"{method} {path}", status, start)

    async def _not_ours(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request for no endpoint here: a CORS preflight, 405, or the app's."""
        path = scope["path"]
        endpoint = self.paths.get(path)
        if endpoint is None or path in self.app_paths:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        if scope["method"] == "OPTIONS" and endpoint.cors:
            status, headers, content = 204, _PREFLIGHT, b""
        else:
            allowed = "OPTIONS, POST" if endpoint.cors else endpoint.method
            err = {"code": "METHOD_NOT_ALLOWED", "message": f"allowed: {allowed}"}
            content = orjson.dumps({"error": err})
            status = 405
            headers = [_JSON, (b"content-length", str(len(content)).encode())]
            headers.append((b"allow", allowed.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
        verb = "OPTIONS" if status == 204 else "OTHER"
        observe(self.metrics, f"{verb} {path}", status, start)


def _with_cors(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), _CORS]}
        await send(message)

    return sending

"""Request metrics for the HTTP API (pure ASGI: a few microseconds per request, where
Starlette's ``BaseHTTPMiddleware`` would cost a task per request)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atlas_core.serve.metrics import ServeMetrics

__all__ = ["RequestMetrics", "observe"]

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe(metrics: ServeMetrics, method: str, status: int, start: float) -> None:
    """Counts one answer (transport ``http``) and observes its duration since ``start``
    (a ``time.perf_counter()`` value)."""
    metrics.requests.labels("http", method, str(status)).inc()
    metrics.request_seconds.labels("http", method).observe(time.perf_counter() - start)


class RequestMetrics:
    """Counts every answer of the wrapped app in ``metrics.requests`` (method = HTTP method
    and route template, status) and observes its duration. Unrouted paths share one label
    (``unmatched``) and unknown HTTP methods another (``OTHER``), so a scanner cannot grow
    the label set without bound."""

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
            observe(self.metrics, f"{verb} {path}", status, start)

"""The HTTP/JSON API of ``atlas serve``: ingest, browser feedback, reads, health, metrics, docs.

Why FastAPI (on uvicorn with httptools and uvloop): its typed query and path parameters
and the pydantic models of :mod:`atlas_core.serve.http_schema` give the OpenAPI document,
``/docs`` and field-named 422s for the reads without hand-written parsing, and it is plain
Starlette underneath, so the hot paths can stay lean where that matters:

- The write endpoints (the hot paths) are answered ahead of the framework by
  :class:`atlas_core.serve.http_fastpath.FastPath`, which measured about twice as fast per
  request; their bodies are decoded with orjson and handed to the pipeline as they are (a
  pydantic body model would reject a whole batch for one bad event; the pipeline rejects
  events one by one). Their schema is still in the OpenAPI document.
- The other middleware is pure ASGI (metrics): microseconds, not a task per request.
- Answers are encoded with orjson and returned as ready ``Response`` objects, so FastAPI
  does no response-model validation.

Routes: :mod:`atlas_core.serve.http_ingest` (writes) and :mod:`atlas_core.serve.http_reads`
(reads); health and metrics are below. Errors: :mod:`atlas_core.serve.http_errors`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.responses import Response

from atlas_core import __version__
from atlas_core.auth import FeedbackTokens, KeyVerifier
from atlas_core.config import ServeConfig
from atlas_core.serve.http_errors import install_error_handlers, json_response
from atlas_core.serve.http_fastpath import FastPath
from atlas_core.serve.http_ingest import write_endpoints
from atlas_core.serve.http_middleware import RequestMetrics
from atlas_core.serve.http_openapi import install_openapi
from atlas_core.serve.http_reads import read_router
from atlas_core.serve.metrics import CONTENT_TYPE, ServeMetrics
from atlas_core.serve.pipeline import IngestPipeline
from atlas_core.store import Store

__all__ = ["STORE_PROBE_TIMEOUT_S", "create_app"]

STORE_PROBE_TIMEOUT_S = 2.0
"""``/readyz`` answers 503 when the store does not answer a query within this time."""

_DESCRIPTION = """\
The Atlas ingestion API. Authenticate with an API key: `Authorization: Bearer atlas_...`
(scope `ingest` to write, `read` to read; `admin` holds both). The tenant is always the
key's. Web pages post feedback with a per-interaction feedback token instead
(`POST /v1/browser/feedback`). Errors are `{"error": {"code", "message", "field"?}}`;
429 carries `Retry-After`.
"""


def _probe_store(store: Store) -> None:
    # An indexed lookup that finds nothing: a real round trip to the database, no rows.
    store.find_api_key("0" * 64)


def create_app(
    pipeline: IngestPipeline,
    store: Store,
    verifier: KeyVerifier,
    tokens: FeedbackTokens,
    metrics: ServeMetrics,
    config: ServeConfig,
    extra_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The HTTP API over ready objects (the server assembly owns and closes them).

    Bodies over ``config.max_request_bytes`` are refused with 413 while they are read.
    ``extra_routers`` are mounted as they are (the dashboard, :mod:`atlas_core.monitoring`).
    """
    app = FastAPI(
        title="Atlas ingestion API",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    writes = write_endpoints(pipeline, verifier, tokens)
    reads = read_router(store, verifier)
    app.include_router(reads)
    for router in extra_routers:
        app.include_router(router)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz() -> Response:
        return json_response({"status": "ok"})

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: the pipeline runs and the store answers (503 otherwise)",
        responses={503: {"description": "Not ready: draining, or the store does not answer."}},
    )
    async def readyz() -> Response:
        pipeline_ok = pipeline.ready
        try:
            await asyncio.wait_for(asyncio.to_thread(_probe_store, store), STORE_PROBE_TIMEOUT_S)
            store_ok = True
        except Exception:  # any failure of the probe means "not ready", never a 500
            store_ok = False
        ready = pipeline_ok and store_ok
        status = "ready" if ready else "not ready"
        body = {"status": status, "pipeline": pipeline_ok, "store": store_ok}
        return json_response(body, 200 if ready else 503)

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics (text exposition format)")
    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    install_openapi(app, writes, _DESCRIPTION)
    # The last added is the outermost: the write endpoints are answered before anything
    # else runs; the metrics middleware counts what FastAPI answers.
    app.add_middleware(RequestMetrics, metrics=metrics)
    app_paths = frozenset(route.path for route in reads.routes if isinstance(route, APIRoute))
    app.add_middleware(
        FastPath,
        endpoints=writes,
        metrics=metrics,
        max_body_bytes=config.max_request_bytes,
        app_paths=app_paths,
    )
    return app

"""The OpenAPI document of the HTTP API.

FastAPI documents the routes it serves (reads, health). The write endpoints are served
ahead of it (:mod:`atlas_core.serve.http_fastpath`), so :func:`install_openapi` adds their
operations from their :class:`Endpoint` records: request and response models, error
answers, the bearer security scheme of API keys and feedback tokens.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from atlas_core.serve.http_fastpath import Endpoint
from atlas_core.serve.http_schema import ErrorBody

__all__ = ["BEARER", "install_openapi"]

BEARER = "bearer"
"""Name of the security scheme: ``Authorization: Bearer <API key or feedback token>``."""

_REF = "#/components/schemas/{model}"


_ERROR_TEXT = {
    401: "Missing, unknown, revoked or expired credential.",
    403: "The key lacks the scope (or the token the feedback kind).",
    405: "Another HTTP method.",
    413: "Body over max_request_bytes, or more events than max_batch_events.",
    422: "Bad input; `error.field` names the field.",
    429: "Overloaded or rate-limited: retry after `Retry-After` seconds.",
    503: "Shutting down: retry elsewhere or later.",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    def json(model: type[BaseModel]) -> dict[str, Any]:
        return {"application/json": {"schema": _ref(model)}}

    responses: dict[str, Any] = {
        "200": {"description": "Committed.", "content": json(endpoint.response)}
    }
    for status in endpoint.errors:
        responses[str(status)] = {"description": _ERROR_TEXT[status], "content": json(ErrorBody)}
    return {
        "tags": ["ingest"],
        "summary": endpoint.summary,
        "description": endpoint.description,
        "operationId": f"{endpoint.path.strip('/').replace('/', '_').replace('-', '_')}"
        f"_{endpoint.method.lower()}",
        "requestBody": {"required": True, "content": json(endpoint.body)},
        "responses": responses,
        "security": [{BEARER: []}],
    }


def install_openapi(app: FastAPI, endpoints: list[Endpoint], description: str) -> None:
    """Makes ``app.openapi()`` describe ``endpoints`` too, with the bearer scheme (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=description, routes=app.routes
            )
            models = {m for e in endpoints for m in (e.body, e.response)} | {ErrorBody}
            _, defs = models_json_schema(
                [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
                ref_template=_REF,
            )
            paths = doc.setdefault("paths", {})
            for endpoint in endpoints:
                paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
            components = doc.setdefault("components", {})
            components.setdefault("schemas", {}).update(defs.get("$defs", {}))
            components["securitySchemes"] = {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (atlas_...) or, for /v1/browser/feedback, a "
                    "feedback token.",
                }
            }
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

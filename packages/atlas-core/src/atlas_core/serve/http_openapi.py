"""The OpenAPI document of the HTTP API.

The POST endpoints parse their bodies themselves (see :mod:`atlas_core.serve.http_app`),
so FastAPI cannot infer their request schemas; each route names its body model with
:func:`json_body`, and :func:`install_openapi` adds those models to the document's
components, with the bearer security scheme the API keys and feedback tokens use.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

__all__ = ["BEARER", "install_openapi", "json_body"]

BEARER = "bearer"
"""Name of the security scheme: ``Authorization: Bearer <API key or feedback token>``."""

_REF = "#/components/schemas/{model}"


def json_body(model: type[BaseModel], *, secured: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is ``model`` (and, when ``secured``,
    which needs a bearer credential)."""
    schema = {"$ref": _REF.format(model=model.__name__)}
    extra: dict[str, Any] = {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
    }
    if secured:
        extra["security"] = [{BEARER: []}]
    return extra


def install_openapi(app: FastAPI, body_models: list[type[BaseModel]], description: str) -> None:
    """Makes ``app.openapi()`` include ``body_models`` and the bearer scheme (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title, version=app.version, description=description, routes=app.routes
            )
            _, defs = models_json_schema(
                [(m, "validation") for m in body_models], ref_template=_REF
            )
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

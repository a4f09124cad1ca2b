"""Every HTTP error answer, in one shape: ``{"error": {"code", "message", "field"?}}``.

Statuses come from :func:`atlas_core.serve.errors.http_status`, so HTTP and gRPC answer
the same error the same way; codes are the gRPC status names (``INVALID_ARGUMENT``, ...)
except where HTTP is more precise (``LIMIT_EXCEEDED``, ``NOT_FOUND``). Overload answers
429 with ``Retry-After`` (whole seconds, rounded up, at least 1) and ``retry_after_s`` in
the body. Bad input never becomes a 500: FastAPI's validation errors and pydantic's are
turned into 422 naming the field.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from atlas_core.errors import AtlasError, InvalidArgumentError
from atlas_core.serve.errors import (
    LimitExceededError,
    OverloadedError,
    grpc_status_name,
    http_status,
)

__all__ = [
    "BodyTooLargeError",
    "FieldError",
    "NotFoundError",
    "error_response",
    "field_of",
    "install_error_handlers",
    "invalid_from_pydantic",
    "json_response",
]

_log = logging.getLogger("atlas.serve.http")

# Messages of Atlas errors start with the field they are about ("value: must be ...").
_FIELD_PREFIX = re.compile(r"^([A-Za-z_][\w.\[\]]*)(?: \([^)]*\))?: ")

_HTTP_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "LIMIT_EXCEEDED",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}


class FieldError(InvalidArgumentError):
    """Bad input in one named field of the request (422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BodyTooLargeError(LimitExceededError):
    """The request body is larger than ``max_request_bytes`` (found before it was all read:
    the answer closes the connection, so the rest of the body is never read)."""


class NotFoundError(AtlasError):
    """The tenant has no such row (another tenant's row is not found either)."""


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response encoded with orjson (UUIDs as text, datetimes as RFC 3339)."""
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def field_of(err: BaseException) -> str | None:
    """The field an error is about: its ``field`` attribute, else its message's prefix."""
    field = getattr(err, "field", None)
    if isinstance(field, str) and field:
        return field
    match = _FIELD_PREFIX.match(str(err))
    return match.group(1) if match else None


def _loc_field(loc: Sequence[int | str]) -> str:
    """``("body", "items", 3, "kind")`` -> ``items[3].kind``; ``("query", "n")`` -> ``n``."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or (str(loc[0]) if loc else "body")


def _first_error(errors: Sequence[Any]) -> tuple[str, str]:
    first = errors[0] if errors else {}
    loc = first.get("loc", ()) if isinstance(first, dict) else ()
    msg = first.get("msg", "invalid") if isinstance(first, dict) else "invalid"
    return _loc_field(loc), str(msg)


def invalid_from_pydantic(exc: ValidationError, prefix: Sequence[str] = ()) -> FieldError:
    """A pydantic error as an InvalidArgumentError naming its (first) field."""
    errors = exc.errors()
    field, msg = _first_error([{**e, "loc": ("body", *prefix, *e["loc"])} for e in errors])
    return FieldError(field, msg)


def error_response(
    err: BaseException, *, extra: dict[str, Any] | None = None, close: bool = False
) -> Response:
    """The answer to ``err``: status from ``http_status``, the JSON error body, and the
    ``Retry-After`` header for overload. ``extra`` adds top-level body fields."""
    status = 404 if isinstance(err, NotFoundError) else http_status(err)
    if isinstance(err, LimitExceededError):
        code = "LIMIT_EXCEEDED"
    elif isinstance(err, NotFoundError):
        code = "NOT_FOUND"
    else:
        code = grpc_status_name(err)
    detail: dict[str, Any] = {"code": code, "message": str(err) if status < 500 else "internal"}
    field = field_of(err)
    if field is not None and status < 500:
        detail["field"] = field
    headers: dict[str, str] = {}
    if isinstance(err, OverloadedError):
        detail["retry_after_s"] = err.retry_after_s
        headers["Retry-After"] = str(max(1, math.ceil(err.retry_after_s)))
    if close or isinstance(err, BodyTooLargeError):
        headers["Connection"] = "close"
    return json_response({"error": detail, **(extra or {})}, status, headers)


async def _on_atlas_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    field, msg = _first_error(exc.errors())
    return error_response(FieldError(field, msg))


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "INVALID_ARGUMENT")
    return json_response(
        {"error": {"code": code, "message": str(exc.detail)}}, exc.status_code, exc.headers
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # A bug, never the client's input: log it with the traceback, answer without details.
    _log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response({"error": {"code": "INTERNAL", "message": "internal error"}}, 500)


def install_error_handlers(app: FastAPI) -> None:
    """Registers the handlers that give every error the shape above."""
    app.add_exception_handler(AtlasError, _on_atlas_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)

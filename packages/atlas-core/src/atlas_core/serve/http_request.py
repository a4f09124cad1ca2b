"""What every HTTP handler does first: authenticate the caller and decode a JSON object body.

Bodies are parsed with orjson whatever the ``Content-Type`` (a browser's ``sendBeacon``
sends ``text/plain``); invalid UTF-8, invalid JSON and a non-object top level are 422
errors naming ``body``. The body-size limit is enforced before, while the body is
received (:func:`atlas_core.serve.http_fastpath.read_body`).
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from atlas_core.auth import KeyVerifier, Principal, bearer_secret
from atlas_core.serve.http_errors import FieldError, invalid_from_pydantic

__all__ = ["json_object", "json_type", "parse_model", "principal_of"]

M = TypeVar("M", bound=BaseModel)

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number"}


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type (for error messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def principal_of(verifier: KeyVerifier, authorization: str | None, scope: str) -> Principal:
    """The caller whose ``Authorization`` header is ``authorization`` (``Bearer <API key>``),
    holding ``scope``. Raises AuthenticationError (401) or PermissionDeniedError (403).
    """
    return verifier.authenticate(bearer_secret(authorization), scope)


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object (FieldError on ``body`` otherwise)."""
    if not raw:
        raise FieldError("body", "empty; send a JSON object")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FieldError("body", f"not valid UTF-8 JSON ({exc})") from None
    if not isinstance(value, dict):
        raise FieldError("body", f"expected a JSON object, got {json_type(value)}")
    return value


def parse_model(model: type[M], body: dict[str, Any]) -> M:
    """``body`` validated as ``model``; a FieldError names the first field at fault."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from None

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
from starlette.concurrency import run_in_threadpool

from atlas_core.auth import KeyVerifier, Principal, bearer_secret
from atlas_core.serve.http_errors import FieldError, invalid_from_pydantic

__all__ = ["LoopAuthenticator", "json_object", "json_type", "parse_model", "principal_of"]

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


class LoopAuthenticator:
    """:func:`principal_of` for code on the event loop, which must not wait on the store.

    The verifier answers from its cache in microseconds, but a key it has not seen (or
    whose cache entry expired) costs a store query: ~0.2 ms on SQLite, a network round
    trip on PostgreSQL, during which every other connection would wait. So a credential
    not seen lately is verified in the thread pool; one seen lately is verified inline
    (its answer is almost always cached). Which path is taken never changes the answer:
    the verifier decides every time. Only hashes of the header values are remembered
    (a bounded set), never the secrets.
    """

    def __init__(self, verifier: KeyVerifier, remember: int = 10_000) -> None:
        self.verifier = verifier
        self._seen: set[int] = set()
        self._remember = remember

    async def principal(self, authorization: str | None, scope: str) -> Principal:
        """As :func:`principal_of`; see the class docstring for where it runs."""
        seen = hash(authorization)
        if seen in self._seen:
            return principal_of(self.verifier, authorization, scope)
        try:
            return await run_in_threadpool(principal_of, self.verifier, authorization, scope)
        finally:  # refused or not, the verifier has cached its answer
            if len(self._seen) >= self._remember:
                self._seen.clear()  # forgetting only sends the next few to the pool
            self._seen.add(seen)


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

"""Tenant-scoped reads of the HTTP API: store frames to JSON rows, and the by-id lookup.

Rows carry ids as UUID text and times as RFC 3339 UTC with nanoseconds (lossless, so a
client can page with ``since`` = the last row's ``created_at``). JSON columns (``input``,
``metadata``, ``components``) are stored as JSON text and spliced into the answer as is
(``orjson.Fragment``), never decoded and re-encoded. The tenant column is left out: it is
always the caller's own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import orjson
import polars as pl
from fastapi import APIRouter
from fastapi import Query as Param
from starlette.requests import Request
from starlette.responses import Response

from atlas_core.auth import KeyVerifier
from atlas_core.serve.http_errors import FieldError, NotFoundError, json_response
from atlas_core.serve.http_openapi import BEARER
from atlas_core.serve.http_request import principal_of
from atlas_core.serve.http_schema import (
    ErrorBody,
    FeedbackPage,
    InteractionPage,
    InteractionRow,
    RewardPage,
)
from atlas_core.store import Query, Store
from atlas_core.types import FeedbackKind

__all__ = [
    "DEFAULT_READ_LIMIT",
    "MAX_READ_LIMIT",
    "find_interaction",
    "frame_rows",
    "page_body",
    "parse_time",
    "read_router",
]

MAX_READ_LIMIT = 1_000
"""The most rows one read answers (a larger ``limit`` is capped to this)."""
DEFAULT_READ_LIMIT = 100
"""Rows a read answers when it gives no ``limit``."""

_LIMIT_HELP = f"At most this many rows (capped at {MAX_READ_LIMIT})."
LearningKeyParam = Annotated[
    str | None, Param(description="Only this task family (feedback, rewards: their interaction's).")
]
SinceParam = Annotated[datetime | None, Param(description="Created at or after (RFC 3339).")]
UntilParam = Annotated[datetime | None, Param(description="Created before (RFC 3339).")]
LimitParam = Annotated[int, Param(ge=1, description=_LIMIT_HELP)]
_SECURED: dict[str, Any] = {"security": [{BEARER: []}]}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked API key."},
    403: {"model": ErrorBody, "description": "The key lacks the read scope."},
    404: {"model": ErrorBody, "description": "The tenant has no such row."},
    422: {"model": ErrorBody, "description": "Bad parameter; the error names it."},
}

_ID_COLUMNS = ("id", "interaction_id")
_JSON_COLUMNS = ("input", "metadata", "components")
# Where to look first for an interaction by id: UUIDv7 ids carry the time they were
# minted, and clients mint them when the interaction happens, so created_at is near.
# Stored times are signed 64-bit Unix nanoseconds: this is the range they can express.
_EARLIEST = datetime(1677, 9, 22, tzinfo=UTC)
_LATEST = datetime(2262, 4, 11, tzinfo=UTC)


def parse_time(name: str, value: datetime | None) -> datetime | None:
    """A read filter's time, required to carry a timezone (RFC 3339 always does)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise FieldError(name, "give a timezone (RFC 3339, e.g. 2025-01-31T12:00:00Z)")
    value = value.astimezone(UTC)
    if not _EARLIEST <= value <= _LATEST:
        raise FieldError(name, f"must be between {_EARLIEST.isoformat()} and {_LATEST.isoformat()}")
    return value


def _uuid_text(column: str) -> pl.Expr:
    hexed = pl.col(column).bin.encode("hex")
    parts = [(0, 8), (8, 4), (12, 4), (16, 4), (20, 12)]
    return pl.concat_str([hexed.str.slice(a, n) for a, n in parts], separator="-").alias(column)


def frame_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """A store read's frame as JSON-ready rows (see the module docstring)."""
    exprs: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        if name == "tenant_id":
            continue
        if name in _ID_COLUMNS:
            exprs.append(_uuid_text(name))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(pl.col(name).dt.to_string("%Y-%m-%dT%H:%M:%S%.9fZ"))
        else:
            exprs.append(pl.col(name))
    rows = frame.select(exprs).to_dicts()
    json_columns = [c for c in _JSON_COLUMNS if c in frame.columns]
    for row in rows:
        for column in json_columns:
            text = row[column]
            if text is not None:
                row[column] = orjson.Fragment(text)
    return rows


def page_body(frame: pl.DataFrame) -> bytes:
    """``{"items": [...], "count": n}`` as JSON bytes."""
    rows = frame_rows(frame)
    return orjson.dumps({"items": rows, "count": len(rows)})


def find_interaction(store: Store, tenant: str, interaction_id: UUID) -> dict[str, Any] | None:
    """The tenant's interaction with this id as a row, or None (another tenant's is None)."""
    found = store.interactions(tenant, Query(ids=[interaction_id], limit=1))
    return frame_rows(found)[0] if found.height else None


def read_router(store: Store, verifier: KeyVerifier) -> APIRouter:
    """The read endpoints (scope ``read``). The tenant is always the API key's, so another
    tenant's rows are invisible: listed never, and 404 by id. Handlers are plain functions:
    FastAPI runs them in its thread pool, off the event loop, since store reads block."""
    router = APIRouter(tags=["read"], default_response_class=Response, responses=_READ_ERRORS)

    @router.get(
        "/v1/interactions",
        summary="List interactions, oldest first",
        responses={200: {"model": InteractionPage}},
        openapi_extra=_SECURED,
    )
    def list_interactions(
        request: Request,
        learning_key: LearningKeyParam = None,
        since: SinceParam = None,
        until: UntilParam = None,
        user_id: str | None = None,
        session_id: str | None = None,
        limit: LimitParam = DEFAULT_READ_LIMIT,
    ) -> Response:
        principal = principal_of(verifier, request.headers.get("authorization"), "read")
        query = _query(learning_key, since, until, user_id, session_id, limit)
        return _page(store.interactions(principal.tenant_id, query))

    @router.get(
        "/v1/interactions/{interaction_id}",
        summary="One interaction by id",
        responses={200: {"model": InteractionRow}},
        openapi_extra=_SECURED,
    )
    def get_interaction(request: Request, interaction_id: str) -> Response:
        principal = principal_of(verifier, request.headers.get("authorization"), "read")
        try:
            wanted = UUID(interaction_id)
        except ValueError:
            raise FieldError("interaction_id", f"not a UUID: {interaction_id[:64]!r}") from None
        row = find_interaction(store, principal.tenant_id, wanted)
        if row is None:
            raise NotFoundError(f"interaction_id: no interaction {wanted}")
        return json_response(row)

    @router.get(
        "/v1/feedback",
        summary="List feedback, oldest first",
        responses={200: {"model": FeedbackPage}},
        openapi_extra=_SECURED,
    )
    def list_feedback(
        request: Request,
        learning_key: LearningKeyParam = None,
        since: SinceParam = None,
        until: UntilParam = None,
        user_id: str | None = None,
        session_id: str | None = None,
        kind: Annotated[FeedbackKind | None, Param(description="Only this kind.")] = None,
        limit: LimitParam = DEFAULT_READ_LIMIT,
    ) -> Response:
        principal = principal_of(verifier, request.headers.get("authorization"), "read")
        query = _query(learning_key, since, until, user_id, session_id, limit, feedback_kind=kind)
        return _page(store.feedback(principal.tenant_id, query))

    @router.get(
        "/v1/rewards",
        summary="List rewards, oldest first",
        responses={200: {"model": RewardPage}},
        openapi_extra=_SECURED,
    )
    def list_rewards(
        request: Request,
        learning_key: LearningKeyParam = None,
        since: SinceParam = None,
        until: UntilParam = None,
        user_id: str | None = None,
        session_id: str | None = None,
        min_reward: Annotated[float | None, Param(ge=0, le=1)] = None,
        max_reward: Annotated[float | None, Param(ge=0, le=1)] = None,
        limit: LimitParam = DEFAULT_READ_LIMIT,
    ) -> Response:
        principal = principal_of(verifier, request.headers.get("authorization"), "read")
        query = _query(
            learning_key,
            since,
            until,
            user_id,
            session_id,
            limit,
            min_reward=min_reward,
            max_reward=max_reward,
        )
        return _page(store.rewards(principal.tenant_id, query))

    return router


def _query(
    learning_key: str | None,
    since: datetime | None,
    until: datetime | None,
    user_id: str | None,
    session_id: str | None,
    limit: int,
    **more: Any,
) -> Query:
    return Query(
        learning_key=learning_key,
        since=parse_time("since", since),
        until=parse_time("until", until),
        user_id=user_id,
        session_id=session_id,
        limit=min(limit, MAX_READ_LIMIT),
        **more,
    )


def _page(frame: pl.DataFrame) -> Response:
    return Response(page_body(frame), media_type="application/json")

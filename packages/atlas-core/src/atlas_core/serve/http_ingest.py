"""The HTTP write endpoints: batched and single-event ingest, feedback tokens, browser feedback.

Every write goes through :class:`atlas_core.serve.pipeline.IngestPipeline` and is answered
only once the future it returns has resolved, i.e. once the events are committed. The
tenant is always the caller's: the API key's, or for browser feedback the token's.
Event dictionaries go to the pipeline as decoded; the pipeline validates them and
reports bad events one by one, so one bad event never fails the valid ones beside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from atlas_core.auth import FeedbackTokens, KeyVerifier
from atlas_core.errors import TokenMalformedError, TokenScopeError
from atlas_core.serve.http_errors import FieldError, error_response, json_response
from atlas_core.serve.http_openapi import json_body
from atlas_core.serve.http_request import json_type, parse_model, principal_of, read_json_object
from atlas_core.serve.http_schema import (
    BrowserFeedbackRequest,
    ErrorBody,
    EventAck,
    FeedbackEvent,
    FeedbackTokenRequest,
    FeedbackTokenResponse,
    IngestRequest,
    IngestResponse,
    InteractionEvent,
)
from atlas_core.serve.pipeline import IngestPipeline, IngestResult
from atlas_core.types import FeedbackKind

__all__ = ["BROWSER_FEEDBACK_PATH", "BROWSER_SOURCE", "ingest_router"]

BROWSER_FEEDBACK_PATH = "/v1/browser/feedback"
BROWSER_SOURCE = "browser"
"""The ``source`` of feedback posted with a feedback token."""

# Validating a big batch takes milliseconds: do it off the event loop, so small requests
# on other connections are not held up behind it. Small ones are cheaper inline.
_INLINE_EVENTS = 64
_BROWSER_FIELDS = ("value", "name", "text", "scale_min", "scale_max")

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (401, "Missing, unknown or revoked credential."),
        (403, "The credential lacks the scope (or the token the kind)."),
        (413, "Body larger than max_request_bytes, or more events than max_batch_events."),
        (422, "Bad input; the error names the field."),
        (429, "Overloaded or rate-limited: retry after Retry-After seconds."),
        (503, "Shutting down."),
    )
}


async def _submit(
    pipeline: IngestPipeline,
    tenant_id: str,
    rate_key: str,
    interactions: Sequence[dict[str, Any]] = (),
    feedback: Sequence[dict[str, Any]] = (),
) -> IngestResult:
    """Hands the events to the pipeline and waits for their commit."""
    if len(interactions) + len(feedback) > _INLINE_EVENTS:
        future = await run_in_threadpool(
            pipeline.submit,
            tenant_id,
            rate_key=rate_key,
            interactions=interactions,
            feedback=feedback,
        )
    else:
        future = pipeline.submit(
            tenant_id, rate_key=rate_key, interactions=interactions, feedback=feedback
        )
    return await asyncio.wrap_future(future)


def _result_body(result: IngestResult) -> dict[str, Any]:
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [e.to_dict() for e in result.rejected],
        "interaction_ids": result.interaction_ids,
        "feedback_ids": result.feedback_ids,
    }


def _ack(result: IngestResult, ids: Sequence[Any]) -> Response:
    """The answer to a single-event post: its id, or 422 naming the field at fault."""
    if result.rejected:
        bad = result.rejected[0]
        raise FieldError(bad.field, bad.reason)
    return json_response({"id": ids[0], "duplicate": result.duplicates > 0})


def _events(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    events = body.get(name, [])
    if not isinstance(events, list):
        raise FieldError(name, f"expected an array of event objects, got {json_type(events)}")
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise FieldError(f"{name}[{i}]", f"expected an event object, got {json_type(event)}")
    return events


def _feedback_token(authorization: str | None, in_body: object) -> str:
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenMalformedError("feedback token: expected 'Authorization: Bearer <token>'")
        return token.strip()
    if in_body is None:
        raise TokenMalformedError(
            "feedback token: missing (send 'Authorization: Bearer <token>' or a 'token' field)"
        )
    if not isinstance(in_body, str):
        raise FieldError("token", f"expected a string, got {json_type(in_body)}")
    return in_body


def ingest_router(
    pipeline: IngestPipeline, verifier: KeyVerifier, tokens: FeedbackTokens
) -> APIRouter:
    """The write endpoints over ``pipeline``, authenticated by ``verifier`` / ``tokens``."""
    router = APIRouter(tags=["ingest"], default_response_class=Response, responses=_ERRORS)

    @router.post(
        "/v1/ingest",
        summary="Ingest a batch of interactions and feedback",
        openapi_extra=json_body(IngestRequest),
        responses={200: {"model": IngestResponse}},
    )
    async def ingest(request: Request) -> Response:
        """Commits the valid events; rejected ones are listed with the field at fault.
        422 (with the same body plus ``error``) when every event was rejected."""
        principal = principal_of(verifier, request, "ingest")
        body = await read_json_object(request)
        for name in body:
            if name not in ("interactions", "feedback"):
                raise FieldError(name, "unknown field; expected 'interactions' and 'feedback'")
        interactions = _events(body, "interactions")
        feedback = _events(body, "feedback")
        total = len(interactions) + len(feedback)
        if total == 0:
            raise FieldError("interactions", "no events: give interactions and/or feedback")
        result = await _submit(
            pipeline, principal.tenant_id, str(principal.key_id), interactions, feedback
        )
        if len(result.rejected) == total:
            first = result.rejected[0]
            err = FieldError(
                f"{first.kind}[{first.index}].{first.field}",
                f"{first.reason} (every one of the {total} events was rejected; see 'rejected')",
            )
            return error_response(err, extra=_result_body(result))
        return json_response(_result_body(result))

    @router.post(
        "/v1/interactions",
        summary="Record one interaction",
        openapi_extra=json_body(InteractionEvent),
        responses={200: {"model": EventAck}},
    )
    async def post_interaction(request: Request) -> Response:
        principal = principal_of(verifier, request, "ingest")
        event = await read_json_object(request)
        result = await _submit(
            pipeline, principal.tenant_id, str(principal.key_id), interactions=[event]
        )
        return _ack(result, result.interaction_ids)

    @router.post(
        "/v1/feedback",
        summary="Record one piece of feedback",
        openapi_extra=json_body(FeedbackEvent),
        responses={200: {"model": EventAck}},
    )
    async def post_feedback(request: Request) -> Response:
        principal = principal_of(verifier, request, "ingest")
        event = await read_json_object(request)
        result = await _submit(
            pipeline, principal.tenant_id, str(principal.key_id), feedback=[event]
        )
        return _ack(result, result.feedback_ids)

    @router.post(
        "/v1/feedback-tokens",
        summary="Issue a browser feedback token for one interaction",
        openapi_extra=json_body(FeedbackTokenRequest),
        responses={200: {"model": FeedbackTokenResponse}},
    )
    async def issue_feedback_token(request: Request) -> Response:
        """Needs an ``ingest`` key; the token is for the key's tenant only."""
        principal = principal_of(verifier, request, "ingest")
        asked = parse_model(FeedbackTokenRequest, await read_json_object(request))
        kinds = [k.value for k in (asked.kinds or list(FeedbackKind))]
        token = tokens.issue(principal.tenant_id, asked.interaction_id, kinds, ttl_s=asked.ttl_s)
        grant = tokens.verify(token)
        return json_response(
            {
                "token": token,
                "interaction_id": grant.interaction_id,
                "kinds": [k for k in kinds if k in grant.kinds],
                "expires_at": grant.expires_at,
            }
        )

    @router.post(
        BROWSER_FEEDBACK_PATH,
        summary="Post feedback from a web page with a feedback token (CORS: any origin)",
        openapi_extra=json_body(BrowserFeedbackRequest),
        responses={200: {"model": EventAck}},
    )
    async def browser_feedback(request: Request) -> Response:
        """The token (``Authorization: Bearer`` or body ``token``) names the tenant and the
        interaction; ``kind`` must be one it allows. 401 expired or bad token, 403 kind."""
        body = await read_json_object(request)
        token = _feedback_token(request.headers.get("authorization"), body.get("token"))
        grant = tokens.verify(token)
        posted = parse_model(BrowserFeedbackRequest, body)
        kind = posted.kind.value
        if kind not in grant.kinds:
            raise TokenScopeError(
                f"kind: the feedback token does not allow {kind!r} feedback "
                f"(it allows {', '.join(sorted(grant.kinds))})"
            )
        event: dict[str, Any] = {
            "interaction_id": grant.interaction_id,
            "kind": kind,
            "source": BROWSER_SOURCE,
        }
        for name in _BROWSER_FIELDS:
            value = getattr(posted, name)
            if value is not None:
                event[name] = value
        result = await _submit(
            pipeline, grant.tenant_id, f"token:{grant.interaction_id}", feedback=[event]
        )
        return _ack(result, result.feedback_ids)

    return router

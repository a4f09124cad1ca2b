"""The HTTP write endpoints: batched and single-event ingest, feedback tokens, browser feedback.

Every write goes through :class:`atlas_core.serve.pipeline.IngestPipeline` and is answered
only once the future it returns has resolved, i.e. once the events are committed. The
tenant is always the caller's: the API key's, or for browser feedback the token's.
Event dictionaries go to the pipeline as decoded; the pipeline validates them and
reports bad events one by one, so one bad event never fails the valid ones beside it.
These are the hot paths: :func:`write_endpoints` gives them to
:class:`atlas_core.serve.http_fastpath.FastPath`, which serves them without the framework.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import Scope

from atlas_core.auth import FeedbackTokens, KeyVerifier
from atlas_core.errors import TokenMalformedError, TokenScopeError
from atlas_core.serve.http_errors import FieldError
from atlas_core.serve.http_fastpath import Answer, Endpoint, header
from atlas_core.serve.http_request import LoopAuthenticator, json_object, json_type, parse_model
from atlas_core.serve.http_schema import (
    BrowserFeedbackRequest,
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

__all__ = ["BROWSER_FEEDBACK_PATH", "BROWSER_SOURCE", "write_endpoints"]

BROWSER_FEEDBACK_PATH = "/v1/browser/feedback"
BROWSER_SOURCE = "browser"
"""The ``source`` of feedback posted with a feedback token."""

# Validating a big batch takes milliseconds: do it off the event loop, so small requests
# on other connections are not held up behind it. Small ones are cheaper inline.
_INLINE_EVENTS = 64
_BROWSER_FIELDS = ("value", "name", "text", "scale_min", "scale_max")


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


def _ack(result: IngestResult, ids: Sequence[Any]) -> Answer:
    """The answer to a single-event post: its id, or 422 naming the field at fault."""
    if result.rejected:
        bad = result.rejected[0]
        raise FieldError(bad.field, bad.reason)
    return 200, {"id": ids[0], "duplicate": result.duplicates > 0}


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


class _Writes:
    """The write handlers over one pipeline, key verifier and token issuer."""

    def __init__(
        self, pipeline: IngestPipeline, verifier: KeyVerifier, tokens: FeedbackTokens
    ) -> None:
        self.pipeline = pipeline
        self.auth = LoopAuthenticator(verifier)
        self.tokens = tokens

    async def ingest(self, scope: Scope, raw: bytes) -> Answer:
        principal = await self.auth.principal(header(scope, b"authorization"), "ingest")
        body = json_object(raw)
        for name in body:
            if name not in ("interactions", "feedback"):
                raise FieldError(name, "unknown field; expected 'interactions' and 'feedback'")
        interactions = _events(body, "interactions")
        feedback = _events(body, "feedback")
        total = len(interactions) + len(feedback)
        if total == 0:
            raise FieldError("interactions", "no events: give interactions and/or feedback")
        result = await _submit(
            self.pipeline, principal.tenant_id, str(principal.key_id), interactions, feedback
        )
        answer = _result_body(result)
        if len(result.rejected) == total:
            # The first in request order; fields are named as in the request body.
            first = min(result.rejected, key=lambda e: (e.kind != "interaction", e.index))
            where = "interactions" if first.kind == "interaction" else "feedback"
            answer["error"] = {
                "code": "INVALID_ARGUMENT",
                "message": f"every one of the {total} events was rejected (see 'rejected'); "
                f"first: {first.reason}",
                "field": f"{where}[{first.index}].{first.field}",
            }
            return 422, answer
        return 200, answer

    async def interaction(self, scope: Scope, raw: bytes) -> Answer:
        principal = await self.auth.principal(header(scope, b"authorization"), "ingest")
        event = json_object(raw)
        result = await _submit(
            self.pipeline, principal.tenant_id, str(principal.key_id), interactions=[event]
        )
        return _ack(result, result.interaction_ids)

    async def feedback(self, scope: Scope, raw: bytes) -> Answer:
        principal = await self.auth.principal(header(scope, b"authorization"), "ingest")
        event = json_object(raw)
        result = await _submit(
            self.pipeline, principal.tenant_id, str(principal.key_id), feedback=[event]
        )
        return _ack(result, result.feedback_ids)

    async def feedback_token(self, scope: Scope, raw: bytes) -> Answer:
        principal = await self.auth.principal(header(scope, b"authorization"), "ingest")
        asked = parse_model(FeedbackTokenRequest, json_object(raw))
        kinds = [k.value for k in (asked.kinds or list(FeedbackKind))]
        token = self.tokens.issue(
            principal.tenant_id, asked.interaction_id, kinds, ttl_s=asked.ttl_s
        )
        grant = self.tokens.verify(token)
        return 200, {
            "token": token,
            "interaction_id": grant.interaction_id,
            "kinds": [k for k in kinds if k in grant.kinds],
            "expires_at": grant.expires_at,
        }

    async def browser_feedback(self, scope: Scope, raw: bytes) -> Answer:
        body = json_object(raw)
        token = _feedback_token(header(scope, b"authorization"), body.get("token"))
        grant = self.tokens.verify(token)
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
            self.pipeline, grant.tenant_id, f"token:{grant.interaction_id}", feedback=[event]
        )
        return _ack(result, result.feedback_ids)


def write_endpoints(
    pipeline: IngestPipeline, verifier: KeyVerifier, tokens: FeedbackTokens
) -> list[Endpoint]:
    """The write endpoints over ``pipeline``, authenticated by ``verifier`` / ``tokens``."""
    writes = _Writes(pipeline, verifier, tokens)
    return [
        Endpoint(
            "POST",
            "/v1/ingest",
            writes.ingest,
            "Ingest a batch of interactions and feedback",
            IngestRequest,
            IngestResponse,
            "Commits the valid events; rejected ones are listed with the field at fault. "
            "422 (the same body plus `error`) when every event was rejected. 413 over "
            "`max_batch_events`.",
        ),
        Endpoint(
            "POST",
            "/v1/interactions",
            writes.interaction,
            "Record one interaction",
            InteractionEvent,
            EventAck,
        ),
        Endpoint(
            "POST",
            "/v1/feedback",
            writes.feedback,
            "Record one piece of feedback",
            FeedbackEvent,
            EventAck,
        ),
        Endpoint(
            "POST",
            "/v1/feedback-tokens",
            writes.feedback_token,
            "Issue a browser feedback token for one interaction",
            FeedbackTokenRequest,
            FeedbackTokenResponse,
            "Needs an `ingest` key; the token is valid for the key's tenant only.",
        ),
        Endpoint(
            "POST",
            BROWSER_FEEDBACK_PATH,
            writes.browser_feedback,
            "Post feedback from a web page with a feedback token",
            BrowserFeedbackRequest,
            EventAck,
            "No API key: the token (`Authorization: Bearer <token>` or body `token`) names "
            "the tenant and the interaction, and `kind` must be one it allows. 401 for an "
            "expired or bad token, 403 for a kind it does not allow. CORS: any origin.",
            cors=True,
        ),
    ]

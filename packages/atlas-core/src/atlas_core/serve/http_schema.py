"""The HTTP API's wire models: the request and response bodies, as the OpenAPI document shows them.

Ingest bodies are NOT parsed through these models on the hot path: the pipeline validates
events column-wise and rejects bad events one by one (a bad event must not fail its whole
request, which a per-request pydantic model would do). :class:`InteractionEvent` and
:class:`FeedbackEvent` document that wire schema; the pipeline enforces it. The small
bodies that are parsed here (token issuance, browser feedback) forbid unknown fields, so
a typo — or an attempt to choose the tenant or interaction in the body — is an error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from atlas_core.types import FeedbackKind

__all__ = [
    "MAX_TOKEN_TTL_S",
    "BrowserFeedbackRequest",
    "ErrorBody",
    "ErrorDetail",
    "EventAck",
    "EventErrorOut",
    "FeedbackEvent",
    "FeedbackPage",
    "FeedbackRow",
    "FeedbackTokenRequest",
    "FeedbackTokenResponse",
    "IngestRequest",
    "IngestResponse",
    "InteractionEvent",
    "InteractionPage",
    "InteractionRow",
    "RewardPage",
    "RewardRow",
]

MAX_TOKEN_TTL_S = 30 * 86_400
"""The longest lifetime a feedback token may be issued with (30 days)."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- ingest (documentation of the schema the pipeline enforces) --------------------------------


class InteractionEvent(_Wire):
    """One call of the agent. The tenant always comes from the API key."""

    id: UUID | None = Field(None, description="Client id (UUIDv7 recommended); minted if absent.")
    learning_key: str = Field(min_length=1, description="Task family it belongs to.")
    input: list[dict[str, Any]] | str = Field(
        description="Input messages (role/content objects), or a string = one user message."
    )
    output: str = Field(description="The agent's answer.")
    model_version: str | None = Field(None, description="Model version that answered.")
    prompt_version: str | None = Field(None, description="Prompt version that was served.")
    session_id: str | None = Field(None, description="Conversation or session.")
    user_id: str | None = Field(None, description="End user who made the call.")
    latency_ms: float | None = Field(None, ge=0, description="Wall time of the call.")
    prompt_tokens: int | None = Field(None, ge=0, description="Tokens in the prompt.")
    completion_tokens: int | None = Field(None, ge=0, description="Tokens in the answer.")
    metadata: dict[str, Any] | None = Field(None, description="Free-form JSON object.")
    created_at: datetime | int | None = Field(
        None, description="RFC 3339 time or Unix nanoseconds; now if absent."
    )


class FeedbackEvent(_Wire):
    """One piece of feedback on an interaction of the key's tenant."""

    id: UUID | None = Field(None, description="Client id; minted if absent.")
    interaction_id: UUID = Field(description="The interaction it is about (same tenant).")
    kind: FeedbackKind = Field(description="rating, signal, edit, comment or label.")
    name: str | None = Field(None, description="Signal name: copy, share, retry, dismiss, ...")
    value: float | None = Field(None, description="Rating (within the scale) or signal value.")
    scale_min: float | None = Field(None, description="Rating scale low end.")
    scale_max: float | None = Field(None, description="Rating scale high end.")
    text: str | None = Field(None, description="Edited text, comment or gold label.")
    user_id: str | None = Field(None, description="Who gave it.")
    source: str | None = Field(None, description="Where it came from (default 'api').")
    metadata: dict[str, Any] | None = Field(None, description="Free-form JSON object.")
    created_at: datetime | int | None = Field(
        None, description="RFC 3339 time or Unix nanoseconds; now if absent."
    )


class IngestRequest(_Wire):
    """A batch of events; valid events are committed even when others are rejected."""

    interactions: list[InteractionEvent] = Field(default_factory=list)
    feedback: list[FeedbackEvent] = Field(default_factory=list)


class EventErrorOut(_Wire):
    """Why one event was rejected."""

    kind: Literal["interaction", "feedback"] = Field(description="Which list it was in.")
    index: int = Field(description="Its position in that list.")
    field: str = Field(description="The field at fault.")
    reason: str = Field(description="What is wrong.")


class IngestResponse(_Wire):
    """What a committed ingest request did (also the body of a 422 when all were rejected)."""

    accepted: int = Field(description="Events now stored (new and already stored).")
    duplicates: int = Field(description="Of accepted, events whose id was already stored.")
    rejected: list[EventErrorOut] = Field(description="Events left out, with the field at fault.")
    interaction_ids: list[UUID] = Field(description="Id of every interaction, in request order.")
    feedback_ids: list[UUID] = Field(description="Id of every feedback event, in request order.")


class EventAck(_Wire):
    """The answer to a single-event post: the event is committed."""

    id: UUID = Field(description="The event's id (given, or minted by the server).")
    duplicate: bool = Field(description="Whether that id was already stored (a retry).")


# -- browser feedback --------------------------------------------------------------------------


class FeedbackTokenRequest(_Wire):
    """Ask for a token that lets a web page post feedback on one interaction."""

    interaction_id: UUID = Field(description="The interaction (of the key's tenant).")
    kinds: list[FeedbackKind] | None = Field(
        None, min_length=1, description="Feedback kinds the token allows; all when absent."
    )
    ttl_s: int | None = Field(
        None, ge=1, le=MAX_TOKEN_TTL_S, description="Lifetime in seconds; the configured default."
    )


class FeedbackTokenResponse(_Wire):
    """A signed, expiring feedback token."""

    token: str = Field(description="Send as 'Authorization: Bearer <token>' or body 'token'.")
    interaction_id: UUID
    kinds: list[FeedbackKind]
    expires_at: datetime


class BrowserFeedbackRequest(_Wire):
    """Feedback from a web page. Tenant and interaction come from the token, never the body."""

    token: str | None = Field(None, description="The feedback token, if not in Authorization.")
    kind: FeedbackKind = Field(description="Must be one the token allows.")
    value: float | None = Field(None, description="Rating or signal value.")
    name: str | None = Field(None, description="Signal name (copy, share, ...).")
    text: str | None = Field(None, description="Edit, comment or label text.")
    scale_min: float | None = Field(None, description="Rating scale low end.")
    scale_max: float | None = Field(None, description="Rating scale high end.")


# -- errors ------------------------------------------------------------------------------------


class ErrorDetail(_Wire):
    code: str = Field(description="Machine-readable: INVALID_ARGUMENT, UNAUTHENTICATED, ...")
    message: str = Field(description="What went wrong, for a human.")
    field: str | None = Field(None, description="The field at fault, when one is.")
    retry_after_s: float | None = Field(None, description="With 429: when to retry.")


class ErrorBody(_Wire):
    """Every error answer: ``{"error": {"code", "message", "field"?}}``."""

    error: ErrorDetail


# -- reads -------------------------------------------------------------------------------------


class InteractionRow(_Wire):
    id: UUID
    session_id: str | None
    user_id: str | None
    learning_key: str
    model_version: str | None
    prompt_version: str | None
    input: list[dict[str, Any]]
    output: str
    latency_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    metadata: dict[str, Any]
    created_at: datetime


class FeedbackRow(_Wire):
    id: UUID
    interaction_id: UUID
    user_id: str | None
    kind: FeedbackKind
    name: str | None
    value: float | None
    scale_min: float | None
    scale_max: float | None
    text: str | None
    source: str
    metadata: dict[str, Any]
    created_at: datetime


class RewardRow(_Wire):
    id: UUID
    interaction_id: UUID
    score: float
    components: dict[str, float]
    rationale: str | None
    uncertainty: float | None
    escalated: bool
    reward_model: str | None
    created_at: datetime


class InteractionPage(_Wire):
    items: list[InteractionRow] = Field(description="Oldest first.")
    count: int


class FeedbackPage(_Wire):
    items: list[FeedbackRow] = Field(description="Oldest first.")
    count: int


class RewardPage(_Wire):
    items: list[RewardRow] = Field(description="Oldest first.")
    count: int

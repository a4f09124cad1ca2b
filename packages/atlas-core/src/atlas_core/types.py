"""The domain types every Atlas package shares (ARCHITECTURE.md §3).

These are the convenient per-object models: validated on construction, immutable,
JSON-serialisable. Bulk paths (ingest of thousands of rows per call) do not build
one of these per row; the stores accept columnar batches validated in one pass.
Times are timezone-aware UTC datetimes here and integer Unix nanoseconds in storage.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from atlas_core.ids import new_id

__all__ = [
    "ApiKey",
    "Feedback",
    "FeedbackKind",
    "Interaction",
    "LearningRun",
    "Reward",
    "Tenant",
    "Version",
    "VersionKind",
    "VersionStatus",
    "from_ns",
    "to_ns",
    "utcnow",
]

DEFAULT_TENANT = "default"


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def to_ns(value: datetime) -> int:
    """An aware datetime as integer Unix nanoseconds (microsecond precision, as datetime has)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware one (UTC)")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def from_ns(value: int) -> datetime:
    """Integer Unix nanoseconds as an aware UTC datetime (truncated to microseconds)."""
    return datetime.fromtimestamp(value // 1_000_000_000, UTC).replace(
        microsecond=(value % 1_000_000_000) // 1_000
    )


class FeedbackKind(StrEnum):
    """What a piece of feedback is."""

    RATING = "rating"
    """Explicit score on a declared scale (``scale_min``..``scale_max``)."""
    SIGNAL = "signal"
    """Implicit behaviour named by ``name``: copy, share, retry, dismiss, engage, ... (open set)."""
    EDIT = "edit"
    """The user's corrected version of the output, in ``text``."""
    COMMENT = "comment"
    """Free text about the output, in ``text``."""
    LABEL = "label"
    """A gold answer for the input, in ``text``."""


class VersionKind(StrEnum):
    """What a learned artifact is."""

    PROMPT = "prompt"
    MODEL = "model"
    PLAYBOOK = "playbook"


class VersionStatus(StrEnum):
    """Where a version stands in its rollout."""

    CANDIDATE = "candidate"
    SHADOW = "shadow"
    CANARY = "canary"
    PRODUCTION = "production"
    RETIRED = "retired"
    REJECTED = "rejected"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        # Every stored time is UTC; normalise aware datetimes from other zones on the way in.
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return value


class Interaction(_Record):
    """One call of the wrapped agent: what went in, what came out, and what served it."""

    id: UUID = Field(default_factory=new_id, description="Time-ordered client id (UUIDv7).")
    tenant_id: str = Field(DEFAULT_TENANT, min_length=1, description="Owning tenant.")
    session_id: str | None = Field(None, description="Conversation or session the call belongs to.")
    user_id: str | None = Field(None, description="End user who made the call.")
    learning_key: str = Field("default", min_length=1, description="Task family it belongs to.")
    model_version: str | None = Field(None, description="Model version that answered.")
    prompt_version: str | None = Field(None, description="Prompt version that was served.")
    input: list[dict[str, Any]] = Field(description="Input messages (role/content dicts).")
    output: str = Field(description="The agent's answer.")
    latency_ms: float | None = Field(None, ge=0, allow_inf_nan=False, description="Wall time.")
    prompt_tokens: int | None = Field(None, ge=0, description="Tokens in the prompt.")
    completion_tokens: int | None = Field(None, ge=0, description="Tokens in the answer.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form JSON metadata.")
    created_at: AwareDatetime = Field(default_factory=utcnow, description="When it happened.")


class Feedback(_Record):
    """One piece of user feedback about an interaction."""

    id: UUID = Field(default_factory=new_id, description="Time-ordered client id (UUIDv7).")
    tenant_id: str = Field(DEFAULT_TENANT, min_length=1, description="Owning tenant.")
    interaction_id: UUID = Field(description="The interaction it is about.")
    user_id: str | None = Field(None, description="Who gave it.")
    kind: FeedbackKind = Field(description="rating, signal, edit, comment or label.")
    name: str | None = Field(None, description="Signal name (copy, retry, ...); rating scale name.")
    value: float | None = Field(None, allow_inf_nan=False, description="Rating or signal value.")
    scale_min: float | None = Field(None, allow_inf_nan=False, description="Rating scale low end.")
    scale_max: float | None = Field(None, allow_inf_nan=False, description="Rating scale high end.")
    text: str | None = Field(None, description="Edited text, comment or gold label.")
    source: str = Field("user", min_length=1, description="Where it came from (user, sdk, api).")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form JSON metadata.")
    created_at: AwareDatetime = Field(default_factory=utcnow, description="When it was given.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is FeedbackKind.RATING:
            if self.value is None or self.scale_min is None or self.scale_max is None:
                raise ValueError("a rating needs value, scale_min and scale_max")
            if not self.scale_min < self.scale_max:
                raise ValueError("scale_min must be below scale_max")
            if not self.scale_min <= self.value <= self.scale_max:
                raise ValueError(f"value {self.value} outside [{self.scale_min}, {self.scale_max}]")
        elif self.kind is FeedbackKind.SIGNAL:
            if not self.name:
                raise ValueError("a signal needs a name (copy, share, retry, dismiss, ...)")
        elif self.text is None:
            raise ValueError(f"{self.kind.value} feedback needs text")
        return self


class Reward(_Record):
    """A scalar reward for an interaction and how it was reached."""

    id: UUID = Field(default_factory=new_id, description="Time-ordered client id (UUIDv7).")
    tenant_id: str = Field(DEFAULT_TENANT, min_length=1, description="Owning tenant.")
    interaction_id: UUID = Field(description="The interaction it scores.")
    score: float = Field(ge=0.0, le=1.0, allow_inf_nan=False, description="Reward in [0, 1].")
    components: dict[str, float] = Field(default_factory=dict, description="Per signal/judge.")
    rationale: str | None = Field(None, description="Why, in words (judges).")
    uncertainty: float | None = Field(None, ge=0, allow_inf_nan=False, description="Spread.")
    escalated: bool = Field(False, description="Whether an arbiter was consulted.")
    reward_model: str | None = Field(None, description="Reward model version that produced it.")
    created_at: AwareDatetime = Field(default_factory=utcnow, description="When it was computed.")

    @field_validator("components")
    @classmethod
    def _finite(cls, value: dict[str, float]) -> dict[str, float]:
        for key, item in value.items():
            if not math.isfinite(item):
                raise ValueError(f"component {key!r} is not finite")
        return value


class Version(_Record):
    """A learned artifact (prompt, model or playbook) and where it stands."""

    id: UUID = Field(default_factory=new_id, description="Time-ordered client id (UUIDv7).")
    tenant_id: str = Field(DEFAULT_TENANT, min_length=1, description="Owning tenant.")
    kind: VersionKind = Field(description="prompt, model or playbook.")
    name: str = Field(min_length=1, description="Artifact family, e.g. 'support-agent'.")
    number: int = Field(ge=1, description="1, 2, ... within (tenant, kind, name).")
    artifact_uri: str = Field(description="Where the artifact lives (path, URI, inline ref).")
    parent_id: UUID | None = Field(None, description="Version it was learned from.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Gate metrics.")
    status: VersionStatus = Field(VersionStatus.CANDIDATE, description="Rollout stage.")
    aliases: tuple[str, ...] = Field((), description="Movable aliases pointing here (read-only).")
    created_at: AwareDatetime = Field(default_factory=utcnow, description="When it was made.")


class LearningRun(_Record):
    """One decision of the scheduler and what the learner made of it."""

    id: UUID = Field(default_factory=new_id, description="Time-ordered client id (UUIDv7).")
    tenant_id: str = Field(DEFAULT_TENANT, min_length=1, description="Owning tenant.")
    learning_key: str | None = Field(None, description="Task family, or None for all.")
    trigger: str = Field(min_length=1, description="sample_count, time, drift, error_rate, manual.")
    reason: str = Field("", description="Human-readable reason for the trigger.")
    learner: str = Field(min_length=1, description="Learner plugin name (gepa, sft, grpo).")
    samples_used: int = Field(0, ge=0, description="Training samples consumed.")
    metrics_before: dict[str, float] = Field(default_factory=dict, description="Before.")
    metrics_after: dict[str, float] = Field(default_factory=dict, description="After.")
    duration_s: float | None = Field(None, ge=0, allow_inf_nan=False, description="Wall time.")
    outcome: str = Field(min_length=1, description="candidate, no_change, failed, ...")
    candidate_version_id: UUID | None = Field(None, description="The Version it produced.")
    created_at: AwareDatetime = Field(default_factory=utcnow, description="When it started.")


class Tenant(_Record):
    """An isolated customer: no query ever crosses tenants."""

    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$", description="Slug.")
    name: str = Field("", description="Display name.")
    created_at: AwareDatetime = Field(default_factory=utcnow, description="When it was created.")


class ApiKey(_Record):
    """An API key; only its SHA-256 hash is ever stored, the secret is shown once."""

    id: UUID = Field(default_factory=new_id, description="Time-ordered id; also the key prefix.")
    tenant_id: str = Field(min_length=1, description="Tenant the key acts for.")
    name: str = Field("", description="What the key is for.")
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hex SHA-256 of the secret.")
    scopes: tuple[str, ...] = Field((), description="Granted scopes, e.g. ('ingest', 'read').")
    revoked: bool = Field(False, description="A revoked key authenticates nothing.")
    created_at: AwareDatetime = Field(default_factory=utcnow, description="When it was issued.")

    @staticmethod
    def hash_secret(secret: str) -> str:
        """The stored form of a secret. Secrets are 256-bit random, so a plain hash suffices."""
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def issue(cls, tenant_id: str, scopes: tuple[str, ...], name: str = "") -> tuple[ApiKey, str]:
        """A new key and its secret; keep the secret, the key stores only its hash."""
        secret = "atlas_" + secrets.token_urlsafe(32)
        key = cls(
            tenant_id=tenant_id,
            name=name,
            key_hash=cls.hash_secret(secret),
            scopes=scopes,
            revoked=False,
        )
        return key, secret

    def verify(self, secret: str) -> bool:
        """Whether ``secret`` is this key's secret and the key is live (constant-time compare)."""
        return not self.revoked and hmac.compare_digest(self.key_hash, self.hash_secret(secret))

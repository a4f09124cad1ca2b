"""Feedback tokens: signed, expiring grants to post feedback on ONE interaction of ONE tenant.

A web page receives a token with an agent's answer and posts feedback with it,
without an API key. The token is a JWT (HS256) with the claims ``ten`` (tenant),
``iid`` (interaction id), ``kinds`` (allowed feedback kinds), ``iat``, ``exp`` and
``aud`` = ``atlas-feedback``; its header names the signing secret (``kid``, a hash
prefix, never the secret). Rotation: the first secret signs, every secret verifies.

Errors (all :class:`FeedbackTokenError`, an :class:`AuthenticationError`):
``TokenMalformedError``, ``TokenSignatureError``, ``TokenExpiredError`` and
``TokenScopeError`` (valid token, other interaction/tenant/kind).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from atlas_core.auth.signed_tokens import TokenSigner, key_id
from atlas_core.config import AtlasConfig, feedback_secrets
from atlas_core.errors import (
    InvalidArgumentError,
    TokenExpiredError,
    TokenMalformedError,
    TokenScopeError,
)
from atlas_core.types import FeedbackKind

__all__ = ["AUDIENCE", "FeedbackGrant", "FeedbackTokens", "key_id"]

AUDIENCE = "atlas-feedback"
_ALL_KINDS = tuple(kind.value for kind in FeedbackKind)


@dataclass(frozen=True, slots=True)
class FeedbackGrant:
    """What a verified token allows: feedback of ``kinds`` on one interaction of one tenant."""

    tenant_id: str
    interaction_id: UUID
    kinds: frozenset[str]
    issued_at: datetime
    expires_at: datetime
    key_id: str


def _kinds(kinds: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(str(k) for k in kinds))
    if not chosen:
        raise InvalidArgumentError("kinds: give at least one feedback kind")
    for kind in chosen:
        if kind not in _ALL_KINDS:
            raise InvalidArgumentError(
                f"kinds: unknown feedback kind {kind!r}; known: {_ALL_KINDS}"
            )
    return chosen


class FeedbackTokens:
    """Issues and verifies feedback tokens with a list of secrets (newest first).

    ``clock`` (Unix seconds) is injectable so tests can move time; ``leeway_s`` tolerates
    clock skew between the issuing and the verifying host.
    """

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        ttl_s: int = 86_400,
        leeway_s: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = TokenSigner(secrets, AUDIENCE, "feedback token")
        if ttl_s < 1:
            raise InvalidArgumentError(f"ttl_s: must be >= 1, got {ttl_s}")
        if leeway_s < 0:
            raise InvalidArgumentError(f"leeway_s: must be >= 0, got {leeway_s}")
        self._ttl = ttl_s
        self._leeway = leeway_s
        self._clock = clock

    @classmethod
    def from_config(cls, config: AtlasConfig) -> FeedbackTokens:
        """Tokens signed with the configured (or generated and persisted) secrets and TTL."""
        return cls(feedback_secrets(config), ttl_s=config.feedback_tokens.ttl_s)

    def issue(
        self,
        tenant_id: str,
        interaction_id: UUID,
        kinds: Iterable[str] = _ALL_KINDS,
        *,
        ttl_s: int | None = None,
    ) -> str:
        """A token granting feedback of ``kinds`` on ``interaction_id`` of ``tenant_id``."""
        if not isinstance(tenant_id, str) or not tenant_id:
            raise InvalidArgumentError("tenant_id: must be a non-empty string")
        if not isinstance(interaction_id, UUID):
            raise InvalidArgumentError(f"interaction_id: must be a UUID, got {interaction_id!r}")
        lifetime = self._ttl if ttl_s is None else ttl_s
        if lifetime < 1:
            raise InvalidArgumentError(f"ttl_s: must be >= 1, got {lifetime}")
        now = int(self._clock())
        claims = {
            "ten": tenant_id,
            "iid": str(interaction_id),
            "kinds": _kinds(kinds),
            "iat": now,
            "exp": now + lifetime,
        }
        return self._signer.sign(claims)

    def verify(
        self,
        token: str,
        *,
        interaction_id: UUID | None = None,
        tenant_id: str | None = None,
        kind: str | None = None,
    ) -> FeedbackGrant:
        """The grant of a valid token; with the keyword arguments, also checks it covers them.

        Raises TokenMalformedError, TokenSignatureError, TokenExpiredError, or
        TokenScopeError when the token is for another interaction, tenant or kind.
        """
        kid, claims = self._signer.decode(token)
        try:
            grant = FeedbackGrant(
                tenant_id=_text(claims["ten"]),
                interaction_id=UUID(_text(claims["iid"])),
                kinds=frozenset(_kinds(_strings(claims["kinds"]))),
                issued_at=datetime.fromtimestamp(_int(claims["iat"]), UTC),
                expires_at=datetime.fromtimestamp(_int(claims["exp"]), UTC),
                key_id=kid,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TokenMalformedError(f"feedback token: bad claims ({exc})") from None
        if self._clock() >= grant.expires_at.timestamp() + self._leeway:
            raise TokenExpiredError(f"feedback token: expired at {grant.expires_at.isoformat()}")
        if interaction_id is not None and grant.interaction_id != interaction_id:
            raise TokenScopeError(f"feedback token: not valid for interaction {interaction_id}")
        if tenant_id is not None and grant.tenant_id != tenant_id:
            raise TokenScopeError(f"feedback token: not valid for tenant {tenant_id!r}")
        if kind is not None and kind not in grant.kinds:
            raise TokenScopeError(f"feedback token: does not allow {kind!r} feedback")
        return grant


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError("expected a non-empty string")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("expected an integer time")
    return value


def _strings(value: object) -> list[str]:
    if not isinstance(value, list):
        raise TypeError("kinds: expected a list")
    return [_text(v) for v in value]

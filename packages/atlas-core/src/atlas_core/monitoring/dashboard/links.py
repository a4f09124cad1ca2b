"""Dashboard links: signed, expiring, read-only grants to ONE tenant's dashboard.

A link is ``<base>/dashboard#token=<JWT>``. The token sits in the URL *fragment*, which
browsers never send to the server, so it does not reach access logs, proxies or a
``Referer`` header; the page's script reads it and sends it as ``Authorization: Bearer``
to the dashboard's JSON endpoints only. The JWT (HS256) carries ``ten`` (tenant),
``scope`` = ``dashboard``, ``iat``, ``exp`` and ``aud`` = ``atlas-dashboard`` (so a
feedback token, signed with the same secrets, is never accepted here, nor the reverse);
its header names the signing secret by a hash prefix (``kid``). It grants nothing but
the dashboard's reads: no ingest, no other read endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from atlas_core.auth.signed_tokens import TokenSigner
from atlas_core.config import AtlasConfig, feedback_secrets
from atlas_core.errors import InvalidArgumentError, TokenExpiredError, TokenMalformedError

__all__ = ["AUDIENCE", "DashboardGrant", "DashboardLinks"]

AUDIENCE = "atlas-dashboard"
_SCOPE = "dashboard"


@dataclass(frozen=True, slots=True)
class DashboardGrant:
    """What a verified dashboard token allows: reading one tenant's dashboard until then."""

    tenant_id: str
    expires_at: float
    """Unix seconds."""


class DashboardLinks:
    """Issues and verifies dashboard tokens with a list of secrets (newest signs, all verify)."""

    def __init__(
        self,
        secrets: Sequence[str],
        *,
        ttl_s: int = 86_400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = TokenSigner(secrets, AUDIENCE, "dashboard token")
        if ttl_s < 1:
            raise InvalidArgumentError(f"ttl_s: must be >= 1, got {ttl_s}")
        self._ttl = ttl_s
        self._clock = clock

    @property
    def ttl_s(self) -> int:
        """The default lifetime of a link, s."""
        return self._ttl

    @classmethod
    def from_config(cls, config: AtlasConfig) -> DashboardLinks:
        """Links signed with the feedback-token secrets (generated and persisted on first
        use) and ``monitoring.dashboard_link_ttl_s``."""
        return cls(feedback_secrets(config), ttl_s=config.monitoring.dashboard_link_ttl_s)

    def issue(self, tenant_id: str, *, ttl_s: int | None = None) -> str:
        """A token granting read access to ``tenant_id``'s dashboard."""
        if not isinstance(tenant_id, str) or not tenant_id:
            raise InvalidArgumentError("tenant_id: must be a non-empty string")
        lifetime = self._ttl if ttl_s is None else ttl_s
        if lifetime < 1:
            raise InvalidArgumentError(f"ttl_s: must be >= 1, got {lifetime}")
        now = int(self._clock())
        claims = {"ten": tenant_id, "scope": _SCOPE, "iat": now, "exp": now + lifetime}
        return self._signer.sign(claims)

    def url(self, base_url: str, tenant_id: str, *, ttl_s: int | None = None) -> str:
        """``base_url`` + ``/dashboard#token=...``: a ready-to-open link."""
        token = self.issue(tenant_id, ttl_s=ttl_s)
        return f"{base_url.rstrip('/')}/dashboard#token={quote(token, safe='')}"

    def verify(self, token: str) -> DashboardGrant:
        """The grant of a valid token. Raises TokenMalformedError, TokenSignatureError or
        TokenExpiredError (all AuthenticationError: HTTP 401)."""
        _, claims = self._signer.decode(token)
        tenant, expires = claims.get("ten"), claims.get("exp")
        if (
            claims.get("scope") != _SCOPE
            or not isinstance(tenant, str)
            or not tenant
            or not isinstance(expires, int)
        ):
            raise TokenMalformedError("dashboard token: bad claims")
        if self._clock() >= expires:
            raise TokenExpiredError("dashboard token: expired")
        return DashboardGrant(tenant, float(expires))

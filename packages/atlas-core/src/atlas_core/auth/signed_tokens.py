"""HS256 tokens signed with a rotating list of secrets: what feedback tokens and dashboard
links share.

The first secret signs; every secret verifies (rotation without invalidating tokens in
flight). A token's header names its secret by a hash prefix (``kid``), never the secret.
Each kind of token has its own audience, so one kind is never accepted as another. Expiry
is left to the caller, which checks it against its own injectable clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from atlas_core.errors import InvalidArgumentError, TokenMalformedError, TokenSignatureError

__all__ = ["TokenSigner", "key_id"]

_ALGORITHM = "HS256"


def key_id(secret: str) -> str:
    """The public name of a secret: a 16-hex-digit SHA-256 prefix (does not reveal it)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class TokenSigner:
    """Signs claims for one audience and decodes tokens of that audience."""

    def __init__(self, secrets: Sequence[str], audience: str, what: str) -> None:
        """``what`` names the token in error messages (``"feedback token"``)."""
        if not secrets or not all(isinstance(s, str) and s for s in secrets):
            raise InvalidArgumentError("secrets: give at least one non-empty secret")
        self._signing = secrets[0]
        self._by_kid = {key_id(s): s for s in reversed(secrets)}  # the newest wins a collision
        self.audience = audience
        self.what = what

    def sign(self, claims: Mapping[str, Any]) -> str:
        """A token with ``claims`` plus ``aud``, signed by the newest secret."""
        return jwt.encode(
            {"aud": self.audience, **claims},
            self._signing,
            algorithm=_ALGORITHM,
            headers={"kid": key_id(self._signing)},
        )

    def decode(self, token: str) -> tuple[str, dict[str, Any]]:
        """``(kid, claims)`` of a token this signer's secrets signed for its audience, with
        ``iat`` and ``exp`` present (not checked: the caller's clock decides).

        Raises TokenMalformedError (not a token, wrong audience, claims missing) or
        TokenSignatureError (unknown or retired secret, bad signature).
        """
        what = self.what
        if not isinstance(token, str) or not token:
            raise TokenMalformedError(f"{what}: missing")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenMalformedError(f"{what}: malformed ({exc})") from None
        kid = header.get("kid")
        if header.get("alg") != _ALGORITHM or not isinstance(kid, str):
            raise TokenMalformedError(f"{what}: malformed header (alg or kid)")
        secret = self._by_kid.get(kid)
        if secret is None:
            raise TokenSignatureError(f"{what}: signed by an unknown or retired secret")
        try:
            claims = jwt.decode(
                token,
                secret,
                algorithms=[_ALGORITHM],
                audience=self.audience,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat"]},
            )
        except jwt.InvalidSignatureError:
            raise TokenSignatureError(f"{what}: bad signature") from None
        except jwt.PyJWTError as exc:
            raise TokenMalformedError(f"{what}: malformed ({exc})") from None
        return kid, claims

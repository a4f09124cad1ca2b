"""Feedback tokens: round trip, expiry, tampering, rotation, and scope to one interaction."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from atlas_core.auth.feedback_tokens import AUDIENCE, FeedbackTokens, key_id
from atlas_core.errors import (
    AuthenticationError,
    InvalidArgumentError,
    TokenExpiredError,
    TokenMalformedError,
    TokenScopeError,
    TokenSignatureError,
)
from atlas_core.ids import new_id

OLD = "o" * 48
NEW = "n" * 48


class Clock:
    """Unix seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_round_trip() -> None:
    tokens = FeedbackTokens([NEW])
    iid = new_id()
    grant = tokens.verify(tokens.issue("acme", iid, ["rating", "signal"]), interaction_id=iid)
    assert grant.tenant_id == "acme"
    assert grant.interaction_id == iid
    assert grant.kinds == {"rating", "signal"}
    assert grant.key_id == key_id(NEW)
    assert (grant.expires_at - grant.issued_at).total_seconds() == 86_400


def test_expiry_with_injected_clock() -> None:
    clock = Clock()
    tokens = FeedbackTokens([NEW], ttl_s=60, clock=clock)
    token = tokens.issue("acme", new_id())
    clock.now += 59
    tokens.verify(token)
    clock.now += 1
    with pytest.raises(TokenExpiredError, match="expired"):
        tokens.verify(token)
    lenient = FeedbackTokens([NEW], leeway_s=5, clock=clock)
    lenient.verify(token)  # within the skew allowance


def test_token_for_a_refused_for_b() -> None:
    tokens = FeedbackTokens([NEW])
    a, b = new_id(), new_id()
    token = tokens.issue("acme", a)
    with pytest.raises(TokenScopeError, match=str(b)):
        tokens.verify(token, interaction_id=b)
    with pytest.raises(TokenScopeError, match="globex"):
        tokens.verify(token, interaction_id=a, tenant_id="globex")


def test_kind_not_granted_is_refused() -> None:
    tokens = FeedbackTokens([NEW])
    token = tokens.issue("acme", new_id(), ["rating"])
    tokens.verify(token, kind="rating")
    with pytest.raises(TokenScopeError, match="'edit'"):
        tokens.verify(token, kind="edit")


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_tampered_claims_fail_the_signature() -> None:
    tokens = FeedbackTokens([NEW])
    header, payload, signature = tokens.issue("acme", new_id()).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["ten"] = "globex"
    with pytest.raises(TokenSignatureError):
        tokens.verify(".".join([header, _b64(claims), signature]))


def test_foreign_secret_and_alg_none_are_refused() -> None:
    iid = new_id()
    forged = FeedbackTokens(["f" * 48]).issue("acme", iid)
    with pytest.raises(TokenSignatureError, match="unknown"):
        FeedbackTokens([NEW]).verify(forged)
    # Same kid as the real secret but signed with another key.
    claims = {"aud": AUDIENCE, "ten": "acme", "iid": str(iid), "kinds": ["rating"]}
    claims |= {"iat": 1, "exp": 4_000_000_000}
    wrong = jwt.encode(claims, "x" * 48, algorithm="HS256", headers={"kid": key_id(NEW)})
    with pytest.raises(TokenSignatureError, match="bad signature"):
        FeedbackTokens([NEW]).verify(wrong)
    unsigned = _b64({"alg": "none", "kid": key_id(NEW)}) + "." + _b64(claims) + "."
    with pytest.raises(TokenMalformedError):
        FeedbackTokens([NEW]).verify(unsigned)


def test_rotation_first_signs_all_verify() -> None:
    iid = new_id()
    old_token = FeedbackTokens([OLD]).issue("acme", iid)
    rotated = FeedbackTokens([NEW, OLD])
    assert rotated.verify(old_token).key_id == key_id(OLD)
    new_token = rotated.issue("acme", iid)
    assert rotated.verify(new_token).key_id == key_id(NEW)
    with pytest.raises(TokenSignatureError):
        FeedbackTokens([OLD]).verify(new_token)  # a node not yet rotated cannot verify it
    with pytest.raises(TokenSignatureError):
        FeedbackTokens([NEW]).verify(old_token)  # OLD retired


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "..", "\xff.\xfe.\xfd"])
def test_malformed(token: str) -> None:
    with pytest.raises(TokenMalformedError):
        FeedbackTokens([NEW]).verify(token)


@pytest.mark.parametrize(
    "claims",
    [
        {"ten": "acme", "iid": "not-a-uuid", "kinds": ["rating"]},
        {"ten": "", "iid": "0190b6a0-0000-7000-8000-000000000000", "kinds": ["rating"]},
        {"ten": "acme", "iid": "0190b6a0-0000-7000-8000-000000000000", "kinds": ["teleport"]},
        {"ten": "acme", "iid": "0190b6a0-0000-7000-8000-000000000000", "kinds": "rating"},
        {"iid": "0190b6a0-0000-7000-8000-000000000000", "kinds": ["rating"]},
    ],
)
def test_well_signed_but_bad_claims_are_malformed(claims: dict[str, object]) -> None:
    full = {"aud": AUDIENCE, "iat": 1, "exp": 4_000_000_000, **claims}
    token = jwt.encode(full, NEW, algorithm="HS256", headers={"kid": key_id(NEW)})
    with pytest.raises(TokenMalformedError):
        FeedbackTokens([NEW]).verify(token)


def test_other_audience_is_refused() -> None:
    claims = {"aud": "elsewhere", "ten": "acme", "iid": str(new_id()), "kinds": ["rating"]}
    claims |= {"iat": 1, "exp": 4_000_000_000}
    token = jwt.encode(claims, NEW, algorithm="HS256", headers={"kid": key_id(NEW)})
    with pytest.raises(TokenMalformedError):
        FeedbackTokens([NEW]).verify(token)


def test_errors_are_authentication_errors_and_bad_arguments_are_named() -> None:
    assert issubclass(TokenScopeError, AuthenticationError)
    with pytest.raises(InvalidArgumentError, match="secrets"):
        FeedbackTokens([])
    with pytest.raises(InvalidArgumentError, match="kinds"):
        FeedbackTokens([NEW]).issue("acme", new_id(), ["teleport"])
    with pytest.raises(InvalidArgumentError, match="interaction_id"):
        FeedbackTokens([NEW]).issue("acme", "abc")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="ttl_s"):
        FeedbackTokens([NEW], ttl_s=0)

"""Domain types: validation, UTC times, hashed API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError

from atlas_core.types import (
    ApiKey,
    Feedback,
    FeedbackKind,
    Interaction,
    Reward,
    Tenant,
    Version,
    VersionKind,
    VersionStatus,
    from_ns,
    to_ns,
)


def test_time_round_trip_and_utc_normalisation() -> None:
    moment = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert from_ns(to_ns(moment)) == moment
    assert to_ns(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    with pytest.raises(ValueError, match="naive"):
        to_ns(datetime(2026, 1, 1))
    paris = datetime(2026, 3, 1, 13, 30, tzinfo=timezone(timedelta(hours=1)))
    inter = Interaction(input=[], output="x", created_at=paris)
    assert inter.created_at.tzinfo == UTC
    assert inter.created_at.hour == 12
    with pytest.raises(ValidationError):
        Interaction(input=[], output="x", created_at=datetime(2026, 1, 1))


def test_feedback_kinds_need_their_fields() -> None:
    iid = uuid4()
    ok = Feedback(interaction_id=iid, kind=FeedbackKind.RATING, value=4, scale_min=1, scale_max=5)
    assert ok.kind is FeedbackKind.RATING
    # The signal set is open: any name is accepted.
    assert Feedback(interaction_id=iid, kind="signal", name="screenshot").name == "screenshot"
    for bad, match in [
        ({"kind": "rating", "value": 4}, "scale"),
        ({"kind": "rating", "value": 6, "scale_min": 1, "scale_max": 5}, "outside"),
        ({"kind": "rating", "value": 1, "scale_min": 5, "scale_max": 1}, "below"),
        ({"kind": "signal"}, "needs a name"),
        ({"kind": "edit"}, "needs text"),
        ({"kind": "thumbs"}, "kind"),
        ({"kind": "signal", "name": "copy", "value": float("nan")}, "value"),
    ]:
        with pytest.raises(ValidationError, match=match):
            Feedback(interaction_id=iid, **bad)  # type: ignore[arg-type]


def test_reward_and_version_bounds() -> None:
    with pytest.raises(ValidationError, match="score"):
        Reward(interaction_id=uuid4(), score=1.01)
    with pytest.raises(ValidationError, match="component 'judge'"):
        Reward(interaction_id=uuid4(), score=0.5, components={"judge": float("inf")})
    v = Version(kind=VersionKind.MODEL, name="m", number=1, artifact_uri="s3://x")
    assert v.status is VersionStatus.CANDIDATE
    with pytest.raises(ValidationError, match="number"):
        Version(kind=VersionKind.MODEL, name="m", number=0, artifact_uri="s3://x")
    with pytest.raises(ValidationError, match="status"):
        Version(kind="model", name="m", number=1, artifact_uri="x", status="live")  # type: ignore[arg-type]


def test_models_are_frozen_and_strict() -> None:
    inter = Interaction(input=[{"role": "user", "content": "hi"}], output="hello")
    with pytest.raises(ValidationError):
        inter.output = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        Interaction(input=[], output="x", colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="pattern"):
        Tenant(id="has space")


def test_api_key_stores_only_a_hash_and_verifies() -> None:
    key, secret = ApiKey.issue("acme", ("ingest",))
    assert secret.startswith("atlas_")
    assert len(secret) > 40
    assert secret not in key.model_dump_json()
    assert key.key_hash == ApiKey.hash_secret(secret)
    assert key.verify(secret)
    assert not key.verify(secret + "x")
    assert not key.model_copy(update={"revoked": True}).verify(secret)
    with pytest.raises(ValidationError, match="key_hash"):
        ApiKey(tenant_id="acme", key_hash="plaintext-secret")

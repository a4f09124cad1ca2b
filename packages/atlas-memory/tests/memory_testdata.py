"""Small builders for test data (imported by the test modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from atlas_core.ids import new_ids
from atlas_core.types import Feedback, FeedbackKind, Interaction, Reward

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def interaction(tenant: str = "acme", minutes: int = 0, **kw: Any) -> Interaction:
    fields: dict[str, Any] = {
        "tenant_id": tenant,
        "input": [{"role": "user", "content": f"question {minutes}"}],
        "output": f"answer {minutes}",
        "created_at": T0 + timedelta(minutes=minutes),
    }
    fields.update(kw)
    return Interaction(**fields)


def rating(inter: Interaction, value: float, **kw: Any) -> Feedback:
    return Feedback(
        tenant_id=inter.tenant_id,
        interaction_id=inter.id,
        kind=FeedbackKind.RATING,
        value=value,
        scale_min=1,
        scale_max=5,
        created_at=inter.created_at,
        **kw,
    )


def reward(inter: Interaction, score: float, minutes: int = 0) -> Reward:
    return Reward(
        tenant_id=inter.tenant_id,
        interaction_id=inter.id,
        score=score,
        created_at=inter.created_at + timedelta(minutes=minutes),
    )


def feedback_frame(n: int, tenant: str = "acme", kind: str = "signal") -> pl.DataFrame:
    """A columnar feedback batch of ``n`` valid signal rows."""
    return pl.DataFrame(
        {
            "id": new_ids(n),
            "tenant_id": [tenant] * n,
            "interaction_id": new_ids(n),
            "kind": [kind] * n,
            "name": ["copy"] * n,
            "value": [1.0] * n,
            "created_at": list(range(1, n + 1)),
        }
    )

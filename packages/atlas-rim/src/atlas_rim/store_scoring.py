"""RIM over a Store: read a tenant's interactions and feedback, score them, write the rewards.

This is how the learning loop gets its rewards: :func:`score_store` selects interactions by
learning key and creation window, skips those this reward model (same ``name``, i.e. same
version and config) scored after their latest feedback unless ``rescore`` is set (so it can
run incrementally: new interactions and new feedback are picked up, nothing else), scores
them in batches and writes one :class:`~atlas_core.types.Reward` per interaction with
``store.write_rewards``. An interaction with nothing to go on (no feedback evidence, no judge
score) gets no reward yet.
Feedback is read for the selected interactions whenever it was given (it usually comes after
the interaction, so the window does not bound it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import numpy as np
import polars as pl

from atlas_core.kernels import RewardAggregator
from atlas_core.rewards import RewardCase
from atlas_core.store import Query, Store
from atlas_core.types import Feedback, Interaction
from atlas_rim.model import RimRewardModel

__all__ = ["StoreScoring", "feedback_from_frame", "interactions_from_frame", "score_store"]


@dataclass(frozen=True)
class StoreScoring:
    """What one :func:`score_store` run did."""

    selected: int
    """Interactions in the window."""
    skipped: int
    """Of those, scored by this reward model after their latest feedback (left alone)."""
    written: int
    """Rewards written."""
    no_evidence: int
    """Interactions with no feedback evidence and no judge score: given no reward, so that
    they are scored once something arrives."""
    trainable: int
    """Rewards at or above the quality threshold (with evidence)."""
    escalated: int
    """Rewards for which the arbiter was consulted."""
    per_key: pl.DataFrame
    """Per learning key: count, mean, var, min, max and p50 of the new rewards."""


def interactions_from_frame(frame: pl.DataFrame) -> list[Interaction]:
    """Store-read interaction rows as Interaction objects."""
    out = []
    for row in frame.iter_rows(named=True):
        row["id"] = UUID(bytes=row["id"])
        row["input"] = json.loads(row["input"])
        row["metadata"] = json.loads(row["metadata"] or "{}")
        out.append(Interaction.model_validate(row))
    return out


def feedback_from_frame(frame: pl.DataFrame) -> list[Feedback]:
    """Store-read feedback rows as Feedback objects."""
    out = []
    for row in frame.iter_rows(named=True):
        row["id"] = UUID(bytes=row["id"])
        row["interaction_id"] = UUID(bytes=row["interaction_id"])
        row["metadata"] = json.loads(row["metadata"] or "{}")
        out.append(Feedback.model_validate(row))
    return out


async def score_store(
    store: Store,
    tenant: str,
    model: RimRewardModel,
    *,
    learning_key: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    rescore: bool = False,
    batch_size: int = 256,
    now: datetime | None = None,
) -> StoreScoring:
    """Scores the tenant's interactions in the window and writes their rewards.

    ``now`` anchors feedback decay (default: the time of scoring).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
    window = Query(since=since, until=until, learning_key=learning_key)
    interactions = store.interactions(tenant, window)
    selected = interactions.height
    feedback = store.feedback(tenant, Query(since=since, learning_key=learning_key))
    if not rescore and selected:
        interactions = _stale(store, tenant, model.name, learning_key, interactions, feedback)
    stats = RewardAggregator("str")
    written = trainable = escalated = no_evidence = 0
    for start in range(0, interactions.height, batch_size):
        chunk = interactions.slice(start, batch_size)
        about = feedback.filter(pl.col("interaction_id").is_in(chunk["id"].implode()))
        cases = _cases(interactions_from_frame(chunk), feedback_from_frame(about))
        evaluations = await model.evaluate(cases, now=now)
        # With nothing to go on the reward would be the prior; writing it would also mark
        # the interaction done, so feedback arriving later would never be scored.
        kept = [(c, e) for c, e in zip(cases, evaluations, strict=True) if e.evidence]
        no_evidence += len(cases) - len(kept)
        rewards = [e.reward for _, e in kept]
        if not rewards:
            continue
        written += store.write_rewards(rewards).inserted
        trainable += sum(e.trainable for _, e in kept)
        escalated += sum(r.escalated for r in rewards)
        stats.add_batch(
            [c.interaction.learning_key for c, _ in kept],
            np.array([r.score for r in rewards], np.float64),
        )
    per_key = stats.to_polars().select(
        pl.col("key").alias("learning_key"), "count", "mean", "var", "min", "max", "p50"
    )
    return StoreScoring(
        selected=selected,
        skipped=selected - interactions.height,
        written=written,
        no_evidence=no_evidence,
        trainable=trainable,
        escalated=escalated,
        per_key=per_key,
    )


def _stale(
    store: Store,
    tenant: str,
    model_name: str,
    learning_key: str | None,
    interactions: pl.DataFrame,
    feedback: pl.DataFrame,
) -> pl.DataFrame:
    """The interactions this model never scored, or got feedback after it last did."""
    scored = (
        store.rewards(tenant, Query(learning_key=learning_key))
        .filter(pl.col("reward_model") == model_name)
        .group_by("interaction_id")
        .agg(scored_at=pl.col("created_at").max())
    )
    latest = feedback.group_by("interaction_id").agg(feedback_at=pl.col("created_at").max())
    todo = (
        interactions.select("id")
        .join(scored, left_on="id", right_on="interaction_id", how="left")
        .join(latest, left_on="id", right_on="interaction_id", how="left")
        .filter(
            pl.col("scored_at").is_null()
            | (pl.col("feedback_at").is_not_null() & (pl.col("feedback_at") > pl.col("scored_at")))
        )
    )
    return interactions.filter(pl.col("id").is_in(todo["id"].implode()))


def _cases(interactions: list[Interaction], feedback: list[Feedback]) -> list[RewardCase]:
    by_interaction: dict[UUID, list[Feedback]] = {}
    for item in feedback:
        by_interaction.setdefault(item.interaction_id, []).append(item)
    return [RewardCase.of(i, by_interaction.get(i.id, [])) for i in interactions]

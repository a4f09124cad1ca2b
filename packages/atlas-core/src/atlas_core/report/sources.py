"""What the report reads from a tenant's store, read once.

Two clocks meet here. Interactions, rewards and feedback carry the time they were recorded;
learning runs and rollout ends carry the learning loop's clock (a ``ManualClock`` in a
simulation). The report never mixes them: live figures are placed by which version served
an interaction (its version tag), not by comparing the two clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import polars as pl

from atlas_core.loop.rollout_state import NAMESPACE, Phase, RolloutState, rollout_log
from atlas_core.store import Query, Store
from atlas_core.types import LearningRun, Version, VersionKind

__all__ = ["RolloutEnd", "Sources", "load_sources", "served_by", "version_tags"]

#: Columns kept from ``interactions_with_rewards`` (the texts are not needed).
_COLUMNS = ("created_at", "learning_key", "model_version", "prompt_version", "reward")


@dataclass(frozen=True)
class RolloutEnd:
    """One finished rollout from the log, with the time it ended."""

    ended_at: datetime
    state: RolloutState


@dataclass(frozen=True)
class Sources:
    """The tenant's data for one report (``since`` already applied)."""

    interactions: pl.DataFrame
    """Every interaction in the period: ``seq`` (0, 1, ... oldest first), ``created_at``,
    ``learning_key``, ``model_version``, ``prompt_version``, ``reward`` (latest, null when
    none)."""
    runs: tuple[LearningRun, ...]
    versions: dict[UUID, Version]
    ends: tuple[RolloutEnd, ...]
    """Finished rollouts, oldest end first."""
    in_flight: tuple[RolloutState, ...]
    """Rollouts still in shadow or canary."""
    feedback: pl.DataFrame
    """Feedback in the period: ``kind``, ``name``."""

    @property
    def rewarded(self) -> pl.DataFrame:
        """The interactions that have a reward, oldest first."""
        return self.interactions.filter(pl.col("reward").is_not_null())


def load_sources(store: Store, tenant: str, since: datetime | None = None) -> Sources:
    """Reads everything the report needs; ``since`` filters each source on its own clock."""
    query = Query(since=since)
    frame = store.interactions_with_rewards(tenant, query).select(_COLUMNS).with_row_index("seq")
    runs = tuple(r for r in store.learning_runs(tenant) if since is None or r.created_at >= since)
    versions = {v.id: v for v in store.versions(tenant)}
    ends = [
        RolloutEnd(datetime.fromtimestamp(at, UTC), state)
        for at, state in rollout_log(store, tenant)
    ]
    ends = [e for e in ends if since is None or e.ended_at >= since]
    states = [RolloutState.from_json(t) for t in store.kv_items(tenant, NAMESPACE).values()]
    feedback = store.feedback(tenant, query).select("kind", "name")
    return Sources(
        interactions=frame,
        runs=runs,
        versions=versions,
        ends=tuple(ends),
        in_flight=tuple(s for s in states if s.phase in (Phase.SHADOW, Phase.CANARY)),
        feedback=feedback,
    )


def version_tags(version: Version) -> list[str]:
    """The strings an interaction may name ``version`` by: its id, or ``name@number``.

    The loop's router and ``atlas demo`` write the id; the runtime's templates write
    ``name@number``.
    """
    return [str(version.id), f"{version.name}@{version.number}"]


def served_by(frame: pl.DataFrame, version: Version) -> pl.DataFrame:
    """The rows of ``frame`` that ``version`` served (by the column of its kind)."""
    column = "model_version" if version.kind is VersionKind.MODEL else "prompt_version"
    return frame.filter(pl.col(column).is_in(version_tags(version)))

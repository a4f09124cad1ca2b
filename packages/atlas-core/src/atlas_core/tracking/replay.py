"""Replaying a store's learning history into trackers: every LearningRun and every
finished rollout of a tenant, in time order (``atlas runs log``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from atlas_core.loop.rollout_state import RolloutState, rollout_log
from atlas_core.store import Store
from atlas_core.tracking.base import RunLogger
from atlas_core.types import LearningRun

__all__ = ["ReplayReport", "replay_history"]


@dataclass(frozen=True)
class ReplayReport:
    """How many records were handed to the loggers."""

    runs: int
    rollouts: int


def replay_history(
    store: Store, tenant: str, loggers: Sequence[RunLogger], *, since: datetime | None = None
) -> ReplayReport:
    """Hands the tenant's learning runs and finished rollouts (started at or after ``since``)
    to every logger, oldest first. A logger's error propagates (nothing is skipped
    silently); loggers skip what they already logged, so a replay can simply be re-run."""
    runs: list[LearningRun] = [
        r for r in store.learning_runs(tenant) if since is None or r.created_at >= since
    ]
    rollouts = [state for _, state in rollout_log(store, tenant)]
    if since is not None:
        rollouts = [s for s in rollouts if s.started_at >= since.timestamp()]
    timeline: list[tuple[float, LearningRun | RolloutState]] = [
        (r.created_at.timestamp(), r) for r in runs
    ]
    timeline += [(s.started_at, s) for s in rollouts]
    timeline.sort(key=lambda item: item[0])
    for _, item in timeline:
        for logger in loggers:
            if isinstance(item, LearningRun):
                logger.log_run(item)
            else:
                logger.log_rollout(tenant, item)
    return ReplayReport(len(runs), len(rollouts))

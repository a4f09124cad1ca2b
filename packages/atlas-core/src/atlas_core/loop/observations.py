"""Rollout observations read back from the store instead of recorded in memory.

When several serving processes (or replicas) answer traffic, no one process sees every
request; but every request is recorded in the store as an Interaction naming the version
that served it. :func:`arm_stats_from_store` rebuilds both arms' statistics from those
rows: the interactions since the current step began whose ``prompt_version`` (prompts and
playbooks) or ``model_version`` (models) is the version's tag (its id, by default), with
their latest reward, ``latency_ms`` and an error flag read from ``metadata["error"]``.
The step start is the rollout clock's time and is compared with the interactions'
``created_at``, so the rollout's clock must be the one that stamps the interactions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from uuid import UUID

from atlas_core.loop.rollout_state import RolloutState
from atlas_core.loop.stats import ArmStats
from atlas_core.store import Query, Store
from atlas_core.types import VersionKind, from_ns

__all__ = ["arm_stats_from_store", "version_tag"]


def version_tag(version_id: UUID) -> str:
    """What a server writes into ``prompt_version`` / ``model_version``: the version's id."""
    return str(version_id)


def _arm(store: Store, tenant: str, query: Query) -> ArmStats:
    arm = ArmStats()
    frame = store.interactions_with_rewards(tenant, query)
    for reward, latency_ms, metadata in zip(
        frame["reward"].to_list(),
        frame["latency_ms"].to_list(),
        frame["metadata"].to_list(),
        strict=True,
    ):
        error = bool(json.loads(metadata or "{}").get("error", False))
        arm.add(reward, error, None if latency_ms is None else latency_ms / 1000.0)
    return arm


def arm_stats_from_store(
    store: Store,
    tenant: str,
    state: RolloutState,
    *,
    tag: Callable[[UUID], str] = version_tag,
) -> tuple[ArmStats, ArmStats]:
    """``(candidate, stable)`` statistics of the current step, from the recorded interactions."""
    since = from_ns(int(state.step_started_at * 1e9))
    field = "model_version" if state.kind is VersionKind.MODEL else "prompt_version"

    def query(version_id: UUID) -> Query:
        return Query(since=since, **{field: tag(version_id)})  # type: ignore[arg-type]

    candidate = _arm(store, tenant, query(state.candidate_id))
    stable = _arm(store, tenant, query(state.stable_id)) if state.stable_id else ArmStats()
    return candidate, stable

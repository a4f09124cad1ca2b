"""The result of a run in the Store: a candidate model Version and its LearningRun.

A learner never deploys: the version is registered with status CANDIDATE and no alias;
the gate and rollout decide what happens to it.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Store
from atlas_core.types import LearningRun, Version, VersionKind, VersionStatus

__all__ = ["record_learning_run", "register_candidate"]


def _parent(parent_version_id: str | None) -> UUID | None:
    if parent_version_id is None:
        return None
    try:
        return UUID(parent_version_id)
    except ValueError as exc:
        raise InvalidArgumentError(
            f"registry.parent_version_id: not a UUID: {parent_version_id!r}"
        ) from exc


def register_candidate(
    store: Store,
    tenant: str,
    *,
    name: str,
    artifact: Path,
    metrics: dict[str, float],
    parent_version_id: str | None = None,
) -> Version:
    """Stores the next-numbered candidate model version of ``name`` pointing at ``artifact``."""
    existing = store.versions(tenant, VersionKind.MODEL, name)
    version = Version(
        tenant_id=tenant,
        kind=VersionKind.MODEL,
        name=name,
        number=max((v.number for v in existing), default=0) + 1,
        artifact_uri=Path(artifact).resolve().as_uri(),
        parent_id=_parent(parent_version_id),
        metrics=metrics,
        status=VersionStatus.CANDIDATE,
        aliases=(),
    )
    store.put_version(version)
    return version


def record_learning_run(
    store: Store,
    tenant: str,
    *,
    run_id: UUID,
    learner: str,
    learning_key: str | None,
    samples_used: int,
    metrics_before: dict[str, float],
    metrics_after: dict[str, float],
    duration_s: float,
    outcome: str,
    reason: str,
    candidate: Version | None,
) -> LearningRun:
    """Stores what the run did (a manual trigger: the command was run by someone)."""
    run = LearningRun(
        id=run_id,
        tenant_id=tenant,
        learning_key=learning_key,
        trigger="manual",
        reason=reason,
        learner=learner,
        samples_used=samples_used,
        metrics_before=metrics_before,
        metrics_after=metrics_after,
        duration_s=duration_s,
        outcome=outcome,
        candidate_version_id=candidate.id if candidate is not None else None,
    )
    store.record_run(run)
    return run

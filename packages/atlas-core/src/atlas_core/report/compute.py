"""Computes a :class:`~atlas_core.report.model.LearningReport` from a tenant's store.

:func:`build_report` reads (:func:`~atlas_core.report.sources.load_sources`) and computes;
:func:`compute_report` computes from sources already read. The definitions of the figures
are in :mod:`atlas_core.report.model` and, in the words printed, in
:mod:`atlas_core.report.definitions`.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from uuid import UUID

import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.loop.rollout_state import Phase, RolloutState
from atlas_core.report.figures import (
    key_forgetting,
    key_rewards,
    mean,
    mean_gap_s,
    sample_variance,
    window_means,
)
from atlas_core.report.live import compare_live
from atlas_core.report.model import (
    LearningReport,
    RollbackRecord,
    Stability,
    UpdateCounts,
    UpdateRecord,
    Velocity,
    VersionServed,
)
from atlas_core.report.sources import RolloutEnd, Sources, load_sources, served_by
from atlas_core.store import Store
from atlas_core.types import LearningRun

__all__ = ["DEFAULT_WINDOW", "build_report", "compute_report"]

#: Rewarded interactions per window (live comparisons and stability).
DEFAULT_WINDOW = 100


def build_report(
    store: Store,
    tenant: str,
    *,
    title: str | None = None,
    since: datetime | None = None,
    window: int = DEFAULT_WINDOW,
    forgetting_tolerance: float = 0.05,
) -> LearningReport:
    """The learning-effectiveness report of ``tenant`` (data from ``since`` on, if given).

    A naive ``since`` is taken as UTC. Raises InvalidArgumentError for a ``window`` below 1
    or a negative or non-finite ``forgetting_tolerance``.
    """
    since, sources = load_inputs(store, tenant, since)
    return compute_report(
        sources,
        tenant,
        title=title,
        since=since,
        window=window,
        forgetting_tolerance=forgetting_tolerance,
    )


def load_inputs(
    store: Store, tenant: str, since: datetime | None
) -> tuple[datetime | None, Sources]:
    """``since`` made aware (a naive one is UTC) and the sources read from it."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return since, load_sources(store, tenant, since)


def _family(state: RolloutState) -> str:
    return f"{state.kind.value}/{state.name}"


def _step(state: RolloutState) -> str:
    """Where a rolled-back rollout failed, from its last analysed step."""
    if state.history and not state.history[-1].get("passed", True):
        last = state.history[-1]
        return "shadow" if last["phase"] == "shadow" else f"canary {float(last['weight']):g}%"
    return "no failing analysis (manual or restart rollback)"


def _update(
    run: LearningRun, sources: Sources, last_end: dict[UUID, RolloutEnd], window: int
) -> UpdateRecord:
    cid = run.candidate_version_id
    assert cid is not None
    version = sources.versions.get(cid)
    end = last_end.get(cid)
    state = end.state if end is not None else None
    if state is None:
        state = next((s for s in sources.in_flight if s.candidate_id == cid), None)
    if run.outcome == "rejected":
        fate = "rejected by the gate"
    elif state is not None and state.phase is Phase.PROMOTED:
        fate = "promoted"
    elif state is not None and state.phase is Phase.ROLLED_BACK:
        fate = "rolled back"
    else:
        fate = "in rollout"
    live = None
    previous = sources.versions.get(state.stable_id) if state and state.stable_id else None
    if version is not None and previous is not None and fate != "rejected by the gate":
        live = compare_live(sources.rewarded, previous, version, window)
    after = run.metrics_after
    return UpdateRecord(
        run_id=run.id,
        at=run.created_at,
        trigger=run.trigger,
        family=f"{version.kind.value}/{version.name}" if version else "?",
        candidate_id=cid,
        number=version.number if version else None,
        outcome=run.outcome,
        fate=fate,
        gate_stable=run.metrics_before.get("score", after.get("gate.stable")),
        gate_candidate=after.get("gate.candidate"),
        gate_bwt=after.get("gate.bwt"),
        reason=run.reason,
        live=live,
    )


def _counts(sources: Sources) -> UpdateCounts:
    runs = sources.runs
    return UpdateCounts(
        runs=len(runs),
        skipped=sum(r.outcome == "skipped" for r in runs),
        updates=sum(r.outcome != "skipped" for r in runs),
        by_trigger_outcome=dict(sorted(Counter((r.trigger, r.outcome) for r in runs).items())),
        candidates=sum(r.candidate_version_id is not None for r in runs),
        gate_passed=sum(r.outcome in ("rollout", "promoted") for r in runs),
        gate_rejected=sum(r.outcome == "rejected" for r in runs),
        promotions=sum(e.state.phase is Phase.PROMOTED for e in sources.ends),
        rollbacks=sum(e.state.phase is Phase.ROLLED_BACK for e in sources.ends),
        in_rollout=len(sources.in_flight),
    )


def _feedback_mix(feedback: pl.DataFrame) -> dict[str, int]:
    labels = [
        f"signal:{name}" if kind == "signal" and name else kind
        for kind, name in zip(feedback["kind"].to_list(), feedback["name"].to_list(), strict=True)
    ]
    return dict(sorted(Counter(labels).items()))


def compute_report(
    sources: Sources,
    tenant: str,
    *,
    title: str | None = None,
    since: datetime | None = None,
    window: int = DEFAULT_WINDOW,
    forgetting_tolerance: float = 0.05,
) -> LearningReport:
    """The report from ``sources`` (see :func:`build_report`)."""
    if window < 1:
        raise InvalidArgumentError(f"window: must be >= 1, got {window}")
    if not (forgetting_tolerance >= 0 and math.isfinite(forgetting_tolerance)):
        raise InvalidArgumentError(
            f"forgetting_tolerance: must be finite and >= 0, got {forgetting_tolerance}"
        )
    last_end = {e.state.candidate_id: e for e in sources.ends}  # oldest first: last one wins
    updates = tuple(
        _update(r, sources, last_end, window)
        for r in sources.runs
        if r.candidate_version_id is not None
    )
    promoted = [u for u in updates if u.fate == "promoted"]
    live_gains = [g for u in promoted if u.live and (g := u.live.improvement) is not None]
    gate_gains = [d for u in promoted if (d := u.gate_delta) is not None]
    counts = _counts(sources)

    frame = sources.interactions
    rewards = [float(r) for r in sources.rewarded["reward"].to_list()]
    times = frame["created_at"].to_list()
    first, last = (times[0], times[-1]) if times else (None, None)
    total = sum(live_gains) if live_gains else None
    hours = (last - first).total_seconds() / 3600 if first and last else 0.0
    velocity = Velocity(
        total_improvement=total,
        per_update=total / counts.updates if total is not None and counts.updates else None,
        per_1000_interactions=total / (frame.height / 1000) if total is not None else None,
        per_hour=total / hours if total is not None and hours > 0 else None,
    )

    ended = {u.candidate_id: last_end[u.candidate_id].ended_at for u in promoted}
    regress_times = [e.ended_at for e in sources.ends if e.state.phase is Phase.ROLLED_BACK]
    regress_times += [
        ended[u.candidate_id]
        for u in promoted
        if u.live and (g := u.live.improvement) is not None and g < 0
    ]
    finished = counts.promotions + counts.rollbacks
    means = window_means(rewards, window)
    stability = Stability(
        window=window,
        windows=len(means),
        window_means=tuple(means),
        variance=sample_variance(means),
        rollback_share=counts.rollbacks / finished if finished else None,
        regressions=len(regress_times),
        mean_time_between_regressions_s=mean_gap_s(regress_times),
    )
    rollbacks = tuple(
        RollbackRecord(
            at=e.ended_at,
            family=_family(e.state),
            candidate_id=e.state.candidate_id,
            number=v.number if (v := sources.versions.get(e.state.candidate_id)) else None,
            stable_id=e.state.stable_id,
            step=_step(e.state),
            reason=e.state.reason,
        )
        for e in sources.ends
        if e.state.phase is Phase.ROLLED_BACK
    )
    keys = tuple(key_rewards(frame, window))
    served = []
    for version in sources.versions.values():
        rows = served_by(frame, version)["reward"].drop_nulls()
        served.append(
            VersionServed(
                family=f"{version.kind.value}/{version.name}",
                number=version.number,
                version_id=version.id,
                status=version.status.value,
                served=served_by(frame, version).height,
                rewarded=rows.len(),
                mean_reward=float(rows.mean()) if rows.len() else None,  # type: ignore[arg-type]
            )
        )
    notes = _notes(counts, frame.height, len(rewards), len(keys), promoted, live_gains)
    return LearningReport(
        tenant=tenant,
        title=title or f"Learning report: tenant {tenant}",
        generated_at=datetime.now(UTC),
        since=since,
        interactions=frame.height,
        rewarded=len(rewards),
        first_interaction=first,
        last_interaction=last,
        counts=counts,
        updates=updates,
        rollbacks=rollbacks,
        average_live_improvement=mean(live_gains),
        average_gate_improvement=mean(gate_gains),
        velocity=velocity,
        stability=stability,
        keys=keys,
        versions=tuple(served),
        forgetting=tuple(
            key_forgetting(
                [r for r in sources.runs if r.candidate_version_id is not None],
                promoted,
                forgetting_tolerance,
            )
        ),
        feedback_mix=_feedback_mix(sources.feedback),
        forgetting_tolerance=forgetting_tolerance,
        notes=notes,
    )


def _notes(
    counts: UpdateCounts,
    interactions: int,
    rewarded: int,
    keys: int,
    promoted: list[UpdateRecord],
    live_gains: list[float],
) -> tuple[str, ...]:
    """Plain statements of what the data does not allow, so no figure is silently absent."""
    notes = []
    if counts.runs == 0:
        notes.append("No learning runs are recorded yet: there are no updates to report on.")
    elif counts.updates == 0:
        notes.append("Every scheduler decision so far was a skip: no update has run yet.")
    if interactions == 0:
        notes.append("No interactions are recorded in this period.")
    elif rewarded == 0:
        notes.append("No interaction has a reward: live reward figures cannot be computed.")
    if keys == 1:
        notes.append("Only one learning key: forgetting across keys cannot show.")
    if promoted and not live_gains:
        notes.append(
            "No promoted update has live rewards on a key that its predecessor also served "
            "(interactions must name the serving version in model_version / prompt_version): "
            "live improvement is unavailable."
        )
    return tuple(notes)

"""What the loop did, as monitoring shows it: learning events, drift alarms, versions,
rollouts and the update markers drawn on the performance charts.

Sources: the store's LearningRuns (the scheduler records every check: a fired one with
what the learner made of it, a held-back or idle one with outcome ``skipped``), the
tenant's Versions, and the rollout state (``loop.rollout``) and log (``loop.rollout.log``)
of :mod:`atlas_core.loop.rollout_state`.

A *drift alarm* is a LearningRun whose trigger is ``drift`` or ``error_rate``: the
scheduler saw the reward drop or the error rate rise, whether it then learned (outcome of
the learner) or was held back (``skipped``, the reason says why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from atlas_core.loop.rollout_state import NAMESPACE, RolloutState, rollout_log
from atlas_core.store import Store
from atlas_core.types import LearningRun, Version, from_ns

__all__ = ["ALARM_TRIGGERS", "SKIPPED", "LearningActivity", "learning_activity"]

ALARM_TRIGGERS = ("drift", "error_rate")
"""Triggers that are alarms: something got worse."""
SKIPPED = "skipped"
"""The outcome of a scheduler check that did not learn."""


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso_s(seconds: float) -> str:
    return _iso(from_ns(int(seconds * 1e9)))


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    return {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}


@dataclass(frozen=True)
class LearningActivity:
    """JSON-ready learning figures of one tenant."""

    runs_by_trigger_outcome: list[dict[str, Any]]
    """``{"trigger", "outcome", "count"}`` over every recorded run."""
    recent_events: list[dict[str, Any]]
    """The newest learning runs that were not skipped checks, newest first."""
    drift_alarms: list[dict[str, Any]]
    """The newest runs triggered by drift or error rate (fired or held back), newest first.
    Not cut by the window: a loop may stamp its runs with its own (simulated) clock."""
    alarm_total: int
    """Every recorded drift or error-rate run."""
    versions: list[dict[str, Any]]
    """Every version, newest first: id, label, kind, name, number, status, aliases, metrics."""
    rollouts: list[dict[str, Any]]
    """The current rollout of each family (phase, weight, step analyses, arm figures)."""
    finished_rollouts: list[dict[str, Any]]
    """Every finished rollout (promoted or rolled back) with its end time, oldest first."""
    markers: list[dict[str, Any]]
    """Update markers, oldest first: ``{"t", "kind", "label", "detail"}``; kind is
    ``learning`` (a learner produced a candidate), ``promoted``, ``rolled_back``."""


def _run_row(run: LearningRun, labels: dict[str, str]) -> dict[str, Any]:
    candidate = str(run.candidate_version_id) if run.candidate_version_id else None
    return {
        "id": str(run.id),
        "t": _iso(run.created_at),
        "trigger": run.trigger,
        "outcome": run.outcome,
        "learner": run.learner,
        "reason": run.reason,
        "learning_key": run.learning_key,
        "samples_used": run.samples_used,
        "duration_s": run.duration_s,
        "candidate_version_id": candidate,
        "candidate": labels.get(candidate, candidate) if candidate else None,
        "metrics_before": _finite(run.metrics_before),
        "metrics_after": _finite(run.metrics_after),
    }


def _version_row(v: Version) -> dict[str, Any]:
    return {
        "id": str(v.id),
        "label": f"{v.name}@{v.number}",
        "kind": v.kind.value,
        "name": v.name,
        "number": v.number,
        "status": v.status.value,
        "aliases": list(v.aliases),
        "parent_id": str(v.parent_id) if v.parent_id else None,
        "metrics": _finite(v.metrics),
        "created_at": _iso(v.created_at),
    }


def _arm(stats: Any) -> dict[str, Any]:
    mean, _ = stats.reward
    latency, _ = stats.latency
    rate = stats.error_rate
    return {
        "n": stats.n,
        "mean_reward": mean if math.isfinite(mean) else None,
        "error_rate": rate if math.isfinite(rate) else None,
        "mean_latency_s": latency if math.isfinite(latency) else None,
    }


def _rollout_row(state: RolloutState, labels: dict[str, str]) -> dict[str, Any]:
    candidate, stable = str(state.candidate_id), str(state.stable_id) if state.stable_id else None
    return {
        "family": f"{state.kind.value}/{state.name}",
        "phase": state.phase.value,
        "in_flight": state.phase.in_flight,
        "weight": state.weight,
        "step": state.step,
        "candidate_id": candidate,
        "candidate": labels.get(candidate, candidate),
        "stable_id": stable,
        "stable": labels.get(stable, stable) if stable else None,
        "started_at": _iso_s(state.started_at),
        "reason": state.reason,
        "candidate_arm": _arm(state.candidate),
        "stable_arm": _arm(state.stable),
        "steps": [
            {
                "t": _iso_s(float(entry.get("at", state.started_at))),
                "phase": entry.get("phase"),
                "weight": entry.get("weight"),
                "passed": entry.get("passed"),
                "failures": entry.get("failures", []),
            }
            for entry in state.history
        ],
    }


def learning_activity(
    store: Store,
    tenant: str,
    versions: list[Version],
    *,
    since: datetime,
    recent: int,
) -> LearningActivity:
    """Reads the tenant's runs and rollouts; ``since`` bounds the markers (the window's
    start), ``recent`` the learning events and drift alarms listed."""
    labels = {str(v.id): f"{v.name}@{v.number}" for v in versions}
    runs = store.learning_runs(tenant)
    counts: dict[tuple[str, str], int] = {}
    for run in runs:
        counts[(run.trigger, run.outcome)] = counts.get((run.trigger, run.outcome), 0) + 1
    events = [r for r in runs if r.outcome != SKIPPED]
    alarms = [r for r in runs if r.trigger in ALARM_TRIGGERS]
    current = store.kv_items(tenant, NAMESPACE)
    rollouts = [_rollout_row(RolloutState.from_json(text), labels) for text in current.values()]
    finished = []
    for ended_at, state in rollout_log(store, tenant):
        row = _rollout_row(state, labels)
        row["ended_at"] = _iso_s(ended_at)
        finished.append(row)
    finished.sort(key=lambda r: r["ended_at"])
    markers = [
        {
            "t": _iso(r.created_at),
            "kind": "learning",
            "label": f"{r.learner}: {r.outcome}",
            "detail": r.reason,
        }
        for r in events
        if r.created_at >= since
    ]
    markers += [
        {
            "t": row["ended_at"],
            "kind": row["phase"],
            "label": f"{row['phase'].replace('_', ' ')} {row['candidate']}",
            "detail": row["reason"],
        }
        for row in finished
        if row["ended_at"] >= _iso(since)
    ]
    markers.sort(key=lambda m: m["t"])
    return LearningActivity(
        runs_by_trigger_outcome=[
            {"trigger": t, "outcome": o, "count": n} for (t, o), n in sorted(counts.items())
        ],
        recent_events=[_run_row(r, labels) for r in reversed(events[-recent:])],
        drift_alarms=[_run_row(r, labels) for r in reversed(alarms[-recent:])],
        alarm_total=len(alarms),
        versions=[_version_row(v) for v in reversed(versions)],
        rollouts=rollouts,
        finished_rollouts=finished,
        markers=markers,
    )

"""What a tracker is told about a learning run or a finished rollout: flat params, metrics
and tags, the shape mlflow and wandb both take.

Metrics are finite floats only (NaN, e.g. the reward of an arm that saw none, is left out:
trackers reject or mis-plot it). Params and tags are strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the loop imports this package: no runtime import back into it
    from atlas_core.loop.rollout_state import RolloutState
    from atlas_core.types import LearningRun

__all__ = ["TrackedRecord", "rollout_record", "run_record"]


@dataclass(frozen=True)
class TrackedRecord:
    """One thing to log: a learning run or a rollout."""

    key: str
    """Stable identity: ``learning_run/<id>`` or ``rollout/<kind>/<name>/<candidate>``;
    a logger that sees a key again does not log it twice."""
    kind: str
    """``learning_run`` or ``rollout``."""
    name: str
    """A readable title."""
    tenant: str
    start_s: float
    """Unix seconds."""
    end_s: float
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    failed: bool = False
    """The learning run failed (a rolled-back rollout did its job: not a failure)."""
    steps: list[dict[str, float]] = field(default_factory=list)
    """Metrics over time (a rollout's analysed steps), in order."""


def _finite(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number):
                out[key] = number
    return out


def run_record(run: LearningRun) -> TrackedRecord:
    """A LearningRun as a record: trigger, learner, outcome, samples, duration, the metrics
    before and after (and their change, for metrics in both), the candidate version."""
    metrics: dict[str, Any] = {"samples_used": run.samples_used}
    if run.duration_s is not None:
        metrics["duration_s"] = run.duration_s
    metrics.update({f"before.{k}": v for k, v in run.metrics_before.items()})
    metrics.update({f"after.{k}": v for k, v in run.metrics_after.items()})
    metrics.update(
        {
            f"delta.{k}": run.metrics_after[k] - v
            for k, v in run.metrics_before.items()
            if k in run.metrics_after
        }
    )
    params = {
        "trigger": run.trigger,
        "learner": run.learner,
        "learning_key": run.learning_key or "*",
        "outcome": run.outcome,
        "candidate_version_id": str(run.candidate_version_id or ""),
    }
    start = run.created_at.timestamp()
    return TrackedRecord(
        key=f"learning_run/{run.id}",
        kind="learning_run",
        name=f"{run.learner} {run.trigger} -> {run.outcome}",
        tenant=run.tenant_id,
        start_s=start,
        end_s=start + (run.duration_s or 0.0),
        params=params,
        metrics=_finite(metrics),
        tags={"atlas.outcome": run.outcome, "atlas.reason": run.reason[:5000]},
        failed=run.outcome == "failed",
    )


def rollout_record(tenant: str, state: RolloutState) -> TrackedRecord:
    """A finished (promoted or rolled back) rollout as a record: the final weight, the live
    figures of the last analysed step (what decided it: requests, reward, error rate and
    latency per arm, with p-values), and each analysed step (weight, passed, figures) as
    metrics over time."""
    history = state.history
    end = max([state.step_started_at, *(float(h.get("at", 0.0)) for h in history)])
    steps = [
        _finite(
            {"weight": h.get("weight"), "passed": 1.0 if h.get("passed") else 0.0}
            | dict(h.get("figures") or {})
        )
        for h in history
    ]
    decisive = dict(history[-1].get("figures") or {}) if history else {}
    return TrackedRecord(
        key=f"rollout/{state.kind.value}/{state.name}/{state.candidate_id}",
        kind="rollout",
        name=f"rollout {state.kind.value}/{state.name} -> {state.phase.value}",
        tenant=tenant,
        start_s=state.started_at,
        end_s=end,
        params={
            "kind": state.kind.value,
            "name": state.name,
            "candidate_id": str(state.candidate_id),
            "stable_id": str(state.stable_id or ""),
            "outcome": state.phase.value,
        },
        metrics=_finite(
            {
                "weight": state.weight,
                "steps_analysed": len(history),
                **decisive,
            }
        ),
        tags={"atlas.outcome": state.phase.value, "atlas.reason": state.reason[:5000]},
        steps=steps,
    )

"""A tenant's worth of monitoring data written to a real store, with the figures expected
from it computed here independently (plain Python over what was written)."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from atlas_core.config import AtlasConfig, ServeConfig, StoreConfig
from atlas_core.config.models import MonitoringConfig
from atlas_core.loop.rollout_state import Phase, RolloutState, save_state
from atlas_core.store import Store
from atlas_core.types import (
    Feedback,
    FeedbackKind,
    Interaction,
    LearningRun,
    Reward,
    Tenant,
    Version,
    VersionKind,
    VersionStatus,
    utcnow,
)


@dataclass
class Written:
    """What :func:`write_tenant` wrote, and what monitoring must make of it."""

    tenant: str
    v1: Version
    v2: Version
    interactions: list[Interaction] = field(default_factory=list)
    rewards: dict[UUID, float] = field(default_factory=dict)
    """Latest reward per interaction."""
    feedback: list[Feedback] = field(default_factory=list)
    runs: list[LearningRun] = field(default_factory=list)

    def label(self, i: Interaction) -> str:
        return {str(self.v1.id): "support@1", str(self.v2.id): "support@2"}[i.model_version or ""]

    def mean_reward(self, key: str | None = None, version: str | None = None) -> float:
        scores = [
            self.rewards[i.id]
            for i in self.interactions
            if i.id in self.rewards
            and (key is None or i.learning_key == key)
            and (version is None or self.label(i) == version)
        ]
        return statistics.fmean(scores)

    def latencies(self) -> list[float]:
        return [i.latency_ms for i in self.interactions if i.latency_ms is not None]

    def error_rate(self) -> float:
        return sum(bool(i.metadata.get("error")) for i in self.interactions) / len(
            self.interactions
        )


def write_tenant(store: Store, tenant: str = "acme", n: int = 40) -> Written:
    """Interactions over two versions and three keys, rewards, every feedback kind,
    learning runs (fired, skipped, drift alarms) and a finished and a current rollout."""
    store.put_tenant(Tenant(id=tenant))
    v1 = Version(
        tenant_id=tenant, kind=VersionKind.MODEL, name="support", number=1, artifact_uri="a"
    )
    v2 = Version(
        tenant_id=tenant,
        kind=VersionKind.MODEL,
        name="support",
        number=2,
        artifact_uri="b",
        parent_id=v1.id,
    )
    store.put_version(v1)
    store.put_version(v2)
    store.set_status(tenant, v1.id, VersionStatus.PRODUCTION)
    store.set_alias(tenant, "production", v1.id)
    store.set_status(tenant, v2.id, VersionStatus.CANARY)
    w = Written(tenant, v1, v2)
    start = utcnow() - timedelta(minutes=30)
    for k in range(n):
        version = v1 if k < n // 2 else v2
        w.interactions.append(
            Interaction(
                tenant_id=tenant,
                learning_key=("billing", "refunds", "login")[k % 3],
                model_version=str(version.id),
                input=[{"role": "user", "content": f"q{k}"}],
                output=f"Answer {k % 5}",
                latency_ms=10.0 + 3 * k,
                metadata={"error": k % 7 == 0},
                created_at=start + timedelta(seconds=30 * k),
            )
        )
    store.write_interactions(w.interactions)
    rewards = []
    for k, i in enumerate(w.interactions):
        if k % 4 == 3:
            continue  # some interactions are not rewarded
        score = round((k % 10) / 10 + (0.05 if i.model_version == str(v2.id) else 0.0), 3)
        rewards.append(Reward(tenant_id=tenant, interaction_id=i.id, score=score))
        w.rewards[i.id] = score
    store.write_rewards(rewards)
    fb: list[Feedback] = []
    for k, i in enumerate(w.interactions[:12]):
        fb.append(
            Feedback(
                tenant_id=tenant,
                interaction_id=i.id,
                kind=FeedbackKind.RATING,
                value=float(1 + k % 5),
                scale_min=1,
                scale_max=5,
            )
        )
        fb.append(
            Feedback(
                tenant_id=tenant,
                interaction_id=i.id,
                kind=FeedbackKind.SIGNAL,
                name=("copy", "retry", "copy", "share")[k % 4],
                value=1.0,
            )
        )
    # Gold labels: interaction 0 ("Answer 0") right modulo case and spaces, 1 wrong, 2 right.
    for k, gold in ((0, "  answer   0 "), (1, "Answer 9"), (2, "Answer 2")):
        fb.append(
            Feedback(
                tenant_id=tenant,
                interaction_id=w.interactions[k].id,
                kind=FeedbackKind.LABEL,
                text=gold,
            )
        )
    fb.append(
        Feedback(
            tenant_id=tenant,
            interaction_id=w.interactions[3].id,
            kind=FeedbackKind.EDIT,
            text="better",
        )
    )
    store.write_feedback(fb)
    w.feedback = fb
    runs = [
        LearningRun(
            tenant_id=tenant,
            trigger="sample_count",
            learner="gepa",
            outcome="skipped",
            reason="no trigger",
            created_at=start + timedelta(minutes=1),
        ),
        LearningRun(
            tenant_id=tenant,
            trigger="drift",
            learner="gepa",
            outcome="skipped",
            reason="reward drop; held back: min interval",
            learning_key="billing",
            created_at=start + timedelta(minutes=5),
        ),
        LearningRun(
            tenant_id=tenant,
            trigger="drift",
            learner="gepa",
            outcome="candidate",
            reason="reward drop detected",
            learning_key="billing",
            candidate_version_id=v2.id,
            metrics_before={"reward": 0.4},
            metrics_after={"reward": 0.6},
            created_at=start + timedelta(minutes=10),
        ),
        LearningRun(
            tenant_id=tenant,
            trigger="error_rate",
            learner="gepa",
            outcome="no_change",
            reason="error rate 0.3",
            created_at=start + timedelta(minutes=12),
        ),
    ]
    for run in runs:
        store.record_run(run)
    w.runs = runs
    t0 = start.timestamp()
    finished = RolloutState(
        kind=VersionKind.MODEL,
        name="support",
        candidate_id=v1.id,
        stable_id=None,
        phase=Phase.PROMOTED,
        step=5,
        weight=100.0,
        started_at=t0,
        step_started_at=t0,
        reason="first version",
    )
    save_state(store, tenant, finished, ended_at=t0 + 60)
    current = RolloutState(
        kind=VersionKind.MODEL,
        name="support",
        candidate_id=v2.id,
        stable_id=v1.id,
        phase=Phase.CANARY,
        step=1,
        weight=5.0,
        started_at=t0 + 600,
        step_started_at=t0 + 900,
        history=[
            {"phase": "shadow", "weight": 0.0, "at": t0 + 700, "passed": True, "failures": []},
            {"phase": "canary", "weight": 1.0, "at": t0 + 900, "passed": True, "failures": []},
        ],
        reason="canary 1% passed",
    )
    save_state(store, tenant, current)
    return w


def server_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, monitoring: MonitoringConfig
) -> AtlasConfig:
    """An `atlas serve` config on a fresh SQLite store and free ports, with no ``ATLAS_*``
    variable of the machine leaking in."""
    for name in list(os.environ):
        if name.startswith("ATLAS_"):
            monkeypatch.delenv(name)
    return AtlasConfig(
        home=tmp_path,
        store=StoreConfig(url="sqlite:///" + str(tmp_path / "a.db")),
        serve=ServeConfig(http_port=0, grpc_port=0),
        monitoring=monitoring,
    )

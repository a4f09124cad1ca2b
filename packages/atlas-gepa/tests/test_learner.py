"""The ``gepa`` learner inside core's learning loop: its candidate is gated and rolled out."""

from __future__ import annotations

from pathlib import Path

from atlas_core.config.models import (
    GateConfig,
    LoopConfig,
    RolloutConfig,
    SchedulerConfig,
    SelectionConfig,
)
from atlas_core.llm import Endpoint
from atlas_core.loop import LearningLoop, ManualClock
from atlas_core.loop.learner import load_learner
from atlas_core.runtime import ChatAgent, Role, TemplateRegistry
from atlas_core.testing.openai_server import FakeLLMServer
from atlas_core.types import VersionKind, VersionStatus
from atlas_gepa.config import BudgetConfig
from atlas_gepa.learner import GepaLearner, TemplateEvaluator
from atlas_gepa.scoring import GoldScorer
from atlas_gepa.testing import FIXED, seed_store

CONFIG = LoopConfig(
    learner="gepa",
    scheduler=SchedulerConfig(min_samples=10, drift_detector="none", min_interval_s=0.0),
    selection=SelectionConfig(
        batch_size=32, replay_ratio=0.0, held_out_fraction=0.3, seed=1, feedback_wait_s=0.0
    ),
    gate=GateConfig(max_key_regression=0.05),
    rollout=RolloutConfig(min_samples_per_arm=5, canary_steps=(50.0, 100.0)),
)


def test_the_loop_gates_and_rolls_out_the_gepa_candidate(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    store = seed_store(tmp_path / "atlas.db", n=20)
    registry = TemplateRegistry(store, "default", "atlas.runtime")
    registry.ensure_defaults()  # production v1 of every role: the base the learner starts from
    name = registry.name(Role.STUDENT)
    student = ChatAgent(Endpoint(server.base_url, "student"))
    learner = load_learner(
        "gepa",
        student=student,
        scorer=GoldScorer(),
        reflection=Endpoint(server.base_url, "reflector"),
        run_root=tmp_path / "runs",
        lane="auto",
        budget=BudgetConfig(max_metric_calls=40),
        minibatch_size=2,
        use_merge=False,
    )
    assert isinstance(learner, GepaLearner)
    with TemplateEvaluator(store, student=student, scorer=GoldScorer(), lane="auto") as evaluator:
        loop = LearningLoop(
            store,
            "default",
            kind=VersionKind.PROMPT,
            name=name,
            learner=learner,
            evaluator=evaluator,
            config=CONFIG,
            clock=ManualClock(),
        )
        result = loop.step(force=True)

    assert result.outcome == "rollout", result.run
    assert result.verdict is not None
    assert result.verdict.passed
    assert result.verdict.stable == 0.0
    assert result.verdict.candidate == 1.0
    candidate = result.candidate
    assert candidate is not None
    assert candidate.status is VersionStatus.CANDIDATE
    assert candidate.number == 2
    production = registry.load(Role.STUDENT, "production")
    assert candidate.parent_id == production.version_id
    # What the loop stored is a template the runtime can serve once the rollout promotes it.
    assert registry.load_version(Role.STUDENT, candidate).text == FIXED
    assert candidate.metrics["gepa.val_score"] == 1.0
    assert result.run is not None
    assert result.run.learner == "gepa"
    assert result.run.metrics_after["gepa.improvement"] == 1.0

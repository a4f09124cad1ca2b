"""The whole loop on a real SQLite store with a real (lookup-table) learner.

Users ask recurring questions of a few skills; gold answers arrive as labels. The loop
learns, gates and rolls out; a forgetful learner is stopped by the gate; a poisoned update
(a burst of wrong labels on one skill, which fools the gate) is stopped by the canary on live
reward.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from atlas_core.config.models import (
    GateConfig,
    LoopConfig,
    RolloutConfig,
    SchedulerConfig,
    SelectionConfig,
)
from atlas_core.loop import LearningLoop, ManualClock, Phase, Router
from atlas_core.store import Store, open_store
from atlas_core.types import VersionKind, VersionStatus

SKILLS = {
    "capitals": {f"capital of country {i}?": f"city {i}" for i in range(8)},
    "math": {f"what is {i} plus {i}?": str(2 * i) for i in range(8)},
    "colors": {f"color of fruit {i}?": f"color {i}" for i in range(8)},
}
CONFIG = LoopConfig(
    learner="lookup",
    scheduler=SchedulerConfig(min_samples=40, drift_detector="none", min_interval_s=0.0),
    selection=SelectionConfig(batch_size=64, replay_ratio=0.3, held_out_fraction=0.3, seed=1),
    gate=GateConfig(max_key_regression=0.05),
    rollout=RolloutConfig(min_samples_per_arm=20, canary_steps=(10.0, 50.0, 100.0)),
)


def _traffic(
    loop: LearningLoop, helpers: Any, skill: str, n: int, seed: int, poison: bool = False
) -> None:
    """``n`` questions of one skill, each labelled (wrongly when ``poison``), observed."""
    rng = np.random.default_rng(seed)
    questions = list(SKILLS[skill])
    prompts = [questions[int(i)] for i in rng.integers(0, len(questions), n)]
    truth = SKILLS[skill]
    helpers.record(loop.store, skill, prompts, lambda p: "wrong" if poison else truth[p])
    for _ in prompts:
        loop.observe(skill, 0.5)


def _live(loop: LearningLoop, helpers: Any, router: Router, users: int, seed: int) -> None:
    """Serves users through the router; reward 1 when the served table answers correctly."""
    rng = np.random.default_rng(seed)
    store = loop.store
    router.refresh()
    for u in range(users):
        skill = list(SKILLS)[int(rng.integers(0, 3))]
        prompt = list(SKILLS[skill])[int(rng.integers(0, 8))]
        route = router.route(user_id=f"user-{seed}-{u}")

        def reward(version_id: Any, skill: str = skill, prompt: str = prompt) -> float:
            v = store.get_version("default", version_id) if version_id else None
            return float(helpers.table_of(store, "default", v).get(prompt) == SKILLS[skill][prompt])

        loop.rollout.record(route.arm, reward=reward(route.version_id), latency_s=0.05)
        if route.shadow_id is not None:
            loop.rollout.record("candidate", reward=reward(route.shadow_id), latency_s=0.05)


def _run_rollout(loop: LearningLoop, helpers: Any, router: Router) -> list[str]:
    actions = []
    for seed in range(40):
        _live(loop, helpers, router, 60, seed)
        out = loop.rollout_step()
        actions.append(out.action)
        if out.action in ("promote", "rollback"):
            break
    return actions


def test_learn_gate_roll_out_and_stop_bad_updates(store: Store, helpers: Any) -> None:
    clock = ManualClock()
    learner = helpers.LookupLearner()
    loop = LearningLoop(
        store,
        "default",
        kind=VersionKind.PROMPT,
        name="agent",
        learner=learner,
        evaluator=helpers.LookupEvaluator(store),
        config=CONFIG,
        clock=clock,
    )
    router = Router(store, "default", VersionKind.PROMPT, "agent", refresh_s=0.0, clock=clock)

    # 1. Not enough data: a recorded skip.
    _traffic(loop, helpers, "capitals", 30, seed=1)
    assert loop.step().outcome == "skipped"
    # 2. The first version is learned and, with nothing in production, promoted.
    _traffic(loop, helpers, "capitals", 30, seed=2)
    first = loop.step()
    assert first.decision.trigger == "sample_count"
    assert first.outcome == "promoted"
    assert first.verdict is not None
    assert first.verdict.passed
    assert first.verdict.candidate > first.verdict.stable
    assert all(e.learning_key == "capitals" for e in first.train)
    assert first.replay == []
    v1 = first.candidate
    assert v1 is not None
    assert v1.number == 1
    assert v1.metrics["gate.passed"] == 1.0

    # 3. A new skill: learned with replay of the old one, gated, shadow -> canary -> promoted.
    clock.advance(60)
    _traffic(loop, helpers, "math", 60, seed=3)
    second = loop.step()
    assert second.outcome == "rollout", second.run
    assert {e.learning_key for e in second.replay} == {"capitals"}
    assert second.verdict is not None
    assert second.verdict.keys["capitals"].backward_transfer == 0.0
    assert loop.rollout.state is not None
    assert loop.rollout.state.phase is Phase.SHADOW
    # While it rolls out the scheduler holds new updates back (recorded).
    _traffic(loop, helpers, "math", 40, seed=4)
    held = loop.step()
    assert held.outcome == "skipped"
    assert "in flight (shadow)" in held.decision.reason
    assert _run_rollout(loop, helpers, router)[-1] == "promote"
    v2 = second.candidate
    assert v2 is not None
    prod = store.resolve_alias("default", VersionKind.PROMPT, "agent", "production")
    assert prod is not None
    assert prod.id == v2.id
    assert prod.parent_id == v1.id
    assert store.get_version("default", v1.id).status is VersionStatus.RETIRED  # type: ignore[union-attr]

    # 4. A burst of poisoned feedback on one skill outweighs its old held-out answers and
    # fools the gate; live reward in the canary rolls it back before it reaches 100%.
    clock.advance(60)
    _traffic(loop, helpers, "math", 300, seed=7, poison=True)
    poisoned = loop.step()
    assert poisoned.outcome == "rollout", (poisoned.run.reason, poisoned.verdict)  # type: ignore[union-attr]
    actions = _run_rollout(loop, helpers, router)
    assert actions[-1] == "rollback"
    assert "promote" not in actions
    state = loop.rollout.state
    assert state is not None
    assert state.phase is Phase.ROLLED_BACK
    assert "reward" in state.reason
    assert max(h["weight"] for h in state.history) < 100
    prod = store.resolve_alias("default", VersionKind.PROMPT, "agent", "production")
    assert prod is not None
    assert prod.id == v2.id
    # The rolled-back update's examples are forgotten, so no later candidate replays them.
    assert all(e.reference != "wrong" for e in loop.replay.examples.examples())
    assert all(e.reference != "wrong" for e in loop.held_out.examples())
    assert len(loop.replay.examples) > 0

    # 5. A forgetful learner (no replay, no base) learns the third skill and forgets the
    # others: the gate rejects it and names the regressing keys.
    clock.advance(60)
    loop.learner = helpers.LookupLearner(forgetful=True)
    _traffic(loop, helpers, "colors", 60, seed=5)
    naive = loop.step()
    assert naive.outcome == "rejected"
    assert naive.verdict is not None
    assert not naive.verdict.passed
    assert any("key 'capitals' regresses" in r for r in naive.verdict.reasons)
    assert naive.verdict.keys["capitals"].backward_transfer < -0.5
    assert store.get_version("default", naive.candidate.id).status is VersionStatus.REJECTED  # type: ignore[union-attr]
    assert naive.run is not None
    assert naive.run.candidate_version_id == naive.candidate.id
    assert naive.run.metrics_after["gate.passed"] == 0.0
    assert "rejected" in naive.run.reason

    # 6. Every decision is a LearningRun with its outcome.
    outcomes = [r.outcome for r in store.learning_runs("default")]
    assert outcomes == ["skipped", "promoted", "rollout", "skipped", "rollout", "rejected"]


@pytest.mark.parametrize("forget", [True, False])
def test_a_rejected_updates_examples_are_forgotten_when_configured(
    store: Store, helpers: Any, forget: bool
) -> None:
    config = CONFIG.model_copy(update={"gate": GateConfig(forget_rejected=forget)})
    clock = ManualClock()
    loop = LearningLoop(
        store,
        "default",
        kind=VersionKind.PROMPT,
        name="agent",
        learner=helpers.LookupLearner(),
        evaluator=helpers.LookupEvaluator(store),
        config=config,
        clock=clock,
    )
    _traffic(loop, helpers, "capitals", 60, seed=1)
    assert loop.step().outcome == "promoted"
    clock.advance(60)
    loop.learner = helpers.LookupLearner(forgetful=True)
    _traffic(loop, helpers, "colors", 60, seed=5)
    assert loop.step().outcome == "rejected"
    kept = [e for e in loop.replay.examples.examples() if e.learning_key == "colors"]
    kept += [e for e in loop.held_out.examples() if e.learning_key == "colors"]
    assert bool(kept) is not forget


def test_a_failing_learner_is_recorded_and_the_loop_goes_on(store: Store, helpers: Any) -> None:
    clock = ManualClock()
    loop = LearningLoop(
        store,
        "default",
        kind=VersionKind.PROMPT,
        name="agent",
        learner=helpers.LookupLearner(fail=True),
        evaluator=helpers.LookupEvaluator(store),
        config=CONFIG,
        clock=clock,
    )
    _traffic(loop, helpers, "math", 50, seed=1)
    result = loop.step()
    assert result.outcome == "failed"
    (run,) = store.learning_runs("default")
    assert run.outcome == "failed"
    assert "out of memory" in run.reason
    assert run.trigger == "sample_count"
    loop.learner = helpers.LookupLearner()
    _traffic(loop, helpers, "math", 50, seed=2)
    assert loop.step().outcome == "promoted"


def test_no_change_when_nothing_to_learn(store: Store, helpers: Any) -> None:
    loop = LearningLoop(
        store,
        "default",
        kind=VersionKind.PROMPT,
        name="agent",
        learner=helpers.LookupLearner(),
        evaluator=helpers.LookupEvaluator(store),
        config=CONFIG,
        clock=ManualClock(),
    )
    loop.observe("math", 0.5)
    result = loop.step(force=True)  # a manual update with no recorded data
    assert result.outcome == "no_change"
    assert result.run is not None
    assert "no gold answers" in result.run.reason


def test_a_restarted_loop_resumes_its_rollout(db_url: str, helpers: Any) -> None:
    clock = ManualClock()

    def make(store: Store) -> LearningLoop:
        return LearningLoop(
            store,
            "default",
            kind=VersionKind.PROMPT,
            name="agent",
            learner=helpers.LookupLearner(),
            evaluator=helpers.LookupEvaluator(store),
            config=CONFIG,
            clock=clock,
        )

    with open_store(db_url) as store:
        loop = make(store)
        _traffic(loop, helpers, "capitals", 60, seed=1)
        assert loop.step().outcome == "promoted"
        clock.advance(60)
        _traffic(loop, helpers, "math", 60, seed=2)
        second = loop.step()
        assert second.outcome == "rollout"
        router = Router(store, "default", VersionKind.PROMPT, "agent", refresh_s=0.0, clock=clock)
        _live(loop, helpers, router, 60, seed=1)
        assert loop.rollout_step().action == "advance"  # shadow -> canary 10%
    with open_store(db_url) as store:  # a new process: everything comes from the store
        loop = make(store)
        assert loop.rollout.resume().reason == "resumed canary"
        assert loop.scheduler.last_update_at == clock.now()
        router = Router(store, "default", VersionKind.PROMPT, "agent", refresh_s=0.0, clock=clock)
        assert _run_rollout(loop, helpers, router)[-1] == "promote"
        prod = store.resolve_alias("default", VersionKind.PROMPT, "agent", "production")
        assert prod is not None
        assert second.candidate is not None
        assert prod.id == second.candidate.id
        # The replay memory came back too: the next update replays the first skill.
        clock.advance(60)
        _traffic(loop, helpers, "colors", 60, seed=3)
        third = loop.step()
        assert {e.learning_key for e in third.replay} >= {"capitals"}

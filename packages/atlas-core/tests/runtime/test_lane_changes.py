"""The lane follows the capability estimate as rewards for the learning key arrive."""

from __future__ import annotations

from typing import Any

from atlas_core.runtime import FunctionAgent, Lane
from atlas_core.store import Store
from atlas_core.types import Reward


def test_lane_moves_auto_then_paired_then_coach_as_rewards_change(
    make_runtime: Any, store: Store, world: Any
) -> None:
    runtime = make_runtime(
        min_history=3, capability_window=3, capability_use_ema=False, playbook_learn=False
    )
    lanes: list[Lane] = []

    def serve(i: int, reward: float) -> None:
        outcome = runtime.run(world.task(i), learning_key="billing")
        lanes.append(outcome.lane)
        assert outcome.interaction_id is not None
        assert runtime.recorder.flush(10)
        store.write_rewards([Reward(interaction_id=outcome.interaction_id, score=reward)])

    for i in range(3):  # no history yet: paired, answers rewarded well
        serve(i, 1.0)
    serve(3, 0.0)  # window [1, 1, 1]: auto; this one goes badly
    serve(4, 0.0)  # window [1, 1, 0] = 0.67: paired
    serve(5, 0.0)  # window [1, 0, 0] = 0.33: coach
    serve(6, 1.0)  # window [0, 0, 0]: coach

    assert lanes == [Lane.PAIRED] * 3 + [Lane.AUTO, Lane.PAIRED, Lane.COACH, Lane.COACH]
    # Other learning keys have their own (empty) history.
    assert runtime.run(world.task(7), learning_key="shipping").lane is Lane.PAIRED


def test_recorded_decision_carries_the_estimate(
    make_runtime: Any, store: Store, world: Any, recorded: Any
) -> None:
    runtime = make_runtime(min_history=2, capability_use_ema=False)
    ids = []
    for i in range(2):
        outcome = runtime.run(world.task(i), learning_key="k")
        ids.append(outcome.interaction_id)
    assert runtime.recorder.flush(10)
    store.write_rewards([Reward(interaction_id=i, score=0.9) for i in ids])
    outcome = runtime.run(world.task(5), learning_key="k")
    assert outcome.lane is Lane.AUTO
    meta = recorded(runtime, outcome.interaction_id)["metadata"]
    assert meta["capability"]["n"] == 2
    assert abs(meta["capability"]["mean"] - 0.9) < 1e-9
    assert abs(meta["confidence"] - 0.9) < 1e-9
    assert meta["lane_reason"].startswith("confidence 0.900 >= 0.8")


def test_a_probe_model_moves_the_lane(
    make_runtime: Any, store: Store, world: Any, recorded: Any
) -> None:
    runtime = make_runtime(min_history=1, capability_use_ema=False, probe_weight=0.5)
    first = runtime.run(world.task(0), learning_key="k")
    assert runtime.recorder.flush(10)
    store.write_rewards([Reward(interaction_id=first.interaction_id, score=0.9)])
    asked: list[str] = []

    def doubtful(prompt: str) -> str:
        asked.append(prompt)
        return "0.0" if "unsure" in prompt else "1"

    runtime.probe_model = FunctionAgent(doubtful, name="probe-judge")
    outcome = runtime.run(world.task(1), learning_key="k")
    # 0.5 * 0.9 + 0.5 * 0.0 = 0.45 < coach threshold 0.5
    assert outcome.lane is Lane.COACH
    assert outcome.decision.probe_confidence == 0.0
    assert [s.name for s in outcome.trace.steps][:3] == ["baseline", "probe", "probe_score"]
    assert len(asked) == 1
    assert "column by column; unsure about carries" in asked[0]
    assert world.task(1) in asked[0]
    meta = recorded(runtime, outcome.interaction_id)["metadata"]
    assert meta["probe_confidence"] == 0.0
    assert meta["versions"]["probe_model"] == "probe-judge"
    assert meta["versions"]["templates"]["probe_score"] == "atlas.runtime.probe_score@1"


def test_a_failing_probe_model_leaves_the_estimate_alone(
    make_runtime: Any, store: Store, world: Any
) -> None:
    runtime = make_runtime(min_history=1, capability_use_ema=False)
    first = runtime.run(world.task(0), learning_key="k")
    assert runtime.recorder.flush(10)
    store.write_rewards([Reward(interaction_id=first.interaction_id, score=0.9)])
    runtime.probe_model = FunctionAgent(lambda prompt: "I cannot say.", name="vague")
    outcome = runtime.run(world.task(1), learning_key="k")
    assert outcome.lane is Lane.AUTO  # 0.9 from the estimate alone
    assert outcome.decision.probe_confidence is None
    assert outcome.errors == [
        "probe_score: AgentResponseError: probe model gave no number: 'I cannot say.'"
    ]
    assert outcome.answer == str(int(world.answer(world.task(1))) + 1)  # the baseline


def test_a_forced_lane_does_not_ask_the_probe_model(make_runtime: Any, world: Any) -> None:
    runtime = make_runtime()
    asked: list[str] = []
    runtime.probe_model = FunctionAgent(lambda prompt: asked.append(prompt) or "0.5")
    assert runtime.run(world.task(1), lane="coach").lane is Lane.COACH
    assert asked == []

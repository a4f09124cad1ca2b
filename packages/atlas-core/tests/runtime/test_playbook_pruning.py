"""A teacher whose guidance makes answers worse: its lesson enters the playbook, the rewards
recorded for the calls it was injected into show the harm, and the entry is pruned."""

from __future__ import annotations

from typing import Any

from atlas_core.runtime import Lane
from atlas_core.store import Store
from atlas_core.types import Reward


def test_harmful_teacher_lesson_is_detected_by_rewards_and_pruned(
    make_runtime: Any, store: Store, world: Any, recorded: Any
) -> None:
    world.baseline_correct = True
    world.lesson = world.poison  # the teacher's "lesson" makes the student answer 42
    runtime = make_runtime(playbook_min_samples=4, playbook_prune_margin=0.2)
    key = "arith"

    def serve(i: int, lane: Lane) -> Any:
        task = world.task(i)
        outcome = runtime.run(task, learning_key=key, lane=lane)
        assert runtime.recorder.flush(10)
        # What the reward system would record: 1 for a right answer, 0 otherwise.
        score = 1.0 if outcome.answer == world.answer(task) else 0.0
        store.write_rewards([Reward(interaction_id=outcome.interaction_id, score=score)])
        return outcome

    for i in range(4):  # before any lesson: the student alone is right
        assert serve(i, Lane.AUTO).answer != "42"
    coached = serve(4, Lane.COACH)  # the teacher states its lesson
    entries = runtime.playbook.entries(key)
    assert [e.text for e in entries] == [world.poison]
    assert entries[0].source == "teacher"
    assert coached.playbook == ()  # learned after this call: injected from the next one on

    harmed = [serve(i, Lane.AUTO) for i in range(5, 10)]
    assert all(o.answer == "42" for o in harmed)
    assert all(o.playbook == (entries[0].id,) for o in harmed)
    meta = recorded(runtime, harmed[0].interaction_id)["metadata"]
    assert meta["playbook"] == [entries[0].id]
    assert meta["versions"]["playbook"] == [entries[0].id]
    assert world.poison in meta["trace"][0]["prompt"]

    impact = runtime.playbook.impact(key)[entries[0].id]
    assert (impact.n_with, impact.mean_with) == (5, 0.0)
    assert impact.n_without == 5
    assert impact.mean_without is not None
    assert impact.mean_without >= 0.8

    pruned = runtime.review_playbook(key)
    assert [e.id for e in pruned] == [entries[0].id]
    assert pruned[0].status == "pruned"
    assert "with it over 5 calls" in (pruned[0].pruned_reason or "")
    assert runtime.playbook.entries(key) == []
    kept = runtime.playbook.entries(key, include_pruned=True)
    assert kept[0].uses == 5
    assert kept[0].status == "pruned"

    after = serve(10, Lane.AUTO)
    assert after.playbook == ()
    assert after.answer != "42"
    # Re-adding the same lesson does not resurrect it.
    assert runtime.playbook.add(key, world.poison).status == "pruned"


def test_a_helpful_entry_is_kept(make_runtime: Any, store: Store, world: Any) -> None:
    runtime = make_runtime(playbook_min_samples=2, playbook_prune_margin=0.05)
    key = "arith"
    outcomes = [runtime.run(world.task(i), learning_key=key, lane="auto") for i in range(3)]
    entry = runtime.playbook.add(key, "Check the units column twice.")
    outcomes += [runtime.run(world.task(i), learning_key=key, lane="auto") for i in range(3, 6)]
    assert runtime.recorder.flush(10)
    store.write_rewards(
        [
            Reward(interaction_id=o.interaction_id, score=0.9 if o.playbook else 0.4)
            for o in outcomes
        ]
    )
    assert runtime.review_playbook(key) == []
    (kept,) = runtime.playbook.entries(key)
    assert kept.id == entry.id
    assert kept.impact is not None
    assert kept.impact.delta is not None
    assert abs(kept.impact.delta - 0.5) < 1e-9


def test_automatic_review_every_n_runs(make_runtime: Any, store: Store, world: Any) -> None:
    runtime = make_runtime(playbook_review_every=4, playbook_min_samples=2)
    key = "arith"
    before = [runtime.run(world.task(i), learning_key=key, lane="auto") for i in range(2)]
    runtime.playbook.add(key, "Always round to the nearest ten.")
    during = [runtime.run(world.task(i), learning_key=key, lane="auto") for i in range(2, 4)]
    assert runtime.recorder.flush(10)
    assert runtime.playbook.entries(key)  # runs 1-4 done; reviewed at run 4, rewards not in
    store.write_rewards(
        [Reward(interaction_id=o.interaction_id, score=1.0) for o in before]
        + [Reward(interaction_id=o.interaction_id, score=0.0) for o in during]
    )
    for i in range(4, 8):
        runtime.run(world.task(i), learning_key=key, lane="auto")
    assert runtime.playbook.entries(key) == []  # pruned by the review at run 8

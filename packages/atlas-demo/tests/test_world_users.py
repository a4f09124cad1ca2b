"""The simulated world and users: true answers, identical traffic and ids per seed, and
feedback that RIM (signals only) turns into higher rewards for right answers than for wrong
ones."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path
from uuid import UUID

import pytest

from atlas_core.errors import InvalidArgumentError
from atlas_core.loop import load_examples
from atlas_core.sdk import Recorder
from atlas_core.store import open_store
from atlas_demo.seeded_ids import SeededIds
from atlas_demo.users import FeedbackPolicy, give_feedback
from atlas_demo.world import NEW_LETTERS, Schedule, World, truth
from atlas_rim.config import RimConfig
from atlas_rim.model import RimRewardModel
from atlas_rim.store_scoring import score_store


def test_true_answers_of_both_skills() -> None:
    assert truth("s:abh>") == "bci"
    assert truth("s:p>") == "q"
    assert truth("r:abc>") == "cba"
    with pytest.raises(InvalidArgumentError, match="prompt"):
        truth("x:abc>")
    with pytest.raises(InvalidArgumentError, match="prompt"):
        truth("s:abc")


def test_traffic_is_seeded_and_drifts() -> None:
    schedule = Schedule.standard(fast=True)
    rounds = schedule.rounds()
    a, b = World(schedule, seed=3), World(schedule, seed=3)
    assert a.requests(5, rounds[5]) == b.requests(5, rounds[5])
    assert a.requests(5, rounds[5]) != World(schedule, seed=4).requests(5, rounds[5])
    drifted = [r for r in a.requests(5, rounds[5]) if r.key == "shift"]
    assert drifted
    assert all(set(r.prompt[2:-1]) <= set(NEW_LETTERS) for r in drifted)
    burst = next(i for i, p in enumerate(rounds) if p.troll_share > 0)
    assert any(r.troll for r in a.requests(burst, rounds[burst]))
    assert not any(r.troll for r in a.requests(0, rounds[0]))


def test_feedback_becomes_rewards_that_separate_right_from_wrong(tmp_path: Path) -> None:
    store = open_store("sqlite:///" + str(tmp_path / "a.db"))
    recorder = Recorder.embedded(store, tenant_id="t")
    rng = random.Random(0)
    right: list[UUID] = []
    wrong: list[UUID] = []
    troll: list[UUID] = []
    for i in range(60):
        prompt = f"s:{'abc'[i % 3]}{'def'[i % 3]}>"
        for answer, bucket, is_troll in (
            (truth(prompt), right, False),
            ("zz", wrong, False),
            (truth(prompt), troll, True),
        ):
            iid = recorder.record_interaction(
                input=[{"role": "user", "content": prompt}], output=answer, learning_key="shift"
            )
            give_feedback(
                recorder,
                iid,
                prompt=prompt,
                answer=answer,
                correct_answer=truth(prompt),
                troll=is_troll,
                rng=rng,
                policy=FeedbackPolicy(),
            )
            bucket.append(iid)
    recorder.flush()
    asyncio.run(score_store(store, "t", RimRewardModel(RimConfig())))
    examples = {e.id: e for e in load_examples(store, "t", rewarded_only=False)}

    def mean(ids: list[UUID]) -> float:  # no feedback at all: the prior, 0.5
        rewards = [examples[i].reward for i in ids]
        return sum(0.5 if r is None else r for r in rewards) / len(ids)

    assert mean(right) > mean(wrong) + 0.3
    assert mean(troll) < mean(right) - 0.3  # the trolls' verdict looks like a real failure
    for i in troll:  # a troll "corrects" to the input word copied back
        assert examples[i].reference == examples[i].input[0]["content"][2:-1]
    store.close()


def test_seeded_ids_replay_per_seed_and_keep_the_uuidv7_order() -> None:
    ids = SeededIds("0/atlas")
    run_a = [ids.next() for _ in range(500)]
    again = SeededIds("0/atlas")
    assert [again.next() for _ in range(500)] == run_a
    assert run_a == sorted(run_a)
    assert len(set(run_a)) == 500
    assert {i.version for i in run_a} == {7}
    assert {i.variant for i in run_a} == {uuid.RFC_4122}
    other = SeededIds("1/atlas")
    assert [other.next() for _ in range(500)] != run_a

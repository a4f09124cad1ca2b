"""The intake: each learnable interaction once, late feedback still learned, then given up."""

from __future__ import annotations

from datetime import timedelta

from atlas_core.loop.intake import ExampleIntake
from atlas_core.store import Store
from atlas_core.types import Feedback, FeedbackKind, Interaction, Reward, utcnow

T0 = utcnow() - timedelta(hours=1)


def _interaction(store: Store, at_s: float, prompt: str) -> Interaction:
    row = Interaction(
        input=[{"role": "user", "content": prompt}],
        output="o",
        created_at=T0 + timedelta(seconds=at_s),
    )
    store.write_interactions([row])
    return row


def _reward(store: Store, row: Interaction) -> None:
    store.write_rewards([Reward(interaction_id=row.id, score=0.5)])


def test_each_once_and_late_feedback_within_the_wait(store: Store) -> None:
    intake = ExampleIntake(store, "default", "s", feedback_wait_s=100.0)
    a = _interaction(store, 0, "a")
    b = _interaction(store, 10, "b")  # its feedback comes late
    c = _interaction(store, 20, "c")
    _reward(store, a)
    _reward(store, c)
    assert [e.id for e in intake.take()] == [a.id, c.id]
    assert intake.take() == []  # nothing new: nothing handed out twice
    store.write_feedback([Feedback(interaction_id=b.id, kind=FeedbackKind.LABEL, text="gold")])
    d = _interaction(store, 50, "d")
    _reward(store, d)
    taken = intake.take()
    assert [e.id for e in taken] == [b.id, d.id]
    assert taken[0].reference == "gold"
    assert taken[0].reward is None


def test_feedback_later_than_the_wait_is_given_up(store: Store) -> None:
    intake = ExampleIntake(store, "default", "s", feedback_wait_s=100.0)
    a = _interaction(store, 0, "a")
    b = _interaction(store, 500, "b")
    _reward(store, b)
    assert [e.id for e in intake.take()] == [b.id]  # a is 500 s older than b: given up
    _reward(store, a)
    assert intake.take() == []


def test_the_position_survives_a_new_intake(store: Store) -> None:
    a = _interaction(store, 0, "a")
    _reward(store, a)
    assert len(ExampleIntake(store, "default", "s", 100.0).take()) == 1
    assert ExampleIntake(store, "default", "s", 100.0).take() == []
    assert len(ExampleIntake(store, "default", "other", 100.0).take()) == 1

"""Value-weighted selection, the replay memory (every key replayed), held-out memories."""

from __future__ import annotations

from collections import Counter
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_core.config.models import SelectionConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.loop import Example, ExampleMemory, ReplayMemory, select, value_scores
from atlas_core.loop.selection import novelty
from atlas_core.store import Store, open_store


def ex(key: str, prompt: str, reward: float | None = 0.5, unc: float | None = None) -> Example:
    return Example(
        id=uuid4(),
        learning_key=key,
        input=[{"role": "user", "content": prompt}],
        output="o",
        reward=reward,
        uncertainty=unc,
        reference="gold",
    )


def test_value_weighs_error_uncertainty_and_novelty() -> None:
    only = {"weight_uncertainty": 0.0, "weight_novelty": 0.0, "weight_error": 0.0}
    batch = [ex("k", "alpha beta", 0.9, 0.1), ex("k", "gamma delta", 0.1, 0.4)]
    err = value_scores(batch, SelectionConfig(**(only | {"weight_error": 1.0})))
    assert err == pytest.approx([0.1, 0.9])
    unc = value_scores(batch, SelectionConfig(**(only | {"weight_uncertainty": 1.0})))
    assert unc == pytest.approx([0.25, 1.0])
    learned = [ex("k", "alpha beta")]
    nov = value_scores(batch, SelectionConfig(**(only | {"weight_novelty": 1.0})), learned)
    assert nov == pytest.approx([0.0, 1.0])
    assert novelty([ex("k", "alpha gamma")], learned) == pytest.approx([1 - 1 / 3])


WORDS = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), max_size=5)


@settings(max_examples=60, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=8), st.lists(WORDS, max_size=8))
def test_novelty_equals_the_plain_jaccard_reference(
    batch: list[list[str]], learned: list[list[str]]
) -> None:
    examples = [ex("k", " ".join(w)) for w in batch]
    refs = [ex("k", " ".join(w)) for w in learned]

    def jaccard(a: set[str], b: set[str]) -> float:
        return len(a & b) / len(a | b) if a | b else 0.0

    expected = [
        1.0 - max((jaccard(set(w), set(r)) for r in learned), default=0.0) if learned else 1.0
        for w in batch
    ]
    assert novelty(examples, refs) == pytest.approx(expected)


def test_select_prefers_high_value_and_never_repeats() -> None:
    cfg = SelectionConfig(weight_uncertainty=0.0, weight_novelty=0.0, seed=3)
    bad = [ex("k", f"bad {i}", reward=0.0) for i in range(20)]
    good = [ex("k", f"good {i}", reward=1.0) for i in range(180)]
    chosen = select(good + bad, 20, cfg)
    assert len({e.id for e in chosen}) == 20
    # The 20 zero-reward examples hold nearly all the mass: most of the pick comes from them.
    assert sum(e.reward == 0.0 for e in chosen) >= 17
    everything = select(bad[:3] + good[:2], 10, cfg)
    assert [e.reward for e in everything] == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_replay_batches_mix_every_key_at_the_ratio(store: Store) -> None:
    mem = ReplayMemory(store, "default", capacity_per_key=100, replay_ratio=0.5, seed=1)
    mem.add([ex("a", f"a{i}") for i in range(40)] + [ex("b", f"b{i}") for i in range(40)])
    new, replay = mem.batch(80)
    assert len(new) == 80
    assert replay == []
    mem.add([ex("c", f"c{i}") for i in range(30)])
    new, replay = mem.batch(40)
    assert len(new) == 20
    assert {e.learning_key for e in new} == {"c"}
    assert len(replay) == 20
    counts = Counter(e.learning_key for e in replay)
    assert {"a", "b"} <= set(counts) <= {"a", "b", "c"}
    assert min(counts["a"], counts["b"]) >= 5  # spread over the keys, none forgotten


def test_replay_memory_survives_a_reopen(db_url: str) -> None:
    with open_store(db_url) as store:
        mem = ReplayMemory(store, "default", capacity_per_key=10, replay_ratio=0.5, seed=1)
        first = [ex("a", f"a{i}") for i in range(6)]
        mem.add(first)
        handed, _ = mem.batch(3)
    with open_store(db_url) as store:
        mem = ReplayMemory(store, "default", capacity_per_key=10, replay_ratio=0.5, seed=1)
        new, replay = mem.batch(4)
        assert {e.id for e in new} == {e.id for e in first[3:5]}
        assert {e.id for e in replay} <= {e.id for e in handed}
        assert len(mem.examples) == 6


def test_example_memory_keeps_the_last_n_per_key_and_deletes_the_rest(store: Store) -> None:
    mem = ExampleMemory(store, "default", "t", capacity_per_key=3)
    a = [ex("a", f"a{i}") for i in range(5)]
    mem.add(a)
    mem.add([ex("b", "b0")])
    assert [e.id for e in mem.examples("a")] == [e.id for e in a[2:]]
    assert mem.keys() == ["a", "b"]
    assert len(mem) == 4
    assert len(store.kv_items("default", "loop.memory", "t/item/")) == 4
    with pytest.raises(InvalidArgumentError, match="capacity_per_key"):
        ExampleMemory(store, "default", "t", capacity_per_key=0)


def test_forgotten_examples_leave_replay_for_good(store: Store) -> None:
    mem = ReplayMemory(store, "default", capacity_per_key=50, replay_ratio=0.5, seed=2)
    good = mem.add([ex("a", f"good {i}") for i in range(20)])
    mem.batch(20)
    bad = mem.add([ex("a", f"bad {i}") for i in range(20)])
    assert mem.forget(bad) == 20
    assert mem.forget(good[:0]) == 0
    for _ in range(5):
        new, replay = mem.batch(10)
        assert new == []  # the forgotten new items are gone, not handed out
        assert all(e.input[0]["content"].startswith("good") for e in replay)
    assert len(mem.examples) == 20


def test_example_json_round_trip_and_bad_text() -> None:
    e = ex("k", "p", unc=0.3)
    assert Example.from_json(e.to_json()) == e
    with pytest.raises(InvalidArgumentError, match="not a serialised Example"):
        Example.from_json('{"id": "nope"}')

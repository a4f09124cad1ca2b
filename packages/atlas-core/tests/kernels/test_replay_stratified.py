"""StratifiedReplay against a pure-Python model of its batch composition."""

from __future__ import annotations

import math
import pickle
from collections import Counter, deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_core.errors import EmptyError, InvalidArgumentError, StateError
from atlas_core.kernels.replay import StratifiedReplay


class ReferenceStratified:
    """Per-key FIFO memories; an item is new until a batch hands it out."""

    def __init__(self, capacity: int, ratio: float) -> None:
        self.capacity, self.ratio = capacity, ratio
        self.memories: dict[int, deque[tuple[int, int]]] = {}  # key -> (arrival, id)
        self.new: dict[int, int] = {}  # key -> how many of its newest are new
        self.arrival = 0
        self.evicted = 0

    def add(self, ids: list[int], keys: list[int]) -> None:
        for item, key in zip(ids, keys, strict=True):
            memory = self.memories.setdefault(key, deque())
            self.new.setdefault(key, 0)
            if len(memory) == self.capacity:
                memory.popleft()
                self.evicted += 1
                self.new[key] = min(self.new[key], len(memory))
            memory.append((self.arrival, item))
            self.new[key] += 1
            self.arrival += 1

    def seen(self, key: int) -> list[int]:
        memory = self.memories[key]
        return [item for _, item in list(memory)[: len(memory) - self.new[key]]]

    def plan(self, batch: int) -> tuple[list[tuple[int, int]], int]:
        """The new items a batch must hold (oldest first) and its replay count."""
        pending = sorted(
            (arrival, item, key)
            for key, memory in self.memories.items()
            for arrival, item in list(memory)[len(memory) - self.new[key] :]
        )
        seen_total = sum(len(self.seen(k)) for k in self.memories)
        if seen_total == 0:
            n_new, n_replay = min(batch, len(pending)), 0
        else:
            n_new = min(batch - math.floor(batch * self.ratio + 0.5), len(pending))
            n_replay = batch - n_new
        chosen = pending[:n_new]
        for _, _, key in chosen:
            self.new[key] -= 1
        return [(item, key) for _, item, key in chosen], n_replay


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 5)), min_size=1, max_size=15),
        ),
        st.tuples(st.just("sample"), st.integers(0, 24)),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=120, deadline=None)
@given(
    capacity=st.integers(1, 6),
    ratio=st.sampled_from([0.0, 0.25, 0.5, 0.8, 1.0]),
    steps=steps,
    seed=st.integers(0, 2**32),
)
def test_batches_match_the_reference_plan(
    capacity: int, ratio: float, steps: list[tuple[str, object]], seed: int
) -> None:
    ours = StratifiedReplay(capacity, replay_ratio=ratio, seed=seed)
    ref = ReferenceStratified(capacity, ratio)
    for kind, arg in steps:
        if kind == "add":
            pairs: list[tuple[int, int]] = arg  # type: ignore[assignment]
            ids, keys = [i for i, _ in pairs], [k for _, k in pairs]
            ours.add(np.array(ids, dtype=np.uint64), keys)
            ref.add(ids, keys)
            continue
        batch: int = arg  # type: ignore[assignment]
        if not ref.memories or all(len(m) == 0 for m in ref.memories.values()):
            with pytest.raises(EmptyError):
                ours.sample(batch)
            continue
        seen_before = {k: ref.seen(k) for k in ref.memories}
        new_items, n_replay = ref.plan(batch)
        ids, keys, is_new = ours.sample(batch)
        assert ids.dtype == np.uint64
        assert keys.dtype == np.uint64
        assert is_new.dtype == np.bool_
        n_new = len(new_items)
        assert is_new.tolist() == [True] * n_new + [False] * n_replay
        assert list(zip(ids[:n_new].tolist(), keys[:n_new].tolist(), strict=True)) == new_items
        # Replay: drawn from the keys' handed-out items, spread evenly over those keys.
        replayable = [k for k, items in seen_before.items() if items]
        per_key = Counter(keys[n_new:].tolist())
        if n_replay:
            low, extra = divmod(n_replay, len(replayable))
            assert (
                sorted(per_key.values(), reverse=True)
                == sorted([low + 1] * extra + [low] * (len(replayable) - extra), reverse=True)[
                    : len(per_key)
                ]
            )
            assert set(per_key) <= set(replayable)
            if low > 0:
                assert set(per_key) == set(replayable)
        for item, key in zip(ids[n_new:].tolist(), keys[n_new:].tolist(), strict=True):
            assert item in seen_before[key]
    assert len(ours) == sum(len(m) for m in ref.memories.values())
    assert ours.new_count == sum(ref.new.values())
    assert ours.evicted == ref.evicted
    assert ours.keys().tolist() == list(ref.memories)
    assert ours.key_counts().tolist() == [len(m) for m in ref.memories.values()]


def test_every_key_appears_in_replay() -> None:
    replay = StratifiedReplay(100, replay_ratio=0.5, seed=4)
    # A skewed stream: key 0 has 1000 items, keys 1..19 one item each.
    replay.add(np.arange(1000, dtype=np.uint64), np.zeros(1000, dtype=np.uint64))
    replay.add(np.arange(1000, 1019, dtype=np.uint64), np.arange(1, 20, dtype=np.uint64))
    while replay.new_count:
        replay.sample(64)
    for _ in range(5):
        _, keys, is_new = replay.sample(64)
        assert not is_new.any()
        assert set(keys.tolist()) == set(range(20))  # 64 replay over 20 keys: >= 3 each
        counts = Counter(keys.tolist())
        assert max(counts.values()) - min(counts.values()) <= 1


def test_mix_ratio_and_memory_bound() -> None:
    replay = StratifiedReplay(8, replay_ratio=0.25, seed=1)
    replay.add(np.arange(16, dtype=np.uint64), [7] * 16)
    assert len(replay) == 8
    assert replay.evicted == 8
    assert replay.evicted_new == 8
    ids, _, is_new = replay.sample(4)
    assert ids.tolist() == [8, 9, 10, 11]
    assert is_new.all()
    replay.add([100, 101, 102, 103], [3, 3, 3, 3])
    ids, _keys, is_new = replay.sample(8)
    assert is_new.sum() == 6
    assert (~is_new).sum() == 2
    assert ids[:6].tolist() == [12, 13, 14, 15, 100, 101]


def test_restored_sampler_repeats_the_same_draws() -> None:
    replay = StratifiedReplay(30, replay_ratio=0.6, seed=11)
    ids = np.arange(500, dtype=np.uint64)
    replay.add(ids, ids % 7)
    replay.sample(40)
    clones = [StratifiedReplay.load_state(replay.save_state()), pickle.loads(pickle.dumps(replay))]
    for step in range(4):
        more = np.arange(1000 + 10 * step, 1010 + 10 * step, dtype=np.uint64)
        replay.add(more, more % 3)
        expected = replay.sample(32)
        for clone in clones:
            clone.add(more, more % 3)
            for a, b in zip(clone.sample(32), expected, strict=True):
                np.testing.assert_array_equal(a, b)


def test_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="`capacity_per_key`"):
        StratifiedReplay(0)
    with pytest.raises(InvalidArgumentError, match="`replay_ratio`"):
        StratifiedReplay(4, replay_ratio=1.5)
    with pytest.raises(InvalidArgumentError, match="`replay_ratio`"):
        StratifiedReplay(4, replay_ratio=float("nan"))
    replay = StratifiedReplay(4)
    with pytest.raises(EmptyError):
        replay.sample(3)
    with pytest.raises(InvalidArgumentError, match="`keys`"):
        replay.add([1, 2], [1])
    with pytest.raises(InvalidArgumentError, match="`keys`"):
        replay.add([1], [-1])
    with pytest.raises(InvalidArgumentError, match="`ids`"):
        replay.add(np.array([0.5]), [1])
    with pytest.raises(InvalidArgumentError, match="`batch`"):
        replay.sample(-1)
    with pytest.raises(StateError):
        StratifiedReplay.load_state(b"")
    assert len(replay) == 0  # the failed adds left nothing behind

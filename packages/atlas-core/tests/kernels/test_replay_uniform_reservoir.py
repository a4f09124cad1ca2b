"""UniformReplay and ReservoirSampler against pure-Python references, plus statistics."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from atlas_core.errors import EmptyError, InvalidArgumentError, StateError
from atlas_core.kernels.replay import ReservoirSampler, UniformReplay

batches = st.lists(st.lists(st.integers(0, 2**64 - 1), max_size=20), min_size=1, max_size=10)


@settings(max_examples=80, deadline=None)
@given(capacity=st.integers(1, 16), adds=batches, seed=st.integers(0, 1000))
def test_uniform_ring_matches_reference(capacity: int, adds: list[list[int]], seed: int) -> None:
    ours = UniformReplay(capacity, seed=seed)
    ring: list[int] = []
    position = 0
    for ids in adds:
        expected_slots = []
        for item in ids:
            if len(ring) < capacity:
                ring.append(item)
            else:
                ring[position] = item
            expected_slots.append(position)
            position = (position + 1) % capacity
        assert ours.add(np.array(ids, dtype=np.uint64)).tolist() == expected_slots
    assert ours.ids().tolist() == ring
    assert len(ours) == len(ring)
    if ring:
        slots, ids = ours.sample(50)
        assert ids.tolist() == [ring[s] for s in slots]
        assert all(0 <= s < len(ring) for s in slots)


def test_uniform_sampling_is_uniform() -> None:
    replay = UniformReplay(40, seed=5)
    replay.add(list(range(100)))  # keeps ids 60..99
    slots, ids = replay.sample(200_000)
    counts = np.bincount(slots, minlength=40)
    assert stats.chisquare(counts).pvalue > 1e-3
    assert set(ids.tolist()) == set(range(60, 100))


@settings(max_examples=80, deadline=None)
@given(capacity=st.integers(1, 12), adds=batches, seed=st.integers(0, 2**64 - 1))
def test_reservoir_size_and_membership(capacity: int, adds: list[list[int]], seed: int) -> None:
    reservoir = ReservoirSampler(capacity, seed=seed)
    stream: list[int] = []
    for ids in adds:
        before = reservoir.items().tolist()
        slots = reservoir.add(ids).tolist()
        assert len(slots) == len(ids)
        # Filling phase: slots in order; afterwards each id is either dropped (-1) or
        # placed in a valid slot.
        for k, slot in enumerate(slots):
            position = len(stream) + k
            if position < capacity:
                assert slot == position
            else:
                assert -1 <= slot < capacity
        stream.extend(ids)
        items = reservoir.items().tolist()
        assert len(items) == min(len(stream), capacity) == len(reservoir)
        assert reservoir.seen == len(stream)
        # Every kept id came from the stream, and ids not placed this batch stayed put.
        assert set(items) <= set(stream)
        placed = {s for s in slots if s >= 0}
        for slot, item in enumerate(before):
            if slot not in placed:
                assert items[slot] == item
    if stream:
        slots, ids = reservoir.sample(30)
        items = reservoir.items().tolist()
        assert ids.tolist() == [items[s] for s in slots]


def test_reservoir_keeps_a_uniform_sample() -> None:
    n, k, runs = 30, 6, 6000
    counts = np.zeros(n)
    for seed in range(runs):
        reservoir = ReservoirSampler(k, seed=seed)
        reservoir.add(np.arange(n, dtype=np.uint64))
        counts[reservoir.items()] += 1
    # Each item is kept with probability k / n.
    assert stats.chisquare(counts).pvalue > 1e-3
    biased = np.linspace(1.0, 2.0, n)
    assert stats.chisquare(counts, counts.sum() * biased / biased.sum()).pvalue < 1e-6


def test_reservoir_is_uniform_over_a_long_stream() -> None:
    # Algorithm L skips ahead; over a long stream in uneven batches, each tenth of the
    # stream must still be equally represented.
    n, k, runs = 20_000, 10, 400
    deciles = np.zeros(10)
    rng = np.random.default_rng(0)
    for seed in range(runs):
        reservoir = ReservoirSampler(k, seed=seed)
        start = 0
        while start < n:
            size = int(rng.integers(1, 3000))
            reservoir.add(np.arange(start, min(n, start + size), dtype=np.uint64))
            start += size
        deciles += np.bincount(reservoir.items() * 10 // n, minlength=10)
    assert stats.chisquare(deciles).pvalue > 1e-3


@pytest.mark.parametrize("cls", [UniformReplay, ReservoirSampler])
def test_restored_sampler_repeats_the_same_draws(cls: type) -> None:
    sampler = cls(50, seed=99)
    sampler.add(np.arange(120, dtype=np.uint64))
    sampler.sample(10)
    clones = [cls.load_state(sampler.save_state()), pickle.loads(pickle.dumps(sampler))]
    more = np.arange(120, 400, dtype=np.uint64)
    expected_add = sampler.add(more)
    expected = sampler.sample(64)
    for clone in clones:
        np.testing.assert_array_equal(clone.add(more), expected_add)
        for a, b in zip(clone.sample(64), expected, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cls", [UniformReplay, ReservoirSampler])
def test_errors(cls: type) -> None:
    with pytest.raises(EmptyError):
        cls(3).sample(1)
    with pytest.raises(InvalidArgumentError, match="`capacity`"):
        cls(0)
    with pytest.raises(InvalidArgumentError, match="`seed`"):
        cls(3, seed=2**64)
    sampler = cls(3)
    with pytest.raises(InvalidArgumentError, match="`ids`"):
        sampler.add(np.array([1.0, 2.0]))
    with pytest.raises(InvalidArgumentError, match="`ids`"):
        sampler.add([1, -2])
    with pytest.raises(InvalidArgumentError, match="`ids`"):
        sampler.add(np.array([True]))
    sampler.add(np.array([1, 2], dtype=np.int32))
    with pytest.raises(InvalidArgumentError, match="`batch`"):
        sampler.sample(-2)
    assert len(sampler.sample(0)[0]) == 0
    with pytest.raises(StateError):
        cls.load_state(b"ATLK\x01\x09")
    other = ReservoirSampler if cls is UniformReplay else UniformReplay
    with pytest.raises(StateError):
        cls.load_state(other(2).save_state())


def test_non_contiguous_and_list_inputs() -> None:
    replay = UniformReplay(10)
    strided = np.arange(20, dtype=np.uint64)[::2]
    replay.add(strided)
    replay.add([100, 101])
    assert replay.ids().tolist() == [100, 101, *range(4, 20, 2)]  # by slot

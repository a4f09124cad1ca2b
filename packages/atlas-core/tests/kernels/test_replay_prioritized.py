"""PrioritizedReplay against a short pure-Python reference, plus statistics and state."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from atlas_core.errors import EmptyError, InvalidArgumentError, StateError
from atlas_core.kernels.replay import PrioritizedReplay


class ReferencePER:
    """The PER contract in plain Python: a FIFO ring of ids with (p + eps)^alpha leaves."""

    def __init__(self, capacity: int, alpha: float, eps: float) -> None:
        self.capacity, self.alpha, self.eps = capacity, alpha, eps
        self.ids: list[int] = []
        self.leaves: list[float] = []
        self.next = 0
        self.max_priority = 1.0

    def add(self, ids: list[int]) -> list[int]:
        slots = []
        for item in ids:
            leaf = self.max_priority**self.alpha
            if len(self.ids) < self.capacity:
                self.ids.append(item)
                self.leaves.append(leaf)
            else:
                self.ids[self.next] = item
                self.leaves[self.next] = leaf
            slots.append(self.next)
            self.next = (self.next + 1) % self.capacity
        return slots

    def update(self, slots: list[int], priorities: list[float]) -> None:
        for slot, p in zip(slots, priorities, strict=True):
            self.leaves[slot] = (p + self.eps) ** self.alpha
            self.max_priority = max(self.max_priority, p + self.eps)

    def probabilities(self) -> list[float]:
        total = sum(self.leaves)
        return [leaf / total for leaf in self.leaves]

    def weights(self, beta: float) -> list[float]:
        n = len(self.leaves)
        probs = self.probabilities()
        raw = [(n * p) ** -beta for p in probs]
        top = max(raw)
        return [w / top for w in raw]


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 12)),
        st.tuples(
            st.just("update"),
            st.lists(
                st.tuples(st.integers(0, 10**6), st.floats(0.0, 1e3, allow_nan=False)),
                min_size=1,
                max_size=12,
            ),
        ),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=80, deadline=None)
@given(
    capacity=st.integers(1, 40),
    alpha=st.sampled_from([0.0, 0.5, 0.6, 1.0, 1.7]),
    beta=st.sampled_from([0.0, 0.4, 1.0]),
    eps=st.sampled_from([1e-6, 0.01]),
    ops=operations,
    seed=st.integers(0, 2**64 - 1),
)
def test_matches_reference(
    capacity: int,
    alpha: float,
    beta: float,
    eps: float,
    ops: list[tuple[str, object]],
    seed: int,
) -> None:
    ours = PrioritizedReplay(capacity, alpha=alpha, beta=beta, eps=eps, seed=seed)
    ref = ReferencePER(capacity, alpha, eps)
    next_id = 0
    for kind, arg in ops:
        if kind == "add":
            ids = list(range(next_id, next_id + int(arg)))  # type: ignore[call-overload]
            next_id += len(ids)
            assert ours.add(np.array(ids, dtype=np.uint64)).tolist() == ref.add(ids)
        elif ref.ids:
            pairs = [(s % len(ref.ids), p) for s, p in arg]  # type: ignore[attr-defined]
            slots, prios = [s for s, _ in pairs], [p for _, p in pairs]
            ours.update_priorities(np.array(slots), np.array(prios))
            ref.update(slots, prios)
    if not ref.ids:
        return
    assert len(ours) == len(ref.ids)
    assert ours.ids().tolist() == ref.ids
    assert ours.total_priority == pytest.approx(sum(ref.leaves), rel=1e-12)
    assert ours.min_priority == pytest.approx(min(ref.leaves), rel=1e-12)
    assert ours.max_priority == pytest.approx(ref.max_priority, rel=1e-15)
    every = np.arange(len(ref.ids))
    np.testing.assert_allclose(ours.probabilities(every), ref.probabilities(), rtol=1e-12)

    batch = 16
    slots, ids, weights = ours.sample(batch)
    assert slots.dtype == np.int64
    assert ids.dtype == np.uint64
    assert weights.dtype == np.float64
    assert ids.tolist() == [ref.ids[s] for s in slots]
    expected_w = ref.weights(beta)
    np.testing.assert_allclose(weights, [expected_w[s] for s in slots], rtol=1e-9)
    # Stratified: draw k falls in the k-th of `batch` equal segments of the mass.
    cumulative = np.concatenate([[0.0], np.cumsum(ref.leaves)])
    total = cumulative[-1]
    for k, s in enumerate(slots):
        assert cumulative[s] <= (k + 1) * total / batch * (1 + 1e-9)
        assert cumulative[s + 1] >= k * total / batch * (1 - 1e-9)


def test_sampling_frequencies_follow_p_alpha() -> None:
    rng = np.random.default_rng(1)
    priorities = rng.uniform(0.05, 5.0, size=30)
    alpha = 0.6
    replay = PrioritizedReplay(30, alpha=alpha, eps=0.0, seed=7)
    replay.add(np.arange(30, dtype=np.uint64))
    replay.update_priorities(np.arange(30), priorities)
    counts = np.zeros(30)
    for _ in range(2000):
        slots, _, _ = replay.sample(64)
        counts += np.bincount(slots, minlength=30)
    expected_p = priorities**alpha / np.sum(priorities**alpha)
    assert stats.chisquare(counts, counts.sum() * expected_p).pvalue > 1e-3
    # The test has power: the same counts refute alpha = 1 and uniform sampling.
    wrong_p = priorities / priorities.sum()
    assert stats.chisquare(counts, counts.sum() * wrong_p).pvalue < 1e-6
    assert stats.chisquare(counts).pvalue < 1e-6


def test_weights_equal_the_formula() -> None:
    priorities = np.array([0.1, 0.5, 1.0, 2.0, 4.0, 8.0, 0.01, 3.0])
    alpha, beta, eps = 0.7, 0.5, 1e-6
    replay = PrioritizedReplay(8, alpha=alpha, beta=beta, eps=eps, seed=3)
    replay.add(np.arange(8, dtype=np.uint64))
    replay.update_priorities(np.arange(8), priorities)
    n = 8
    probs = (priorities + eps) ** alpha / np.sum((priorities + eps) ** alpha)
    max_w = np.max((n * probs) ** -beta)
    for b in (beta, 0.0, 1.0, 0.3):
        slots, _, weights = replay.sample(256, beta=b)
        expected = (n * probs[slots]) ** -b / np.max((n * probs) ** -b)
        np.testing.assert_allclose(weights, expected, rtol=1e-12)
    slots, _, weights = replay.sample(64)
    np.testing.assert_allclose(weights, (n * probs[slots]) ** -beta / max_w, rtol=1e-12)
    assert np.all(weights <= 1.0)
    assert replay.probabilities([6])[0] == pytest.approx(probs[6], rel=1e-12)


def test_new_items_enter_at_max_priority_seen() -> None:
    replay = PrioritizedReplay(10, alpha=1.0, eps=0.0)
    replay.add([1, 2])
    assert replay.total_priority == 2.0  # 1.0 each initially
    replay.update_priorities([0], [5.0])
    assert replay.max_priority == 5.0
    replay.add([3])
    np.testing.assert_allclose(replay.probabilities([0, 1, 2]), [5 / 11, 1 / 11, 5 / 11])
    replay.update_priorities([0], [0.5])
    assert replay.max_priority == 5.0  # the max seen, not the current max
    assert replay.min_priority == 0.5


def test_fifo_overwrite_when_full() -> None:
    replay = PrioritizedReplay(3, seed=0)
    assert replay.add([10, 11, 12, 13]).tolist() == [0, 1, 2, 0]
    assert replay.ids().tolist() == [13, 11, 12]
    assert len(replay) == 3
    assert replay.capacity == 3


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda r: r.update_priorities([0, 1], [1.0, float("nan")]), "priorities"),
        (lambda r: r.update_priorities([0, 1], [1.0, -0.5]), "priorities"),
        (lambda r: r.update_priorities([0, 1], [float("inf"), 1.0]), "priorities"),
        (lambda r: r.update_priorities([0, 9], [1.0, 1.0]), "slots"),
        (lambda r: r.update_priorities([0, -1], [1.0, 1.0]), "slots"),
        (lambda r: r.update_priorities(np.array([0, -1]), [1.0, 1.0]), "slots"),
        (lambda r: r.update_priorities(np.array([0, 5]), np.ones(2)), "slots"),
        (lambda r: r.update_priorities([0], [1.0, 2.0]), "priorities"),
        (lambda r: r.update_priorities(np.zeros(2), [1.0, 2.0]), "slots"),
        (lambda r: r.update_priorities([0], ["x"]), "priorities"),
        (lambda r: r.probabilities([5]), "slots"),
        (lambda r: r.add(np.array([1.5])), "ids"),
        (lambda r: r.add([-3]), "ids"),
        (lambda r: r.add(np.zeros((2, 2), dtype=np.uint64)), "ids"),
        (lambda r: r.add("abc"), "ids"),
        (lambda r: r.sample(-1), "batch"),
        (lambda r: r.sample(4, beta=float("nan")), "beta"),
        (lambda r: r.sample(4, beta=-1.0), "beta"),
    ],
)
def test_bad_input_raises_invalid_argument_naming_it(call: object, name: str) -> None:
    replay = PrioritizedReplay(5, eps=0.0, seed=0)
    replay.add([1, 2])
    before = replay.total_priority
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        call(replay)  # type: ignore[operator]
    assert replay.total_priority == before  # nothing partly applied


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": -4}, "capacity"),
        ({"capacity": 4, "alpha": float("nan")}, "alpha"),
        ({"capacity": 4, "alpha": -0.1}, "alpha"),
        ({"capacity": 4, "beta": float("inf")}, "beta"),
        ({"capacity": 4, "eps": -1e-3}, "eps"),
        ({"capacity": 4, "seed": -1}, "seed"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        PrioritizedReplay(**kwargs)  # type: ignore[arg-type]


def test_zero_priority_needs_eps() -> None:
    replay = PrioritizedReplay(4, eps=0.0)
    replay.add([1])
    with pytest.raises(InvalidArgumentError, match="`priorities`"):
        replay.update_priorities([0], [0.0])
    with_eps = PrioritizedReplay(4, eps=1e-3)
    with_eps.add([1, 2])
    with_eps.update_priorities([0], [0.0])
    assert with_eps.min_priority == pytest.approx(1e-3**0.6)


def test_empty_sampler_raises_empty_error() -> None:
    replay = PrioritizedReplay(4)
    with pytest.raises(EmptyError):
        replay.sample(2)
    assert replay.min_priority is None
    assert replay.total_priority == 0.0


def test_restored_sampler_repeats_the_same_draws() -> None:
    rng = np.random.default_rng(0)
    replay = PrioritizedReplay(5000, alpha=0.6, beta=0.4, seed=123)
    replay.add(np.arange(7000, dtype=np.uint64))
    for _ in range(5):
        slots, _, _ = replay.sample(128)
        replay.update_priorities(slots, rng.random(128) * 3)
    clones = [
        PrioritizedReplay.load_state(replay.save_state()),
        pickle.loads(pickle.dumps(replay)),
        copy.deepcopy(replay),
    ]
    priorities = rng.random(128)
    for _ in range(5):
        expected = replay.sample(128, beta=0.7)
        replay.update_priorities(expected[0], priorities)
        for clone in clones:
            got = clone.sample(128, beta=0.7)
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_array_equal(a, b)
            clone.update_priorities(got[0], priorities)
    assert clones[0].total_priority == replay.total_priority


def test_bad_state_raises_state_error() -> None:
    with pytest.raises(StateError):
        PrioritizedReplay.load_state(b"not a state at all")
    from atlas_core.kernels.replay import UniformReplay

    with pytest.raises(StateError):
        PrioritizedReplay.load_state(UniformReplay(3).save_state())
    state = PrioritizedReplay(3).save_state()
    with pytest.raises(StateError):
        PrioritizedReplay.load_state(state[:-3])


def test_shared_between_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    replay = PrioritizedReplay(10_000, seed=0)
    replay.add(np.arange(10_000, dtype=np.uint64))

    def learner(seed: int) -> int:
        rng = np.random.default_rng(seed)
        for _ in range(200):
            slots, _, weights = replay.sample(64)
            assert np.all((weights > 0) & (weights <= 1))
            replay.update_priorities(slots, rng.random(64) + 0.01)
        return seed

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(learner, range(4))) == [0, 1, 2, 3]
    total = replay.probabilities(np.arange(10_000)).sum()
    assert total == pytest.approx(1.0, rel=1e-9)


def test_every_slot_and_priority_layout_gives_the_same_tree() -> None:
    """int64 (what ``sample`` returns), uint64, int32, strided arrays and lists agree."""
    slots = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], dtype=np.int64)
    priorities = np.linspace(0.1, 7.0, 24)[::2]  # strided float64
    layouts = [
        (slots, priorities),
        (slots.astype(np.uint64), priorities.copy()),
        (slots.astype(np.int32), priorities.copy()),
        (np.repeat(slots, 2)[::2], list(priorities)),
        (list(slots), priorities.copy()),
    ]
    totals = []
    for s, p in layouts:
        replay = PrioritizedReplay(16, alpha=0.6, eps=1e-6, seed=1)
        replay.add(np.arange(12, dtype=np.uint64))
        replay.update_priorities(s, p)
        totals.append((replay.total_priority, replay.max_priority))
    assert all(t == totals[0] for t in totals), totals

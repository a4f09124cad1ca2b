"""Replay samplers against cpprb, TorchRL and NumPy, side by side in one run.

Hot paths (one ``benchmark.group`` each), all at 1,000,000 stored items, batches of 256,
alpha 0.6, beta 0.4:

- prioritized sample: Atlas ``PrioritizedReplay.sample`` vs cpprb's
  ``PrioritizedReplayBuffer.sample``, TorchRL's ``PrioritizedReplayBuffer`` over a
  ``LazyTensorStorage`` and NumPy's ``rng.choice(n, 256, p=p)`` (weights not included);
- prioritized update: ``update_priorities`` of the 256 slots just drawn;
- prioritized cycle: one learner step, sample then update what was drawn (this is the
  number that counts: it includes any work an implementation defers from the update to
  the next sample, as Atlas does with the tree's ancestors);
- uniform sample: Atlas ``UniformReplay.sample`` vs cpprb's ``ReplayBuffer.sample`` and
  NumPy ``rng.integers`` plus a gather.

Run with timing: ``uv run pytest benchmarks/bench_replay.py --benchmark-enable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from cpprb import PrioritizedReplayBuffer as CpprbPER
from cpprb import ReplayBuffer as CpprbReplay
from torchrl.data import LazyTensorStorage
from torchrl.data import PrioritizedReplayBuffer as TorchrlPER

from atlas_core.kernels.replay import PrioritizedReplay, UniformReplay

N = 1_000_000
BATCH = 256
ALPHA, BETA = 0.6, 0.4
SAMPLE = "replay: prioritized sample 256 of 1M"
UPDATE = "replay: prioritized update 256 of 1M"
CYCLE = "replay: prioritized sample+update 256 of 1M"
UNIFORM = "replay: uniform sample 256 of 1M"


@dataclass
class Buffers:
    """The same 1M items and priorities in every implementation."""

    priorities: np.ndarray[Any, np.dtype[np.float64]]
    new_priorities: np.ndarray[Any, np.dtype[np.float64]]
    atlas: PrioritizedReplay
    cpprb: CpprbPER
    torchrl: TorchrlPER
    atlas_priorities: np.ndarray[Any, np.dtype[np.float64]]
    """What Atlas's priorities should be now (updated wherever a benchmark changes them)."""

    def atlas_probabilities(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        scaled = self.atlas_priorities**ALPHA
        return scaled / scaled.sum()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def buffers() -> Buffers:
    rng = np.random.default_rng(0)
    priorities = rng.uniform(0.01, 10.0, N)
    ids = np.arange(N, dtype=np.uint64)
    atlas = PrioritizedReplay(N, alpha=ALPHA, beta=BETA, eps=0.0, seed=0)
    atlas.add(ids)
    atlas.update_priorities(ids, priorities)
    cpprb = CpprbPER(N, {"id": {"dtype": np.uint64}}, alpha=ALPHA, eps=0.0)
    cpprb.add(id=ids, priorities=priorities)
    torchrl = TorchrlPER(
        alpha=ALPHA, beta=BETA, storage=LazyTensorStorage(N), batch_size=BATCH, eps=1e-8
    )
    torchrl.extend(torch.arange(N))
    torchrl.update_priority(torch.arange(N), torch.from_numpy(priorities).float())
    return Buffers(
        priorities=priorities,
        new_priorities=rng.uniform(0.01, 10.0, BATCH),
        atlas=atlas,
        cpprb=cpprb,
        torchrl=torchrl,
        atlas_priorities=priorities.copy(),
    )


def _check_atlas_sample(b: Buffers) -> np.ndarray[Any, np.dtype[np.int64]]:
    slots, ids, weights = b.atlas.sample(BATCH)
    assert np.all(np.diff(slots) >= 0)
    assert np.array_equal(ids, slots.astype(np.uint64))
    p = b.atlas_probabilities()
    expected = (N * p[slots]) ** -BETA / np.max((N * p) ** -BETA)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    return slots


def _spiked_slot_dominates(sample: Any, update: Any, slot: int, restore: float) -> None:
    """After raising one item's priority to a huge value, the next batch is mostly it."""
    update(np.array([slot]), np.array([1e15]))
    drawn = np.asarray(sample())
    update(np.array([slot]), np.array([restore]))
    assert np.mean(drawn == slot) > 0.9


# --- prioritized sample -----------------------------------------------------------------


def bench_prioritized_sample_atlas(benchmark: Any, buffers: Buffers) -> None:
    _check_atlas_sample(buffers)
    benchmark.group = SAMPLE
    benchmark.extra_info.update(impl="atlas", items=BATCH, targets={"cpprb": 2.0, "torchrl": 10.0})
    benchmark(buffers.atlas.sample, BATCH)


def bench_prioritized_sample_cpprb(benchmark: Any, buffers: Buffers) -> None:
    drawn = buffers.cpprb.sample(BATCH, beta=BETA)
    assert np.array_equal(drawn["id"].ravel(), drawn["indexes"])
    assert np.all((drawn["weights"] > 0) & (drawn["weights"] <= 1.0 + 1e-6))
    benchmark.group = SAMPLE
    benchmark.extra_info.update(impl="cpprb", items=BATCH)
    benchmark(buffers.cpprb.sample, BATCH, beta=BETA)


def bench_prioritized_sample_torchrl(benchmark: Any, buffers: Buffers) -> None:
    data, info = buffers.torchrl.sample(return_info=True)
    assert torch.equal(data, torch.as_tensor(info["index"]))
    benchmark.group = SAMPLE
    benchmark.extra_info.update(impl="torchrl", items=BATCH)
    benchmark(buffers.torchrl.sample, return_info=True)


def bench_prioritized_sample_numpy(benchmark: Any, buffers: Buffers) -> None:
    rng = np.random.default_rng(0)
    probabilities = (buffers.priorities**ALPHA) / np.sum(buffers.priorities**ALPHA)
    drawn = rng.choice(N, BATCH, p=probabilities)
    assert drawn.shape == (BATCH,)
    assert drawn.max() < N
    benchmark.group = SAMPLE
    benchmark.extra_info.update(impl="numpy", items=BATCH)
    benchmark(rng.choice, N, BATCH, p=probabilities)


# --- prioritized update -----------------------------------------------------------------


def bench_prioritized_update_atlas(benchmark: Any, buffers: Buffers) -> None:
    slots = _check_atlas_sample(buffers)
    new = buffers.new_priorities
    buffers.atlas.update_priorities(slots, new)
    buffers.atlas_priorities[slots] = new
    expected = buffers.atlas_probabilities()[slots]
    np.testing.assert_allclose(buffers.atlas.probabilities(slots), expected, rtol=1e-9)
    benchmark.group = UPDATE
    benchmark.extra_info.update(impl="atlas", items=BATCH, targets={"cpprb": 2.0, "torchrl": 10.0})
    benchmark(buffers.atlas.update_priorities, slots, new)


def bench_prioritized_update_cpprb(benchmark: Any, buffers: Buffers) -> None:
    cpprb = buffers.cpprb
    _spiked_slot_dominates(
        lambda: cpprb.sample(BATCH, beta=BETA)["indexes"],
        cpprb.update_priorities,
        12345,
        buffers.priorities[12345],
    )
    slots = cpprb.sample(BATCH, beta=BETA)["indexes"]
    benchmark.group = UPDATE
    benchmark.extra_info.update(impl="cpprb", items=BATCH)
    benchmark(cpprb.update_priorities, slots, buffers.new_priorities)


def bench_prioritized_update_torchrl(benchmark: Any, buffers: Buffers) -> None:
    trl = buffers.torchrl

    def update(slots: Any, priorities: Any) -> None:
        trl.update_priority(torch.as_tensor(slots), torch.as_tensor(priorities).float())

    _spiked_slot_dominates(
        lambda: trl.sample(return_info=True)[1]["index"], update, 777, buffers.priorities[777]
    )
    slots = torch.as_tensor(trl.sample(return_info=True)[1]["index"])
    new = torch.from_numpy(buffers.new_priorities).float()
    benchmark.group = UPDATE
    benchmark.extra_info.update(impl="torchrl", items=BATCH)
    benchmark(trl.update_priority, slots, new)


# --- one learner step: sample, then update what was drawn -------------------------------


def bench_prioritized_cycle_atlas(benchmark: Any, buffers: Buffers) -> None:
    _check_atlas_sample(buffers)
    atlas, new = buffers.atlas, buffers.new_priorities

    def step() -> None:
        slots, _, _ = atlas.sample(BATCH)
        atlas.update_priorities(slots, new)

    benchmark.group = CYCLE
    benchmark.extra_info.update(impl="atlas", items=BATCH, targets={"cpprb": 2.0, "torchrl": 10.0})
    benchmark(step)


def bench_prioritized_cycle_cpprb(benchmark: Any, buffers: Buffers) -> None:
    cpprb, new = buffers.cpprb, buffers.new_priorities

    def step() -> None:
        cpprb.update_priorities(cpprb.sample(BATCH, beta=BETA)["indexes"], new)

    step()
    benchmark.group = CYCLE
    benchmark.extra_info.update(impl="cpprb", items=BATCH)
    benchmark(step)


def bench_prioritized_cycle_torchrl(benchmark: Any, buffers: Buffers) -> None:
    trl = buffers.torchrl
    new = torch.from_numpy(buffers.new_priorities).float()

    def step() -> None:
        _, info = trl.sample(return_info=True)
        trl.update_priority(torch.as_tensor(info["index"]), new)

    step()
    benchmark.group = CYCLE
    benchmark.extra_info.update(impl="torchrl", items=BATCH)
    benchmark(step)


# --- uniform sample ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def uniform_ids() -> np.ndarray[Any, np.dtype[np.uint64]]:
    return np.arange(N, dtype=np.uint64) * 3


def bench_uniform_sample_atlas(benchmark: Any, uniform_ids: Any) -> None:
    replay = UniformReplay(N, seed=0)
    replay.add(uniform_ids)
    slots, ids = replay.sample(BATCH)
    assert np.array_equal(ids, uniform_ids[slots])
    benchmark.group = UNIFORM
    benchmark.extra_info.update(impl="atlas", items=BATCH)
    benchmark(replay.sample, BATCH)


def bench_uniform_sample_cpprb(benchmark: Any, uniform_ids: Any) -> None:
    rb = CpprbReplay(N, {"id": {"dtype": np.uint64}})
    rb.add(id=uniform_ids)
    assert np.isin(rb.sample(BATCH)["id"].ravel(), uniform_ids).all()
    benchmark.group = UNIFORM
    benchmark.extra_info.update(impl="cpprb", items=BATCH)
    benchmark(rb.sample, BATCH)


def bench_uniform_sample_numpy(benchmark: Any, uniform_ids: Any) -> None:
    rng = np.random.default_rng(0)

    def sample() -> tuple[Any, Any]:
        slots = rng.integers(0, N, BATCH)
        return slots, uniform_ids[slots]

    slots, ids = sample()
    assert np.array_equal(ids, uniform_ids[slots])
    benchmark.group = UNIFORM
    benchmark.extra_info.update(impl="numpy", items=BATCH)
    benchmark(sample)

"""Replay samplers: what a learner trains on, drawn from what was recorded.

The samplers are native (Rust, ``atlas_core._native``); this module re-exports them with
their contracts. Every sampler stores ``uint64`` item ids (the caller maps ids to data),
takes NumPy arrays or int sequences, returns NumPy arrays (never per-item Python
objects), releases the GIL for batch calls, is seeded, and saves its whole state,
generator included: ``save_state() -> bytes`` and ``Class.load_state(bytes)``, also
used by ``pickle`` and ``copy``. A restored sampler continues with exactly the same
draws. Instances may be shared between threads; calls are serialised.

- :class:`UniformReplay` ``(capacity, seed=0)``: a ring of ``capacity`` slots (the
  oldest id is overwritten when full), sampled uniformly with replacement.
  ``add(ids) -> slots``, ``sample(batch) -> (slots, ids)``.
- :class:`PrioritizedReplay` ``(capacity, alpha=0.6, beta=0.4, eps=1e-6, seed=0)``:
  proportional prioritized replay (PER) on the same ring. Priority ``p`` is stored as
  ``(p + eps) ** alpha`` and drawn with probability ``P(i) = leaf_i / sum(leaf)``; one
  draw per equal segment of the total mass (slots come back ascending). Importance
  weights ``w_i = (N P(i)) ** -beta / max_j (N P(j)) ** -beta``, the max over all stored
  items. New items enter at the largest ``p + eps`` seen so far (1.0 initially).
  ``add(ids) -> slots``, ``sample(batch, beta=None) -> (slots, ids, weights)``,
  ``update_priorities(slots, priorities)`` (all or nothing; NaN, infinite or negative
  priorities and slots that hold no item raise :class:`~atlas_core.errors.InvalidArgumentError`),
  ``probabilities(slots)``, ``total_priority`` (sum of leaves), ``min_priority`` (min leaf,
  ``None`` when empty), ``max_priority`` (largest ``p + eps`` seen).
- :class:`ReservoirSampler` ``(capacity, seed=0)``: a uniform random sample of at most
  ``capacity`` of all ids ever offered (Algorithm L). ``add(ids) -> slots`` (``-1`` for
  ids not kept), ``sample(batch) -> (slots, ids)``, ``items()``, ``seen``.
- :class:`StratifiedReplay` ``(capacity_per_key, replay_ratio=0.5, seed=0)``: per-key
  FIFO memories of at most ``capacity_per_key`` items (a full key evicts its oldest,
  counted in ``evicted`` / ``evicted_new``). ``add(ids, keys)``; ``sample(batch) ->
  (ids, keys, is_new)``: ``batch - floor(batch * replay_ratio + 0.5)`` items never
  handed out before (oldest first across keys), the rest replay of already handed-out items spread
  evenly over every key (uniform within a key), so no key is forgotten. With too few
  new items replay fills the batch; before anything was handed out a batch is all new
  and may be short.

Sampling from an empty sampler raises :class:`~atlas_core.errors.EmptyError`; a state
that cannot be decoded raises :class:`~atlas_core.errors.StateError`.
"""

from __future__ import annotations

from atlas_core._native import (
    PrioritizedReplay,
    ReservoirSampler,
    StratifiedReplay,
    UniformReplay,
)

__all__ = [
    "PrioritizedReplay",
    "ReservoirSampler",
    "StratifiedReplay",
    "UniformReplay",
]

"""Interaction ids drawn from the demo's seed, so a seed replays the same run.

The loop splits examples into training and held-out by a hash of their id
(:func:`atlas_core.loop.engine.is_held_out`). Ids minted by the SDK carry the clock and
random bits, so each run would hold out different examples and take different decisions
from the same traffic. The demo mints its own (the SDK takes a caller's id) in the UUIDv7
layout: a counter where the milliseconds go, so they stay strictly increasing in the order
recorded, and random bits from the seed.
"""

from __future__ import annotations

import random
import uuid

__all__ = ["SeededIds"]

EPOCH_MS = 1_767_225_600_000
"""2026-01-01T00:00:00Z: where the counter starts (any fixed time would do)."""


class SeededIds:
    """Strictly increasing UUIDv7-shaped ids, the same sequence for the same ``seed``."""

    def __init__(self, seed: int | str) -> None:
        self._rng = random.Random(seed)
        self._count = 0

    def next(self) -> uuid.UUID:
        """The next id."""
        ms = EPOCH_MS + self._count
        self._count += 1
        rand_a = self._rng.getrandbits(12)
        rand_b = self._rng.getrandbits(62)
        value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
        return uuid.UUID(int=value)

"""Time for the loop, injectable so tests and simulations never sleep.

Every component of :mod:`atlas_core.loop` that reasons about time (the scheduler's
intervals, the rollout's step start, the active-learning budget) takes a :class:`Clock`.
"""

from __future__ import annotations

import time
from typing import Protocol

from atlas_core.errors import InvalidArgumentError

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """A source of Unix time in seconds."""

    def now(self) -> float:
        """The current Unix time in seconds."""
        ...


class SystemClock:
    """The wall clock (``time.time``)."""

    def now(self) -> float:
        """The current Unix time in seconds."""
        return time.time()


class ManualClock:
    """A clock that moves only when told to: for tests and simulated traffic."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._t = float(start)

    def now(self) -> float:
        """The time it was last set or advanced to."""
        return self._t

    def advance(self, seconds: float) -> float:
        """Moves time forward by ``seconds`` (>= 0) and returns the new time."""
        if not seconds >= 0:
            raise InvalidArgumentError(f"seconds: must be >= 0, got {seconds}")
        self._t += seconds
        return self._t

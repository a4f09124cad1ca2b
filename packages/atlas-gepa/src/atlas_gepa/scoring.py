"""How a candidate's answer to one example is scored: a reward model, or the gold answer.

:class:`RewardModelScorer` asks any :class:`~atlas_core.rewards.RewardModel` (RIM in
production) to score the answer as a fresh interaction, with the example's gold answer as the
reference; the judges' rationale goes to the reflection model. :class:`GoldScorer` is the
verifiable score where gold labels exist: 1 when the answer matches, else 0. A scorer that
fails scores the batch 0 with the error as the rationale: one broken judge call must not
stop an optimization.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from atlas_core.errors import InvalidArgumentError
from atlas_core.rewards import RewardCase, RewardModel
from atlas_core.types import Interaction
from atlas_gepa.data import GepaExample

__all__ = ["GoldScorer", "RewardModelScorer", "Scored", "Scorer", "normalise"]


@dataclass(frozen=True)
class Scored:
    """The score of one answer and why."""

    score: float
    """In [0, 1]; higher is better."""
    rationale: str = ""
    components: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Scorer(Protocol):
    """Scores answers: one :class:`Scored` per (example, answered interaction), in order."""

    name: str

    async def score(self, items: Sequence[tuple[GepaExample, Interaction]]) -> list[Scored]:
        """Scores of the interactions' outputs as answers to the examples' tasks."""
        ...


_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower case, outer punctuation stripped, whitespace collapsed."""
    return _SPACE.sub(" ", text.strip().strip(".!?\"'`").strip().lower())


class GoldScorer:
    """1.0 when the answer matches the example's gold answer (``exact`` after
    :func:`normalise`, or the gold answer ``contains``-ed in the answer); else 0.0. An example
    without a gold answer scores 0 with a rationale saying so."""

    def __init__(self, match: Literal["exact", "contains"] = "exact") -> None:
        if match not in ("exact", "contains"):
            raise InvalidArgumentError(
                f"invalid argument `match`: exact or contains, got {match!r}"
            )
        self.match = match
        self.name = f"gold-{match}"

    async def score(self, items: Sequence[tuple[GepaExample, Interaction]]) -> list[Scored]:
        """See the class docstring."""
        return [self._one(example, interaction.output) for example, interaction in items]

    def _one(self, example: GepaExample, answer: str) -> Scored:
        if example.reference is None:
            return Scored(0.0, "no gold answer for this example")
        gold, got = normalise(example.reference), normalise(answer)
        ok = gold == got if self.match == "exact" else gold in got
        if ok:
            return Scored(1.0, "matches the gold answer", {"gold": 1.0})
        return Scored(0.0, f"expected {example.reference!r}, got {answer[:200]!r}", {"gold": 0.0})


class RewardModelScorer:
    """Scores with a :class:`RewardModel`; the gold answer, when known, is the reference."""

    def __init__(self, model: RewardModel) -> None:
        if not isinstance(model, RewardModel):
            raise InvalidArgumentError(f"invalid argument `model`: not a RewardModel: {model!r}")
        self.model = model
        self.name = model.name

    async def score(self, items: Sequence[tuple[GepaExample, Interaction]]) -> list[Scored]:
        """One reward per item; a reward model error scores every item 0 with the error."""
        if not items:
            return []
        cases = [RewardCase(interaction, (), example.reference) for example, interaction in items]
        try:
            rewards = await self.model.score(cases)
        except Exception as exc:  # a failed judge call is a failing score, not a crash
            reason = f"reward model {self.name} failed: {type(exc).__name__}: {exc}"
            return [Scored(0.0, reason) for _ in items]
        if len(rewards) != len(items):
            reason = f"reward model {self.name} returned {len(rewards)} rewards for {len(items)}"
            return [Scored(0.0, reason) for _ in items]
        return [Scored(r.score, r.rationale or "", dict(r.components)) for r in rewards]

"""GRPO reward from any reward model that ranks a group of answers (RIM's group ranking).

The reward model is anything with the shape of ``atlas_core.rewards.RewardModel``'s
ranking half: ``name`` and ``async rank(prompt_messages, responses, *, reference=None)``
returning one score in [0, 1] per response. One ``rank`` call per GRPO group, so the
judges see the whole group at once, as GRPO's group-relative advantage does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from atlas_core.errors import AtlasError
from atlas_grpo.rewards.text import as_messages, as_text

__all__ = ["GroupRanker", "GroupRankingReward", "RewardModelError", "consecutive_groups"]


class RewardModelError(AtlasError):
    """A reward model answered something a reward cannot be made of (wrong count, out of range)."""


@runtime_checkable
class GroupRanker(Protocol):
    """The part of the RewardModel protocol GRPO needs."""

    name: str

    async def rank(
        self,
        prompt_messages: list[dict[str, Any]],
        responses: list[str],
        *,
        reference: str | None = None,
    ) -> list[float]:
        """One score in [0, 1] per response, judged together."""
        ...


def consecutive_groups(prompts: Sequence[Any]) -> list[range]:
    """Index ranges of consecutive equal prompts: TRL lays out each group contiguously."""
    groups: list[range] = []
    start = 0
    for i in range(1, len(prompts) + 1):
        if i == len(prompts) or prompts[i] != prompts[start]:
            groups.append(range(start, i))
            start = i
    return groups


class GroupRankingReward:
    """Async TRL reward function: each group of completions ranked in one reward-model call."""

    def __init__(
        self, model: GroupRanker, *, max_concurrency: int = 8, name: str | None = None
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.model = model
        self.max_concurrency = max_concurrency
        self.__name__ = name or f"rank_{model.name}"
        self.calls = 0
        """rank() calls made so far (one per group)."""

    async def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        reference: Sequence[str | None] | None = None,
        **_: Any,
    ) -> list[float]:
        """One reward per completion, in order."""
        limit = asyncio.Semaphore(self.max_concurrency)
        groups = consecutive_groups(prompts)

        async def rank_group(group: range) -> list[float]:
            responses = [as_text(completions[i]) for i in group]
            ref = reference[group.start] if reference is not None else None
            async with limit:
                self.calls += 1
                scores = await self.model.rank(
                    as_messages(prompts[group.start]), responses, reference=ref
                )
            return self._checked(list(scores), len(responses))

        ranked = await asyncio.gather(*(rank_group(g) for g in groups))
        return [score for group_scores in ranked for score in group_scores]

    def _checked(self, scores: list[float], expected: int) -> list[float]:
        if len(scores) != expected:
            raise RewardModelError(
                f"reward model {self.model.name!r} ranked {expected} responses "
                f"but returned {len(scores)} scores"
            )
        for s in scores:
            if not 0.0 <= float(s) <= 1.0:
                raise RewardModelError(
                    f"reward model {self.model.name!r} returned score {s!r} outside [0, 1]"
                )
        return [float(s) for s in scores]

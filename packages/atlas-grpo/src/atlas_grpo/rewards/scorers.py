"""Scorers for the adaptive-teaching reward: how good is a student's answer, in [0, 1]."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from atlas_grpo.rewards.ranking import GroupRanker, RewardModelError
from atlas_grpo.rewards.teaching import Scorer
from atlas_grpo.rewards.text import as_messages
from atlas_grpo.rewards.verifiable import MatchMode, match_score
from atlas_grpo.sync import run_sync

__all__ = ["reference_scorer", "reward_model_scorer", "run_sync"]


def reference_scorer(match: MatchMode = "normalized") -> Scorer:
    """Scores answers against the reference; a prompt without a reference is an error."""

    def score(
        prompts: Sequence[str], answers: Sequence[str], references: Sequence[str | None]
    ) -> list[float]:
        out = []
        for prompt, answer, ref in zip(prompts, answers, references, strict=True):
            if ref is None:
                raise ValueError(
                    f"teaching scorer 'verifiable' needs a reference for prompt {prompt[:60]!r}"
                )
            out.append(match_score(answer, ref, match))
        return out

    return score


def reward_model_scorer(model: GroupRanker, *, max_concurrency: int = 8) -> Scorer:
    """Scores each answer with the reward model (one rank call per answer, run concurrently)."""

    def score(
        prompts: Sequence[str], answers: Sequence[str], references: Sequence[str | None]
    ) -> list[float]:
        async def all_scores() -> list[float]:
            limit = asyncio.Semaphore(max_concurrency)

            async def one(prompt: str, answer: str, ref: str | None) -> float:
                async with limit:
                    scores = await model.rank(as_messages(prompt), [answer], reference=ref)
                if len(scores) != 1 or not 0.0 <= float(scores[0]) <= 1.0:
                    raise RewardModelError(
                        f"reward model {model.name!r} gave {scores!r} for one response"
                    )
                return float(scores[0])

            return list(
                await asyncio.gather(
                    *(one(p, a, r) for p, a, r in zip(prompts, answers, references, strict=True))
                )
            )

        return run_sync(all_scores())

    return score

"""Scorers for the adaptive-teaching reward: how good is a student's answer, in [0, 1]."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from atlas_grpo.rewards.ranking import GroupRanker, RewardModelError
from atlas_grpo.rewards.teaching import Scorer
from atlas_grpo.rewards.text import as_messages
from atlas_grpo.rewards.verifiable import MatchMode, match_score

__all__ = ["reference_scorer", "reward_model_scorer", "run_sync"]

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine to completion from synchronous code, even inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # A loop runs in this thread (a notebook, an async caller): run on a fresh one beside it.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="atlas-grpo-run-sync")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


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

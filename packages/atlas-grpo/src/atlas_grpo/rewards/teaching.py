"""The adaptive-teaching reward: guidance is worth what it changes in a frozen student.

For each teacher completion (guidance) the frozen student answers the prompt twice,
without and with it; a scorer rates both answers in [0, 1] and the change is
``delta = guided - baseline``. The reward is

    reward = delta                          if delta >= 0
           = degradation_penalty * delta    if delta <  0     (harm costs more when > 1)
           + efficiency_weight * max(0, 1 - len(guidance) / length_budget)
             when the guided answer succeeds (score >= success_threshold) and delta >= 0

so helping earns the gain, harming is penalised by a tunable factor, and when the
student ends up right, shorter guidance earns more (including "say little when the
student already knows"). The student's answer without guidance depends only on the
prompt, so it is computed once per prompt and reference and cached; repeated guidance
for the same prompt within a batch is run once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from atlas_grpo.data import render_text_prompt
from atlas_grpo.rewards.text import as_messages, as_text

__all__ = ["AdaptiveTeachingReward", "Scorer", "Student", "TeachingOutcome"]


class Student(Protocol):
    """A frozen student: answers prompts, each with optional guidance, in one batch."""

    def __call__(self, prompts: Sequence[str], guidance: Sequence[str | None]) -> list[str]:
        """One answer per prompt; ``guidance[i]`` None means the student works alone."""
        ...


Scorer = Callable[[Sequence[str], Sequence[str], Sequence[str | None]], list[float]]
"""(prompts, answers, references) -> one score in [0, 1] per answer."""


@dataclass(frozen=True)
class TeachingOutcome:
    """What one batch of guidance did to the student."""

    rewards: list[float]
    baseline: list[float]
    guided: list[float]

    @property
    def improvement_rate(self) -> float:
        """Share of guidance after which the student scored higher."""
        return _share(g > b for g, b in zip(self.guided, self.baseline, strict=True))

    @property
    def degradation_rate(self) -> float:
        """Share of guidance after which the student scored lower."""
        return _share(g < b for g, b in zip(self.guided, self.baseline, strict=True))

    @property
    def mean_delta(self) -> float:
        """Mean score change caused by the guidance."""
        deltas = [g - b for g, b in zip(self.guided, self.baseline, strict=True)]
        return sum(deltas) / len(deltas) if deltas else 0.0


def _share(flags: Any) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


class AdaptiveTeachingReward:
    """TRL reward function for training a teacher; see the module docstring for the formula."""

    def __init__(
        self,
        student: Student,
        scorer: Scorer,
        *,
        degradation_penalty: float = 1.0,
        efficiency_weight: float = 0.1,
        length_budget: int = 64,
        success_threshold: float = 0.999,
        name: str = "teaching",
    ) -> None:
        if degradation_penalty < 0 or efficiency_weight < 0:
            raise ValueError("degradation_penalty and efficiency_weight must be non-negative")
        if length_budget < 1:
            raise ValueError("length_budget must be at least 1")
        self.student = student
        self.scorer = scorer
        self.degradation_penalty = degradation_penalty
        self.efficiency_weight = efficiency_weight
        self.length_budget = length_budget
        self.success_threshold = success_threshold
        self.__name__ = name
        self._baseline: dict[tuple[str, str | None], float] = {}
        self.last: TeachingOutcome | None = None
        """The outcome of the latest batch (for inspection and logging)."""

    def reward(self, delta: float, guided: float, guidance: str) -> float:
        """The reward of one piece of guidance given its score change and the guided score."""
        value = delta if delta >= 0 else self.degradation_penalty * delta
        if delta >= 0 and guided >= self.success_threshold:
            brevity = max(0.0, 1.0 - len(guidance) / self.length_budget)
            value += self.efficiency_weight * brevity
        return value

    def score(
        self,
        prompts: Sequence[str],
        guidance: Sequence[str],
        references: Sequence[str | None],
    ) -> TeachingOutcome:
        """Runs the student without (cached) and with the guidance and scores the change."""
        keys = list(zip(prompts, references, strict=True))
        missing = list(dict.fromkeys(k for k in keys if k not in self._baseline))
        if missing:
            alone = self.student([p for p, _ in missing], [None] * len(missing))
            scores = self.scorer([p for p, _ in missing], alone, [r for _, r in missing])
            self._baseline.update(zip(missing, scores, strict=True))
        baseline = [self._baseline[k] for k in keys]
        # Identical guidance for the same prompt (common once a group converges) is run once.
        triples = list(zip(prompts, guidance, references, strict=True))
        unique = list(dict.fromkeys(triples))
        answers = self.student([p for p, _, _ in unique], [g for _, g, _ in unique])
        scores = self.scorer([p for p, _, _ in unique], answers, [r for _, _, r in unique])
        by_triple = dict(zip(unique, scores, strict=True))
        guided = [by_triple[t] for t in triples]
        rewards = [
            self.reward(g - b, g, text)
            for g, b, text in zip(guided, baseline, guidance, strict=True)
        ]
        return TeachingOutcome(rewards=rewards, baseline=baseline, guided=list(guided))

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        reference: Sequence[str | None] | None = None,
        log_metric: Callable[[str, float], None] | None = None,
        **_: Any,
    ) -> list[float]:
        """One reward per completion; logs improvement and degradation rates through TRL."""
        texts = [render_text_prompt(as_messages(p)) for p in prompts]
        refs: list[str | None] = list(reference) if reference is not None else [None] * len(texts)
        outcome = self.score(texts, [as_text(c) for c in completions], refs)
        self.last = outcome
        if log_metric is not None:
            log_metric(f"{self.__name__}/improvement_rate", outcome.improvement_rate)
            log_metric(f"{self.__name__}/degradation_rate", outcome.degradation_rate)
            log_metric(f"{self.__name__}/mean_delta", outcome.mean_delta)
        return outcome.rewards

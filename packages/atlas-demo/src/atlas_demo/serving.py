"""Answering with a stored model version, and the gate's evaluator.

A model version's ``artifact_uri`` is a directory the ``sft`` learner saved; it is loaded
once per process (:func:`atlas_grpo.learner.load_artifact`). :class:`VerifierEvaluator`
scores a version the way a test suite would: each example's prompt is answered by the
version and compared with the true answer of the skill (both skills are verifiable), so
the gate never trusts the users' 'corrections'.
"""

from __future__ import annotations

from collections.abc import Sequence

from atlas_core.loop import Example, prompt_text
from atlas_core.types import Version
from atlas_demo.world import truth
from atlas_grpo.learner import greedy_answers, load_artifact

__all__ = ["VerifierEvaluator", "accuracy", "answer"]


def answer(version: Version, prompts: Sequence[str]) -> list[str]:
    """``version``'s greedy answers to ``prompts``."""
    model, tokenizer = load_artifact(version.artifact_uri)
    return greedy_answers(model, tokenizer, prompts)


def accuracy(version: Version, prompts: Sequence[str]) -> float:
    """Share of ``prompts`` that ``version`` answers exactly right."""
    if not prompts:
        return 0.0
    got = answer(version, prompts)
    return sum(a == truth(p) for a, p in zip(got, prompts, strict=True)) / len(prompts)


class VerifierEvaluator:
    """An :class:`atlas_core.loop.Evaluator`: 1.0 for an exactly right answer, else 0.0."""

    def score(self, version: Version | None, examples: Sequence[Example]) -> Sequence[float]:
        """Scores of ``version`` (None: no model, every answer wrong) on ``examples``."""
        if version is None:
            return [0.0] * len(examples)
        prompts = [prompt_text(e) for e in examples]
        got = answer(version, prompts)
        return [float(a == truth(p)) for a, p in zip(got, prompts, strict=True)]

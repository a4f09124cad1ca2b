"""Verifiable rewards: an answer compared with the reference (a gold label or a user's edit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from atlas_grpo.rewards.text import as_text

__all__ = ["MatchMode", "VerifiableReward", "match_score"]

MatchMode = Literal["exact", "normalized", "contains", "char_overlap"]


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def match_score(answer: str, reference: str, mode: MatchMode) -> float:
    """How well ``answer`` matches ``reference`` in [0, 1].

    exact / normalized (case and whitespace folded) / contains give 0 or 1;
    char_overlap is the share of positions that agree over the longer of the two
    (after stripping), so a partly right answer earns partial credit.
    """
    if mode == "exact":
        return float(answer == reference)
    if mode == "normalized":
        return float(_fold(answer) == _fold(reference))
    if mode == "contains":
        return float(_fold(reference) in _fold(answer))
    if mode == "char_overlap":
        a, r = answer.strip(), reference.strip()
        longest = max(len(a), len(r))
        if longest == 0:
            return 1.0
        return sum(x == y for x, y in zip(a, r, strict=False)) / longest
    raise ValueError(f"match: unknown mode {mode!r}")


class VerifiableReward:
    """TRL reward function: ``match_score`` of each completion against its row's ``reference``.

    A row without a reference scores None (NaN to TRL), so it does not count as a failure;
    TRL ignores it when other reward functions score the row.
    """

    def __init__(self, match: MatchMode = "normalized", name: str = "verifiable") -> None:
        self.match: MatchMode = match
        self.__name__ = name

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        reference: Sequence[str | None] | None = None,
        **_: Any,
    ) -> list[float | None]:
        """One reward per completion."""
        if reference is None:
            raise ValueError(
                f"reward {self.__name__!r} needs a 'reference' column in the dataset "
                "(a gold label or an edit)"
            )
        return [
            None if ref is None else match_score(as_text(c), ref, self.match)
            for c, ref in zip(completions, reference, strict=True)
        ]

"""How the ensemble's numbers are combined and checked: means, spread, consistency rules.

Pure functions over score vectors (one score per judged response), used by
:mod:`atlas_rim.judges.ensemble`; the rules themselves are stated in its docstring.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

from atlas_rim.config import ConsistencyRule, JudgeConfig

if TYPE_CHECKING:
    from atlas_rim.judges.ensemble import Sample

__all__ = [
    "apply_vetoes",
    "judge_means",
    "rationale",
    "score_std",
    "spread",
    "violates",
    "weighted",
]


def judge_means(
    judges: Sequence[JudgeConfig], samples: Sequence[Sample]
) -> dict[str, tuple[float, ...]]:
    """Each judge's mean score vector over its parsed samples (judges with none absent)."""
    out = {}
    for judge in judges:
        mine = [s.verdict.scores for s in samples if s.judge == judge.name and s.verdict]
        if mine:
            out[judge.name] = tuple(statistics.fmean(col) for col in zip(*mine, strict=True))
    return out


def weighted(
    judges: Sequence[JudgeConfig], judge_scores: dict[str, tuple[float, ...]]
) -> tuple[float, ...] | None:
    """The weight-averaged vector of the judges present, or None when none is."""
    present = [(j.weight, judge_scores[j.name]) for j in judges if j.name in judge_scores]
    if not present:
        return None
    total = sum(w for w, _ in present)
    return tuple(sum(w * s[i] for w, s in present) / total for i in range(len(present[0][1])))


def spread(vectors: Sequence[tuple[float, ...]]) -> float:
    """The largest max - min of one response's scores across ``vectors``."""
    return float(max(max(col) - min(col) for col in zip(*vectors, strict=True)))


def score_std(vectors: Sequence[tuple[float, ...]]) -> float:
    """The largest population standard deviation of one response's sample scores."""
    if len(vectors) < 2:
        return 0.0
    worst = 0.0
    for col in zip(*vectors, strict=True):
        mean = sum(col) / len(col)
        worst = max(worst, math.sqrt(sum((x - mean) ** 2 for x in col) / len(col)))
    return worst


def violates(rule: ConsistencyRule, judge_scores: dict[str, tuple[float, ...]]) -> bool:
    """Whether a ``max_gap`` / ``not_above`` rule is broken (unknown when a judge is silent)."""
    a, b = rule.judges
    if a not in judge_scores or b not in judge_scores:
        return False  # a rule about a judge that said nothing cannot be checked
    gaps = [x - y for x, y in zip(judge_scores[a], judge_scores[b], strict=True)]
    if rule.kind == "max_gap":
        return max(abs(g) for g in gaps) > rule.threshold
    return max(gaps) > rule.threshold  # not_above


def apply_vetoes(
    rules: Sequence[ConsistencyRule],
    judge_scores: dict[str, tuple[float, ...]],
    scores: tuple[float, ...],
) -> tuple[tuple[float, ...], list[str]]:
    """Scores capped by every triggered ``veto`` rule, and the names of those applied."""
    out, applied = list(scores), []
    for rule in rules:
        if rule.kind != "veto" or rule.judges[0] not in judge_scores:
            continue
        assert rule.cap is not None  # checked by the config
        hit = False
        for i, judge_score in enumerate(judge_scores[rule.judges[0]]):
            if judge_score < rule.threshold and out[i] > rule.cap:
                out[i], hit = rule.cap, True
        if hit:
            applied.append(f"veto:{rule.name}")
    return tuple(out), applied


def rationale(samples: Sequence[Sample]) -> str:
    """Each judge's first rationale, "name: text" joined by "; "."""
    seen: dict[str, str] = {}
    for s in samples:
        if s.verdict is not None and s.judge not in seen:
            seen[s.judge] = s.verdict.rationale
    if not seen:
        return "no judge gave a usable answer"
    return "; ".join(f"{judge}: {text}" for judge, text in seen.items())

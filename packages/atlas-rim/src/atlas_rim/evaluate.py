"""The evaluation harness behind ``atlas rim eval``: accuracy of RIM's judges on preferences.

- Best-of-N (RewardBench 2): the chosen and the rejected responses are put in an order drawn
  from ``random.Random(seed)`` and ranked together in one call per judge sample; a record is
  correct only if the chosen response scores strictly highest (a tie is wrong).
- Pairwise: each pair is ranked in both orders; accuracy is over orders. ``position_bias`` is
  the rate at which the first position wins among decided orders, minus 0.5 (0 = no bias;
  +0.5 = the first response always wins); ``order_consistency`` is the share of pairs whose
  winner is the same response in both orders.

Both report accuracy per subset, escalation rate, failures (no usable score), tokens and
latency per evaluation (p50, p95).
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from atlas_rim.eval_data import BestOfRecord, PairRecord
from atlas_rim.judges import Judgement
from atlas_rim.model import RimRewardModel

__all__ = ["CHUNK", "evaluate_best_of", "evaluate_pairwise"]

CHUNK = 256
"""Groups ranked concurrently per round (bounded further by the endpoint's concurrency)."""


@dataclass(frozen=True)
class _Outcome:
    subset: str
    correct: bool
    judgement: Judgement


async def evaluate_best_of(
    model: RimRewardModel, records: Sequence[BestOfRecord], *, seed: int = 0
) -> dict[str, Any]:
    """The JSON-ready report of a best-of-N evaluation (see the module docstring)."""
    rng = random.Random(seed)
    groups, positions = [], []
    for record in records:
        responses = [record.chosen, *record.rejected]
        order = list(range(len(responses)))
        rng.shuffle(order)
        groups.append((record.prompt, [responses[i] for i in order], None))
        positions.append(order.index(0))
    judgements = await _rank_in_chunks(model, groups)
    outcomes = [
        _Outcome(r.subset, _wins(j.scores, pos), j)
        for r, j, pos in zip(records, judgements, positions, strict=True)
    ]
    report = _report("rewardbench2", model, outcomes)
    report["seed"] = seed
    report["chosen_position_counts"] = {str(p): positions.count(p) for p in sorted(set(positions))}
    return report


async def evaluate_pairwise(model: RimRewardModel, records: Sequence[PairRecord]) -> dict[str, Any]:
    """The JSON-ready report of a pairwise evaluation, both orders per pair."""
    groups = []
    for r in records:
        groups.append((r.prompt, [r.chosen, r.rejected], None))
        groups.append((r.prompt, [r.rejected, r.chosen], None))
    judgements = await _rank_in_chunks(model, groups)
    outcomes, first_wins, decided, consistent = [], 0, 0, 0
    for i, record in enumerate(records):
        forward, backward = judgements[2 * i], judgements[2 * i + 1]
        outcomes.append(_Outcome(record.subset, _wins(forward.scores, 0), forward))
        outcomes.append(_Outcome(record.subset, _wins(backward.scores, 1), backward))
        winners = []
        for j, chosen_at in ((forward, 0), (backward, 1)):
            if j.scores is not None and j.scores[0] != j.scores[1]:
                decided += 1
                first_wins += j.scores[0] > j.scores[1]
                winners.append(_wins(j.scores, chosen_at))
        consistent += len(winners) == 2 and winners[0] == winners[1]
    report = _report("pairwise", model, outcomes)
    report["pairs"] = len(records)
    report["first_position_win_rate"] = first_wins / decided if decided else None
    report["position_bias"] = first_wins / decided - 0.5 if decided else None
    report["order_consistency"] = consistent / len(records) if records else None
    return report


async def _rank_in_chunks(model: RimRewardModel, groups: list[Any]) -> list[Judgement]:
    """All groups ranked, CHUNK at a time: each chunk's answers reach the cache (and the
    store) before the next starts, so an interrupted evaluation resumes from its cache."""
    out: list[Judgement] = []
    for start in range(0, len(groups), CHUNK):
        out += await model.rank_batch(groups[start : start + CHUNK])
    return out


def _wins(scores: tuple[float, ...] | None, position: int) -> bool:
    if scores is None:
        return False
    return all(scores[position] > s for i, s in enumerate(scores) if i != position)


def _report(layout: str, model: RimRewardModel, outcomes: list[_Outcome]) -> dict[str, Any]:
    by_subset: dict[str, list[bool]] = defaultdict(list)
    for o in outcomes:
        by_subset[o.subset].append(o.correct)
    judgements = [o.judgement for o in outcomes]
    latencies = np.array([j.latency_s for j in judgements]) if judgements else np.zeros(1)
    prompt_tokens = sum(j.prompt_tokens for j in judgements)
    completion_tokens = sum(j.completion_tokens for j in judgements)
    n = len(outcomes)
    return {
        "layout": layout,
        "reward_model": model.name,
        "evaluations": n,
        "accuracy": statistics.fmean(o.correct for o in outcomes) if n else None,
        "per_subset": {
            subset: {"n": len(v), "accuracy": statistics.fmean(v)}
            for subset, v in sorted(by_subset.items())
        },
        "escalation_rate": sum(j.escalated for j in judgements) / n if n else None,
        "escalation_reasons": _counts(r for j in judgements for r in j.reasons),
        "failures": sum(j.scores is None for j in judgements),
        "cache_hits": sum(j.cache_hits for j in judgements),
        "cost": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "tokens_per_evaluation": (prompt_tokens + completion_tokens) / n if n else None,
        },
        "latency_s": {
            "p50": float(np.percentile(latencies, 50)),
            "p95": float(np.percentile(latencies, 95)),
            "mean": float(latencies.mean()),
        },
    }


def _counts(items: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for item in items:
        out[item] += 1
    return dict(sorted(out.items()))

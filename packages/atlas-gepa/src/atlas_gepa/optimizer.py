"""One GEPA optimization: the ``gepa`` engine over Atlas data, budgets and a run directory.

:func:`run_gepa` hands the engine (Pareto candidate selection, reflective mutation, merge)
the :class:`~atlas_gepa.adapter.AtlasAdapter`, the train and validation sets and the stop
conditions: metric calls, tokens (agents + reflection), wall time, a target score and
patience. The run directory holds GEPA's checkpoint (``gepa_state.bin``, saved after every
iteration) and the data set as first drawn (``dataset.json``): a run started again on the
same directory resumes where it stopped, on the same examples, with the metric calls and
tokens already spent counted, not spent again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gepa.api import optimize
from gepa.core.adapter import GEPAAdapter
from gepa.core.result import GEPAResult
from gepa.core.state import GEPAState
from gepa.utils import NoImprovementStopper, ScoreThresholdStopper, TimeoutStopCondition

from atlas_core.errors import InvalidArgumentError
from atlas_gepa.adapter import AtlasAdapter
from atlas_gepa.config import BudgetConfig
from atlas_gepa.data import GepaExample, UserFeedback
from atlas_gepa.evaluation import Attempt
from atlas_gepa.reflection import ReflectionLM, reflection_prompts

__all__ = [
    "GepaRun",
    "StallStopper",
    "TokenBudgetStopper",
    "example_from_json",
    "load_or_save_dataset",
    "run_gepa",
]

log = logging.getLogger("atlas_gepa.engine")

DATASET_FILE = "dataset.json"
SUMMARY_FILE = "summary.json"


class TokenBudgetStopper:
    """Stops once the adapter's meter shows ``max_tokens`` spent (agents + reflection)."""

    def __init__(self, adapter: AtlasAdapter, max_tokens: int) -> None:
        self.adapter = adapter
        self.max_tokens = max_tokens

    def __call__(self, gepa_state: GEPAState[Any, Any]) -> bool:
        """Whether the token budget is spent."""
        return self.adapter.meter.tokens >= self.max_tokens


class StallStopper:
    """Stops after ``max_idle`` iterations in a row that spent no metric call (a dead
    reflection endpoint, or every proposal skipped): the budget alone would never end it."""

    def __init__(self, max_idle: int = 20) -> None:
        self.max_idle = max_idle
        self._last = -1
        self._idle = 0

    def __call__(self, gepa_state: GEPAState[Any, Any]) -> bool:
        """Whether the run has stalled."""
        spent = gepa_state.total_num_evals
        self._idle = self._idle + 1 if spent == self._last else 0
        self._last = spent
        return self._idle >= self.max_idle


class _EngineLog:
    """GEPA's progress lines, to the ``atlas_gepa.engine`` logger instead of stdout."""

    def log(self, message: str) -> None:
        log.info("%s", message)


@dataclass(frozen=True)
class GepaRun:
    """What an optimization found: every candidate, its validation scores, the frontier."""

    candidates: list[dict[str, str]]
    """Candidate texts by index; 0 is the seed (production)."""
    parents: list[list[int | None]]
    val_scores: list[float]
    """Mean validation score per candidate."""
    instance_scores: list[dict[str, float]]
    """Per candidate: validation example id -> score."""
    best: int
    frontier: list[int]
    """Candidates that are best on at least one validation example (GEPA's Pareto front)."""
    metric_calls: int
    tokens: int

    @property
    def initial_score(self) -> float:
        """The seed's validation mean."""
        return self.val_scores[0]

    @property
    def best_score(self) -> float:
        """The best candidate's validation mean."""
        return self.val_scores[self.best]

    @property
    def improvement(self) -> float:
        """Best minus initial validation mean."""
        return self.best_score - self.initial_score

    def changed_roles(self, index: int) -> dict[str, str]:
        """The texts of candidate ``index`` that differ from the seed's."""
        seed = self.candidates[0]
        return {k: v for k, v in self.candidates[index].items() if seed.get(k) != v}

    def summary(self) -> dict[str, Any]:
        """The run as JSON-ready figures (written to ``summary.json``)."""
        return {
            "initial_score": self.initial_score,
            "best_score": self.best_score,
            "improvement": self.improvement,
            "best_candidate": self.best,
            "metric_calls": self.metric_calls,
            "tokens": self.tokens,
            "candidates": len(self.candidates),
            "pareto_frontier": [
                {
                    "candidate": i,
                    "val_score": self.val_scores[i],
                    "parents": self.parents[i],
                    "changed": self.changed_roles(i),
                }
                for i in self.frontier
            ],
        }


def example_from_json(data: dict[str, Any]) -> GepaExample:
    """A :class:`GepaExample` from its ``dataclasses.asdict`` form."""
    data = dict(data)
    fb = data.pop("feedback", {}) or {}
    feedback = UserFeedback(**{k: tuple(v) for k, v in fb.items()})
    return GepaExample(**data, feedback=feedback)


def load_or_save_dataset(
    run_dir: Path, train: Sequence[GepaExample], val: Sequence[GepaExample]
) -> tuple[list[GepaExample], list[GepaExample]]:
    """The data set saved in ``run_dir`` (a resumed run), else ``train`` and ``val``, saved."""
    path = run_dir / DATASET_FILE
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        return (
            [example_from_json(d) for d in data["train"]],
            [example_from_json(d) for d in data["val"]],
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    blob = {
        "train": [dataclasses.asdict(e) for e in train],
        "val": [dataclasses.asdict(e) for e in val],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(blob), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a data set to resume from
    return list(train), list(val)


def run_gepa(
    adapter: AtlasAdapter,
    seed_candidate: dict[str, str],
    train: Sequence[GepaExample],
    val: Sequence[GepaExample],
    reflection_lm: ReflectionLM,
    budget: BudgetConfig,
    run_dir: Path,
    *,
    minibatch_size: int = 3,
    use_merge: bool = True,
    seed: int = 0,
    callbacks: Sequence[Any] = (),
) -> GepaRun:
    """Runs (or resumes) the optimization in ``run_dir``; writes and returns its summary."""
    if not seed_candidate:
        raise InvalidArgumentError("seed_candidate: at least one template role to optimize")
    run_dir.mkdir(parents=True, exist_ok=True)
    train, val = load_or_save_dataset(run_dir, train, val)
    if not train or not val:
        raise InvalidArgumentError("train and val: both need at least one example")
    # A perfect candidate cannot be beaten: stop there even without a target score.
    target = budget.target_score if budget.target_score is not None else 1.0
    stoppers: list[Any] = [ScoreThresholdStopper(target), StallStopper()]
    if budget.max_tokens is not None:
        stoppers.append(TokenBudgetStopper(adapter, budget.max_tokens))
    if budget.max_seconds is not None:
        stoppers.append(TimeoutStopCondition(budget.max_seconds))
    if budget.patience is not None:
        stoppers.append(NoImprovementStopper(budget.patience))
    engine_adapter: GEPAAdapter[GepaExample, Attempt, Attempt] = adapter
    result: GEPAResult[Attempt, int] = optimize(
        seed_candidate=dict(seed_candidate),
        trainset=list(train),
        valset=list(val),
        adapter=engine_adapter,
        reflection_lm=reflection_lm,
        reflection_prompt_template=reflection_prompts(list(seed_candidate)),  # type: ignore[arg-type]
        candidate_selection_strategy="pareto",
        reflection_minibatch_size=minibatch_size,
        module_selector="round_robin",
        use_merge=use_merge,
        max_metric_calls=budget.max_metric_calls,
        stop_callbacks=stoppers,
        logger=_EngineLog(),
        run_dir=str(run_dir),
        callbacks=list(callbacks) or None,
        seed=seed,
        raise_on_exception=False,  # a failed proposal is logged and skipped, never fatal
        display_progress_bar=False,
        track_best_outputs=False,
    )
    val_ids = [e.id for e in val]
    subscores = [
        {val_ids[int(i)]: float(s) for i, s in scores.items()} for scores in result.val_subscores
    ]
    frontier = sorted(
        {int(i) for ids in result.per_val_instance_best_candidates.values() for i in ids}
    )
    run = GepaRun(
        candidates=[dict(c) for c in result.candidates],
        parents=[[None if p is None else int(p) for p in ps] for ps in result.parents],
        val_scores=[float(s) for s in result.val_aggregate_scores],
        instance_scores=subscores,
        best=int(result.best_idx),
        frontier=frontier,
        metric_calls=int(result.total_metric_calls or 0),
        tokens=adapter.meter.tokens,
    )
    (run_dir / SUMMARY_FILE).write_text(json.dumps(run.summary(), indent=2), encoding="utf-8")
    return run

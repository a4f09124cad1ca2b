"""Online mode: GEPA over windows of fresh traffic, with an honest measure of the gain.

The scheduler hands :meth:`OnlineGepa.step` a window of new examples. The window is scored
*first*, by the production template and by the current champion (the best candidate found
on earlier windows), while neither has seen it: their difference is the reported gain, free
of the optimism of a score measured on the data a candidate was selected on. Only then does
the window join the example pool (bounded, newest kept) and a GEPA run, seeded with the
champion and bounded by the per-window budget, may find a better champion.

The champion and the pool live in the Store's key-value entries (namespace
:data:`NAMESPACE`), so online optimization survives a restart; :meth:`OnlineGepa.publish`
stores the champion as a candidate Version for the gate.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlas_core.config.models import RuntimeConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.llm import Endpoint
from atlas_core.loop.examples import Example
from atlas_core.runtime import Agent, Lane, Role, TemplateRegistry
from atlas_core.store import Store
from atlas_core.types import Version, VersionKind
from atlas_gepa.adapter import AtlasAdapter, SpendMeter
from atlas_gepa.cache import RunCache
from atlas_gepa.config import BudgetConfig
from atlas_gepa.data import GepaExample, from_examples, split, user_feedback
from atlas_gepa.evaluation import CandidateRunner, production_texts
from atlas_gepa.optimizer import example_from_json, run_gepa
from atlas_gepa.reflection import ReflectionLM
from atlas_gepa.scoring import Scorer
from atlas_gepa.versions import template_version

__all__ = ["NAMESPACE", "OnlineGepa", "WindowReport"]

NAMESPACE = "gepa.online"


@dataclass(frozen=True)
class WindowReport:
    """What one window showed and what was learned from it."""

    window: int
    """1, 2, ... in the order windows were handed over."""
    examples: int
    production_score: float
    """The production template's mean on the window, before anything learned from it."""
    champion_score: float
    """The champion's mean on the same unseen window."""
    optimized: bool
    """Whether a GEPA run followed (the pool had enough examples)."""
    new_champion: bool
    """Whether that run found a better champion."""
    champion_val_score: float | None = None
    """The champion's score on the run's validation split (in-sample: for tracking only)."""
    metric_calls: int = 0

    @property
    def gain(self) -> float:
        """Champion minus production on the unseen window: the honest gain."""
        return self.champion_score - self.production_score


class OnlineGepa:
    """Windowed GEPA for one template ``role`` of one tenant (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        student: Agent,
        scorer: Scorer,
        reflection: Endpoint,
        run_root: Path | str,
        tenant: str = "default",
        role: Role | str = Role.STUDENT,
        teacher: Agent | None = None,
        runtime_config: RuntimeConfig | None = None,
        lane: Lane | str | None = None,
        budget_per_window: BudgetConfig | None = None,
        pool_size: int = 200,
        val_fraction: float = 0.3,
        concurrency: int = 16,
        timeout_s: float = 120.0,
        minibatch_size: int = 3,
        use_merge: bool = True,
        seed: int = 0,
    ) -> None:
        if pool_size < 2:
            raise InvalidArgumentError(f"invalid argument `pool_size`: >= 2, got {pool_size}")
        self.store = store
        self.tenant = tenant
        self.role = Role(role)
        self.student = student
        self.teacher = teacher
        self.scorer = scorer
        self.reflection = reflection
        self.run_root = Path(run_root)
        self.runtime_config = runtime_config or RuntimeConfig()
        self.lane = Lane(lane) if lane is not None else None
        self.budget = budget_per_window or BudgetConfig(max_metric_calls=100)
        self.pool_size = pool_size
        self.val_fraction = val_fraction
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.minibatch_size = minibatch_size
        self.use_merge = use_merge
        self.seed = seed
        self._key = f"{self.runtime_config.template_family}.{self.role.value}"

    # -- persisted state --------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        raw = self.store.kv_get(self.tenant, NAMESPACE, [self._key]).get(self._key)
        return (
            json.loads(raw) if raw else {"champion": None, "windows": 0, "pool": [], "reports": []}
        )

    def _save(self, state: dict[str, Any]) -> None:
        self.store.kv_put(self.tenant, NAMESPACE, {self._key: json.dumps(state)})

    @property
    def champion(self) -> str | None:
        """The best template text found so far (None: none beat production yet)."""
        found: str | None = self._state()["champion"]
        return found

    def reports(self) -> list[WindowReport]:
        """Every window's report, oldest first."""
        return [WindowReport(**r) for r in self._state()["reports"]]

    # -- one window -------------------------------------------------------------------------
    def step(self, window: Sequence[Example]) -> WindowReport:
        """Scores ``window`` (production vs champion, unseen), then learns from it."""
        keys = sorted({e.learning_key for e in window})
        data = from_examples(window, user_feedback(self.store, self.tenant, keys))
        if not data:
            raise InvalidArgumentError("window: no example with a task to evaluate")
        state = self._state()
        number = int(state["windows"]) + 1
        family = self.runtime_config.template_family
        runner = CandidateRunner(
            self.student,
            self.teacher,
            self.scorer,
            base=production_texts(self.store, self.tenant, family),
            tenant=self.tenant,
            runtime_config=self.runtime_config,
            lane=self.lane,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            scratch_dir=self.run_root / f"window-{number:05d}" / "scratch",
        )
        try:
            production = runner.base[self.role]
            champion = state["champion"] or production
            prod_score = _mean(runner.evaluate(data, {self.role.value: production}))
            champ_score = (
                prod_score
                if champion == production
                else _mean(runner.evaluate(data, {self.role.value: champion}))
            )
            pool = [example_from_json(dict(e)) for e in state["pool"]] + data
            pool = pool[-self.pool_size :]
            report = WindowReport(number, len(data), prod_score, champ_score, False, False)
            if len(pool) >= 2:
                report, champion = self._optimize(runner, pool, champion, number, report)
        finally:
            runner.close()
        state.update(
            champion=champion if champion != production else None,
            windows=number,
            pool=[dataclasses.asdict(e) for e in pool],
            reports=[*state["reports"], dataclasses.asdict(report)],
        )
        self._save(state)
        return report

    def _optimize(
        self,
        runner: CandidateRunner,
        pool: list[GepaExample],
        champion: str,
        number: int,
        report: WindowReport,
    ) -> tuple[WindowReport, str]:
        train, val = split(pool, self.val_fraction, self.seed)
        run_dir = self.run_root / f"window-{number:05d}"
        meter = SpendMeter()
        cache = RunCache(run_dir / "cache.jsonl")
        reflection = ReflectionLM(self.reflection, meter, cache=cache)
        try:
            run = run_gepa(
                AtlasAdapter(runner, meter, cache),
                {self.role.value: champion},
                train,
                val,
                reflection,
                self.budget,
                run_dir,
                minibatch_size=self.minibatch_size,
                use_merge=self.use_merge,
                seed=self.seed,
            )
        finally:
            reflection.close()
        better = run.best != 0 and run.improvement > 0
        if better:
            champion = run.candidates[run.best][self.role.value]
        report = dataclasses.replace(
            report,
            optimized=True,
            new_champion=better,
            champion_val_score=run.best_score,
            metric_calls=run.metric_calls,
        )
        return report, champion

    def publish(self) -> Version | None:
        """Stores the champion as a candidate Version (None when there is none, or it is
        already stored as the latest version of the role)."""
        champion = self.champion
        if champion is None:
            return None
        family = self.runtime_config.template_family
        registry = TemplateRegistry(self.store, self.tenant, family)
        name = registry.name(self.role)
        versions = self.store.versions(self.tenant, VersionKind.PROMPT, name)
        if versions and registry.load_version(self.role, versions[-1]).text == champion:
            return None
        parent = self.store.resolve_alias(self.tenant, VersionKind.PROMPT, name, "production")
        reports = self.reports()
        last = reports[-1]
        return template_version(
            self.store,
            self.tenant,
            family,
            self.role,
            champion,
            parent_id=parent.id if parent is not None else None,
            metrics={
                "gepa.online.windows": float(len(reports)),
                "gepa.online.production_score": last.production_score,
                "gepa.online.champion_score": last.champion_score,
                "gepa.online.gain": last.gain,
            },
        )


def _mean(attempts: Sequence[Any]) -> float:
    return sum(a.score for a in attempts) / len(attempts) if attempts else 0.0

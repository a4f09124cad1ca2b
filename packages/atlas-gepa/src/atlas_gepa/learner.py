"""The ``gepa`` learner of the learning loop, and the evaluator its gate scores prompts with.

:class:`GepaLearner` implements core's ``Learner`` protocol for one template role: the
loop's :class:`~atlas_core.loop.LearningTask` (new and replay examples, the production
version) becomes a GEPA run seeded with the production template; the best candidate that
beats it on the run's validation split comes back as a candidate prompt Version (never
deployed: the loop gates it). Run the loop with ``kind=prompt`` and
``name=TemplateRegistry(store, tenant, family).name(role)``: the candidate is then the very
template the runtime serves once the rollout moves ``production`` to it.

:class:`TemplateEvaluator` is the gate's ``Evaluator`` for such versions: it serves the
version's text through the runtime on the gate's examples and scores the answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atlas_core.config.models import RuntimeConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.llm import Endpoint
from atlas_core.loop.examples import Example
from atlas_core.loop.learner import LearnerResult, LearningTask
from atlas_core.runtime import Agent, Lane, Role
from atlas_core.store import Store
from atlas_core.types import Version
from atlas_gepa.adapter import AtlasAdapter, SpendMeter
from atlas_gepa.cache import RunCache
from atlas_gepa.config import BudgetConfig
from atlas_gepa.data import from_examples, split, user_feedback
from atlas_gepa.evaluation import CandidateRunner, production_texts
from atlas_gepa.optimizer import run_gepa
from atlas_gepa.reflection import ReflectionLM
from atlas_gepa.scoring import Scorer
from atlas_gepa.versions import template_version, version_text

__all__ = ["GepaLearner", "TemplateEvaluator"]


class GepaLearner:
    """GEPA over the loop's examples for one template ``role`` (see the module docstring).

    ``run_root``: each task gets a run directory under it, named by a hash of its examples
    and base version, so a learn interrupted by a crash resumes on the next identical task.
    """

    name = "gepa"

    def __init__(
        self,
        *,
        student: Agent,
        scorer: Scorer,
        reflection: Endpoint,
        run_root: Path | str,
        role: Role | str = Role.STUDENT,
        teacher: Agent | None = None,
        runtime_config: RuntimeConfig | None = None,
        lane: Lane | str | None = None,
        budget: BudgetConfig | None = None,
        concurrency: int = 16,
        timeout_s: float = 120.0,
        val_fraction: float = 0.3,
        minibatch_size: int = 3,
        use_merge: bool = True,
        seed: int = 0,
    ) -> None:
        try:
            self.role = Role(role)
            self.lane = Lane(lane) if lane is not None else None
        except ValueError as exc:
            raise InvalidArgumentError(f"gepa learner: {exc}") from None
        self.student = student
        self.teacher = teacher
        self.scorer = scorer
        self.reflection = reflection
        self.run_root = Path(run_root)
        self.runtime_config = runtime_config or RuntimeConfig()
        self.budget = budget or BudgetConfig()
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.val_fraction = val_fraction
        self.minibatch_size = minibatch_size
        self.use_merge = use_merge
        self.seed = seed

    @property
    def family(self) -> str:
        """The template family (``runtime_config.template_family``)."""
        return self.runtime_config.template_family

    def learn(self, task: LearningTask) -> LearnerResult:
        """A candidate Version of the role's template, or no change (see the class docstring)."""
        feedback = user_feedback(task.store, task.tenant, task.learning_keys)
        examples = from_examples(task.examples, feedback)
        if len(examples) < 2:
            return LearnerResult.no_change(f"{len(examples)} usable example(s); GEPA needs 2")
        train, val = split(examples, self.val_fraction, self.seed)
        base = production_texts(task.store, task.tenant, self.family)
        if task.base is not None:
            base[self.role] = version_text(
                task.store, task.tenant, self.family, self.role, task.base
            )
        run_dir = self.run_root / _task_id(task)
        runner = CandidateRunner(
            self.student,
            self.teacher,
            self.scorer,
            base=base,
            tenant=task.tenant,
            runtime_config=self.runtime_config,
            lane=self.lane,
            concurrency=self.concurrency,
            timeout_s=self.timeout_s,
            scratch_dir=run_dir / "scratch",
        )
        meter = SpendMeter()
        cache = RunCache(run_dir / "cache.jsonl")
        reflection = ReflectionLM(self.reflection, meter, cache=cache)
        try:
            run = run_gepa(
                AtlasAdapter(runner, meter, cache),
                {self.role.value: base[self.role]},
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
            runner.close()
        metrics = {
            "gepa.initial_score": run.initial_score,
            "gepa.val_score": run.best_score,
            "gepa.improvement": run.improvement,
            "gepa.metric_calls": float(run.metric_calls),
            "gepa.tokens": float(run.tokens),
        }
        samples = len(train) + len(val)
        if run.best == 0 or run.improvement <= 0:
            reason = f"no candidate beat the production template ({run.initial_score:.3f})"
            return LearnerResult(None, samples, metrics, reason)
        candidate = template_version(
            task.store,
            task.tenant,
            self.family,
            self.role,
            run.candidates[run.best][self.role.value],
            parent_id=task.base.id if task.base is not None else None,
            metrics=metrics,
            scores=run.instance_scores[run.best],
            save=False,  # the loop stores it, with the gate's verdict
        )
        return LearnerResult(candidate, samples, metrics)


def _task_id(task: LearningTask) -> str:
    ids = sorted(str(e.id) for e in task.examples)
    base = str(task.base.id) if task.base is not None else "-"
    return "task-" + hashlib.sha256("|".join([base, *ids]).encode()).hexdigest()[:16]


class TemplateEvaluator:
    """The gate's ``Evaluator`` for template versions of ``role``: serves the version's text
    (None: the production template) through the runtime and scores the answers."""

    def __init__(
        self,
        store: Store,
        *,
        student: Agent,
        scorer: Scorer,
        tenant: str = "default",
        role: Role | str = Role.STUDENT,
        teacher: Agent | None = None,
        runtime_config: RuntimeConfig | None = None,
        lane: Lane | str | None = None,
        concurrency: int = 16,
        timeout_s: float = 120.0,
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.role = Role(role)
        config = runtime_config or RuntimeConfig()
        self.family = config.template_family
        self.runner = CandidateRunner(
            student,
            teacher,
            scorer,
            base=production_texts(store, tenant, self.family),
            tenant=tenant,
            runtime_config=config,
            lane=Lane(lane) if lane is not None else None,
            concurrency=concurrency,
            timeout_s=timeout_s,
        )

    def score(self, version: Version | None, examples: Sequence[Example]) -> list[float]:
        """One score in [0, 1] per example (0 for an example that failed)."""
        if version is None:
            text = self.runner.base[self.role]
        else:
            text = version_text(self.store, self.tenant, self.family, self.role, version)
        data = from_examples(examples)
        attempts = self.runner.evaluate(data, {self.role.value: text})
        by_id = {a.example.id: a.score for a in attempts}
        # An example with no task text cannot be asked: it scores 0 for every version alike.
        return [by_id.get(str(e.id), 0.0) for e in examples]

    def close(self) -> None:
        """Removes the scratch store."""
        self.runner.close()

    def __enter__(self) -> TemplateEvaluator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

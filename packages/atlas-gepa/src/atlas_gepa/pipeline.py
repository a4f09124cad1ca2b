"""A whole optimization from a :class:`~atlas_gepa.config.GepaConfig`: data, run, versions.

:func:`optimize` reads the production templates (the seed candidate) and the labelled or
rewarded interactions of the configured learning keys, runs GEPA in the run directory
(resuming it when it holds a checkpoint), stores the best candidate (and, when asked, every
Pareto-frontier candidate) as candidate prompt Versions with per-instance scores, and writes
``summary.json``. The Versions are candidates only: the gate and the rollout decide.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from atlas_core.errors import ConfigError
from atlas_core.llm import Endpoint
from atlas_core.rewards import load_reward_model
from atlas_core.runtime import Agent, ChatAgent, Role, TemplateRegistry
from atlas_core.store import Store, open_store
from atlas_core.types import Version, VersionKind
from atlas_gepa.adapter import AtlasAdapter, SpendMeter
from atlas_gepa.cache import RunCache
from atlas_gepa.config import GepaConfig, ScoringConfig
from atlas_gepa.data import GepaExample, load_dataset, split
from atlas_gepa.evaluation import CandidateRunner, production_texts
from atlas_gepa.optimizer import DATASET_FILE, SUMMARY_FILE, GepaRun, run_gepa
from atlas_gepa.reflection import ReflectionLM
from atlas_gepa.scoring import GoldScorer, RewardModelScorer, Scorer
from atlas_gepa.versions import template_version

__all__ = ["Optimization", "make_runner", "make_scorer", "optimize", "publish"]

PUBLISHED_FILE = "published.json"
CACHE_FILE = "cache.jsonl"


@dataclass(frozen=True)
class Optimization:
    """A finished optimization: the run and the candidate Versions it stored."""

    run: GepaRun
    versions: list[Version]
    summary_path: Path


def make_scorer(scoring: ScoringConfig) -> Scorer:
    """The configured scorer (a reward model plugin, or gold-label matching)."""
    if scoring.method == "gold":
        return GoldScorer(scoring.match)
    return RewardModelScorer(load_reward_model(scoring.reward_model, **scoring.options))


def make_runner(
    config: GepaConfig,
    store: Store,
    scorer: Scorer,
    *,
    student: Agent | None = None,
    teacher: Agent | None = None,
) -> CandidateRunner:
    """A :class:`CandidateRunner` for ``config`` (agents from ``config.runtime`` by default)."""
    rt = config.runtime
    if student is None:
        if rt.student is None:
            raise ConfigError("runtime.student: not configured, and no student agent was given")
        student = ChatAgent.from_config(rt.student)
    if teacher is None and rt.teacher is not None:
        teacher = ChatAgent.from_config(rt.teacher)
    return CandidateRunner(
        student,
        teacher,
        scorer,
        base=production_texts(store, config.tenant, rt.template_family),
        tenant=config.tenant,
        runtime_config=rt,
        lane=config.lane,
        concurrency=config.concurrency,
        timeout_s=config.example_timeout_s,
        scratch_dir=config.run_dir / "scratch",
    )


def _endpoint(config: GepaConfig) -> Endpoint:
    r = config.reflection
    key = r.api_key.get_secret_value() if r.api_key is not None else None
    return Endpoint(
        r.base_url, r.model, api_key=key, timeout_s=r.timeout_s, max_retries=r.max_retries
    )


def _data(config: GepaConfig, store: Store) -> tuple[list[GepaExample], list[GepaExample]]:
    if (config.run_dir / DATASET_FILE).is_file():
        return [], []  # resumed: run_gepa reads the data set the run started with
    examples = load_dataset(store, config.tenant, config.learning_keys, limit=config.max_examples)
    return split(examples, config.val_fraction, config.seed)


def publish(
    run: GepaRun,
    store: Store,
    config: GepaConfig,
    indices: Sequence[int],
) -> list[Version]:
    """Stores candidates ``indices`` of ``run`` as candidate Versions (one per changed role),
    each with the run's figures as metrics and its per-instance validation scores."""
    family = config.runtime.template_family
    registry = TemplateRegistry(store, config.tenant, family)
    out = []
    for index in indices:
        for name, text in sorted(run.changed_roles(index).items()):
            role = Role(name)
            parent = store.resolve_alias(
                config.tenant, VersionKind.PROMPT, registry.name(role), "production"
            )
            metrics = {
                "gepa.initial_score": run.initial_score,
                "gepa.val_score": run.val_scores[index],
                "gepa.improvement": run.val_scores[index] - run.initial_score,
                "gepa.metric_calls": float(run.metric_calls),
                "gepa.tokens": float(run.tokens),
                "gepa.candidate": float(index),
            }
            out.append(
                template_version(
                    store,
                    config.tenant,
                    family,
                    role,
                    text,
                    parent_id=parent.id if parent is not None else None,
                    metrics=metrics,
                    scores=run.instance_scores[index],
                )
            )
    return out


def optimize(
    config: GepaConfig,
    *,
    store: Store | None = None,
    student: Agent | None = None,
    teacher: Agent | None = None,
    callbacks: Sequence[Any] = (),
) -> Optimization:
    """Runs (or resumes) the optimization ``config`` describes; see the module docstring."""
    owned = store is None
    store = store if store is not None else open_store(config.store_url)
    try:
        scorer = make_scorer(config.scoring)
        runner = make_runner(config, store, scorer, student=student, teacher=teacher)
        meter = SpendMeter()
        cache = RunCache(config.run_dir / CACHE_FILE)
        reflection = ReflectionLM(_endpoint(config), meter, cache=cache)
        try:
            seed = {r.value: runner.base[r] for r in config.target_roles}
            train, val = _data(config, store)
            run = run_gepa(
                AtlasAdapter(runner, meter, cache),
                seed,
                train,
                val,
                reflection,
                config.budget,
                config.run_dir,
                minibatch_size=config.minibatch_size,
                use_merge=config.use_merge,
                seed=config.seed,
                callbacks=callbacks,
            )
        finally:
            reflection.close()
            runner.close()
        versions = _publish_once(run, store, config)
        summary_path = config.run_dir / SUMMARY_FILE
        summary = run.summary() | {
            "versions": [
                {"id": str(v.id), "name": v.name, "number": v.number, "metrics": v.metrics}
                for v in versions
            ]
        }
        summary_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return Optimization(run, versions, summary_path)
    finally:
        if owned:
            store.close()


def _publish_once(run: GepaRun, store: Store, config: GepaConfig) -> list[Version]:
    """Publishes once per run directory: a finished run started again stores nothing new."""
    path = config.run_dir / PUBLISHED_FILE
    if path.is_file():
        ids = json.loads(path.read_text(encoding="utf-8"))
        found = [store.get_version(config.tenant, UUID(i)) for i in ids]
        return [v for v in found if v is not None]
    if run.improvement > 0:
        chosen = run.frontier if config.register_frontier else [run.best]
        versions = publish(run, store, config, [i for i in chosen if i != 0])
    else:
        versions = []
    path.write_text(json.dumps([str(v.id) for v in versions]), encoding="utf-8")
    return versions

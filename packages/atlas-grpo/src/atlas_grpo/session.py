"""One training run's shared set-up and bookkeeping: store, tokenizer, metrics, the result.

``TrainResult`` is what ``run_sft`` / ``run_grpo`` return; ``Session.finish`` registers the
candidate version and records the LearningRun (on the main process only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.console import Console

from atlas_core.ids import new_id
from atlas_core.store import Store, open_store
from atlas_core.types import LearningRun, Version
from atlas_grpo.config import TrainConfig
from atlas_grpo.guards import GuardCallback
from atlas_grpo.metrics import MetricsCallback
from atlas_grpo.modeling import load_tokenizer
from atlas_grpo.registry import record_learning_run, register_candidate

__all__ = ["Session", "TrainResult"]

# What a run reports besides held-out evaluation: the last logged value of each.
_SUMMARY = (
    "reward",
    "reward_std",
    "kl",
    "entropy",
    "clip_ratio/region_mean",
    "completions/mean_length",
    "tokens_per_s",
    "loss",
    "mean_token_accuracy",
)


@dataclass
class TrainResult:
    """What a run produced."""

    learner: str
    """'sft' or 'grpo'."""
    run: LearningRun
    """The LearningRun recorded in the Store."""
    version: Version | None
    """The candidate version, or None when a guard stopped the run before any good model."""
    artifact: Path | None
    """Directory of the saved model (or adapter)."""
    metrics_before: dict[str, float]
    metrics_after: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    """Every training log (see MetricsCallback)."""
    guard: str | None = None
    """The guard that stopped the run, if any."""
    model: Any = None
    """The trained model object (the kept one), for callers in the same process."""


def _chat(cfg: TrainConfig, tokenizer: Any) -> bool:
    if cfg.data.prompt_format == "auto":
        return bool(getattr(tokenizer, "chat_template", None))
    return cfg.data.prompt_format == "chat"


def _learning_key(cfg: TrainConfig) -> str | None:
    keys = cfg.data.learning_keys
    return keys[0] if keys and len(keys) == 1 else None


def _summary(metrics: MetricsCallback) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in list(_SUMMARY) + sorted({k for row in metrics.history for k in row}):
        if key.startswith(("rewards/", "teaching/")) or key in _SUMMARY:
            value = metrics.last(key)
            if value is not None:
                out[f"train/{key}"] = value
    return out


class Session:
    """One run's shared set-up and bookkeeping (store, tokenizer, console, callbacks)."""

    def __init__(self, cfg: TrainConfig, store: Store | None, console: Console | None) -> None:
        self.cfg = cfg
        self.own_store = store is None
        self.store = store if store is not None else open_store(cfg.data.store_url)
        self.console = (
            console if console is not None else (Console() if cfg.tracking.console else None)
        )
        self.run_id: UUID = new_id()
        self.started = time.perf_counter()
        self.tokenizer = load_tokenizer(cfg.model.tokenizer or cfg.model.name_or_path)
        self.chat = _chat(cfg, self.tokenizer)
        self.metrics = MetricsCallback(
            run_id=str(self.run_id),
            store=self.store,
            tenant=cfg.data.tenant,
            console=self.console if cfg.tracking.console else None,
        )
        self.output_dir = Path(cfg.training.output_dir)

    def _local_run(self, learner: str, outcome: str) -> LearningRun:
        """The run as a non-main process knows it (only the main process writes the Store)."""
        return LearningRun(
            id=self.run_id,
            tenant_id=self.cfg.data.tenant,
            learning_key=_learning_key(self.cfg),
            trigger="manual",
            reason="",
            learner=learner,
            samples_used=0,
            duration_s=None,
            outcome=outcome,
            candidate_version_id=None,
        )

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text)

    def finish(
        self,
        *,
        learner: str,
        trainer: Any,
        artifact: Path | None,
        samples: int,
        before: dict[str, float],
        after: dict[str, float],
        guard: GuardCallback | None,
        model: Any,
        register: bool = True,
    ) -> TrainResult:
        """Registers the candidate (main process only) and records the LearningRun, unless
        ``register`` is False (the learning loop stores both itself)."""
        summary = _summary(self.metrics)
        summary["train/steps"] = float(trainer.state.global_step)
        if guard is not None and guard.tripped:
            outcome = "guard_stopped" if artifact is None else "candidate_guarded"
            reason = f"atlas train {learner}: guard {guard.tripped}: {guard.reason}"
        else:
            outcome = "candidate"
            reason = f"atlas train {learner}"
        version = None
        run = None
        if register and trainer.is_world_process_zero():
            metrics = {**after, **summary, **{f"{k}_before": v for k, v in before.items()}}
            if artifact is not None:
                version = register_candidate(
                    self.store,
                    self.cfg.data.tenant,
                    name=self.cfg.registry.name,
                    artifact=artifact,
                    metrics=metrics,
                    parent_version_id=self.cfg.registry.parent_version_id,
                )
            run = record_learning_run(
                self.store,
                self.cfg.data.tenant,
                run_id=self.run_id,
                learner=learner,
                learning_key=_learning_key(self.cfg),
                samples_used=samples,
                metrics_before=before,
                metrics_after={**after, **summary},
                duration_s=time.perf_counter() - self.started,
                outcome=outcome,
                reason=reason,
                candidate=version,
            )
            if version is not None:
                self.say(
                    f"[green]candidate[/] {version.name} v{version.number} "
                    f"({version.artifact_uri}) {after}"
                )
            else:
                self.say(f"[yellow]no candidate[/]: {reason}")
        if self.own_store:
            self.store.close()
        return TrainResult(
            learner=learner,
            run=run if run is not None else self._local_run(learner, outcome),
            version=version,
            artifact=artifact,
            metrics_before=before,
            metrics_after=after,
            history=list(self.metrics.history),
            guard=guard.tripped if guard is not None else None,
            model=model,
        )

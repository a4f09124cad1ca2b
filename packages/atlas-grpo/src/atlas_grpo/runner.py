"""``atlas train sft`` and ``atlas train grpo``: data from the Store, TRL, a candidate Version.

Each run reads its rows from the Store, evaluates the starting model on held-out
prompts, trains with TRL (metrics to the console and the Store, guards on GRPO),
evaluates the kept model, saves it, and registers it as a CANDIDATE model version
with its metrics, plus a LearningRun saying what happened. Nothing is deployed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.console import Console

from atlas_core.ids import new_id
from atlas_core.store import Store, open_store
from atlas_core.types import LearningRun, Version
from atlas_grpo.config import TrainConfig
from atlas_grpo.data import grpo_rows, sft_rows, split_rows
from atlas_grpo.evaluate import evaluate_rewards
from atlas_grpo.guards import GuardCallback
from atlas_grpo.metrics import MetricsCallback
from atlas_grpo.modeling import load_model, load_tokenizer, peft_config
from atlas_grpo.registry import record_learning_run, register_candidate
from atlas_grpo.rewards.factory import build_reward_funcs
from atlas_grpo.rewards.text import as_text
from atlas_grpo.rewards.verifiable import VerifiableReward
from atlas_grpo.trl_args import grpo_args, sft_args

__all__ = ["TrainResult", "run_grpo", "run_sft"]

RewardFunc = Callable[..., Any]
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


class _Session:
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
    ) -> TrainResult:
        """Registers the candidate (main process only) and records the LearningRun."""
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
        if trainer.is_world_process_zero():
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


def _save(trainer: Any, tokenizer: Any, path: Path) -> Path:
    trainer.save_model(str(path))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(path))
    return path


def _quiet_printer(trainer: Any, console_on: bool) -> None:
    if console_on:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)


def run_sft(
    cfg: TrainConfig, *, store: Store | None = None, console: Console | None = None
) -> TrainResult:
    """SFT warm-up on high-reward interactions and users' edits; registers a candidate."""
    from datasets import Dataset  # type: ignore[import-untyped]
    from trl.trainer.sft_trainer import SFTTrainer

    s = _Session(cfg, store, console)
    split = split_rows(sft_rows(s.store, cfg.data, chat=s.chat), cfg.data, what="SFT")
    s.say(f"SFT: {len(split.train)} examples, {len(split.held_out)} held out")
    model = load_model(cfg.model)
    # Held-out score: does the greedy answer match the example's answer (normalised)?
    held = [{"prompt": r["prompt"], "reference": as_text(r["completion"])} for r in split.held_out]
    match = [VerifiableReward("normalized", name="match")]
    max_new = min(cfg.training.max_length, 256)
    before = evaluate_rewards(model, s.tokenizer, held, match, [1.0], max_new_tokens=max_new)
    trainer = SFTTrainer(
        model=model,
        args=sft_args(cfg, s.output_dir / "checkpoints"),
        train_dataset=Dataset.from_list(
            [{"prompt": r["prompt"], "completion": r["completion"]} for r in split.train]
        ),
        processing_class=s.tokenizer,
        peft_config=peft_config(cfg.model),
        callbacks=[s.metrics],
    )
    _quiet_printer(trainer, cfg.tracking.console)
    trainer.train()
    artifact = _save(trainer, s.tokenizer, s.output_dir / "final")
    after = evaluate_rewards(trainer.model, s.tokenizer, held, match, [1.0], max_new_tokens=max_new)
    return s.finish(
        learner="sft",
        trainer=trainer,
        artifact=artifact,
        samples=len(split.train),
        before=before,
        after=after,
        guard=None,
        model=trainer.model,
    )


def run_grpo(
    cfg: TrainConfig,
    *,
    store: Store | None = None,
    console: Console | None = None,
    reward_funcs: Sequence[RewardFunc] | None = None,
    reward_weights: Sequence[float] | None = None,
    reward_model_factories: dict[str, Callable[..., Any]] | None = None,
    extra_callbacks: Sequence[Any] = (),
) -> TrainResult:
    """GRPO on prompts from the Store with the configured (or given) reward functions.

    ``reward_funcs`` replaces the config's ``rewards`` (with ``reward_weights``, default 1
    each); ``reward_model_factories`` replaces the plugin registry's reward models;
    ``extra_callbacks`` are more TrainerCallbacks (profilers, custom trackers).
    """
    from datasets import Dataset
    from trl.trainer.grpo_trainer import GRPOTrainer

    s = _Session(cfg, store, console)
    if reward_funcs is None:
        funcs = build_reward_funcs(cfg.rewards, reward_model_factories=reward_model_factories)
        weights = [spec.weight for spec in cfg.rewards]
    else:
        funcs = list(reward_funcs)
        weights = list(reward_weights) if reward_weights is not None else [1.0] * len(funcs)
    split = split_rows(grpo_rows(s.store, cfg.data, chat=s.chat), cfg.data, what="GRPO")
    s.say(f"GRPO: {len(split.train)} prompts, {len(split.held_out)} held out")
    model = load_model(cfg.model)
    max_new = cfg.training.max_completion_length
    before = evaluate_rewards(
        model, s.tokenizer, split.held_out, funcs, weights, max_new_tokens=max_new
    )
    guard = GuardCallback(cfg.guards, s.output_dir / "last-good")
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list[Any](funcs),
        args=grpo_args(cfg, s.output_dir / "checkpoints", weights),
        train_dataset=Dataset.from_list(split.train),
        processing_class=s.tokenizer,
        peft_config=peft_config(cfg.model),
        callbacks=[s.metrics, guard, *extra_callbacks],
    )
    guard.save = lambda path: trainer.save_model(str(path))
    _quiet_printer(trainer, cfg.tracking.console)
    trainer.train()
    kept: Any = trainer.model
    artifact: Path | None
    if guard.tripped is None:
        artifact = _save(trainer, s.tokenizer, s.output_dir / "final")
    elif guard.snapshot_step is not None:
        artifact = guard.snapshot_dir
        kept = _reload(cfg, artifact)
        s.say(f"[yellow]guard {guard.tripped}[/]: {guard.reason}; kept step {guard.snapshot_step}")
    else:
        artifact = None
        s.say(f"[red]guard {guard.tripped}[/]: {guard.reason}; no good model to keep")
    after = (
        evaluate_rewards(kept, s.tokenizer, split.held_out, funcs, weights, max_new_tokens=max_new)
        if artifact is not None
        else {}
    )
    return s.finish(
        learner="grpo",
        trainer=trainer,
        artifact=artifact,
        samples=len(split.train),
        before=before,
        after=after,
        guard=guard,
        model=kept,
    )


def _reload(cfg: TrainConfig, path: Path) -> Any:
    """The snapshot the guard kept (an adapter on the base model when LoRA is on)."""
    if cfg.model.lora.enabled:
        from peft import PeftModel

        return PeftModel.from_pretrained(load_model(cfg.model), str(path))
    return load_model(cfg.model.model_copy(update={"name_or_path": str(path)}))

"""``atlas train sft`` and ``atlas train grpo``: data from the Store, TRL, a candidate Version.

Each run reads its rows from the Store, evaluates the starting model on held-out
prompts, trains with TRL (metrics to the console and the Store, guards on GRPO),
evaluates the kept model, saves it, and registers it as a CANDIDATE model version
with its metrics, plus a LearningRun saying what happened. Nothing is deployed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from atlas_core.store import Store
from atlas_grpo.config import TrainConfig
from atlas_grpo.data import Row, grpo_rows, prompt_of, sft_rows, split_rows
from atlas_grpo.evaluate import evaluate_rewards
from atlas_grpo.guards import GuardCallback
from atlas_grpo.modeling import load_model, peft_config
from atlas_grpo.rewards.factory import build_reward_funcs
from atlas_grpo.rewards.text import as_text
from atlas_grpo.rewards.verifiable import VerifiableReward
from atlas_grpo.session import Session, TrainResult
from atlas_grpo.trl_args import grpo_args, sft_args

__all__ = ["TrainResult", "run_grpo", "run_sft"]

RewardFunc = Callable[..., Any]


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

    s = Session(cfg, store, console)
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
    rows: Sequence[Row] | None = None,
    register: bool = True,
) -> TrainResult:
    """GRPO on prompts from the Store with the configured (or given) reward functions.

    ``reward_funcs`` replaces the config's ``rewards`` (with ``reward_weights``, default 1
    each); ``reward_model_factories`` replaces the plugin registry's reward models;
    ``extra_callbacks`` are more TrainerCallbacks (profilers, custom trackers). ``rows``
    replaces the Store read: ``grpo_rows``' shape, with the chat ``messages`` in place of
    ``prompt`` (rendered here as the tokenizer needs); ``register=False`` leaves the
    candidate and the LearningRun unstored. The learning loop's learner uses both.
    """
    from datasets import Dataset
    from trl.trainer.grpo_trainer import GRPOTrainer

    s = Session(cfg, store, console)
    if reward_funcs is None:
        funcs = build_reward_funcs(cfg.rewards, reward_model_factories=reward_model_factories)
        weights = [spec.weight for spec in cfg.rewards]
    else:
        funcs = list(reward_funcs)
        weights = list(reward_weights) if reward_weights is not None else [1.0] * len(funcs)
    if rows is None:
        source = grpo_rows(s.store, cfg.data, chat=s.chat)
    else:
        source = [
            {
                **{k: v for k, v in r.items() if k != "messages"},
                "prompt": prompt_of(r["messages"], s.chat),
            }
            for r in rows
        ]
    split = split_rows(source, cfg.data, what="GRPO")
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
        register=register,
    )


def _reload(cfg: TrainConfig, path: Path) -> Any:
    """The snapshot the guard kept (an adapter on the base model when LoRA is on)."""
    if cfg.model.lora.enabled:
        from peft import PeftModel

        return PeftModel.from_pretrained(load_model(cfg.model), str(path))
    return load_model(cfg.model.model_copy(update={"name_or_path": str(path)}))

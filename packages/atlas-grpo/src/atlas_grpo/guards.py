"""Guards that stop a GRPO run going bad and keep the last good model.

Two failure signs are watched in the training logs: the reward standard deviation
collapsing to zero (every completion of every group scored alike, so the
group-relative advantage is zero and nothing more is learned, or the policy has
collapsed onto one answer) for ``reward_std_patience`` consecutive logs, and the KL to
the reference model exceeding ``max_kl`` (the policy drifted too far; logged only
when beta > 0). On either, training stops after the current step. While the run is
healthy the model is saved every ``snapshot_every`` healthy logs, so the last good
model is on disk when a guard trips.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from atlas_grpo.config import GuardConfig

__all__ = ["GuardCallback"]


class GuardCallback(TrainerCallback):
    """Stops training on reward-std collapse or excessive KL; snapshots healthy models."""

    def __init__(
        self, cfg: GuardConfig, snapshot_dir: Path, save: Callable[[Path], None] | None = None
    ) -> None:
        self.cfg = cfg
        self.snapshot_dir = Path(snapshot_dir)
        self.save = save
        """Saves the model to a directory on every process (the runner passes the trainer's
        ``save_model``, which gathers ZeRO-3 / FSDP shards); None: ``model.save_pretrained``
        on the main process."""
        self.tripped: str | None = None
        """'reward_std_collapse' or 'kl_bound' once a guard stopped the run, else None."""
        self.reason = ""
        """The trip in words, with the values that caused it."""
        self.collapsed_streak = 0
        self.healthy_logs = 0
        self.last_good_step: int | None = None
        """The latest step whose logs were healthy."""
        self.snapshot_step: int | None = None
        """The step whose model is saved in ``snapshot_dir`` (None: none saved yet)."""

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Checks each training log; sets ``should_training_stop`` when a guard trips."""
        if not logs or "reward_std" not in logs or self.tripped:
            return
        std = float(logs["reward_std"])
        kl = logs.get("kl")
        if self.cfg.max_kl is not None and kl is not None and float(kl) > self.cfg.max_kl:
            self._trip(control, "kl_bound", f"kl {float(kl):.4g} > {self.cfg.max_kl:g}", state)
            return
        if math.isnan(std) or std <= self.cfg.reward_std_min:
            self.collapsed_streak += 1
            if self.collapsed_streak >= self.cfg.reward_std_patience:
                self._trip(
                    control,
                    "reward_std_collapse",
                    f"reward_std <= {self.cfg.reward_std_min:g} for "
                    f"{self.collapsed_streak} consecutive logs",
                    state,
                )
            return
        self.collapsed_streak = 0
        self.healthy_logs += 1
        self.last_good_step = state.global_step
        model = kwargs.get("model")
        if model is not None and self.healthy_logs % self.cfg.snapshot_every == 0:
            self._snapshot(model, kwargs.get("processing_class"), state)

    def _trip(self, control: TrainerControl, what: str, why: str, state: TrainerState) -> None:
        self.tripped = what
        self.reason = f"{why} at step {state.global_step}"
        control.should_training_stop = True

    def _snapshot(self, model: Any, tokenizer: Any, state: TrainerState) -> None:
        if self.save is not None:
            self.save(self.snapshot_dir)  # collective: every process takes part
        if not state.is_world_process_zero:
            return
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        if self.save is None:
            model.save_pretrained(self.snapshot_dir)
        if tokenizer is not None:
            tokenizer.save_pretrained(self.snapshot_dir)
        self.snapshot_step = state.global_step

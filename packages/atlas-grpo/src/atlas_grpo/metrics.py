"""Training metrics to the console (rich) and to the Store, as TRL logs them.

Every numeric value TRL logs (reward mean/std per function, KL, clip ratios,
completion lengths, entropy, the teaching reward's rates, ...) is kept in
``history``; ``tokens_per_s`` is derived from TRL's cumulative ``num_tokens``. Each log
is written to the Store as a key-value entry ``<run id>/<step>`` in the namespace
``atlas_grpo.metrics``, so a run's curve survives the process.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from atlas_core.store import Store

__all__ = ["METRICS_NAMESPACE", "MetricsCallback"]

METRICS_NAMESPACE = "atlas_grpo.metrics"
_SHOWN = (
    "loss",
    "reward",
    "reward_std",
    "kl",
    "clip_ratio/region_mean",
    "completions/mean_length",
    "tokens_per_s",
)


class MetricsCallback(TrainerCallback):
    """Keeps every logged metric, shows progress, and writes each log to the Store."""

    def __init__(
        self,
        *,
        run_id: str,
        store: Store | None = None,
        tenant: str = "default",
        console: Console | None = None,
    ) -> None:
        self.run_id = run_id
        self.store = store
        self.tenant = tenant
        self.console = console
        self.history: list[dict[str, float]] = []
        """One dict per training log: 'step' plus every finite numeric metric."""
        self._progress: Progress | None = None
        self._task: Any = None
        self._last: tuple[float, float] | None = None  # (time, cumulative tokens)

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
    ) -> None:
        """Starts the progress bar."""
        if self.console is not None and state.is_world_process_zero:
            self._progress = Progress(
                TextColumn("[bold]atlas train[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("train", total=state.max_steps, info="")
        self._last = (time.perf_counter(), 0.0)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
    ) -> None:
        """Advances the progress bar."""
        if self._progress is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        """Records one log (training logs only; the final summary log is kept apart)."""
        if not logs or "train_runtime" in logs:
            return
        row: dict[str, float] = {"step": float(state.global_step)}
        for key, value in logs.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and math.isfinite(float(value)):
                row[key] = float(value)
        if "num_tokens" in row and self._last is not None:
            now = time.perf_counter()
            then, tokens = self._last
            if now > then:
                row["tokens_per_s"] = (row["num_tokens"] - tokens) / (now - then)
            self._last = (now, row["num_tokens"])
        self.history.append(row)
        if not state.is_world_process_zero:
            return
        if self.store is not None:
            key = f"{self.run_id}/{state.global_step:09d}"
            self.store.kv_put(self.tenant, METRICS_NAMESPACE, {key: json.dumps(row)})
        if self._progress is not None:
            info = "  ".join(f"{k.split('/')[-1]}={row[k]:.4g}" for k in _SHOWN if k in row)
            self._progress.update(self._task, info=info)
            self._progress.console.log(f"step {state.global_step}: {info}")

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
    ) -> None:
        """Stops the progress bar."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def last(self, key: str) -> float | None:
        """The latest logged value of ``key``, or None."""
        for row in reversed(self.history):
            if key in row:
                return row[key]
        return None

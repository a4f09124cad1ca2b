"""The ``grpo`` learner of the continual-learning loop: GRPO (TRL) on a loop update's examples.

The loop hands over value-selected new examples and replay from every learning key; the
ones with a gold answer (a label, else the user's edit) become GRPO prompts with that
reference, rewarded by the config's reward functions (verifiable against the reference by
default, RIM or adaptive teaching when configured). Training starts from the production
model version, and the candidate goes back to the loop unstored: the gate decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from atlas_core.errors import InvalidArgumentError
from atlas_core.loop import LearnerResult, LearningTask
from atlas_core.types import Version, VersionKind, VersionStatus
from atlas_grpo.config import TrainConfig, load_train_config, parse_train_config


class GRPOLearner:
    """GRPO with ``atlas_grpo.runner.run_grpo`` on the examples of one loop update."""

    name = "grpo"

    def __init__(self, config: TrainConfig | str | Path | Mapping[str, Any]) -> None:
        if isinstance(config, TrainConfig):
            self.config = config
        elif isinstance(config, Mapping):
            self.config = parse_train_config(dict(config))
        else:
            self.config = load_train_config(config)
        self._updates = 0

    def learn(self, task: LearningTask) -> LearnerResult:
        """Trains from ``task.base`` (else the config's model) on the referenced examples."""
        from atlas_grpo.runner import run_grpo  # torch and TRL only when an update runs

        rows = [
            {
                "messages": list(example.input),
                "reference": example.reference,
                "interaction_id": example.id.hex,
                "learning_key": example.learning_key,
            }
            for example in task.examples
            if example.reference is not None
        ]
        if len(rows) < 2:  # one to train on and one held out, at the least
            return LearnerResult.no_change("fewer than 2 examples with a gold answer")
        self._updates += 1
        cfg = self._config_for(task)
        result = run_grpo(cfg, store=task.store, rows=rows, register=False)
        if result.artifact is None:
            return LearnerResult.no_change(f"a guard stopped the run: {result.guard}")
        candidate = Version(
            tenant_id=task.tenant,
            kind=VersionKind.MODEL,
            name=cfg.registry.name,
            number=1,  # the loop numbers stored versions
            artifact_uri=str(result.artifact),
            parent_id=task.base.id if task.base is not None else None,
            status=VersionStatus.CANDIDATE,
            aliases=(),
        )
        metrics = {**result.metrics_after}
        metrics.update({f"{k}_before": v for k, v in result.metrics_before.items()})
        return LearnerResult(candidate, samples_used=len(rows), metrics=metrics)

    def _config_for(self, task: LearningTask) -> TrainConfig:
        """The config with this update's start model, tenant and output folder."""
        cfg = self.config
        start = task.base.artifact_uri if task.base is not None else cfg.model.name_or_path
        if task.base is not None and task.base.kind is not VersionKind.MODEL:
            raise InvalidArgumentError(
                f"grpo learner: production version {task.base.name} is a {task.base.kind.value} "
                "version; GRPO trains model versions"
            )
        out = Path(cfg.training.output_dir) / f"update-{self._updates:04d}"
        return cfg.model_copy(
            update={
                "model": cfg.model.model_copy(
                    update={"name_or_path": start.removeprefix("file://")}
                ),
                "data": cfg.data.model_copy(update={"tenant": task.tenant}),
                "training": cfg.training.model_copy(update={"output_dir": str(out)}),
            }
        )


def create_grpo_learner(config: TrainConfig | str | Path | Mapping[str, Any]) -> GRPOLearner:
    """The ``grpo`` learner factory registered in ``Plugin.learners``."""
    return GRPOLearner(config)

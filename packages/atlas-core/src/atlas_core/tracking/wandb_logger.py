"""``WandbLogger``: learning runs and rollouts as the history of one wandb run.

A wandb run is a long-lived process's timeline, so one ``WandbLogger`` (one learning loop,
or one ``atlas runs log`` replay) is one wandb run (job type ``atlas-loop``), opened on the
first record. Each learning run is a history row of ``learning_run/*`` metrics and its
outcome, trigger and learner; each finished rollout a row of ``rollout/*`` metrics (its
analysed steps first, as ``rollout/step.*`` rows). The summary keeps counts per outcome.
A record key seen before by this logger is skipped. ``mode="offline"`` (or
``WANDB_MODE=offline``) writes the run under ``dir`` for a later ``wandb sync``. Needs
``atlas-core[tracking]``.
"""

from __future__ import annotations

from typing import Any

from atlas_core import __version__
from atlas_core.telemetry.errors import require
from atlas_core.tracking.base import RecordLogger
from atlas_core.tracking.records import TrackedRecord

__all__ = ["WandbLogger"]


class WandbLogger(RecordLogger):
    """Logs to one wandb run (see the module docstring)."""

    def __init__(
        self,
        project: str = "atlas",
        *,
        entity: str | None = None,
        name: str | None = None,
        mode: str | None = None,
        dir: str | None = None,
    ) -> None:
        self._wandb = require("wandb", "tracking", "WandbLogger")
        self.project = project
        self.entity = entity
        self.name = name
        self.mode = mode
        self.dir = dir
        self.run: Any = None
        self._seen: set[str] = set()
        self._counts: dict[str, int] = {}

    def _open(self) -> Any:
        if self.run is None:
            self.run = self._wandb.init(
                project=self.project,
                entity=self.entity,
                name=self.name,
                mode=self.mode,
                dir=self.dir,
                job_type="atlas-loop",
                config={"atlas_core": __version__},
                reinit="create_new",
                # The host process (a server, the loop) keeps its own stdout and stderr.
                settings=self._wandb.Settings(console="off", silent=True),
            )
        return self.run

    def log_record(self, record: TrackedRecord) -> None:
        """History rows for ``record`` (skipped when this logger saw its key)."""
        if record.key in self._seen:
            return
        run = self._open()
        prefix = record.kind
        for i, step in enumerate(record.steps):
            run.log({f"{prefix}/step.{k}": v for k, v in step.items()} | {f"{prefix}/step": i})
        row: dict[str, Any] = {f"{prefix}/{k}": v for k, v in record.metrics.items()}
        row |= {f"{prefix}/{k}": v for k, v in record.params.items()}
        row |= {f"{prefix}/key": record.key, f"{prefix}/tenant": record.tenant}
        row |= {f"{prefix}/start_s": record.start_s, f"{prefix}/end_s": record.end_s}
        run.log(row)
        self._seen.add(record.key)
        outcome = f"{prefix}/{record.params.get('outcome', 'logged')}"
        self._counts[outcome] = self._counts.get(outcome, 0) + 1
        run.summary[f"count/{outcome}"] = self._counts[outcome]

    def close(self) -> None:
        """Finishes the wandb run (writes it out; offline: ready for ``wandb sync``)."""
        if self.run is not None:
            self.run.finish()
            self.run = None

"""Logging learning runs and rollout outcomes to experiment trackers (mlflow, wandb).

:class:`RunLogger` is the protocol; :class:`~atlas_core.tracking.mlflow_logger.MlflowLogger`
and :class:`~atlas_core.tracking.wandb_logger.WandbLogger` implement it (``atlas-core
[tracking]``; without it they raise MissingExtraError naming the extra). Give loggers to
``LearningLoop(..., run_loggers=[...])`` to log live, or replay a store's history with
:func:`replay_history` / ``atlas runs log --to mlflow|wandb``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from atlas_core.tracking.base import RecordLogger, RunLogger, notify_rollout, notify_run
from atlas_core.tracking.records import TrackedRecord, rollout_record, run_record

if TYPE_CHECKING:
    from atlas_core.tracking.mlflow_logger import MlflowLogger
    from atlas_core.tracking.replay import ReplayReport, replay_history
    from atlas_core.tracking.wandb_logger import WandbLogger

__all__ = [
    "MlflowLogger",
    "RecordLogger",
    "ReplayReport",
    "RunLogger",
    "TrackedRecord",
    "WandbLogger",
    "notify_rollout",
    "notify_run",
    "replay_history",
    "rollout_record",
    "run_record",
]


def __getattr__(name: str) -> Any:
    # The tracker libraries load only when a logger is asked for; the replay (which reads
    # the loop's rollout log) on first use, since the loop itself imports this package.
    if name in ("ReplayReport", "replay_history"):
        from atlas_core.tracking import replay

        return getattr(replay, name)
    if name == "MlflowLogger":
        from atlas_core.tracking.mlflow_logger import MlflowLogger

        return MlflowLogger
    if name == "WandbLogger":
        from atlas_core.tracking.wandb_logger import WandbLogger

        return WandbLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The ``RunLogger`` protocol and the helpers the learning loop calls it through."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from atlas_core.tracking.records import TrackedRecord, rollout_record, run_record

if TYPE_CHECKING:  # the loop imports this module: no runtime import back into it
    from atlas_core.loop.rollout_state import RolloutState
    from atlas_core.types import LearningRun

__all__ = ["RecordLogger", "RunLogger", "notify_rollout", "notify_run"]

log = logging.getLogger("atlas_core.tracking")


@runtime_checkable
class RunLogger(Protocol):
    """Something that logs learning runs and rollout outcomes to an experiment tracker."""

    def log_run(self, run: LearningRun) -> None:
        """Logs one learning run (called after the loop recorded it)."""
        ...

    def log_rollout(self, tenant: str, state: RolloutState) -> None:
        """Logs one finished rollout (promoted or rolled back)."""
        ...

    def close(self) -> None:
        """Flushes and releases the tracker."""
        ...


class RecordLogger:
    """A RunLogger that turns runs and rollouts into :class:`TrackedRecord` s; subclasses
    implement :meth:`log_record`."""

    def log_run(self, run: LearningRun) -> None:
        """Logs :func:`run_record` of ``run``."""
        self.log_record(run_record(run))

    def log_rollout(self, tenant: str, state: RolloutState) -> None:
        """Logs :func:`rollout_record` of a finished rollout (one in flight is ignored)."""
        if not state.phase.in_flight:
            self.log_record(rollout_record(tenant, state))

    def log_record(self, record: TrackedRecord) -> None:
        """Logs one record (once per ``record.key``)."""
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""


def notify_run(loggers: Sequence[RunLogger], run: LearningRun) -> None:
    """Tells every logger about ``run``; a logger that fails is logged, never propagated:
    a tracker being down must not stop the learning loop."""
    for logger in loggers:
        try:
            logger.log_run(run)
        except Exception:
            log.exception("atlas tracking: %r could not log run %s", logger, run.id)


def notify_rollout(loggers: Sequence[RunLogger], tenant: str, state: RolloutState) -> None:
    """Tells every logger about a finished rollout; failures are logged, not raised."""
    for logger in loggers:
        try:
            logger.log_rollout(tenant, state)
        except Exception:
            log.exception("atlas tracking: %r could not log rollout %s", logger, state.candidate_id)

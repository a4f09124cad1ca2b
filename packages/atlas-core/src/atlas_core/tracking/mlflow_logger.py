"""``MlflowLogger``: each learning run and each finished rollout as an mlflow run.

Runs go to one experiment (default ``atlas``) of the tracking server or store at
``tracking_uri`` (default: mlflow's own, i.e. ``MLFLOW_TRACKING_URI``). Each has the
record's params and metrics, its real start and end time, status FAILED for a failed
learning run, and the tags ``atlas.key`` (identity), ``atlas.kind`` and ``atlas.tenant``.
A record whose ``atlas.key`` is already in the experiment is skipped, so replaying a
store's history (``atlas runs log``) twice logs each run once. Needs ``atlas-core[tracking]``.
"""

from __future__ import annotations

import re
from typing import Any

from atlas_core.telemetry.errors import require
from atlas_core.tracking.base import RecordLogger
from atlas_core.tracking.records import TrackedRecord

__all__ = ["MlflowLogger"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def _name(key: str) -> str:
    """A metric or param name mlflow accepts (letters, digits, ``_-. /``)."""
    return _UNSAFE.sub("_", key)


class MlflowLogger(RecordLogger):
    """Logs to mlflow through its client API (no global active run is touched)."""

    def __init__(self, tracking_uri: str | None = None, *, experiment: str = "atlas") -> None:
        mlflow = require("mlflow", "tracking", "MlflowLogger")
        self._entities = require("mlflow.entities", "tracking", "MlflowLogger")
        self.client: Any = mlflow.tracking.MlflowClient(tracking_uri)
        self.tracking_uri = tracking_uri
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id: str = (
            found.experiment_id if found is not None else self.client.create_experiment(experiment)
        )

    def run_id(self, key: str) -> str | None:
        """The mlflow run id of the record ``key``, if logged."""
        runs = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`atlas.key` = '{key}'", max_results=1
        )
        return str(runs[0].info.run_id) if runs else None

    def log_record(self, record: TrackedRecord) -> None:
        """One mlflow run for ``record`` (skipped when its key is already logged)."""
        if self.run_id(record.key) is not None:
            return
        start_ms, end_ms = int(record.start_s * 1000), int(record.end_s * 1000)
        tags = {
            **record.tags,
            "atlas.key": record.key,
            "atlas.kind": record.kind,
            "atlas.tenant": record.tenant,
        }
        run = self.client.create_run(
            self.experiment_id, start_time=start_ms, tags=tags, run_name=record.name
        )
        e = self._entities
        metrics = [e.Metric(_name(k), v, end_ms, 0) for k, v in record.metrics.items()]
        metrics += [
            e.Metric(_name(f"step.{k}"), v, end_ms, i)
            for i, step in enumerate(record.steps)
            for k, v in step.items()
        ]
        params = [e.Param(_name(k), v) for k, v in record.params.items()]
        self.client.log_batch(run.info.run_id, metrics=metrics, params=params)
        self.client.set_terminated(
            run.info.run_id, "FAILED" if record.failed else "FINISHED", end_time=end_ms
        )

"""The learning-effectiveness report: is Atlas learning, what did it ship, what went wrong.

:func:`build_report` computes a :class:`LearningReport` from a tenant's store (updates by
trigger and outcome, gate verdicts, promotions and rollbacks, average improvement on live
traffic and at the gate, learning velocity, stability, forgetting per learning key);
:func:`write_report` renders it as Markdown (PNG plots beside it) and self-contained HTML.
``atlas report`` is the command line (:mod:`atlas_core.cli_report`).

::

    from atlas_core.report import write_report
    files = write_report(store, "default", "out/report")
    files.html, files.markdown, files.images, files.report.average_live_improvement
"""

from __future__ import annotations

from atlas_core.report.compute import DEFAULT_WINDOW, build_report, compute_report
from atlas_core.report.model import (
    KeyDelta,
    KeyForgetting,
    KeyReward,
    LearningReport,
    LiveComparison,
    RollbackRecord,
    Stability,
    UpdateCounts,
    UpdateRecord,
    Velocity,
    VersionServed,
)
from atlas_core.report.write import FORMATS, ReportFiles, write_report

__all__ = [
    "DEFAULT_WINDOW",
    "FORMATS",
    "KeyDelta",
    "KeyForgetting",
    "KeyReward",
    "LearningReport",
    "LiveComparison",
    "ReportFiles",
    "RollbackRecord",
    "Stability",
    "UpdateCounts",
    "UpdateRecord",
    "Velocity",
    "VersionServed",
    "build_report",
    "compute_report",
    "write_report",
]

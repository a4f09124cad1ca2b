"""The report's plots as PNG images (matplotlib, drawn off-screen).

Figures are made with :class:`matplotlib.figure.Figure` and its Agg canvas, never pyplot:
no global state, no display, safe in a server thread. A plot with nothing to show is not
drawn (the report says why instead).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from atlas_core.report.model import LearningReport
from atlas_core.report.sources import Sources, served_by

__all__ = ["Plot", "render_plots"]

_FATE_COLOURS = {
    "promoted": "tab:green",
    "rolled back": "tab:red",
    "rejected by the gate": "tab:gray",
    "in rollout": "tab:orange",
}


@dataclass(frozen=True)
class Plot:
    """One image of the report."""

    name: str
    """File name (``*.png``)."""
    title: str
    png: bytes


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _rolling(values: list[float], width: int) -> list[float]:
    """Trailing mean over up to ``width`` values (shorter at the start)."""
    sums = np.cumsum(np.asarray([0.0, *values]))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - width, 0)
    return [float(v) for v in (sums[idx] - sums[lo]) / (idx - lo)]


def _reward_over_time(report: LearningReport, sources: Sources) -> Plot | None:
    rewarded = sources.rewarded
    if rewarded.height == 0:
        return None
    fig = Figure(figsize=(10, 4.5))
    ax = fig.subplots()
    width = report.stability.window
    for key in sorted(set(rewarded["learning_key"].to_list())):
        rows = rewarded.filter(pl.col("learning_key") == key)
        ax.plot(
            rows["seq"].to_list(),
            _rolling([float(r) for r in rows["reward"].to_list()], width),
            label=key,
            linewidth=1.4,
        )
    # Update markers: when a promoted update first served users (its canary began), when a
    # rolled-back one last served.
    for update in report.updates:
        version = sources.versions.get(update.candidate_id)
        if version is None or update.fate == "rejected by the gate":
            continue
        served = served_by(rewarded, version)["seq"].to_list()
        if not served:
            continue
        colour = _FATE_COLOURS[update.fate]
        at = served[-1] if update.fate == "rolled back" else served[0]
        ax.axvline(at, color=colour, linestyle="--", linewidth=1)
        what = "first served" if update.fate == "promoted" else update.fate
        ax.annotate(
            f"v{update.number} {what}",
            xy=(at, 1.0),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=8,
            color=colour,
        )
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(f"reward (trailing mean of {width})")
    # Traffic, not wall time, on the x axis: a simulation serves in bursts, production
    # traffic has nights; interactions served is what learning is measured against.
    first, last = report.first_interaction, report.last_interaction
    span = f" ({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC)" if first and last else ""
    ax.set_xlabel(f"interactions served, oldest first{span}")
    ax.legend(loc="lower right", fontsize=8, title="learning key")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return Plot("reward_over_time.png", "Reward over time per learning key", _png(fig))


def _improvement_per_update(report: LearningReport) -> Plot | None:
    updates = [u for u in report.updates if u.gate_delta is not None or u.live is not None]
    if not updates:
        return None
    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    x = np.arange(len(updates))
    gate = [u.gate_delta or 0.0 for u in updates]
    live = [(u.live.improvement if u.live else None) for u in updates]
    colours = [_FATE_COLOURS[u.fate] for u in updates]
    ax.bar(x - 0.2, gate, 0.4, color=colours, alpha=0.45)
    ax.bar(x + 0.2, [v or 0.0 for v in live], 0.4, color=colours, edgecolor="black")
    for xi, v in zip(x, live, strict=True):
        if v is None:
            ax.annotate("no live", (xi + 0.2, 0), ha="center", va="bottom", fontsize=7)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [f"v{u.number}\n{u.fate}" for u in updates], fontsize=8)
    ax.set_ylabel("reward improvement")
    # Bar colours are fates, so the legend names the two bar styles and the fates apart.
    handles = [
        Patch(facecolor="lightgray", label="left bar: gate (candidate - stable)"),
        Patch(facecolor="gray", edgecolor="black", label="right bar: live (new - replaced)"),
    ] + [
        Patch(facecolor=c, label=f)
        for f, c in _FATE_COLOURS.items()
        if f in {u.fate for u in updates}
    ]
    ax.legend(handles=handles, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return Plot("improvement_per_update.png", "Improvement per update", _png(fig))


def _forgetting_per_key(report: LearningReport) -> Plot | None:
    rows = report.forgetting
    if not rows:
        return None
    fig = Figure(figsize=(max(6.0, 1.2 * len(rows) + 3), 4))
    ax = fig.subplots()
    x = np.arange(len(rows))
    passed = [min(r.gate_bwt_passed) if r.gate_bwt_passed else 0.0 for r in rows]
    ax.bar(x - 0.27, [r.gate_worst or 0.0 for r in rows], 0.27, label="worst gate bwt (all)")
    ax.bar(x, passed, 0.27, label="worst gate bwt (passed the gate)")
    ax.bar(x + 0.27, [r.live_worst or 0.0 for r in rows], 0.27, label="worst live change")
    ax.axhline(-report.forgetting_tolerance, color="tab:red", linestyle=":", label="tolerance")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [r.key + ("\n(forgetting shipped)" if r.forgetting else "") for r in rows])
    ax.set_ylabel("reward change on the key")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return Plot("forgetting_per_key.png", "Forgetting per learning key", _png(fig))


def _feedback_mix(report: LearningReport) -> Plot | None:
    mix = report.feedback_mix
    if not mix:
        return None
    fig = Figure(figsize=(8, max(2.5, 0.4 * len(mix) + 1)))
    ax = fig.subplots()
    labels = list(mix)
    ax.barh(labels, [mix[k] for k in labels], color="tab:blue")
    for i, k in enumerate(labels):
        ax.annotate(
            str(mix[k]),
            (mix[k], i),
            va="center",
            fontsize=8,
            xytext=(3, 0),
            textcoords="offset points",
        )
    ax.invert_yaxis()
    ax.set_xlabel("feedback events")
    fig.tight_layout()
    return Plot("feedback_mix.png", "Feedback mix", _png(fig))


def render_plots(report: LearningReport, sources: Sources) -> list[Plot]:
    """The report's images, in report order; plots without data are left out."""
    made = (
        _reward_over_time(report, sources),
        _improvement_per_update(report),
        _forgetting_per_key(report),
        _feedback_mix(report),
    )
    return [p for p in made if p is not None]

"""The report as a format-neutral document: headings, paragraphs, tables, images.

Markdown and HTML render the same blocks (:mod:`~atlas_core.report.markdown`,
:mod:`~atlas_core.report.html`), so both always show the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from atlas_core.report.definitions import DEFINITIONS
from atlas_core.report.model import LearningReport

__all__ = ["Block", "Heading", "Image", "Para", "Table", "build_document", "num", "signed"]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Image:
    name: str
    """The plot's file name (``*.png``)."""
    title: str


Block = Heading | Para | Table | Image

NONE = "n/a"


def num(value: float | None, digits: int = 3) -> str:
    """A figure with ``digits`` decimals, or ``n/a``."""
    return NONE if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 3) -> str:
    """A change with its sign, or ``n/a``."""
    return NONE if value is None else f"{value:+.{digits}f}"


def _when(value: datetime | None) -> str:
    return NONE if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds:.0f} s"


def _summary(r: LearningReport) -> list[Block]:
    c, v, s = r.counts, r.velocity, r.stability
    rows = (
        ("interactions (rewarded)", f"{r.interactions} ({r.rewarded})"),
        ("period", f"{_when(r.first_interaction)} to {_when(r.last_interaction)}"),
        ("learning runs / updates run", f"{c.runs} / {c.updates}"),
        (
            "candidates: gate passed / rejected",
            f"{c.candidates}: {c.gate_passed} / {c.gate_rejected}",
        ),
        ("promotions / rollbacks / in rollout", f"{c.promotions} / {c.rollbacks} / {c.in_rollout}"),
        ("average live improvement (promoted)", signed(r.average_live_improvement)),
        ("average gate improvement (promoted)", signed(r.average_gate_improvement)),
        ("learning velocity per update", signed(v.per_update)),
        ("learning velocity per 1,000 interactions", signed(v.per_1000_interactions)),
        ("learning velocity per hour", signed(v.per_hour)),
        ("reward variance over windows", num(s.variance, 5)),
        ("share of updates rolled back", num(s.rollback_share)),
        ("mean time between regressions", _duration(s.mean_time_between_regressions_s)),
        (
            "keys with forgetting shipped",
            ", ".join(f.key for f in r.forgetting if f.forgetting) or "none",
        ),
    )
    return [Heading("Summary"), Table(("figure", "value"), rows)]


def _updates(r: LearningReport) -> list[Block]:
    c = r.counts
    out: list[Block] = [Heading("Updates")]
    if c.runs == 0:
        return [*out, Para("No learning runs are recorded yet.")]
    out.append(
        Table(
            ("trigger", "outcome", "runs"),
            tuple((t, o, str(n)) for (t, o), n in c.by_trigger_outcome.items()),
        )
    )
    if not r.updates:
        return [*out, Para("No update has produced a candidate yet.")]
    several = len({u.family for u in r.updates}) > 1  # name the family only when needed
    rows = tuple(
        (
            (f"{u.family} " if several else "")
            + (f"v{u.number}" if u.number is not None else str(u.candidate_id)[:8]),
            _when(u.at),
            u.trigger,
            u.fate,
            num(u.gate_stable),
            num(u.gate_candidate),
            signed(u.gate_bwt),
            signed(u.live.improvement if u.live else None),
            ", ".join(
                f"{k.key} {k.before:.3f}->{k.after:.3f} (n={k.n}, se {k.se:.3f})"
                for k in u.live.keys
            )
            if u.live and u.live.keys
            else NONE,
        )
        for u in r.updates
    )
    headers = (
        "version",
        "when (loop clock)",
        "trigger",
        "fate",
        "gate before",
        "gate after",
        "gate bwt",
        "live improvement",
        "live per key (before->after)",
    )
    return [*out, Table(headers, rows)]


def _versions(r: LearningReport) -> list[Block]:
    out: list[Block] = [Heading("Versions and the traffic they served")]
    if not r.versions:
        return [*out, Para("The tenant has no versions.")]
    rows = tuple(
        (v.family, f"v{v.number}", v.status, str(v.served), str(v.rewarded), num(v.mean_reward))
        for v in r.versions
    )
    return [
        *out,
        Table(("family", "version", "status", "served", "rewarded", "mean reward"), rows),
    ]


def _keys(r: LearningReport) -> list[Block]:
    out: list[Block] = [Heading("Reward per learning key")]
    if not r.keys:
        return [*out, Para("No interactions in this period.")]
    w = r.stability.window
    rows = tuple(
        (
            k.key,
            str(k.interactions),
            str(k.rewarded),
            num(k.mean),
            num(k.first_window),
            num(k.last_window),
            num(k.variance, 5),
        )
        for k in r.keys
    )
    headers = (
        "key",
        "interactions",
        "rewarded",
        "mean reward",
        f"first {w}",
        f"last {w}",
        "window variance",
    )
    return [*out, Table(headers, rows), Image("reward_over_time.png", "Reward over time")]


def _forgetting(r: LearningReport) -> list[Block]:
    out: list[Block] = [Heading("Forgetting per learning key")]
    if not r.forgetting:
        return [
            *out,
            Para(
                "Nothing measured yet: no gate backward transfer and no promotion "
                "with live rewards on an old key."
            ),
        ]
    rows = tuple(
        (
            f.key,
            str(len(f.gate_bwt)),
            signed(f.gate_mean),
            signed(f.gate_worst),
            str(f.caught),
            str(len(f.live_deltas)),
            signed(f.live_mean),
            signed(f.live_worst),
            str(f.live_drops),
            "yes" if f.forgetting else "no",
        )
        for f in r.forgetting
    )
    headers = (
        "key",
        "gate n",
        "gate bwt mean",
        "gate bwt worst",
        "caught by the gate",
        "live n",
        "live mean",
        "live worst",
        "significant live drops",
        f"forgetting shipped (< -{r.forgetting_tolerance:g})",
    )
    return [*out, Table(headers, rows), Image("forgetting_per_key.png", "Forgetting per key")]


def _rollbacks(r: LearningReport) -> list[Block]:
    out: list[Block] = [Heading("Rollbacks")]
    if not r.rollbacks:
        return [*out, Para("No rollout has been rolled back.")]
    rows = tuple(
        (
            _when(b.at),
            b.family,
            f"v{b.number}" if b.number else str(b.candidate_id)[:8],
            b.step,
            b.reason,
        )
        for b in r.rollbacks
    )
    return [*out, Table(("when (loop clock)", "family", "version", "step", "why"), rows)]


def _stability(r: LearningReport) -> list[Block]:
    s = r.stability
    text = (
        f"{s.windows} complete windows of {s.window} rewarded interactions; variance of their "
        f"means {num(s.variance, 5)}. Regressions: {s.regressions}; rollback share "
        f"{num(s.rollback_share)}; mean time between regressions "
        f"{_duration(s.mean_time_between_regressions_s)}."
    )
    return [Heading("Stability"), Para(text)]


def build_document(r: LearningReport) -> list[Block]:
    """Every block of the report, in order."""
    head: list[Block] = [
        Heading(r.title, 1),
        Para(
            f"Tenant {r.tenant}; generated {_when(r.generated_at)}"
            + (f"; data since {_when(r.since)}" if r.since else "")
            + "."
        ),
    ]
    head += [Para(f"Note: {n}") for n in r.notes]
    improvement: list[Block] = [Heading("Improvement per update")]
    improvement.append(
        Image("improvement_per_update.png", "Improvement per update")
        if r.updates
        else Para("No update has produced a candidate yet.")
    )
    feedback: list[Block] = [Heading("Feedback mix")]
    if r.feedback_mix:
        feedback += [
            Table(("feedback", "events"), tuple((k, str(n)) for k, n in r.feedback_mix.items())),
            Image("feedback_mix.png", "Feedback mix"),
        ]
    else:
        feedback.append(Para("No feedback recorded in this period."))
    how: list[Block] = [Heading("How these are computed")]
    how += [
        Para(f"{name}: " + text.format(window=r.stability.window, tolerance=r.forgetting_tolerance))
        for name, text in DEFINITIONS
    ]
    return [
        *head,
        *_summary(r),
        *_updates(r),
        *improvement,
        *_versions(r),
        *_keys(r),
        *_forgetting(r),
        *_stability(r),
        *_rollbacks(r),
        *feedback,
        *how,
    ]

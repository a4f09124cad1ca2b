"""The ratio table: each hot path's Atlas implementation against every baseline, from one run.

Every benchmark sets ``benchmark.group`` (the hot path) and ``benchmark.extra_info["impl"]``
(``"atlas"`` or the baseline's name). A group may declare targets with
``extra_info["targets"] = {"cpprb": 2.0}``: Atlas must be at least that many times faster
than the named baseline. ``extra_info["items"]`` (events per call) adds a throughput column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OURS = "atlas"


@dataclass(frozen=True)
class Timing:
    """One benchmark's result, as this module needs it."""

    group: str
    impl: str
    mean_s: float
    items: int | None
    targets: Mapping[str, float]


@dataclass(frozen=True)
class Ratio:
    """How many times faster Atlas is than one baseline on one hot path."""

    group: str
    baseline: str
    atlas_mean_s: float
    baseline_mean_s: float
    speedup: float
    target: float | None
    atlas_items_per_s: float | None

    @property
    def verdict(self) -> str:
        if self.target is None:
            return ""
        return "met" if self.speedup >= self.target else "MISSED"


def from_pytest_benchmark(benchmarks: Iterable[Any]) -> list[Timing]:
    """Reads pytest-benchmark's result objects (those that actually ran)."""
    out = []
    for bench in benchmarks:
        info = bench.extra_info
        if "impl" not in info or not bench.stats:
            continue
        out.append(
            Timing(
                group=bench.group or bench.name,
                impl=info["impl"],
                mean_s=bench.stats.mean,
                items=info.get("items"),
                targets=info.get("targets", {}),
            )
        )
    return out


def ratios(timings: Iterable[Timing]) -> list[Ratio]:
    """Atlas vs each baseline per group; groups without an Atlas timing are skipped."""
    by_group: dict[str, dict[str, Timing]] = {}
    for t in timings:
        by_group.setdefault(t.group, {})[t.impl] = t
    rows = []
    for group in sorted(by_group):
        impls = by_group[group]
        ours = impls.get(OURS)
        if ours is None:
            continue
        targets = {k: v for t in impls.values() for k, v in t.targets.items()}
        for name in sorted(impls):
            if name == OURS:
                continue
            base = impls[name]
            rows.append(
                Ratio(
                    group=group,
                    baseline=name,
                    atlas_mean_s=ours.mean_s,
                    baseline_mean_s=base.mean_s,
                    speedup=base.mean_s / ours.mean_s,
                    target=targets.get(name),
                    atlas_items_per_s=ours.items / ours.mean_s if ours.items else None,
                )
            )
    return rows


def render(rows: Iterable[Ratio]) -> str:
    """A plain-text table, one line per (hot path, baseline)."""
    header = (
        f"{'hot path':<34} {'baseline':<22} {'atlas':>11} {'baseline':>11} "
        f"{'speed-up':>9} {'target':>7} {'':>6} {'atlas items/s':>14}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        target = f"{r.target:.1f}x" if r.target is not None else ""
        rate = f"{r.atlas_items_per_s:,.0f}" if r.atlas_items_per_s else ""
        lines.append(
            f"{r.group:<34} {r.baseline:<22} {_fmt(r.atlas_mean_s):>11} "
            f"{_fmt(r.baseline_mean_s):>11} {r.speedup:>8.1f}x {target:>7} "
            f"{r.verdict:>6} {rate:>14}"
        )
    return "\n".join(lines)


def _fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.2f} {unit}"
    return f"{seconds / 1e-9:.0f} ns"

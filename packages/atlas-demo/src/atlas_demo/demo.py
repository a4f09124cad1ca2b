"""``atlas demo``: the continual-learning loop end to end, with two baselines beside it.

:func:`run_demo` trains the first model (SFT on the initial skills), then serves the same
simulated traffic with three arms (:mod:`atlas_demo.arms`) round by round, printing what
the loop does as it does it, and returns a :class:`DemoResult` with every figure of the
summary table: computed from what happened, nothing scripted.
"""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from atlas_core.loop import Example, LearningTask, load_learner
from atlas_core.monitoring import DashboardHandle, serve_dashboard
from atlas_core.report import ReportFiles, write_report
from atlas_core.store import Store, open_store
from atlas_demo.arms import AtlasArm, BaseArm, NaiveArm, RoundStats, StaticArm, loop_config
from atlas_demo.serving import accuracy
from atlas_demo.world import (
    ALL_LETTERS,
    OLD_LETTERS,
    Schedule,
    World,
    make_prompt,
    probe_set,
    random_word,
    truth,
)
from atlas_rim.config import RimConfig
from atlas_rim.model import RimRewardModel

__all__ = ["ArmSummary", "DemoResult", "run_demo"]

OLD_SKILLS = ("shift a-h", "reverse")
INITIAL_PER_SKILL = 4000
"""Examples per skill the first model is trained on."""
RECOVERY_TOLERANCE = 0.1
"""Recovered: a round's served accuracy is back within this of the pre-drift accuracy."""


@dataclass
class ArmSummary:
    """The figures of one arm."""

    name: str
    rounds: list[RoundStats]
    phase_accuracy: dict[str, float]
    recovery_events: int | None
    """Requests served from the drift until the first recovered round (None: never)."""
    probes_before: dict[str, float]
    """Production's probe accuracy per skill just before the drift."""
    probes_end: dict[str, float]
    forgetting: float
    """Mean drop of the old skills' probe accuracy from before the drift to the end."""
    promoted: int
    rejected: int
    rolled_back: int
    poisoned_candidates: int
    """Bad updates: candidates that learned from the trolls and got worse (arms.py)."""
    poisoned_reached_full: bool
    """Whether any of them ever served 100 % of the traffic."""
    max_poisoned_weight: float
    """The largest traffic share (%) a poisoned candidate got."""


@dataclass
class DemoResult:
    """Everything the summary shows, per arm (atlas, naive, static)."""

    arms: dict[str, ArmSummary]
    seconds: float
    store_url: str
    initial_probes: dict[str, float] = field(default_factory=dict)
    dashboard_url: str | None = None
    """The live dashboard of the atlas arm while the demo ran (None: not served)."""
    reports: dict[str, ReportFiles] = field(default_factory=dict)
    """The learning-effectiveness report of each arm, written at the end."""


def _initial_examples(seed: int, n: int) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for key, letters in (("shift", OLD_LETTERS), ("reverse", ALL_LETTERS)):
        for _ in range(n):
            prompt = make_prompt(key, random_word(rng, letters))
            out.append(
                Example(
                    id=uuid.UUID(int=rng.getrandbits(128)),
                    learning_key=key,
                    input=[{"role": "user", "content": prompt}],
                    output="",
                    reference=truth(prompt),
                )
            )
    return out


def _probes(arm: BaseArm, probes: dict[str, list[str]]) -> dict[str, float]:
    prod = arm.production()
    return {name: accuracy(prod, prompts) for name, prompts in probes.items()}


def _summarise(
    arm: BaseArm,
    rounds: list[RoundStats],
    before: dict[str, float],
    end: dict[str, float],
    schedule: Schedule,
) -> ArmSummary:
    phases: dict[str, list[float]] = {}
    for r in rounds:
        phases.setdefault(r.phase, []).append(r.accuracy)
    phase_acc = {k: sum(v) / len(v) for k, v in phases.items()}
    first = schedule.phases[0].name
    drift_start = schedule.phases[0].rounds
    baseline = phase_acc[first]
    recovery = None
    for r in rounds[drift_start:]:
        if r.accuracy >= baseline - RECOVERY_TOLERANCE:
            recovery = (r.index - drift_start + 1) * schedule.round_size
            break
    forgetting = sum(before[k] - end[k] for k in OLD_SKILLS) / len(OLD_SKILLS)
    atlas_weight = getattr(arm, "max_poisoned_weight", None)
    reached = arm.reached_full_traffic(arm.poisoned_candidates)
    return ArmSummary(
        name=arm.name,
        rounds=rounds,
        phase_accuracy=phase_acc,
        recovery_events=recovery,
        probes_before=before,
        probes_end=end,
        forgetting=forgetting,
        promoted=arm.promoted,
        rejected=arm.rejected,
        rolled_back=arm.rolled_back,
        poisoned_candidates=len(arm.poisoned_candidates),
        poisoned_reached_full=reached,
        max_poisoned_weight=(
            float(atlas_weight) if atlas_weight is not None else (100.0 if reached else 0.0)
        ),
    )


def run_demo(
    *,
    fast: bool = False,
    seed: int = 0,
    store_url: str | None = None,
    workdir: Path | None = None,
    console: Console | None = None,
    dashboard: bool = True,
    dashboard_port: int = 0,
    report_dir: Path | None = None,
    hold: bool = False,
) -> DemoResult:
    """Runs the demo (see the module docstring); ``store_url`` defaults to a temporary SQLite.

    With ``dashboard`` the atlas arm's live dashboard is served on ``dashboard_port`` (0: a
    free port) while the demo runs, its URL printed first. At the end each arm's
    learning-effectiveness report is written under ``report_dir`` (default: ``report`` in
    the work directory; with neither, no report). ``hold`` keeps the dashboard up after the
    summary until Ctrl-C.
    """
    import torch

    # One thread: on a small shared machine, torch's intra-op threads mostly wait on each other.
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    out = console or Console()
    started = time.perf_counter()
    tmp = tempfile.TemporaryDirectory(prefix="atlas-demo-") if workdir is None else None
    root = Path(tmp.name) if tmp is not None else Path(str(workdir))
    url = store_url or "sqlite:///" + str(root / "demo.db")
    store = open_store(url)
    board: DashboardHandle | None = None
    try:
        if dashboard:
            # The arms write the store; the dashboard reads it on its own connection.
            board = serve_dashboard(url, "atlas", port=dashboard_port)
            # soft_wrap: the link must stay one line to be copied or clicked
            out.print(f"live dashboard (atlas arm): {board.url}", soft_wrap=True)
        reports = report_dir or (Path(str(workdir)) / "report" if workdir is not None else None)
        result = _run(store, url, root, fast, seed, out, started)
        if board is not None:
            result.dashboard_url = board.url
        if reports is not None:
            result.reports = _write_reports(store, reports, out)
        if hold and board is not None:
            _hold(board, out)
        return result
    finally:
        if board is not None:
            board.stop()
        store.close()
        if tmp is not None:
            tmp.cleanup()


def _write_reports(store: Store, root: Path, out: Console) -> dict[str, ReportFiles]:
    """Each arm's learning-effectiveness report under ``root/<arm>``."""
    written = {}
    for tenant in ("atlas", "naive", "static"):
        written[tenant] = write_report(
            store, tenant, root / tenant, title=f"atlas demo: the {tenant} arm"
        )
    atlas = written["atlas"]
    out.print(f"learning report: [cyan]{atlas.html}[/] (report.md beside it; naive, static too)")
    return written


def _hold(board: DashboardHandle, out: Console) -> None:
    out.print(f"dashboard still served at {board.url}; Ctrl-C to stop")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        out.print("stopped")


def _run(
    store: Store, url: str, root: Path, fast: bool, seed: int, out: Console, started: float
) -> DemoResult:
    from atlas_grpo.testing import save_tiny_model

    schedule = Schedule.standard(fast)
    out.rule("[bold]Atlas demo[/]: a tiny local model learns from its users")
    out.print(
        f"store [cyan]{url}[/] · CPU · no API key · seed {seed} · "
        f"{len(schedule.rounds())} rounds of {schedule.round_size} requests · "
        "arms: [bold]atlas[/], naive (no replay, no gate), static (no learning)"
    )
    base = save_tiny_model(root / "base", hidden=64, layers=2, seed=seed)
    options: dict[str, Any] = {
        "artifact_dir": str(root / "artifacts"),
        "model_name": "demo-skills",
        "steps": 250,
        "learning_rate": 1e-3,
        "seed": seed,
    }
    with out.status(
        "SFT of the first model on the initial skills (shift over a-h, reverse over a-p)"
    ):
        # Many examples in large batches, so the first model learns both skills fully
        # whatever the seed. With 400 per skill in batches of 32 most seeds' first models
        # got 35-90 % of the reverse probes right, and a half-learned skill does not survive
        # the next update: the gate then (rightly) rejected every update after the drift.
        warm = load_learner(
            "sft",
            **(
                options
                | {
                    "base_path": str(base),
                    "steps": 1200,
                    "learning_rate": 3e-3,
                    "batch_size": 64,
                }
            ),
        )
        initial_data = _initial_examples(seed, INITIAL_PER_SKILL)
        first = warm.learn(
            LearningTask(
                store, "bootstrap", ("reverse", "shift"), initial_data, (), None, trigger="manual"
            )
        ).candidate
    assert first is not None
    probes = probe_set(seed)
    initial = {name: accuracy(first, prompts) for name, prompts in probes.items()}
    out.print("first model, probe accuracy: " + _fmt(initial))

    rim = RimRewardModel(RimConfig())
    common: dict[str, Any] = {
        "seed": seed,
        "rim": rim,
        "learner_options": options,
        "probes": probes,
    }
    world = World(schedule, seed)
    arms: list[BaseArm] = [
        AtlasArm(
            store,
            "atlas",
            first,
            config=loop_config(schedule.round_size, seed),
            replay_seed=initial_data[:200]
            + initial_data[INITIAL_PER_SKILL : INITIAL_PER_SKILL + 200],
            held_out_seed=_initial_examples(seed + 1, 40),
            log=out.print,
            **common,
        ),
        NaiveArm(store, "naive", first, every=3, batch_size=200, log=out.print, **common),
        StaticArm(store, "static", first, log=out.print, **common),
    ]
    history: dict[str, list[RoundStats]] = {a.name: [] for a in arms}
    before: dict[str, dict[str, float]] = {}
    drift_at = schedule.phases[0].rounds
    rounds = schedule.rounds()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    )
    with progress:
        task = progress.add_task("rounds", total=len(rounds))
        current = None
        for index, phase in enumerate(rounds):
            if phase.name != current:
                current = phase.name
                progress.console.rule(f"phase: {phase.name}")
            if index == drift_at:
                before = {a.name: _probes(a, probes) for a in arms}
            requests = world.requests(index, phase)
            line = []
            for arm in arms:
                stats = arm.serve_round(index, phase, requests)
                history[arm.name].append(stats)
                line.append(f"{arm.name} {stats.accuracy:.2f}")
                for event in stats.events:
                    if arm.name == "atlas":
                        progress.console.print(f"  [magenta]atlas[/] {event}")
                    else:
                        progress.console.print(f"  [dim]{arm.name} {event}[/]")
            atlas_round = history["atlas"][-1]
            share = (
                f" · canary share {atlas_round.candidate_share:.0%}"
                if atlas_round.candidate_share
                else ""
            )
            progress.console.print(
                f"round {index + 1:>2} [{phase.name}] served accuracy: " + " · ".join(line) + share
            )
            progress.advance(task)
    summaries = {}
    for arm in arms:
        arm.close()
        summaries[arm.name] = _summarise(
            arm, history[arm.name], before[arm.name], _probes(arm, probes), schedule
        )
    result = DemoResult(summaries, time.perf_counter() - started, url, initial)
    out.print(summary_table(result, schedule))
    out.print(f"finished in {result.seconds:.0f}s")
    return result


def _fmt(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in values.items())


def summary_table(result: DemoResult, schedule: Schedule) -> Table:
    """The final table: one column per arm."""
    table = Table(title="Atlas vs baselines (same traffic, same learner)")
    table.add_column("")
    for name in result.arms:
        table.add_column(name, justify="right")
    arms = list(result.arms.values())
    for phase in schedule.phases:
        table.add_row(
            f"served accuracy · {phase.name}",
            *[f"{a.phase_accuracy[phase.name]:.2f}" for a in arms],
        )
    table.add_row(
        "requests to recover after drift",
        *["never" if a.recovery_events is None else str(a.recovery_events) for a in arms],
    )
    for skill in OLD_SKILLS:
        table.add_row(
            f"old skill '{skill}' before drift -> end",
            *[f"{a.probes_before[skill]:.2f} -> {a.probes_end[skill]:.2f}" for a in arms],
        )
    table.add_row("forgetting on old skills", *[f"{a.forgetting:+.2f}" for a in arms])
    table.add_row(
        "new letters 'shift i-p' at the end", *[f"{a.probes_end['shift i-p']:.2f}" for a in arms]
    )
    table.add_row(
        "updates promoted / rejected / rolled back",
        *[f"{a.promoted} / {a.rejected} / {a.rolled_back}" for a in arms],
    )
    table.add_row(
        "bad (poisoned) updates: max traffic share",
        *["-" if not a.poisoned_candidates else f"{a.max_poisoned_weight:g}%" for a in arms],
    )
    return table

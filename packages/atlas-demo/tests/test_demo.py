"""`atlas demo --fast` end to end, with assertions on what it shows.

The run is the real one (tiny model, SFT, SQLite store, RIM on the simulated users'
feedback, the loop with its gate and canary); the assertions are on figures it computed:
Atlas recovers after the drift, the update trained on the poisoned burst never serves 100 %
of the traffic (while the naive baseline ships it), and Atlas forgets less than the naive
learner without replay.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from atlas_core.cli import build_app
from atlas_demo.demo import DemoResult, run_demo

LINK = r"(http://127\.0\.0\.1:\d+)/dashboard#token=(\S+)"


@dataclass
class Seen:
    """What the live dashboard answered while the demo ran."""

    interactions: list[int] = field(default_factory=list)
    learning_events: int = 0
    versions: int = 0
    latency_p50_ms: float | None = None


def _watch_dashboard(out: io.StringIO, stop: threading.Event, seen: Seen) -> None:
    """Polls the dashboard's JSON API with the token of the link the demo printed."""
    link = None
    with httpx.Client(timeout=10.0) as client:
        while not stop.wait(0.5):
            if link is None:
                found = re.search(LINK, out.getvalue())
                if found is None:
                    continue
                link = found
            base, token = link.group(1), unquote(link.group(2))
            try:
                got = client.get(
                    f"{base}/v1/dashboard/snapshot", headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TransportError:  # the demo stopped its server at the end
                continue
            assert got.status_code == 200, got.text
            snap = got.json()
            seen.interactions.append(snap["counts"]["interactions"])
            seen.learning_events = max(seen.learning_events, len(snap["learning"]["recent_events"]))
            seen.versions = max(seen.versions, len(snap["learning"]["versions"]))
            seen.latency_p50_ms = snap["performance"]["totals"]["latency_p50_ms"]


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str, Seen]:
    out = io.StringIO()
    workdir = tmp_path_factory.mktemp("demo")
    seen, stop = Seen(), threading.Event()
    watcher = threading.Thread(target=_watch_dashboard, args=(out, stop, seen), daemon=True)
    watcher.start()
    try:
        result = run_demo(fast=True, seed=0, workdir=workdir, console=Console(file=out, width=120))
    finally:
        stop.set()
        watcher.join(timeout=30)
    return result, out.getvalue(), seen


@pytest.mark.slow
def test_atlas_recovers_after_the_drift(fast_run: tuple[DemoResult, str, Seen]) -> None:
    result, _, _ = fast_run
    atlas, static = result.arms["atlas"], result.arms["static"]
    assert atlas.recovery_events is not None
    assert static.recovery_events is None  # the drift is real: without learning, no recovery
    assert atlas.phase_accuracy["after"] >= 0.7
    assert atlas.phase_accuracy["after"] > static.phase_accuracy["after"] + 0.4
    assert atlas.probes_end["shift i-p"] > atlas.probes_before["shift i-p"] + 0.5
    assert atlas.promoted >= 1


@pytest.mark.slow
def test_the_poisoned_update_never_reaches_full_traffic(
    fast_run: tuple[DemoResult, str, Seen],
) -> None:
    result, _, _ = fast_run
    atlas, naive = result.arms["atlas"], result.arms["naive"]
    assert atlas.poisoned_candidates >= 1  # the burst did produce a bad update to stop
    assert not atlas.poisoned_reached_full
    assert atlas.max_poisoned_weight < 100
    assert atlas.rejected + atlas.rolled_back >= 1
    assert naive.poisoned_reached_full  # without gate and canary it ships


@pytest.mark.slow
def test_atlas_forgets_less_than_the_naive_learner(fast_run: tuple[DemoResult, str, Seen]) -> None:
    result, _, _ = fast_run
    assert result.arms["atlas"].forgetting < result.arms["naive"].forgetting
    assert result.arms["atlas"].forgetting < 0.15


@pytest.mark.slow
def test_the_summary_table_is_printed(fast_run: tuple[DemoResult, str, Seen]) -> None:
    _, text, _ = fast_run
    for needle in ("phase: drift", "rejected by the gate", "forgetting on old skills", "static"):
        assert needle in text


@pytest.mark.slow
def test_the_dashboard_showed_the_run_live(fast_run: tuple[DemoResult, str, Seen]) -> None:
    result, _, seen = fast_run
    assert result.dashboard_url is not None
    # Polled while the demo ran: the interaction count grew round after round...
    assert len(set(seen.interactions)) >= 3, seen.interactions
    assert seen.interactions == sorted(seen.interactions)
    # ...and the loop's decisions and versions appeared as they happened.
    assert seen.learning_events >= 1
    assert seen.versions >= 2
    assert seen.latency_p50_ms is not None  # the model's time per request is recorded
    assert seen.latency_p50_ms > 0


@pytest.mark.slow
def test_the_learning_report_is_written_at_the_end(
    fast_run: tuple[DemoResult, str, Seen],
) -> None:
    result, text, _ = fast_run
    assert set(result.reports) == {"atlas", "naive", "static"}
    files = result.reports["atlas"]
    assert files.html is not None
    assert files.markdown is not None
    assert files.html.stat().st_size > 10_000  # the plots are embedded
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in files.images)
    # The report counts what the demo's own summary counts.
    atlas = result.arms["atlas"]
    assert files.report.counts.promotions == atlas.promoted
    assert files.report.counts.gate_rejected == atlas.rejected
    assert files.report.counts.rollbacks == atlas.rolled_back
    assert "learning report:" in text


def test_the_demo_command_is_mounted_and_documented() -> None:
    result = CliRunner().invoke(build_app(), ["demo", "--help"])
    assert result.exit_code == 0, result.output
    assert "--fast" in result.output
    assert "--seed" in result.output


def test_no_learning_without_gold_or_good_reward(tmp_path: Path) -> None:
    from uuid import uuid4

    from atlas_core.loop import Example, LearningTask
    from atlas_grpo.learner import SFTLearner, sft_pairs

    low = Example(uuid4(), "shift", [{"role": "user", "content": "s:ab>"}], "zz", reward=0.2)
    gold = Example(uuid4(), "shift", [{"role": "user", "content": "s:ab>"}], "zz", reference="bc")
    good = Example(uuid4(), "shift", [{"role": "user", "content": "s:cd>"}], "de", reward=0.9)
    assert sft_pairs([low, gold, good], min_reward=0.8) == [("s:ab>", "bc"), ("s:cd>", "de")]
    learner = SFTLearner(artifact_dir=tmp_path, base_path=tmp_path / "none")
    result = learner.learn(LearningTask(None, "t", ("shift",), [low], (), None))  # type: ignore[arg-type]
    assert result.candidate is None
    assert "no example" in result.reason

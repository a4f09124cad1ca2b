"""`atlas demo --fast` end to end, with assertions on what it shows.

The run is the real one (tiny model, SFT, SQLite store, RIM on the simulated users'
feedback, the loop with its gate and canary); the assertions are on figures it computed:
Atlas recovers after the drift, the update trained on the poisoned burst never serves 100 %
of the traffic (while the naive baseline ships it), and Atlas forgets less than the naive
learner without replay.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from atlas_core.cli import build_app
from atlas_demo.demo import DemoResult, run_demo


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, str]:
    out = io.StringIO()
    workdir = tmp_path_factory.mktemp("demo")
    result = run_demo(fast=True, seed=0, workdir=workdir, console=Console(file=out, width=120))
    return result, out.getvalue()


@pytest.mark.slow
def test_atlas_recovers_after_the_drift(fast_run: tuple[DemoResult, str]) -> None:
    result, _ = fast_run
    atlas, static = result.arms["atlas"], result.arms["static"]
    assert atlas.recovery_events is not None
    assert static.recovery_events is None  # the drift is real: without learning, no recovery
    assert atlas.phase_accuracy["after"] >= 0.7
    assert atlas.phase_accuracy["after"] > static.phase_accuracy["after"] + 0.4
    assert atlas.probes_end["shift i-p"] > atlas.probes_before["shift i-p"] + 0.5
    assert atlas.promoted >= 1


@pytest.mark.slow
def test_the_poisoned_update_never_reaches_full_traffic(fast_run: tuple[DemoResult, str]) -> None:
    result, _ = fast_run
    atlas, naive = result.arms["atlas"], result.arms["naive"]
    assert atlas.poisoned_candidates >= 1  # the burst did produce a bad update to stop
    assert not atlas.poisoned_reached_full
    assert atlas.max_poisoned_weight < 100
    assert atlas.rejected + atlas.rolled_back >= 1
    assert naive.poisoned_reached_full  # without gate and canary it ships


@pytest.mark.slow
def test_atlas_forgets_less_than_the_naive_learner(fast_run: tuple[DemoResult, str]) -> None:
    result, _ = fast_run
    assert result.arms["atlas"].forgetting < result.arms["naive"].forgetting
    assert result.arms["atlas"].forgetting < 0.15


@pytest.mark.slow
def test_the_summary_table_is_printed(fast_run: tuple[DemoResult, str]) -> None:
    _, text = fast_run
    for needle in ("phase: drift", "rejected by the gate", "forgetting on old skills", "static"):
        assert needle in text


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

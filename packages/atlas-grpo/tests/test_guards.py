"""Guards: reward-std collapse and KL bound stop the run; healthy models are snapshotted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerControl, TrainerState, TrainingArguments

from atlas_grpo.config import GuardConfig
from atlas_grpo.guards import GuardCallback


class FakeModel:
    """Records save_pretrained calls (the guard needs nothing else of a model)."""

    def __init__(self) -> None:
        self.saved: list[Path] = []

    def save_pretrained(self, path: Path) -> None:
        self.saved.append(Path(path))


def feed(guard: GuardCallback, logs: list[dict[str, Any]], model: Any = None) -> list[bool]:
    """Sends training logs one step apart; the stop flag after each."""
    args = TrainingArguments(output_dir="unused", report_to="none")
    state = TrainerState()
    stops = []
    for step, log in enumerate(logs, start=1):
        state.global_step = step
        control = TrainerControl()
        guard.on_log(args, state, control, logs=log, model=model)
        stops.append(control.should_training_stop)
    return stops


def test_reward_std_collapse_stops_after_patience(tmp_path: Path) -> None:
    guard = GuardCallback(GuardConfig(reward_std_patience=3, snapshot_every=1), tmp_path / "good")
    model = FakeModel()
    stops = feed(
        guard,
        [
            {"reward_std": 0.3},
            {"reward_std": 0.0},
            {"reward_std": 0.0},
            {"reward_std": 0.2},
            {"reward_std": 0.0},
            {"reward_std": 0.0},
            {"reward_std": 0.0},
        ],
        model,
    )
    assert stops == [False, False, False, False, False, False, True]
    assert guard.tripped == "reward_std_collapse"
    assert "3 consecutive logs at step 7" in guard.reason
    assert guard.last_good_step == 4
    assert guard.snapshot_step == 4
    assert model.saved == [tmp_path / "good", tmp_path / "good"]


def test_kl_bound_stops_at_once_and_ignores_non_training_logs(tmp_path: Path) -> None:
    guard = GuardCallback(GuardConfig(max_kl=0.5, snapshot_every=2), tmp_path / "good")
    model = FakeModel()
    stops = feed(
        guard,
        [
            {"reward_std": 0.3, "kl": 0.1},
            {"loss": 1.0},
            {"reward_std": 0.3, "kl": 0.2},
            {"reward_std": 0.3, "kl": 0.9},
        ],
        model,
    )
    assert stops == [False, False, False, True]
    assert guard.tripped == "kl_bound"
    assert "kl 0.9 > 0.5 at step 4" in guard.reason
    assert guard.snapshot_step == 3  # every second healthy log
    assert len(model.saved) == 1


def test_no_kl_bound_and_nan_std_counts_as_collapse(tmp_path: Path) -> None:
    guard = GuardCallback(GuardConfig(reward_std_patience=1), tmp_path / "good")
    assert feed(guard, [{"reward_std": 0.3, "kl": 99.0}]) == [False]
    assert feed(guard, [{"reward_std": float("nan")}]) == [True]
    assert guard.snapshot_step is None  # no model was given to save

"""The `loop:` section of the configuration: YAML, environment, validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from atlas_core.config import load_config
from atlas_core.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ATLAS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_yaml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = load_config().loop
    assert default.rollout.canary_steps == (1.0, 5.0, 10.0, 25.0, 50.0, 100.0)
    assert default.scheduler.drift_detector == "adwin"
    path = tmp_path / "atlas.yaml"
    path.write_text(
        "loop:\n  learner: sft\n  rollout:\n    canary_steps: [10, 100]\n"
        "  selection:\n    replay_ratio: 0.5\n"
    )
    monkeypatch.setenv("ATLAS_LOOP__GATE__MAX_KEY_REGRESSION", "0.1")
    cfg = load_config(path).loop
    assert cfg.learner == "sft"
    assert cfg.rollout.canary_steps == (10.0, 100.0)
    assert cfg.selection.replay_ratio == 0.5
    assert cfg.gate.max_key_regression == 0.1


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("[5, 1, 100]", "must increase"),
        ("[5, 50]", "last canary step must be 100"),
        ("[0, 100]", "percentage in (0, 100]"),
    ],
)
def test_bad_canary_steps_are_named(tmp_path: Path, steps: str, message: str) -> None:
    path = tmp_path / "atlas.yaml"
    path.write_text(f"loop:\n  rollout:\n    canary_steps: {steps}\n")
    with pytest.raises(ConfigError, match="canary_steps") as info:
        load_config(path)
    assert message in str(info.value)


def test_unknown_loop_keys_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "atlas.yaml"
    path.write_text("loop:\n  schedular:\n    min_samples: 3\n")
    with pytest.raises(ConfigError, match="schedular"):
        load_config(path)

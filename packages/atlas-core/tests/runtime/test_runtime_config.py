"""The runtime section of the configuration: defaults, YAML and environment, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_core.config import load_config
from atlas_core.config.models import RuntimeConfig
from atlas_core.errors import ConfigError


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("ATLAS_CONFIG", "ATLAS_STORE_URL"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert config.runtime == RuntimeConfig()
    assert (config.runtime.auto_threshold, config.runtime.coach_threshold) == (0.8, 0.5)
    monkeypatch.setenv("ATLAS_RUNTIME__TEACHER__BASE_URL", "http://gpu:8000/v1")
    monkeypatch.setenv("ATLAS_RUNTIME__TEACHER__MODEL", "teacher-8b")
    monkeypatch.setenv("ATLAS_RUNTIME__AUTO_THRESHOLD", "0.9")
    runtime = load_config().runtime
    assert runtime.teacher is not None
    assert runtime.teacher.model == "teacher-8b"
    assert runtime.auto_threshold == 0.9


def test_yaml_and_errors_name_the_field(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ATLAS_STORE_URL", raising=False)
    path = tmp_path / "atlas.yaml"
    path.write_text("runtime:\n  min_history: 10\n  playbook_token_budget: 64\n")
    runtime = load_config(path).runtime
    assert (runtime.min_history, runtime.playbook_token_budget) == (10, 64)
    path.write_text("runtime:\n  coach_threshold: 0.9\n  auto_threshold: 0.5\n")
    with pytest.raises(ConfigError, match="coach_threshold"):
        load_config(path)
    path.write_text("runtime:\n  lanes: 3\n")
    with pytest.raises(ConfigError, match=r"runtime\.lanes"):
        load_config(path)

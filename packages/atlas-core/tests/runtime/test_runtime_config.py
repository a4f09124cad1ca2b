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


def test_runtime_from_config_builds_chat_agents(tmp_path: Path) -> None:
    from atlas_core.config.models import LLMEndpointConfig
    from atlas_core.runtime import ChatAgent, Runtime
    from atlas_core.store import open_store
    from atlas_core.testing.openai_server import FakeLLMServer

    def answer(call: object) -> str:
        return "VERDICT: OK"

    with (
        FakeLLMServer(answer) as server,
        open_store(f"sqlite:///{tmp_path / 'a.db'}") as store,
    ):
        endpoint = LLMEndpointConfig(base_url=server.base_url, model="m", max_retries=0)
        config = RuntimeConfig(student=endpoint, teacher=endpoint.model_copy(update={"model": "t"}))
        with Runtime.from_config(config, store=store) as runtime:
            assert isinstance(runtime.student, ChatAgent)
            assert runtime.student.name == "m"
            assert isinstance(runtime.teacher, ChatAgent)
            assert runtime.teacher.name == "t"
            outcome = runtime.run("anything")
        assert outcome.lane == "paired"
        assert outcome.errors == []
        assert sorted({c.model for c in server.calls}) == ["m", "t"]
        with pytest.raises(ConfigError, match=r"runtime\.student"):
            Runtime.from_config(RuntimeConfig(), store=store)

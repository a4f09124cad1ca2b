"""Learner discovery through a real ``atlas.plugins`` entry point, and its errors."""

from __future__ import annotations

import sys
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import pytest

from atlas_core import plugins
from atlas_core.errors import InvalidArgumentError, PluginError
from atlas_core.loop import Learner, LearnerResult, LearningTask, load_learner
from atlas_core.plugins import Plugin

PLUGIN_SOURCE = """
from atlas_core.loop import LearnerResult
from atlas_core.plugins import Plugin


class Echo:
    def __init__(self, greeting="hi"):
        self.name = "echo"
        self.greeting = greeting

    def learn(self, task):
        return LearnerResult.no_change(self.greeting, samples_used=len(task.train))


plugin = Plugin(name="loop-test", version="0.0.1", learners={"echo": Echo, "broken": dict})
"""


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Plugin]:
    """A distribution installed into a temporary path with an atlas.plugins entry point."""
    (tmp_path / "loop_test_plugin.py").write_text(PLUGIN_SOURCE)
    info = tmp_path / "loop_test_plugin-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: loop-test-plugin\nVersion: 0.0.1\n"
    )
    (info / "entry_points.txt").write_text("[atlas.plugins]\nloop-test = loop_test_plugin:plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (dist,) = list(distributions(path=[str(tmp_path)]))
    eps = [ep for ep in dist.entry_points if ep.group == plugins.ENTRY_POINT_GROUP]
    yield plugins.discover(eps)
    sys.modules.pop("loop_test_plugin", None)


def test_a_learner_is_found_by_name_through_its_entry_point(
    installed: dict[str, Plugin], store: Any
) -> None:
    learner = load_learner("echo", installed, greeting="hello")
    assert isinstance(learner, Learner)
    assert learner.name == "echo"
    task = LearningTask(store, "default", ("k",), [], [], None)
    result = learner.learn(task)
    assert result == LearnerResult(candidate=None, samples_used=0, reason="hello")


def test_unknown_and_malformed_learners_are_named(installed: dict[str, Plugin]) -> None:
    with pytest.raises(
        InvalidArgumentError, match="no learner named 'sft'; installed: broken, echo"
    ):
        load_learner("sft", installed)
    with pytest.raises(PluginError, match="'broken' built dict"):
        load_learner("broken", installed)
    with pytest.raises(InvalidArgumentError, match="installed: none installed"):
        load_learner("echo", {})

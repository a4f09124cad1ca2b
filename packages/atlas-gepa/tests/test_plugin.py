"""The package is found by core through its entry point, with its learner and command."""

import pytest

from atlas_core import plugins
from atlas_core.errors import InvalidArgumentError
from atlas_core.llm import Endpoint
from atlas_core.loop.learner import load_learner
from atlas_core.plugins import Plugin
from atlas_core.runtime import FunctionAgent
from atlas_gepa import __version__
from atlas_gepa.cli import optimize_app
from atlas_gepa.learner import GepaLearner
from atlas_gepa.scoring import GoldScorer


def test_entry_point_is_discovered() -> None:
    found = plugins.discover()
    assert "gepa" in found
    plugin: Plugin = found["gepa"]
    assert plugin.version == __version__
    assert plugin.learners["gepa"] is GepaLearner
    assert plugin.commands["optimize"] is optimize_app
    assert plugins.learners()["gepa"] is GepaLearner


def test_the_learner_refuses_an_unknown_role() -> None:

    with pytest.raises(InvalidArgumentError, match="nonsense"):
        load_learner(
            "gepa",
            student=FunctionAgent(str),
            scorer=GoldScorer(),
            reflection=Endpoint("http://127.0.0.1:9/v1", "r"),
            run_root="/tmp/unused",
            role="nonsense",
        )

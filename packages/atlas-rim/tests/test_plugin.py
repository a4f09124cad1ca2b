"""atlas-rim registers the ``rim`` reward model and the ``atlas rim`` command group."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from atlas_core import plugins
from atlas_core.cli import build_app
from atlas_core.rewards import RewardModel, load_reward_model
from atlas_rim.model import RimRewardModel


def test_reward_model_factory_takes_a_path_a_mapping_or_nothing(tmp_path: Path) -> None:
    assert "rim" in plugins.reward_models()
    default = load_reward_model("rim")
    assert isinstance(default, RimRewardModel)
    assert isinstance(default, RewardModel)
    path = tmp_path / "rim.yaml"
    path.write_text("quality_threshold: 0.7\n")
    assert load_reward_model("rim", config=path).config.quality_threshold == 0.7  # type: ignore[attr-defined]
    from_mapping = load_reward_model("rim", config={"signals": {"prior": 0.2}})
    assert from_mapping.config.signals.prior == 0.2  # type: ignore[attr-defined]


def test_atlas_rim_is_mounted() -> None:
    result = CliRunner().invoke(build_app(), ["rim", "--help"])
    assert result.exit_code == 0, result.output
    assert "eval" in result.output
    assert "score" in result.output


def test_package_exports_load_on_first_use() -> None:
    import atlas_rim
    from atlas_rim import model, store_scoring

    assert atlas_rim.RimRewardModel is model.RimRewardModel
    assert atlas_rim.score_store is store_scoring.score_store
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = atlas_rim.nope

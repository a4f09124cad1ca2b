"""`atlas train sft|grpo --config FILE` end to end on CPU over an embedded SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from grpo_testdata import seed_task, tiny_config, write_config
from typer.testing import CliRunner

from atlas_core.cli import build_app
from atlas_core.store import Store, open_store
from atlas_core.types import VersionKind, VersionStatus
from atlas_grpo.testing import ShiftTask

runner = CliRunner()


def test_train_group_is_mounted_from_the_plugin() -> None:
    result = runner.invoke(build_app(), ["train", "--help"])
    assert result.exit_code == 0, result.output
    assert "sft" in result.output
    assert "grpo" in result.output


@pytest.mark.slow
def test_sft_then_grpo_commands_register_candidates(
    store: Store, tiny_model_dir: Path, tmp_path: Path
) -> None:
    task = ShiftTask()
    seed_task(store, task.prompts(24, seed=7), reward=0.9)
    url = store.url
    store.close()  # the commands open the store themselves, from the config's URL

    sft_cfg = write_config(
        tmp_path / "sft.yaml", tiny_config(tiny_model_dir, url, tmp_path / "sft", max_steps=2)
    )
    result = runner.invoke(build_app(), ["train", "sft", "--config", str(sft_cfg)])
    assert result.exit_code == 0, result.output

    grpo_raw = tiny_config(tmp_path / "sft" / "final", "sqlite:///nowhere.db", tmp_path / "grpo")
    grpo_raw["tracking"] = {"console": True}
    grpo_cfg = write_config(tmp_path / "grpo.yaml", grpo_raw)
    result = runner.invoke(
        build_app(), ["train", "grpo", "--config", str(grpo_cfg), "--store", url]
    )
    assert result.exit_code == 0, result.output
    assert "candidate" in result.output
    assert "shift-model v2" in result.output

    with open_store(url) as reopened:
        versions = reopened.versions("default", VersionKind.MODEL, "shift-model")
        assert [v.number for v in versions] == [1, 2]
        assert all(v.status is VersionStatus.CANDIDATE for v in versions)
        assert "eval/match" in versions[0].metrics
        assert "eval/reward" in versions[1].metrics
        assert versions[1].artifact_uri == (tmp_path / "grpo" / "final").resolve().as_uri()
        runs = reopened.learning_runs("default")
        assert [(r.learner, r.outcome) for r in runs] == [
            ("sft", "candidate"),
            ("grpo", "candidate"),
        ]
        assert (tmp_path / "grpo" / "final" / "model.safetensors").is_file()


def test_bad_config_and_empty_data_fail_with_the_reason(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {name_or_path: m}\ntraining: {max_step: 3}\n", encoding="utf-8")
    result = runner.invoke(build_app(), ["train", "grpo", "--config", str(bad)])
    assert result.exit_code == 2
    assert "training.max_step" in result.output

    url = "sqlite:///" + str(tmp_path / "empty.db")
    empty = write_config(tmp_path / "e.yaml", tiny_config(tiny_model_dir, url, tmp_path / "o"))
    result = runner.invoke(build_app(), ["train", "grpo", "--config", str(empty)])
    assert result.exit_code == 2
    assert "no GRPO rows for tenant 'default'" in result.output

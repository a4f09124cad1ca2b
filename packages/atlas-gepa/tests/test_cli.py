"""``atlas optimize gepa --config FILE`` through core's CLI, mounted from the plugin."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from atlas_core.cli import build_app
from atlas_core.store import open_store
from atlas_core.testing.openai_server import FakeLLMServer
from atlas_core.types import VersionKind
from atlas_gepa.testing import gepa_config, seed_store


def test_optimize_gepa_runs_from_a_config_file(tmp_path: Path, server: FakeLLMServer) -> None:
    seed_store(tmp_path / "atlas.db").close()
    config = tmp_path / "gepa.yaml"
    config.write_text(yaml.safe_dump(gepa_config(tmp_path, server)))

    result = CliRunner().invoke(build_app(), ["optimize", "gepa", "--config", str(config), "-q"])

    assert result.exit_code == 0, result.output
    assert "best score" in result.output
    assert "candidate version atlas.runtime.student@1" in result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["best_score"] == 1.0
    with open_store("sqlite:///" + str(tmp_path / "atlas.db")) as store:
        [version] = store.versions("default", VersionKind.PROMPT, "atlas.runtime.student")
    assert summary["versions"][0]["id"] == str(version.id)


def test_a_bad_config_exits_2_naming_the_field(tmp_path: Path, server: FakeLLMServer) -> None:
    data = gepa_config(tmp_path, server)
    data["concurrency"] = 0
    data["target_roles"] = ["student", "nonsense"]
    config = tmp_path / "gepa.yaml"
    config.write_text(yaml.safe_dump(data))

    result = CliRunner().invoke(build_app(), ["optimize", "gepa", "--config", str(config)])

    assert result.exit_code == 2
    assert "concurrency" in result.output
    assert "target_roles" in result.output
    missing = CliRunner().invoke(
        build_app(), ["optimize", "gepa", "--config", str(tmp_path / "nope.yaml")]
    )
    assert missing.exit_code == 2
    assert "not found" in missing.output

"""`atlas config show|fields`: effective values, masked secrets, every field documented."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from atlas_core.cli import build_app
from atlas_core.cli_config import field_docs

runner = CliRunner()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ATLAS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_show_merges_and_masks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "atlas.yaml").write_text(
        "store:\n  url: postgresql://atlas:pw-123@db/atlas\n"
        "feedback_tokens:\n  secret: s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ATLAS_SERVE__HTTP_PORT", "8081")
    result = runner.invoke(build_app(), ["config", "show"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.output)
    assert shown["serve"]["http_port"] == 8081
    assert shown["store"]["url"] == "postgresql://atlas:***@db/atlas"
    assert "s3cr3t" not in result.output
    assert "pw-123" not in result.output


def test_show_reports_bad_config(tmp_path: Path) -> None:
    (tmp_path / "atlas.yaml").write_text("serve:\n  http_port: -5\n", encoding="utf-8")
    result = runner.invoke(build_app(), ["config", "show"])
    assert result.exit_code == 1
    assert "serve.http_port" in result.output


def test_fields_lists_every_leaf_with_its_variable() -> None:
    result = runner.invoke(build_app(), ["config", "fields"])
    assert result.exit_code == 0
    docs = dict(field_docs())
    assert "serve.rate_limit_burst" in docs
    for path, description in docs.items():
        assert description, path
        assert path in result.output
    assert "ATLAS_SERVE__HTTP_PORT" in result.output

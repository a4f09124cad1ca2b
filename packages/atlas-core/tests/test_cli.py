"""The `atlas` CLI lists its commands and the installed plugins."""

from __future__ import annotations

from typer.testing import CliRunner

from atlas_core.cli import build_app

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(build_app(), ["--help"])
    assert result.exit_code == 0
    assert "plugins" in result.output
    assert "version" in result.output


def test_plugins_lists_every_sibling() -> None:
    result = runner.invoke(build_app(), ["plugins"])
    assert result.exit_code == 0
    for name in ("memory", "rim", "gepa", "grpo"):
        assert name in result.output

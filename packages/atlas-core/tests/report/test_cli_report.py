"""`atlas report` through typer's CliRunner, on the real loop history in SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from atlas_core.cli import build_app

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ATLAS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(build_app(), list(args))
    assert result.exit_code == code, result.output
    return result.output


def test_report_writes_both_formats(history: Any, tmp_path: Path) -> None:
    out = tmp_path / "r"
    text = _run(
        "report", "--store", history.url, "--tenant", "acme", "--out", str(out), "--window", "10"
    )
    assert "5 updates, 2 promoted, 2 rolled back; average live improvement +0.300" in text
    assert f"wrote {out / 'report.md'}" in text
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "reward_over_time.png").read_bytes()[:4] == b"\x89PNG"
    assert "| average live improvement (promoted) | +0.300 |" in (out / "report.md").read_text()


def test_store_from_config_since_and_format(history: Any, tmp_path: Path) -> None:
    config = tmp_path / "atlas.yaml"
    config.write_text(f"store:\n  url: {history.url}\n")
    since = history.results[2].run.created_at.isoformat()
    out = tmp_path / "late"
    text = _run(
        "report", "--config", str(config), "--tenant", "acme", "--out", str(out),
        "--since", since, "--format", "md", "--title", "Late",
    )  # fmt: skip
    assert "3 updates, 0 promoted, 2 rolled back; average live improvement n/a" in text
    assert sorted(p.suffix for p in out.iterdir()) == [".md", ".png", ".png", ".png", ".png"]
    assert (out / "report.md").read_text().startswith("# Late\n")


def test_bad_input_is_one_line_and_exit_1(history: Any, tmp_path: Path) -> None:
    base = ["report", "--store", history.url, "--tenant", "acme", "--out", str(tmp_path / "x")]
    assert "error: --since: not an ISO 8601" in _run(*base, "--since", "yesterday", code=1)
    assert "error: formats: must be one or more of md, html" in _run(
        *base, "--format", "pdf", code=1
    )
    assert "error: window: must be >= 1" in _run(*base, "--window", "0", code=1)
    assert not (tmp_path / "x").exists()


def test_the_cli_does_not_load_matplotlib_until_a_report_is_drawn() -> None:
    code = "import sys, atlas_core.cli, atlas_core.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

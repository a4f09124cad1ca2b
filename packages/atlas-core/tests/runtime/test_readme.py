"""The root README's "Wrap an agent" snippet runs as written, against the fixture server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from atlas_core.store import open_store
from atlas_core.testing.openai_server import ChatCall, FakeLLMServer

README = Path(__file__).parents[4] / "README.md"


def teacher(call: ChatCall) -> str:
    if "reviewing a student's answer" in call.last_user:
        return "VERDICT: OK" if "answer:\n5\n" in call.last_user else "VERDICT: REVISE\nAdd them."
    return "Count on from 2 by 3.\nLESSON: Count on from the larger number."


def test_readme_snippet_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    section = README.read_text().split("## Wrap an agent", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    with FakeLLMServer(teacher) as server:
        monkeypatch.setenv("ATLAS_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("ATLAS_LLM_MODEL", "llama3.2")
        exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme"})
        assert len(server.calls) >= 2  # the teacher was asked in the paired and coach lanes
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("auto '5'")
    assert "paired" in out
    assert "coach" in out
    with open_store(f"sqlite:///{tmp_path / 'atlas.db'}") as store:
        frame = store.interactions("default")
    assert frame.height == 4
    lanes = [json.loads(m)["lane"] for m in frame["metadata"]]
    assert lanes == ["auto", "paired", "coach", "paired"]
    assert frame.filter(pl.col("prompt_version").is_null()).height == 0

"""The atlas-core README's telemetry snippet runs as written, against a real receiver."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from atlas_core.sdk import reset_default

README = Path(__file__).parents[2] / "README.md"


def test_the_live_export_snippet_runs(
    receiver: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = README.read_text().split("## Telemetry", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert "http://localhost:4318/v1/traces" in block
    monkeypatch.chdir(tmp_path)
    code = block.replace("http://localhost:4318/v1/traces", receiver.url)
    try:
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    finally:
        reset_default()
    (root,) = receiver.spans
    assert root.name == "invoke_agent support"
    assert root.attributes["gen_ai.request.model"] == "m1"

"""The GPU benchmark script runs end to end on the CPU with the tiny model (no GPU figures)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from benchmarks.gpu import grpo_overhead


@pytest.mark.slow
def test_benchmark_script_runs_all_three_arms_on_cpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    results = grpo_overhead.main(
        [
            "--model", "tiny", "--device", "cpu", "--steps", "2", "--warmup", "1", "--repeats", "1",
            "--batch", "8", "--generations", "4", "--completion", "6", "--json", str(out),
        ]
    )  # fmt: skip
    assert [r.arm for r in results] == ["trl", "atlas", "atlas+teaching"]
    for r in results:
        assert r.steps_timed == 2
        assert r.step_time_s > 0
        assert math.isfinite(r.step_time_s)
        assert r.tokens_per_s > 0
        assert r.peak_memory_gib is None  # no accelerator: no peak memory figure
    table = capsys.readouterr().out
    assert "GRPO step cost on cpu" in table
    assert "atlas+teaching" in table
    assert "vs trl" in table
    saved = json.loads(out.read_text())
    assert [r["arm"] for r in saved["results"]] == ["trl", "atlas", "atlas+teaching"]

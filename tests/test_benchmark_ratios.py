"""The ratio table computes speed-ups and verdicts correctly."""

from __future__ import annotations

from benchmarks.ratios import Timing, ratios, render


def test_speedup_target_and_throughput() -> None:
    rows = ratios(
        [
            Timing("sample", "atlas", 0.001, 256, {"cpprb": 2.0, "torchrl": 10.0}),
            Timing("sample", "cpprb", 0.003, None, {}),
            Timing("sample", "torchrl", 0.005, None, {}),
            Timing("orphan", "numpy", 0.1, None, {}),
        ]
    )
    assert [(r.baseline, round(r.speedup, 6), r.verdict) for r in rows] == [
        ("cpprb", 3.0, "met"),
        ("torchrl", 5.0, "MISSED"),
    ]
    assert rows[0].atlas_items_per_s == 256_000
    table = render(rows)
    assert "MISSED" in table
    assert "3.0x" in table

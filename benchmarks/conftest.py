"""Prints the ratio table (Atlas vs baselines) at the end of a benchmark run.

Run the suite with timing on: ``uv run pytest benchmarks --benchmark-enable``.
In the normal test run benchmarks are disabled and each body runs once as a smoke test.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import ratios


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or session.disabled or not session.benchmarks:
        return
    rows = ratios.ratios(ratios.from_pytest_benchmark(session.benchmarks))
    if rows:
        terminalreporter.section("Atlas vs baselines (speed-up = baseline time / atlas time)")
        terminalreporter.write_line(ratios.render(rows))

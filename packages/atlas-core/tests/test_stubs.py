"""The hand-written `_native.pyi` stub matches the built extension (mypy.stubtest)."""

from __future__ import annotations

import subprocess
import sys


def test_native_stub_matches_built_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "atlas_core._native", "--ignore-disjoint-bases"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr

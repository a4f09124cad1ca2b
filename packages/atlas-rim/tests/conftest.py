"""Fixtures of the atlas-rim tests; shared builders live in rim_testkit.py beside this file."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_core.store import Store, open_store

# --import-mode=importlib does not put test folders on sys.path.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite store in a temporary folder."""
    with open_store("sqlite:///" + str(tmp_path / "rim.db")) as opened:
        yield opened

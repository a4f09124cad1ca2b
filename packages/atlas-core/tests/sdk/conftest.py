"""Fixtures for the SDK tests: a real SQLite store on tmp_path and recorders on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_core.sdk import EmbeddedTransport, Recorder
from atlas_core.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'atlas.db'}")
    yield opened
    opened.close()


@pytest.fixture
def recorder(store: Store) -> Iterator[Recorder]:
    rec = Recorder(EmbeddedTransport(store, flush_interval=0.01))
    yield rec
    rec.close(timeout=10)

"""Store fixtures: every shared test runs against SQLite and a throwaway PostgreSQL."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from atlas_core.store import Store, open_store
from atlas_memory.throwaway_postgres import ThrowawayPostgres, find_bin_dir

# Tests import their shared builders from memory_testdata.py beside this file
# (--import-mode=importlib does not put test folders on sys.path).
sys.path.insert(0, str(Path(__file__).parent))

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[ThrowawayPostgres]:
    if find_bin_dir() is None:
        message = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the PostgreSQL tests")
        pytest.skip(message + ": skipping the PostgreSQL tests")
    with ThrowawayPostgres() as server:
        yield server


def fresh_database(server: ThrowawayPostgres) -> str:
    """A new empty database on the server; its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return server.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('store') / 'atlas.db'}"
    return fresh_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()

"""What atlas-memory contributes to Atlas, found through ``atlas.plugins``."""

from __future__ import annotations

from typing import Any

from atlas_core.plugins import Plugin
from atlas_memory import __version__


def _sqlite(url: str) -> Any:
    from atlas_memory.sqlite.store import open_sqlite

    return open_sqlite(url)


def _postgresql(url: str) -> Any:
    # Imported on use: psycopg is only loaded by processes that talk to PostgreSQL.
    from atlas_memory.postgres.store import open_postgres

    return open_postgres(url)


PLUGIN = Plugin(
    name="memory", version=__version__, stores={"sqlite": _sqlite, "postgresql": _postgresql}
)

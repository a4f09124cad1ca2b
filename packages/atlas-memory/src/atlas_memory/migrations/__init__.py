"""Versioned SQL migrations, one folder per dialect.

Files are named ``NNNN_description.sql``; ``NNNN`` is the schema version the file
brings the database to. Applied files are never edited: a change is a new file.
The applied versions are recorded in the ``atlas_schema`` table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from atlas_core.store import SchemaVersionError

Dialect = Literal["sqlite", "postgresql"]

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str


def migrations(dialect: Dialect) -> list[Migration]:
    """The dialect's migrations in version order; versions must be 1, 2, 3, ... without gaps."""
    found = []
    for entry in resources.files(__package__).joinpath(dialect).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} migrations are not numbered 1..n: {[m.name for m in found]}")
    return found


def latest(dialect: Dialect) -> int:
    """The schema version this code writes."""
    return len(migrations(dialect))


def pending(dialect: Dialect, current: int) -> list[Migration]:
    """Migrations to apply to a database at ``current``; refuses a newer database."""
    known = latest(dialect)
    if current > known:
        raise SchemaVersionError(
            f"the database has schema version {current}, but this atlas-memory knows only up to "
            f"{known}: it was written by a newer Atlas; upgrade atlas-memory to open it"
        )
    return [m for m in migrations(dialect) if m.version > current]

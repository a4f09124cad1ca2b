"""Migration files: numbering, statement splitting, both dialects in step."""

from __future__ import annotations

import re

import pytest

from atlas_core.store import SchemaVersionError
from atlas_memory.migrations import latest, migrations, pending
from atlas_memory.migrations.apply_sqlite import split_statements


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_files_are_numbered_from_one(dialect: str) -> None:
    found = migrations(dialect)  # type: ignore[arg-type]
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert latest(dialect) == len(found)  # type: ignore[arg-type]


def test_dialects_create_the_same_tables() -> None:
    def tables(dialect: str) -> set[str]:
        sql = "\n".join(m.sql for m in migrations(dialect))  # type: ignore[arg-type]
        return set(re.findall(r"CREATE TABLE (\w+)", sql))

    assert tables("sqlite") == tables("postgresql")
    assert {
        "interactions",
        "feedback",
        "rewards",
        "versions",
        "version_aliases",
        "learning_runs",
        "replay_priorities",
        "tenants",
        "api_keys",
    } <= tables("sqlite")


def test_pending_and_newer_database() -> None:
    assert [m.version for m in pending("sqlite", 0)] == list(range(1, latest("sqlite") + 1))
    assert pending("sqlite", latest("sqlite")) == []
    with pytest.raises(SchemaVersionError, match="newer Atlas"):
        pending("sqlite", latest("sqlite") + 1)


def test_split_statements() -> None:
    script = "-- comment\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nCREATE INDEX i ON a (x);\n"
    assert split_statements(script) == [
        "-- comment\nCREATE TABLE a (x TEXT DEFAULT ';');",
        "CREATE INDEX i ON a (x);",
    ]
    with pytest.raises(ValueError, match="incomplete"):
        split_statements("CREATE TABLE b (x")

"""The columns of the three hot tables: one schema for the stores, validation and the server.

The column order here is the order of the SQL tables, of the INSERT/COPY column
lists and of the frames reads return. Storage types: ids are 16-byte UUIDv7
(BLOB in SQLite, UUID in PostgreSQL), times integer Unix nanoseconds UTC, JSON
values JSON text. A *storage frame* of a table is a polars frame with exactly its
columns, in order, of the dtypes :func:`storage_schema` gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import polars as pl

__all__ = [
    "FEEDBACK",
    "INTERACTIONS",
    "POLARS_TYPE",
    "REWARDS",
    "TABLES",
    "Column",
    "Kind",
    "polars_schema",
    "storage_schema",
]

Kind = Literal["id", "text", "json", "float", "int", "bool", "time"]

POLARS_TYPE: dict[Kind, pl.DataType] = {
    "id": pl.Binary(),
    "text": pl.String(),
    "json": pl.String(),
    "float": pl.Float64(),
    "int": pl.Int64(),
    "bool": pl.Boolean(),
    "time": pl.Int64(),
}


@dataclass(frozen=True)
class Column:
    """One stored column: its name, kind, whether it may be null, and its default."""

    name: str
    kind: Kind
    nullable: bool = False
    default: object = None
    """Filled in when a batch frame omits the column; None means the column is required."""

    @property
    def dtype(self) -> pl.DataType:
        """Its polars dtype in a storage frame."""
        return POLARS_TYPE[self.kind]


INTERACTIONS: tuple[Column, ...] = (
    Column("id", "id"),
    Column("tenant_id", "text", default="default"),
    Column("session_id", "text", nullable=True),
    Column("user_id", "text", nullable=True),
    Column("learning_key", "text", default="default"),
    Column("model_version", "text", nullable=True),
    Column("prompt_version", "text", nullable=True),
    Column("input", "json"),
    Column("output", "text"),
    Column("latency_ms", "float", nullable=True),
    Column("prompt_tokens", "int", nullable=True),
    Column("completion_tokens", "int", nullable=True),
    Column("metadata", "json", default="{}"),
    Column("created_at", "time"),
)

FEEDBACK: tuple[Column, ...] = (
    Column("id", "id"),
    Column("tenant_id", "text", default="default"),
    Column("interaction_id", "id"),
    Column("user_id", "text", nullable=True),
    Column("kind", "text"),
    Column("name", "text", nullable=True),
    Column("value", "float", nullable=True),
    Column("scale_min", "float", nullable=True),
    Column("scale_max", "float", nullable=True),
    Column("text", "text", nullable=True),
    Column("source", "text", default="user"),
    Column("metadata", "json", default="{}"),
    Column("created_at", "time"),
)

REWARDS: tuple[Column, ...] = (
    Column("id", "id"),
    Column("tenant_id", "text", default="default"),
    Column("interaction_id", "id"),
    Column("score", "float"),
    Column("components", "json", default="{}"),
    Column("rationale", "text", nullable=True),
    Column("uncertainty", "float", nullable=True),
    Column("escalated", "bool", default=False),
    Column("reward_model", "text", nullable=True),
    Column("created_at", "time"),
)

TABLES: dict[str, tuple[Column, ...]] = {
    "interactions": INTERACTIONS,
    "feedback": FEEDBACK,
    "rewards": REWARDS,
}


@cache
def storage_schema(table: str) -> pl.Schema:
    """The exact schema of ``table``'s storage frame (times as Int64 Unix nanoseconds)."""
    return pl.Schema({col.name: col.dtype for col in TABLES[table]})


def polars_schema(table: str) -> pl.Schema:
    """The frame schema of a hot table as reads return it (times as UTC datetimes)."""
    out: dict[str, pl.DataType] = {}
    for col in TABLES[table]:
        out[col.name] = pl.Datetime("ns", "UTC") if col.kind == "time" else col.dtype
    return pl.Schema(out)

"""A transaction handle over one psycopg connection, and COPY payloads from polars.

Shared SQL uses ``?`` placeholders and passes ids as 16 raw bytes; here ``?``
becomes ``%s``, 16-byte values are bound as ``uuid`` and ``uuid`` results come
back as 16 bytes, so the shared code never sees a dialect difference.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from typing import Any

import polars as pl
import psycopg
from psycopg import sql as pgsql

from atlas_memory.schema import TABLES
from atlas_memory.tx import ConflictError


def bind_param(value: Any) -> Any:
    """A parameter as psycopg binds it: 16 raw bytes (an id) as ``uuid``."""
    if isinstance(value, bytes) and len(value) == 16:
        return uuid.UUID(bytes=value)
    return value


def _result(value: Any) -> Any:
    return value.bytes if isinstance(value, uuid.UUID) else value


def _sql(text: str) -> pgsql.SQL:
    # Our statements contain no literal '?' or '%', so the rewrite is exact.
    return pgsql.SQL(text.replace("?", "%s"))


class PgTx:
    """:class:`atlas_memory.sqlstore.Tx` over a psycopg connection inside a transaction."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            cur = self._conn.execute(_sql(sql), [bind_param(p) for p in params])
        except psycopg.errors.UniqueViolation as exc:
            raise ConflictError(str(exc).strip()) from exc
        return max(cur.rowcount, 0)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(_sql(sql), [[bind_param(p) for p in row] for row in rows])

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows = self._conn.execute(_sql(sql), [bind_param(p) for p in params]).fetchall()
        return [tuple(_result(v) for v in row) for row in rows]


def copy_statement(target: str, table: str) -> pgsql.Composed:
    """``COPY target (table's columns) FROM STDIN`` in the CSV dialect of :func:`csv_payload`."""
    cols = pgsql.SQL(", ").join(pgsql.Identifier(c.name) for c in TABLES[table])
    return pgsql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, NULL '\\N')").format(
        pgsql.Identifier(target), cols
    )


def csv_payload(table: str, frame: pl.DataFrame) -> bytes:
    """A validated storage frame as CSV for COPY, written by polars (no Python per row).

    Ids become 32 hex digits (a valid ``uuid`` literal). Every string is quoted, so a
    quoted ``\\N`` stays text and only the unquoted ``\\N`` marker means NULL.
    """
    exprs = [
        pl.col(c.name).bin.encode("hex") if c.kind == "id" else pl.col(c.name)
        for c in TABLES[table]
    ]
    buf = io.BytesIO()
    frame.select(exprs).write_csv(
        buf, include_header=False, quote_style="non_numeric", null_value="\\N"
    )
    return buf.getvalue()

"""The PostgreSQL store: a psycopg 3 connection pool, COPY for bulk writes.

Bulk writes try a plain ``COPY`` into the table first (the fast path: new ids). A
retried batch makes that COPY fail on the primary key; the transaction is rolled
back and the batch goes through a temporary staging table and
``INSERT ... ON CONFLICT (id) DO NOTHING`` instead, so retries stay no-ops.
A write returns after its transaction committed (``synchronous_commit`` as the
server is configured).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import polars as pl
import psycopg
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import StoreError, WriteResult
from atlas_memory import query as q
from atlas_memory.migrations import Dialect
from atlas_memory.migrations.apply_postgresql import migrate
from atlas_memory.postgres.connection import PgTx, bind_param, copy_statement, csv_payload
from atlas_memory.schema import TABLES
from atlas_memory.sqlstore import SqlStore

_OPTIONS = ("pool_min", "pool_max")

# The ids travel as ONE bytea (16 bytes each) and come back as bytea (uuid_send): no
# Python uuid.UUID per id either way, which cost more than the query itself. The array
# is an InitPlan whose size the planner cannot see, so it always takes the primary key
# (``id = ANY(...)``: one index scan), even before the table has statistics.
_KNOWN_IDS_SQL = """
SELECT uuid_send(id) FROM interactions
WHERE tenant_id = %s AND id = ANY(ARRAY(
    SELECT encode(substring(%s::bytea FROM i * 16 + 1 FOR 16), 'hex')::uuid
    FROM generate_series(0, %s - 1) AS i
))
"""


class PostgresStore(SqlStore):
    """The server-backed store; thread-safe, each call borrows a pooled connection."""

    dialect: Dialect = "postgresql"

    def __init__(self, conninfo: str, *, pool_min: int = 1, pool_max: int = 10) -> None:
        if not 1 <= pool_min <= pool_max:
            raise InvalidArgumentError(f"pool_min/pool_max: need 1 <= {pool_min} <= {pool_max}")
        self.url = _without_password(conninfo)
        self._pool = ConnectionPool(
            conninfo,
            min_size=pool_min,
            max_size=pool_max,
            kwargs={"autocommit": True},
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=30)
            with self._pool.connection() as conn:
                self._version = migrate(conn)
        except psycopg.OperationalError as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to {self.url}: {exc}") from exc
        except BaseException:
            self._pool.close()
            raise

    def schema_version(self) -> int:
        """The applied migration version."""
        return self._version

    def close(self) -> None:
        """Closes the pool; the store is unusable afterwards."""
        self._pool.close()

    @contextmanager
    def _tx(self) -> Iterator[PgTx]:
        if self._pool.closed:
            raise StoreError("the store is closed")
        with self._pool.connection() as conn, conn.transaction():
            yield PgTx(conn)

    def _insert_payload(self, table: str, frame: pl.DataFrame) -> bytes:
        return csv_payload(table, frame)

    def _insert_payloads(self, parts: Sequence[tuple[str, Any, int]]) -> list[WriteResult]:
        if self._pool.closed:
            raise StoreError("the store is closed")
        with self._pool.connection() as conn:
            try:
                with conn.transaction(), conn.cursor() as cur:
                    for table, payload, _ in parts:
                        with cur.copy(copy_statement(table, table)) as copy:
                            copy.write(payload)
                return [WriteResult(inserted=rows, skipped=0) for _, _, rows in parts]
            except psycopg.errors.UniqueViolation:
                pass  # some ids are stored already (a retry): merge through staging tables
            with conn.transaction(), conn.cursor() as cur:
                return [_merge(cur, table, payload, rows) for table, payload, rows in parts]

    def _read_frame(self, table: str, sql: str, params: Sequence[Any]) -> pl.DataFrame:
        if self._pool.closed:
            raise StoreError("the store is closed")
        dtypes = {c.name: c.dtype for c in TABLES[table]}
        with self._pool.connection() as conn, conn.cursor(binary=True) as cur:
            # Ids in the filters travel as 16 bytes; bound as uuid like every other statement.
            cur.execute(pgsql.SQL(sql.replace("?", "%s")), [bind_param(p) for p in params])
            names = [d.name for d in cur.description or ()]
            rows = cur.fetchall()
        raw_schema = {name: dtypes[name] for name in names}
        return q.typed(table, pl.DataFrame(rows, schema=raw_schema, orient="row"))

    def _known_ids(self, tenant: str, ids: Sequence[bytes]) -> set[bytes]:
        if self._pool.closed:
            raise StoreError("the store is closed")
        with self._pool.connection() as conn, conn.cursor(binary=True) as cur:
            cur.execute(_KNOWN_IDS_SQL, (tenant, b"".join(ids), len(ids)))
            return {row[0] for row in cur.fetchall()}


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def open_postgres(url: str) -> PostgresStore:
    """Opens ``postgresql://user:pass@host:port/db?pool_max=10`` (the plugin factory)."""
    parts = urlsplit(url)
    if parts.scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise InvalidArgumentError(f"url: not a postgresql URL: {url!r}")
    ours: dict[str, int] = {}
    rest = []
    for key, value in parse_qsl(parts.query):
        if key in _OPTIONS:
            try:
                ours[key] = int(value)
            except ValueError as exc:
                raise InvalidArgumentError(f"url: {key} must be an integer, got {value!r}") from exc
        else:
            rest.append((key, value))
    conninfo = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(rest)))
    return PostgresStore(conninfo, **ours)


def _merge(cur: psycopg.Cursor[Any], table: str, payload: bytes, rows: int) -> WriteResult:
    """COPY into a staging table dropped at commit, then insert what is not stored yet."""
    stage = pgsql.Identifier(f"atlas_stage_{table}")
    cur.execute(
        pgsql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            stage, pgsql.Identifier(table)
        )
    )
    with cur.copy(copy_statement(f"atlas_stage_{table}", table)) as copy:
        copy.write(payload)
    cols = pgsql.SQL(", ").join(pgsql.Identifier(c.name) for c in TABLES[table])
    cur.execute(
        pgsql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT (id) DO NOTHING").format(
            pgsql.Identifier(table), cols, cols, stage
        )
    )
    inserted = max(cur.rowcount, 0)
    return WriteResult(inserted=inserted, skipped=rows - inserted)

"""Turns a :class:`~atlas_core.store.Query` into SQL filters, and raw frames into typed ones.

SQL is written once with ``?`` placeholders; the PostgreSQL back-end rewrites them.
Every statement starts from ``tenant_id = ?``: there is no way to build a read
without a tenant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Query
from atlas_core.types import to_ns
from atlas_memory.migrations import Dialect
from atlas_memory.schema import TABLES, polars_schema

_INTERACTION_ATTRS = ("model_version", "prompt_version", "user_id", "session_id")
_MAX_IDS = 10_000  # one bound parameter each; SQLite allows 32,766 per statement


@dataclass
class Where:
    """A conjunction of SQL conditions and their parameters."""

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses)


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _ids(values: Sequence[UUID | bytes]) -> list[bytes]:
    """``query.ids`` as 16-byte values (both dialects bind those as the id column's type)."""
    if not isinstance(values, list | tuple):  # one id (bytes, str) is not a sequence of ids
        raise InvalidArgumentError(
            f"query.ids: expected a list of ids, got {type(values).__name__}"
        )
    if len(values) > _MAX_IDS:
        raise InvalidArgumentError(f"query.ids: at most {_MAX_IDS} ids, got {len(values)}")
    out = []
    for value in values:
        if isinstance(value, UUID):
            out.append(value.bytes)
        elif isinstance(value, bytes) and len(value) == 16:
            out.append(value)
        else:
            raise InvalidArgumentError(f"query.ids: not a UUID or 16 bytes: {value!r:.60}")
    return out


def _in(column: str, values: Sequence[object]) -> str:
    return f"{column} IN ({', '.join('?' * len(values))})"


def select_list(table: str, dialect: Dialect, columns: Sequence[str] | None = None) -> str:
    """The table's columns (or a subset) for a frame read; PostgreSQL UUIDs come back as bytes."""
    names = []
    for col in TABLES[table]:
        if columns is not None and col.name not in columns:
            continue
        if col.kind == "id" and dialect == "postgresql":
            names.append(f"uuid_send({col.name}) AS {col.name}")
        else:
            names.append(col.name)
    return ", ".join(names)


def interaction_filter(tenant: str, query: Query) -> Where:
    """Conditions on the interactions table from the interaction attributes of ``query``."""
    where = Where()
    where.add("tenant_id = ?", tenant)
    if query.learning_key is not None:
        keys = _as_list(query.learning_key)
        where.add(_in("learning_key", keys), *keys)
    for attr in _INTERACTION_ATTRS:
        value = getattr(query, attr)
        if value is not None:
            where.add(f"{attr} = ?", value)
    return where


def _uses_interaction_attrs(query: Query) -> bool:
    return query.learning_key is not None or any(
        getattr(query, a) is not None for a in _INTERACTION_ATTRS
    )


_NS_MIN, _NS_MAX = -(2**63), 2**63 - 1


def _time_range(where: Where, query: Query) -> None:
    # Times are stored as 64-bit nanoseconds (years 1677 to 2262). A bound beyond that
    # range (since year 1, until year 9999) bounds nothing: clamp it, so that it binds.
    if query.since is not None:
        where.add("created_at >= ?", min(max(to_ns(query.since), _NS_MIN), _NS_MAX))
    if query.until is not None:
        where.add("created_at < ?", min(max(to_ns(query.until), _NS_MIN), _NS_MAX))


def table_filter(table: str, tenant: str, query: Query, *, reward_range: bool = True) -> Where:
    """Conditions for reading ``table``; errors name a filter that does not apply to it."""
    if query.feedback_kind is not None and table != "feedback":
        raise InvalidArgumentError("query.feedback_kind applies to feedback reads only")
    has_reward_range = query.min_reward is not None or query.max_reward is not None
    if reward_range and has_reward_range and table != "rewards":
        raise InvalidArgumentError(
            "query.min_reward/max_reward apply to rewards and interactions_with_rewards only"
        )
    if query.limit is not None and query.limit < 0:
        raise InvalidArgumentError(f"query.limit must be >= 0, got {query.limit}")
    if table == "interactions":
        where = interaction_filter(tenant, query)
    else:
        where = Where()
        where.add("tenant_id = ?", tenant)
        if _uses_interaction_attrs(query):
            inner = interaction_filter(tenant, query)
            where.add(
                f"interaction_id IN (SELECT id FROM interactions WHERE {inner.sql})", *inner.params
            )
    _time_range(where, query)
    if query.ids is not None:
        ids = _ids(query.ids)
        where.add(_in("id", ids) if ids else "1 = 0", *ids)
    if table == "feedback" and query.feedback_kind is not None:
        kinds = (
            [str(query.feedback_kind)]
            if isinstance(query.feedback_kind, str)
            else [str(k) for k in query.feedback_kind]
        )
        where.add(_in("kind", kinds), *kinds)
    if table == "rewards" and reward_range:
        if query.min_reward is not None:
            where.add("score >= ?", float(query.min_reward))
        if query.max_reward is not None:
            where.add("score <= ?", float(query.max_reward))
    return where


def select(
    table: str,
    dialect: Dialect,
    where: Where,
    limit: int | None,
    columns: Sequence[str] | None = None,
) -> tuple[str, list[Any]]:
    """The full SELECT for a frame read.

    Only a limited read is ordered in SQL (the limit must keep the oldest rows); a
    whole read is sorted afterwards by :func:`oldest_first`, which polars does in
    parallel and far faster than the database's temporary sort.
    """
    sql = f"SELECT {select_list(table, dialect, columns)} FROM {table} WHERE {where.sql}"
    params = list(where.params)
    if limit is not None:
        sql += " ORDER BY created_at, id LIMIT ?"
        params.append(limit)
    return sql, params


def oldest_first(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows ordered by creation time, ties by id (the order every read returns)."""
    if frame.height < 2 or frame.select(pl.col("created_at").diff().min()).item() > timedelta(0):
        return frame  # already strictly increasing (the usual case): no sort needed
    return frame.sort(pl.col("created_at"), id_key("id"), maintain_order=False)


def typed(table: str, raw: pl.DataFrame) -> pl.DataFrame:
    """A driver's frame (all or some of the table's columns) cast to the read schema.

    Times become UTC datetimes; column order follows the table.
    """
    schema = {n: d for n, d in polars_schema(table).items() if n in raw.columns}
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            exprs.append(col.cast(pl.Int64).cast(dtype))
        else:
            exprs.append(col.cast(dtype))
    return raw.select(exprs)


def id_key(column: str) -> pl.Expr:
    """A 16-byte id column as an unsigned 128-bit integer: the same order as the bytes, and
    far cheaper to hash, group, join and sort."""
    return pl.col(column).bin.reinterpret(dtype=pl.UInt128, endianness="big")


def latest_rewards(rewards: pl.DataFrame) -> pl.LazyFrame:
    """One row per interaction: its most recent reward (ties broken by the larger id).

    Columns: ``key`` (:func:`id_key` of the interaction id, for joining), interaction_id,
    reward, reward_id, reward_at.
    """
    # In oldest-first order the latest reward of each interaction is its last row. A read
    # usually comes back in that order already (the tenant/time index), so the sort is
    # skipped and keeping the last row per key is one hash pass, not a sort per group.
    return (
        oldest_first(rewards)
        .lazy()
        .select(
            id_key("interaction_id").alias("key"),
            "interaction_id",
            pl.col("score").alias("reward"),
            pl.col("id").alias("reward_id"),
            pl.col("created_at").alias("reward_at"),
        )
        .unique("key", keep="last")
    )

"""Everything both SQL back-ends share: the Store API over a few driver primitives.

A back-end supplies a transaction handle (:class:`Tx`), a bulk insert for the hot
tables and an Arrow-backed frame read; this class writes the SQL once (``?``
placeholders), validates batches, scopes every statement by tenant and converts
rows to and from the domain types.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import polars as pl
from pydantic import BaseModel

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Query, StoreError, WriteResult
from atlas_core.types import (
    ApiKey,
    Feedback,
    Interaction,
    LearningRun,
    Reward,
    Tenant,
    Version,
    VersionKind,
    VersionStatus,
    from_ns,
    to_ns,
)
from atlas_memory import query as q
from atlas_memory.migrations import Dialect
from atlas_memory.validate import prepare


class ConflictError(StoreError):
    """A uniqueness constraint refused a row (e.g. a version number already taken)."""


class Tx(Protocol):
    """One open transaction. SQL uses ``?`` placeholders and raw 16-byte ids."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Runs one statement; the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Runs one statement per parameter row."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Runs one query; its rows, ids as 16 bytes."""
        ...


_VERSION_COLS = (
    "id, tenant_id, kind, name, number, artifact_uri, parent_id, metrics, status, created_at"
)
_KEY_COLS = "id, tenant_id, name, key_hash, scopes, revoked, created_at"


class SqlStore(ABC):
    """The shared implementation of :class:`atlas_core.store.Store`."""

    dialect: Dialect
    url: str

    # -- what a back-end provides ---------------------------------------------------------
    @abstractmethod
    def _tx(self) -> AbstractContextManager[Tx]:
        """A write transaction: committed when the block ends, rolled back on error."""

    @abstractmethod
    def _bulk_insert(self, table: str, frame: pl.DataFrame) -> WriteResult:
        """Inserts a validated storage frame in one transaction, skipping existing ids."""

    @abstractmethod
    def _read_frame(self, table: str, sql: str, params: Sequence[Any]) -> pl.DataFrame:
        """Runs a SELECT of ``table``'s columns and returns it typed (see ``query.typed``)."""

    def _read_frames(self, reads: Sequence[tuple[str, str, Sequence[Any]]]) -> list[pl.DataFrame]:
        """Several ``_read_frame`` calls; a back-end may run them concurrently."""
        return [self._read_frame(table, sql, params) for table, sql, params in reads]

    @abstractmethod
    def close(self) -> None:
        """Releases connections."""

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bulk writes ------------------------------------------------------------------------
    def _write(self, table: str, batch: pl.DataFrame | Sequence[BaseModel]) -> WriteResult:
        frame = prepare(table, batch)
        if frame.height == 0:
            return WriteResult(0, 0)
        return self._bulk_insert(table, frame)

    def write_interactions(self, batch: pl.DataFrame | Sequence[Interaction]) -> WriteResult:
        """Stores interactions, all or nothing; existing ids are skipped."""
        return self._write("interactions", batch)

    def write_feedback(self, batch: pl.DataFrame | Sequence[Feedback]) -> WriteResult:
        """Stores feedback, all or nothing; existing ids are skipped."""
        return self._write("feedback", batch)

    def write_rewards(self, batch: pl.DataFrame | Sequence[Reward]) -> WriteResult:
        """Stores rewards, all or nothing; existing ids are skipped."""
        return self._write("rewards", batch)

    # -- reads --------------------------------------------------------------------------------
    def _read(self, table: str, tenant: str, query: Query | None) -> pl.DataFrame:
        query = query or Query()
        where = q.table_filter(table, _tenant(tenant), query)
        sql, params = q.select(table, self.dialect, where, query.limit)
        return q.oldest_first(self._read_frame(table, sql, params))

    def interactions(self, tenant: str, query: Query | None = None) -> pl.DataFrame:
        """The tenant's interactions matching ``query``, oldest first."""
        return self._read("interactions", tenant, query)

    def feedback(self, tenant: str, query: Query | None = None) -> pl.DataFrame:
        """The tenant's feedback matching ``query``, oldest first."""
        return self._read("feedback", tenant, query)

    def rewards(self, tenant: str, query: Query | None = None) -> pl.DataFrame:
        """The tenant's rewards matching ``query``, oldest first."""
        return self._read("rewards", tenant, query)

    def interactions_with_rewards(self, tenant: str, query: Query | None = None) -> pl.DataFrame:
        """Interactions with their latest reward (``reward``, null when none), oldest first."""
        query = query or Query()
        tenant = _tenant(tenant)
        where = q.table_filter("interactions", tenant, query, reward_range=False)
        sql, params = q.select("interactions", self.dialect, where, None)
        rwhere = q.table_filter(
            "rewards", tenant, Query(**_interaction_part(query)), reward_range=False
        )
        rsql, rparams = q.select("rewards", self.dialect, rwhere, None)
        inter_frame, reward_frame = self._read_frames(
            [("interactions", sql, params), ("rewards", rsql, rparams)]
        )
        inter = inter_frame.lazy().sort("created_at", "id")
        rewards = reward_frame.lazy()
        joined = inter.join(
            q.latest_rewards(rewards),
            left_on="id",
            right_on="interaction_id",
            how="left",
            maintain_order="left",
        )
        if query.min_reward is not None:
            joined = joined.filter(pl.col("reward") >= query.min_reward)
        if query.max_reward is not None:
            joined = joined.filter(pl.col("reward") <= query.max_reward)
        if query.limit is not None:
            joined = joined.head(query.limit)
        return joined.collect()

    # -- versions and aliases ---------------------------------------------------------------
    def put_version(self, version: Version) -> None:
        """Stores a new version; its (tenant, kind, name, number) must be new."""
        row = (
            version.id.bytes,
            version.tenant_id,
            version.kind.value,
            version.name,
            version.number,
            version.artifact_uri,
            version.parent_id.bytes if version.parent_id else None,
            json.dumps(version.metrics),
            version.status.value,
            to_ns(version.created_at),
        )
        with self._tx() as tx:
            tx.execute(f"INSERT INTO versions ({_VERSION_COLS}) VALUES ({_marks(10)})", row)
            for alias in version.aliases:
                self._point_alias(
                    tx, version.tenant_id, version.kind.value, version.name, alias, version.id
                )

    def _version_rows(self, tx: Tx, where: str, params: Sequence[Any]) -> list[Version]:
        rows = tx.query(
            f"SELECT {_VERSION_COLS} FROM versions WHERE {where} ORDER BY created_at, id", params
        )
        out = []
        for r in rows:
            aliases = tx.query(
                "SELECT alias FROM version_aliases "
                "WHERE tenant_id = ? AND version_id = ? ORDER BY alias",
                (r[1], r[0]),
            )
            out.append(
                Version(
                    id=UUID(bytes=r[0]),
                    tenant_id=r[1],
                    kind=VersionKind(r[2]),
                    name=r[3],
                    number=r[4],
                    artifact_uri=r[5],
                    parent_id=UUID(bytes=r[6]) if r[6] else None,
                    metrics=json.loads(r[7]),
                    status=VersionStatus(r[8]),
                    aliases=tuple(a[0] for a in aliases),
                    created_at=from_ns(r[9]),
                )
            )
        return out

    def get_version(self, tenant: str, version_id: UUID) -> Version | None:
        """One version with its aliases, or None."""
        with self._tx() as tx:
            found = self._version_rows(
                tx, "tenant_id = ? AND id = ?", (_tenant(tenant), version_id.bytes)
            )
        return found[0] if found else None

    def versions(
        self, tenant: str, kind: VersionKind | None = None, name: str | None = None
    ) -> list[Version]:
        """The tenant's versions (optionally of one kind/name), oldest first."""
        where, params = q.Where(), []
        where.add("tenant_id = ?", _tenant(tenant))
        if kind is not None:
            where.add("kind = ?", VersionKind(kind).value)
        if name is not None:
            where.add("name = ?", name)
        params = where.params
        with self._tx() as tx:
            return self._version_rows(tx, where.sql, params)

    def set_status(self, tenant: str, version_id: UUID, status: VersionStatus) -> None:
        """Moves a version to another rollout stage."""
        with self._tx() as tx:
            changed = tx.execute(
                "UPDATE versions SET status = ? WHERE tenant_id = ? AND id = ?",
                (VersionStatus(status).value, _tenant(tenant), version_id.bytes),
            )
        if changed == 0:
            raise InvalidArgumentError(f"version_id: no version {version_id} in tenant {tenant!r}")

    def _point_alias(
        self, tx: Tx, tenant: str, kind: str, name: str, alias: str, vid: UUID
    ) -> None:
        if not alias:
            raise InvalidArgumentError("alias: must not be empty")
        tx.execute(
            "INSERT INTO version_aliases (tenant_id, kind, name, alias, version_id, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, kind, name, alias) "
            "DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at",
            (tenant, kind, name, alias, vid.bytes, time.time_ns()),
        )

    def set_alias(self, tenant: str, alias: str, version_id: UUID) -> None:
        """Points ``alias`` (e.g. ``production``) of the version's (kind, name) at it."""
        tenant = _tenant(tenant)
        with self._tx() as tx:
            rows = tx.query(
                "SELECT kind, name FROM versions WHERE tenant_id = ? AND id = ?",
                (tenant, version_id.bytes),
            )
            if not rows:
                raise InvalidArgumentError(
                    f"version_id: no version {version_id} in tenant {tenant!r}"
                )
            self._point_alias(tx, tenant, rows[0][0], rows[0][1], alias, version_id)

    def resolve_alias(
        self, tenant: str, kind: VersionKind, name: str, alias: str
    ) -> Version | None:
        """The version ``alias`` points at, or None."""
        with self._tx() as tx:
            found = self._version_rows(
                tx,
                "id = (SELECT version_id FROM version_aliases WHERE tenant_id = ? AND kind = ? "
                "AND name = ? AND alias = ?) AND tenant_id = ?",
                (_tenant(tenant), VersionKind(kind).value, name, alias, tenant),
            )
        return found[0] if found else None

    # -- learning runs, replay ----------------------------------------------------------------
    def record_run(self, run: LearningRun) -> None:
        """Stores one learning run (idempotent by id)."""
        with self._tx() as tx:
            tx.execute(
                "INSERT INTO learning_runs (id, tenant_id, body, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (run.id.bytes, run.tenant_id, run.model_dump_json(), to_ns(run.created_at)),
            )

    def learning_runs(self, tenant: str) -> list[LearningRun]:
        """The tenant's learning runs, oldest first."""
        with self._tx() as tx:
            rows = tx.query(
                "SELECT body FROM learning_runs WHERE tenant_id = ? ORDER BY created_at, id",
                (_tenant(tenant),),
            )
        return [LearningRun.model_validate_json(r[0]) for r in rows]

    def save_priorities(
        self, tenant: str, buffer: str, item_ids: Sequence[bytes], priorities: Sequence[float]
    ) -> None:
        """Upserts replay priorities of one named replay buffer (so replay survives restarts)."""
        if len(item_ids) != len(priorities):
            raise InvalidArgumentError(
                f"priorities: {len(priorities)} values for {len(item_ids)} item_ids"
            )
        rows = []
        for i, (item, prio) in enumerate(zip(item_ids, priorities, strict=True)):
            if len(item) != 16:
                raise InvalidArgumentError(f"item_ids[{i}]: an id has 16 bytes, got {len(item)}")
            value = float(prio)
            if not value >= 0 or value == float("inf"):
                raise InvalidArgumentError(f"priorities[{i}]: must be finite and >= 0, got {prio}")
            rows.append((_tenant(tenant), buffer, bytes(item), value))
        with self._tx() as tx:
            tx.executemany(
                "INSERT INTO replay_priorities (tenant_id, buffer, item_id, priority) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id, buffer, item_id) "
                "DO UPDATE SET priority = excluded.priority",
                rows,
            )

    def load_priorities(self, tenant: str, buffer: str) -> pl.DataFrame:
        """Columns ``item_id`` (binary) and ``priority`` of one replay buffer, by item id."""
        with self._tx() as tx:
            rows = tx.query(
                "SELECT item_id, priority FROM replay_priorities "
                "WHERE tenant_id = ? AND buffer = ? "
                "ORDER BY item_id",
                (_tenant(tenant), buffer),
            )
        return pl.DataFrame(
            rows, schema={"item_id": pl.Binary, "priority": pl.Float64}, orient="row"
        )

    # -- tenants and keys ---------------------------------------------------------------------
    def put_tenant(self, tenant: Tenant) -> None:
        """Creates a tenant (idempotent)."""
        with self._tx() as tx:
            tx.execute(
                "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (tenant.id, tenant.name, to_ns(tenant.created_at)),
            )

    def tenants(self) -> list[Tenant]:
        """All tenants."""
        with self._tx() as tx:
            rows = tx.query("SELECT id, name, created_at FROM tenants ORDER BY id")
        return [Tenant(id=r[0], name=r[1], created_at=from_ns(r[2])) for r in rows]

    def put_api_key(self, key: ApiKey) -> None:
        """Stores a key (its hash only)."""
        with self._tx() as tx:
            tx.execute(
                f"INSERT INTO api_keys ({_KEY_COLS}) VALUES ({_marks(7)})",
                (
                    key.id.bytes,
                    key.tenant_id,
                    key.name,
                    key.key_hash,
                    json.dumps(list(key.scopes)),
                    key.revoked,
                    to_ns(key.created_at),
                ),
            )

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not, or None."""
        with self._tx() as tx:
            rows = tx.query(f"SELECT {_KEY_COLS} FROM api_keys WHERE key_hash = ?", (key_hash,))
        if not rows:
            return None
        r = rows[0]
        return ApiKey(
            id=UUID(bytes=r[0]),
            tenant_id=r[1],
            name=r[2],
            key_hash=r[3],
            scopes=tuple(json.loads(r[4])),
            revoked=bool(r[5]),
            created_at=from_ns(r[6]),
        )

    def revoke_api_key(self, tenant: str, key_id: UUID) -> None:
        """Revokes one key of the tenant."""
        with self._tx() as tx:
            changed = tx.execute(
                "UPDATE api_keys SET revoked = ? WHERE tenant_id = ? AND id = ?",
                (True, _tenant(tenant), key_id.bytes),
            )
        if changed == 0:
            raise InvalidArgumentError(f"key_id: no key {key_id} in tenant {tenant!r}")

    # -- maintenance ------------------------------------------------------------------------
    def _delete_interaction_data(
        self, tx: Tx, cond: str, params: tuple[Any, ...], own: dict[str, str]
    ) -> dict[str, int]:
        """Deletes interactions matching ``cond`` and everything attached to them.

        ``own`` adds, per child table, a condition on the child's own columns (which
        repeats the last filter value): feedback the user gave on others' interactions,
        rewards and feedback older than the cutoff.
        """
        sub = f"SELECT id FROM interactions WHERE {cond}"
        tenant, last = params[0], params[-1]
        counts = {}
        for table in ("feedback", "rewards"):
            extra = f" OR {own[table]}" if table in own else ""
            counts[table] = tx.execute(
                f"DELETE FROM {table} WHERE tenant_id = ? AND (interaction_id IN ({sub}){extra})",
                (tenant, *params, *((last,) if extra else ())),
            )
        counts["replay_priorities"] = tx.execute(
            f"DELETE FROM replay_priorities WHERE tenant_id = ? AND item_id IN ({sub})",
            (tenant, *params),
        )
        counts["interactions"] = tx.execute(f"DELETE FROM interactions WHERE {cond}", params)
        return counts

    def delete_user(self, tenant: str, user_id: str) -> dict[str, int]:
        """Deletes everything about one user in every table; rows deleted per table."""
        if not user_id:
            raise InvalidArgumentError("user_id: must not be empty")
        with self._tx() as tx:
            return self._delete_interaction_data(
                tx,
                "tenant_id = ? AND user_id = ?",
                (_tenant(tenant), user_id),
                {"feedback": "user_id = ?"},
            )

    def delete_older_than(self, tenant: str, cutoff: datetime) -> dict[str, int]:
        """Retention: deletes the tenant's interaction data created before ``cutoff``."""
        with self._tx() as tx:
            return self._delete_interaction_data(
                tx,
                "tenant_id = ? AND created_at < ?",
                (_tenant(tenant), to_ns(cutoff)),
                {"feedback": "created_at < ?", "rewards": "created_at < ?"},
            )


def _interaction_part(query: Query) -> dict[str, Any]:
    """The interaction-attribute filters of ``query`` (to select the matching rewards)."""
    return {
        "learning_key": query.learning_key,
        "model_version": query.model_version,
        "prompt_version": query.prompt_version,
        "user_id": query.user_id,
        "session_id": query.session_id,
    }


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not tenant:
        raise InvalidArgumentError(f"tenant: a non-empty tenant id is required, got {tenant!r}")
    return tenant


def iter_chunks(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    """Slices of at most ``size`` rows."""
    for start in range(0, frame.height, size):
        yield frame.slice(start, size)

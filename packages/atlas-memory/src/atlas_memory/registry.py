"""Versions with movable aliases, learning runs, replay priorities, tenants and API keys.

The small, per-object part of the Store: shared SQL over the back-end's transaction
handle, rows converted to and from the atlas_core models.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any
from uuid import UUID

import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.types import (
    ApiKey,
    LearningRun,
    Tenant,
    Version,
    VersionKind,
    VersionStatus,
    from_ns,
    to_ns,
)
from atlas_memory import query as q
from atlas_memory.tx import Tx
from atlas_memory.tx import check_tenant as _tenant
from atlas_memory.tx import marks as _marks

_VERSION_COLS = (
    "id, tenant_id, kind, name, number, artifact_uri, parent_id, metrics, status, created_at"
)
_KEY_COLS = "id, tenant_id, name, key_hash, scopes, revoked, created_at"


class RegistrySql(ABC):
    """Store methods for the registry tables; needs only :meth:`_tx`."""

    @abstractmethod
    def _tx(self) -> AbstractContextManager[Tx]:
        """A write transaction: committed when the block ends, rolled back on error."""

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
        where = q.Where()
        where.add("tenant_id = ?", _tenant(tenant))
        if kind is not None:
            where.add("kind = ?", VersionKind(kind).value)
        if name is not None:
            where.add("name = ?", name)
        with self._tx() as tx:
            return self._version_rows(tx, where.sql, where.params)

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
        return _api_key(rows[0]) if rows else None

    def api_keys(self, tenant: str) -> list[ApiKey]:
        """The tenant's keys, revoked ones included, oldest first."""
        with self._tx() as tx:
            rows = tx.query(
                f"SELECT {_KEY_COLS} FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id",
                (_tenant(tenant),),
            )
        return [_api_key(r) for r in rows]

    def revoke_api_key(self, tenant: str, key_id: UUID) -> None:
        """Revokes one key of the tenant."""
        with self._tx() as tx:
            changed = tx.execute(
                "UPDATE api_keys SET revoked = ? WHERE tenant_id = ? AND id = ?",
                (True, _tenant(tenant), key_id.bytes),
            )
        if changed == 0:
            raise InvalidArgumentError(f"key_id: no key {key_id} in tenant {tenant!r}")


def _api_key(r: Sequence[Any]) -> ApiKey:
    """An ``api_keys`` row (columns in ``_KEY_COLS`` order) as an ApiKey."""
    return ApiKey(
        id=UUID(bytes=r[0]),
        tenant_id=r[1],
        name=r[2],
        key_hash=r[3],
        scopes=tuple(json.loads(r[4])),
        revoked=bool(r[5]),
        created_at=from_ns(r[6]),
    )

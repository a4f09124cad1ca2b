"""The ``Store`` protocol: everything Atlas remembers, behind one interface.

Back-ends live in other packages (atlas-memory ships SQLite and PostgreSQL) and are
found through the plugin registry by URL scheme, so core never imports them.

Contract shared by every back-end:

- Writes are idempotent: ids are client-generated, a row whose id is already stored
  is skipped (counted in :attr:`WriteResult.skipped`), never duplicated.
- A batch is all-or-nothing: it is validated as a whole before anything is written;
  one bad row rejects the batch with :class:`BatchValidationError` naming the field
  and row, and nothing of it is stored. A write that returned has been committed.
  The one exception to checking: a :class:`~atlas_core.validation.CheckedFrame`, whose
  rows were checked against the same rules where it was made (only the server's
  decoder makes one), is written without checking them again.
- ``prepare_events`` + ``write_events`` split an ingest write in two: validation and
  conversion first (no lock held), then one transaction for interactions and feedback
  together. The server prepares the next group while the previous one is written.
- Every read and delete takes the tenant; no call returns or touches another
  tenant's rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import urlsplit
from uuid import UUID

from atlas_core import plugins
from atlas_core.errors import AtlasError, InvalidArgumentError
from atlas_core.types import (
    ApiKey,
    Feedback,
    FeedbackKind,
    Interaction,
    LearningRun,
    Reward,
    Tenant,
    Version,
    VersionKind,
    VersionStatus,
)

if TYPE_CHECKING:
    import polars as pl

    from atlas_core.validation import CheckedFrame

__all__ = [
    "BatchValidationError",
    "PreparedEvents",
    "Query",
    "SchemaVersionError",
    "Store",
    "StoreError",
    "WriteResult",
    "default_store_url",
    "open_store",
]


class StoreError(AtlasError):
    """A store could not do what was asked (connection, constraint, I/O)."""


class SchemaVersionError(StoreError):
    """The database was written by a newer Atlas (its schema version is unknown here)."""


class BatchValidationError(InvalidArgumentError):
    """A row of a write batch is malformed; nothing of the batch was written."""

    def __init__(self, table: str, field: str, row: int | None, reason: str) -> None:
        where = f"row {row}" if row is not None else "batch"
        super().__init__(f"{table}.{field} ({where}): {reason}")
        self.table = table
        self.field = field
        self.row = row
        self.reason = reason


@dataclass(frozen=True)
class WriteResult:
    """What a committed batch write did."""

    inserted: int
    """Rows newly stored."""
    skipped: int
    """Rows whose id was already stored (retries); left untouched."""


@dataclass(frozen=True)
class PreparedEvents:
    """Interactions and feedback validated and converted by one store's
    ``prepare_events``, ready for its ``write_events``: opaque to everyone else."""

    store_url: str
    """The store that made it (another store refuses it)."""
    parts: tuple[tuple[str, object, int], ...]
    """Per table with rows: (table, the back-end's insert payload, rows)."""

    def rows(self, table: str) -> int:
        """Rows of ``table`` (``interactions`` or ``feedback``) it holds."""
        return sum(n for name, _, n in self.parts if name == table)


@dataclass(frozen=True)
class Query:
    """Filters for reads; every field left ``None`` does not filter.

    Interaction attributes (learning key, versions, user, session) also filter
    feedback and rewards through the interaction they belong to.
    """

    since: datetime | None = None
    """Rows created at or after this time."""
    until: datetime | None = None
    """Rows created strictly before this time."""
    learning_key: str | Sequence[str] | None = None
    """One learning key or several."""
    model_version: str | None = None
    prompt_version: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    min_reward: float | None = None
    """Rewards (or an interaction's latest reward) at or above this score."""
    max_reward: float | None = None
    """Rewards (or an interaction's latest reward) at or below this score."""
    feedback_kind: FeedbackKind | Sequence[FeedbackKind] | None = None
    """Feedback of these kinds (feedback reads only)."""
    ids: Sequence[UUID | bytes] | None = None
    """Only the rows with these ids (a read by id; another tenant's ids match nothing)."""
    limit: int | None = None
    """At most this many rows, oldest first."""


@runtime_checkable
class Store(Protocol):
    """Persistent memory. See the module docstring for the shared contract."""

    url: str
    """The URL it was opened with (without a password)."""

    # -- bulk writes ------------------------------------------------------------------
    def write_interactions(
        self, batch: pl.DataFrame | Sequence[Interaction] | CheckedFrame
    ) -> WriteResult:
        """Stores interactions, all or nothing; existing ids are skipped. A CheckedFrame
        (of ``interactions``) is written without checking the rules again."""
        ...

    def write_feedback(
        self, batch: pl.DataFrame | Sequence[Feedback] | CheckedFrame
    ) -> WriteResult:
        """Stores feedback, all or nothing; existing ids are skipped. A CheckedFrame (of
        ``feedback``) is written without checking the rules again."""
        ...

    def write_rewards(self, batch: pl.DataFrame | Sequence[Reward]) -> WriteResult:
        """Stores rewards, all or nothing; existing ids are skipped."""
        ...

    def prepare_events(
        self,
        interactions: pl.DataFrame | Sequence[Interaction] | CheckedFrame,
        feedback: pl.DataFrame | Sequence[Feedback] | CheckedFrame,
    ) -> PreparedEvents:
        """Validates and converts both batches for :meth:`write_events`, writing nothing
        and taking no lock: BatchValidationError (naming the table) as the writes do."""
        ...

    def write_events(self, prepared: PreparedEvents) -> tuple[WriteResult, WriteResult]:
        """Stores what :meth:`prepare_events` made in ONE transaction (all or nothing,
        existing ids skipped); the results for interactions and feedback."""
        ...

    # -- reads (polars) ---------------------------------------------------------------
    def interactions(self, tenant: str, query: Query | None = None) -> pl.DataFrame:
        """The tenant's interactions matching ``query``, oldest first."""
        ...

    def feedback(self, tenant: str, query: Query | None = None) -> pl.DataFrame:
        """The tenant's feedback matching ``query``, oldest first."""
        ...

    def rewards(self, tenant: str, query: Query | None = None) -> pl.DataFrame:
        """The tenant's rewards matching ``query``, oldest first."""
        ...

    def interactions_with_rewards(self, tenant: str, query: Query | None = None) -> pl.DataFrame:
        """Interactions with their latest reward (``reward``, null when none), oldest first."""
        ...

    def known_interactions(self, tenant: str, ids: Sequence[bytes]) -> set[bytes]:
        """Which of ``ids`` (16-byte interaction ids; repeats allowed) the tenant has stored.

        Another tenant's interaction is not known. Raises ``InvalidArgumentError`` naming
        ``ids`` when an item is not 16 bytes.
        """
        ...

    # -- versions and aliases ---------------------------------------------------------
    def put_version(self, version: Version) -> None:
        """Stores a new version; its (tenant, kind, name, number) must be new."""
        ...

    def get_version(self, tenant: str, version_id: UUID) -> Version | None:
        """One version with its aliases, or None."""
        ...

    def versions(
        self, tenant: str, kind: VersionKind | None = None, name: str | None = None
    ) -> list[Version]:
        """The tenant's versions (optionally of one kind/name), oldest first."""
        ...

    def set_status(self, tenant: str, version_id: UUID, status: VersionStatus) -> None:
        """Moves a version to another rollout stage."""
        ...

    def set_alias(self, tenant: str, alias: str, version_id: UUID) -> None:
        """Points ``alias`` (e.g. ``production``) of the version's (kind, name) at it."""
        ...

    def resolve_alias(
        self, tenant: str, kind: VersionKind, name: str, alias: str
    ) -> Version | None:
        """The version ``alias`` points at, or None."""
        ...

    # -- learning runs, replay ------------------------------------------------------------
    def record_run(self, run: LearningRun) -> None:
        """Stores one learning run (idempotent by id)."""
        ...

    def learning_runs(self, tenant: str) -> list[LearningRun]:
        """The tenant's learning runs, oldest first."""
        ...

    def save_priorities(
        self, tenant: str, buffer: str, item_ids: Sequence[bytes], priorities: Sequence[float]
    ) -> None:
        """Upserts replay priorities of one named replay buffer (so replay survives restarts)."""
        ...

    def load_priorities(self, tenant: str, buffer: str) -> pl.DataFrame:
        """Columns ``item_id`` (binary) and ``priority`` of one replay buffer."""
        ...

    # -- key-value entries -------------------------------------------------------------
    def kv_put(self, tenant: str, namespace: str, items: Mapping[str, str]) -> None:
        """Upserts string entries (JSON by convention) of one namespace in one transaction.

        For small state that is not an event or a version: caches, playbooks, template texts.
        """
        ...

    def kv_get(self, tenant: str, namespace: str, keys: Sequence[str]) -> dict[str, str]:
        """The entries that exist among ``keys``; missing keys are absent from the result."""
        ...

    def kv_items(self, tenant: str, namespace: str, prefix: str = "") -> dict[str, str]:
        """Every entry of the namespace whose key starts with ``prefix``, in key order."""
        ...

    def kv_delete(self, tenant: str, namespace: str, keys: Sequence[str]) -> int:
        """Deletes the given entries; the number that existed."""
        ...

    # -- tenants and keys --------------------------------------------------------------
    def put_tenant(self, tenant: Tenant) -> None:
        """Creates a tenant (idempotent)."""
        ...

    def tenants(self) -> list[Tenant]:
        """All tenants."""
        ...

    def put_api_key(self, key: ApiKey) -> None:
        """Stores a key (its hash only)."""
        ...

    def find_api_key(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not, or None."""
        ...

    def revoke_api_key(self, tenant: str, key_id: UUID) -> None:
        """Revokes one key of the tenant."""
        ...

    def api_keys(self, tenant: str) -> list[ApiKey]:
        """The tenant's keys, revoked ones included, oldest first."""
        ...

    # -- maintenance -------------------------------------------------------------------
    def delete_user(self, tenant: str, user_id: str) -> dict[str, int]:
        """Deletes everything about one user in every table; rows deleted per table."""
        ...

    def delete_older_than(self, tenant: str, cutoff: datetime) -> dict[str, int]:
        """Retention: deletes the tenant's interaction data created before ``cutoff``."""
        ...

    def schema_version(self) -> int:
        """The applied migration version."""
        ...

    def close(self) -> None:
        """Releases connections; the store is unusable afterwards."""
        ...

    def __enter__(self) -> Store:
        """The store itself; closed when the ``with`` block ends."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Closes the store."""
        ...


def default_store_url() -> str:
    """``ATLAS_STORE_URL``, else a SQLite file under ``ATLAS_HOME`` (default ``./.atlas``)."""
    url = os.environ.get("ATLAS_STORE_URL")
    if url:
        return url
    home = Path(os.environ.get("ATLAS_HOME", ".atlas")).resolve()
    return f"sqlite:///{home / 'atlas.db'}"


def open_store(url: str | None = None) -> Store:
    """Opens (and migrates) the store a URL names: ``sqlite:///path`` or ``postgresql://...``."""
    url = url or default_store_url()
    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    if scheme == "postgres":
        scheme = "postgresql"
    factories = plugins.stores()
    if not scheme or scheme not in factories:
        known = ", ".join(sorted(factories)) or "none (install atlas-memory)"
        raise InvalidArgumentError(f"url: no store for scheme {scheme!r}; installed: {known}")
    store = factories[scheme](url)
    if not isinstance(store, Store):
        raise StoreError(f"the {scheme!r} store factory returned {type(store).__name__}")
    return store

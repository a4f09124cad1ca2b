"""Everything both SQL back-ends share: the Store API over a few driver primitives.

A back-end supplies a transaction handle (:class:`Tx`), a bulk insert for the hot
tables and an Arrow-backed frame read; this class writes the SQL once (``?``
placeholders), validates batches, scopes every statement by tenant and converts
rows to and from the domain types. The registry tables live in :mod:`registry`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import polars as pl
from pydantic import BaseModel

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import PreparedEvents, Query, WriteResult
from atlas_core.types import Feedback, Interaction, Reward, to_ns
from atlas_core.validation import CheckedFrame
from atlas_memory import query as q
from atlas_memory.kv import KvSql
from atlas_memory.migrations import Dialect
from atlas_memory.registry import RegistrySql
from atlas_memory.tx import ConflictError, Tx
from atlas_memory.tx import check_tenant as _tenant
from atlas_memory.validate import prepare

__all__ = ["ID_CHUNK", "ConflictError", "FrameRead", "SqlStore", "Tx"]

ID_CHUNK = 10_000
"""Most ids one lookup statement carries: bounds the statement, not the call."""

FrameRead = tuple[str, str, Sequence[Any], Callable[[pl.DataFrame], pl.DataFrame]]
"""One frame read: table, SQL, parameters, and what to do with the frame once read."""


class SqlStore(RegistrySql, KvSql):
    """The shared implementation of :class:`atlas_core.store.Store`."""

    dialect: Dialect
    url: str

    # -- what a back-end provides ---------------------------------------------------------
    @abstractmethod
    def _tx(self) -> AbstractContextManager[Tx]:
        """A write transaction: committed when the block ends, rolled back on error."""

    @abstractmethod
    def _insert_payload(self, table: str, frame: pl.DataFrame) -> object:
        """A validated storage frame converted for :meth:`_insert_payloads` (no I/O)."""

    @abstractmethod
    def _insert_payloads(self, parts: Sequence[tuple[str, Any, int]]) -> list[WriteResult]:
        """Inserts (table, payload, rows) parts in one transaction, skipping existing ids."""

    @abstractmethod
    def _read_frame(self, table: str, sql: str, params: Sequence[Any]) -> pl.DataFrame:
        """Runs a SELECT of ``table``'s columns and returns it typed (see ``query.typed``)."""

    def _read_frames(self, reads: Sequence[FrameRead]) -> list[pl.DataFrame]:
        """Several ``_read_frame`` calls, each followed by its ``then``; a back-end may run
        them concurrently."""
        return [then(self._read_frame(table, sql, params)) for table, sql, params, then in reads]

    @abstractmethod
    def _known_ids(self, tenant: str, ids: Sequence[bytes]) -> set[bytes]:
        """Which of at most ``ID_CHUNK`` distinct, checked 16-byte ids the tenant has
        as interactions; looked up through the primary key."""

    @abstractmethod
    def close(self) -> None:
        """Releases connections."""

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bulk writes ------------------------------------------------------------------------
    def _write(
        self, table: str, batch: pl.DataFrame | Sequence[BaseModel] | CheckedFrame
    ) -> WriteResult:
        frame = prepare(table, batch)
        if frame.height == 0:
            return WriteResult(0, 0)
        return self._insert_payloads([(table, self._insert_payload(table, frame), frame.height)])[0]

    def write_interactions(
        self, batch: pl.DataFrame | Sequence[Interaction] | CheckedFrame
    ) -> WriteResult:
        """Stores interactions, all or nothing; existing ids are skipped (a CheckedFrame
        unchecked: see :mod:`atlas_core.validation`)."""
        return self._write("interactions", batch)

    def write_feedback(
        self, batch: pl.DataFrame | Sequence[Feedback] | CheckedFrame
    ) -> WriteResult:
        """Stores feedback, all or nothing; existing ids are skipped (a CheckedFrame
        unchecked: see :mod:`atlas_core.validation`)."""
        return self._write("feedback", batch)

    def write_rewards(self, batch: pl.DataFrame | Sequence[Reward]) -> WriteResult:
        """Stores rewards, all or nothing; existing ids are skipped."""
        return self._write("rewards", batch)

    def prepare_events(
        self,
        interactions: pl.DataFrame | Sequence[Interaction] | CheckedFrame,
        feedback: pl.DataFrame | Sequence[Feedback] | CheckedFrame,
    ) -> PreparedEvents:
        """Validates and converts both batches for :meth:`write_events`; writes nothing."""
        parts = []
        for table, batch in (("interactions", interactions), ("feedback", feedback)):
            if (len(batch) if isinstance(batch, Sequence) else batch.height) == 0:
                continue  # nothing of that table (an empty frame may lack its columns)
            frame = prepare(table, batch)
            if frame.height:
                parts.append((table, self._insert_payload(table, frame), frame.height))
        return PreparedEvents(self.url, tuple(parts))

    def write_events(self, prepared: PreparedEvents) -> tuple[WriteResult, WriteResult]:
        """Stores a :meth:`prepare_events` batch in one transaction (all or nothing)."""
        if prepared.store_url != self.url:
            raise InvalidArgumentError(
                f"prepared: made by the store at {prepared.store_url}, written to {self.url}"
            )
        results = dict.fromkeys(("interactions", "feedback"), WriteResult(0, 0))
        if prepared.parts:
            written = self._insert_payloads(prepared.parts)
            results.update(zip((table for table, _, _ in prepared.parts), written, strict=True))
        return results["interactions"], results["feedback"]

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
        # Only what the latest-reward join needs: fewer columns, a faster scan.
        needed = ("id", "interaction_id", "score", "created_at")
        rsql, rparams = q.select("rewards", self.dialect, rwhere, None, needed)
        # Each side is prepared where it is read (on SQLite, side by side with the other
        # read), so only the join itself waits for both.
        inter, latest = self._read_frames(
            [
                ("interactions", sql, params, _keyed_oldest_first),
                ("rewards", rsql, rparams, _latest_by_key),
            ]
        )
        joined = (
            inter.lazy()
            .join(latest.lazy(), on="key", how="left", maintain_order="left")
            .drop("key")
        )
        if query.min_reward is not None:
            joined = joined.filter(pl.col("reward") >= query.min_reward)
        if query.max_reward is not None:
            joined = joined.filter(pl.col("reward") <= query.max_reward)
        if query.limit is not None:
            joined = joined.head(query.limit)
        return joined.collect()

    def known_interactions(self, tenant: str, ids: Sequence[bytes]) -> set[bytes]:
        """Which of ``ids`` (16-byte interaction ids; repeats allowed) the tenant has stored."""
        tenant = _tenant(tenant)
        wanted = _distinct_ids(ids)
        known: set[bytes] = set()
        for start in range(0, len(wanted), ID_CHUNK):
            known |= self._known_ids(tenant, wanted[start : start + ID_CHUNK])
        return known

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


def _distinct_ids(ids: Sequence[object]) -> list[bytes]:
    """``ids`` without repeats, in order; refused (naming ``ids``) unless all are 16 bytes."""
    if isinstance(ids, bytes | str):
        raise InvalidArgumentError("ids: a sequence of 16-byte ids, not a single bytes/str value")
    checked: list[bytes] = []
    for value in ids:
        if not isinstance(value, bytes) or len(value) != 16:
            raise InvalidArgumentError(f"ids: every id is 16 bytes, got {value!r:.60}")
        checked.append(value)
    return list(dict.fromkeys(checked))


def _keyed_oldest_first(interactions: pl.DataFrame) -> pl.DataFrame:
    """Interactions oldest first, with the join ``key`` of their id."""
    return q.oldest_first(interactions).with_columns(q.id_key("id").alias("key"))


def _latest_by_key(rewards: pl.DataFrame) -> pl.DataFrame:
    """The latest reward per interaction, by join ``key``."""
    return q.latest_rewards(rewards).drop("interaction_id").collect()


def _interaction_part(query: Query) -> dict[str, Any]:
    """The interaction-attribute filters of ``query`` (to select the matching rewards)."""
    return {
        "learning_key": query.learning_key,
        "model_version": query.model_version,
        "prompt_version": query.prompt_version,
        "user_id": query.user_id,
        "session_id": query.session_id,
    }

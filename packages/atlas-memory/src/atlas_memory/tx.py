"""The transaction handle every SQL back-end provides, and tiny shared SQL helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import StoreError


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


def marks(n: int) -> str:
    """``?, ?, ...`` for ``n`` parameters."""
    return ", ".join("?" * n)


def check_tenant(tenant: str) -> str:
    """The tenant id, refused when empty: no statement runs without a tenant."""
    if not isinstance(tenant, str) or not tenant:
        raise InvalidArgumentError(f"tenant: a non-empty tenant id is required, got {tenant!r}")
    return tenant

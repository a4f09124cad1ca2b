"""Retention by age: keep a tenant's interaction data for a fixed period."""

from __future__ import annotations

from datetime import datetime, timedelta

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Store
from atlas_core.types import utcnow


def apply_retention(
    store: Store, tenant: str, max_age: timedelta, *, now: datetime | None = None
) -> dict[str, int]:
    """Deletes the tenant's interactions, feedback and rewards older than ``max_age``.

    Returns rows deleted per table. Versions, learning runs, tenants and keys are kept:
    they are the system's own history, not user data.
    """
    if max_age <= timedelta(0):
        raise InvalidArgumentError(f"max_age must be positive, got {max_age}")
    return store.delete_older_than(tenant, (now or utcnow()) - max_age)

"""The hot tables' columns: re-exported from :mod:`atlas_core.storage_schema`.

Core owns the schema so the server validates events by the same columns the stores
write; this module keeps the store's own imports short.
"""

from atlas_core.storage_schema import (
    FEEDBACK,
    INTERACTIONS,
    POLARS_TYPE,
    REWARDS,
    TABLES,
    Column,
    Kind,
    polars_schema,
    storage_schema,
)

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

"""Column-wise validation of write batches: one pass per batch, no object per row.

``prepare`` turns a batch (a polars DataFrame, or a sequence of atlas_core models)
into the storage frame of a hot table: exactly the table's columns in order, ids as
16-byte binary, times as Unix nanoseconds. Any malformed row rejects the whole batch
with a :class:`BatchValidationError` naming the column and the first bad row. The
rules themselves live in :mod:`atlas_core.validation`, shared with the server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import polars as pl
from pydantic import BaseModel

from atlas_core.errors import InvalidArgumentError
from atlas_core.storage_schema import TABLES, Column
from atlas_core.store import BatchValidationError
from atlas_core.types import to_ns
from atlas_core.validation import CheckedFrame, first_bad, storage_frame


def prepare(table: str, batch: pl.DataFrame | Sequence[BaseModel] | CheckedFrame) -> pl.DataFrame:
    """The validated storage frame of ``batch`` for ``table`` (all-or-nothing).

    A :class:`CheckedFrame` of ``table`` was checked where it was made and is taken as
    it is; one of another table raises InvalidArgumentError.
    """
    if isinstance(batch, CheckedFrame):
        if batch.table != table:
            raise InvalidArgumentError(
                f"batch: a CheckedFrame of {batch.table}, written to {table}"
            )
        return batch.frame
    if isinstance(batch, pl.DataFrame):
        frame = storage_frame(table, batch)
    else:
        frame = _from_models(TABLES[table], batch)
    bad = first_bad(table, frame)
    if bad is not None:
        row, field, reason = bad
        raise BatchValidationError(table, field, row, reason)
    return frame


def _storage_value(value: Any) -> Any:
    if isinstance(value, UUID):
        return value.bytes
    if isinstance(value, datetime):
        return to_ns(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value


def _from_models(columns: tuple[Column, ...], models: Sequence[BaseModel]) -> pl.DataFrame:
    data: dict[str, list[Any]] = {col.name: [] for col in columns}
    for model in models:
        for col in columns:
            data[col.name].append(_storage_value(getattr(model, col.name)))
    return pl.DataFrame(data, schema={col.name: col.dtype for col in columns})

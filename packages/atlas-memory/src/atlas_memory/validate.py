"""Column-wise validation of write batches: one pass per batch, no object per row.

``prepare`` turns a batch (a polars DataFrame, or a sequence of atlas_core models)
into the storage frame of a hot table: exactly the table's columns in order, ids as
16-byte binary, times as Unix nanoseconds. Any malformed row rejects the whole batch
with a :class:`BatchValidationError` naming the column and the first bad row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any
from uuid import UUID

import polars as pl
from pydantic import BaseModel

from atlas_core.store import BatchValidationError
from atlas_core.types import FeedbackKind, to_ns
from atlas_memory.schema import TABLES, Column

_FEEDBACK_KINDS = [k.value for k in FeedbackKind]
_TEXT_KINDS = [FeedbackKind.EDIT.value, FeedbackKind.COMMENT.value, FeedbackKind.LABEL.value]


def prepare(table: str, batch: pl.DataFrame | Sequence[BaseModel]) -> pl.DataFrame:
    """The validated storage frame of ``batch`` for ``table`` (all-or-nothing)."""
    columns = TABLES[table]
    if isinstance(batch, pl.DataFrame):
        frame = _conform(table, columns, batch)
    else:
        frame = _from_models(columns, batch)
    _check(table, columns, frame)
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


def _conform(table: str, columns: tuple[Column, ...], frame: pl.DataFrame) -> pl.DataFrame:
    """Selects, fills and casts the frame's columns to the storage schema."""
    if frame.schema == _storage_schema(columns):
        return frame  # already the storage frame (the usual bulk path): nothing to convert
    known = {col.name for col in columns}
    for name in frame.columns:
        if name not in known:
            raise BatchValidationError(table, name, None, "unknown column")
    exprs = []
    cast: list[str] = []  # numeric columns converted to the stored type
    for col in columns:
        if col.name not in frame.columns:
            if col.default is None and not col.nullable:
                raise BatchValidationError(table, col.name, None, "required column is missing")
            exprs.append(pl.lit(col.default, dtype=col.dtype).alias(col.name))
            continue
        dtype = frame.schema[col.name]
        if col.kind == "time" and isinstance(dtype, pl.Datetime):
            # Aware datetimes are converted to UTC; naive ones are taken to be UTC already.
            expr = pl.col(col.name).dt.cast_time_unit("ns")
            if dtype.time_zone is not None:
                expr = expr.dt.convert_time_zone("UTC")
            exprs.append(expr.dt.epoch("ns").alias(col.name))
        elif dtype == col.dtype:
            exprs.append(pl.col(col.name))
        elif col.kind in ("int", "float", "time") and dtype.is_numeric() and dtype != pl.Boolean:
            exprs.append(pl.col(col.name).cast(col.dtype, strict=False).alias(col.name))
            cast.append(col.name)
        elif dtype == pl.Null:
            exprs.append(pl.col(col.name).cast(col.dtype).alias(col.name))
        else:
            raise BatchValidationError(
                table, col.name, None, f"expected {col.dtype}, got column of type {dtype}"
            )
    out = frame.select(exprs)
    for name in cast:
        if frame.schema[name].is_float() and out.schema[name].is_integer():
            fractional = (frame[name] != frame[name].round()).fill_null(False)
            if fractional.any():
                row = int(fractional.arg_true()[0])
                raise BatchValidationError(table, name, row, "not an integer")
        # A numeric cast that could not represent a value (e.g. 1e30 into int64) gives null.
        lost = out[name].is_null() & frame[name].is_not_null()
        if lost.any():
            row = int(lost.arg_true()[0])
            raise BatchValidationError(table, name, row, "value out of range for its type")
    return out


@cache
def _storage_schema(columns: tuple[Column, ...]) -> pl.Schema:
    return pl.Schema({col.name: col.dtype for col in columns})


@cache
def _checks(table: str, columns: tuple[Column, ...]) -> tuple[tuple[str, str, pl.Expr], ...]:
    """(column, reason, expression true on bad rows) in the order errors are reported.

    Built once per table: expressions are immutable.
    """
    checks: list[tuple[str, str, pl.Expr]] = []
    for col in columns:
        c = pl.col(col.name)
        if not col.nullable:
            checks.append((col.name, "null in a required column", c.is_null()))
        if col.kind == "id":
            checks.append((col.name, "an id has 16 bytes", c.bin.size() != 16))
        elif col.kind == "float":
            checks.append((col.name, "not a finite number", c.is_nan() | c.is_infinite()))
        elif col.kind == "json":
            # Cheap shape check that catches truncated or non-JSON text without parsing it.
            opener, closer = ("[", "]") if col.name == "input" else ("{", "}")
            checks.append(
                (
                    col.name,
                    f"not a JSON {'array' if opener == '[' else 'object'}",
                    ~(c.str.starts_with(opener) & c.str.ends_with(closer)),
                )
            )
        elif col.name in ("tenant_id", "learning_key", "source"):
            checks.append((col.name, "empty string", c.str.len_bytes() == 0))
    for name in ("latency_ms", "prompt_tokens", "completion_tokens", "uncertainty"):
        if any(col.name == name for col in columns):
            checks.append((name, "negative", pl.col(name) < 0))
    if table == "rewards":
        checks.append(("score", "outside [0, 1]", ~pl.col("score").is_between(0.0, 1.0)))
    if table == "feedback":
        kind = pl.col("kind")
        rating = kind == FeedbackKind.RATING.value
        checks += [
            ("kind", f"not one of {_FEEDBACK_KINDS}", ~kind.is_in(_FEEDBACK_KINDS)),
            ("value", "a rating needs a value", rating & pl.col("value").is_null()),
            ("scale_min", "a rating needs a scale", rating & pl.col("scale_min").is_null()),
            ("scale_max", "a rating needs a scale", rating & pl.col("scale_max").is_null()),
            ("scale_max", "scale_max <= scale_min", pl.col("scale_max") <= pl.col("scale_min")),
            (
                "value",
                "rating outside its scale",
                rating & ~pl.col("value").is_between(pl.col("scale_min"), pl.col("scale_max")),
            ),
            (
                "name",
                "a signal needs a name",
                (kind == FeedbackKind.SIGNAL.value)
                & (pl.col("name").is_null() | (pl.col("name").str.len_bytes() == 0)),
            ),
            (
                "text",
                "edit/comment/label need text",
                kind.is_in(_TEXT_KINDS) & pl.col("text").is_null(),
            ),
        ]
    return tuple(checks)


def _check(table: str, columns: tuple[Column, ...], frame: pl.DataFrame) -> None:
    """Raises on the first failing check; all checks are evaluated in one pass."""
    if frame.height == 0:
        return
    checks = _checks(table, columns)
    # Fast path: one independent any() per check (polars runs them side by side and never
    # materialises a combined mask); the row detail only for the checks that failed.
    failed = frame.select(_any_bad(table, columns)).row(0)
    if not any(failed):
        return
    # Checks are reported in order: the first failed one, at its first bad row.
    name, reason, bad = checks[failed.index(True)]
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    row = frame.select(pl.when(bad.fill_null(False)).then(index).otherwise(None).min()).item()
    raise BatchValidationError(table, name, int(row), reason)


@cache
def _any_bad(table: str, columns: tuple[Column, ...]) -> list[pl.Expr]:
    """Per check, an expression true when any row of the batch fails it."""
    return [
        bad.fill_null(False).any().alias(str(i))
        for i, (_, _, bad) in enumerate(_checks(table, columns))
    ]

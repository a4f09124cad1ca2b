"""The validation rules of the hot tables, one set for the stores and the server.

Every rule is a polars expression over a storage frame (see
:mod:`atlas_core.storage_schema`) that is true on the rows breaking it; a null result
counts as passing (the nullability rules catch missing values). Rules are evaluated
column-wise, never one Python object per row:

- :func:`storage_frame` selects, fills and casts a batch frame to the storage schema;
- :func:`first_bad` finds what rejects a whole batch (the stores: all or nothing);
- :func:`bad_rows` lists every bad row (the server: reject those, keep the rest).

A :class:`CheckedFrame` is a storage frame whose rows were checked against these rules
where they were made (the server's native decoder applies them while decoding the SDK's
column batches, see :mod:`atlas_core.serve.column_decode`), so a store writes it without
checking again. Nothing else can make one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.storage_schema import TABLES, Column, storage_schema
from atlas_core.store import BatchValidationError
from atlas_core.types import FeedbackKind

__all__ = ["Check", "CheckedFrame", "bad_rows", "checks", "first_bad", "storage_frame"]

_FEEDBACK_KINDS = [k.value for k in FeedbackKind]
_TEXT_KINDS = [FeedbackKind.EDIT.value, FeedbackKind.COMMENT.value, FeedbackKind.LABEL.value]
_NON_NEGATIVE = ("latency_ms", "prompt_tokens", "completion_tokens", "uncertainty")


@dataclass(frozen=True)
class Check:
    """One rule: the field it blames, why, and an expression true on the rows breaking it."""

    field: str
    reason: str
    bad: pl.Expr


def _columns(table: str) -> tuple[Column, ...]:
    try:
        return TABLES[table]
    except KeyError:
        raise InvalidArgumentError(f"table: one of {sorted(TABLES)}, got {table!r}") from None


@cache
def checks(table: str) -> tuple[Check, ...]:
    """The rules of ``table`` in the order errors are reported (built once: expressions are
    immutable)."""
    columns = _columns(table)
    out: list[Check] = []
    for col in columns:
        c = pl.col(col.name)
        if not col.nullable:
            out.append(Check(col.name, "null in a required column", c.is_null()))
        if col.kind == "id":
            out.append(Check(col.name, "an id has 16 bytes", c.bin.size() != 16))
        elif col.kind == "float":
            out.append(Check(col.name, "not a finite number", c.is_nan() | c.is_infinite()))
        elif col.kind == "json":
            # Cheap shape check that catches truncated or non-JSON text without parsing it.
            opener, closer, shape = (
                ("[", "]", "array") if col.name == "input" else ("{", "}", "object")
            )
            out.append(
                Check(
                    col.name,
                    f"not a JSON {shape}",
                    ~(c.str.starts_with(opener) & c.str.ends_with(closer)),
                )
            )
        elif col.name in ("tenant_id", "learning_key", "source"):
            out.append(Check(col.name, "empty string", c.str.len_bytes() == 0))
    names = {col.name for col in columns}
    out += [Check(name, "negative", pl.col(name) < 0) for name in _NON_NEGATIVE if name in names]
    if table == "rewards":
        out.append(Check("score", "outside [0, 1]", ~pl.col("score").is_between(0.0, 1.0)))
    if table == "feedback":
        out += _feedback_checks()
    return tuple(out)


def _feedback_checks() -> list[Check]:
    """The rules that tie a feedback row's fields to its kind."""
    kind = pl.col("kind")
    rating = kind == FeedbackKind.RATING.value
    value, low, high, name = (
        pl.col("value"),
        pl.col("scale_min"),
        pl.col("scale_max"),
        pl.col("name"),
    )
    return [
        Check("kind", f"not one of {_FEEDBACK_KINDS}", ~kind.is_in(_FEEDBACK_KINDS)),
        Check("value", "a rating needs a value", rating & value.is_null()),
        Check("scale_min", "a rating needs a scale", rating & low.is_null()),
        Check("scale_max", "a rating needs a scale", rating & high.is_null()),
        Check("scale_max", "scale_max <= scale_min", high <= low),
        Check("value", "rating outside its scale", rating & ~value.is_between(low, high)),
        Check(
            "name",
            "a signal needs a name",
            (kind == FeedbackKind.SIGNAL.value) & (name.is_null() | (name.str.len_bytes() == 0)),
        ),
        Check(
            "text",
            "edit/comment/label need text",
            kind.is_in(_TEXT_KINDS) & pl.col("text").is_null(),
        ),
    ]


@cache
def _any_bad(table: str) -> tuple[pl.Expr, ...]:
    """Per check, an expression true when any row of the frame breaks it."""
    return tuple(c.bad.fill_null(False).any().alias(str(i)) for i, c in enumerate(checks(table)))


def _require_storage_frame(table: str, frame: pl.DataFrame) -> None:
    _columns(table)  # an unknown table is named before the frame is looked at
    if not isinstance(frame, pl.DataFrame):
        raise InvalidArgumentError(
            f"frame: expected a polars DataFrame, got {type(frame).__name__}"
        )
    expected = storage_schema(table)
    if frame.schema == expected:
        return
    got = dict(frame.schema)
    problems = [
        f"{n} is {got.get(n, 'missing')}, need {t}" for n, t in expected.items() if got.get(n) != t
    ]
    problems += [f"unknown column {n}" for n in got if n not in expected]
    detail = problems[0] if problems else "columns out of order"
    raise InvalidArgumentError(
        f"frame: not the storage frame of {table} (see storage_frame): {detail}"
    )


def bad_rows(table: str, frame: pl.DataFrame) -> list[tuple[int, str, str]]:
    """Every row of ``table``'s storage frame that breaks a rule, as ``(row, field, reason)``.

    One entry per bad row, rows ascending, naming the row's FIRST broken rule (in the order
    of :func:`checks`). Raises ``InvalidArgumentError`` when ``frame`` is not exactly the
    storage frame of ``table`` (columns, order and dtypes).
    """
    _require_storage_frame(table, frame)
    if frame.height == 0:
        return []
    rules = checks(table)
    # Fast path (the usual all-good batch): one any() per rule, evaluated side by side.
    failed = [i for i, hit in enumerate(frame.select(_any_bad(table)).row(0)) if hit]
    if not failed:
        return []
    # Per row, the index of its first broken rule; rules no row broke cannot be first.
    first = pl.coalesce(
        [pl.when(rules[i].bad.fill_null(False)).then(pl.lit(i, pl.UInt16)) for i in failed]
    )
    found = (
        frame.lazy()
        .select(row=pl.int_range(pl.len(), dtype=pl.Int64), rule=first)
        .filter(pl.col("rule").is_not_null())
        .collect()
    )
    return [
        (row, rules[i].field, rules[i].reason)
        for row, i in zip(found["row"].to_list(), found["rule"].to_list(), strict=True)
    ]


def first_bad(table: str, frame: pl.DataFrame) -> tuple[int, str, str] | None:
    """What rejects ``table``'s storage frame as a whole: the first rule (in order) that
    some row breaks, at its first such row, as ``(row, field, reason)``; None if all pass.

    Same input contract as :func:`bad_rows`.
    """
    _require_storage_frame(table, frame)
    if frame.height == 0:
        return None
    failed = frame.select(_any_bad(table)).row(0)
    if not any(failed):
        return None
    rule = checks(table)[failed.index(True)]
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    row = frame.select(pl.when(rule.bad.fill_null(False)).then(index).otherwise(None).min()).item()
    return int(row), rule.field, rule.reason


def storage_frame(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` as ``table``'s storage frame: its columns selected in order, missing ones
    filled with their default, numbers cast to the stored type, datetimes to UTC Unix
    nanoseconds. Does not apply the rules (see :func:`bad_rows`).

    Raises :class:`~atlas_core.store.BatchValidationError` for an unknown or missing
    required column, a column of the wrong type, or a number the stored type cannot hold
    (at its first row).
    """
    columns = _columns(table)
    if frame.schema == storage_schema(table):
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


class CheckedFrame:
    """A storage frame of ``table`` whose every row keeps every rule of ``checks(table)``.

    A store takes one in place of a frame and writes it without checking the rules again
    (a millisecond or two per table per commit spared on the server's hot path). The
    constructor is closed: the only maker is the server's native decoder
    (:func:`atlas_core.serve.column_decode.decode_columns`), which applies the same rules
    event by event, and the two operations below, which keep rows whole and so keep the
    guarantee. A frame built anywhere else is a plain DataFrame, and the stores check it.
    The frame is held as a copy (polars copies share the buffers), so changing the
    caller's frame afterwards cannot reach it.
    """

    __slots__ = ("_frame", "_table")

    _frame: pl.DataFrame
    _table: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "CheckedFrame: made only by the server's decoder (decode_columns); "
            "write a plain storage frame and the store checks it"
        )

    @classmethod
    def _certify(cls, table: str, frame: pl.DataFrame) -> CheckedFrame:
        """For the decoder only, after applying every rule: wraps ``frame`` (which must be
        the exact storage frame of ``table``; ``InvalidArgumentError`` otherwise)."""
        _require_storage_frame(table, frame)
        out = object.__new__(cls)
        out._table = table
        out._frame = frame.clone()
        return out

    @property
    def table(self) -> str:
        """The table whose rules the rows keep."""
        return self._table

    @property
    def frame(self) -> pl.DataFrame:
        """A copy of the checked storage frame (changes to it do not reach this one)."""
        return self._frame.clone()

    @property
    def height(self) -> int:
        return self._frame.height

    def filter(self, mask: pl.Series) -> CheckedFrame:
        """The rows where the boolean ``mask`` is true (still checked: rules are per row)."""
        return CheckedFrame._certify(self._table, self._frame.filter(mask))

    @staticmethod
    def concat(parts: Sequence[CheckedFrame]) -> CheckedFrame:
        """The rows of every part, in order (InvalidArgumentError when the parts are of
        different tables, or there are none)."""
        if not parts:
            raise InvalidArgumentError("parts: at least one CheckedFrame")
        tables = {p.table for p in parts}
        if len(tables) != 1:
            raise InvalidArgumentError(f"parts: of one table, got {sorted(tables)}")
        return CheckedFrame._certify(parts[0].table, pl.concat([p._frame for p in parts]))

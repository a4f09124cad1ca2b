"""Typed wire events (JSON-like mappings) → storage frames, with per-event type errors.

The public wire schema is :class:`atlas_core.types.Interaction` / :class:`~atlas_core.types.
Feedback` without ``tenant_id`` (see :class:`atlas_core.serve.pipeline.IngestPipeline`). This
module does the part only a loop over events can: types, ids, times, JSON text, UTF-8. The
value rules (finite numbers, a rating on its scale, text for an edit, …) are checked
column-wise afterwards by :func:`atlas_core.validation.bad_rows`, the rule set the store uses.

An event with a type error is left out and reported; its neighbours go on.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from atlas_core.ids import new_id_bytes
from atlas_core.sdk.events import dumps
from atlas_core.serve.results import EventError, EventKindName
from atlas_core.types import to_ns

__all__ = ["Converted", "convert", "empty_columns", "frame_of"]

_INT64_MAX = 2**63 - 1


class _FieldError(Exception):
    """One field of one event is wrong (internal: becomes an EventError)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_type(value)}")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise TypeError("not valid UTF-8 (it holds a lone surrogate)") from None
    return value


def _required_text(value: object) -> str:
    if value is None:
        raise TypeError("required")
    return _text(value)


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {_type(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise TypeError(f"must be a finite number, got {number}")
    return number


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {_type(value)}")
    if not -_INT64_MAX <= value <= _INT64_MAX:
        raise TypeError("out of the 64-bit range")
    return value


def _id(value: object) -> bytes:
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, bytes) and len(value) == 16:
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value).bytes
        except ValueError:
            raise TypeError(f"not a UUID: {value[:64]!r}") from None
    raise TypeError(f"expected a UUID string, got {_type(value)}")


def _minted_id(value: object) -> bytes:
    return new_id_bytes() if value is None else _id(value)


def _required_id(value: object) -> bytes:
    if value is None:
        raise TypeError("required")
    return _id(value)


def _time(value: object) -> int:
    if value is None:
        return time.time_ns()
    if isinstance(value, bool):
        raise TypeError("expected RFC 3339 text or Unix nanoseconds, got a boolean")
    if isinstance(value, int):
        if not 0 <= value <= _INT64_MAX:
            raise TypeError("Unix nanoseconds out of range")
        return value
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise TypeError(f"not an RFC 3339 time: {text[:64]!r}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("a time needs a UTC offset (e.g. 2026-01-01T00:00:00Z)")
        return to_ns(value)
    raise TypeError(f"expected RFC 3339 text or Unix nanoseconds, got {_type(value)}")


def _json_object(value: object) -> str:
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a JSON object, got {_type(value)}")
    return _json_text(value)


def _messages(value: object) -> str:
    # The store keeps input as a JSON array of messages; a bare string is one user message.
    if isinstance(value, str):
        return _json_text([{"role": "user", "content": _text(value)}])
    if isinstance(value, list | tuple):
        return _json_text(list(value))
    if value is None:
        raise TypeError("required")
    raise TypeError(f"expected a JSON array of messages or a string, got {_type(value)}")


def _json_text(value: object) -> str:
    try:
        return dumps(value).decode()
    except (TypeError, ValueError, UnicodeError) as err:
        raise TypeError(f"not JSON-serialisable ({err})") from None


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


_Field = tuple[str, Callable[[object], Any], pl.DataType]

# Storage column order (the store's schema), the converter and the dtype of each column.
_INTERACTION_FIELDS: tuple[_Field, ...] = (
    ("id", _minted_id, pl.Binary()),
    ("session_id", _optional_text, pl.String()),
    ("user_id", _optional_text, pl.String()),
    ("learning_key", _required_text, pl.String()),
    ("model_version", _optional_text, pl.String()),
    ("prompt_version", _optional_text, pl.String()),
    ("input", _messages, pl.String()),
    ("output", _required_text, pl.String()),
    ("latency_ms", _optional_float, pl.Float64()),
    ("prompt_tokens", _optional_int, pl.Int64()),
    ("completion_tokens", _optional_int, pl.Int64()),
    ("metadata", _json_object, pl.String()),
    ("created_at", _time, pl.Int64()),
)

_FEEDBACK_FIELDS: tuple[_Field, ...] = (
    ("id", _minted_id, pl.Binary()),
    ("interaction_id", _required_id, pl.Binary()),
    ("user_id", _optional_text, pl.String()),
    ("kind", _required_text, pl.String()),
    ("name", _optional_text, pl.String()),
    ("value", _optional_float, pl.Float64()),
    ("scale_min", _optional_float, pl.Float64()),
    ("scale_max", _optional_float, pl.Float64()),
    ("text", _optional_text, pl.String()),
    ("source", _optional_text, pl.String()),
    ("metadata", _json_object, pl.String()),
    ("created_at", _time, pl.Int64()),
)

_FIELDS: dict[EventKindName, tuple[_Field, ...]] = {
    "interaction": _INTERACTION_FIELDS,
    "feedback": _FEEDBACK_FIELDS,
}
_KNOWN: dict[EventKindName, frozenset[str]] = {
    kind: frozenset(name for name, _, _ in fields) | {"tenant_id"}
    for kind, fields in _FIELDS.items()
}


class Converted:
    """The well-typed events of one request as column lists, and what became of the rest.

    Plain lists, not a frame: the pipeline's writer builds one frame for every request of
    a commit (:func:`frame_of`), so a one-event request costs no frame of its own.
    """

    __slots__ = ("columns", "errors", "ids", "rows")

    def __init__(
        self,
        columns: dict[str, list[Any]],
        rows: list[int],
        ids: list[bytes],
        errors: list[EventError],
    ) -> None:
        self.columns = columns
        """Storage column -> values of the events that converted (no ``tenant_id``)."""
        self.rows = rows
        """For each converted event, its index in the request."""
        self.ids = ids
        """Every event's id (given or minted; 16 zero bytes where the id itself was bad)."""
        self.errors = errors
        """The events left out, with the field at fault."""


def convert(kind: EventKindName, tenant_id: str, events: Sequence[Mapping[str, Any]]) -> Converted:
    """Converts the request's events of one kind; see the module docstring."""
    fields = _FIELDS[kind]
    known = _KNOWN[kind]
    columns: list[list[Any]] = [[] for _ in fields]
    rows: list[int] = []
    ids: list[bytes] = []
    errors: list[EventError] = []
    for index, event in enumerate(events):
        try:
            values = _convert_one(kind, tenant_id, event, fields, known)
        except _FieldError as bad:
            errors.append(EventError(kind, index, bad.field, bad.reason))
            ids.append(_given_id(event))
            continue
        for column, value in zip(columns, values, strict=True):
            column.append(value)
        rows.append(index)
        ids.append(values[0])
    data = {name: column for (name, _, _), column in zip(fields, columns, strict=True)}
    return Converted(data, rows, ids, errors)


def empty_columns(kind: EventKindName) -> dict[str, list[Any]]:
    """Column lists with no events, to extend with several requests' columns."""
    return {name: [] for name, _, _ in _FIELDS[kind]}


def frame_of(
    kind: EventKindName, columns: dict[str, list[Any]], tenants: list[str]
) -> pl.DataFrame:
    """The storage frame of converted column lists (``tenants``: each row's tenant), built
    in one construction in the store's column order."""
    data: dict[str, list[Any]] = {"id": columns["id"], "tenant_id": tenants}
    schema: dict[str, pl.DataType] = {"id": pl.Binary(), "tenant_id": pl.String()}
    for name, _, dtype in _FIELDS[kind]:
        if name != "id":
            data[name] = columns[name]
            schema[name] = dtype
    return pl.DataFrame(data, schema=schema)


def _convert_one(
    kind: EventKindName,
    tenant_id: str,
    event: Mapping[str, Any],
    fields: tuple[_Field, ...],
    known: frozenset[str],
) -> list[Any]:
    if not isinstance(event, Mapping):
        raise _FieldError(kind, f"expected a JSON object, got {_type(event)}")
    for name in event:
        if name not in known:
            raise _FieldError(str(name)[:64], "unknown field")
    claimed = event.get("tenant_id")
    if claimed is not None and claimed != tenant_id:
        raise _FieldError(
            "tenant_id", "does not match the tenant of the credentials (leave it out)"
        )
    values: list[Any] = []
    for name, converter, _ in fields:
        raw = event.get(name)
        if raw is None:
            raw = _default(kind, name, event)
        try:
            values.append(converter(raw))
        except TypeError as err:
            raise _FieldError(name, str(err)) from None
    return values


def _default(kind: EventKindName, name: str, event: Mapping[str, Any]) -> object:
    """The SDK's defaults, so a wire event means what the same SDK call means."""
    if kind != "feedback":
        return None
    if name == "source":
        return "api"
    feedback_kind = event.get("kind")
    if feedback_kind == "rating" and name in ("scale_min", "scale_max"):
        return 1.0 if name == "scale_min" else 5.0
    if feedback_kind == "signal" and name == "value":
        return 1.0
    return None


def _given_id(event: object) -> bytes:
    if isinstance(event, Mapping):
        try:
            return _id(event.get("id"))
        except TypeError:
            pass
    return bytes(16)

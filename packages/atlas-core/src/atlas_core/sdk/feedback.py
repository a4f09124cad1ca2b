"""Validation of feedback arguments, done before anything is buffered.

Each ``check_*`` function returns the normalised fields of one feedback kind or raises
InvalidArgumentError naming the offending argument; the recorder calls them first, so
bad input never reaches the buffer (and never fails later, on the flusher thread, where
nobody would see it).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

from atlas_core.errors import InvalidArgumentError
from atlas_core.ids import parse_id
from atlas_core.kernels.buffer import EventKind
from atlas_core.sdk.events import dumps

__all__ = [
    "KNOWN_SIGNALS",
    "check_id",
    "check_metadata",
    "check_number",
    "check_rating",
    "check_signal",
    "check_text",
    "feedback_kind",
]

#: Signal names with a conventional meaning; any other non-empty name is accepted too.
KNOWN_SIGNALS = frozenset({"copy", "share", "retry", "dismiss", "engage", "regenerate", "thumbs"})


def check_id(name: str, value: uuid.UUID | bytes | str) -> bytes:
    """The 16 bytes of an interaction id given as UUID, bytes or string."""
    try:
        return parse_id(value)
    except InvalidArgumentError as err:
        raise InvalidArgumentError(f"invalid argument `{name}`: {err}") from None


def check_number(name: str, value: object) -> float:
    """``value`` as a finite float (bools and non-numbers refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(
            f"invalid argument `{name}`: must be a number, got {type(value).__name__}"
        )
    number = float(value)
    if not math.isfinite(number):
        raise InvalidArgumentError(f"invalid argument `{name}`: must be finite, got {number}")
    return number


def check_rating(value: object, scale: tuple[float, float]) -> tuple[float, float, float]:
    """(value, scale_min, scale_max) of a rating; the value must lie on the scale."""
    if not isinstance(scale, tuple | list) or len(scale) != 2:
        raise InvalidArgumentError(
            f"invalid argument `scale`: must be a (low, high) pair, got {scale!r}"
        )
    low, high = check_number("scale", scale[0]), check_number("scale", scale[1])
    if not low < high:
        raise InvalidArgumentError(f"invalid argument `scale`: low must be below high, got {scale}")
    rating = check_number("value", value)
    if not low <= rating <= high:
        raise InvalidArgumentError(
            f"invalid argument `value`: {rating} is outside the scale [{low}, {high}]"
        )
    return rating, low, high


def check_signal(name: object, value: object) -> tuple[str, float]:
    """(name, value) of an implicit signal; the name is any non-empty string (open set)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(
            f"invalid argument `name`: a signal needs a non-empty name, got {name!r}"
        )
    return name.strip(), check_number("value", value)


def check_text(name: str, value: object) -> str:
    """The text of an edit, comment or label: a string (an empty edit is a valid correction)."""
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"invalid argument `{name}`: must be a str, got {type(value).__name__}"
        )
    return value


def check_metadata(value: Mapping[str, Any] | None) -> str:
    """Metadata as compact JSON object text (``{}`` when None)."""
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(
            f"invalid argument `metadata`: must be a mapping, got {type(value).__name__}"
        )
    return dumps(dict(value)).decode()


_KINDS = {
    "rating": EventKind.RATING,
    "signal": EventKind.SIGNAL,
    "edit": EventKind.EDIT,
    "comment": EventKind.COMMENT,
    "label": EventKind.LABEL,
}


def feedback_kind(kind: object) -> EventKind:
    """The event kind of a feedback kind name (``rating``, ``signal``, ``edit``, ...)."""
    if isinstance(kind, str) and kind in _KINDS:
        return _KINDS[kind]
    raise InvalidArgumentError(f"invalid argument `kind`: one of {sorted(_KINDS)}, got {kind!r}")

"""The SDK's event encoding: what one recorded interaction or feedback becomes in the buffer.

Each event is one row of the native FeedbackBuffer. The numeric parts use the buffer's
columns (``event_id``, ``interaction_id``, ``kind``, ``key``, ``value``, ``ts_ns``); the text
parts travel in ``payload`` as one compact JSON object terminated by a newline. The newline
makes a drained batch's payload bytes an NDJSON document, so the flusher decodes a whole
batch with one ``polars.read_ndjson`` call instead of parsing row by row in Python.

Payload fields are named after the store columns they fill. Fields that hold JSON in the
store (``input``, ``metadata``) are carried as JSON *text* inside the payload, so decoding
keeps them byte-exact without knowing their shape.

An interaction's id is its event id (minted by the buffer); its ``interaction_id`` column
holds :data:`NO_INTERACTION`. A feedback event's ``interaction_id`` is the interaction it is
about.

``value`` holds the latency in milliseconds for an interaction (NaN when unknown) and the
rating or signal value for feedback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventColumns, EventKind

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "FEEDBACK_KINDS",
    "NO_INTERACTION",
    "DecodedBatch",
    "decode",
    "dumps",
    "feedback_payload",
    "interaction_payload",
    "learning_key_id",
]

#: Feedback event kinds and the store's ``kind`` text for each.
FEEDBACK_KINDS: dict[int, str] = {
    EventKind.RATING: "rating",
    EventKind.SIGNAL: "signal",
    EventKind.EDIT: "edit",
    EventKind.COMMENT: "comment",
    EventKind.LABEL: "label",
}

#: The ``interaction_id`` of an interaction event (its own id is the event id).
NO_INTERACTION = bytes(16)

_PAYLOAD_FIELDS: dict[str, str] = {
    # field -> polars dtype name; the union of the interaction and feedback payloads
    "tenant_id": "str",
    "session_id": "str",
    "user_id": "str",
    "learning_key": "str",
    "model_version": "str",
    "prompt_version": "str",
    "input": "str",
    "output": "str",
    "prompt_tokens": "int",
    "completion_tokens": "int",
    "metadata": "str",
    "name": "str",
    "scale_min": "float",
    "scale_max": "float",
    "text": "str",
    "source": "str",
}


def _make_dumps() -> Callable[[Any], bytes]:
    # orjson is several times faster and is usually installed; the stdlib is the fallback.
    # Both write compact JSON with no raw newline (newlines inside strings are escaped).
    try:
        import orjson
    except ImportError:  # pragma: no cover - depends on the environment
        encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
        return lambda value: encoder.encode(value).encode()

    def fast(value: Any) -> bytes:
        try:
            return orjson.dumps(value, default=str)
        except TypeError:  # e.g. int beyond 64 bits, non-str dict keys: the stdlib copes
            return json.dumps(
                value, separators=(",", ":"), ensure_ascii=False, default=str
            ).encode()

    return fast


dumps: Callable[[Any], bytes] = _make_dumps()
"""Compact JSON bytes of ``value``; objects JSON does not know are written as ``str(obj)``."""


def interaction_payload(
    *,
    tenant_id: str,
    learning_key: str,
    input_json: str,
    output: str,
    metadata_json: str,
    model_version: str | None = None,
    prompt_version: str | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
) -> bytes:
    """The payload line of an interaction event (``input`` and ``metadata`` as JSON text)."""
    return (
        dumps(
            {
                "tenant_id": tenant_id,
                "learning_key": learning_key,
                "model_version": model_version,
                "prompt_version": prompt_version,
                "session_id": session_id,
                "user_id": user_id,
                "input": input_json,
                "output": output,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "metadata": metadata_json,
            }
        )
        + b"\n"
    )


def feedback_payload(
    *,
    tenant_id: str,
    source: str,
    metadata_json: str,
    name: str | None = None,
    scale_min: float | None = None,
    scale_max: float | None = None,
    text: str | None = None,
    user_id: str | None = None,
) -> bytes:
    """The payload line of a feedback event (``metadata`` as JSON text)."""
    return (
        dumps(
            {
                "tenant_id": tenant_id,
                "user_id": user_id,
                "name": name,
                "scale_min": scale_min,
                "scale_max": scale_max,
                "text": text,
                "source": source,
                "metadata": metadata_json,
            }
        )
        + b"\n"
    )


_KEY_IDS: dict[str, int] = {}


def learning_key_id(learning_key: str) -> int:
    """A stable 64-bit id of a learning key for the buffer's ``key`` column (memoised).

    Stable across processes (a hash of the UTF-8 text, not Python's salted ``hash``), so
    consumers that aggregate by the numeric key agree with each other.
    """
    key = _KEY_IDS.get(learning_key)
    if key is None:
        digest = hashlib.blake2b(learning_key.encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "little")
        if len(_KEY_IDS) < 65_536:  # bounded: learning keys are few, but callers may misuse them
            _KEY_IDS[learning_key] = key
    return key


class DecodedBatch:
    """A drained batch as store frames: ``interactions`` and ``feedback`` (storage columns)."""

    __slots__ = ("feedback", "interactions", "invalid")

    def __init__(self, interactions: pl.DataFrame, feedback: pl.DataFrame, invalid: int) -> None:
        self.interactions = interactions
        self.feedback = feedback
        self.invalid = invalid
        """Events left out: a kind the SDK does not know, or a payload missing a field the
        SDK always writes (so not an SDK event); the transport counts them as failed."""


def _ids(column: np.ndarray[Any, np.dtype[np.uint8]]) -> list[bytes]:
    raw = column.tobytes()
    return [raw[i : i + 16] for i in range(0, len(raw), 16)]


def decode(columns: EventColumns, *, keep_rows: bool = False) -> DecodedBatch:
    """Turns drained columns into the frames ``Store.write_interactions`` / ``write_feedback``
    take, in one columnar pass (no object per row).

    ``keep_rows`` adds a last column ``row``: each event's position in ``columns`` (the
    server uses it to name rejected events).

    Raises InvalidArgumentError when a payload is not one NDJSON line (an event the SDK did
    not encode); the caller treats that batch as undeliverable.
    """
    import polars as pl

    n = len(columns)
    offsets = columns.payload_offsets
    data = columns.payload_data
    if n == 0:
        empty = pl.DataFrame()
        return DecodedBatch(empty, empty, 0)
    lengths = np.diff(offsets)
    if (lengths <= 0).any() or (data[offsets[1:] - 1] != ord("\n")).any():
        raise InvalidArgumentError("payload: every event payload must be one JSON line")
    dtypes = {"str": pl.String, "int": pl.Int64, "float": pl.Float64}
    schema = {name: dtypes[kind] for name, kind in _PAYLOAD_FIELDS.items()}
    try:
        parsed = pl.read_ndjson(data.tobytes(), schema=schema)
    except pl.exceptions.PolarsError as err:
        raise InvalidArgumentError(f"payload: not JSON lines the SDK wrote ({err})") from err
    if parsed.height != n:
        raise InvalidArgumentError(f"payload: decoded {parsed.height} rows from {n} events")
    value = pl.Series("value", columns.value)
    frame = parsed.with_columns(
        pl.Series("kind_code", columns.kind),
        pl.Series("event_id", _ids(columns.event_id), dtype=pl.Binary),
        pl.Series("interaction_id", _ids(columns.interaction_id), dtype=pl.Binary),
        # The buffer uses NaN for "absent"; the store wants null.
        value.fill_nan(None),
        pl.Series("created_at", columns.ts_ns),
        pl.int_range(n, dtype=pl.Int64).alias("row"),
    )
    # Fields the SDK always writes; a row without them was not encoded here. Filtering them
    # out in one pass keeps foreign events from reaching the store's row-by-row rejection.
    common = pl.col("tenant_id").is_not_null() & pl.col("metadata").is_not_null()
    is_interaction = (
        (pl.col("kind_code") == int(EventKind.INTERACTION))
        & common
        & pl.all_horizontal(pl.col(c).is_not_null() for c in ("learning_key", "input", "output"))
    )
    is_feedback = (
        pl.col("kind_code").is_in(list(FEEDBACK_KINDS)) & common & pl.col("source").is_not_null()
    )
    extra = ["row"] if keep_rows else []
    interactions = frame.filter(is_interaction).select(
        pl.col("event_id").alias("id"),
        "tenant_id",
        "session_id",
        "user_id",
        "learning_key",
        "model_version",
        "prompt_version",
        "input",
        "output",
        pl.col("value").alias("latency_ms"),
        "prompt_tokens",
        "completion_tokens",
        "metadata",
        "created_at",
        *extra,
    )
    kind_text = pl.col("kind_code").replace_strict(
        list(FEEDBACK_KINDS), list(FEEDBACK_KINDS.values()), default=None, return_dtype=pl.String
    )
    feedback = frame.filter(is_feedback).select(
        pl.col("event_id").alias("id"),
        "tenant_id",
        "interaction_id",
        "user_id",
        kind_text.alias("kind"),
        "name",
        "value",
        "scale_min",
        "scale_max",
        "text",
        "source",
        "metadata",
        "created_at",
        *extra,
    )
    invalid = n - interactions.height - feedback.height
    return DecodedBatch(interactions, feedback, invalid)

"""Conversions between the gRPC messages (``atlas/v1/ingest.proto``) and what the pipeline
and the store speak: typed event dicts, :class:`EventColumns`, :class:`IngestResult`, read
frames.

Decoding is defensive: whatever bytes a client sent, the functions here raise only
:class:`InvalidArgumentError` naming the field (request-level problems) or report an
:class:`EventError` for the one event (per-event problems).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventColumns
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.pipeline import EventError, IngestResult

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "DecodedEvents",
    "columns_from_batch",
    "columns_to_batch",
    "decode_events",
    "feedback_messages",
    "interaction_messages",
    "response_from_result",
    "reward_messages",
]

# Optional scalar fields copied as they are when present (proto3 `optional`: HasField).
_INTERACTION_SCALARS = (
    "id",
    "model_version",
    "prompt_version",
    "session_id",
    "user_id",
    "latency_ms",
    "prompt_tokens",
    "completion_tokens",
)
_FEEDBACK_SCALARS = ("id", "name", "value", "scale_min", "scale_max", "text", "user_id", "source")

_LE = {"u8": np.dtype("<u8"), "i8": np.dtype("<i8"), "f8": np.dtype("<f8")}


class DecodedEvents:
    """The typed events of one ``IngestRequest`` as the pipeline takes them, plus the events
    that failed to decode here (bad JSON text) with their original positions.

    ``interaction_index[i]`` is the request position of ``interactions[i]`` (same for
    feedback), so pipeline results can be mapped back to what the client sent.
    """

    __slots__ = (
        "errors",
        "feedback",
        "feedback_index",
        "interaction_index",
        "interactions",
        "n_feedback",
        "n_interactions",
    )

    def __init__(self) -> None:
        self.interactions: list[dict[str, Any]] = []
        self.feedback: list[dict[str, Any]] = []
        self.interaction_index: list[int] = []
        self.feedback_index: list[int] = []
        self.errors: list[EventError] = []
        self.n_interactions = 0
        self.n_feedback = 0


def _make_loads() -> Callable[[str], Any]:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is usually installed; the stdlib copes
        return json.loads
    return orjson.loads


_loads = _make_loads()


def _json(text: str, field: str, kind: Literal["interaction", "feedback"], index: int) -> Any:
    try:
        return _loads(text)
    except ValueError as err:  # both decoders raise a ValueError subclass
        reason = f"not valid JSON text ({err})"
        raise _EventRejectedError(EventError(kind, index, field, reason)) from None


class _EventRejectedError(Exception):
    def __init__(self, error: EventError) -> None:
        self.error = error


def _created_at(message: pb.Interaction | pb.Feedback) -> str | int | None:
    which = message.WhichOneof("created_at")
    if which == "created_at_text":
        return message.created_at_text
    if which == "created_at_ns":
        return message.created_at_ns
    return None


def _interaction(message: pb.Interaction, index: int) -> dict[str, Any]:
    event: dict[str, Any] = {"learning_key": message.learning_key, "output": message.output}
    for name in _INTERACTION_SCALARS:
        if message.HasField(name):  # type: ignore[arg-type]  # names of optional fields
            event[name] = getattr(message, name)
    which = message.WhichOneof("input")
    if which == "input_text":
        event["input"] = message.input_text
    elif which == "input_json":
        event["input"] = _json(message.input_json, "input", "interaction", index)
    if message.metadata_json:
        event["metadata"] = _json(message.metadata_json, "metadata", "interaction", index)
    created = _created_at(message)
    if created is not None:
        event["created_at"] = created
    return event


def _feedback(message: pb.Feedback, index: int) -> dict[str, Any]:
    event: dict[str, Any] = {"interaction_id": message.interaction_id, "kind": message.kind}
    for name in _FEEDBACK_SCALARS:
        if message.HasField(name):  # type: ignore[arg-type]  # names of optional fields
            event[name] = getattr(message, name)
    if message.metadata_json:
        event["metadata"] = _json(message.metadata_json, "metadata", "feedback", index)
    created = _created_at(message)
    if created is not None:
        event["created_at"] = created
    return event


def decode_events(request: pb.IngestRequest) -> DecodedEvents:
    """The request's events as pipeline dicts (field names of the public wire schema)."""
    out = DecodedEvents()
    out.n_interactions = len(request.interactions)
    out.n_feedback = len(request.feedback)
    for i, interaction in enumerate(request.interactions):
        try:
            out.interactions.append(_interaction(interaction, i))
            out.interaction_index.append(i)
        except _EventRejectedError as rejected:
            out.errors.append(rejected.error)
    for i, feedback in enumerate(request.feedback):
        try:
            out.feedback.append(_feedback(feedback, i))
            out.feedback_index.append(i)
        except _EventRejectedError as rejected:
            out.errors.append(rejected.error)
    return out


def _error_message(error: EventError, message: int) -> pb.EventError:
    return pb.EventError(
        kind=error.kind,
        index=error.index,
        field=error.field,
        reason=error.reason,
        message=message,
    )


def _ids_text(ids: Iterable[uuid.UUID], positions: list[int] | None, total: int) -> list[str]:
    """Ids in request order; an event that never reached the pipeline gets ""."""
    texts = [str(i) for i in ids]
    if positions is None or len(texts) != len(positions) or len(positions) == total:
        return texts
    out = [""] * total
    for position, text in zip(positions, texts, strict=True):
        out[position] = text
    return out


def response_from_result(
    result: IngestResult,
    decoded: DecodedEvents | None = None,
    *,
    message: int = 0,
    with_ids: bool = True,
) -> pb.IngestResponse:
    """The response for a committed request. With ``decoded`` (typed requests), pipeline
    indexes are mapped back to request positions and local decode errors are added.
    ``with_ids=False`` leaves the id lists empty (columnar batches: the client minted
    every id, so echoing 16n bytes as text would only cost time)."""
    response = pb.IngestResponse(accepted=result.accepted, duplicates=result.duplicates)
    rejected = response.rejected
    if decoded is None:
        rejected.extend(_error_message(e, message) for e in result.rejected)
    else:
        positions = {"interaction": decoded.interaction_index, "feedback": decoded.feedback_index}
        for error in result.rejected:
            index_map = positions[error.kind]
            original = index_map[error.index] if 0 <= error.index < len(index_map) else error.index
            rejected.append(
                pb.EventError(
                    kind=error.kind,
                    index=original,
                    field=error.field,
                    reason=error.reason,
                    message=message,
                )
            )
        rejected.extend(_error_message(e, message) for e in decoded.errors)
    if with_ids:
        if decoded is None:
            response.interaction_ids.extend(str(i) for i in result.interaction_ids)
            response.feedback_ids.extend(str(i) for i in result.feedback_ids)
        else:
            response.interaction_ids.extend(
                _ids_text(result.interaction_ids, decoded.interaction_index, decoded.n_interactions)
            )
            response.feedback_ids.extend(
                _ids_text(result.feedback_ids, decoded.feedback_index, decoded.n_feedback)
            )
    return response


# -- the columnar batch --------------------------------------------------------------------
def _array(
    batch: pb.ColumnBatch, field: str, dtype: np.dtype[Any], n: int, per_event: int = 1
) -> np.ndarray[Any, Any]:
    raw: bytes = getattr(batch, field)
    expected = (n * per_event + (field == "payload_offsets")) * dtype.itemsize
    if len(raw) != expected:
        raise InvalidArgumentError(
            f"{field}: expected {expected} bytes for {n} events (len(kind)), got {len(raw)}"
        )
    return np.frombuffer(raw, dtype=dtype)


def columns_from_batch(batch: pb.ColumnBatch) -> EventColumns:
    """The batch as :class:`EventColumns` over the message's bytes (no per-event Python).

    The event count is ``len(kind)``; every other column must match it. Raises
    InvalidArgumentError naming the column at fault (wrong length, payload offsets that do
    not start at 0, decrease, or end past ``payload_data``).
    """
    n = len(batch.kind)
    event_id = _array(batch, "event_id", np.dtype(np.uint8), n, 16).reshape(n, 16)
    interaction_id = _array(batch, "interaction_id", np.dtype(np.uint8), n, 16).reshape(n, 16)
    kind = np.frombuffer(batch.kind, dtype=np.uint8)
    value = _array(batch, "value", _LE["f8"], n)
    key = _array(batch, "key", _LE["u8"], n)
    ts_ns = _array(batch, "ts_ns", _LE["i8"], n)
    offsets = _array(batch, "payload_offsets", _LE["i8"], n)
    data = np.frombuffer(batch.payload_data, dtype=np.uint8)
    if offsets[0] != 0:
        raise InvalidArgumentError(f"payload_offsets: must start at 0, got {int(offsets[0])}")
    if n and (np.diff(offsets) < 0).any():
        raise InvalidArgumentError("payload_offsets: must not decrease")
    if offsets[-1] != len(data):
        raise InvalidArgumentError(
            f"payload_offsets: must end at len(payload_data) = {len(data)}, got {int(offsets[-1])}"
        )
    return EventColumns(
        event_id=event_id,
        interaction_id=interaction_id,
        kind=kind,
        key=key.astype(np.uint64, copy=False),
        value=value.astype(np.float64, copy=False),
        ts_ns=ts_ns.astype(np.int64, copy=False),
        payload_offsets=offsets.astype(np.int64, copy=False),
        payload_data=data,
    )


def columns_to_batch(columns: EventColumns) -> pb.ColumnBatch:
    """The SDK side of :func:`columns_from_batch`: drained columns as one message."""
    return pb.ColumnBatch(
        event_id=columns.event_id.tobytes(),
        interaction_id=columns.interaction_id.tobytes(),
        kind=columns.kind.astype(np.uint8, copy=False).tobytes(),
        value=columns.value.astype(_LE["f8"], copy=False).tobytes(),
        key=columns.key.astype(_LE["u8"], copy=False).tobytes(),
        ts_ns=columns.ts_ns.astype(_LE["i8"], copy=False).tobytes(),
        payload_data=columns.payload_data.tobytes(),
        payload_offsets=columns.payload_offsets.astype(_LE["i8"], copy=False).tobytes(),
    )


# -- reads ---------------------------------------------------------------------------------
def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    import polars as pl

    # Datetimes as Unix ns and ids as bytes, in one columnar pass before the row loop.
    times = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime)]
    return frame.with_columns(pl.col(c).dt.epoch("ns") for c in times).to_dicts()


def _id_text(value: bytes | None) -> str:
    return "" if value is None else str(uuid.UUID(bytes=value))


def _set_optional(message: Any, row: dict[str, Any], names: Iterable[str]) -> None:
    for name in names:
        value = row.get(name)
        if value is not None:
            setattr(message, name, value)


def interaction_messages(frame: pl.DataFrame) -> list[pb.Interaction]:
    """Stored interaction rows as messages (``input_json``, ``created_at_ns`` set)."""
    out = []
    for row in _rows(frame):
        message = pb.Interaction(
            id=_id_text(row["id"]),
            learning_key=row["learning_key"],
            input_json=row["input"],
            output=row["output"],
            metadata_json=row["metadata"] or "{}",
            created_at_ns=row["created_at"],
        )
        _set_optional(message, row, _INTERACTION_SCALARS[1:])
        out.append(message)
    return out


def feedback_messages(frame: pl.DataFrame) -> list[pb.Feedback]:
    """Stored feedback rows as messages."""
    out = []
    for row in _rows(frame):
        message = pb.Feedback(
            id=_id_text(row["id"]),
            interaction_id=_id_text(row["interaction_id"]),
            kind=row["kind"],
            metadata_json=row["metadata"] or "{}",
            created_at_ns=row["created_at"],
        )
        _set_optional(message, row, _FEEDBACK_SCALARS[1:])
        out.append(message)
    return out


def reward_messages(frame: pl.DataFrame) -> list[pb.Reward]:
    """Stored reward rows as messages."""
    out = []
    for row in _rows(frame):
        message = pb.Reward(
            id=_id_text(row["id"]),
            interaction_id=_id_text(row["interaction_id"]),
            score=row["score"],
            components_json=row["components"] or "{}",
            escalated=bool(row["escalated"]),
            created_at_ns=row["created_at"],
        )
        _set_optional(message, row, ("rationale", "uncertainty", "reward_model"))
        out.append(message)
    return out

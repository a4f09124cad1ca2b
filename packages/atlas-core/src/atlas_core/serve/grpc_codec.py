"""Typed ingest messages (``atlas/v1/ingest.proto``) <-> what the pipeline speaks: event
dicts in, :class:`IngestResult` out.

Decoding is defensive: a parsed message never makes these functions raise; an event
whose JSON text does not parse is reported as an :class:`EventError` naming the field,
and the others go on.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Literal

from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.pipeline import EventError, IngestResult

__all__ = ["DecodedEvents", "decode_events", "response_from_result"]

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

"""One group commit's events as one frame per table, each row tagged with its request.

The pipeline's writer takes many queued requests at once. Building frames, decoding the
SDK's payloads and checking the value rules cost a fixed overhead per call (tens to
hundreds of microseconds in polars), so they are done once per commit over every
request's events, not once per request. Each row is tagged with ``req`` (the request's
position in the commit) and ``row`` (the event's index in that request) so that every
verdict finds its way back; the tags are NumPy arrays beside the storage frame, so the
frame goes to the store as it is. Frames of column batches alone stay
:class:`~atlas_core.validation.CheckedFrame` (the decoder applied the value rules), so the
store does not check them again; a commit that mixes in typed events is checked whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventColumns, EventKind
from atlas_core.serve.column_decode import decode_columns
from atlas_core.serve.records import Converted, empty_columns, frame_of
from atlas_core.serve.results import EventError, EventKindName
from atlas_core.validation import CheckedFrame

__all__ = ["TABLES", "PendingRequest", "Tagged", "check_payload_shape", "commit_frames"]

TABLES: dict[EventKindName, str] = {"interaction": "interactions", "feedback": "feedback"}
_Ints = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(eq=False)
class PendingRequest:
    """A request waiting for its commit: typed (converted) events or an SDK column batch."""

    tenant_id: str
    typed: dict[EventKindName, Converted] | None
    columns: EventColumns | None
    nevents: int
    nbytes: int
    errors: list[EventError] = field(default_factory=list)
    """Per-event verdicts so far (type errors from conversion, then the commit's)."""
    accepted: int = 0
    duplicates: int = 0
    failure: BaseException | None = None
    """Set when the whole request is refused at commit time (its payloads undecodable)."""


@dataclass(frozen=True, eq=False)
class Tagged:
    """A storage frame and, per row, the request (``req``) and index in it (``row``).

    ``batch`` is what goes to the store: a :class:`CheckedFrame` when every row came
    from the native decoder, a plain frame otherwise.
    """

    batch: pl.DataFrame | CheckedFrame
    req: _Ints
    row: _Ints

    @property
    def frame(self) -> pl.DataFrame:
        """The rows as a polars frame."""
        return self.batch.frame if isinstance(self.batch, CheckedFrame) else self.batch

    @property
    def height(self) -> int:
        return self.batch.height

    def keep(self, mask: np.ndarray[Any, np.dtype[np.bool_]]) -> Tagged:
        """The rows where ``mask`` is true."""
        return Tagged(self.batch.filter(pl.Series(mask)), self.req[mask], self.row[mask])

    @staticmethod
    def empty() -> Tagged:
        none = np.zeros(0, dtype=np.int64)
        return Tagged(pl.DataFrame(), none, none)

    @staticmethod
    def concat(parts: list[Tagged]) -> Tagged:
        if not parts:
            return Tagged.empty()
        if len(parts) == 1:
            return parts[0]
        batches = [p.batch for p in parts]
        checked = [b for b in batches if isinstance(b, CheckedFrame)]
        batch = (
            CheckedFrame.concat(checked)
            if len(checked) == len(batches)
            else pl.concat([p.frame for p in parts])
        )
        return Tagged(
            batch,
            np.concatenate([p.req for p in parts]),
            np.concatenate([p.row for p in parts]),
        )


def check_payload_shape(columns: EventColumns) -> None:
    """Cheap request-level check of an SDK batch (no JSON parsing): every payload is one
    non-empty line, offsets are consistent. Raises InvalidArgumentError naming the field."""
    n = len(columns)
    offsets = columns.payload_offsets
    for name in ("interaction_id", "kind", "key", "value", "ts_ns"):
        size = len(getattr(columns, name))
        if size != n and size != 16 * n:
            raise InvalidArgumentError(f"{name}: {size} entries for {n} events")
    if len(offsets) != n + 1 or (
        n and (offsets[0] != 0 or offsets[-1] != len(columns.payload_data))
    ):
        raise InvalidArgumentError("payload_offsets: must be n+1 offsets from 0 to the data length")
    if n == 0:
        return
    lengths = np.diff(offsets)
    if (lengths <= 0).any():
        raise InvalidArgumentError(f"payload: event {int(np.argmax(lengths <= 0))} is empty")
    ends = columns.payload_data[offsets[1:] - 1]
    if (ends != ord("\n")).any():
        row = int(np.argmax(ends != ord("\n")))
        raise InvalidArgumentError(f"payload: event {row} is not one JSON line")


def commit_frames(group: Sequence[PendingRequest]) -> dict[EventKindName, Tagged]:
    """Every request's events of each kind as one tagged storage frame.

    Column batches whose payloads do not decode are retried one request at a time; the
    request at fault gets ``failure`` set and contributes nothing.
    """
    parts: dict[EventKindName, list[Tagged]] = {"interaction": [], "feedback": []}
    for kind in parts:
        typed = _typed_frame(kind, group)
        if typed is not None:
            parts[kind].append(typed)
    batches = [(i, r) for i, r in enumerate(group) if r.columns is not None and len(r.columns)]
    if batches:
        try:
            decoded = _columnar_frames(group, batches)
        except InvalidArgumentError:
            decoded = _columnar_frames_one_by_one(group, batches)
        for kind, tagged in decoded.items():
            if tagged.height:
                parts[kind].append(tagged)
    return {kind: Tagged.concat(tagged) for kind, tagged in parts.items()}


def _typed_frame(kind: EventKindName, group: Sequence[PendingRequest]) -> Tagged | None:
    columns = empty_columns(kind)
    tenants: list[str] = []
    reqs: list[int] = []
    rows: list[int] = []
    for i, request in enumerate(group):
        if request.typed is None:
            continue
        converted = request.typed[kind]
        n = len(converted.rows)
        if not n:
            continue
        for name, values in converted.columns.items():
            columns[name].extend(values)
        tenants.extend([request.tenant_id] * n)
        reqs.extend([i] * n)
        rows.extend(converted.rows)
    if not rows:
        return None
    return Tagged(
        frame_of(kind, columns, tenants),
        np.array(reqs, dtype=np.int64),
        np.array(rows, dtype=np.int64),
    )


def _concat(batches: list[EventColumns]) -> EventColumns:
    if len(batches) == 1:
        return batches[0]
    offsets = [batches[0].payload_offsets]
    base = int(batches[0].payload_offsets[-1])
    for b in batches[1:]:
        offsets.append(b.payload_offsets[1:] + base)
        base += int(b.payload_offsets[-1])

    def cat(name: str) -> Any:
        return np.concatenate([getattr(b, name) for b in batches])

    return EventColumns(
        event_id=cat("event_id"),
        interaction_id=cat("interaction_id"),
        kind=cat("kind"),
        key=cat("key"),
        value=cat("value"),
        ts_ns=cat("ts_ns"),
        payload_offsets=np.concatenate(offsets),
        payload_data=cat("payload_data"),
    )


def _columnar_frames(
    group: Sequence[PendingRequest], batches: list[tuple[int, PendingRequest]]
) -> dict[EventKindName, Tagged]:
    """Decodes every column batch of the commit with one native ``decode_columns`` call."""
    columns = [r.columns for _, r in batches if r.columns is not None]
    sizes = np.array([len(c) for c in columns], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    req_of = np.repeat(np.array([i for i, _ in batches], dtype=np.int64), sizes)
    start_of = np.repeat(starts, sizes)
    # The caller's tenant replaces whatever the payloads said.
    names = list(dict.fromkeys(r.tenant_id for _, r in batches))
    tenant_index = None
    if len(names) > 1:
        index = {name: i for i, name in enumerate(names)}
        of_batch = np.array([index[r.tenant_id] for _, r in batches], dtype=np.uint32)
        tenant_index = np.repeat(of_batch, sizes)
    decoded = decode_columns(_concat(columns), names, tenant_index)
    out: dict[EventKindName, Tagged] = {}
    pairs: tuple[tuple[EventKindName, CheckedFrame, _Ints], ...] = (
        ("interaction", decoded.interactions, decoded.interaction_rows),
        ("feedback", decoded.feedback, decoded.feedback_rows),
    )
    for kind, frame, global_row in pairs:
        out[kind] = Tagged(frame, req_of[global_row], global_row - start_of[global_row])
    left_out = [
        (row, "payload", "unknown event kind or missing fields") for row in decoded.invalid.tolist()
    ]
    for global_row, field_name, reason in [*left_out, *decoded.broken]:
        request = group[int(req_of[global_row])]
        row = global_row - int(start_of[global_row])
        assert request.columns is not None
        is_interaction = int(request.columns.kind[row]) == EventKind.INTERACTION
        name: EventKindName = "interaction" if is_interaction else "feedback"
        request.errors.append(EventError(name, row, field_name, reason))
    return out


def _columnar_frames_one_by_one(
    group: Sequence[PendingRequest], batches: list[tuple[int, PendingRequest]]
) -> dict[EventKindName, Tagged]:
    parts: dict[EventKindName, list[Tagged]] = {"interaction": [], "feedback": []}
    for i, request in batches:
        try:
            frames = _columnar_frames(group, [(i, request)])
        except InvalidArgumentError as err:
            request.failure = err
            continue
        for kind, tagged in frames.items():
            if tagged.height:
                parts[kind].append(tagged)
    return {kind: Tagged.concat(tagged) for kind, tagged in parts.items()}

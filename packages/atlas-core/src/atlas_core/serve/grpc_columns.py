"""The columnar batch on the wire: ``ColumnBatch`` <-> :class:`EventColumns`.

Numeric columns travel as little-endian fixed-width bytes, so both sides convert with
``numpy.frombuffer`` / ``tobytes`` and no per-event Python.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventColumns
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb

__all__ = ["columns_from_batch", "columns_to_batch"]

_LE = {"u8": np.dtype("<u8"), "i8": np.dtype("<i8"), "f8": np.dtype("<f8")}


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

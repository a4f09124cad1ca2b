"""The FeedbackBuffer: the bounded, thread-safe buffer every interaction and feedback event
passes through on its way to the store.

The native class (``atlas_core._native.FeedbackBuffer``) does the work; this module adds the
Python conveniences around it: :class:`EventKind`, :class:`EventColumns` (drained columns with
zero-copy conversion to a pyarrow Table or a polars DataFrame), and pushes from Arrow / polars.

Event schema, one column per field:

========================  =================================  ====================================
column                    NumPy (drained)                    Arrow
========================  =================================  ====================================
``event_id``              (n, 16) uint8, a UUIDv7            ``fixed_size_binary(16)``
``interaction_id``        (n, 16) uint8                      ``fixed_size_binary(16)``
``kind``                  uint8 (:class:`EventKind` or any)  ``uint8``
``key``                   uint64, the learning-key id        ``uint64``
``value``                 float64, NaN when absent           ``float64``
``ts_ns``                 int64, ns since the Unix epoch     ``int64``
``payload``               int64 offsets (n + 1) + uint8 data ``large_binary`` (JSON text parts)
========================  =================================  ====================================

16-byte ids are drained as (n, 16) uint8 arrays; on input an (n, 16) uint8 array or a 1-D
``'S16'`` / ``'V16'`` array is accepted (``ids.view("S16").ravel()`` turns one into the other).
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from atlas_core import _native
from atlas_core.errors import InvalidArgumentError

if TYPE_CHECKING:
    from collections.abc import Iterable

    import polars as pl
    import pyarrow as pa

__all__ = [
    "EventColumns",
    "EventKind",
    "FeedbackBuffer",
    "arrow_schema",
    "encode_payloads",
]

#: Columns a push from Arrow / polars may carry; ``interaction_id`` and ``kind`` are required.
INPUT_COLUMNS = ("event_id", "interaction_id", "kind", "key", "value", "ts_ns", "payload")


class EventKind(enum.IntEnum):
    """Codes of the ``kind`` column. Codes 6-255 are free for extensions."""

    INTERACTION = 0
    RATING = 1
    SIGNAL = 2
    EDIT = 3
    COMMENT = 4
    LABEL = 5


def arrow_schema() -> pa.Schema:
    """The Arrow schema of drained events (see the module docstring)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("event_id", pa.binary(16)),
            ("interaction_id", pa.binary(16)),
            ("kind", pa.uint8()),
            ("key", pa.uint64()),
            ("value", pa.float64()),
            ("ts_ns", pa.int64()),
            ("payload", pa.large_binary()),
        ]
    )


@dataclass(frozen=True, slots=True)
class EventColumns:
    """Drained events as NumPy columns (oldest first). The arrays own the memory Rust filled."""

    event_id: NDArray[np.uint8]
    interaction_id: NDArray[np.uint8]
    kind: NDArray[np.uint8]
    key: NDArray[np.uint64]
    value: NDArray[np.float64]
    ts_ns: NDArray[np.int64]
    payload_offsets: NDArray[np.int64]
    payload_data: NDArray[np.uint8]

    @classmethod
    def from_drained(cls, columns: dict[str, NDArray[Any]]) -> EventColumns:
        """Wraps the dict that ``_native.FeedbackBuffer.drain`` returns."""
        return cls(**columns)

    def __len__(self) -> int:
        return len(self.kind)

    def payload(self, i: int) -> bytes:
        """Event ``i``'s payload (a copy; for inspection, not for bulk use)."""
        start, end = self.payload_offsets[i], self.payload_offsets[i + 1]
        return self.payload_data[start:end].tobytes()

    def to_arrow(self) -> pa.Table:
        """A pyarrow Table over the same memory (no copy), with :func:`arrow_schema`."""
        import pyarrow as pa

        n = len(self)
        payload = pa.Array.from_buffers(
            pa.large_binary(),
            n,
            [None, pa.py_buffer(self.payload_offsets), pa.py_buffer(self.payload_data)],
        )
        return pa.Table.from_arrays(
            [
                _ids_to_arrow(self.event_id),
                _ids_to_arrow(self.interaction_id),
                pa.array(self.kind),
                pa.array(self.key),
                pa.array(self.value),
                pa.array(self.ts_ns),
                payload,
            ],
            schema=arrow_schema(),
        )

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        """Arrow PyCapsule stream: ``pa.table(cols)`` and ``pl.DataFrame(cols)`` read it."""
        return self.to_arrow().__arrow_c_stream__(requested_schema)

    def to_polars(self) -> pl.DataFrame:
        """A polars DataFrame (numeric columns shared; ids and payload become ``Binary``)."""
        import polars as pl

        frame = pl.from_arrow(self.to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame


class FeedbackBuffer(_native.FeedbackBuffer):
    """``_native.FeedbackBuffer`` plus drains to and pushes from columns, Arrow and polars.

    ``FeedbackBuffer(capacity, policy="block", timeout=None)``: ``policy`` is ``"block"``
    (wait for space, forever or ``timeout`` seconds, then BufferTimeoutError), ``"reject"``
    (BufferFullError; a batch is refused whole) or ``"drop_oldest"`` (evict, counted).
    A consumer typically loops ``wait_for_events(n, timeout)`` then ``drain_arrow(n)``.
    """

    __slots__ = ()

    def drain_columns(self, max_events: int | None = None) -> EventColumns:
        """Removes up to ``max_events`` (all if None) of the oldest events, as columns."""
        return EventColumns.from_drained(self.drain(max_events))

    def drain_arrow(self, max_events: int | None = None) -> pa.Table:
        """Like :meth:`drain_columns`, as a pyarrow Table (no copy)."""
        return self.drain_columns(max_events).to_arrow()

    def drain_polars(self, max_events: int | None = None) -> pl.DataFrame:
        """Like :meth:`drain_columns`, as a polars DataFrame."""
        return self.drain_columns(max_events).to_polars()

    def push_columns(self, columns: EventColumns) -> int:
        """Pushes drained columns back (e.g. after a failed store write); ids are kept."""
        return self.push_batch(
            columns.interaction_id,
            columns.kind,
            value=columns.value,
            key=columns.key,
            ts_ns=columns.ts_ns,
            event_id=columns.event_id,
            payload_offsets=columns.payload_offsets,
            payload_data=columns.payload_data,
        )

    def push_arrow(self, table: pa.Table) -> int:
        """Pushes a pyarrow Table (columns named as in :func:`arrow_schema`) as one batch.

        ``interaction_id`` and ``kind`` are required. Columns of the schema's types are passed
        without a copy; others are cast safely (ids from any binary type whose values are 16
        bytes, ``ts_ns`` from a timestamp, ``payload`` from string). Nulls mean the default:
        ``key`` 0, ``value`` NaN, ``ts_ns`` now, ``payload`` empty.
        """
        return self.push_batch(**_arrow_to_batch(table))

    def push_polars(self, frame: pl.DataFrame) -> int:
        """Pushes a polars DataFrame as one batch (through :meth:`push_arrow`)."""
        return self.push_arrow(frame.to_arrow())


def encode_payloads(payloads: Iterable[bytes | str]) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
    """Arrow-style ``(offsets, data)`` for ``push_batch`` from per-event bytes or str (UTF-8)."""
    parts = [p.encode() if isinstance(p, str) else bytes(p) for p in payloads]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=offsets[1:])
    return offsets, np.frombuffer(b"".join(parts), dtype=np.uint8)


def _ids_to_arrow(ids: NDArray[np.uint8]) -> pa.Array:
    import pyarrow as pa

    return pa.Array.from_buffers(pa.binary(16), len(ids), [None, pa.py_buffer(ids)])


def _arrow_to_batch(table: pa.Table) -> dict[str, Any]:
    """``push_batch`` keyword arguments from a table, borrowing its buffers where it can."""
    names = set(table.column_names)
    unknown = sorted(names - set(INPUT_COLUMNS))
    if unknown:
        raise InvalidArgumentError(f"invalid argument `table`: unknown column(s) {unknown}")
    for required in ("interaction_id", "kind"):
        if required not in names:
            raise InvalidArgumentError(f"invalid argument `table`: missing column {required!r}")

    def column(name: str) -> pa.Array:
        chunked = table.column(name)
        return chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()

    import pyarrow as pa

    batch: dict[str, Any] = {
        "interaction_id": _ids_from_arrow("interaction_id", column("interaction_id")),
        "kind": _numeric_from_arrow("kind", column("kind"), pa.uint8(), fill=None),
    }
    if "event_id" in names:
        batch["event_id"] = _ids_from_arrow("event_id", column("event_id"))
    if "key" in names:
        batch["key"] = _numeric_from_arrow("key", column("key"), pa.uint64(), fill=0)
    if "value" in names:
        batch["value"] = _numeric_from_arrow("value", column("value"), pa.float64(), fill=np.nan)
    if "ts_ns" in names:
        ts = column("ts_ns")
        if pa.types.is_timestamp(ts.type):
            ts = ts.cast(pa.timestamp("ns", tz=ts.type.tz)).cast(pa.int64())
        batch["ts_ns"] = _numeric_from_arrow("ts_ns", ts, pa.int64(), fill=time.time_ns())
    if "payload" in names:
        batch["payload_offsets"], batch["payload_data"] = _payload_from_arrow(column("payload"))
    return batch


def _ids_from_arrow(name: str, array: pa.Array) -> NDArray[np.uint8]:
    import pyarrow as pa

    if isinstance(array.type, pa.ExtensionType):  # e.g. pa.uuid(), stored as fixed_size_binary(16)
        array = array.storage
    if array.null_count:
        raise InvalidArgumentError(f"invalid argument `{name}`: has {array.null_count} null id(s)")
    if array.type != pa.binary(16):
        try:
            array = array.cast(pa.binary(16))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise InvalidArgumentError(
                f"invalid argument `{name}`: must hold 16-byte ids, got {array.type} ({err})"
            ) from err
    if len(array) == 0:
        return np.empty((0, 16), dtype=np.uint8)
    flat = np.frombuffer(
        array.buffers()[1], dtype=np.uint8, count=16 * len(array), offset=16 * array.offset
    )
    return flat.reshape(-1, 16)


def _numeric_from_arrow(name: str, array: pa.Array, target: pa.DataType, fill: Any) -> NDArray[Any]:
    import pyarrow as pa

    if array.type != target:
        try:
            array = array.cast(target)  # safe cast: overflow or a lossy float raises
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise InvalidArgumentError(
                f"invalid argument `{name}`: cannot be read as {target} ({err})"
            ) from err
    if array.null_count:
        if fill is None:
            raise InvalidArgumentError(f"invalid argument `{name}`: has {array.null_count} null(s)")
        array = array.fill_null(pa.scalar(fill, type=target))
    column: NDArray[Any] = array.to_numpy(zero_copy_only=True)
    return column


def _payload_from_arrow(array: pa.Array) -> tuple[NDArray[Any], NDArray[np.uint8]]:
    import pyarrow as pa

    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        array = array.cast(pa.large_binary() if pa.types.is_large_string(kind) else pa.binary())
    elif pa.types.is_binary_view(kind) or pa.types.is_string_view(kind):
        array = array.cast(pa.large_binary())
    elif not (pa.types.is_binary(kind) or pa.types.is_large_binary(kind)):
        raise InvalidArgumentError(
            f"invalid argument `payload`: must be binary or string, got {kind}"
        )
    if array.null_count:
        array = array.fill_null(pa.scalar(b"", type=array.type))
    width = np.int64 if pa.types.is_large_binary(array.type) else np.int32
    if len(array) == 0:
        return np.zeros(1, dtype=width), np.empty(0, dtype=np.uint8)
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(
        offsets_buf,
        dtype=width,
        count=len(array) + 1,
        offset=array.offset * np.dtype(width).itemsize,
    )
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    )
    return offsets, data

"""SDK column batches -> storage frames on the server, by the native decoder.

:func:`atlas_core.sdk.events.decode` is the SDK's own decoder (``polars.read_ndjson``
plus a few frame passes); on the server it cost about 2 ms per call plus ~2.5 µs per
event, mostly fixed per-call polars overhead paid on every group commit. The native
kernel (``atlas_core._native.decode_sdk_columns``, crates/atlas-kernels/src/ingest)
reads the payload lines in one pass with the GIL released and hands each table to
polars through the Arrow C data interface, without a copy. It keeps the SDK decoder's
contract: the same storage columns, an event of an unknown kind or without a field the
SDK always writes is left out (its position returned), and a payload that is not the
SDK's JSON refuses the whole call with InvalidArgumentError naming the event.

It also applies the stores' value rules (:func:`atlas_core.validation.checks`) event by
event, leaving out each event that breaks one with the rule's field and reason. So its
frames come out as :class:`~atlas_core.validation.CheckedFrame`, which the stores write
without checking again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import polars as pl

from atlas_core import _native
from atlas_core.validation import CheckedFrame

if TYPE_CHECKING:
    from atlas_core.kernels.buffer import EventColumns

__all__ = ["DecodedColumns", "decode_columns"]

_Ints = np.ndarray[Any, np.dtype[np.int64]]


class DecodedColumns(NamedTuple):
    """Storage frames and each row's position in the batch."""

    interactions: CheckedFrame
    interaction_rows: _Ints
    feedback: CheckedFrame
    feedback_rows: _Ints
    invalid: _Ints
    """Positions of the events left out (unknown kind, or a field the SDK writes missing)."""
    broken: list[tuple[int, str, str]]
    """``(position, field, reason)`` of the events left out for breaking a value rule: the
    first rule each breaks, as :func:`atlas_core.validation.bad_rows` names it."""


def decode_columns(
    columns: EventColumns,
    tenants: Sequence[str],
    tenant_index: np.ndarray[Any, np.dtype[np.uint32]] | None = None,
) -> DecodedColumns:
    """Decodes ``columns``, each event stored under ``tenants[tenant_index[i]]`` (every
    event under ``tenants[0]`` when ``tenant_index`` is None): the caller's tenant, never
    the payload's. Raises InvalidArgumentError when a payload is not the SDK's JSON (see
    the module docstring).
    """
    n = len(columns)
    if tenant_index is None:
        tenant_index = np.zeros(n, dtype=np.uint32)
    (itable, irows), (ftable, frows), invalid, broken = _native.decode_sdk_columns(
        np.ascontiguousarray(columns.event_id, dtype=np.uint8).reshape(-1),
        np.ascontiguousarray(columns.interaction_id, dtype=np.uint8).reshape(-1),
        np.ascontiguousarray(columns.kind, dtype=np.uint8),
        np.ascontiguousarray(columns.value, dtype=np.float64),
        np.ascontiguousarray(columns.ts_ns, dtype=np.int64),
        np.ascontiguousarray(columns.payload_offsets, dtype=np.int64),
        np.ascontiguousarray(columns.payload_data, dtype=np.uint8),
        tenant_index,
        list(tenants),
    )
    interactions, feedback = _checked("interactions", itable), _checked("feedback", ftable)
    return DecodedColumns(interactions, irows, feedback, frows, invalid, broken)


def _checked(table: str, arrow: _native.ArrowTable) -> CheckedFrame:
    # One struct Series, unnested: one import per table instead of one per column.
    frame = pl.Series(arrow).struct.unnest()
    # The native decoder applied every rule of the table to each row it kept.
    return CheckedFrame._certify(table, frame)

"""SDK column batches -> storage frames on the server, by the native decoder.

:func:`atlas_core.sdk.events.decode` is the SDK's own decoder (``polars.read_ndjson``
plus a few frame passes); on the server it cost about 2 ms per call plus ~2.5 µs per
event, mostly fixed per-call polars overhead paid on every group commit. The native
kernel (``atlas_core._native.decode_sdk_columns``, crates/atlas-kernels/src/ingest)
reads the payload lines in one pass with the GIL released and hands each column to
polars through the Arrow C data interface, without a copy. It keeps the SDK decoder's
contract: the same storage columns, an event of an unknown kind or without a field the
SDK always writes is left out (its position returned), and a payload that is not the
SDK's JSON refuses the whole call with InvalidArgumentError naming the event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import polars as pl

from atlas_core import _native

if TYPE_CHECKING:
    from atlas_core.kernels.buffer import EventColumns

__all__ = ["DecodedColumns", "decode_columns"]

_Ints = np.ndarray[Any, np.dtype[np.int64]]


class DecodedColumns(NamedTuple):
    """Storage frames (``tenant_id`` filled with ``tenant``) and each row's position."""

    interactions: pl.DataFrame
    interaction_rows: _Ints
    feedback: pl.DataFrame
    feedback_rows: _Ints
    invalid: _Ints
    """Positions of the events left out (unknown kind, or a field the SDK writes missing)."""


def decode_columns(columns: EventColumns, tenant: str | _TenantOf) -> DecodedColumns:
    """Decodes ``columns``; ``tenant`` is the tenant of every row, or a per-row array of
    tenants (a group commit holding several tenants' batches). Raises
    InvalidArgumentError when a payload is not the SDK's JSON (see the module docstring).
    """
    (icols, irows), (fcols, frows), invalid = _native.decode_sdk_columns(
        np.ascontiguousarray(columns.event_id, dtype=np.uint8).reshape(-1),
        np.ascontiguousarray(columns.interaction_id, dtype=np.uint8).reshape(-1),
        np.ascontiguousarray(columns.kind, dtype=np.uint8),
        np.ascontiguousarray(columns.value, dtype=np.float64),
        np.ascontiguousarray(columns.ts_ns, dtype=np.int64),
        np.ascontiguousarray(columns.payload_offsets, dtype=np.int64),
        np.ascontiguousarray(columns.payload_data, dtype=np.uint8),
    )
    return DecodedColumns(
        _frame(icols, irows, tenant), irows, _frame(fcols, frows, tenant), frows, invalid
    )


_TenantOf = np.ndarray[Any, np.dtype[np.object_]]


def _frame(
    columns: list[_native.ArrowColumn], rows: _Ints, tenant: str | _TenantOf
) -> pl.DataFrame:
    frame = pl.DataFrame([pl.Series(column) for column in columns])
    if isinstance(tenant, str):
        tenants = pl.repeat(tenant, len(rows), dtype=pl.String, eager=True)
    else:
        tenants = pl.Series(tenant[rows], dtype=pl.String)
    # The store's column order: tenant_id second, after id.
    return frame.insert_column(1, tenants.alias("tenant_id"))

"""write_events: interactions and feedback in one transaction, all of both or nothing."""

from __future__ import annotations

import polars as pl
import pytest
from memory_testdata import feedback_frame, interaction, rating

from atlas_core.serve.column_decode import decode_columns
from atlas_core.serve.loadgen import sdk_columns
from atlas_core.store import BatchValidationError, Store, WriteResult


def test_both_tables_are_written_by_one_call(store: Store) -> None:
    inters = [interaction(minutes=i) for i in range(3)]
    ratings = [rating(x, 4) for x in inters]
    written = store.write_events(inters, ratings)
    assert written == (WriteResult(3, 0), WriteResult(3, 0))
    assert store.interactions("acme").height == 3
    assert sorted(store.feedback("acme")["interaction_id"].to_list()) == sorted(
        x.id.bytes for x in inters
    )
    # A retry of both (some rows new, some stored) skips what is stored, in both tables.
    more = interaction(minutes=9)
    again = store.write_events([*inters, more], [*ratings, rating(more, 2)])
    assert again == (WriteResult(1, 3), WriteResult(1, 3))


def test_one_bad_row_in_either_table_stores_nothing_of_both(store: Store) -> None:
    inters = [interaction(minutes=i) for i in range(2)]
    bad = feedback_frame(2).with_columns(pl.Series("name", ["copy", ""]))
    with pytest.raises(BatchValidationError, match="name"):
        store.write_events(inters, bad)
    assert store.interactions("acme").height == 0
    assert store.feedback("acme").height == 0


def test_either_side_may_be_empty(store: Store) -> None:
    assert store.write_events([interaction()], []) == (WriteResult(1, 0), WriteResult(0, 0))
    assert store.write_events([], feedback_frame(2)) == (WriteResult(0, 0), WriteResult(2, 0))
    assert store.write_events([], []) == (WriteResult(0, 0), WriteResult(0, 0))


def test_the_decoders_checked_frames_go_together(store: Store) -> None:
    columns, _ = sdk_columns("acme", 4)
    decoded = decode_columns(columns, ["acme"])
    written = store.write_events(decoded.interactions, decoded.feedback)
    assert written == (WriteResult(4, 0), WriteResult(4, 0))
    assert store.feedback("acme").height == 4

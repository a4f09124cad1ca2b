"""Frames the server's decoder checked are written without a second check; every other
write is still checked (the store's contract for every other caller is unchanged)."""

from __future__ import annotations

import polars as pl
import pytest

from atlas_core.errors import InvalidArgumentError
from atlas_core.serve.column_decode import decode_columns
from atlas_core.serve.loadgen import sdk_columns
from atlas_core.store import BatchValidationError, Store
from atlas_core.validation import CheckedFrame


def _decoded(tenant: str, pairs: int) -> tuple[CheckedFrame, CheckedFrame]:
    columns, _ = sdk_columns(tenant, pairs)
    decoded = decode_columns(columns, [tenant])
    assert decoded.invalid.size == 0
    assert decoded.broken == []
    return decoded.interactions, decoded.feedback


def test_checked_frames_are_written_and_read_back(store: Store) -> None:
    interactions, feedback = _decoded("acme", 3)
    assert store.write_interactions(interactions).inserted == 3
    assert store.write_feedback(feedback).inserted == 3
    stored = store.interactions("acme")
    assert sorted(stored["id"].to_list()) == sorted(interactions.frame["id"].to_list())
    assert store.feedback("acme")["kind"].to_list() == ["rating"] * 3
    # Idempotent like every write: a retry skips what is stored.
    again = store.write_feedback(feedback)
    assert (again.inserted, again.skipped) == (0, 3)


def test_a_checked_frame_goes_only_to_its_own_table(store: Store) -> None:
    interactions, _ = _decoded("acme", 1)
    with pytest.raises(InvalidArgumentError, match="CheckedFrame of interactions"):
        store.write_feedback(interactions)
    assert store.feedback("acme").height == 0


def test_the_same_rows_written_directly_are_still_checked(store: Store) -> None:
    interactions, feedback = _decoded("acme", 2)
    # A bad value in a plain frame (here: a copy of the checked rows, edited) is refused
    # whole, as before: only the decoder's own frames skip the check.
    bad = interactions.frame.with_columns(pl.Series("learning_key", ["ok", ""]))
    with pytest.raises(BatchValidationError, match="learning_key"):
        store.write_interactions(bad)
    out_of_scale = feedback.frame.with_columns(pl.Series("value", [3.0, 9.0]))
    with pytest.raises(BatchValidationError, match="rating outside its scale"):
        store.write_feedback(out_of_scale)
    assert store.interactions("acme").height == 0
    assert store.feedback("acme").height == 0

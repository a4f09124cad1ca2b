"""prepare_events + write_events: the server's two-step write of interactions and
feedback (convert without a lock, then one transaction for both tables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_core.errors import InvalidArgumentError
from atlas_core.serve.column_decode import decode_columns
from atlas_core.serve.loadgen import sdk_columns
from atlas_core.store import BatchValidationError, PreparedEvents, Store, open_store
from atlas_core.validation import CheckedFrame


def _decoded(tenant: str, pairs: int, tag: str = "") -> tuple[CheckedFrame, CheckedFrame]:
    columns, _ = sdk_columns(tenant, pairs, tag=tag)
    decoded = decode_columns(columns, [tenant])
    return decoded.interactions, decoded.feedback


def test_both_tables_are_written_and_a_retry_is_skipped(store: Store) -> None:
    interactions, feedback = _decoded("acme", 4)
    prepared = store.prepare_events(interactions, feedback)
    assert (prepared.rows("interactions"), prepared.rows("feedback")) == (4, 4)
    assert store.interactions("acme").height == 0  # preparing writes nothing
    wrote_i, wrote_f = store.write_events(prepared)
    assert (wrote_i.inserted, wrote_i.skipped, wrote_f.inserted, wrote_f.skipped) == (4, 0, 4, 0)
    assert store.interactions("acme").height == 4
    assert sorted(store.feedback("acme")["interaction_id"].to_list()) == sorted(
        interactions.frame["id"].to_list()
    )
    again_i, again_f = store.write_events(store.prepare_events(interactions, feedback))
    assert (again_i.inserted, again_i.skipped, again_f.inserted, again_f.skipped) == (0, 4, 0, 4)


def test_a_partly_stored_batch_inserts_only_the_new_rows(store: Store) -> None:
    interactions, feedback = _decoded("acme", 3)
    store.write_interactions(interactions)  # as if an earlier attempt got half-way
    wrote_i, wrote_f = store.write_events(store.prepare_events(interactions, feedback))
    assert (wrote_i.inserted, wrote_i.skipped) == (0, 3)
    assert (wrote_f.inserted, wrote_f.skipped) == (3, 0)
    assert store.feedback("acme").height == 3


def test_one_table_may_be_empty(store: Store) -> None:
    interactions, feedback = _decoded("acme", 2)
    wrote_i, wrote_f = store.write_events(store.prepare_events(interactions, []))
    assert (wrote_i.inserted, wrote_f.inserted) == (2, 0)
    wrote_i, wrote_f = store.write_events(store.prepare_events([], feedback))
    assert (wrote_i.inserted, wrote_f.inserted) == (0, 2)
    nothing = store.prepare_events([], [])
    assert nothing.parts == ()
    assert store.write_events(nothing)[0].inserted == 0


def test_a_bad_row_is_refused_when_preparing_naming_its_table(store: Store) -> None:
    interactions, feedback = _decoded("acme", 2)
    bad = feedback.frame.with_columns(value=feedback.frame["value"] * 10)  # past the scale
    with pytest.raises(BatchValidationError, match=r"feedback\.value"):
        store.prepare_events(interactions, bad)
    assert store.interactions("acme").height == 0


def test_a_failure_in_the_second_table_rolls_back_the_first(store: Store) -> None:
    interactions, feedback = _decoded("acme", 2)
    good = store.prepare_events(interactions, feedback)
    (_, payload_i, rows_i), _ = good.parts
    # The interactions' payload handed to the feedback table: its insert fails.
    broken = PreparedEvents(
        store.url, (("interactions", payload_i, rows_i), ("feedback", payload_i, rows_i))
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - the driver's own error
        store.write_events(broken)
    assert store.interactions("acme").height == 0
    assert store.write_events(good)[0].inserted == 2  # the store is usable afterwards


def test_events_prepared_by_another_store_are_refused(store: Store, tmp_path: Path) -> None:
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        prepared = other.prepare_events(*_decoded("acme", 1))
    finally:
        other.close()
    with pytest.raises(InvalidArgumentError, match="made by the store at"):
        store.write_events(prepared)

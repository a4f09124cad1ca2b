"""Deleting a user, retention by age, schema versions (both back-ends)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from memory_testdata import T0, interaction, rating, reward

from atlas_core.store import SchemaVersionError, Store, open_store
from atlas_core.types import Feedback, FeedbackKind
from atlas_memory.retention import apply_retention


def test_delete_user_removes_everything_about_them(store: Store) -> None:
    mine = [interaction(minutes=i, user_id="alice") for i in range(3)]
    theirs = [interaction(minutes=i, user_id="bob") for i in range(2)]
    store.write_interactions(mine + theirs)
    store.write_rewards([reward(x, 0.5) for x in mine + theirs])
    store.write_feedback([rating(x, 4) for x in mine + theirs])
    # Alice also commented on one of Bob's answers.
    store.write_feedback(
        [
            Feedback(
                tenant_id="acme",
                interaction_id=theirs[0].id,
                user_id="alice",
                kind=FeedbackKind.COMMENT,
                text="nice",
            )
        ]
    )
    store.save_priorities("acme", "main", [x.id.bytes for x in mine + theirs], [1.0] * 5)
    counts = store.delete_user("acme", "alice")
    assert counts == {"interactions": 3, "feedback": 4, "rewards": 3, "replay_priorities": 3}
    assert set(store.interactions("acme")["user_id"]) == {"bob"}
    assert store.feedback("acme").height == 2
    assert store.rewards("acme").height == 2
    assert store.load_priorities("acme", "main").height == 2


def test_retention_by_age(store: Store) -> None:
    inters = [interaction(minutes=i * 60) for i in range(5)]  # T0 .. T0+4h
    store.write_interactions(inters)
    store.write_rewards([reward(x, 0.5) for x in inters])
    counts = apply_retention(
        store, "acme", timedelta(hours=2), now=T0 + timedelta(hours=4, minutes=30)
    )
    assert counts["interactions"] == 3  # created before T0+2h30
    assert counts["rewards"] == 3
    assert store.interactions("acme")["output"].to_list() == ["answer 180", "answer 240"]
    with pytest.raises(ValueError, match="positive"):
        apply_retention(store, "acme", timedelta(0))


def test_reopen_is_a_no_op_and_newer_schema_is_refused(store_url: str) -> None:
    first = open_store(store_url)
    version = first.schema_version()
    assert version >= 1
    first.write_interactions([interaction()])
    first.close()
    second = open_store(store_url)
    assert second.schema_version() == version
    assert second.interactions("acme").height == 1
    # Pretend a newer Atlas migrated this database.
    with second._tx() as tx:
        tx.execute("INSERT INTO atlas_schema VALUES (?, ?, ?)", (version + 1, "9999_future.sql", 0))
    second.close()
    with pytest.raises(SchemaVersionError, match=f"schema version {version + 1}"):
        open_store(store_url)


def test_open_store_errors(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="no store for scheme 'mysql'"):
        open_store("mysql://localhost/db")
    with pytest.raises(ValueError, match="names a file"):
        open_store("sqlite://")
    with pytest.raises(ValueError, match="synchronous"):
        open_store("sqlite:////tmp/x.db?synchronous=sometimes")

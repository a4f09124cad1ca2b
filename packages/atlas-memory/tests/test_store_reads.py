"""Reads, shared by both back-ends: filters, tenant isolation, latest reward per interaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import polars as pl
import pytest
from memory_testdata import T0, interaction, rating, reward

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Query, Store
from atlas_core.types import Feedback, FeedbackKind


@pytest.fixture
def populated(store: Store) -> Store:
    inters = [
        interaction(
            minutes=i,
            learning_key="math" if i % 2 else "chat",
            user_id=f"u{i % 3}",
            model_version="m2" if i >= 6 else "m1",
            session_id=f"s{i // 4}",
        )
        for i in range(10)
    ]
    store.write_interactions(inters)
    store.write_rewards([reward(x, score=i / 10) for i, x in enumerate(inters)])
    # A later reward replaces the first for interaction 0.
    store.write_rewards([reward(inters[0], score=0.95, minutes=30)])
    store.write_feedback([rating(x, 4) for x in inters[:4]])
    store.write_feedback(
        [
            Feedback(
                tenant_id="acme", interaction_id=inters[5].id, kind=FeedbackKind.SIGNAL, name="copy"
            )
        ]
    )
    return store


def test_time_bounds_beyond_the_stored_range_bound_nothing(populated: Store) -> None:
    # Stored times are 64-bit nanoseconds (1677..2262); year 1 and year 9999 still work.
    everything = Query(since=datetime(1, 1, 1, tzinfo=UTC), until=datetime(9999, 1, 1, tzinfo=UTC))
    assert populated.interactions("acme", everything).height == 10
    assert populated.feedback("acme", everything).height == populated.feedback("acme").height
    nothing = Query(until=datetime(1, 1, 1, tzinfo=UTC))
    assert populated.interactions("acme", nothing).height == 0


def test_filters(populated: Store) -> None:
    s = populated
    assert s.interactions("acme").height == 10
    assert s.interactions("acme")["created_at"].is_sorted()
    q = Query(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=7))
    assert s.interactions("acme", q).height == 4
    assert s.interactions("acme", Query(learning_key="math")).height == 5
    assert s.interactions("acme", Query(learning_key=["math", "chat"])).height == 10
    assert s.interactions("acme", Query(model_version="m2")).height == 4
    assert s.interactions("acme", Query(user_id="u0")).height == 4
    assert s.interactions("acme", Query(session_id="s1")).height == 4
    assert s.interactions("acme", Query(limit=3))["output"].to_list() == [
        "answer 0",
        "answer 1",
        "answer 2",
    ]
    assert s.rewards("acme", Query(min_reward=0.5, max_reward=0.7)).height == 3
    assert s.feedback("acme", Query(feedback_kind=FeedbackKind.SIGNAL)).height == 1
    assert s.feedback("acme", Query(feedback_kind=[FeedbackKind.RATING])).height == 4
    # Interaction attributes filter feedback through its interaction.
    assert s.feedback("acme", Query(learning_key="math")).height == 3
    assert s.rewards("acme", Query(model_version="m2")).height == 4


def test_filters_that_do_not_apply_are_refused(populated: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="min_reward"):
        populated.interactions("acme", Query(min_reward=0.5))
    with pytest.raises(InvalidArgumentError, match="feedback_kind"):
        populated.rewards("acme", Query(feedback_kind=FeedbackKind.RATING))
    with pytest.raises(InvalidArgumentError, match="tenant"):
        populated.interactions("")


def test_interactions_with_latest_reward(populated: Store) -> None:
    frame = populated.interactions_with_rewards("acme")
    assert frame.height == 10
    by_output = dict(zip(frame["output"], frame["reward"], strict=True))
    assert by_output["answer 0"] == 0.95  # the later reward wins
    assert by_output["answer 3"] == pytest.approx(0.3)
    high = populated.interactions_with_rewards("acme", Query(min_reward=0.75))
    assert sorted(high["output"].to_list()) == ["answer 0", "answer 8", "answer 9"]
    limited = populated.interactions_with_rewards("acme", Query(learning_key="math", limit=2))
    assert limited["output"].to_list() == ["answer 1", "answer 3"]


def test_interaction_without_reward_has_null(store: Store) -> None:
    store.write_interactions([interaction()])
    frame = store.interactions_with_rewards("acme")
    assert frame["reward"].to_list() == [None]
    assert frame.schema["reward"] == pl.Float64


def test_tenant_never_reads_another_tenants_rows(store: Store) -> None:
    a = [interaction("acme", i, user_id="shared-user") for i in range(3)]
    b = [interaction("globex", i, user_id="shared-user") for i in range(4)]
    store.write_interactions(a + b)
    store.write_rewards([reward(x, 0.5) for x in a + b])
    store.write_feedback([rating(x, 3) for x in a + b])
    for tenant, rows, own in (("acme", 3, a), ("globex", 4, b)):
        ids = {x.id.bytes for x in own}
        for frame in (
            store.interactions(tenant),
            store.interactions_with_rewards(tenant),
        ):
            assert frame.height == rows
            assert set(frame["id"]) == ids
            assert set(frame["tenant_id"]) == {tenant}
        for frame in (store.rewards(tenant), store.feedback(tenant)):
            assert frame.height == rows
            assert set(frame["interaction_id"]) == ids
        # Filters that name the other tenant's values find nothing extra.
        assert store.interactions(tenant, Query(user_id="shared-user")).height == rows
    assert store.interactions("initech").height == 0
    # Deleting a user in one tenant leaves the same user id in another untouched.
    store.delete_user("acme", "shared-user")
    assert store.interactions("acme").height == 0
    assert store.interactions("globex").height == 4
    assert store.feedback("globex").height == 4


def test_empty_reads_have_the_schema(store: Store) -> None:
    frame = store.feedback("acme")
    assert frame.height == 0
    assert frame.schema["id"] == pl.Binary
    assert frame.schema["created_at"] == pl.Datetime("ns", "UTC")


def test_read_by_ids_is_tenant_scoped(populated: Store) -> None:
    rows = populated.interactions("acme")
    wanted = [rows["id"][3], rows["id"][7]]
    by_bytes = populated.interactions("acme", Query(ids=wanted))
    assert by_bytes["id"].to_list() == wanted
    by_uuid = populated.interactions("acme", Query(ids=[UUID(bytes=wanted[0])], limit=1))
    assert by_uuid["id"].to_list() == [wanted[0]]
    assert populated.interactions("other", Query(ids=wanted)).height == 0
    assert populated.interactions("acme", Query(ids=[])).height == 0
    feedback = populated.feedback("acme")
    assert populated.feedback("acme", Query(ids=[feedback["id"][0]])).height == 1
    with pytest.raises(InvalidArgumentError, match=r"query\.ids"):
        populated.interactions("acme", Query(ids=[b"short"]))
    with pytest.raises(InvalidArgumentError, match=r"query\.ids"):
        populated.interactions("acme", Query(ids=wanted[0]))  # type: ignore[arg-type]

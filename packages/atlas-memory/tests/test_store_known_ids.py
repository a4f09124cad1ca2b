"""known_interactions, shared by both back-ends: tenant isolation, repeats, chunks, size."""

from __future__ import annotations

import uuid

import polars as pl
import pytest
from memory_testdata import feedback_frame, interaction

from atlas_core.errors import InvalidArgumentError
from atlas_core.ids import new_ids
from atlas_core.store import Store, StoreError, open_store
from atlas_memory import sqlstore


def _ids(store: Store, tenant: str, n: int) -> list[bytes]:
    inters = [interaction(tenant, minutes=i, user_id=f"u{i % 2}") for i in range(n)]
    store.write_interactions(inters)
    return [x.id.bytes for x in inters]


def test_only_the_tenants_own_interactions_are_known(store: Store) -> None:
    acme, globex = _ids(store, "acme", 3), _ids(store, "globex", 2)
    unknown = new_ids(2)
    asked = [*acme, *globex, *unknown]
    assert store.known_interactions("acme", asked) == set(acme)
    assert store.known_interactions("globex", asked) == set(globex)
    assert store.known_interactions("initech", asked) == set()


def test_empty_and_repeated_ids(store: Store) -> None:
    acme = _ids(store, "acme", 2)
    assert store.known_interactions("acme", []) == set()
    assert store.known_interactions("acme", [acme[0]] * 5 + [acme[1], acme[0]]) == set(acme)


def test_feedback_and_reward_ids_are_not_interactions(store: Store) -> None:
    acme = _ids(store, "acme", 1)
    feedback = feedback_frame(3).with_columns(pl.lit(acme[0]).alias("interaction_id"))
    store.write_feedback(feedback)
    assert store.known_interactions("acme", feedback["id"].to_list()) == set()


def test_deleted_interactions_are_no_longer_known(store: Store) -> None:
    acme = _ids(store, "acme", 4)  # users u0, u1, u0, u1
    store.delete_user("acme", "u0")
    assert store.known_interactions("acme", acme) == {acme[1], acme[3]}


def test_lists_longer_than_a_chunk(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    acme = _ids(store, "acme", 7)
    asked = [*new_ids(3), *acme, acme[2], *new_ids(4)]
    monkeypatch.setattr(sqlstore, "ID_CHUNK", 3)
    assert store.known_interactions("acme", asked) == set(acme)


def test_ten_thousand_ids(store: Store) -> None:
    n = 6_000
    stored = new_ids(n)
    store.write_interactions(
        pl.DataFrame(
            {
                "id": stored,
                "tenant_id": ["acme"] * n,
                "input": ["[]"] * n,
                "output": ["x"] * n,
                "created_at": list(range(n)),
            }
        )
    )
    # More distinct ids than one chunk, stored and unknown interleaved, some repeated.
    unknown = new_ids(5_000)
    asked = [*stored[:3_000], *unknown, *stored[3_000:], *stored[:100]]
    assert len(set(asked)) > sqlstore.ID_CHUNK
    assert store.known_interactions("acme", asked) == set(stored)
    assert store.known_interactions("globex", asked) == set()


@pytest.mark.parametrize(
    "bad",
    [
        [b"\x01" * 15],
        [b"\x01" * 16, b"\x01" * 17],
        [uuid.uuid4()],
        ["0" * 16],
        b"\x01" * 16,
    ],
)
def test_malformed_ids_are_refused_naming_ids(store: Store, bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^ids: "):
        store.known_interactions("acme", bad)  # type: ignore[arg-type]


def test_tenant_is_required(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^tenant: "):
        store.known_interactions("", new_ids(1))


def test_closed_store_refuses(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    with pytest.raises(StoreError):
        store.known_interactions("acme", new_ids(1))

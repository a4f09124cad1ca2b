"""Key-value entries: tenant-scoped, namespaced, upserted, prefix-listed (both back-ends)."""

from __future__ import annotations

import json

import pytest

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Store, open_store


def test_put_get_upsert_and_missing_keys(store: Store) -> None:
    store.kv_put("acme", "rim.cache", {"a": json.dumps({"score": 0.5}), "b": "2"})
    store.kv_put("acme", "rim.cache", {"b": "3", "c": "é ✓ \u2028"})
    assert store.kv_get("acme", "rim.cache", ["a", "b", "c", "nope"]) == {
        "a": '{"score": 0.5}',
        "b": "3",
        "c": "é ✓ \u2028",
    }
    assert store.kv_get("acme", "rim.cache", []) == {}


def test_tenants_and_namespaces_are_apart(store: Store) -> None:
    store.kv_put("acme", "ns", {"k": "acme"})
    store.kv_put("globex", "ns", {"k": "globex"})
    store.kv_put("acme", "other", {"k": "other"})
    assert store.kv_get("acme", "ns", ["k"]) == {"k": "acme"}
    assert store.kv_get("globex", "ns", ["k"]) == {"k": "globex"}
    assert store.kv_items("acme", "other") == {"k": "other"}
    assert store.kv_delete("globex", "ns", ["k"]) == 1
    assert store.kv_get("acme", "ns", ["k"]) == {"k": "acme"}


def test_items_by_exact_case_sensitive_prefix(store: Store) -> None:
    entries = {"math/1": "x", "math/2": "y", "Math/3": "z", "mathx": "w", "m%": "q"}
    store.kv_put("acme", "pb", entries)
    assert store.kv_items("acme", "pb", "math/") == {"math/1": "x", "math/2": "y"}
    assert list(store.kv_items("acme", "pb")) == sorted(entries)
    assert store.kv_items("acme", "pb", "m%") == {"m%": "q"}  # no LIKE wildcards


def test_delete_counts_what_existed(store: Store) -> None:
    store.kv_put("acme", "ns", {f"k{i}": str(i) for i in range(12_500)})  # several lookup chunks
    assert len(store.kv_get("acme", "ns", [f"k{i}" for i in range(12_500)])) == 12_500
    assert store.kv_delete("acme", "ns", ["k1", "k2", "absent", "k1"]) == 2
    assert len(store.kv_items("acme", "ns")) == 12_498


def test_bad_input_names_the_argument(store: Store) -> None:
    with pytest.raises(InvalidArgumentError, match="namespace"):
        store.kv_put("acme", "", {"k": "v"})
    with pytest.raises(InvalidArgumentError, match=r"items\['k'\]"):
        store.kv_put("acme", "ns", {"k": 3})  # type: ignore[dict-item]
    with pytest.raises(InvalidArgumentError, match="keys"):
        store.kv_get("acme", "ns", "k")
    with pytest.raises(InvalidArgumentError, match="tenant"):
        store.kv_get("", "ns", ["k"])
    store.kv_put("acme", "ns", {"ok": "1"})
    with pytest.raises(InvalidArgumentError):
        store.kv_put("acme", "ns", {"ok": "2", "bad": None})  # type: ignore[dict-item]
    assert store.kv_get("acme", "ns", ["ok", "bad"]) == {"ok": "1"}  # the refused put wrote nothing


def test_entries_survive_reopen(store_url: str) -> None:
    with open_store(store_url) as first:
        first.kv_put("acme", "ns", {"k": "v"})
    with open_store(store_url) as second:
        assert second.kv_get("acme", "ns", ["k"]) == {"k": "v"}

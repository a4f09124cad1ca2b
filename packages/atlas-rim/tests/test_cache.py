"""JudgeCache: content keys, slots per sample, the memory bound, batched store reads/writes."""

from __future__ import annotations

from atlas_core.store import Store
from atlas_rim.config import CacheConfig
from atlas_rim.judges import CachedAnswer, JudgeCache, bundle_key, slot

MESSAGES = [{"role": "user", "content": "hi"}]


def test_keys_change_with_every_input() -> None:
    base = bundle_key("m", MESSAGES, 512)
    assert base == bundle_key("m", [dict(m) for m in MESSAGES], 512)
    others = {
        bundle_key("m2", MESSAGES, 512),
        bundle_key("m", [{"role": "user", "content": "hi!"}], 512),
        bundle_key("m", MESSAGES, 256),
    }
    assert base not in others
    assert len(others) == 3
    assert len({slot(0.0, 0), slot(0.7, 0), slot(0.0, 1)}) == 3


def test_store_round_trip_per_tenant_and_slot(store: Store) -> None:
    writer = JudgeCache(CacheConfig(namespace="ns"), store)
    writer.put("t1", "k1", "0.0#0", CachedAnswer("answer one", 10, 2))
    writer.put("t1", "k1", "0.7#1", CachedAnswer("answer one, warmer", 11, 3))
    writer.put("t2", "k1", "0.0#0", CachedAnswer("answer two", 20, 4))
    assert store.kv_items("t1", "ns") == {}  # nothing reaches the store before flush
    assert writer.flush() == 2  # one entry per (tenant, key), both slots in it
    assert writer.flush() == 0
    reader = JudgeCache(CacheConfig(namespace="ns"), store)
    assert reader.get("t1", "k1", "0.0#0") is None
    reader.prefetch([("t1", "k1"), ("t2", "k1"), ("t1", "missing")])
    assert reader.get("t1", "k1", "0.0#0") == CachedAnswer("answer one", 10, 2)
    assert reader.get("t1", "k1", "0.7#1") == CachedAnswer("answer one, warmer", 11, 3)
    assert reader.get("t2", "k1", "0.0#0") == CachedAnswer("answer two", 20, 4)
    assert reader.get("t2", "k1", "0.7#1") is None
    assert (reader.hits, reader.misses) == (3, 2)


def test_a_new_slot_extends_the_stored_entry(store: Store) -> None:
    first = JudgeCache(CacheConfig(), store)
    first.put("t", "k", "0.0#0", CachedAnswer("a", 1, 1))
    first.flush()
    second = JudgeCache(CacheConfig(), store)
    second.prefetch([("t", "k")])
    second.put("t", "k", "0.7#1", CachedAnswer("b", 1, 1))
    second.flush()
    third = JudgeCache(CacheConfig(), store)
    third.prefetch([("t", "k")])
    assert third.get("t", "k", "0.0#0") == CachedAnswer("a", 1, 1)
    assert third.get("t", "k", "0.7#1") == CachedAnswer("b", 1, 1)


def test_foreign_entries_are_ignored(store: Store) -> None:
    store.kv_put(
        "t", "ns", {"bad": "not json", "odd": '["x", 1, 2]', "good": '{"0.0#0": ["x", 1, 2]}'}
    )
    cache = JudgeCache(CacheConfig(namespace="ns"), store)
    cache.prefetch([("t", "bad"), ("t", "odd"), ("t", "good")])
    assert cache.get("t", "bad", "0.0#0") is None
    assert cache.get("t", "odd", "0.0#0") is None
    assert cache.get("t", "good", "0.0#0") == CachedAnswer("x", 1, 2)


def test_memory_bound_and_disabled_cache() -> None:
    cache = JudgeCache(CacheConfig(max_memory_entries=2))
    for i in range(3):
        cache.put("t", f"k{i}", "s", CachedAnswer(str(i), 0, 0))
    cache.flush()  # the round is over: only the memory bound decides now
    assert cache.get("t", "k0", "s") is None
    assert cache.get("t", "k2", "s") == CachedAnswer("2", 0, 0)
    off = JudgeCache(CacheConfig(enabled=False))
    off.put("t", "k", "s", CachedAnswer("x", 0, 0))
    assert off.get("t", "k", "s") is None
    assert off.flush() == 0

"""JudgeCache: content keys, the memory bound, batched store reads and writes."""

from __future__ import annotations

from atlas_core.store import Store
from atlas_rim.config import CacheConfig
from atlas_rim.judges import CachedAnswer, JudgeCache, call_key

MESSAGES = [{"role": "user", "content": "hi"}]


def test_keys_change_with_every_input() -> None:
    base = call_key("m", MESSAGES, 0.0, 512, 0)
    assert base == call_key("m", [dict(m) for m in MESSAGES], 0.0, 512, 0)
    others = {
        call_key("m2", MESSAGES, 0.0, 512, 0),
        call_key("m", [{"role": "user", "content": "hi!"}], 0.0, 512, 0),
        call_key("m", MESSAGES, 0.7, 512, 0),
        call_key("m", MESSAGES, 0.0, 256, 0),
        call_key("m", MESSAGES, 0.0, 512, 1),
    }
    assert base not in others
    assert len(others) == 5


def test_store_round_trip_per_tenant(store: Store) -> None:
    writer = JudgeCache(CacheConfig(namespace="ns"), store)
    writer.put("t1", "k1", CachedAnswer("answer one", 10, 2))
    writer.put("t2", "k1", CachedAnswer("answer two", 20, 4))
    assert store.kv_items("t1", "ns") == {}  # nothing reaches the store before flush
    assert writer.flush() == 2
    assert writer.flush() == 0
    reader = JudgeCache(CacheConfig(namespace="ns"), store)
    assert reader.get("t1", "k1") is None
    reader.prefetch([("t1", "k1"), ("t2", "k1"), ("t1", "missing")])
    assert reader.get("t1", "k1") == CachedAnswer("answer one", 10, 2)
    assert reader.get("t2", "k1") == CachedAnswer("answer two", 20, 4)
    assert (reader.hits, reader.misses) == (2, 1)


def test_foreign_entries_are_ignored(store: Store) -> None:
    store.kv_put("t", "ns", {"bad": "not json", "odd": '{"a": 1}', "good": '["x", 1, 2]'})
    cache = JudgeCache(CacheConfig(namespace="ns"), store)
    cache.prefetch([("t", "bad"), ("t", "odd"), ("t", "good")])
    assert cache.get("t", "bad") is None
    assert cache.get("t", "odd") is None
    assert cache.get("t", "good") == CachedAnswer("x", 1, 2)


def test_memory_bound_and_disabled_cache() -> None:
    cache = JudgeCache(CacheConfig(max_memory_entries=2))
    for i in range(3):
        cache.put("t", f"k{i}", CachedAnswer(str(i), 0, 0))
    assert cache.get("t", "k0") is None
    assert cache.get("t", "k2") == CachedAnswer("2", 0, 0)
    off = JudgeCache(CacheConfig(enabled=False))
    off.put("t", "k", CachedAnswer("x", 0, 0))
    assert off.get("t", "k") is None
    assert off.flush() == 0

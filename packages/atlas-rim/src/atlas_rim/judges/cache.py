"""A content-hash cache of judge answers, in process memory and persisted through the Store.

One entry holds one judge's answers about one task: its key is the SHA-256 of what determines
them (model, messages, length limit), and inside it each sample has a slot named by its
temperature and number (``"0.7#1"``). An identical call anywhere, in any process that shares
the store, reuses the earlier answer instead of paying for it again; changing one judge's
principles invalidates only that judge's entries, and adding a temperature asks only for the
new slot. Only answers that parsed are cached: a malformed answer is asked again next time.

Entries are kv rows (``store.kv_put``) of the task's tenant under the configured namespace,
one per (task, judge) rather than one per call, because the store's batched ``kv_get`` is the
cost of a cache hit. The store is read in one batch per evaluation round
(:meth:`JudgeCache.prefetch`) and written in one batch after (:meth:`JudgeCache.flush`).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atlas_core.store import Store
from atlas_rim.config import CacheConfig

__all__ = ["CachedAnswer", "JudgeCache", "bundle_key", "slot"]

Bundle = dict[str, "CachedAnswer"]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A judge answer as it was first received, with what it cost then."""

    text: str
    prompt_tokens: int
    completion_tokens: int


def bundle_key(model: str, messages: Sequence[Mapping[str, Any]], max_tokens: int) -> str:
    """The content hash naming one judge's answers about one task."""
    payload = json.dumps(
        [model, list(messages), max_tokens],
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def slot(temperature: float, sample: int) -> str:
    """The name of one sample inside its entry."""
    return f"{temperature!r}#{sample}"


def _dumps(bundle: Bundle) -> str:
    return json.dumps(
        {k: [a.text, a.prompt_tokens, a.completion_tokens] for k, a in bundle.items()},
        ensure_ascii=False,
    )


def _loads(raw: str) -> Bundle | None:
    """A stored entry read back; None for one that is not ours (ignored, not fatal)."""
    try:
        data = json.loads(raw)
        return {str(k): CachedAnswer(str(t), int(p), int(c)) for k, (t, p, c) in data.items()}
    except (ValueError, TypeError, AttributeError):
        return None


class JudgeCache:
    """Answers by (tenant, key, slot): a bounded in-memory layer over the Store's kv entries."""

    def __init__(self, config: CacheConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store
        self._memory: OrderedDict[tuple[str, str], Bundle] = OrderedDict()
        # What prefetch read for the round in progress: kept whole until flush, so the memory
        # bound cannot evict an entry between reading it and using or extending it.
        self._round: dict[tuple[str, str], Bundle] = {}
        self._pending: dict[str, set[str]] = defaultdict(set)
        self.hits = 0
        self.misses = 0

    def prefetch(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Loads the stored entries among ``wanted`` (tenant, key) pairs, one read per tenant."""
        if not self.config.enabled or self.store is None:
            return
        by_tenant: dict[str, list[str]] = defaultdict(list)
        for tenant, key in wanted:
            known = self._memory.get((tenant, key))
            if known is None:
                by_tenant[tenant].append(key)
            else:
                self._round[(tenant, key)] = known
        for tenant, keys in by_tenant.items():
            for key, raw in self.store.kv_get(tenant, self.config.namespace, keys).items():
                bundle = _loads(raw)
                if bundle is not None:
                    self._round[(tenant, key)] = bundle
                    self._remember((tenant, key), bundle)

    def get(self, tenant: str, key: str, sample: str) -> CachedAnswer | None:
        """The cached answer in ``sample``'s slot of entry ``key``, or None (hit or miss)."""
        if not self.config.enabled:
            return None
        bundle = self._bundle(tenant, key)
        answer = bundle.get(sample) if bundle is not None else None
        if answer is None:
            self.misses += 1
        else:
            self.hits += 1
        return answer

    def put(self, tenant: str, key: str, sample: str, answer: CachedAnswer) -> None:
        """Remembers an answer; its entry reaches the store at the next :meth:`flush`."""
        if not self.config.enabled:
            return
        bundle = dict(self._bundle(tenant, key) or {})
        bundle[sample] = answer
        self._round[(tenant, key)] = bundle
        self._remember((tenant, key), bundle)
        if self.store is not None:
            self._pending[tenant].add(key)

    def flush(self) -> int:
        """Writes the entries extended since the last flush to the store; how many."""
        written = 0
        if self.store is not None:
            for tenant, keys in self._pending.items():
                items = {k: _dumps(self._round[(tenant, k)]) for k in keys}
                self.store.kv_put(tenant, self.config.namespace, items)
                written += len(items)
        self._pending.clear()
        self._round.clear()
        return written

    def _bundle(self, tenant: str, key: str) -> Bundle | None:
        return self._round.get((tenant, key)) or self._memory.get((tenant, key))

    def _remember(self, key: tuple[str, str], bundle: Bundle) -> None:
        self._memory[key] = bundle
        self._memory.move_to_end(key)
        while len(self._memory) > self.config.max_memory_entries:
            self._memory.popitem(last=False)

"""A content-hash cache of judge answers, in process memory and persisted through the Store.

The key is the SHA-256 of everything that determines an answer (model, messages, temperature,
length limit, sample number), so an identical call anywhere, in any process that shares the
store, reuses the earlier answer instead of paying for it again. Only answers that parsed are
cached: a malformed answer is retried next time rather than remembered. Entries are kv rows
(``store.kv_put``) of the call's tenant under the configured namespace; the store is read in
one batch per evaluation round (:meth:`JudgeCache.prefetch`) and written in one batch after
(:meth:`JudgeCache.flush`), never once per call.
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

__all__ = ["CachedAnswer", "JudgeCache", "call_key"]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A judge answer as it was first received, with what it cost then."""

    text: str
    prompt_tokens: int
    completion_tokens: int

    def dumps(self) -> str:
        """The stored JSON form."""
        return json.dumps([self.text, self.prompt_tokens, self.completion_tokens])

    @classmethod
    def loads(cls, raw: str) -> CachedAnswer | None:
        """The stored form read back; None for an entry that is not ours (ignored, not fatal)."""
        try:
            text, prompt, completion = json.loads(raw)
            return cls(str(text), int(prompt), int(completion))
        except (ValueError, TypeError):
            return None


def call_key(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    temperature: float,
    max_tokens: int,
    sample: int,
) -> str:
    """The content hash of one judge call."""
    payload = json.dumps(
        [model, list(messages), temperature, max_tokens, sample],
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class JudgeCache:
    """Answers by (tenant, key): a bounded in-memory layer over the Store's kv entries."""

    def __init__(self, config: CacheConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store
        self._memory: OrderedDict[tuple[str, str], CachedAnswer] = OrderedDict()
        # What prefetch read for the round in progress: kept whole until flush, so the memory
        # bound cannot evict an answer between reading it and using it.
        self._round: dict[tuple[str, str], CachedAnswer] = {}
        self._pending: dict[str, dict[str, str]] = defaultdict(dict)
        self.hits = 0
        self.misses = 0

    def prefetch(self, wanted: Iterable[tuple[str, str]]) -> None:
        """Loads the stored answers among ``wanted`` (tenant, key) pairs, one read per tenant."""
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
                answer = CachedAnswer.loads(raw)
                if answer is not None:
                    self._round[(tenant, key)] = answer
                    self._remember((tenant, key), answer)

    def get(self, tenant: str, key: str) -> CachedAnswer | None:
        """The cached answer, or None (counted as a hit or a miss)."""
        if not self.config.enabled:
            return None
        answer = self._memory.get((tenant, key)) or self._round.get((tenant, key))
        if answer is None:
            self.misses += 1
        else:
            self.hits += 1
        return answer

    def put(self, tenant: str, key: str, answer: CachedAnswer) -> None:
        """Remembers an answer; it reaches the store at the next :meth:`flush`."""
        if not self.config.enabled:
            return
        self._remember((tenant, key), answer)
        if self.store is not None:
            self._pending[tenant][key] = answer.dumps()

    def flush(self) -> int:
        """Writes the answers put since the last flush to the store; how many were written."""
        self._round.clear()
        written = 0
        if self.store is not None:
            for tenant, items in self._pending.items():
                self.store.kv_put(tenant, self.config.namespace, items)
                written += len(items)
        self._pending.clear()
        return written

    def _remember(self, key: tuple[str, str], answer: CachedAnswer) -> None:
        self._memory[key] = answer
        self._memory.move_to_end(key)
        while len(self._memory) > self.config.max_memory_entries:
            self._memory.popitem(last=False)

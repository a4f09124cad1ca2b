"""Example memories kept in the store: the replay memory and the held-out sets.

Both keep, per learning key, the most recent ``capacity_per_key`` examples in the tenant's
key-value entries (namespace ``loop.memory``), so they survive restarts and outlive
interaction retention; :meth:`ExampleMemory.forget` drops examples found to be bad (the
loop forgets the data of an update the canary rolled back). :class:`ReplayMemory` adds the
native stratified sampler: a batch is new examples plus ``replay_ratio`` replay spread evenly
over every learning key, so no key is forgotten; the sampler's state is saved with it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.replay import StratifiedReplay
from atlas_core.loop.examples import Example
from atlas_core.store import Store

__all__ = ["ExampleMemory", "ReplayMemory"]

NAMESPACE = "loop.memory"


class ExampleMemory:
    """Per learning key, the last ``capacity_per_key`` examples added (FIFO), in the store."""

    def __init__(self, store: Store, tenant: str, name: str, capacity_per_key: int) -> None:
        if capacity_per_key < 1:
            raise InvalidArgumentError(f"capacity_per_key: must be >= 1, got {capacity_per_key}")
        self.store = store
        self.tenant = tenant
        self.name = name
        self.capacity_per_key = capacity_per_key
        self._index_key = f"{name}/index"
        saved = store.kv_get(tenant, NAMESPACE, [self._index_key]).get(self._index_key)
        index: dict[str, Any] = json.loads(saved) if saved else {"next": 0, "keys": {}}
        self._next: int = index["next"]
        self._by_key: dict[str, list[int]] = index["keys"]

    def _item(self, seq: int) -> str:
        return f"{self.name}/item/{seq:012d}"

    def add(self, examples: Sequence[Example]) -> list[int]:
        """Stores ``examples``; their sequence numbers. Evicted examples are deleted."""
        seqs = list(range(self._next, self._next + len(examples)))
        self._next += len(examples)
        items = {self._item(s): e.to_json() for s, e in zip(seqs, examples, strict=True)}
        evicted: list[int] = []
        for seq, example in zip(seqs, examples, strict=True):
            kept = self._by_key.setdefault(example.learning_key, [])
            kept.append(seq)
            if len(kept) > self.capacity_per_key:
                evicted.extend(kept[: len(kept) - self.capacity_per_key])
                del kept[: len(kept) - self.capacity_per_key]
        items[self._index_key] = json.dumps({"next": self._next, "keys": self._by_key})
        for seq in evicted:
            items.pop(self._item(seq), None)
        self.store.kv_put(self.tenant, NAMESPACE, items)
        if evicted:
            self.store.kv_delete(self.tenant, NAMESPACE, [self._item(s) for s in evicted])
        return seqs

    def forget(self, seqs: Sequence[int]) -> int:
        """Deletes the given examples (e.g. a rolled-back update's data); how many were held."""
        drop = set(seqs)
        held = 0
        for key, kept in self._by_key.items():
            remaining = [s for s in kept if s not in drop]
            held += len(kept) - len(remaining)
            self._by_key[key] = remaining
        index = json.dumps({"next": self._next, "keys": self._by_key})
        self.store.kv_put(self.tenant, NAMESPACE, {self._index_key: index})
        self.store.kv_delete(self.tenant, NAMESPACE, [self._item(s) for s in drop])
        return held

    def get(self, seqs: Sequence[int]) -> list[Example]:
        """The stored examples among ``seqs``, in the order asked (evicted ones left out)."""
        found = self.store.kv_get(self.tenant, NAMESPACE, [self._item(s) for s in seqs])
        return [Example.from_json(found[k]) for k in (self._item(s) for s in seqs) if k in found]

    def keys(self) -> list[str]:
        """The learning keys held."""
        return sorted(k for k, v in self._by_key.items() if v)

    def examples(self, learning_key: str | None = None) -> list[Example]:
        """Every held example (of one key, or of all keys), oldest first within a key."""
        keys = [learning_key] if learning_key is not None else self.keys()
        return self.get([s for k in keys for s in self._by_key.get(k, [])])

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())


class ReplayMemory:
    """Training memory: value-selected examples in, batches of new + replay out."""

    def __init__(
        self,
        store: Store,
        tenant: str,
        *,
        capacity_per_key: int,
        replay_ratio: float,
        seed: int = 0,
        scope: str = "default",
    ) -> None:
        self.examples = ExampleMemory(store, tenant, f"{scope}/replay", capacity_per_key)
        self._state_key = f"{scope}/replay/sampler"
        self._keys_key = f"{scope}/replay/key_ids"
        saved = store.kv_get(tenant, NAMESPACE, [self._state_key, self._keys_key])
        if self._state_key in saved:
            self.sampler = StratifiedReplay.load_state(base64.b64decode(saved[self._state_key]))
        else:
            self.sampler = StratifiedReplay(capacity_per_key, replay_ratio, seed)
        self._key_ids: dict[str, int] = json.loads(saved.get(self._keys_key, "{}"))

    def _key_id(self, learning_key: str) -> int:
        return self._key_ids.setdefault(learning_key, len(self._key_ids))

    def add(self, examples: Sequence[Example]) -> list[int]:
        """Adds new examples (not yet handed out to a learner); their sequence numbers."""
        if not examples:
            return []
        seqs = self.examples.add(examples)
        keys = [self._key_id(e.learning_key) for e in examples]
        self.sampler.add(np.array(seqs, dtype=np.uint64), np.array(keys, dtype=np.uint64))
        self.save()
        return seqs

    def forget(self, seqs: Sequence[int]) -> int:
        """Drops examples from replay for good (the sampler's slots for them come back empty
        and are skipped until they are evicted); how many were held."""
        return self.examples.forget(seqs)

    def batch(self, size: int) -> tuple[list[Example], list[Example]]:
        """``(new, replay)``: up to ``size`` examples, replay spread over every key."""
        if len(self.sampler) == 0 or size < 1:
            return [], []
        seqs, _keys, is_new = self.sampler.sample(size)
        self.save()
        new = self.examples.get([int(s) for s, n in zip(seqs, is_new, strict=True) if n])
        replay = self.examples.get([int(s) for s, n in zip(seqs, is_new, strict=True) if not n])
        return new, replay

    def save(self) -> None:
        """Writes the sampler state (done by every add and batch)."""
        self.examples.store.kv_put(
            self.examples.tenant,
            NAMESPACE,
            {
                self._state_key: base64.b64encode(self.sampler.save_state()).decode(),
                self._keys_key: json.dumps(self._key_ids),
            },
        )

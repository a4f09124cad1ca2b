"""The playbook of a learning key: short guidance entries, injected, measured, pruned.

Entries live in the Store's key-value entries (namespace :data:`NAMESPACE`, key
``<learning_key>/<entry id>``, value: the entry as JSON). Which entries a call applied is
recorded with the call itself (``metadata["playbook"]``, a list of entry ids), and that
record is the one source of usage and impact: a review counts the calls each entry was
applied to (and when last), and compares the mean reward of the key's rewarded calls that
applied it against those that did not (calls from before it existed, and calls where it was
held out on purpose, see ``holdout``). Serving a call therefore writes nothing to the
playbook. An entry whose reward with it is worse than without by more than a margin, on
enough samples each way, is pruned: kept for the audit trail, never injected again.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import Any, Literal

from atlas_core.errors import InvalidArgumentError
from atlas_core.ids import new_id
from atlas_core.store import Query, Store
from atlas_core.types import utcnow

__all__ = ["NAMESPACE", "Impact", "Playbook", "PlaybookEntry", "estimate_tokens"]

NAMESPACE = "runtime.playbook"
MAX_ENTRY_CHARS = 600


def estimate_tokens(text: str) -> int:
    """A tokenizer-free token estimate (about four characters a token for English); the
    budget only needs to be roughly right, and core ships no tokenizer."""
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True)
class Impact:
    """Rewards of the key's calls with and without one entry."""

    n_with: int
    """Rewarded calls it was applied to."""
    mean_with: float | None
    n_without: int
    """Rewarded calls of the key it was not applied to."""
    mean_without: float | None
    applied: int = 0
    """Calls it was applied to, rewarded or not."""
    last_applied_at: float | None = None
    """Unix seconds of the latest of them."""

    @property
    def delta(self) -> float | None:
        """Mean with minus mean without; None until both sides have a sample."""
        if self.mean_with is None or self.mean_without is None:
            return None
        return self.mean_with - self.mean_without


@dataclass(frozen=True)
class PlaybookEntry:
    """One piece of guidance for a learning key."""

    id: str
    learning_key: str
    text: str
    source: str = "manual"
    """Who wrote it: ``teacher`` (a lesson from coach-lane guidance), ``manual``, a learner."""
    created_at: float = 0.0
    """Unix seconds."""
    uses: int = 0
    """Calls it was injected into (as of the last review)."""
    last_used_at: float | None = None
    """Unix seconds of the latest of them (as of the last review)."""
    status: Literal["active", "pruned"] = "active"
    impact: Impact | None = None
    """As of the last review."""
    pruned_reason: str | None = None

    def to_json(self) -> str:
        """The stored form."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PlaybookEntry:
        """An entry from its stored form."""
        data: dict[str, Any] = json.loads(text)
        impact = data.pop("impact", None)
        return cls(**data, impact=Impact(**impact) if impact else None)


class Playbook:
    """The playbooks of one tenant (one per learning key) in a Store."""

    def __init__(self, store: Store, tenant: str = "default") -> None:
        self.store = store
        self.tenant = tenant
        self._lock = threading.Lock()

    # -- entries ----------------------------------------------------------------------------
    def add(self, learning_key: str, text: str, *, source: str = "manual") -> PlaybookEntry:
        """Adds guidance to ``learning_key``'s playbook; the same text (up to case and spaces)
        returns the existing entry instead of a duplicate (a pruned one stays pruned)."""
        text = " ".join(str(text).split())
        if not text:
            raise InvalidArgumentError("invalid argument `text`: empty playbook entry")
        if len(text) > MAX_ENTRY_CHARS:
            raise InvalidArgumentError(
                f"invalid argument `text`: {len(text)} chars; an entry is at most "
                f"{MAX_ENTRY_CHARS} (short guidance, not a document)"
            )
        with self._lock:
            for entry in self.entries(learning_key, include_pruned=True):
                if entry.text.casefold() == text.casefold():
                    return entry
            entry = PlaybookEntry(
                id=new_id().hex[-12:],
                learning_key=learning_key,
                text=text,
                source=source,
                created_at=time.time(),
            )
            self._put([entry])
        return entry

    def entries(self, learning_key: str, *, include_pruned: bool = False) -> list[PlaybookEntry]:
        """The key's entries, oldest first (pruned ones only when asked)."""
        prefix = f"{learning_key}/"
        items = self.store.kv_items(self.tenant, NAMESPACE, prefix=prefix)
        # Entry ids hold no "/": a longer key that merely starts with "<key>/" is another key.
        found = [
            PlaybookEntry.from_json(value)
            for key, value in items.items()
            if "/" not in key[len(prefix) :]
        ]
        found.sort(key=lambda e: (e.created_at, e.id))
        return [e for e in found if include_pruned or e.status == "active"]

    def _put(self, entries: Iterable[PlaybookEntry]) -> None:
        batch = {f"{e.learning_key}/{e.id}": e.to_json() for e in entries}
        if batch:
            self.store.kv_put(self.tenant, NAMESPACE, batch)

    # -- injection ----------------------------------------------------------------------------
    def select(
        self,
        learning_key: str,
        token_budget: int,
        *,
        holdout: float = 0.0,
        call_key: str = "",
        entries: Sequence[PlaybookEntry] | None = None,
    ) -> list[PlaybookEntry]:
        """The active entries to inject into one call, best first, within ``token_budget``.

        Entries with a measured positive impact come first, then unmeasured ones newest
        first. Each entry is left out of a fraction ``holdout`` of calls, decided by a hash of
        ``call_key`` and the entry id (deterministic, spread evenly), so its impact is
        measured against concurrent calls without it, not only older ones. ``entries``: the
        key's active entries when the caller already holds them (a cache), else read.
        """
        if entries is None:
            entries = self.entries(learning_key)
        chosen: list[PlaybookEntry] = []
        spent = 0
        for entry in sorted(entries, key=_rank):
            if holdout > 0 and _unit_hash(call_key, entry.id) < holdout:
                continue
            cost = estimate_tokens(entry.text) + 2  # the bullet and newline
            if spent + cost > token_budget:
                continue
            chosen.append(entry)
            spent += cost
        return chosen

    @staticmethod
    def render(entries: Sequence[PlaybookEntry]) -> str:
        """The text injected into the student's prompts (empty when there is nothing)."""
        if not entries:
            return ""
        lines = "\n".join(f"- {e.text}" for e in entries)
        return f"Guidance learned from earlier tasks of this kind:\n{lines}\n\n"

    # -- measurement ----------------------------------------------------------------------------
    def impact(
        self, learning_key: str, *, window: int = 1_000, lookback_s: float | None = None
    ) -> dict[str, Impact]:
        """Per entry id: usage and rewards of the key's calls with and without it, over the
        calls of the last ``lookback_s`` seconds (all when None); rewards from the last
        ``window`` rewarded calls of them."""
        since = utcnow() - timedelta(seconds=lookback_s) if lookback_s else None
        frame = self.store.interactions_with_rewards(
            self.tenant, Query(learning_key=learning_key, since=since)
        )
        calls = [
            (_applied_ids(metadata), created.timestamp(), reward)
            for metadata, created, reward in zip(
                frame["metadata"], frame["created_at"], frame["reward"], strict=True
            )
        ]
        rewarded = [(ids, float(r)) for ids, _, r in calls if r is not None][-window:]
        result: dict[str, Impact] = {}
        for entry in self.entries(learning_key, include_pruned=True):
            with_ = [r for ids, r in rewarded if entry.id in ids]
            without = [r for ids, r in rewarded if entry.id not in ids]
            applied = [at for ids, at, _ in calls if entry.id in ids]
            result[entry.id] = Impact(
                len(with_),
                sum(with_) / len(with_) if with_ else None,
                len(without),
                sum(without) / len(without) if without else None,
                len(applied),
                max(applied) if applied else None,
            )
        return result

    def review(
        self,
        learning_key: str,
        *,
        min_samples: int = 5,
        margin: float = 0.05,
        lookback_s: float | None = None,
    ) -> list[PlaybookEntry]:
        """Measures every active entry (usage and impact, see :meth:`impact`) and prunes the
        harmful ones: at least ``min_samples`` rewarded calls each way, and the mean with it
        below the mean without by more than ``margin``. Returns the entries pruned now."""
        impacts = self.impact(learning_key, lookback_s=lookback_s)
        pruned: list[PlaybookEntry] = []
        updated: list[PlaybookEntry] = []
        with self._lock:
            for entry in self.entries(learning_key):
                impact = impacts.get(entry.id)
                if impact is None:
                    continue
                delta = impact.delta
                harmful = (
                    delta is not None
                    and impact.n_with >= min_samples
                    and impact.n_without >= min_samples
                    and delta < -margin
                )
                entry = replace(entry, uses=impact.applied, last_used_at=impact.last_applied_at)
                if harmful:
                    reason = (
                        f"mean reward {impact.mean_with:.3f} with it over {impact.n_with} calls "
                        f"vs {impact.mean_without:.3f} without over {impact.n_without}"
                    )
                    entry = replace(entry, status="pruned", impact=impact, pruned_reason=reason)
                    pruned.append(entry)
                else:
                    entry = replace(entry, impact=impact)
                updated.append(entry)
            self._put(updated)
        return pruned


def _rank(entry: PlaybookEntry) -> tuple[float, float]:
    delta = entry.impact.delta if entry.impact is not None else None
    return (-(delta or 0.0), -entry.created_at)


def _unit_hash(call_key: str, entry_id: str) -> float:
    digest = hashlib.blake2b(f"{call_key}\x00{entry_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _applied_ids(metadata: str | None) -> set[str]:
    if not metadata:
        return set()
    try:
        ids = json.loads(metadata).get("playbook", [])
    except (ValueError, AttributeError):
        return set()
    return {i for i in ids if isinstance(i, str)} if isinstance(ids, list) else set()

"""The persisted state of one rollout (one per artifact family: tenant, kind, name).

It lives in the store's key-value entries (namespace ``loop.rollout``, key ``kind/name``)
and is written *before* the aliases and statuses it implies are applied, so after a crash
the state is the truth and re-applying it repairs a half-done switch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from atlas_core.loop.stats import ArmStats
from atlas_core.store import Store
from atlas_core.types import VersionKind

__all__ = [
    "LOG_NAMESPACE",
    "NAMESPACE",
    "Phase",
    "RolloutState",
    "load_state",
    "rollout_history",
    "rollout_log",
    "save_state",
]

NAMESPACE = "loop.rollout"
#: Where every finished rollout (promoted or rolled back) is kept, oldest first by key.
LOG_NAMESPACE = "loop.rollout.log"


class Phase(StrEnum):
    """Where a rollout stands."""

    SHADOW = "shadow"
    """Traffic mirrored to the candidate; users see only the stable version."""
    CANARY = "canary"
    """A share of users (``weight`` %) served by the candidate."""
    PROMOTED = "promoted"
    """The candidate is production; ``stable_id`` is kept for an instant rollback."""
    ROLLED_BACK = "rolled_back"
    """The candidate was rejected; the stable version serves everyone."""

    @property
    def in_flight(self) -> bool:
        """Shadow or canary: live traffic still decides."""
        return self in (Phase.SHADOW, Phase.CANARY)


@dataclass
class RolloutState:
    """One rollout: who is compared, where it stands, and what live traffic showed."""

    kind: VersionKind
    name: str
    candidate_id: UUID
    stable_id: UUID | None
    phase: Phase
    step: int
    """Index into the canary steps (-1 in shadow)."""
    weight: float
    """Percentage of users the candidate serves (0 in shadow, 100 once promoted)."""
    started_at: float
    step_started_at: float
    candidate: ArmStats = field(default_factory=ArmStats)
    stable: ArmStats = field(default_factory=ArmStats)
    history: list[dict[str, Any]] = field(default_factory=list)
    """One entry per analysed step: phase, weight, verdict, figures, time."""
    reason: str = ""
    """Why it is where it is (last transition)."""
    salt: str = ""
    """What the router hashes users with (:func:`~atlas_core.loop.router.bucket`): the
    candidate's name and number, so each rollout picks its own users and the same traffic
    picks the same ones in every run. Empty in states saved before it existed: the
    candidate id is used then."""

    @property
    def routing_salt(self) -> str:
        """:attr:`salt`, or the candidate id for states saved without one."""
        return self.salt or str(self.candidate_id)

    def to_json(self) -> str:
        """JSON text."""
        return json.dumps(
            {
                "kind": self.kind.value,
                "name": self.name,
                "candidate_id": str(self.candidate_id),
                "stable_id": str(self.stable_id) if self.stable_id else None,
                "phase": self.phase.value,
                "step": self.step,
                "weight": self.weight,
                "started_at": self.started_at,
                "step_started_at": self.step_started_at,
                "candidate": self.candidate.to_dict(),
                "stable": self.stable.to_dict(),
                "history": self.history,
                "reason": self.reason,
                "salt": self.salt,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RolloutState:
        """The inverse of :meth:`to_json`."""
        d = json.loads(text)
        return cls(
            kind=VersionKind(d["kind"]),
            name=d["name"],
            candidate_id=UUID(d["candidate_id"]),
            stable_id=UUID(d["stable_id"]) if d["stable_id"] else None,
            phase=Phase(d["phase"]),
            step=d["step"],
            weight=d["weight"],
            started_at=d["started_at"],
            step_started_at=d["step_started_at"],
            candidate=ArmStats.from_dict(d["candidate"]),
            stable=ArmStats.from_dict(d["stable"]),
            history=d["history"],
            reason=d["reason"],
            salt=d.get("salt", ""),
        )


def state_key(kind: VersionKind, name: str) -> str:
    """The key-value key of a family's rollout."""
    return f"{kind.value}/{name}"


def load_state(store: Store, tenant: str, kind: VersionKind, name: str) -> RolloutState | None:
    """The family's last rollout, or None."""
    key = state_key(kind, name)
    text = store.kv_get(tenant, NAMESPACE, [key]).get(key)
    return RolloutState.from_json(text) if text else None


def save_state(
    store: Store, tenant: str, state: RolloutState, *, ended_at: float | None = None
) -> None:
    """Writes the rollout state; with ``ended_at``, also appends it to the rollout log."""
    text = state.to_json()
    store.kv_put(tenant, NAMESPACE, {state_key(state.kind, state.name): text})
    if ended_at is not None:
        # Keyed by end time then candidate: re-logging the same end (a retried commit) is
        # an upsert, not a duplicate.
        key = f"{state_key(state.kind, state.name)}/{int(ended_at * 1e6):020d}/{state.candidate_id}"
        store.kv_put(tenant, LOG_NAMESPACE, {key: text})


def rollout_log(store: Store, tenant: str) -> list[tuple[float, RolloutState]]:
    """Every finished rollout of every family with the time it ended (Unix s), oldest end
    first: what monitoring, the report and the trackers read."""
    ended = []
    for key, text in store.kv_items(tenant, LOG_NAMESPACE).items():
        _, micros, _ = key.rsplit("/", 2)  # see save_state: family/<end µs>/<candidate>
        ended.append((int(micros) / 1e6, RolloutState.from_json(text)))
    ended.sort(key=lambda item: item[0])
    return ended


def rollout_history(store: Store, tenant: str, kind: VersionKind, name: str) -> list[RolloutState]:
    """Every finished rollout of the family (promoted or rolled back), oldest first."""
    items = store.kv_items(tenant, LOG_NAMESPACE, prefix=state_key(kind, name) + "/")
    return [RolloutState.from_json(text) for text in items.values()]

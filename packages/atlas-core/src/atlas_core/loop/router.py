"""The router: which version serves a request, sticky per user or session.

A request's routing unit (user id, else session id) is hashed with the rollout's salt (the
candidate's name and number; BLAKE2b, 64 bits) to a point ``u`` in [0, 1); it goes to the
candidate when ``u < weight / 100``. The same unit therefore keeps its arm for the whole
rollout, and as the canary weight grows the candidate's users stay and new ones join (the
threshold only rises).
In shadow, everyone is served by the stable version and the call is also mirrored to the
candidate (``Route.shadow``): the caller runs both, returns the stable answer, and records
both arms on the :class:`~atlas_core.loop.rollout.Rollout`.

The router reads the rollout state and the ``production`` alias from the store at most every
``refresh_s`` seconds, so any number of serving processes follow one rollout.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

from atlas_core.errors import InvalidArgumentError
from atlas_core.loop.clock import Clock, SystemClock
from atlas_core.loop.rollout import Arm
from atlas_core.loop.rollout_state import Phase, RolloutState, load_state
from atlas_core.store import Store
from atlas_core.types import VersionKind

__all__ = ["Route", "Router", "bucket"]


def bucket(unit: str, salt: str) -> float:
    """The unit's fixed point in [0, 1) for a given salt (uniform over units)."""
    digest = hashlib.blake2b(f"{salt}\x00{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


@dataclass(frozen=True)
class Route:
    """Where one request goes."""

    version_id: UUID | None
    """The version that answers the user (None: no version exists yet)."""
    arm: Arm
    """``candidate`` when the canary serves it, else ``stable``."""
    shadow_id: UUID | None = None
    """A version to mirror the request to (shadow phase), whose answer is not shown."""


class Router:
    """Routes requests of one artifact family following its rollout in the store."""

    def __init__(
        self,
        store: Store,
        tenant: str,
        kind: VersionKind,
        name: str,
        *,
        refresh_s: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.kind = kind
        self.name = name
        self.refresh_s = refresh_s
        self.clock = clock or SystemClock()
        self._loaded_at: float | None = None
        self._state: RolloutState | None = None
        self._production: UUID | None = None

    def refresh(self) -> None:
        """Reloads the rollout state and the production alias now."""
        self._state = load_state(self.store, self.tenant, self.kind, self.name)
        prod = self.store.resolve_alias(self.tenant, self.kind, self.name, "production")
        self._production = prod.id if prod else None
        self._loaded_at = self.clock.now()

    def route(self, user_id: str | None = None, session_id: str | None = None) -> Route:
        """The route of a request by ``user_id`` (else ``session_id``; one is required)."""
        unit = user_id if user_id is not None else session_id
        if not unit:
            raise InvalidArgumentError("route: give a user_id or a session_id to route by")
        now = self.clock.now()
        if self._loaded_at is None or now - self._loaded_at >= self.refresh_s:
            self.refresh()
        state = self._state
        if state is None or not state.phase.in_flight:
            return Route(self._production, "stable")
        if state.phase is Phase.SHADOW:
            return Route(state.stable_id, "stable", shadow_id=state.candidate_id)
        if bucket(unit, state.routing_salt) < state.weight / 100.0:
            return Route(state.candidate_id, "candidate")
        return Route(state.stable_id, "stable")

"""Safe rollout of a gated candidate: shadow, canary steps, promotion, rollback.

One :class:`Rollout` drives one artifact family (tenant, kind, name). A rollout goes

    start ──► shadow ──► canary 1% ──► 5% ──► … ──► promoted (production = candidate)
                 └──────────┴─── a significant degradation ──► rolled_back

At each step live observations of both arms (:meth:`Rollout.record`) are compared by
:func:`atlas_core.loop.stats.compare_arms` once each arm has ``min_samples_per_arm``: a
significant drop in reward, or rise in error rate or latency, beyond the configured margins
rolls back at once; otherwise the rollout moves to the next step (the last step, 100 %, is
the promotion itself). :meth:`Rollout.promote` and :meth:`Rollout.rollback` are the
blue-green switch: one alias move each way, the previous production version kept.

What the store shows at each phase (``canary`` points at the version serving canary
traffic, and at production when no canary is live):

==============  ===========================  ===================  =====================
phase           candidate status             ``production``       ``canary``
==============  ===========================  ===================  =====================
shadow          shadow                       stable               stable
canary          canary                       stable               candidate
promoted        production (stable retired)  candidate            candidate
rolled_back     rejected (stable production) stable               stable
==============  ===========================  ===================  =====================

Every finished rollout is also appended to a log (:func:`~atlas_core.loop.rollout_state.
rollout_history`): how many updates were promoted and rolled back, and why. The state
(:mod:`atlas_core.loop.rollout_state`) is written before the aliases, so a process
that restarts calls :meth:`Rollout.resume`: it re-applies the state (``on_restart:
resume``, the default) or rolls back (``revert``); a state that points at a missing version
is always rolled back. Observations are checkpointed every ``checkpoint_every`` records and
at every analysis; those since the last checkpoint are lost in a crash (the step then just
waits for more).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, ParamSpec, TypeVar

from atlas_core.config.models import RolloutConfig
from atlas_core.errors import AtlasError, InvalidArgumentError
from atlas_core.loop.clock import Clock, SystemClock
from atlas_core.loop.observations import arm_stats_from_store
from atlas_core.loop.rollout_state import Phase, RolloutState, load_state, save_state
from atlas_core.loop.stats import ArmStats, compare_arms
from atlas_core.store import Store
from atlas_core.types import Version, VersionKind, VersionStatus

__all__ = ["Arm", "Rollout", "RolloutError", "StepOutcome"]

Arm = Literal["stable", "candidate"]


class RolloutError(AtlasError):
    """A rollout operation is not possible in the rollout's current phase."""


@dataclass(frozen=True)
class StepOutcome:
    """What one analysis did."""

    action: Literal["wait", "advance", "promote", "rollback", "idle"]
    """``wait`` for samples, ``advance`` a step, ``promote``, ``rollback``, or ``idle``."""
    reason: str
    state: RolloutState | None


P = ParamSpec("P")
R = TypeVar("R")


def _locked(method: Callable[P, R]) -> Callable[P, R]:
    """Serialises a Rollout method: serving threads record while another one analyses."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with args[0]._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


class Rollout:
    """Drives the rollout of one artifact family; every transition is persisted first.

    Safe to share between threads (one lock). One process drives a rollout; with traffic
    served by several processes, they route with a :class:`~atlas_core.loop.router.Router`
    and record interactions, and the driver analyses with ``analyze(from_store=True)``.
    """

    def __init__(
        self,
        store: Store,
        tenant: str,
        kind: VersionKind,
        name: str,
        config: RolloutConfig | None = None,
        *,
        clock: Clock | None = None,
        checkpoint_every: int = 100,
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.kind = kind
        self.name = name
        self.config = config or RolloutConfig()
        self.clock = clock or SystemClock()
        self.checkpoint_every = checkpoint_every
        self._unsaved = 0
        self._lock = threading.RLock()
        self.state = load_state(store, tenant, kind, name)

    # -- lifecycle -----------------------------------------------------------------------
    @_locked
    def start(self, candidate: Version) -> RolloutState:
        """Starts rolling ``candidate`` (already stored) out against current production.

        With no production version yet the candidate is promoted at once (nothing to
        compare against). Raises RolloutError while another rollout is in flight.
        """
        self._check_member(candidate)
        if self.state is not None and self.state.phase.in_flight:
            raise RolloutError(
                f"a rollout of {self.state.candidate_id} is in flight ({self.state.phase.value})"
            )
        stable = self.store.resolve_alias(self.tenant, self.kind, self.name, "production")
        now = self.clock.now()
        state = RolloutState(
            kind=self.kind,
            name=self.name,
            candidate_id=candidate.id,
            stable_id=stable.id if stable else None,
            phase=Phase.SHADOW,
            step=-1,
            weight=0.0,
            started_at=now,
            step_started_at=now,
            reason="started",
            salt=f"{candidate.name}/{candidate.number}",
        )
        if stable is None:
            state.phase, state.weight, state.reason = Phase.PROMOTED, 100.0, "first version"
        elif not self.config.shadow:
            self._enter_step(state, 0, "started (no shadow)")
        self._commit(state)
        return state

    def _enter_step(self, state: RolloutState, step: int, reason: str) -> None:
        steps = self.config.canary_steps
        if step >= len(steps) or steps[step] >= 100.0:
            state.phase, state.step, state.weight = Phase.PROMOTED, len(steps) - 1, 100.0
        else:
            state.phase, state.step, state.weight = Phase.CANARY, step, steps[step]
        state.step_started_at = self.clock.now()
        state.candidate, state.stable = ArmStats(), ArmStats()
        state.reason = reason

    @_locked
    def record(
        self,
        arm: Arm,
        *,
        reward: float | None = None,
        error: bool = False,
        latency_s: float | None = None,
    ) -> None:
        """One live observation of ``arm`` (in shadow, ``candidate`` is the mirrored call)."""
        state = self.state
        if state is None or not state.phase.in_flight:
            return  # traffic after the decision no longer matters to it
        if arm not in ("stable", "candidate"):
            raise InvalidArgumentError(f"arm: must be 'stable' or 'candidate', got {arm!r}")
        if reward is not None and not 0.0 <= reward <= 1.0:  # NaN fails this too
            raise InvalidArgumentError(f"reward: must be in [0, 1], got {reward}")
        if latency_s is not None and not 0.0 <= latency_s < math.inf:
            raise InvalidArgumentError(f"latency_s: must be finite and >= 0, got {latency_s}")
        (state.candidate if arm == "candidate" else state.stable).add(reward, error, latency_s)
        self._unsaved += 1
        if self._unsaved >= self.checkpoint_every:
            self.checkpoint()

    @_locked
    def checkpoint(self) -> None:
        """Persists the observations recorded so far."""
        if self.state is not None:
            save_state(self.store, self.tenant, self.state)
        self._unsaved = 0

    @_locked
    def analyze(self, *, from_store: bool = False) -> StepOutcome:
        """Analyses the current step and acts on it: wait, advance, promote or roll back.

        ``from_store`` takes both arms' observations from the interactions recorded in the
        store (:mod:`atlas_core.loop.observations`) instead of :meth:`record` calls: for
        traffic served by several processes.
        """
        state = self.state
        if state is None or not state.phase.in_flight:
            return StepOutcome("idle", "no rollout in flight", state)
        if from_store:
            state.candidate, state.stable = arm_stats_from_store(self.store, self.tenant, state)
        c = self.config
        result = compare_arms(
            state.candidate,
            state.stable,
            min_samples=c.min_samples_per_arm,
            alpha=c.significance,
            reward_margin=c.reward_margin,
            error_margin=c.error_margin,
            latency_margin=c.latency_margin,
        )
        if not result.ready:
            self.checkpoint()
            return StepOutcome(
                "wait",
                f"{min(state.candidate.n, state.stable.n)}/{c.min_samples_per_arm} samples per arm",
                state,
            )
        where = "shadow" if state.phase is Phase.SHADOW else f"canary {state.weight:g}%"
        state.history.append(
            {
                "phase": state.phase.value,
                "weight": state.weight,
                "at": self.clock.now(),
                "passed": not result.failures,
                "failures": list(result.failures),
                "figures": result.figures,
            }
        )
        if result.failures:
            reason = f"{where}: " + "; ".join(result.failures)
            self._roll_back(state, reason)
            return StepOutcome("rollback", reason, state)
        self._enter_step(state, state.step + 1, f"{where} passed")
        self._commit(state)
        action: Literal["advance", "promote"] = (
            "promote" if state.phase is Phase.PROMOTED else "advance"
        )
        return StepOutcome(action, state.reason, state)

    @_locked
    def promote(self, reason: str = "manual promotion") -> RolloutState:
        """Blue-green switch: the in-flight candidate becomes production now."""
        state = self._require(in_flight=True)
        self._enter_step(state, len(self.config.canary_steps), reason)
        self._commit(state)
        return state

    @_locked
    def switch(self, version: Version, reason: str = "blue-green switch") -> RolloutState:
        """Blue-green: ``version`` (stored, of this family) becomes production at once.

        The previous production version is kept as the rollback target. Raises RolloutError
        while a rollout is in flight (promote or roll it back first).
        """
        self._check_member(version)
        if self.state is not None and self.state.phase.in_flight:
            if self.state.candidate_id == version.id:
                return self.promote(reason)
            raise RolloutError(
                f"a rollout of {self.state.candidate_id} is in flight ({self.state.phase.value})"
            )
        stable = self.store.resolve_alias(self.tenant, self.kind, self.name, "production")
        if stable is not None and stable.id == version.id:
            raise RolloutError(f"{version.id} is already production")
        now = self.clock.now()
        state = RolloutState(
            kind=self.kind,
            name=self.name,
            candidate_id=version.id,
            stable_id=stable.id if stable else None,
            phase=Phase.PROMOTED,
            step=len(self.config.canary_steps) - 1,
            weight=100.0,
            started_at=now,
            step_started_at=now,
            reason=reason,
        )
        self._commit(state)
        return state

    @_locked
    def rollback(self, reason: str = "manual rollback") -> RolloutState:
        """Instant rollback: an in-flight candidate is rejected, a promoted one reverted."""
        state = self._require(in_flight=None)
        if state.phase is Phase.ROLLED_BACK:
            raise RolloutError(f"{state.candidate_id} was already rolled back")
        if state.stable_id is None:
            raise RolloutError("the candidate was the first version: nothing to roll back to")
        self._roll_back(state, reason)
        return state

    @_locked
    def resume(self) -> StepOutcome:
        """After a restart: re-applies the persisted state, or reverts (``on_restart``)."""
        state = self.state
        if state is None:
            return StepOutcome("idle", "no rollout", None)
        missing = [
            v
            for v in (state.candidate_id, state.stable_id)
            if v is not None and self.store.get_version(self.tenant, v) is None
        ]
        if state.phase.in_flight and (missing or self.config.on_restart == "revert"):
            why = f"missing version {missing[0]}" if missing else "on_restart=revert"
            if state.stable_id is not None and self.store.get_version(self.tenant, state.stable_id):
                self._roll_back(state, f"restart: {why}")
                return StepOutcome("rollback", state.reason, state)
        self._apply(state)
        return StepOutcome("idle", f"resumed {state.phase.value}", state)

    # -- internals -----------------------------------------------------------------------
    def _check_member(self, version: Version) -> None:
        if (version.kind, version.name) != (self.kind, self.name):
            raise InvalidArgumentError(
                f"version: {version.kind.value}/{version.name} is not of this rollout's "
                f"family {self.kind.value}/{self.name}"
            )
        if self.store.get_version(self.tenant, version.id) is None:
            raise InvalidArgumentError(f"version: {version.id} is not in the store")

    def _require(self, *, in_flight: bool | None) -> RolloutState:
        state = self.state
        if state is None:
            raise RolloutError(f"no rollout of {self.kind.value}/{self.name}")
        if in_flight is True and not state.phase.in_flight:
            raise RolloutError(f"the rollout of {state.candidate_id} is {state.phase.value}")
        return state

    def _roll_back(self, state: RolloutState, reason: str) -> None:
        state.phase, state.weight, state.reason = Phase.ROLLED_BACK, 0.0, reason
        self._commit(state)

    def _commit(self, state: RolloutState) -> None:
        # Write-ahead: the state first, then the aliases and statuses it implies.
        self.state = state
        ended = None if state.phase.in_flight else self.clock.now()
        save_state(self.store, self.tenant, state, ended_at=ended)
        self._unsaved = 0
        self._apply(state)

    def _apply(self, state: RolloutState) -> None:
        """Makes statuses and aliases match ``state`` (idempotent)."""
        t, cand, stable = self.tenant, state.candidate_id, state.stable_id
        if state.phase is Phase.PROMOTED:
            if stable is not None:
                self.store.set_status(t, stable, VersionStatus.RETIRED)
            self.store.set_status(t, cand, VersionStatus.PRODUCTION)
            self.store.set_alias(t, "production", cand)
            self.store.set_alias(t, "canary", cand)
            return
        assert stable is not None  # only a first version has none, and it is promoted at once
        if state.phase is Phase.ROLLED_BACK:
            # A rollback may be the repair of a state whose candidate was deleted.
            if self.store.get_version(t, cand) is not None:
                self.store.set_status(t, cand, VersionStatus.REJECTED)
        else:
            status = VersionStatus.SHADOW if state.phase is Phase.SHADOW else VersionStatus.CANARY
            self.store.set_status(t, cand, status)
        self.store.set_status(t, stable, VersionStatus.PRODUCTION)
        self.store.set_alias(t, "production", stable)
        self.store.set_alias(t, "canary", cand if state.phase is Phase.CANARY else stable)

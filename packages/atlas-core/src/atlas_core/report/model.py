"""The learning-effectiveness report as data: every figure a renderer shows.

Each field's docstring states how it is computed; :mod:`atlas_core.report.definitions`
says the same in the words the rendered report prints. A figure that cannot be computed
(no updates, no rewards, a single window) is ``None``, never NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

#: One-sided 5 % critical value of the standard normal.
Z_95 = 1.6448536269514722

__all__ = [
    "KeyDelta",
    "KeyForgetting",
    "KeyReward",
    "LearningReport",
    "LiveComparison",
    "RollbackRecord",
    "Stability",
    "UpdateCounts",
    "UpdateRecord",
    "Velocity",
    "VersionServed",
]


@dataclass(frozen=True)
class KeyDelta:
    """Live reward of a new version vs the version it replaced, on one learning key."""

    key: str
    n: int
    """Rewarded interactions in each window (the same on both sides)."""
    before: float
    """Mean reward of the replaced version's last ``n`` rewarded interactions on the key."""
    after: float
    """Mean reward of the new version's first ``n`` rewarded interactions on the key."""
    se: float = 0.0
    """Standard error of ``delta``: ``sqrt(var_before / n + var_after / n)``, sample
    variances (ddof 1; 0 for a single interaction)."""

    @property
    def delta(self) -> float:
        """``after - before`` (negative: the key got worse)."""
        return self.after - self.before

    def significant_drop(self, tolerance: float) -> bool:
        """Whether the key got worse by more than ``tolerance`` beyond sampling noise.

        The one-sided test the canary uses: ``(delta + tolerance) / se < -1.645`` (5 %); with
        no variance on either side, ``delta < -tolerance``.
        """
        if self.se == 0.0:
            return self.delta < -tolerance
        return (self.delta + tolerance) / self.se < -Z_95


@dataclass(frozen=True)
class LiveComparison:
    """A candidate against the version it was compared with, on live traffic."""

    previous_id: UUID
    keys: tuple[KeyDelta, ...]
    """One entry per learning key both versions served with rewards."""

    @property
    def improvement(self) -> float | None:
        """Mean over keys of the key deltas (each key counts the same); None without keys."""
        if not self.keys:
            return None
        return sum(k.delta for k in self.keys) / len(self.keys)


@dataclass(frozen=True)
class UpdateRecord:
    """One learning update that produced a candidate, and what became of it."""

    run_id: UUID
    at: datetime
    """When the update ran (the learning run's time, on the loop's clock)."""
    trigger: str
    family: str
    """``kind/name`` of the artifact family."""
    candidate_id: UUID
    number: int | None
    """The candidate's version number (None when the version is gone)."""
    outcome: str
    """The run's outcome: ``rejected``, ``rollout`` or ``promoted`` (first version)."""
    fate: str
    """``rejected by the gate``, ``promoted``, ``rolled back`` or ``in rollout``."""
    gate_stable: float | None
    """The gate's overall score of the version it was compared with (before)."""
    gate_candidate: float | None
    """The gate's overall score of the candidate (after)."""
    gate_bwt: float | None
    """The gate's mean backward transfer over keys with replay examples."""
    reason: str
    live: LiveComparison | None = None
    """Live reward vs the replaced (or, for a rollback, the stable) version."""

    @property
    def gate_delta(self) -> float | None:
        """``gate_candidate - gate_stable`` (None when either is missing)."""
        if self.gate_stable is None or self.gate_candidate is None:
            return None
        return self.gate_candidate - self.gate_stable


@dataclass(frozen=True)
class RollbackRecord:
    """One rolled-back rollout: when, why, at which step."""

    at: datetime
    """When the rollout ended (the loop's clock)."""
    family: str
    candidate_id: UUID
    number: int | None
    stable_id: UUID | None
    step: str
    """Where it failed: ``shadow``, ``canary 10%``, or how it ended without an analysis."""
    reason: str


@dataclass(frozen=True)
class UpdateCounts:
    """How many learning runs, candidates, gate verdicts and rollout ends."""

    runs: int
    """Every recorded scheduler decision (learning run), skipped ones included."""
    skipped: int
    updates: int
    """Runs that ran an update (every outcome but ``skipped``)."""
    by_trigger_outcome: dict[tuple[str, str], int]
    candidates: int
    """Runs that produced a candidate version."""
    gate_passed: int
    """Candidates whose run outcome is ``rollout`` or ``promoted``."""
    gate_rejected: int
    """Runs with outcome ``rejected``."""
    promotions: int
    """Finished rollouts logged as promoted (a first version and manual switches included)."""
    rollbacks: int
    """Finished rollouts logged as rolled back."""
    in_rollout: int
    """Rollouts still in shadow or canary."""


@dataclass(frozen=True)
class Velocity:
    """Live improvement per update, per 1,000 interactions and per hour."""

    total_improvement: float | None
    """Sum of the live improvements of the promoted updates that have one."""
    per_update: float | None
    """``total_improvement`` / updates run (outcome not ``skipped``)."""
    per_1000_interactions: float | None
    """``total_improvement`` / (interactions in the period / 1,000)."""
    per_hour: float | None
    """``total_improvement`` / hours from the first to the last interaction."""


@dataclass(frozen=True)
class Stability:
    """How steady live reward is, and how often updates had to be undone."""

    window: int
    """Rewarded interactions per window."""
    windows: int
    """Complete windows in the period."""
    window_means: tuple[float, ...]
    variance: float | None
    """Sample variance (ddof 1) of the window means; None with fewer than 2 windows."""
    rollback_share: float | None
    """Rollbacks / finished rollouts (promoted + rolled back); None when none finished."""
    regressions: int
    """Rollbacks plus promoted updates whose live improvement is negative."""
    mean_time_between_regressions_s: float | None
    """Mean gap between consecutive regressions (rollout end times); None with fewer than 2."""


@dataclass(frozen=True)
class KeyReward:
    """Live reward of one learning key over the period."""

    key: str
    interactions: int
    rewarded: int
    mean: float | None
    first_window: float | None
    """Mean of the key's first ``window`` rewarded interactions (fewer if it has fewer)."""
    last_window: float | None
    """Mean of the key's last ``window`` rewarded interactions."""
    variance: float | None
    """Sample variance of the key's complete window means (None with fewer than 2)."""


@dataclass(frozen=True)
class VersionServed:
    """One version of the tenant and the live traffic it served in the period."""

    family: str
    number: int
    version_id: UUID
    status: str
    served: int
    """Interactions that name it (``model_version`` / ``prompt_version``)."""
    rewarded: int
    mean_reward: float | None


@dataclass(frozen=True)
class KeyForgetting:
    """Forgetting of one learning key: what the gate measured and what live traffic showed."""

    key: str
    gate_bwt: tuple[float, ...]
    """Backward transfer the gate recorded on the key, one per gated candidate, in order."""
    gate_bwt_passed: tuple[float, ...]
    """The same, for the candidates the gate passed only (what could ship)."""
    live_deltas: tuple[float, ...]
    """Live reward change on the key after each promotion where it was an old key."""
    live_drops: int
    """Promotions after which the key's live reward dropped significantly beyond
    ``-tolerance`` (:meth:`KeyDelta.significant_drop`)."""
    caught: int
    """Rejected candidates whose backward transfer on the key is below ``-tolerance``."""
    forgetting: bool
    """Forgetting that got past the gate: a passed candidate's backward transfer below
    ``-tolerance``, or a significant live drop (forgetting the gate rejected is ``caught``)."""

    @property
    def gate_mean(self) -> float | None:
        """Mean gate backward transfer (None when never measured)."""
        return sum(self.gate_bwt) / len(self.gate_bwt) if self.gate_bwt else None

    @property
    def gate_worst(self) -> float | None:
        """Lowest gate backward transfer."""
        return min(self.gate_bwt) if self.gate_bwt else None

    @property
    def live_mean(self) -> float | None:
        """Mean live change after promotions."""
        return sum(self.live_deltas) / len(self.live_deltas) if self.live_deltas else None

    @property
    def live_worst(self) -> float | None:
        """Lowest live change after a promotion."""
        return min(self.live_deltas) if self.live_deltas else None


@dataclass(frozen=True)
class LearningReport:
    """Everything the learning-effectiveness report of one tenant shows."""

    tenant: str
    title: str
    generated_at: datetime
    since: datetime | None
    interactions: int
    rewarded: int
    first_interaction: datetime | None
    last_interaction: datetime | None
    counts: UpdateCounts
    updates: tuple[UpdateRecord, ...]
    rollbacks: tuple[RollbackRecord, ...]
    average_live_improvement: float | None
    """Mean live improvement over promoted updates that have one."""
    average_gate_improvement: float | None
    """Mean gate delta (candidate - stable) over promoted updates that have one."""
    velocity: Velocity
    stability: Stability
    keys: tuple[KeyReward, ...]
    versions: tuple[VersionServed, ...]
    """Every version of the tenant, oldest first, with the traffic it served (shipped by the
    loop or not: a tenant that deploys without the loop still shows what served)."""
    forgetting: tuple[KeyForgetting, ...]
    feedback_mix: dict[str, int]
    """Feedback counts by kind (signals by ``signal:<name>``)."""
    forgetting_tolerance: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Plain statements of what could not be computed and why."""

    @property
    def promoted_updates(self) -> tuple[UpdateRecord, ...]:
        """The updates that were promoted."""
        return tuple(u for u in self.updates if u.fate == "promoted")

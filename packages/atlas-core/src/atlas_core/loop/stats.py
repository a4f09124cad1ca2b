"""Live comparison of a candidate against the stable version during a rollout.

Each arm accumulates count, sum and sum of squares of its rewards and latencies and its
error count (mergeable, persisted with the rollout state). The comparison is a one-sided
**Welch z-test of degradation beyond a margin** (the normal approximation of Welch's
t-test; it is only run once each arm has the configured minimum sample size, where the
approximation is sound):

- reward: fail when ``mean_c < mean_s - margin`` at level ``alpha``, i.e.
  ``Φ((mean_c - mean_s + margin) / sqrt(var_c/n_c + var_s/n_s)) < alpha``;
- error rate: the same test on the error proportions (variance ``p(1-p)``), failing
  when the candidate's rate is significantly above ``rate_s + margin``;
- latency: failing when the candidate's mean is significantly above
  ``mean_s · (1 + margin)`` (a relative margin).

With zero variance on both arms the test degenerates to comparing the means.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ArmStats", "Comparison", "compare_arms", "degradation_test"]


@dataclass
class ArmStats:
    """Running statistics of one arm's live traffic."""

    n: int = 0
    """Observed requests."""
    errors: int = 0
    """Requests that failed."""
    reward_n: int = 0
    reward_sum: float = 0.0
    reward_sq: float = 0.0
    latency_n: int = 0
    latency_sum: float = 0.0
    latency_sq: float = 0.0

    def add(self, reward: float | None, error: bool, latency_s: float | None) -> None:
        """One observed request."""
        self.n += 1
        self.errors += int(error)
        if reward is not None:
            self.reward_n += 1
            self.reward_sum += reward
            self.reward_sq += reward * reward
        if latency_s is not None:
            self.latency_n += 1
            self.latency_sum += latency_s
            self.latency_sq += latency_s * latency_s

    @staticmethod
    def _moments(n: int, total: float, sq: float) -> tuple[float, float]:
        if n == 0:
            return math.nan, math.nan
        mean = total / n
        var = max(sq / n - mean * mean, 0.0) * n / (n - 1) if n > 1 else 0.0
        return mean, var

    @property
    def reward(self) -> tuple[float, float]:
        """(mean, sample variance) of the rewards (NaN when none)."""
        return self._moments(self.reward_n, self.reward_sum, self.reward_sq)

    @property
    def latency(self) -> tuple[float, float]:
        """(mean, sample variance) of the latencies in seconds (NaN when none)."""
        return self._moments(self.latency_n, self.latency_sum, self.latency_sq)

    @property
    def error_rate(self) -> float:
        """Errors / requests (NaN when none)."""
        return self.errors / self.n if self.n else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArmStats:
        """The inverse of :meth:`to_dict`."""
        return cls(**data)


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def degradation_test(
    n_c: int, mean_c: float, var_c: float, n_s: int, mean_s: float, var_s: float, bound: float
) -> float:
    """p-value of "the candidate's mean is below ``bound``" (small: significantly below).

    One-sided Welch z-test of H0: ``mu_c >= bound``. Returns 0 or 1 when both variances are 0.
    """
    se = math.sqrt(var_c / n_c + var_s / n_s)
    if se == 0.0:
        return 0.0 if mean_c < bound else 1.0
    return _phi((mean_c - bound) / se)


@dataclass(frozen=True)
class Comparison:
    """The analysis of one rollout step."""

    ready: bool
    """Both arms reached the minimum sample size."""
    failures: tuple[str, ...]
    """Significant degradations found (empty: the candidate holds up)."""
    figures: dict[str, float]
    """Means, rates and p-values behind the verdict."""


def compare_arms(
    candidate: ArmStats,
    stable: ArmStats,
    *,
    min_samples: int,
    alpha: float,
    reward_margin: float,
    error_margin: float,
    latency_margin: float,
) -> Comparison:
    """Reward, error rate and latency of ``candidate`` vs ``stable`` (module docstring)."""
    figures: dict[str, float] = {"n.candidate": candidate.n, "n.stable": stable.n}
    if min(candidate.n, stable.n) < min_samples:
        return Comparison(False, (), figures)
    failures: list[str] = []
    ec, es = candidate.error_rate, stable.error_rate
    # Error rate: the "higher is worse" test is the reward test on 1 - rate.
    p = degradation_test(
        candidate.n, 1 - ec, ec * (1 - ec), stable.n, 1 - es, es * (1 - es), 1 - es - error_margin
    )
    figures |= {"error_rate.candidate": ec, "error_rate.stable": es, "error_rate.p": p}
    if p < alpha:
        failures.append(f"error rate {ec:.3f} vs {es:.3f} (p={p:.4f})")
    if min(candidate.reward_n, stable.reward_n) >= min_samples:
        (mc, vc), (ms, vs) = candidate.reward, stable.reward
        p = degradation_test(
            candidate.reward_n, mc, vc, stable.reward_n, ms, vs, ms - reward_margin
        )
        figures |= {"reward.candidate": mc, "reward.stable": ms, "reward.p": p}
        if p < alpha:
            failures.append(f"reward {mc:.3f} vs {ms:.3f} (p={p:.4f})")
    if min(candidate.latency_n, stable.latency_n) >= min_samples:
        (mc, vc), (ms, vs) = candidate.latency, stable.latency
        # Higher is worse: test the negated latencies against -(ms * (1 + margin)).
        p = degradation_test(
            candidate.latency_n, -mc, vc, stable.latency_n, -ms, vs, -ms * (1 + latency_margin)
        )
        figures |= {"latency.candidate": mc, "latency.stable": ms, "latency.p": p}
        if p < alpha:
            failures.append(f"latency {mc * 1000:.1f}ms vs {ms * 1000:.1f}ms (p={p:.4f})")
    return Comparison(True, tuple(failures), figures)

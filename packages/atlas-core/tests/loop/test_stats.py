"""The canary analysis: one-sided Welch z-tests of degradation beyond a margin."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from atlas_core.loop.stats import ArmStats, compare_arms, degradation_test


def _arm(rewards: np.ndarray, errors: np.ndarray, latency: np.ndarray) -> ArmStats:
    arm = ArmStats()
    for r, e, lat in zip(rewards, errors, latency, strict=True):
        arm.add(float(r), bool(e), float(lat))
    return arm


KW = {
    "min_samples": 30,
    "alpha": 0.05,
    "reward_margin": 0.02,
    "error_margin": 0.02,
    "latency_margin": 0.2,
}


def test_moments_match_numpy() -> None:
    rng = np.random.default_rng(0)
    r = rng.random(200)
    arm = _arm(r, np.zeros(200), r)
    mean, var = arm.reward
    assert mean == pytest.approx(r.mean())
    assert var == pytest.approx(r.var(ddof=1))
    assert ArmStats.from_dict(arm.to_dict()) == arm


def test_p_value_matches_welch_for_large_samples() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.5, 0.1, 400), rng.normal(0.52, 0.12, 400)
    p = degradation_test(400, a.mean(), a.var(ddof=1), 400, b.mean(), b.var(ddof=1), b.mean())
    welch = sps.ttest_ind(a, b, equal_var=False, alternative="less").pvalue
    assert p == pytest.approx(welch, abs=2e-3)


def test_not_ready_below_the_minimum_sample_size() -> None:
    bad = _arm(np.zeros(29), np.ones(29), np.ones(29))
    good = _arm(np.ones(29), np.zeros(29), np.ones(29))
    result = compare_arms(bad, good, **KW)  # type: ignore[arg-type]
    assert not result.ready
    assert not result.failures


def test_equal_arms_pass_and_each_degradation_fails() -> None:
    rng = np.random.default_rng(2)
    n = 300

    def arm(p_reward: float, p_error: float, lat: float) -> ArmStats:
        return _arm(
            rng.binomial(1, p_reward, n), rng.binomial(1, p_error, n), rng.normal(lat, 0.01, n)
        )

    stable = arm(0.8, 0.05, 0.1)
    assert compare_arms(arm(0.8, 0.05, 0.1), stable, **KW).failures == ()  # type: ignore[arg-type]
    low = compare_arms(arm(0.5, 0.05, 0.1), stable, **KW)  # type: ignore[arg-type]
    assert len(low.failures) == 1
    assert low.failures[0].startswith("reward")
    errs = compare_arms(arm(0.8, 0.3, 0.1), stable, **KW)  # type: ignore[arg-type]
    assert len(errs.failures) == 1
    assert errs.failures[0].startswith("error rate")
    slow = compare_arms(arm(0.8, 0.05, 0.2), stable, **KW)  # type: ignore[arg-type]
    assert len(slow.failures) == 1
    assert slow.failures[0].startswith("latency")
    # Within the latency margin (10% slower, margin 20%): no failure.
    assert compare_arms(arm(0.8, 0.05, 0.11), stable, **KW).failures == ()  # type: ignore[arg-type]

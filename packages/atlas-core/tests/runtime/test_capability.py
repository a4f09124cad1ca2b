"""The capability estimate from recorded rewards, and the lane rule."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas_core.kernels import RewardAggregator
from atlas_core.runtime import Capability, CapabilityEstimator, Lane, choose_lane
from atlas_core.store import Store
from atlas_core.types import Interaction, Reward, utcnow


def _rewarded(
    store: Store, key: str, scores: list[float], tenant: str = "default", age_s: float = 0.0
) -> None:
    interactions = [
        Interaction(
            tenant_id=tenant,
            input=[{"role": "user", "content": "q"}],
            output="a",
            learning_key=key,
            created_at=utcnow() - timedelta(seconds=age_s),
        )
        for _ in scores
    ]
    store.write_interactions(interactions)
    store.write_rewards(
        [
            Reward(tenant_id=tenant, interaction_id=i.id, score=s)
            for i, s in zip(interactions, scores, strict=True)
        ]
    )


def test_window_mean_from_the_store(store: Store) -> None:
    estimator = CapabilityEstimator(store, window=3, use_ema=False, ttl_s=0)
    assert estimator.estimate("k") == Capability("k", 0, None, None)
    _rewarded(store, "k", [0.0, 0.2, 0.4, 1.0])
    _rewarded(store, "other", [0.0])
    _rewarded(store, "k", [1.0], tenant="acme")
    estimate = estimator.estimate("k")
    assert estimate.n == 3
    assert estimate.mean == pytest.approx((0.2 + 0.4 + 1.0) / 3)
    assert estimate.score == estimate.mean


def test_reads_widen_to_older_history_only_when_needed(store: Store) -> None:
    _rewarded(store, "k", [0.0, 0.0], age_s=40 * 86_400)  # beyond every widening step
    _rewarded(store, "k", [0.5], age_s=2 * 86_400)
    _rewarded(store, "k", [1.0, 1.0])
    assert CapabilityEstimator(store, window=2, use_ema=False, ttl_s=0).estimate("k").mean == 1.0
    wider = CapabilityEstimator(store, window=3, use_ema=False, ttl_s=0).estimate("k")
    assert wider.n == 3
    assert wider.mean == pytest.approx(2.5 / 3)
    assert CapabilityEstimator(store, window=9, use_ema=False, ttl_s=0).estimate("k").n == 5
    bounded = CapabilityEstimator(store, window=9, use_ema=False, ttl_s=0, lookback_s=86_400)
    assert bounded.estimate("k").n == 2


def test_unrewarded_interactions_do_not_count(store: Store) -> None:
    store.write_interactions(
        [Interaction(input=[{"role": "user", "content": "q"}], output="a", learning_key="k")]
    )
    assert CapabilityEstimator(store, ttl_s=0).estimate("k").n == 0


def test_ema_is_fed_each_reward_once_across_refreshes(store: Store) -> None:
    estimator = CapabilityEstimator(store, window=50, half_life=3.0, ttl_s=0)
    first, second = [1.0, 1.0, 0.8], [0.0, 0.2]
    _rewarded(store, "k", first)
    estimator.refresh("k")
    estimator.refresh("k")  # nothing new: nothing fed twice
    _rewarded(store, "k", second)
    estimate = estimator.refresh("k")
    reference = RewardAggregator("str", half_life=3.0)
    for score in first + second:
        reference.add("k", score)
    assert estimate.ema == pytest.approx(float(reference.snapshot()["ema"][0]))
    assert estimate.ema is not None
    assert estimate.mean is not None
    assert estimate.ema < estimate.mean  # the EMA leans toward the recent low rewards
    assert estimate.score == estimate.ema


def test_cache_until_ttl_or_invalidate(store: Store) -> None:
    estimator = CapabilityEstimator(store, ttl_s=3600, use_ema=False)
    assert estimator.estimate("k").n == 0
    _rewarded(store, "k", [1.0])
    assert estimator.estimate("k").n == 0  # cached
    estimator.invalidate("k")
    assert estimator.estimate("k").n == 1


def test_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="`window`"):
        CapabilityEstimator(store, window=0)


@pytest.mark.parametrize(
    ("n", "mean", "probe", "lane"),
    [
        (0, None, None, Lane.PAIRED),
        (2, 1.0, None, Lane.PAIRED),  # too little history
        (5, 0.8, None, Lane.AUTO),
        (5, 0.79, None, Lane.PAIRED),
        (5, 0.5, None, Lane.PAIRED),
        (5, 0.49, None, Lane.COACH),
        (5, 0.9, 0.0, Lane.COACH),  # blended 0.45
        (5, 0.6, 1.0, Lane.AUTO),  # blended 0.8
    ],
)
def test_lane_rule(n: int, mean: float | None, probe: float | None, lane: Lane) -> None:
    decision = choose_lane(
        Capability("k", n, mean),
        auto_threshold=0.8,
        coach_threshold=0.5,
        min_history=5,
        probe_confidence=probe,
        probe_weight=0.5,
    )
    assert decision.lane is lane

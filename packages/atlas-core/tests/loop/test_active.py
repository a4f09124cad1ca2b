"""Active learning: the most uncertain responses, within a token-bucket budget."""

from __future__ import annotations

import math

import pytest

from atlas_core.config.models import ActiveLearningConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.loop import FeedbackRequester, ManualClock, TokenBucket


def test_token_bucket_refills_at_its_rate_up_to_capacity() -> None:
    clock = ManualClock()
    bucket = TokenBucket(rate=0.5, capacity=3, clock=clock)
    assert bucket.take(5) == 3
    assert bucket.take(1) == 0
    clock.advance(3)  # 1.5 tokens
    assert bucket.take(5) == 1
    clock.advance(100)
    assert bucket.available == 3


def test_chooses_the_most_uncertain_within_budget() -> None:
    clock = ManualClock()
    req = FeedbackRequester(
        ActiveLearningConfig(requests_per_s=1.0, burst=2, min_uncertainty=0.1), clock
    )
    items = ["a", "b", "c", "d", "e"]
    assert req.choose(items, [0.2, 0.9, 0.05, 0.5, 0.7]) == ["b", "e"]
    assert req.choose(items, [0.2, 0.9, 0.05, 0.5, 0.7]) == []  # budget spent
    clock.advance(1.0)
    assert req.choose(items, [0.2, 0.3, 0.05, 0.5, 0.1]) == ["d"]
    clock.advance(10.0)
    # Below min_uncertainty nobody is asked, budget or not.
    assert req.choose(items, [0.0, 0.01, 0.05, 0.09, 0.0]) == []
    assert req.asked == 3


def test_over_a_long_run_the_rate_holds() -> None:
    clock = ManualClock()
    req = FeedbackRequester(ActiveLearningConfig(requests_per_s=0.1, burst=5), clock)
    asked = 0
    for i in range(1000):  # 1000 s of traffic, 10 responses a second
        asked += len(req.choose(list(range(10)), [((i * 7 + j) % 10) / 10 for j in range(10)]))
        clock.advance(1.0)
    assert 5 + 99 <= asked <= 5 + 100  # burst + rate * time


def test_bad_input_is_named() -> None:
    req = FeedbackRequester()
    with pytest.raises(InvalidArgumentError, match="uncertainty: 1 values for 2 items"):
        req.choose(["a", "b"], [0.1])
    with pytest.raises(InvalidArgumentError, match="NaN"):
        req.choose(["a"], [math.nan])
    with pytest.raises(InvalidArgumentError, match="rate"):
        TokenBucket(0.0, 1)

"""A live drop is forgetting only beyond the tolerance *and* beyond sampling noise."""

from __future__ import annotations

from atlas_core.report import KeyDelta


def test_a_drop_within_noise_is_not_significant() -> None:
    # The demo's case: -0.07 on 100 interactions a side with reward sd ~0.4 (se ~0.057).
    assert not KeyDelta("shift", 100, 0.519, 0.449, se=0.057).significant_drop(0.05)
    # The same drop measured precisely is.
    assert KeyDelta("shift", 100, 0.519, 0.449, se=0.01).significant_drop(0.05)
    # A drop within the tolerance never is, however precise.
    assert not KeyDelta("shift", 100, 0.519, 0.489, se=0.001).significant_drop(0.05)
    # No variance: the plain comparison with the tolerance.
    assert KeyDelta("k", 10, 0.7, 0.6).significant_drop(0.05)
    assert not KeyDelta("k", 10, 0.7, 0.66).significant_drop(0.05)

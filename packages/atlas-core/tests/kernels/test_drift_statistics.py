"""Statistical behaviour of the drift detectors, on fixed seeds (100 streams per case).

Detection: a stream of 5,000 pre-change values then 5,000 post-change values; the delay is the
first detection at or after position 5,000 minus 5,000. False alarms: 100 stationary streams
of 10,000 values; the rate is the fraction of streams with at least one detection.

Measured (numpy ``default_rng(seed)``, seeds 0..99 for shifts, 10_000..10_099 for stationary):

stream (shift at 5,000)   detector                                 found    delay med/max  false al.
N(0.7,0.1) -> N(0.5,0.1)  ADWIN()                                  100/100  55 / 87        0/100
N(0.7,0.1) -> N(0.5,0.1)  PageHinkley(direction="decrease")        100/100  258 / 286      0/100
N(0.7,0.1) -> N(0.5,0.1)  PageHinkley() (both directions)          100/100  258 / 286      0/100
Bern(0.8) -> Bern(0.5)    ADWIN()                                  100/100  87 / 183       0/100
Bern(0.8) -> Bern(0.5)    PageHinkley(0.01, 75, direction="decr.") 100/100  224 / 355      0/100
Bern(0.8) -> Bern(0.5)    PageHinkley() defaults (0.005, 50, both) 100/100  123 / 260      23/100

So the Page–Hinkley defaults (δ = 0.005, λ = 50, as in River) suit rewards with a small spread;
for 0/1 rewards raise δ or λ (the table's δ = 0.01, λ = 75 row). The bounds asserted below are
the measured figures with a margin, so that a regression (slower detection, more false alarms)
fails while a last-bit change of floating-point rounding does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from atlas_core.kernels.drift import ADWIN, Detector, PageHinkley

SHIFT_AT = 5_000
STREAMS = 100


def gaussian(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    return np.clip(rng.normal(mean, 0.1, n), 0.0, 1.0)


def bernoulli(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    return (rng.random(n) < p).astype(np.float64)


Stream = Callable[[np.random.Generator, int, float], np.ndarray]


@dataclass
class Measured:
    detected: int
    median_delay: float
    max_delay: int
    false_alarm_streams: int


def measure(make: Callable[[], Detector], stream: Stream, before: float, after: float) -> Measured:
    delays = []
    for seed in range(STREAMS):
        rng = np.random.default_rng(seed)
        xs = np.r_[stream(rng, SHIFT_AT, before), stream(rng, SHIFT_AT, after)]
        fired = make().update_batch(xs)
        post = fired[fired >= SHIFT_AT]
        if len(post):
            delays.append(int(post[0]) - SHIFT_AT)
    alarms = 0
    for seed in range(10_000, 10_000 + STREAMS):
        quiet = stream(np.random.default_rng(seed), 2 * SHIFT_AT, before)
        alarms += len(make().update_batch(quiet)) > 0
    return Measured(
        detected=len(delays),
        median_delay=float(np.median(delays)) if delays else float("nan"),
        max_delay=max(delays, default=-1),
        false_alarm_streams=alarms,
    )


CASES = [
    # (id, detector, stream, before, after, max delay bound, false-alarm streams bound)
    ("adwin-gaussian", ADWIN, gaussian, 0.7, 0.5, 120, 2),
    ("ph-gaussian", lambda: PageHinkley(direction="decrease"), gaussian, 0.7, 0.5, 330, 2),
    ("ph-both-gaussian", PageHinkley, gaussian, 0.7, 0.5, 330, 2),
    ("adwin-bernoulli", ADWIN, bernoulli, 0.8, 0.5, 250, 2),
    (
        "ph-bernoulli",
        lambda: PageHinkley(0.01, 75.0, direction="decrease"),
        bernoulli,
        0.8,
        0.5,
        420,
        2,
    ),
]


@pytest.mark.parametrize(
    ("make", "stream", "before", "after", "max_delay", "max_alarms"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_detects_shift_quickly_and_stays_quiet(
    make: Callable[[], Detector],
    stream: Stream,
    before: float,
    after: float,
    max_delay: int,
    max_alarms: int,
) -> None:
    m = measure(make, stream, before, after)
    print(m)
    assert m.detected == STREAMS, m
    assert m.max_delay <= max_delay, m
    assert m.false_alarm_streams <= max_alarms, m


def test_page_hinkley_defaults_are_too_eager_for_binary_rewards() -> None:
    """Documents the measured false-alarm rate of the defaults on 0/1 rewards (23/100)."""
    m = measure(PageHinkley, bernoulli, 0.8, 0.5)
    print(m)
    assert 12 <= m.false_alarm_streams <= 35, m

"""ADWIN and Page–Hinkley against short pure-Python references of the same algorithms,
plus the API: counters, estimates, reset, save/restore and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.reference.drift import RefAdwin, RefPageHinkley

from atlas_core.errors import InvalidArgumentError, StateError
from atlas_core.kernels.drift import ADWIN, PageHinkley, first_detection


def fired(ref: RefAdwin | RefPageHinkley, xs: np.ndarray) -> list[int]:
    return [i for i, x in enumerate(xs.tolist()) if ref.update(x)]


def shifted(seed: int, n: int = 1500, before: float = 0.8, after: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.r_[rng.random(n) < before, rng.random(n) < after].astype(np.float64)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    delta=st.sampled_from([0.002, 0.01, 0.1]),
    clock=st.integers(1, 40),
    max_buckets=st.integers(2, 8),
    min_window=st.integers(1, 20),
    shift=st.floats(-0.5, 0.5),
)
def test_adwin_matches_reference(
    seed: int, delta: float, clock: int, max_buckets: int, min_window: int, shift: float
) -> None:
    rng = np.random.default_rng(seed)
    xs = np.r_[rng.normal(0.5, 0.2, 800), rng.normal(0.5 + shift, 0.2, 800)]
    native = ADWIN(delta, clock=clock, max_buckets=max_buckets, min_window=min_window)
    ref = RefAdwin(delta, clock, max_buckets, min_window)
    assert native.update_batch(xs).tolist() == fired(ref, xs)
    assert native.width == ref.width
    assert native.mean == pytest.approx(ref.total / ref.width, rel=1e-12)
    assert native.n_buckets == sum(len(r) for r in ref.rows)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    delta=st.floats(0.0, 0.05),
    threshold=st.floats(1.0, 60.0),
    alpha=st.sampled_from([1.0, 0.9999, 0.99]),
    min_instances=st.integers(1, 50),
    direction=st.sampled_from(["increase", "decrease", "both"]),
)
def test_page_hinkley_matches_reference(
    seed: int, delta: float, threshold: float, alpha: float, min_instances: int, direction: str
) -> None:
    xs = shifted(seed, 700, 0.7, 0.3)[::-1].copy() if seed % 2 else shifted(seed, 700, 0.7, 0.3)
    native = PageHinkley(
        delta, threshold, alpha=alpha, min_instances=min_instances, direction=direction
    )
    ref = RefPageHinkley(delta, threshold, alpha, min_instances, direction)
    assert native.update_batch(xs).tolist() == fired(ref, xs)
    assert native.n_since_reset == ref.n


def test_single_updates_equal_batch() -> None:
    xs = shifted(3)
    for make in (ADWIN, lambda: PageHinkley(direction="decrease")):
        one, batch = make(), make()
        singles = [i for i, x in enumerate(xs) if one.update(float(x))]
        assert singles == batch.update_batch(xs).tolist()
        assert singles, "the shift must be detected"
        assert one.n_detections == batch.n_detections == len(singles)
        assert one.n_seen == batch.n_seen == len(xs)


def test_adwin_estimates_and_reset() -> None:
    adwin = ADWIN()
    xs = shifted(1)
    positions = adwin.update_batch(xs)
    assert len(positions) >= 1
    assert positions[0] >= 1500
    # The cut dropped (nearly) all pre-change values: the window is about the post-change tail.
    assert adwin.width <= len(xs) - positions[0] + 100
    assert abs(adwin.mean - 0.4) < 0.08
    assert 0.0 < adwin.variance < 0.3
    assert (adwin.delta, adwin.clock, adwin.max_buckets, adwin.min_window) == (0.002, 32, 5, 5)
    adwin.reset()
    assert (adwin.width, adwin.n_seen, adwin.n_detections) == (0, 0, 0)
    assert math.isnan(adwin.mean)


def test_page_hinkley_direction_and_estimates() -> None:
    xs = shifted(2)
    down = PageHinkley(direction="decrease")
    up = PageHinkley(direction="increase")
    assert first_detection(down, xs) is not None
    assert down.last_direction == "decrease"
    assert first_detection(up, xs) is None
    assert up.last_direction is None
    assert up.mean == pytest.approx(xs.mean(), abs=1e-9)  # never restarted
    # An error rate rising is what "increase" watches for.
    errors = shifted(4, before=0.05, after=0.3)
    rising = PageHinkley(direction="increase")
    at = first_detection(rising, errors)
    assert at is not None
    assert at >= 1500
    assert rising.last_direction == "increase"
    assert (rising.delta, rising.threshold, rising.alpha, rising.min_instances) == (
        0.005,
        50.0,
        0.9999,
        30,
    )


@pytest.mark.parametrize("make", [ADWIN, PageHinkley])
def test_state_round_trip_continues_identically(make: type[ADWIN] | type[PageHinkley]) -> None:
    xs = shifted(5)
    original = make()
    original.update_batch(xs[:1000])
    restored = make()
    restored.load_state(original.save_state())
    assert restored.n_seen == 1000
    assert restored.update_batch(xs[1000:]).tolist() == original.update_batch(xs[1000:]).tolist()
    assert restored.mean == original.mean


def test_state_of_another_kind_is_refused() -> None:
    with pytest.raises(StateError):
        ADWIN().load_state(PageHinkley().save_state())
    with pytest.raises(StateError):
        PageHinkley().load_state(b"not a state")


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: ADWIN(0.0), "delta"),
        (lambda: ADWIN(1.5), "delta"),
        (lambda: ADWIN(clock=0), "clock"),
        (lambda: ADWIN(max_buckets=1), "max_buckets"),
        (lambda: ADWIN(min_window=-3), "min_window"),
        (lambda: PageHinkley(delta=-1.0), "delta"),
        (lambda: PageHinkley(threshold=0.0), "threshold"),
        (lambda: PageHinkley(alpha=1.5), "alpha"),
        (lambda: PageHinkley(min_instances=0), "min_instances"),
        (lambda: PageHinkley(direction="sideways"), "direction"),
    ],
)
def test_bad_parameters_name_the_argument(make: object, name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("make", [ADWIN, PageHinkley])
def test_bad_values(make: type[ADWIN] | type[PageHinkley]) -> None:
    det = make()
    with pytest.raises(InvalidArgumentError, match="`x`"):
        det.update(float("nan"))
    with pytest.raises(InvalidArgumentError, match=r"`xs`.*element 2"):
        det.update_batch(np.array([0.1, 0.2, np.inf]))
    with pytest.raises(InvalidArgumentError, match=r"`xs`.*float64"):
        det.update_batch(np.array([1, 2, 3]))
    with pytest.raises(InvalidArgumentError, match="`xs`"):
        det.update_batch([0.1, 0.2])  # type: ignore[arg-type]
    assert det.n_seen == 0, "a rejected batch feeds nothing"
    # Non-contiguous views are accepted (copied).
    assert det.update_batch(np.zeros(20)[::2]).dtype == np.int64
    assert det.n_seen == 10

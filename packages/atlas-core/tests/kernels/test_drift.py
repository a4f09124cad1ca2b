"""ADWIN and Page–Hinkley against short pure-Python references of the same algorithms,
plus the API: counters, estimates, reset, save/restore and bad input."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_core.errors import InvalidArgumentError, StateError
from atlas_core.kernels.drift import ADWIN, PageHinkley, first_detection


class RefPageHinkley:
    """Page–Hinkley with forgetting, restarted after each detection (mirrors the kernel)."""

    def __init__(
        self, delta: float, threshold: float, alpha: float, min_instances: int, direction: str
    ) -> None:
        self.delta, self.threshold, self.alpha = delta, threshold, alpha
        self.min_instances, self.direction = min_instances, direction
        self.restart()

    def restart(self) -> None:
        self.n, self.mean = 0, 0.0
        self.up = self.up_min = self.down = self.down_min = 0.0

    def update(self, x: float) -> bool:
        self.n += 1
        self.mean += (x - self.mean) / self.n
        self.up = self.alpha * self.up + (x - self.mean - self.delta)
        self.up_min = min(self.up_min, self.up)
        self.down = self.alpha * self.down + (self.mean - x - self.delta)
        self.down_min = min(self.down_min, self.down)
        if self.n < self.min_instances:
            return False
        rose = self.direction != "decrease" and self.up - self.up_min > self.threshold
        fell = self.direction != "increase" and self.down - self.down_min > self.threshold
        if rose or fell:
            self.restart()
        return rose or fell


class RefAdwin:
    """ADWIN2 over an exponential histogram of (sum, squared deviations) buckets."""

    def __init__(self, delta: float, clock: int, max_buckets: int, min_window: int) -> None:
        self.delta, self.clock, self.max_buckets, self.min_window = (
            delta,
            clock,
            max_buckets,
            min_window,
        )
        self.rows: list[deque[tuple[float, float]]] = []  # row i: buckets of 2**i, newest left
        self.width, self.total, self.m2, self.seen = 0, 0.0, 0.0, 0

    def update(self, x: float) -> bool:
        self.seen += 1
        if self.width:
            w = float(self.width)
            d = x - self.total / w
            self.m2 += d * d * w / (w + 1.0)
        self.width += 1
        self.total += x
        if not self.rows:
            self.rows.append(deque())
        self.rows[0].appendleft((x, 0.0))
        row = 0
        while row < len(self.rows) and len(self.rows[row]) > self.max_buckets:
            older, newer = self.rows[row].pop(), self.rows[row].pop()
            half = float(1 << row)
            d = older[0] / half - newer[0] / half
            if row + 1 == len(self.rows):
                self.rows.append(deque())
            self.rows[row + 1].appendleft(
                (older[0] + newer[0], older[1] + newer[1] + d * d * half / 2.0)
            )
            row += 1
        if self.seen % self.clock or self.width < 2 * self.min_window:
            return False
        shrank = False
        while self.width >= 2 * self.min_window and self.has_cut():
            self.drop_oldest()
            shrank = True
        return shrank

    def has_cut(self) -> bool:
        w = float(self.width)
        ln_term = math.log(2.0 * math.log(w) / self.delta)
        var = max(self.m2 / w, 0.0)
        n0, s0 = 0, 0.0
        for row in range(len(self.rows) - 1, -1, -1):
            for total, _ in reversed(self.rows[row]):
                n0 += 1 << row
                s0 += total
                n1 = self.width - n0
                if n1 < self.min_window:
                    return False
                if n0 < self.min_window:
                    continue
                m = 1.0 / (1.0 / n0 + 1.0 / n1)
                eps = math.sqrt(2.0 / m * var * ln_term) + 2.0 / (3.0 * m) * ln_term
                if abs(s0 / n0 - (self.total - s0) / n1) > eps:
                    return True
        return False

    def drop_oldest(self) -> None:
        top = len(self.rows) - 1
        total, m2 = self.rows[top].pop()
        size, rest = 1 << top, self.width - (1 << top)
        if rest == 0:
            self.total = self.m2 = 0.0
        else:
            rest_total = self.total - total
            d = total / size - rest_total / rest
            self.m2 = max(self.m2 - m2 - d * d * size * rest / (size + rest), 0.0)
            self.total = rest_total
        self.width = rest
        while self.rows and not self.rows[-1]:
            self.rows.pop()


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

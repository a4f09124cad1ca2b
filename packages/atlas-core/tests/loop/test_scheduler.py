"""The scheduler: each trigger, each guard, a LearningRun for every decision, restarts."""

from __future__ import annotations

import numpy as np
import pytest

from atlas_core.config.models import SchedulerConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.loop import ManualClock, Scheduler
from atlas_core.store import Store, open_store


def _sched(store: Store, clock: ManualClock, **cfg: object) -> Scheduler:
    base: dict[str, object] = {
        "min_samples": 10,
        "max_interval_s": None,
        "min_interval_s": 0.0,
        "drift_detector": "none",
    }
    return Scheduler(
        store, "default", SchedulerConfig(**(base | cfg)), learner="lookup", clock=clock
    )


def test_sample_count_fires_at_the_threshold_and_skips_are_recorded(
    store: Store, clock: ManualClock
) -> None:
    s = _sched(store, clock)
    for _ in range(9):
        s.observe("a", 0.5)
    d = s.check()
    assert not d.fire
    assert d.trigger == "none"
    assert "9/10 new samples" in d.reason
    s.observe("b", 0.5)
    d = s.check()
    assert d.fire
    assert d.trigger == "sample_count"
    assert d.learning_keys == ("a", "b")
    assert s.new_samples == 0
    assert s.last_update_at == clock.now()
    runs = store.learning_runs("default")
    # The skip is recorded by the scheduler; the fired decision is for the caller to record.
    assert [r.outcome for r in runs] == ["skipped"]
    assert runs[0].trigger == "none"
    assert "9/10" in runs[0].reason
    assert runs[0].learner == "lookup"


def test_unrewarded_observations_do_not_count(store: Store, clock: ManualClock) -> None:
    s = _sched(store, clock, min_samples=3)
    for _ in range(5):
        s.observe("a", None)
    assert not s.check().fire


def test_time_trigger_needs_the_interval_and_a_sample(store: Store, clock: ManualClock) -> None:
    s = _sched(store, clock, max_interval_s=600.0)
    clock.advance(700)
    assert not s.check().fire  # nothing new to learn from
    s.observe("a", 0.9)
    clock.advance(10)
    d = s.check()
    assert d.fire
    assert d.trigger == "time"
    assert "710s since the last update" in d.reason


def _drifting(rng: np.random.Generator) -> np.ndarray:
    return np.concatenate([rng.binomial(1, 0.9, 400), rng.binomial(1, 0.2, 400)]).astype(float)


def test_drift_on_a_reward_drop_fires_with_the_drifted_key_first(
    store: Store, clock: ManualClock
) -> None:
    s = _sched(store, clock, min_samples=10_000, drift_detector="adwin", min_drift_samples=20)
    rng = np.random.default_rng(1)
    fired_at = None
    for i, r in enumerate(_drifting(rng)):
        s.observe("old", 0.8)
        s.observe("shifted", float(r))
        if i % 10 == 9:
            d = s.check()
            if d.fire:
                fired_at = i
                break
    assert fired_at is not None
    assert 400 < fired_at < 600
    assert d.trigger == "drift"
    assert d.learning_keys[0] == "shifted"
    assert "reward drop detected by adwin on shifted" in d.reason


def test_page_hinkley_fires_on_a_drop_but_not_on_a_rise(store: Store, clock: ManualClock) -> None:
    s = _sched(store, clock, min_samples=10_000, drift_detector="page_hinkley", ph_threshold=20.0)
    rng = np.random.default_rng(2)
    rising = np.concatenate([rng.binomial(1, 0.2, 300), rng.binomial(1, 0.9, 300)])
    for r in rising:
        s.observe("k", float(r))
    assert not s.check().fire
    for r in rng.binomial(1, 0.1, 300):
        s.observe("k", float(r))
    d = s.check()
    assert d.fire
    assert d.trigger == "drift"


def test_adwin_does_not_fire_on_a_stationary_stream(store: Store, clock: ManualClock) -> None:
    s = _sched(store, clock, min_samples=10_000, drift_detector="adwin")
    rng = np.random.default_rng(3)
    for r in rng.binomial(1, 0.8, 2000):
        s.observe("k", float(r))
    assert not s.check().fire


def test_error_rate_fires_once_the_window_is_full(store: Store, clock: ManualClock) -> None:
    s = _sched(store, clock, min_samples=10_000, error_window=20, error_rate_threshold=0.25)
    for i in range(19):
        s.observe("k", 0.5, error=i % 2 == 0)
    assert not s.check().fire  # window not full yet
    s.observe("k", 0.5, error=True)
    d = s.check()
    assert d.fire
    assert d.trigger == "error_rate"
    assert "error rate 0.550" in d.reason


def test_min_interval_holds_back_and_is_recorded(store: Store, clock: ManualClock) -> None:
    s = _sched(store, clock, min_samples=1, min_interval_s=300.0)
    s.observe("a", 0.1)
    assert s.check().fire
    clock.advance(100)
    s.observe("a", 0.1)
    d = s.check()
    assert not d.fire
    assert d.trigger == "sample_count"
    assert "held back: 100s since the last update < min interval 300s" in d.reason
    clock.advance(200)
    assert s.check().fire
    skipped = [r for r in store.learning_runs("default") if r.outcome == "skipped"]
    assert len(skipped) == 1
    assert "min interval" in skipped[0].reason


def test_max_rate_per_window(store: Store, clock: ManualClock) -> None:
    s = _sched(store, clock, min_samples=1, max_updates_per_window=2, rate_window_s=1000.0)
    fired = []
    for _ in range(5):
        s.observe("a", 0.1)
        fired.append(s.check().fire)
        clock.advance(100)
    assert fired == [True, True, False, False, False]
    clock.advance(1000)
    assert s.check().fire
    assert "2 updates in the last 1000s = max 2" in store.learning_runs("default")[-1].reason


def test_a_reward_outside_0_1_is_refused(store: Store, clock: ManualClock) -> None:
    s = _sched(store, clock)
    for bad in (float("nan"), 1.5, -0.1):
        with pytest.raises(InvalidArgumentError, match="reward: must be in"):
            s.observe("a", bad)
    assert s.new_samples == 0


def test_force_and_hold(store: Store, clock: ManualClock) -> None:
    s = _sched(store, clock, min_samples=1)
    s.observe("a", 0.5)
    d = s.check(hold="rollout in flight")
    assert not d.fire
    assert "held back: rollout in flight" in d.reason
    d = s.check(force=True)
    assert d.fire
    assert d.trigger == "manual"


def test_state_survives_a_restart(db_url: str, clock: ManualClock) -> None:
    with open_store(db_url) as store:
        s = _sched(store, clock, min_samples=10, drift_detector="adwin")
        for _ in range(7):
            s.observe("a", 0.9)
        assert not s.check().fire
    with open_store(db_url) as store:
        again = _sched(store, clock, min_samples=10, drift_detector="adwin")
        assert again.new_samples == 7
        for _ in range(3):
            again.observe("a", 0.9)
        assert again.check().fire

"""The scheduler: decides when the loop learns, and records every decision.

Triggers, checked in this order (the first that holds names the decision):

- ``drift``: the native drift detector of a learning key (ADWIN, or Page–Hinkley watching
  for a decrease) fired on its reward stream with the mean going *down*, and that key has
  at least ``min_drift_samples`` samples since the detection to learn from;
- ``error_rate``: the share of errors over the last ``error_window`` interactions exceeds
  ``error_rate_threshold`` (measured once the window is full);
- ``sample_count``: ``min_samples`` new rewarded samples since the last update;
- ``time``: ``max_interval_s`` passed since the last update (or the start) and at least one
  new sample arrived.

Guards then hold a wanted update back: ``min_interval_s`` since the last fired update and
at most ``max_updates_per_window`` fired updates per ``rate_window_s``. A skipped check is
recorded by :meth:`Scheduler.check` as a LearningRun with outcome ``skipped`` and its
reason; a fired one is returned for the caller to run and record (with what the learner
made of it: one LearningRun per decision). The scheduler's state (counters, detector
states, guard times) is kept in the store's key-value entries at every check, so a restart
continues where it was (observations since the last check are lost, by design: no write
per observation).
"""

from __future__ import annotations

import base64
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from atlas_core.config.models import SchedulerConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.drift import ADWIN, PageHinkley
from atlas_core.loop.clock import Clock, SystemClock
from atlas_core.store import Store
from atlas_core.types import LearningRun, from_ns

__all__ = ["Decision", "Scheduler"]

NAMESPACE = "loop.scheduler"


@dataclass(frozen=True)
class Decision:
    """One check of the scheduler: whether to learn now, and why."""

    fire: bool
    """Learn now."""
    trigger: str
    """sample_count, time, drift, error_rate, manual, or none."""
    reason: str
    """Why, in words (with the figures)."""
    learning_keys: tuple[str, ...]
    """The keys with new samples (for drift: the drifted keys first)."""
    at: float
    """When it was decided, Unix seconds."""
    samples: int = 0
    """New samples since the last update."""

    def to_run(self, learner: str, tenant: str, outcome: str, **fields: Any) -> LearningRun:
        """The LearningRun recording this decision with ``outcome`` (and any other fields)."""
        return LearningRun(
            tenant_id=tenant,
            learning_key=self.learning_keys[0] if len(self.learning_keys) == 1 else None,
            trigger=self.trigger,
            reason=self.reason,
            learner=learner,
            outcome=outcome,
            created_at=from_ns(int(self.at * 1e9)),
            **fields,
        )


@dataclass
class _KeyState:
    samples: int = 0
    samples_since_drift: int = 0
    drifted: bool = False
    detector: bytes | None = None


@dataclass
class _State:
    started_at: float
    last_update_at: float | None = None
    update_times: list[float] = field(default_factory=list)
    errors: list[int] = field(default_factory=list)
    keys: dict[str, _KeyState] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "started_at": self.started_at,
                "last_update_at": self.last_update_at,
                "update_times": self.update_times,
                "errors": self.errors,
                "keys": {
                    k: {
                        "samples": s.samples,
                        "samples_since_drift": s.samples_since_drift,
                        "drifted": s.drifted,
                        "detector": base64.b64encode(s.detector).decode() if s.detector else None,
                    }
                    for k, s in self.keys.items()
                },
            }
        )

    @classmethod
    def from_json(cls, text: str) -> _State:
        data = json.loads(text)
        keys = {
            k: _KeyState(
                samples=v["samples"],
                samples_since_drift=v["samples_since_drift"],
                drifted=v["drifted"],
                detector=base64.b64decode(v["detector"]) if v["detector"] else None,
            )
            for k, v in data["keys"].items()
        }
        return cls(
            started_at=data["started_at"],
            last_update_at=data["last_update_at"],
            update_times=list(data["update_times"]),
            errors=list(data["errors"]),
            keys=keys,
        )


class Scheduler:
    """Watches rewards and errors per learning key and decides when to learn.

    ``observe`` is cheap (in memory); ``check`` decides, records skipped decisions and
    persists the state under the tenant's ``loop.scheduler`` key-value namespace
    (``scope`` names the state, so several loops of one tenant keep separate ones).
    """

    def __init__(
        self,
        store: Store,
        tenant: str,
        config: SchedulerConfig,
        *,
        learner: str,
        clock: Clock | None = None,
        scope: str = "default",
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.config = config
        self.learner = learner
        self.clock = clock or SystemClock()
        self._key = f"{scope}.state"
        saved = store.kv_get(tenant, NAMESPACE, [self._key]).get(self._key)
        self._state = _State.from_json(saved) if saved else _State(started_at=self.clock.now())
        self._errors: deque[int] = deque(self._state.errors, maxlen=config.error_window)
        self._detectors: dict[str, ADWIN | PageHinkley] = {}
        for key, ks in self._state.keys.items():
            detector = self._new_detector()
            if detector is not None and ks.detector:
                detector.load_state(ks.detector)
            if detector is not None:
                self._detectors[key] = detector

    # -- observations ------------------------------------------------------------------
    def observe(self, learning_key: str, reward: float | None = None, error: bool = False) -> None:
        """One served interaction: its reward (None if not yet rewarded) and whether it erred."""
        if reward is not None and not 0.0 <= reward <= 1.0:  # NaN fails this too
            raise InvalidArgumentError(f"reward: must be in [0, 1], got {reward}")
        self._errors.append(int(error))
        if reward is None:
            return
        ks = self._state.keys.setdefault(learning_key, _KeyState())
        ks.samples += 1
        ks.samples_since_drift += 1
        detector = self._detectors.get(learning_key)
        if detector is None:
            detector = self._new_detector()
            if detector is None:
                return
            self._detectors[learning_key] = detector
        mean_before = detector.mean
        if detector.update(float(reward)) and (
            isinstance(detector, PageHinkley) or detector.mean < mean_before
        ):
            # ADWIN is direction-agnostic: only a drop in reward is a reason to learn.
            ks.drifted = True
            ks.samples_since_drift = 0

    def _new_detector(self) -> ADWIN | PageHinkley | None:
        c = self.config
        if c.drift_detector == "adwin":
            return ADWIN(c.drift_delta)
        if c.drift_detector == "page_hinkley":
            return PageHinkley(c.ph_delta, c.ph_threshold, direction="decrease")
        return None

    @property
    def new_samples(self) -> int:
        """Rewarded samples since the last fired update."""
        return sum(ks.samples for ks in self._state.keys.values())

    @property
    def last_update_at(self) -> float | None:
        """When the last update fired (Unix seconds), or None."""
        return self._state.last_update_at

    # -- decisions ---------------------------------------------------------------------
    def check(self, *, force: bool = False, hold: str | None = None) -> Decision:
        """Decides now; a skip is recorded as a LearningRun, a fire is returned to be run.

        ``force`` fires a ``manual`` update regardless of triggers and guards; ``hold`` is a
        reason from the caller to hold back any update now (e.g. a rollout in flight).
        """
        now = self.clock.now()
        keys = tuple(sorted(k for k, s in self._state.keys.items() if s.samples))
        if force:
            wanted: tuple[str, str, tuple[str, ...]] | None = ("manual", "requested", keys)
        else:
            wanted = self._wanted(now, keys)
        if wanted is None:
            decision = Decision(False, "none", self._idle_reason(now), keys, now, self.new_samples)
        else:
            trigger, reason, fire_keys = wanted
            blocked = hold or (None if force else self._guard(now))
            if blocked:
                decision = Decision(
                    False,
                    trigger,
                    f"{reason}; held back: {blocked}",
                    fire_keys,
                    now,
                    self.new_samples,
                )
            else:
                decision = Decision(True, trigger, reason, fire_keys, now, self.new_samples)
                self._fired(now)
        if not decision.fire:
            self.store.record_run(decision.to_run(self.learner, self.tenant, "skipped"))
        self.save()
        return decision

    def _wanted(self, now: float, keys: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]] | None:
        c = self.config
        drifted = [
            k
            for k, s in sorted(self._state.keys.items())
            if s.drifted and s.samples_since_drift >= c.min_drift_samples
        ]
        if drifted:
            detail = ", ".join(f"{k} (mean now {self._detectors[k].mean:.3f})" for k in drifted)
            rest = tuple(k for k in keys if k not in drifted)
            return (
                "drift",
                f"reward drop detected by {c.drift_detector} on {detail}",
                (
                    *drifted,
                    *rest,
                ),
            )
        if len(self._errors) >= c.error_window:
            rate = sum(self._errors) / len(self._errors)
            if rate > c.error_rate_threshold:
                return (
                    "error_rate",
                    (
                        f"error rate {rate:.3f} over the last {len(self._errors)} interactions "
                        f"> {c.error_rate_threshold}"
                    ),
                    keys,
                )
        n = self.new_samples
        if n >= c.min_samples:
            return "sample_count", f"{n} new samples >= {c.min_samples}", keys
        since = now - (self._state.last_update_at or self._state.started_at)
        if c.max_interval_s is not None and since >= c.max_interval_s and n > 0:
            return "time", f"{since:.0f}s since the last update >= {c.max_interval_s:.0f}s", keys
        return None

    def _idle_reason(self, now: float) -> str:
        c = self.config
        pending = [k for k, s in self._state.keys.items() if s.drifted]
        parts = [f"{self.new_samples}/{c.min_samples} new samples"]
        if pending:
            parts.append(
                f"drift on {', '.join(sorted(pending))} awaits {c.min_drift_samples} samples"
            )
        if self._errors:
            parts.append(f"error rate {sum(self._errors) / len(self._errors):.3f}")
        return "no trigger: " + "; ".join(parts)

    def _guard(self, now: float) -> str | None:
        c = self.config
        last = self._state.last_update_at
        if last is not None and now - last < c.min_interval_s:
            return f"{now - last:.0f}s since the last update < min interval {c.min_interval_s:.0f}s"
        recent = [t for t in self._state.update_times if now - t < c.rate_window_s]
        if len(recent) >= c.max_updates_per_window:
            return (
                f"{len(recent)} updates in the last {c.rate_window_s:.0f}s "
                f"= max {c.max_updates_per_window}"
            )
        return None

    def _fired(self, now: float) -> None:
        # The update counts against the guards whatever the learner then makes of it, so a
        # learner that keeps failing cannot make the loop spin.
        s = self._state
        s.last_update_at = now
        s.update_times = [t for t in s.update_times if now - t < self.config.rate_window_s]
        s.update_times.append(now)
        for ks in s.keys.values():
            ks.samples = 0
            if ks.drifted:
                ks.drifted = False
        self._errors.clear()

    def save(self) -> None:
        """Writes the state to the store (done by every :meth:`check`)."""
        self._state.errors = list(self._errors)
        for key, detector in self._detectors.items():
            self._state.keys.setdefault(key, _KeyState()).detector = detector.save_state()
        self.store.kv_put(self.tenant, NAMESPACE, {self._key: self._state.to_json()})

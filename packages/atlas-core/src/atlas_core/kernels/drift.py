"""Drift detectors over reward or error streams: ADWIN and Page–Hinkley (native).

Both take one value at a time (``update(x) -> bool``: did a change fire at x) or a float64
array (``update_batch(xs)``: the int64 positions where it fired, computed without the GIL),
keep counters (``n_seen``, ``n_detections``) and a current estimate (``mean``; ADWIN's window
``width``), and save their whole state with ``save_state()`` / ``load_state(bytes)``.

- ``ADWIN(delta=0.002, *, clock=32, max_buckets=5, min_window=5)`` (Bifet & Gavaldà 2007):
  keeps an adaptive window as an exponential histogram; every ``clock`` values it drops the
  window's older part while some split's sub-window means differ by more than the
  Hoeffding/Bernstein bound at confidence ``delta``. Direction-agnostic.
- ``PageHinkley(delta=0.005, threshold=50.0, *, alpha=0.9999, min_instances=30,
  direction="both")``: ``"decrease"`` watches rewards dropping, ``"increase"`` an error rate
  rising; after a detection the test restarts from the next value.

Measured behaviour (``tests/kernels/test_drift_statistics.py``): see that module's docstring.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from atlas_core._native import ADWIN, PageHinkley

__all__ = ["ADWIN", "Detector", "Direction", "PageHinkley", "first_detection"]

#: What a Page–Hinkley detector watches for.
Direction = Literal["increase", "decrease", "both"]

#: Either detector.
Detector = ADWIN | PageHinkley


def first_detection(detector: Detector, xs: npt.ArrayLike) -> int | None:
    """Feeds ``xs`` (converted to float64) and returns the first position that fired, or None."""
    fired = detector.update_batch(np.ascontiguousarray(xs, dtype=np.float64))
    return int(fired[0]) if len(fired) else None

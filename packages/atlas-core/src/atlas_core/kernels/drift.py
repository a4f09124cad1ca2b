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

Measured on 100 fixed-seed streams per case (``tests/kernels/test_drift_statistics.py``):
a mean shift at position 5,000 is detected in 100/100 streams, with delay (median / max)
ADWIN 55 / 87 and Page–Hinkley (decrease) 258 / 286 for N(0.7, 0.1) → N(0.5, 0.1), and
ADWIN 87 / 183 and Page–Hinkley(0.01, 75, "decrease") 224 / 355 for Bernoulli 0.8 → 0.5.
On stationary streams of 10,000 values none of these raised a false alarm (0/100), but the
Page–Hinkley defaults (δ = 0.005, λ = 50) did on 23/100 Bernoulli(0.8) streams: for 0/1
rewards raise δ or λ.
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

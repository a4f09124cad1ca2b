"""Pure-Python references of the drift detectors, line for line the kernels' algorithms.

Kept short and obvious on purpose: the kernel tests check the native detectors fire at exactly
the positions these do, and the benchmarks time them as the pure-Python baseline.
"""

from __future__ import annotations

import math
from collections import deque


class RefPageHinkley:
    """Page–Hinkley with forgetting, restarted after each detection (mirrors the kernel)."""

    def __init__(
        self,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 0.9999,
        min_instances: int = 30,
        direction: str = "both",
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

    def __init__(
        self, delta: float = 0.002, clock: int = 32, max_buckets: int = 5, min_window: int = 5
    ) -> None:
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

"""The gate: a candidate goes to rollout only if it is better and forgets nothing.

Both the candidate and the stable version are scored by an :class:`Evaluator` on the
held-out examples of this update (never trained on) and on the held-out replay examples of
every learning key (what earlier versions learned). Per learning key, the mean score of
each; overall, the mean of the key means (each key counts the same, so a large new key
cannot hide the loss of a small old one). The candidate passes only if

- its overall score beats the stable one's by more than ``min_improvement``, and
- no learning key with at least ``min_examples_per_key`` examples loses more than
  ``max_key_regression``.

Forgetting is reported as backward transfer per key: the candidate's mean minus the stable
version's on that key's *replay* examples only (negative means forgetting).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from atlas_core.config.models import GateConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.loop.examples import Example
from atlas_core.types import Version

__all__ = ["Evaluator", "Gate", "GateVerdict", "KeyScore"]


@runtime_checkable
class Evaluator(Protocol):
    """Scores a version on examples: one score in [0, 1] per example, higher is better."""

    def score(self, version: Version | None, examples: Sequence[Example]) -> Sequence[float]:
        """Scores of ``version`` (None: the behaviour before any version) on ``examples``."""
        ...


@dataclass(frozen=True)
class KeyScore:
    """One learning key's figures in a gate verdict."""

    n: int
    """Evaluation examples of the key."""
    stable: float
    """The stable version's mean score."""
    candidate: float
    """The candidate's mean score."""
    backward_transfer: float | None
    """Candidate minus stable on the key's replay examples (None: no replay examples)."""

    @property
    def delta(self) -> float:
        """Candidate minus stable (negative: the key regresses)."""
        return self.candidate - self.stable


@dataclass(frozen=True)
class GateVerdict:
    """Whether the candidate passed, why, and every figure behind it."""

    passed: bool
    reasons: tuple[str, ...]
    """Why it failed (empty when it passed)."""
    stable: float
    """Overall (mean of key means) score of the stable version."""
    candidate: float
    """Overall score of the candidate."""
    keys: dict[str, KeyScore]

    @property
    def backward_transfer(self) -> float | None:
        """Mean backward transfer over the keys that have replay examples."""
        values = [
            k.backward_transfer for k in self.keys.values() if k.backward_transfer is not None
        ]
        return float(np.mean(values)) if values else None

    def metrics(self) -> dict[str, float]:
        """The verdict as flat metrics (for Version and LearningRun metrics)."""
        out = {
            "gate.passed": float(self.passed),
            "gate.stable": self.stable,
            "gate.candidate": self.candidate,
        }
        if self.backward_transfer is not None:
            out["gate.bwt"] = self.backward_transfer
        for key, ks in self.keys.items():
            out[f"gate.{key}.n"] = float(ks.n)
            out[f"gate.{key}.stable"] = ks.stable
            out[f"gate.{key}.candidate"] = ks.candidate
            if ks.backward_transfer is not None:
                out[f"gate.{key}.bwt"] = ks.backward_transfer
        return out

    def summary(self) -> str:
        """One line: the verdict and the overall figures."""
        head = "passed" if self.passed else "rejected: " + "; ".join(self.reasons)
        return f"{head} (candidate {self.candidate:.3f} vs stable {self.stable:.3f})"


class Gate:
    """Judges a candidate against the stable version (see the module docstring)."""

    def __init__(self, evaluator: Evaluator, config: GateConfig | None = None) -> None:
        self.evaluator = evaluator
        self.config = config or GateConfig()

    def _scores(self, version: Version | None, examples: Sequence[Example]) -> np.ndarray:
        scores = np.asarray(self.evaluator.score(version, examples), dtype=np.float64)
        if scores.shape != (len(examples),):
            raise InvalidArgumentError(
                f"evaluator: returned {scores.shape[0] if scores.ndim else 'a scalar'} scores "
                f"for {len(examples)} examples"
            )
        if not np.all(np.isfinite(scores)):
            raise InvalidArgumentError("evaluator: returned a NaN or infinite score")
        return scores

    def judge(
        self,
        candidate: Version,
        stable: Version | None,
        held_out: Sequence[Example],
        replay: Sequence[Example],
    ) -> GateVerdict:
        """The verdict on ``candidate`` over ``held_out`` (new) and ``replay`` (old) examples."""
        examples = [*held_out, *replay]
        if not examples:
            return GateVerdict(False, ("no evaluation examples",), 0.0, 0.0, {})
        is_replay = np.array([False] * len(held_out) + [True] * len(replay))
        cand = self._scores(candidate, examples)
        base = self._scores(stable, examples)
        rows: dict[str, list[int]] = defaultdict(list)
        for i, example in enumerate(examples):
            rows[example.learning_key].append(i)
        keys: dict[str, KeyScore] = {}
        for key, idx in sorted(rows.items()):
            ix = np.array(idx)
            old = ix[is_replay[ix]]
            keys[key] = KeyScore(
                n=len(ix),
                stable=float(base[ix].mean()),
                candidate=float(cand[ix].mean()),
                backward_transfer=float(cand[old].mean() - base[old].mean()) if len(old) else None,
            )
        overall_stable = float(np.mean([k.stable for k in keys.values()]))
        overall_cand = float(np.mean([k.candidate for k in keys.values()]))
        c = self.config
        reasons: list[str] = []
        if not overall_cand > overall_stable + c.min_improvement:
            reasons.append(
                f"overall {overall_cand:.3f} does not beat stable {overall_stable:.3f}"
                + (f" by more than {c.min_improvement}" if c.min_improvement else "")
            )
        for key, ks in keys.items():
            if ks.n >= c.min_examples_per_key and -ks.delta > c.max_key_regression:
                reasons.append(
                    f"key {key!r} regresses {ks.stable:.3f} -> {ks.candidate:.3f} "
                    f"(bound {c.max_key_regression})"
                )
        return GateVerdict(not reasons, tuple(reasons), overall_stable, overall_cand, keys)

"""Lanes: how much teacher a call gets, chosen by confidence in the student."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from atlas_core.runtime.capability import Capability

__all__ = ["Lane", "LaneDecision", "choose_lane"]


class Lane(StrEnum):
    """How a call is served."""

    AUTO = "auto"
    """The student alone: its baseline answer is final."""
    PAIRED = "paired"
    """The teacher reviews the baseline; the student may retry once with the feedback."""
    COACH = "coach"
    """The teacher writes guidance adapted to the probe; the student answers with it."""


@dataclass(frozen=True)
class LaneDecision:
    """The lane and what it was chosen from (recorded with the call)."""

    lane: Lane
    confidence: float | None
    """The blended confidence; None with too little history."""
    capability: Capability
    probe_confidence: float | None = None
    reason: str = ""


def choose_lane(
    capability: Capability,
    *,
    auto_threshold: float,
    coach_threshold: float,
    min_history: int,
    probe_confidence: float | None = None,
    probe_weight: float = 0.0,
) -> LaneDecision:
    """``auto`` at or above ``auto_threshold``, ``coach`` below ``coach_threshold``, else
    ``paired``; with fewer than ``min_history`` rewards (or none) always ``paired``. A probe
    model's confidence, when given, is blended in with weight ``probe_weight``."""
    score = capability.score
    if score is None or capability.n < min_history:
        return LaneDecision(
            Lane.PAIRED,
            None,
            capability,
            probe_confidence,
            f"{capability.n} reward(s) in memory, fewer than {min_history}",
        )
    confidence = score
    if probe_confidence is not None and probe_weight > 0:
        confidence = (1 - probe_weight) * score + probe_weight * probe_confidence
    if confidence >= auto_threshold:
        lane, reason = Lane.AUTO, f"confidence {confidence:.3f} >= {auto_threshold}"
    elif confidence < coach_threshold:
        lane, reason = Lane.COACH, f"confidence {confidence:.3f} < {coach_threshold}"
    else:
        lane, reason = (
            Lane.PAIRED,
            f"confidence {confidence:.3f} in [{coach_threshold}, {auto_threshold})",
        )
    return LaneDecision(lane, confidence, capability, probe_confidence, reason)

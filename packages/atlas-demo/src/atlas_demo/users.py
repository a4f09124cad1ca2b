"""Simulated users: noisy feedback on each answer, sent through the SDK.

An honest user knows the right answer and reacts to what it was served, noisily: a rating
(half the time; 4-5 when right, 1-2 when wrong, one in ten inverted), an implicit signal
(``copy`` a right answer, ``retry`` or ``dismiss`` a wrong one, sometimes nothing), and on
a wrong answer sometimes an edit with the right answer. A troll (the poison burst) rates
every answer 1 and "corrects" it to the prompt's word copied back unchanged: a burst of
confident, wrong gold answers.
"""

from __future__ import annotations

import random
import uuid

from atlas_core.sdk import Recorder

__all__ = ["FeedbackPolicy", "give_feedback"]


class FeedbackPolicy:
    """The probabilities of each kind of feedback (defaults: a fairly engaged user base)."""

    def __init__(
        self,
        rate_p: float = 0.5,
        signal_p: float = 0.7,
        edit_p: float = 0.8,
        flip_p: float = 0.1,
    ) -> None:
        self.rate_p = rate_p
        self.signal_p = signal_p
        self.edit_p = edit_p
        self.flip_p = flip_p


def give_feedback(
    recorder: Recorder,
    interaction_id: uuid.UUID,
    *,
    prompt: str,
    answer: str,
    correct_answer: str,
    troll: bool,
    rng: random.Random,
    policy: FeedbackPolicy,
) -> None:
    """Sends one user's feedback on one answer (see the module docstring)."""
    if troll:
        recorder.rate(interaction_id, 1, (1, 5))
        recorder.edit(interaction_id, prompt.partition(":")[2].rstrip(">"))
        return
    right = answer == correct_answer
    seen_right = right if rng.random() >= policy.flip_p else not right
    if rng.random() < policy.rate_p:
        recorder.rate(interaction_id, rng.choice((4, 5)) if seen_right else rng.choice((1, 2)))
    if rng.random() < policy.signal_p:
        if right:
            recorder.signal(interaction_id, "copy")
        else:
            recorder.signal(interaction_id, rng.choice(("retry", "dismiss")))
    if not right and rng.random() < policy.edit_p:
        recorder.edit(interaction_id, correct_answer)

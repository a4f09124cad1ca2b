"""The simulated world: skills, their true answers, and the traffic of each phase.

Two verifiable character-level skills, each a learning key selected by a prompt prefix:
``shift`` (``s:abc>`` -> ``bcd``, every letter one place on) and ``reverse``
(``r:abc>`` -> ``cba``). Words are 2-4 letters. ``reverse`` words use the letters
``a``-``p``; before the drift ``shift`` words use ``a``-``h`` only, and at the drift the
``shift`` traffic moves to ``i``-``p`` (letters the first model never shifted) and takes most
of the traffic: the reward of ``shift`` drops and the model must learn. The poison rounds
add trolls to ``shift`` (see :mod:`atlas_demo.users`). Every arm of the demo gets the very
same request stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from atlas_core.errors import InvalidArgumentError

__all__ = [
    "ALL_LETTERS",
    "NEW_LETTERS",
    "OLD_LETTERS",
    "Phase",
    "Request",
    "Schedule",
    "World",
    "truth",
]

OLD_LETTERS = "abcdefgh"
NEW_LETTERS = "ijklmnop"
ALL_LETTERS = OLD_LETTERS + NEW_LETTERS
PREFIX = {"shift": "s", "reverse": "r"}
_KEY_OF = {p: k for k, p in PREFIX.items()}


def truth(prompt: str) -> str:
    """The correct answer to a prompt ``<prefix>:<word>>``; InvalidArgumentError if malformed."""
    head, _, rest = prompt.partition(":")
    if head not in _KEY_OF or not rest.endswith(">"):
        raise InvalidArgumentError(f"prompt: not '<s|r>:<word>>': {prompt!r}")
    word = rest[:-1]
    if _KEY_OF[head] == "reverse":
        return word[::-1]
    return "".join(chr((ord(c) - 97 + 1) % 26 + 97) for c in word)


def make_prompt(key: str, word: str) -> str:
    """The prompt of ``key`` for ``word``."""
    return f"{PREFIX[key]}:{word}>"


@dataclass(frozen=True)
class Request:
    """One user request."""

    user: str
    key: str
    prompt: str
    troll: bool
    """The user gives poisoned feedback (a wrong 'correction')."""


@dataclass(frozen=True)
class Phase:
    """A stretch of rounds with one traffic mix."""

    name: str
    rounds: int
    shift_share: float
    shift_letters: str
    troll_share: float = 0.0
    """Share of ``shift`` requests from trolls."""


@dataclass(frozen=True)
class Schedule:
    """The demo's phases and round size."""

    phases: tuple[Phase, ...]
    round_size: int

    @classmethod
    def standard(cls, fast: bool) -> Schedule:
        """Before drift, drift, poison burst, after; ``fast`` is the shortened run.

        The full run starts like the fast one (same round size, same first rounds) and then
        gives the drift and the aftermath more rounds.
        """
        if fast:
            return cls(
                (
                    Phase("before drift", 2, 0.5, OLD_LETTERS),
                    Phase("drift", 8, 0.8, NEW_LETTERS),
                    Phase("poison burst", 2, 0.8, NEW_LETTERS, troll_share=0.6),
                    Phase("after", 4, 0.8, NEW_LETTERS),
                ),
                round_size=100,
            )
        return cls(
            (
                Phase("before drift", 2, 0.5, OLD_LETTERS),
                Phase("drift", 12, 0.8, NEW_LETTERS),
                Phase("poison burst", 2, 0.8, NEW_LETTERS, troll_share=0.6),
                Phase("after", 8, 0.8, NEW_LETTERS),
            ),
            round_size=100,
        )

    def rounds(self) -> list[Phase]:
        """The phase of every round, in order."""
        return [p for p in self.phases for _ in range(p.rounds)]


def random_word(rng: random.Random, letters: str) -> str:
    """A 2-4 letter word over ``letters``."""
    return "".join(rng.choice(letters) for _ in range(rng.randint(2, 4)))


class World:
    """Generates each round's requests from a seed (identical for every arm)."""

    def __init__(self, schedule: Schedule, seed: int, users: int = 400) -> None:
        self.schedule = schedule
        self.seed = seed
        self.users = users

    def requests(self, index: int, phase: Phase) -> list[Request]:
        """The requests of round ``index``."""
        rng = random.Random(self.seed * 7919 + index)
        out = []
        for _ in range(self.schedule.round_size):
            user = f"u{rng.randrange(self.users)}"
            if rng.random() < phase.shift_share:
                key, letters = "shift", phase.shift_letters
            else:
                key, letters = "reverse", ALL_LETTERS
            troll = key == "shift" and rng.random() < phase.troll_share
            out.append(Request(user, key, make_prompt(key, random_word(rng, letters)), troll))
        return out


def probe_set(seed: int, n: int = 60) -> dict[str, list[str]]:
    """Fixed evaluation prompts per skill and letter set (never served, never trained on)."""
    rng = random.Random(seed * 104729 + 1)
    return {
        "shift a-h": [make_prompt("shift", random_word(rng, OLD_LETTERS)) for _ in range(n)],
        "shift i-p": [make_prompt("shift", random_word(rng, NEW_LETTERS)) for _ in range(n)],
        "reverse": [make_prompt("reverse", random_word(rng, ALL_LETTERS)) for _ in range(n)],
    }

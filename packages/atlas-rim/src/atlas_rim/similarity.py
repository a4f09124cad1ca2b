"""How much of a response a user kept: the similarity behind edit and label scores.

The measure is the normalized Indel similarity, ``2·LCS(a, b) / (len(a) + len(b))``, where
LCS is the longest common subsequence of characters: exactly the characters of the response
that survive, in order, in the user's correction, relative to both lengths. 1 means the user
kept everything and added nothing; 0 means nothing survived. Two empty texts are identical (1).

Why rapidfuzz: it computes this in C++ with a bit-parallel LCS (O(n·m/64)), so long answers
cost microseconds where difflib's ``SequenceMatcher.ratio`` (a different, greedy measure that is
not a true LCS) costs milliseconds; ``process.cpdist`` scores a whole column of pairs in one
call across threads. It is a maintained, widely used library with wheels for every platform.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import Indel

__all__ = ["kept_fraction", "kept_fractions"]


def kept_fraction(response: str, correction: str) -> float:
    """The similarity of one (response, correction) pair, in [0, 1]."""
    return float(Indel.normalized_similarity(response, correction))


def kept_fractions(responses: Sequence[str], corrections: Sequence[str]) -> npt.NDArray[np.float64]:
    """The similarity of each pair (``responses[i]``, ``corrections[i]``), as float64."""
    if len(responses) != len(corrections):
        raise ValueError(f"{len(responses)} responses but {len(corrections)} corrections")
    if not responses:
        return np.zeros(0, dtype=np.float64)
    out = process.cpdist(
        list(responses),
        list(corrections),
        scorer=Indel.normalized_similarity,
        dtype=np.float64,
        workers=-1,
    )
    return np.asarray(out, dtype=np.float64)

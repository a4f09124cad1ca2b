"""Value-weighted selection: which new examples are worth learning from.

An example's value is ``w_u·uncertainty + w_n·novelty + w_e·error`` where

- ``uncertainty`` is its reward's uncertainty, scaled by the largest in the batch to [0, 1];
- ``novelty`` is ``1 -`` the largest Jaccard similarity between its prompt's word set and
  the prompts the loop already learned from (1 when nothing was learned yet);
- ``error`` is ``1 - reward`` (0.5 when it has a gold answer but no reward).

:func:`select` draws examples with probability proportional to ``value ** alpha`` through
the native prioritized sampler, without replacement (a drawn example's priority is set to 0),
so high-value examples dominate but low-value ones still appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from atlas_core.config.models import SelectionConfig
from atlas_core.kernels.replay import PrioritizedReplay
from atlas_core.loop.examples import Example, prompt_text

__all__ = ["novelty", "select", "value_scores", "word_set"]

_WORD = re.compile(r"\w+")

#: Largest number of already-learned prompts novelty is measured against (cost bound).
NOVELTY_REFERENCE_CAP = 2000


def word_set(text: str) -> frozenset[str]:
    """Lower-cased words of ``text``."""
    return frozenset(_WORD.findall(text.lower()))


def novelty(examples: Sequence[Example], learned: Iterable[Example]) -> npt.NDArray[np.float64]:
    """Per example, 1 - the highest Jaccard similarity to a learned prompt (1 when none).

    Exact, through an inverted index: an example's intersections with every reference are
    one ``bincount`` over the posting lists of its words, so the cost follows the shared
    words, not examples × references.
    """
    reference = [word_set(prompt_text(e)) for e in learned][-NOVELTY_REFERENCE_CAP:]
    out = np.ones(len(examples))
    if not reference:
        return out
    postings: dict[str, list[int]] = {}
    for j, words in enumerate(reference):
        for word in words:
            postings.setdefault(word, []).append(j)
    index = {w: np.asarray(p, dtype=np.intp) for w, p in postings.items()}
    sizes = np.array([len(r) for r in reference], dtype=np.float64)
    for i, example in enumerate(examples):
        words = word_set(prompt_text(example))
        hits = [index[w] for w in words if w in index]
        if not hits:
            continue
        inter = np.bincount(np.concatenate(hits), minlength=len(reference)).astype(np.float64)
        union = len(words) + sizes - inter
        out[i] = 1.0 - float(
            np.max(np.divide(inter, union, out=np.zeros_like(inter), where=union > 0))
        )
    return out


def value_scores(
    examples: Sequence[Example], config: SelectionConfig, learned: Iterable[Example] = ()
) -> npt.NDArray[np.float64]:
    """The value of each example (see the module docstring); non-negative."""
    n = len(examples)
    if n == 0:
        return np.zeros(0)
    unc = np.array([e.uncertainty or 0.0 for e in examples], dtype=np.float64)
    if unc.max() > 0:
        unc = unc / unc.max()
    err = np.array(
        [0.5 if e.reward is None else 1.0 - e.reward for e in examples], dtype=np.float64
    )
    nov = novelty(examples, learned) if config.weight_novelty > 0 else np.zeros(n)
    return config.weight_uncertainty * unc + config.weight_novelty * nov + config.weight_error * err


def select(
    examples: Sequence[Example],
    k: int,
    config: SelectionConfig,
    learned: Iterable[Example] = (),
) -> list[Example]:
    """``k`` distinct examples drawn by value (all of them, by value, when ``k >= len``)."""
    values = value_scores(examples, config, learned)
    if k >= len(examples):
        return [examples[i] for i in np.argsort(-values, kind="stable")]
    sampler = PrioritizedReplay(
        len(examples), alpha=config.priority_alpha, eps=1e-9, seed=config.seed
    )
    slots = sampler.add(np.arange(len(examples), dtype=np.uint64))
    # Every example keeps a little mass, so a batch of zero-value examples is still drawn.
    sampler.update_priorities(slots, values + 1e-6)
    chosen: list[int] = []
    seen: set[int] = set()
    for _ in range(4 * k):
        got_slots, ids, _weights = sampler.sample(min(k - len(chosen), len(examples)))
        fresh = [
            (int(s), int(i)) for s, i in zip(got_slots, ids, strict=True) if int(i) not in seen
        ]
        for _slot, item in fresh:
            if item not in seen and len(chosen) < k:
                seen.add(item)
                chosen.append(item)
        if len(chosen) >= k:
            break
        if fresh:
            sampler.update_priorities(
                np.array([s for s, _ in fresh], dtype=np.uint64), np.zeros(len(fresh))
            )
    if len(chosen) < k:  # only when almost all the mass was drawn: fill by value
        for i in np.argsort(-values, kind="stable"):
            if int(i) not in seen and len(chosen) < k:
                seen.add(int(i))
                chosen.append(int(i))
    return [examples[i] for i in chosen]

"""GEPA's data instances: stored interactions with what users said about them.

A :class:`GepaExample` is one recorded interaction as the optimizer sees it: the task (the
last user message), the answer production gave, its reward, the gold answer if a user gave
one, and the users' ratings, edits and comments (the reflection model reads them). Train and
validation sets are drawn from the Store by learning key (:func:`load_dataset`) and split by
a hash of the interaction id, so an example never moves between the two across runs.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from atlas_core.errors import InvalidArgumentError
from atlas_core.loop.examples import Example, load_examples, prompt_text
from atlas_core.store import Query, Store
from atlas_core.types import FeedbackKind

__all__ = [
    "GepaExample",
    "UserFeedback",
    "from_examples",
    "load_dataset",
    "split",
    "user_feedback",
]


@dataclass(frozen=True)
class UserFeedback:
    """What users said about the production answer of one interaction."""

    ratings: tuple[str, ...] = ()
    """Each rating as ``value on [min, max]`` (with its scale name, if any)."""
    edits: tuple[str, ...] = ()
    """Users' corrected texts."""
    comments: tuple[str, ...] = ()

    def as_text(self) -> str:
        """One paragraph for the reflection model ("" when nobody said anything)."""
        parts = []
        if self.ratings:
            parts.append("ratings: " + "; ".join(self.ratings))
        if self.edits:
            parts.append("a user corrected the answer to: " + " | ".join(self.edits))
        if self.comments:
            parts.append("comments: " + " | ".join(self.comments))
        return "\n".join(parts)


@dataclass(frozen=True)
class GepaExample:
    """One data instance of the optimization (GEPA's ``DataInst``)."""

    id: str
    """The interaction's id (also GEPA's data id in checkpoints)."""
    learning_key: str
    task: str
    """The task the runtime is asked (the last user message)."""
    production_output: str = ""
    """What the served version answered."""
    reward: float | None = None
    reference: str | None = None
    """The gold answer (a ``label``, else a user's ``edit``)."""
    feedback: UserFeedback = field(default_factory=UserFeedback)
    input: list[dict[str, Any]] = field(default_factory=list)
    """The full input messages, as recorded."""


def from_examples(
    examples: Sequence[Example], feedback: dict[str, UserFeedback] | None = None
) -> list[GepaExample]:
    """The loop's :class:`Example` objects as data instances (with ``feedback`` by id)."""
    found = feedback or {}
    out = []
    for example in examples:
        task = prompt_text(example)
        if not task.strip():
            continue  # nothing to ask the runtime
        out.append(
            GepaExample(
                id=str(example.id),
                learning_key=example.learning_key,
                task=task,
                production_output=example.output,
                reward=example.reward,
                reference=example.reference,
                feedback=found.get(str(example.id), UserFeedback()),
                input=list(example.input),
            )
        )
    return out


def user_feedback(
    store: Store, tenant: str, learning_keys: Sequence[str]
) -> dict[str, UserFeedback]:
    """Ratings, edits and comments per interaction id, for the given learning keys."""
    query = Query(
        learning_key=list(learning_keys) or None,
        feedback_kind=[FeedbackKind.RATING, FeedbackKind.EDIT, FeedbackKind.COMMENT],
    )
    frame = store.feedback(tenant, query)
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in frame.iter_rows(named=True):
        key = str(_uuid(row["interaction_id"]))
        kind = row["kind"]
        if kind == FeedbackKind.RATING.value and row["value"] is not None:
            scale = f" on [{row['scale_min']}, {row['scale_max']}]" if row["scale_max"] else ""
            grouped[key]["ratings"].append(f"{row['value']}{scale}")
        elif kind == FeedbackKind.EDIT.value and row["text"]:
            grouped[key]["edits"].append(row["text"])
        elif kind == FeedbackKind.COMMENT.value and row["text"]:
            grouped[key]["comments"].append(row["text"])
    return {
        key: UserFeedback(tuple(g["ratings"]), tuple(g["edits"]), tuple(g["comments"]))
        for key, g in grouped.items()
    }


def _uuid(value: Any) -> Any:
    return UUID(bytes=bytes(value)) if isinstance(value, bytes | bytearray | memoryview) else value


def load_dataset(
    store: Store, tenant: str, learning_keys: Sequence[str], *, limit: int = 500
) -> list[GepaExample]:
    """The most recent ``limit`` interactions of ``learning_keys`` that have a reward or a gold
    answer, oldest first, with their users' feedback."""
    if limit < 1:
        raise InvalidArgumentError(f"invalid argument `limit`: >= 1, got {limit}")
    query = Query(learning_key=list(learning_keys) or None)
    examples = load_examples(store, tenant, query)[-limit:]
    return from_examples(examples, user_feedback(store, tenant, learning_keys))


def _fraction(example_id: str, seed: int) -> float:
    digest = hashlib.blake2b(f"{seed}:{example_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def split(
    examples: Sequence[GepaExample], val_fraction: float, seed: int = 0
) -> tuple[list[GepaExample], list[GepaExample]]:
    """(train, validation) by a hash of each id; both non-empty when there are two examples.

    InvalidArgumentError when there are fewer than two examples or the fraction is not in (0, 1).
    """
    if not 0 < val_fraction < 1:
        raise InvalidArgumentError(
            f"invalid argument `val_fraction`: in (0, 1), got {val_fraction}"
        )
    if len(examples) < 2:
        raise InvalidArgumentError(
            f"dataset: {len(examples)} example(s) with a reward or gold answer; GEPA needs at "
            "least 2 (one to learn from, one to validate on)"
        )
    ranked = sorted(examples, key=lambda e: _fraction(e.id, seed))
    # By hash rank rather than a threshold, so small sets still get both parts.
    n_val = min(len(ranked) - 1, max(1, round(len(ranked) * val_fraction)))
    val_ids = {e.id for e in ranked[:n_val]}
    train = [e for e in examples if e.id not in val_ids]
    val = [e for e in examples if e.id in val_ids]
    return train, val

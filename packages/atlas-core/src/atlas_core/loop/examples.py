"""Training and evaluation examples: what the loop hands learners and evaluators.

An :class:`Example` is one recorded interaction joined with what the loop knows about it:
its latest reward (and that reward's uncertainty) and the latest gold answer a user gave
(a ``label``, else an ``edit``). :func:`load_examples` builds them from a store in a few
columnar reads; examples serialise to JSON so the replay memory can keep them in the
store's key-value entries, independent of interaction retention.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import polars as pl

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Query, Store
from atlas_core.types import FeedbackKind

__all__ = ["Example", "load_examples", "prompt_text"]


@dataclass(frozen=True)
class Example:
    """One interaction as learning data."""

    id: UUID
    """The interaction's id."""
    learning_key: str
    """Its task family."""
    input: list[dict[str, Any]]
    """The input messages (role/content dicts)."""
    output: str
    """What the served version answered."""
    reward: float | None = None
    """Its latest reward in [0, 1], if any."""
    uncertainty: float | None = None
    """That reward's uncertainty (spread), if the reward model gave one."""
    reference: str | None = None
    """The latest gold answer: a ``label``, else the user's ``edit``."""
    created_at: float = 0.0
    """When the interaction happened, Unix seconds."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """The interaction's metadata."""

    def to_json(self) -> str:
        """The example as one JSON object (the id as a string)."""
        data = asdict(self)
        data["id"] = str(self.id)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Example:
        """The inverse of :meth:`to_json`; malformed text raises InvalidArgumentError."""
        try:
            data = json.loads(text)
            data["id"] = UUID(data["id"])
            return cls(**data)
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgumentError(f"example: not a serialised Example ({exc})") from exc


def prompt_text(example: Example) -> str:
    """The content of the last user message (the whole input when there is none)."""
    for message in reversed(example.input):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return " ".join(str(m.get("content", "")) for m in example.input)


def load_examples(
    store: Store, tenant: str, query: Query | None = None, *, rewarded_only: bool = True
) -> list[Example]:
    """The tenant's interactions matching ``query`` as examples, oldest first.

    ``rewarded_only`` keeps only interactions that have a reward or a gold answer (what a
    learner can learn from).
    """
    frame = store.interactions_with_rewards(tenant, query)
    if frame.is_empty():
        return []
    uncertainty = _uncertainties(store, tenant, frame)
    references = _references(store, tenant, frame)
    out: list[Example] = []
    for row in frame.iter_rows(named=True):
        iid = bytes(row["id"])
        reference = references.get(iid)
        if rewarded_only and row["reward"] is None and reference is None:
            continue
        out.append(
            Example(
                id=UUID(bytes=iid),
                learning_key=row["learning_key"],
                input=json.loads(row["input"]),
                output=row["output"],
                reward=row["reward"],
                uncertainty=uncertainty.get(bytes(row["reward_id"])) if row["reward_id"] else None,
                reference=reference,
                created_at=row["created_at"].timestamp(),
                metadata=json.loads(row["metadata"] or "{}"),
            )
        )
    return out


def _uncertainties(store: Store, tenant: str, frame: pl.DataFrame) -> dict[bytes, float]:
    reward_ids: Sequence[bytes] = [bytes(r) for r in frame["reward_id"].drop_nulls().to_list()]
    if not reward_ids:
        return {}
    rewards = store.rewards(tenant, Query(ids=reward_ids))
    return {
        bytes(rid): float(u)
        for rid, u in zip(rewards["id"].to_list(), rewards["uncertainty"].to_list(), strict=True)
        if u is not None
    }


def _references(store: Store, tenant: str, frame: pl.DataFrame) -> dict[bytes, str]:
    since = frame["created_at"].min()
    assert isinstance(since, datetime)
    feedback = store.feedback(
        tenant,
        Query(since=since, feedback_kind=[FeedbackKind.LABEL, FeedbackKind.EDIT]),
    )
    wanted = {bytes(i) for i in frame["id"].to_list()}
    # Oldest first, so a later answer overwrites an earlier one; a label beats any edit.
    edits: dict[bytes, str] = {}
    labels: dict[bytes, str] = {}
    for iid, kind, text in zip(
        feedback["interaction_id"].to_list(),
        feedback["kind"].to_list(),
        feedback["text"].to_list(),
        strict=True,
    ):
        key = bytes(iid)
        if key in wanted and text is not None:
            (labels if kind == FeedbackKind.LABEL.value else edits)[key] = text
    return {**edits, **labels}

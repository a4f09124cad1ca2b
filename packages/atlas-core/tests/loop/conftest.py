"""Shared fixtures of the loop tests: a real SQLite store, a manual clock, a real learner.

The learner learns a lookup table (prompt -> answer) from the gold answers of its examples
and keeps it in the store's key-value entries; the evaluator scores a version by whether
its table answers an example's prompt with the example's gold answer. ``forgetful=True``
learns from the new examples only (no base table, no replay): the naive learner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from atlas_core.loop import (
    Example,
    LearnerResult,
    LearningTask,
    ManualClock,
    prompt_text,
)
from atlas_core.store import Store, open_store
from atlas_core.types import Feedback, FeedbackKind, Interaction, Reward, Version, VersionKind

TABLES = "test.lookup"


def table_of(store: Store, tenant: str, version: Version | None) -> dict[str, str]:
    """The lookup table a version's artifact names (empty for None)."""
    if version is None:
        return {}
    key = version.artifact_uri.removeprefix(f"kv://{TABLES}/")
    return json.loads(store.kv_get(tenant, TABLES, [key])[key])


class LookupLearner:
    """Learns prompt -> gold answer from examples (a real, data-driven learner)."""

    name = "lookup"

    def __init__(self, forgetful: bool = False, fail: bool = False) -> None:
        self.forgetful = forgetful
        self.fail = fail
        self.tasks: list[LearningTask] = []

    def learn(self, task: LearningTask) -> LearnerResult:
        self.tasks.append(task)
        if self.fail:
            raise RuntimeError("out of memory")
        # Replay first, so that where they disagree the newer feedback wins.
        examples = task.train if self.forgetful else [*task.replay, *task.train]
        table = {} if self.forgetful else table_of(task.store, task.tenant, task.base)
        learned = 0
        for e in examples:
            if e.reference is not None:
                table[prompt_text(e)] = e.reference
                learned += 1
        if not learned:
            return LearnerResult.no_change("no gold answers in the batch")
        version = Version(
            tenant_id=task.tenant,
            kind=VersionKind.PROMPT,
            name="agent",
            number=1,
            artifact_uri="",
        )
        version = version.model_copy(update={"artifact_uri": f"kv://{TABLES}/{version.id}"})
        task.store.kv_put(task.tenant, TABLES, {str(version.id): json.dumps(table)})
        return LearnerResult(candidate=version, samples_used=learned, metrics={"table": len(table)})


class LookupEvaluator:
    """Score 1 when a version's table gives the example's gold answer, else 0."""

    def __init__(self, store: Store, tenant: str = "default") -> None:
        self.store = store
        self.tenant = tenant

    def score(self, version: Version | None, examples: Sequence[Example]) -> list[float]:
        table = table_of(self.store, self.tenant, version)
        return [float(table.get(prompt_text(e)) == e.reference) for e in examples]


def record(
    store: Store,
    key: str,
    prompts: Sequence[str],
    answer: Any,
    *,
    reward: float = 0.5,
    tenant: str = "default",
) -> list[Interaction]:
    """Stores one interaction per prompt with a reward and a gold label ``answer(prompt)``."""
    interactions = [
        Interaction(
            tenant_id=tenant,
            learning_key=key,
            input=[{"role": "user", "content": p}],
            output="?",
        )
        for p in prompts
    ]
    store.write_interactions(interactions)
    store.write_rewards(
        [Reward(tenant_id=tenant, interaction_id=i.id, score=reward) for i in interactions]
    )
    store.write_feedback(
        [
            Feedback(
                tenant_id=tenant,
                interaction_id=i.id,
                kind=FeedbackKind.LABEL,
                text=answer(p),
            )
            for i, p in zip(interactions, prompts, strict=True)
        ]
    )
    return interactions


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return "sqlite:///" + str(tmp_path / "a.db")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with open_store(db_url) as s:
        yield s


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def helpers() -> Any:
    """The helper classes and functions above, for test modules (importlib mode)."""

    class H:
        LookupLearner = globals()["LookupLearner"]
        LookupEvaluator = globals()["LookupEvaluator"]
        record = staticmethod(globals()["record"])
        table_of = staticmethod(globals()["table_of"])

    return H

"""The ``grpo`` learner of the learning loop: found by name, trains on a loop update's examples,
hands back an unstored candidate (the loop's gate decides)."""

from __future__ import annotations

from pathlib import Path

import pytest
from grpo_testdata import tiny_config

from atlas_core.errors import InvalidArgumentError
from atlas_core.ids import new_id
from atlas_core.loop import Example, LearningTask, load_learner
from atlas_core.store import Store, open_store
from atlas_core.types import Version, VersionKind
from atlas_grpo.grpo_learner import GRPOLearner
from atlas_grpo.testing import save_tiny_model, shift_task


def _examples(n: int, *, with_reference: bool = True) -> list[Example]:
    task = shift_task()
    return [
        Example(
            id=new_id(),
            learning_key="shift",
            input=[{"role": "user", "content": prompt}],
            output="",
            reference=task.answer(prompt) if with_reference else None,
        )
        for prompt in task.prompts(n, seed=3)
    ]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'atlas.db'}")


def test_grpo_learner_trains_on_the_update_and_leaves_storing_to_the_loop(
    tmp_path: Path, store: Store
) -> None:
    model_dir = save_tiny_model(tmp_path / "tiny")
    config = tiny_config(model_dir, "sqlite:///unused.db", tmp_path / "runs", max_steps=2)
    learner = load_learner("grpo", config=config)
    assert isinstance(learner, GRPOLearner)
    examples = _examples(16)
    task = LearningTask(store, "acme", ("shift",), examples[:12], examples[12:], base=None)
    result = learner.learn(task)
    assert result.candidate is not None
    assert result.samples_used == 16
    artifact = Path(result.candidate.artifact_uri)
    assert (artifact / "config.json").exists()
    assert artifact.is_relative_to(tmp_path / "runs" / "update-0001")
    assert result.candidate.kind is VersionKind.MODEL
    assert result.candidate.tenant_id == "acme"
    assert {"eval/reward", "eval/reward_before"} <= set(result.metrics)
    assert store.versions("acme") == []  # the loop stores the candidate, not the learner
    assert store.learning_runs("acme") == []


def test_no_gold_answers_is_no_change_and_a_prompt_base_is_refused(
    tmp_path: Path, store: Store
) -> None:
    model_dir = save_tiny_model(tmp_path / "tiny")
    learner = GRPOLearner(tiny_config(model_dir, "sqlite:///unused.db", tmp_path / "runs"))
    unlabeled = _examples(8, with_reference=False)
    result = learner.learn(LearningTask(store, "acme", ("shift",), unlabeled, [], base=None))
    assert result.candidate is None
    prompt_base = Version(kind=VersionKind.PROMPT, name="p", number=1, artifact_uri="kv://x")
    with pytest.raises(InvalidArgumentError, match="prompt version"):
        learner.learn(LearningTask(store, "acme", ("shift",), _examples(8), [], base=prompt_base))

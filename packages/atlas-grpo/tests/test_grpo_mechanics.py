"""Mechanics of a GRPO run: parameters move, every metric is logged and stored, guards stop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from grpo_testdata import seed_task, tiny_config
from safetensors.torch import load_file

from atlas_core.store import Store
from atlas_core.types import VersionKind, VersionStatus
from atlas_grpo.config import parse_train_config
from atlas_grpo.metrics import METRICS_NAMESPACE
from atlas_grpo.runner import run_grpo
from atlas_grpo.testing import ShiftTask


class LengthRanker:
    """A deterministic stand-in for RIM: answers as long as the reference score highest."""

    name = "length-ranker"

    def __init__(self) -> None:
        self.groups = 0

    async def rank(
        self,
        prompt_messages: list[dict[str, Any]],
        responses: list[str],
        *,
        reference: str | None = None,
    ) -> list[float]:
        self.groups += 1
        return [1.0 / (1.0 + abs(len(r) - len(reference or ""))) for r in responses]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


@pytest.mark.slow
def test_grpo_steps_change_parameters_and_log_every_metric(
    store: Store, tiny_model_dir: Path, tmp_path: Path
) -> None:
    seed_task(store, ShiftTask().prompts(40, seed=5))
    ranker = LengthRanker()
    raw = tiny_config(tiny_model_dir, store.url, tmp_path / "run", max_steps=3, beta=0.05)
    raw["rewards"] = [
        {"kind": "verifiable", "match": "char_overlap"},
        {"kind": "rim", "weight": 0.5},
        {
            "kind": "teaching",
            "student": str(tiny_model_dir),
            "guidance_template": "{guidance}:{prompt}",
            "student_max_new_tokens": 4,
            "weight": 0.5,
        },
    ]
    cfg = parse_train_config(raw)
    result = run_grpo(cfg, store=store, reward_model_factories={"rim": lambda: ranker})

    assert result.version is not None
    assert result.artifact is not None
    before, after = weights(tiny_model_dir), weights(result.artifact)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) == len(before)  # every weight tensor moved

    assert len(result.history) == 3
    logged = set().union(*result.history)
    for metric in (
        "loss",
        "reward",
        "reward_std",
        "kl",
        "entropy",
        "clip_ratio/region_mean",
        "completions/mean_length",
        "completions/clipped_ratio",
        "tokens_per_s",
        "rewards/verifiable/mean",
        "rewards/verifiable/std",
        "rewards/rank_length-ranker/mean",
        "rewards/rank_length-ranker/std",
        "rewards/teaching/mean",
        "teaching/improvement_rate",
        "teaching/degradation_rate",
        "teaching/mean_delta",
    ):
        assert metric in logged, metric
    assert ranker.groups >= 3 * 2  # one rank call per group, two groups per step

    stored = store.kv_items("default", METRICS_NAMESPACE, prefix=str(result.run.id))
    assert len(stored) == 3
    assert json.loads(next(iter(stored.values())))["step"] == 1.0

    version = store.get_version("default", result.version.id)
    assert version is not None
    assert version.kind is VersionKind.MODEL
    assert version.status is VersionStatus.CANDIDATE
    assert version.aliases == ()
    assert version.artifact_uri == result.artifact.resolve().as_uri()
    for key in (
        "eval/reward",
        "eval/reward_before",
        "train/kl",
        "train/tokens_per_s",
        "train/steps",
    ):
        assert key in version.metrics, key
    runs = store.learning_runs("default")
    assert [(r.learner, r.outcome, r.candidate_version_id) for r in runs] == [
        ("grpo", "candidate", version.id)
    ]
    assert runs[0].samples_used == 30
    assert runs[0].learning_key == "shift"


@pytest.mark.slow
def test_collapsed_reward_std_stops_the_run_without_a_candidate(
    store: Store, tiny_model_dir: Path, tmp_path: Path
) -> None:
    seed_task(store, ShiftTask().prompts(20, seed=6))
    raw = tiny_config(tiny_model_dir, store.url, tmp_path / "run", max_steps=8)
    raw["guards"] = {"reward_std_patience": 2}

    def constant(completions: list[Any], **_: Any) -> list[float]:
        return [0.5] * len(completions)

    result = run_grpo(parse_train_config(raw), store=store, reward_funcs=[constant])
    assert result.guard == "reward_std_collapse"
    assert len(result.history) == 2  # stopped after two collapsed logs, not eight steps
    assert result.version is None
    assert result.artifact is None
    assert store.versions("default", VersionKind.MODEL) == []
    (run,) = store.learning_runs("default")
    assert run.outcome == "guard_stopped"
    assert "reward_std" in run.reason


@pytest.mark.slow
def test_a_guard_tripping_late_keeps_the_last_good_snapshot(
    store: Store, tiny_model_dir: Path, tmp_path: Path
) -> None:
    seed_task(store, ShiftTask().prompts(20, seed=8))
    raw = tiny_config(tiny_model_dir, store.url, tmp_path / "run", max_steps=8)
    raw["guards"] = {"reward_std_patience": 2, "snapshot_every": 1}

    def varied_then_flat(
        completions: list[Any], trainer_state: Any = None, **_: Any
    ) -> list[float]:
        # Informative for the first two steps, then every completion scores the same.
        if trainer_state is not None and trainer_state.global_step >= 2:
            return [0.5] * len(completions)
        return [len(str(c)) / 10 for c in completions]

    result = run_grpo(parse_train_config(raw), store=store, reward_funcs=[varied_then_flat])
    assert result.guard == "reward_std_collapse"
    assert [row["step"] for row in result.history] == [1.0, 2.0, 3.0, 4.0]
    assert result.artifact == tmp_path / "run" / "last-good"
    assert (result.artifact / "model.safetensors").is_file()
    assert result.version is not None
    assert result.version.artifact_uri == result.artifact.resolve().as_uri()
    assert "eval/reward" in result.metrics_after
    (run,) = store.learning_runs("default")
    assert run.outcome == "candidate_guarded"
    assert run.candidate_version_id == result.version.id

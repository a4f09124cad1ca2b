"""Builders for atlas-grpo tests: interactions of the shift task with rewards and feedback."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from atlas_core.store import Store
from atlas_core.types import Feedback, FeedbackKind, Interaction, Reward
from atlas_grpo.testing import ShiftTask

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def seed_task(
    store: Store,
    prompts: Iterable[str],
    *,
    key: str = "shift",
    outputs: Iterable[str] | None = None,
    reward: float | None = None,
    label: bool = True,
    start: datetime = T0,
    metadata: dict[str, Any] | None = None,
) -> list[Interaction]:
    """Stores one interaction per prompt (answer: ``outputs`` or the correct one), optionally
    with a reward and a gold label each."""
    prompts = list(prompts)
    answers = list(outputs) if outputs is not None else [ShiftTask.answer(p) for p in prompts]
    inters = [
        Interaction(
            learning_key=key,
            input=[{"role": "user", "content": p}],
            output=a,
            created_at=start + timedelta(seconds=i),
            metadata=metadata or {},
        )
        for i, (p, a) in enumerate(zip(prompts, answers, strict=True))
    ]
    store.write_interactions(inters)
    if reward is not None:
        store.write_rewards([Reward(interaction_id=x.id, score=reward) for x in inters])
    if label:
        store.write_feedback(
            [
                Feedback(
                    interaction_id=x.id,
                    kind=FeedbackKind.LABEL,
                    text=ShiftTask.answer(p),
                )
                for x, p in zip(inters, prompts, strict=True)
            ]
        )
    return inters


def write_config(path: Path, raw: dict[str, Any]) -> Path:
    """Writes a YAML training config."""
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def tiny_config(model_dir: Path, store_url: str, out: Path, **training: Any) -> dict[str, Any]:
    """A training config for the tiny model: a few fast CPU steps."""
    return {
        "model": {"name_or_path": str(model_dir)},
        "data": {
            "store_url": store_url,
            "learning_keys": ["shift"],
            "held_out_fraction": 0.25,
            "min_reward": 0.5,
        },
        "training": {
            "output_dir": str(out),
            "max_steps": 3,
            "learning_rate": 1e-3,
            "per_device_batch_size": 8,
            "num_generations": 4,
            "max_completion_length": 6,
            "max_length": 32,
            "logging_steps": 1,
            "save_steps": 1000,
            "use_cpu": True,
            **training,
        },
        "rewards": [{"kind": "verifiable", "match": "char_overlap"}],
        "tracking": {"console": False},
        "registry": {"name": "shift-model"},
    }

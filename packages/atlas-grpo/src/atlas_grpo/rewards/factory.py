"""TRL reward functions from the ``rewards`` section of the training config."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from atlas_core import plugins
from atlas_core.errors import ConfigError
from atlas_core.llm import Endpoint
from atlas_grpo.config import RewardSpec, RimRewardSpec, TeachingRewardSpec, VerifiableRewardSpec
from atlas_grpo.endpoint_student import EndpointStudent
from atlas_grpo.rewards.ranking import GroupRanker, GroupRankingReward
from atlas_grpo.rewards.scorers import reference_scorer, reward_model_scorer
from atlas_grpo.rewards.teaching import AdaptiveTeachingReward, Student
from atlas_grpo.rewards.verifiable import VerifiableReward

__all__ = ["build_reward_funcs", "reward_model"]

RewardFunc = Callable[..., Any]


def reward_model(
    name: str, options: Mapping[str, Any], factories: Mapping[str, Callable[..., Any]] | None = None
) -> GroupRanker:
    """The installed reward model ``name`` (plugin registry), checked to rank groups."""
    found = dict(factories) if factories is not None else plugins.reward_models()
    if name not in found:
        known = ", ".join(sorted(found)) or "none (install atlas-rim)"
        raise ConfigError(f"rewards: no reward model {name!r}; installed: {known}")
    model = found[name](**options)
    if not isinstance(model, GroupRanker):
        raise ConfigError(
            f"rewards: reward model {name!r} ({type(model).__name__}) has no async rank()"
        )
    return model


def _one(spec: RewardSpec, factories: Mapping[str, Callable[..., Any]] | None) -> RewardFunc:
    if isinstance(spec, VerifiableRewardSpec):
        return VerifiableReward(spec.match)
    if isinstance(spec, RimRewardSpec):
        return GroupRankingReward(reward_model(spec.model, spec.options, factories))
    if isinstance(spec, TeachingRewardSpec):
        student: Student
        if spec.student_base_url is not None:
            student = EndpointStudent(
                Endpoint(
                    base_url=spec.student_base_url,
                    model=spec.student,
                    api_key=os.environ.get("ATLAS_LLM_API_KEY"),
                ),
                guidance_template=spec.guidance_template,
                max_tokens=spec.student_max_new_tokens,
            )
        else:
            from atlas_grpo.student import HFStudent  # loads torch models: only when asked for

            student = HFStudent.from_pretrained(
                spec.student,
                guidance_template=spec.guidance_template,
                max_new_tokens=spec.student_max_new_tokens,
            )
        scorer = (
            reference_scorer(spec.match)
            if spec.scorer == "verifiable"
            else reward_model_scorer(reward_model("rim", {}, factories))
        )
        return AdaptiveTeachingReward(
            student,
            scorer,
            degradation_penalty=spec.degradation_penalty,
            efficiency_weight=spec.efficiency_weight,
            length_budget=spec.length_budget,
            success_threshold=spec.success_threshold,
        )
    raise ConfigError(f"rewards: unknown reward kind {spec!r}")


def build_reward_funcs(
    specs: Sequence[RewardSpec],
    *,
    reward_model_factories: Mapping[str, Callable[..., Any]] | None = None,
) -> list[RewardFunc]:
    """One reward function per spec, with unique names (TRL logs metrics by name)."""
    if not specs:
        raise ConfigError("rewards: GRPO needs at least one reward function")
    funcs = [_one(spec, reward_model_factories) for spec in specs]
    seen: dict[str, int] = {}
    for func in funcs:
        name = getattr(func, "__name__", "reward")
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            func.__name__ = f"{name}_{seen[name]}"
    return funcs

"""Typed configuration of a GEPA run (``atlas optimize gepa --config FILE``).

One YAML file holds a :class:`GepaConfig`; every field carries its help text. The runtime
section is core's :class:`~atlas_core.config.models.RuntimeConfig` (student, teacher,
template family), so an optimization evaluates exactly the protocol that serves traffic.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from atlas_core.config.models import LLMEndpointConfig, RuntimeConfig
from atlas_core.errors import ConfigError
from atlas_core.runtime import Lane, Role

__all__ = ["BudgetConfig", "GepaConfig", "ScoringConfig", "load_gepa_config"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BudgetConfig(_Section):
    """When the optimization stops (the first limit reached wins)."""

    max_metric_calls: int = Field(
        default=200, ge=1, description="Most example evaluations (GEPA metric calls) to spend."
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        description="Most tokens (agents + reflection) to spend; unset: no token limit.",
    )
    max_seconds: float | None = Field(
        default=None, gt=0, description="Wall-clock limit of one run, in seconds; unset: none."
    )
    target_score: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Stop once a candidate's validation mean reaches this.",
    )
    patience: int | None = Field(
        default=None,
        ge=1,
        description="Stop after this many iterations without a better candidate.",
    )


class ScoringConfig(_Section):
    """How an answer is scored."""

    method: Literal["reward_model", "gold"] = Field(
        default="reward_model",
        description=(
            "reward_model: a RewardModel plugin (RIM in production); gold: verifiable match "
            "against the example's gold answer (label or edit)."
        ),
    )
    reward_model: str = Field(default="rim", description="The reward model plugin's name.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Keyword options for the reward model's factory."
    )
    match: Literal["exact", "contains"] = Field(
        default="exact",
        description="gold scoring: normalised exact match, or the gold answer contained in it.",
    )


class GepaConfig(_Section):
    """One GEPA prompt-evolution run over stored interactions."""

    store_url: str = Field(description="The Store to read examples from and write versions to.")
    tenant: str = Field(default="default", min_length=1, description="The tenant optimized for.")
    learning_keys: list[str] = Field(
        default_factory=list, description="The learning keys whose interactions are the data."
    )
    target_roles: list[Role] = Field(
        default_factory=lambda: [Role.STUDENT],
        min_length=1,
        description="The template roles GEPA may rewrite (the candidate's components).",
    )
    runtime: RuntimeConfig = Field(
        default_factory=RuntimeConfig,
        description="The reasoning core evaluated (student, teacher, template family).",
    )
    lane: Lane | None = Field(
        default=None, description="Force this lane on every evaluation; unset: the runtime picks."
    )
    reflection: LLMEndpointConfig = Field(
        description="The reflection model that proposes new template texts."
    )
    scoring: ScoringConfig = Field(default_factory=ScoringConfig, description="Answer scoring.")
    budget: BudgetConfig = Field(default_factory=BudgetConfig, description="Stop conditions.")
    concurrency: int = Field(
        default=16, ge=1, description="Examples of one batch evaluated at the same time."
    )
    example_timeout_s: float = Field(
        default=120.0, gt=0, description="An example not answered in this time scores 0."
    )
    val_fraction: float = Field(
        default=0.3, gt=0, lt=1, description="Share of the examples held out for validation."
    )
    max_examples: int = Field(
        default=500, ge=2, description="Most recent examples used (train + validation)."
    )
    minibatch_size: int = Field(default=3, ge=1, description="Examples per reflection step.")
    use_merge: bool = Field(default=True, description="Let GEPA merge Pareto-frontier candidates.")
    seed: int = Field(default=0, description="Seed of the split and of GEPA's sampling.")
    run_dir: Path = Field(
        description="Checkpoints, logs and summary.json; an existing run directory is resumed."
    )
    register_frontier: bool = Field(
        default=False,
        description="Store every Pareto-frontier candidate as a version, not only the best.",
    )

    @field_validator("target_roles")
    @classmethod
    def _distinct(cls, roles: list[Role]) -> list[Role]:
        if len(set(roles)) != len(roles):
            raise ValueError("a role is listed twice")
        return roles


def load_gepa_config(path: str | os.PathLike[str]) -> GepaConfig:
    """The :class:`GepaConfig` in the YAML file ``path``; ConfigError naming what is wrong."""
    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"gepa config {file}: not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"gepa config {file}: cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"gepa config {file}: the top level must be a mapping")
    try:
        return GepaConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or '<top>'}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"gepa config {file}:\n  " + "\n  ".join(lines)) from None

"""RIM's configuration: one typed model, loadable from a YAML file.

Every field is read somewhere (signals by :mod:`atlas_rim.signals`, judges, arbiter, escalation
and consistency by :mod:`atlas_rim.judges`, combination and quality by :mod:`atlas_rim.model`).
API keys never live in the file: ``endpoint.api_key_env`` names the variable that holds one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from atlas_core.errors import ConfigError

__all__ = [
    "ArbiterConfig",
    "CacheConfig",
    "CombineConfig",
    "ConsistencyRule",
    "EndpointConfig",
    "EscalationConfig",
    "JudgeConfig",
    "RimConfig",
    "SignalConfig",
    "load_config",
]

DEFAULT_SIGNAL_WEIGHTS = {"copy": 0.8, "share": 0.9, "engage": 0.6, "retry": -0.3, "dismiss": -0.5}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalConfig(_Section):
    """How user feedback becomes evidence; the rule is in :mod:`atlas_rim.signals`."""

    weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_SIGNAL_WEIGHTS),
        description="Weight of each implicit signal by name; positive is good, negative bad.",
    )
    unknown_signal_weight: float = Field(
        default=0.0, description="Weight of a signal whose name is not in `weights` (0 ignores it)."
    )
    dwell_saturation_s: dict[str, float] = Field(
        default_factory=lambda: {"engage": 30.0},
        description="Signals whose value is dwell seconds, and the dwell that earns full weight.",
    )
    rating_weight: float = Field(default=1.0, ge=0, description="Evidence of one explicit rating.")
    edit_weight: float = Field(
        default=1.0, ge=0, description="Evidence of one edit (kept fraction)."
    )
    label_weight: float = Field(
        default=1.0, ge=0, description="Evidence of a gold label (similarity of output to it)."
    )
    prior: float = Field(default=0.5, ge=0, le=1, description="Score with no evidence at all.")
    prior_strength: float = Field(
        default=1.0,
        ge=0,
        description="Pseudo-evidence of the prior; larger shrinks harder toward it.",
    )
    decay_half_life_s: float | None = Field(
        default=None,
        gt=0,
        description="Evidence halves every this many seconds of age; None: no decay.",
    )

    @model_validator(mode="after")
    def _positive_saturation(self) -> Self:
        for name, seconds in self.dwell_saturation_s.items():
            if not seconds > 0:
                raise ValueError(f"dwell_saturation_s.{name} must be > 0, got {seconds}")
        return self


class EndpointConfig(_Section):
    """The OpenAI-compatible chat endpoint the judges and the arbiter are called through."""

    base_url: str | None = Field(
        default=None, description="e.g. http://localhost:8000/v1; None reads ATLAS_LLM_BASE_URL."
    )
    api_key_env: str | None = Field(
        default="ATLAS_LLM_API_KEY", description="Environment variable holding the API key, if any."
    )
    timeout_s: float = Field(default=30.0, gt=0, description="Per-attempt timeout of one call.")
    max_retries: int = Field(default=3, ge=0, description="Retries on 429, 5xx, timeouts, resets.")
    backoff_s: float = Field(default=0.25, ge=0, description="First back-off; doubles per retry.")
    max_concurrency: int = Field(default=16, ge=1, description="Calls in flight at once, at most.")
    json_mode: bool = Field(
        default=False,
        description='Send response_format {"type": "json_object"} (OpenAI, vLLM, Ollama).',
    )

    def resolved_base_url(self) -> str:
        """``base_url``, else ``ATLAS_LLM_BASE_URL``; a ConfigError when neither is set."""
        url = self.base_url or os.environ.get("ATLAS_LLM_BASE_URL")
        if not url:
            raise ConfigError("endpoint.base_url: not set (nor ATLAS_LLM_BASE_URL)")
        return url

    def api_key(self) -> str | None:
        """The key from the variable ``api_key_env`` names, or None."""
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class JudgeConfig(_Section):
    """One LLM judge of the ensemble."""

    name: str = Field(min_length=1, description="Unique name; appears in reward components.")
    model: str = Field(min_length=1, description="Model name sent to the endpoint.")
    principles: list[str] = Field(min_length=1, description="What the judge checks (rubric).")
    weight: float = Field(default=1.0, gt=0, description="Weight in the ensemble's weighted mean.")
    temperatures: list[float] = Field(
        default_factory=lambda: [0.0, 0.7],
        min_length=1,
        description="One sample per temperature; their spread is an escalation signal.",
    )
    max_tokens: int = Field(default=512, ge=16, description="Answer length limit of one sample.")


class ArbiterConfig(_Section):
    """The stronger model consulted when the ensemble escalates."""

    model: str = Field(min_length=1, description="Model name sent to the endpoint.")
    principles: list[str] = Field(
        default_factory=list, description="Principles of its own, besides the judges'."
    )
    temperature: float = Field(
        default=0.0, ge=0, description="Sampling temperature of its one call."
    )
    max_tokens: int = Field(default=1024, ge=16, description="Answer length limit.")


class EscalationConfig(_Section):
    """When the ensemble asks the arbiter."""

    spread_threshold: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Escalate when max - min of all sample scores exceeds this.",
    )
    uncertainty_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Escalate when any sample reports uncertainty above this.",
    )
    on_parse_failure: bool = Field(
        default=True,
        description="Escalate when any sample fails (no valid JSON, or the call failed).",
    )


class ConsistencyRule(_Section):
    """A rule between judges' scores, checked on every evaluation.

    ``max_gap``: judges [a, b] may differ by at most ``threshold``. ``not_above``: judge a may
    exceed judge b by at most ``threshold``. A violation escalates or is only flagged
    (``action``); either way it appears as component ``consistency.<name>`` = 1.
    ``veto``: when judge a scores below ``threshold``, the final score is capped at ``cap``.
    """

    name: str = Field(min_length=1, description="Names the rule in components and reasons.")
    kind: Literal["max_gap", "not_above", "veto"] = Field(description="What the rule checks.")
    judges: list[str] = Field(min_length=1, max_length=2, description="Judge names it involves.")
    threshold: float = Field(ge=0, le=1, description="Allowed gap, or the veto's trigger score.")
    action: Literal["escalate", "flag"] = Field(
        default="escalate", description="On a gap violation."
    )
    cap: float | None = Field(default=None, ge=0, le=1, description="veto only: the score ceiling.")

    @model_validator(mode="after")
    def _shape(self) -> Self:
        wanted = 1 if self.kind == "veto" else 2
        if len(self.judges) != wanted:
            raise ValueError(f"a {self.kind} rule names {wanted} judge(s), got {self.judges}")
        if (self.kind == "veto") != (self.cap is not None):
            raise ValueError("`cap` is required by a veto rule and meaningless otherwise")
        return self


class CombineConfig(_Section):
    """How the judge score and the feedback score make one reward (either may be absent)."""

    judge_weight: float = Field(default=0.5, ge=0, description="Weight of the judges' score.")
    feedback_weight: float = Field(default=0.5, ge=0, description="Weight of the feedback score.")

    @model_validator(mode="after")
    def _not_both_zero(self) -> Self:
        if self.judge_weight + self.feedback_weight <= 0:
            raise ValueError("judge_weight and feedback_weight cannot both be 0")
        return self


class CacheConfig(_Section):
    """The content-hash cache of judge answers, persisted through the Store's kv entries."""

    enabled: bool = Field(default=True, description="Reuse an identical call's earlier answer.")
    namespace: str = Field(default="rim.cache", min_length=1, description="Store kv namespace.")
    tenant: str = Field(
        default="default",
        min_length=1,
        description="Tenant whose entries cache calls with no tenant.",
    )
    max_memory_entries: int = Field(
        default=100_000, ge=0, description="Answers also kept in process memory, at most."
    )


class RimConfig(_Section):
    """Everything RIM needs; see each section."""

    endpoint: EndpointConfig = Field(default_factory=EndpointConfig)
    signals: SignalConfig = Field(default_factory=SignalConfig)
    judges: list[JudgeConfig] = Field(default_factory=list, description="The ensemble.")
    arbiter: ArbiterConfig | None = Field(
        default=None, description="None: escalation is only recorded."
    )
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    consistency: list[ConsistencyRule] = Field(default_factory=list)
    combine: CombineConfig = Field(default_factory=CombineConfig)
    quality_threshold: float = Field(
        default=0.0, ge=0, le=1, description="Rewards below this are marked not for training."
    )
    cache: CacheConfig = Field(default_factory=CacheConfig)

    @model_validator(mode="after")
    def _names(self) -> Self:
        names = [j.name for j in self.judges]
        if len(set(names)) != len(names):
            raise ValueError(f"judge names must be unique, got {names}")
        for rule in self.consistency:
            unknown = [j for j in rule.judges if j not in names]
            if unknown:
                raise ValueError(f"consistency rule {rule.name!r} names unknown judges {unknown}")
        return self

    def fingerprint(self) -> str:
        """A short hash of the scoring-relevant settings, so rewards name the config they used."""
        relevant = self.model_dump(mode="json", exclude={"endpoint", "cache"})
        return hashlib.sha256(repr(sorted(relevant.items())).encode()).hexdigest()[:10]


def load_config(source: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> RimConfig:
    """A RimConfig from a YAML file path, a mapping, or defaults (None).

    Raises ConfigError naming the file and the field path of every problem.
    """
    where = "defaults"
    data: Any = {}
    if isinstance(source, Mapping):
        where, data = "mapping", dict(source)
    elif source is not None:
        path = Path(source)
        where = str(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read RIM config ({exc})") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML ({exc})") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: the RIM config must be a mapping at the top level")
    try:
        return RimConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{where}: invalid RIM config: {problems}") from exc

"""The typed configuration of Atlas: one model per section of ``atlas.yaml``.

Every field carries a ``description`` (it is the documentation of the file and of
``atlas serve --help``). Every model forbids unknown keys, so a typo is an error,
not a silently ignored setting. Loading (YAML file + ``ATLAS_*`` environment) is in
:mod:`atlas_core.config.load`.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from atlas_core.store import default_store_url

__all__ = [
    "ActiveLearningConfig",
    "AtlasConfig",
    "FeedbackTokenConfig",
    "GateConfig",
    "LLMEndpointConfig",
    "LoopConfig",
    "MonitoringConfig",
    "RolloutConfig",
    "RuntimeConfig",
    "SchedulerConfig",
    "SdkConfig",
    "SelectionConfig",
    "ServeConfig",
    "StoreConfig",
    "TelemetryConfig",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Section):
    """Where Atlas keeps its data."""

    url: str = Field(
        default_factory=default_store_url,
        min_length=1,
        description=(
            "Store URL: sqlite:///path or postgresql://... Default: ATLAS_STORE_URL, "
            "else a SQLite file atlas.db under the Atlas home."
        ),
    )


class ServeConfig(_Section):
    """The ingestion service (``atlas serve``): ports, request limits, buffering."""

    host: str = Field(
        default="127.0.0.1", min_length=1, description="Interface both servers bind to."
    )
    grpc_port: int = Field(
        default=50051, ge=0, le=65535, description="gRPC port (0: pick a free one)."
    )
    http_port: int = Field(
        default=8080, ge=0, le=65535, description="HTTP port (0: pick a free one)."
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Server processes sharing both ports (SO_REUSEPORT, Linux). Python runs one "
            "thread at a time per process, so on several cores more workers serve more; "
            "each worker allows rate_limit_events_per_s / workers per key."
        ),
    )
    grpc_workers: int = Field(
        default=128,
        ge=1,
        description=(
            "Threads for the gRPC handlers that block: reads, and Ingest (typed events) "
            "until its commit, so this caps those calls in flight (Little's law: "
            "throughput = calls in flight / latency). IngestColumns, IngestStream, "
            "IngestAppend and health checks are coroutines on the server's event loop "
            "and hold none."
        ),
    )
    max_request_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest request body accepted, in bytes."
    )
    max_batch_events: int = Field(
        default=10_000, ge=1, description="Most events accepted in one request."
    )
    rate_limit_events_per_s: float = Field(
        default=50_000.0,
        gt=0,
        allow_inf_nan=False,
        description="Sustained events per second allowed per API key (token bucket refill rate).",
    )
    rate_limit_burst: int = Field(
        default=100_000,
        ge=1,
        description="Events one API key may send in a burst (token bucket size).",
    )
    buffer_capacity: int = Field(
        default=1_000_000, ge=1, description="Events the server buffers before answering overload."
    )
    buffer_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Bytes of accepted events the server holds before answering overload.",
    )
    commit_max_events: int = Field(
        default=20_000,
        ge=1,
        description="Most events written in one group commit (one store transaction).",
    )
    commit_linger_ms: float = Field(
        default=2.0,
        ge=0,
        le=1000,
        allow_inf_nan=False,
        description=(
            "When fewer than 64 events wait, the next group commit waits this long for more: "
            "many small requests (single-event HTTP) then share fewer, larger commits, for "
            "~20% less server CPU per request. A 100-event gRPC batch never waits. 0: never."
        ),
    )
    key_cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        allow_inf_nan=False,
        description="API-key lookups are cached this long: a revoked key is refused within it.",
    )
    shutdown_grace_s: float = Field(
        default=10.0,
        ge=0,
        allow_inf_nan=False,
        description="On SIGTERM: seconds to finish requests and drain the buffer before exit.",
    )


class FeedbackTokenConfig(_Section):
    """Signed per-interaction tokens that let a web page post feedback without an API key."""

    ttl_s: int = Field(
        default=86_400, ge=1, description="Lifetime of a newly issued token, in seconds."
    )
    secret: SecretStr | None = Field(
        default=None,
        description=(
            "HMAC secret that signs new tokens. Unset: one is generated on first use and kept "
            "in <home>/feedback_token.secret (mode 0600)."
        ),
    )
    previous_secrets: tuple[SecretStr, ...] = Field(
        default=(),
        description="Retired secrets that still verify (rotation): tokens they signed stay valid.",
    )


class SdkConfig(_Section):
    """Defaults of the recording SDK's buffer and flusher."""

    buffer_capacity: int = Field(
        default=100_000, ge=1, description="Events the SDK buffers in memory."
    )
    buffer_policy: Literal["block", "reject", "drop_oldest"] = Field(
        default="block", description="What recording does when the buffer is full."
    )
    batch_size: int = Field(
        default=1_000, ge=1, description="Most events in one store write or request."
    )
    flush_interval_s: float = Field(
        default=0.02,
        gt=0,
        allow_inf_nan=False,
        description="Longest a recorded event waits before it is shipped.",
    )


class TelemetryConfig(_Section):
    """OpenTelemetry export of interaction traces (OTLP); needs the ``otel`` extra."""

    enabled: bool | None = Field(
        default=None,
        description=(
            "Export each recorded interaction as a trace, live. Unset: on when the standard "
            "OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and "
            "OTEL_SDK_DISABLED is not true)."
        ),
    )
    endpoint: str | None = Field(
        default=None,
        description=(
            "OTLP traces URL, e.g. http://collector:4318/v1/traces (grpc: http://collector:4317). "
            "Unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT "
            "(+ /v1/traces over HTTP), else localhost."
        ),
    )
    protocol: Literal["http/protobuf", "grpc"] = Field(
        default="http/protobuf", description="OTLP transport: protobuf over HTTP, or gRPC."
    )
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "Headers sent with every export (a tracing backend's API key); empty: "
            "OTEL_EXPORTER_OTLP_HEADERS."
        ),
    )
    timeout_s: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="How long one export may take, retries of 429/502/503/504 included.",
    )
    service_name: str = Field(
        default_factory=lambda: os.environ.get("OTEL_SERVICE_NAME") or "atlas",
        min_length=1,
        description="The service.name of exported spans. Default: OTEL_SERVICE_NAME, else atlas.",
    )
    include_content: bool = Field(
        default=False,
        description=(
            "Put prompts and answers (input messages, output, each step's prompt and text) on "
            "the spans. Off by default: they may hold personal data."
        ),
    )
    max_content_chars: int = Field(
        default=4096, ge=16, description="Content longer than this is cut (include_content)."
    )
    queue_size: int = Field(
        default=10_000,
        ge=1,
        description=(
            "Interactions waiting for export; past it the oldest are dropped and counted "
            "(recording never waits for the exporter)."
        ),
    )
    batch_size: int = Field(
        default=256, ge=1, description="Most interactions sent in one export request."
    )
    export_interval_s: float = Field(
        default=1.0,
        gt=0,
        allow_inf_nan=False,
        description="Longest a recorded interaction waits before its trace is sent.",
    )

    def active(self) -> bool:
        """Whether live export is on: ``enabled``; unset, when an OTLP endpoint is in the
        environment and the standard ``OTEL_SDK_DISABLED`` is not ``true``."""
        if self.enabled is not None:
            return self.enabled
        if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
            return False
        return bool(
            os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        )


class AtlasConfig(BaseSettings):
    """The whole configuration: ``atlas.yaml`` overlaid with ``ATLAS_*`` environment variables.

    Build it with :func:`atlas_core.config.load_config`, which adds the YAML layer;
    constructing it directly reads only the environment and the defaults.
    """

    model_config = SettingsConfigDict(
        env_prefix="ATLAS_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    home: Path = Field(
        default=Path(".atlas"),
        description="Atlas home: the default store and generated secrets live here.",
    )
    store: StoreConfig = Field(default_factory=StoreConfig, description="The store.")
    serve: ServeConfig = Field(default_factory=ServeConfig, description="`atlas serve`.")
    feedback_tokens: FeedbackTokenConfig = Field(
        default_factory=FeedbackTokenConfig, description="Browser feedback tokens."
    )
    sdk: SdkConfig = Field(default_factory=SdkConfig, description="SDK buffering defaults.")
    runtime: RuntimeConfig = Field(
        default_factory=lambda: RuntimeConfig(),
        description="The reasoning core: lanes, capability estimate, templates, playbook.",
    )
    loop: LoopConfig = Field(
        default_factory=lambda: LoopConfig(), description="The continual-learning loop."
    )
    monitoring: MonitoringConfig = Field(
        default_factory=lambda: MonitoringConfig(),
        description="Store-derived metrics and the dashboard.",
    )
    telemetry: TelemetryConfig = Field(
        default_factory=TelemetryConfig, description="OpenTelemetry export of interaction traces."
    )


# -- the reasoning core (atlas_core.runtime) ----------------------------------------------------


class LLMEndpointConfig(_Section):
    """An OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, ...)."""

    base_url: str = Field(min_length=1, description="API root, e.g. http://localhost:8000/v1.")
    model: str = Field(min_length=1, description="Model name sent with every request.")
    api_key: SecretStr | None = Field(
        default=None, description="Bearer key; unset for servers that need none."
    )
    timeout_s: float = Field(
        default=30.0, gt=0, allow_inf_nan=False, description="Per-attempt timeout, in seconds."
    )
    max_retries: int = Field(
        default=3, ge=0, description="Retries of a 429, 5xx, timeout or connection error."
    )


class RuntimeConfig(_Section):
    """The teacher-student protocol: lane thresholds, capability estimate, templates, playbook."""

    student: LLMEndpointConfig | None = Field(
        default=None, description="The student model, when the student is a chat endpoint."
    )
    teacher: LLMEndpointConfig | None = Field(
        default=None, description="The teacher model (paired and coach lanes need one)."
    )
    auto_threshold: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Confidence at or above which the student answers alone (auto lane).",
    )
    coach_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Confidence below which the teacher guides before the answer (coach lane).",
    )
    min_history: int = Field(
        default=5,
        ge=1,
        description="Rewards a key needs before its estimate picks the lane (before: paired).",
    )
    capability_window: int = Field(
        default=50, ge=1, description="Most recent rewards of a key the estimate rests on."
    )
    capability_lookback_s: float | None = Field(
        default=None,
        gt=0,
        description="Only interactions this recent count (seconds); unset: no age limit.",
    )
    capability_use_ema: bool = Field(
        default=True,
        description="Use an exponential moving average of rewards (native) over the window mean.",
    )
    capability_half_life: float = Field(
        default=10.0, gt=0, allow_inf_nan=False, description="EMA half-life, in rewards."
    )
    capability_ttl_s: float = Field(
        default=5.0,
        ge=0,
        allow_inf_nan=False,
        description="A key's estimate is re-read from the store after this many seconds.",
    )
    probe_weight: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Weight of a probe model's confidence in the blend (when one is given).",
    )
    probe_when_auto: bool = Field(
        default=False,
        description=(
            "Run the student's probe even when the lane is auto by the estimate (it is then "
            "only recorded, for the learners; it costs a student call)."
        ),
    )
    template_family: str = Field(
        default="atlas.runtime",
        min_length=1,
        description="Prompt template versions are named <family>.<role>.",
    )
    template_alias: str = Field(
        default="production", min_length=1, description="Alias of the templates served."
    )
    template_ttl_s: float = Field(
        default=30.0,
        ge=0,
        allow_inf_nan=False,
        description="Templates are re-read after this many seconds (an alias move takes effect).",
    )
    playbook_token_budget: int = Field(
        default=256, ge=0, description="Most tokens of playbook guidance injected into a prompt."
    )
    playbook_holdout: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="Fraction of calls an entry is withheld from, to measure its impact.",
    )
    playbook_learn: bool = Field(
        default=True,
        description="Add the teacher's LESSON line of coach-lane guidance to the playbook.",
    )
    playbook_ttl_s: float = Field(
        default=5.0,
        ge=0,
        allow_inf_nan=False,
        description="A key's playbook is re-read from the store after this many seconds.",
    )
    playbook_review_every: int = Field(
        default=100,
        ge=0,
        description="Review (measure, prune) a key's playbook every this many runs; 0: never.",
    )
    playbook_lookback_s: float | None = Field(
        default=30 * 86_400.0,
        gt=0,
        description="A review measures the key's calls of this many seconds; unset: all.",
    )
    playbook_min_samples: int = Field(
        default=5, ge=1, description="Rewarded calls each way before an entry can be pruned."
    )
    playbook_prune_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="An entry is pruned when mean reward with it is below without by more.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RuntimeConfig:
        if self.coach_threshold > self.auto_threshold:
            raise ValueError(
                f"coach_threshold ({self.coach_threshold}) must not exceed auto_threshold "
                f"({self.auto_threshold})"
            )
        return self


# -- the continual-learning loop (atlas_core.loop) ----------------------------------------


class SchedulerConfig(_Section):
    """When the loop decides to learn (every decision is recorded as a LearningRun)."""

    min_samples: int = Field(
        default=200, ge=1, description="Fire once this many new rewarded samples arrived."
    )
    max_interval_s: float | None = Field(
        default=3600.0,
        gt=0,
        allow_inf_nan=False,
        description="Fire when this long passed since the last update and any sample arrived.",
    )
    min_interval_s: float = Field(
        default=60.0, ge=0, allow_inf_nan=False, description="Never fire sooner than this."
    )
    max_updates_per_window: int = Field(
        default=6, ge=1, description="At most this many fired updates per rate window."
    )
    rate_window_s: float = Field(
        default=3600.0, gt=0, allow_inf_nan=False, description="The rate window, in seconds."
    )
    drift_detector: Literal["adwin", "page_hinkley", "none"] = Field(
        default="adwin", description="Native detector watching each learning key's reward."
    )
    drift_delta: float = Field(
        default=0.002, gt=0, lt=1, allow_inf_nan=False, description="ADWIN confidence delta."
    )
    ph_threshold: float = Field(
        default=75.0, gt=0, allow_inf_nan=False, description="Page–Hinkley threshold lambda."
    )
    ph_delta: float = Field(
        default=0.01, ge=0, allow_inf_nan=False, description="Page–Hinkley tolerance delta."
    )
    min_drift_samples: int = Field(
        default=20, ge=1, description="A drift fires only with this many new samples to learn from."
    )
    error_rate_threshold: float = Field(
        default=0.2, gt=0, le=1, allow_inf_nan=False, description="Fire above this error rate."
    )
    error_window: int = Field(
        default=100, ge=1, description="Interactions over which the error rate is measured."
    )


class SelectionConfig(_Section):
    """What a learner trains on: value-weighted new examples mixed with replay."""

    batch_size: int = Field(default=256, ge=1, description="Training examples per update.")
    replay_ratio: float = Field(
        default=0.3, ge=0, le=1, allow_inf_nan=False, description="Share of a batch that is replay."
    )
    replay_capacity_per_key: int = Field(
        default=2000, ge=1, description="Replay memory kept per learning key."
    )
    weight_uncertainty: float = Field(
        default=1.0, ge=0, allow_inf_nan=False, description="Value weight of reward uncertainty."
    )
    weight_novelty: float = Field(
        default=1.0, ge=0, allow_inf_nan=False, description="Value weight of input novelty."
    )
    weight_error: float = Field(
        default=1.0, ge=0, allow_inf_nan=False, description="Value weight of 1 - reward."
    )
    priority_alpha: float = Field(
        default=1.0, ge=0, allow_inf_nan=False, description="Prioritized sampling exponent."
    )
    held_out_fraction: float = Field(
        default=0.2, ge=0, lt=1, allow_inf_nan=False, description="Share kept out for the gate."
    )
    seed: int = Field(default=0, ge=0, description="Seed of the samplers.")
    feedback_wait_s: float = Field(
        default=600.0,
        ge=0,
        allow_inf_nan=False,
        description=(
            "An interaction without reward or gold answer yet stays eligible for later updates "
            "until this much newer traffic exists (late feedback is still learned from)."
        ),
    )


class GateConfig(_Section):
    """When a candidate may go to rollout."""

    min_improvement: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="Overall score gain required (> this)."
    )
    max_key_regression: float = Field(
        default=0.02,
        ge=0,
        allow_inf_nan=False,
        description="Largest drop of any learning key's score tolerated.",
    )
    min_examples_per_key: int = Field(
        default=1, ge=1, description="Keys with fewer evaluation examples are not judged alone."
    )
    forget_rejected: bool = Field(
        default=False,
        description="Forget the examples a rejected update added to replay and held-out. On "
        "when rejections mostly come from bad feedback (poison), so that it cannot sink every "
        "later candidate; off (default) when they come from a learner not ready for new data "
        "yet (after a drift), which must not lose that data.",
    )


class RolloutConfig(_Section):
    """How a passed candidate reaches production."""

    shadow: bool = Field(default=True, description="Mirror traffic to the candidate first.")
    canary_steps: tuple[float, ...] = Field(
        default=(1.0, 5.0, 10.0, 25.0, 50.0, 100.0),
        min_length=1,
        description="Canary traffic percentages, increasing, ending at 100.",
    )

    @field_validator("canary_steps")
    @classmethod
    def _steps_increase_to_100(cls, steps: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < s <= 100 for s in steps):
            raise ValueError("every canary step is a percentage in (0, 100]")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError("canary steps must increase")
        if steps[-1] != 100:
            raise ValueError("the last canary step must be 100")
        return steps

    min_samples_per_arm: int = Field(
        default=30, ge=2, description="Observations per arm before a step is analysed."
    )
    significance: float = Field(
        default=0.05, gt=0, lt=0.5, allow_inf_nan=False, description="One-sided test level."
    )
    reward_margin: float = Field(
        default=0.02, ge=0, allow_inf_nan=False, description="Reward drop tolerated (absolute)."
    )
    error_margin: float = Field(
        default=0.02, ge=0, allow_inf_nan=False, description="Error-rate rise tolerated."
    )
    latency_margin: float = Field(
        default=0.2, ge=0, allow_inf_nan=False, description="Relative latency rise tolerated."
    )
    on_restart: Literal["resume", "revert"] = Field(
        default="resume", description="What a restarted process does with a rollout in flight."
    )


class ActiveLearningConfig(_Section):
    """Asking users for feedback on the responses the loop is least sure about."""

    requests_per_s: float = Field(
        default=0.1, gt=0, allow_inf_nan=False, description="Sustained feedback requests per s."
    )
    burst: int = Field(default=10, ge=1, description="Requests that may be made at once.")
    min_uncertainty: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="Never ask below this uncertainty."
    )


class LoopConfig(_Section):
    """The continual-learning loop: scheduler, selection, gate, rollout, active learning."""

    learner: str = Field(default="gepa", min_length=1, description="Learner plugin name.")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="Triggers.")
    selection: SelectionConfig = Field(
        default_factory=SelectionConfig, description="Selection and replay."
    )
    gate: GateConfig = Field(default_factory=GateConfig, description="The non-regression gate.")
    rollout: RolloutConfig = Field(default_factory=RolloutConfig, description="Safe rollout.")
    active: ActiveLearningConfig = Field(
        default_factory=ActiveLearningConfig, description="Active learning."
    )


class MonitoringConfig(_Section):
    """What ``/metrics`` and the dashboard derive from the store (``atlas_core.monitoring``)."""

    window_s: float = Field(
        default=86_400.0,
        gt=0,
        allow_inf_nan=False,
        description=(
            "How far back the monitoring view reads interactions, feedback and rewards (s); "
            "bounds the work of one refresh. Learning runs and rollouts are read whole."
        ),
    )
    cache_ttl_s: float = Field(
        default=5.0,
        ge=0,
        allow_inf_nan=False,
        description=(
            "A tenant's view is recomputed at most this often (s): scrapes and dashboard "
            "polls within it share one set of store reads. 0 recomputes on every request."
        ),
    )
    time_buckets: int = Field(
        default=60,
        ge=1,
        le=1_000,
        description=(
            "About this many time buckets span the data in the window (the bucket width is "
            "rounded up to 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1 d)."
        ),
    )
    top_learning_keys: int = Field(
        default=10,
        ge=1,
        description=(
            "Learning keys shown one by one (the busiest in the window); the rest are "
            "summed under 'other'. Bounds the label cardinality of /metrics."
        ),
    )
    top_versions: int = Field(
        default=10,
        ge=1,
        description="Served versions shown one by one (the busiest); the rest under 'other'.",
    )
    top_signal_names: int = Field(
        default=20,
        ge=1,
        description="Feedback signal names shown one by one (the set is open); the rest 'other'.",
    )
    recent_learning_runs: int = Field(
        default=50, ge=1, description="Learning events (not skipped checks) the view lists."
    )
    metrics_tenants: tuple[str, ...] = Field(
        default=(),
        description=(
            "Tenants whose store-derived series /metrics exposes; empty: every tenant, up to "
            "max_metrics_tenants (in id order)."
        ),
    )
    max_metrics_tenants: int = Field(
        default=20,
        ge=0,
        description="At most this many tenants on /metrics (0: no store-derived series).",
    )
    dashboard: bool = Field(
        default=True, description="Serve the dashboard page (/dashboard) and its JSON API."
    )
    dashboard_link_ttl_s: int = Field(
        default=86_400,
        ge=60,
        description="Lifetime of a signed dashboard link (`atlas keys dashboard-link`), s.",
    )
    poll_interval_s: float = Field(
        default=3.0,
        gt=0,
        allow_inf_nan=False,
        description="How often the dashboard page asks for fresh data (s).",
    )


AtlasConfig.model_rebuild()

"""The typed training configuration of ``atlas train sft|grpo``, loaded from one YAML file.

Every field carries its meaning in ``description`` (``atlas train show-config`` prints them).
One file serves both commands: SFT reads ``model``, ``data``, ``training``, ``tracking`` and
``registry``; GRPO reads all of it. Unknown keys are refused, so a typo is an error
naming the field rather than a silently ignored setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from atlas_core.errors import ConfigError

__all__ = [
    "DataConfig",
    "GenerationConfig",
    "GuardConfig",
    "LoraConfig",
    "ModelConfig",
    "RegistryConfig",
    "RewardSpec",
    "RimRewardSpec",
    "TeachingRewardSpec",
    "TrackingConfig",
    "TrainConfig",
    "TrainingConfig",
    "VerifiableRewardSpec",
    "load_train_config",
    "parse_train_config",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraConfig(_Section):
    """Low-rank adapters (peft) instead of full fine-tuning."""

    enabled: bool = Field(default=False, description="Train LoRA adapters instead of all weights.")
    r: int = Field(default=16, ge=1, description="Adapter rank.")
    alpha: int = Field(default=32, ge=1, description="Adapter scaling (lora_alpha).")
    dropout: float = Field(
        default=0.05, ge=0.0, lt=1.0, description="Dropout on the adapter input."
    )
    target_modules: list[str] | Literal["all-linear"] = Field(
        default="all-linear", description="Module names to adapt, or 'all-linear'."
    )


class ModelConfig(_Section):
    """The model being trained."""

    name_or_path: str = Field(description="Hugging Face model id or local directory.")
    tokenizer: str | None = Field(
        default=None, description="Tokenizer id or path; default: the model's."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="Weights dtype; 'auto' is bfloat16 on a GPU that supports it, else float32.",
    )
    attn_implementation: Literal["auto", "flash_attention_2", "sdpa", "eager"] = Field(
        default="auto",
        description="'auto' uses flash-attention when flash_attn is installed and a GPU is "
        "present, "
        "else PyTorch SDPA.",
    )
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA adapters (peft).")


def _label_then_edit() -> list[Literal["label", "edit"]]:
    return ["label", "edit"]


class DataConfig(_Section):
    """Where the training rows come from: the Store, filtered."""

    store_url: str | None = Field(
        default=None,
        description="Store URL (sqlite:///... or postgresql://...); default ATLAS_STORE_URL.",
    )
    tenant: str = Field(default="default", min_length=1, description="Tenant whose data is used.")
    learning_keys: list[str] | None = Field(
        default=None, description="Task families to use; all if unset."
    )
    since: AwareDatetime | None = Field(
        default=None, description="Interactions created at or after this."
    )
    until: AwareDatetime | None = Field(
        default=None, description="Interactions created before this."
    )
    min_reward: float | None = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="SFT: interactions whose latest reward is at least this are kept as examples.",
    )
    include_edits: bool = Field(
        default=True,
        description="SFT: a user's edit of an answer becomes an example (prompt, edited text).",
    )
    review_status: list[str] | None = Field(
        default=None,
        description="Keep only interactions whose metadata 'review_status' is one of these "
        "(e.g. [approved]); unset keeps all.",
    )
    reference_from: list[Literal["label", "edit"]] = Field(
        default_factory=_label_then_edit,
        description="GRPO: feedback kinds giving a prompt's reference answer, in preference order.",
    )
    require_reference: bool = Field(
        default=False, description="GRPO: keep only prompts that have a reference answer."
    )
    prompt_format: Literal["auto", "chat", "text"] = Field(
        default="auto",
        description="'chat' passes messages to the tokenizer's chat template; 'text' joins message "
        "contents; 'auto' is chat when the tokenizer has a chat template.",
    )
    held_out_fraction: float = Field(
        default=0.1,
        ge=0.0,
        lt=1.0,
        description="Share of prompts kept out of training for evaluation.",
    )
    max_samples: int | None = Field(
        default=None, ge=1, description="At most this many training rows."
    )
    seed: int = Field(default=0, description="Seed of the train/held-out split.")

    @model_validator(mode="after")
    def _window(self) -> DataConfig:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("data.since must be before data.until")
        return self


class VerifiableRewardSpec(_Section):
    """Reward 1 for an answer matching the reference (gold label), graded by ``match``."""

    kind: Literal["verifiable"] = "verifiable"
    weight: float = Field(
        default=1.0, description="Weight of this reward in the sum GRPO optimises."
    )
    match: Literal["exact", "normalized", "contains", "char_overlap"] = Field(
        default="normalized",
        description="exact: equal strings; normalized: equal after case/space folding; contains: "
        "the reference appears in the answer; char_overlap: share of positions that agree.",
    )


class RimRewardSpec(_Section):
    """The installed reward model (RIM) ranks each GRPO group in one call."""

    kind: Literal["rim"] = "rim"
    weight: float = Field(
        default=1.0, description="Weight of this reward in the sum GRPO optimises."
    )
    model: str = Field(default="rim", description="Reward model name in the plugin registry.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for the reward model factory."
    )


class TeachingRewardSpec(_Section):
    """The adaptive-teaching reward: the completion is guidance for a frozen student."""

    kind: Literal["teaching"] = "teaching"
    weight: float = Field(
        default=1.0, description="Weight of this reward in the sum GRPO optimises."
    )
    student: str = Field(
        description="Frozen student: a model id or path (transformers generate), or the model "
        "name at student_base_url."
    )
    student_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint serving the student (e.g. a vLLM server); "
        "unset: the student runs locally. The API key comes from ATLAS_LLM_API_KEY.",
    )
    guidance_template: str = Field(
        default="{prompt}\nHint: {guidance}\n",
        description="How guidance is shown to the student; fields {prompt} and {guidance}.",
    )
    student_max_new_tokens: int = Field(
        default=64, ge=1, description="Student answer length bound."
    )
    scorer: Literal["verifiable", "rim"] = Field(
        default="verifiable",
        description="What scores the student's answers: the reference, or RIM.",
    )
    match: Literal["exact", "normalized", "contains", "char_overlap"] = Field(
        default="normalized",
        description="Scorer 'verifiable': how answers are compared to the reference.",
    )
    degradation_penalty: float = Field(
        default=1.0,
        ge=0.0,
        description="Multiplies the score lost when guidance makes the student worse.",
    )
    efficiency_weight: float = Field(
        default=0.1,
        ge=0.0,
        description="Bonus for short guidance that leaves the student successful.",
    )
    length_budget: int = Field(
        default=64,
        ge=1,
        description="Guidance length (characters) at which the efficiency bonus is 0.",
    )
    success_threshold: float = Field(
        default=0.999,
        ge=0.0,
        le=1.0,
        description="Guided score counted as a success (efficiency, rates).",
    )


RewardSpec = Annotated[
    VerifiableRewardSpec | RimRewardSpec | TeachingRewardSpec, Field(discriminator="kind")
]


class GenerationConfig(_Section):
    """How GRPO samples completions."""

    backend: Literal["auto", "transformers", "vllm_server", "vllm_colocate"] = Field(
        default="transformers",
        description="transformers generate (default); vLLM through TRL's server or colocated "
        "with training (needs vllm installed); 'auto' colocates vLLM when installed with a GPU.",
    )
    vllm_server_base_url: str | None = Field(
        default=None, description="vllm_server: trl vllm-serve URL."
    )
    vllm_gpu_memory_utilization: float = Field(
        default=0.3, gt=0.0, le=1.0, description="vllm_colocate: GPU memory share vLLM may take."
    )
    temperature: float = Field(default=1.0, gt=0.0, description="Sampling temperature.")
    top_p: float = Field(default=1.0, gt=0.0, le=1.0, description="Nucleus sampling mass.")


class TrainingConfig(_Section):
    """Optimisation and lengths (mapped onto TRL's SFTConfig / GRPOConfig)."""

    output_dir: Path = Field(
        default=Path("runs/atlas-train"), description="Checkpoints and final model."
    )
    max_steps: int = Field(default=100, ge=1, description="Optimizer steps.")
    learning_rate: float = Field(default=1e-5, gt=0.0, description="Peak learning rate.")
    per_device_batch_size: int = Field(
        default=8, ge=1, description="Sequences per device per step."
    )
    gradient_accumulation_steps: int = Field(default=1, ge=1, description="Micro-batches per step.")
    warmup_ratio: float = Field(default=0.0, ge=0.0, lt=1.0, description="Linear warm-up share.")
    max_length: int = Field(default=1024, ge=8, description="SFT: tokens per example (truncated).")
    max_completion_length: int = Field(
        default=256, ge=1, description="GRPO: tokens per completion."
    )
    num_generations: int = Field(
        default=8, ge=2, description="GRPO: completions per prompt (group size)."
    )
    beta: float = Field(
        default=0.0, ge=0.0, description="GRPO: KL coefficient (0 = no reference model)."
    )
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo"] = Field(
        default="dapo", description="GRPO: loss aggregation (TRL's loss_type)."
    )
    epsilon: float = Field(default=0.2, gt=0.0, description="GRPO: clipping range.")
    gradient_checkpointing: bool = Field(default=False, description="Trade compute for memory.")
    logging_steps: int = Field(default=10, ge=1, description="Metrics every this many steps.")
    save_steps: int = Field(default=100, ge=1, description="Checkpoint every this many steps.")
    seed: int = Field(default=0, description="Training seed.")
    use_cpu: bool = Field(default=False, description="Train on the CPU even when a GPU is present.")

    @model_validator(mode="after")
    def _groups_fit(self) -> TrainingConfig:
        batch = self.per_device_batch_size * self.gradient_accumulation_steps
        if batch % self.num_generations:
            raise ValueError(
                f"training.per_device_batch_size x gradient_accumulation_steps ({batch}) must be "
                f"a multiple of training.num_generations ({self.num_generations})"
            )
        return self


def _default_rewards() -> list[RewardSpec]:
    return [VerifiableRewardSpec()]


class GuardConfig(_Section):
    """When to stop a run early and keep the last good checkpoint."""

    reward_std_min: float = Field(
        default=1e-6,
        ge=0.0,
        description="Reward standard deviation at or below this counts as collapsed.",
    )
    reward_std_patience: int = Field(
        default=3, ge=1, description="Stop after this many consecutive collapsed logging steps."
    )
    max_kl: float | None = Field(
        default=None, gt=0.0, description="Stop when the logged KL exceeds this (needs beta > 0)."
    )
    snapshot_every: int = Field(
        default=5,
        ge=1,
        description="Save the last good model every this many healthy logging steps (a full "
        "save of the weights, or of the adapter with LoRA: keep it rare for large models).",
    )


class TrackingConfig(_Section):
    """Where metrics go besides the console and the Store."""

    report_to: list[Literal["wandb", "mlflow", "tensorboard"]] = Field(
        default_factory=list, description="Optional trackers (must be installed)."
    )
    console: bool = Field(
        default=True, description="Rich progress and metric tables on the console."
    )


class RegistryConfig(_Section):
    """How the result is registered in the Store."""

    name: str = Field(default="atlas-model", min_length=1, description="Model version family name.")
    parent_version_id: str | None = Field(
        default=None, description="Version this one was trained from."
    )


class TrainConfig(_Section):
    """One training run: ``atlas train sft|grpo --config FILE``."""

    model: ModelConfig
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    rewards: list[RewardSpec] = Field(
        default_factory=_default_rewards, description="GRPO reward functions."
    )
    guards: GuardConfig = Field(default_factory=GuardConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)


def load_train_config(path: Path | str) -> TrainConfig:
    """Reads and validates a YAML training config; ``ConfigError`` names the file and field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read training config: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the training config must be a mapping")
    return parse_train_config(raw, source=str(path))


def parse_train_config(raw: dict[str, Any], *, source: str = "config") -> TrainConfig:
    """Validates a mapping as a TrainConfig; ``ConfigError`` names each bad field."""
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}") from exc

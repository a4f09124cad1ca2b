"""Which optional accelerators are present: flash-attention, vLLM, DeepSpeed.

They are extras of atlas-grpo (they need a GPU to build or run), so they are looked up,
never imported at module load; the choice follows what is installed and what the
config asks for, and asking for one that is missing is a clear error.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import torch

from atlas_core.errors import ConfigError
from atlas_grpo.config import GenerationConfig, ModelConfig

__all__ = [
    "GenerationPlan",
    "attention_implementation",
    "generation_plan",
    "has_module",
    "torch_dtype",
]


def has_module(name: str) -> bool:
    """Whether ``name`` can be imported (without importing it)."""
    return importlib.util.find_spec(name) is not None


def attention_implementation(cfg: ModelConfig, *, cuda: bool | None = None) -> str:
    """For 'auto': flash_attention_2 when installed on a GPU, else SDPA; otherwise as asked."""
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if cfg.attn_implementation == "auto":
        return "flash_attention_2" if cuda and has_module("flash_attn") else "sdpa"
    if cfg.attn_implementation == "flash_attention_2" and not has_module("flash_attn"):
        raise ConfigError(
            "model.attn_implementation: flash_attention_2 needs flash-attn "
            "(pip install 'atlas-grpo[flash-attn]'), or use 'auto' / 'sdpa'"
        )
    return cfg.attn_implementation


def torch_dtype(cfg: ModelConfig, *, cuda: bool | None = None) -> torch.dtype:
    """The weights dtype; 'auto' is bfloat16 on a GPU that supports it, else float32."""
    cuda = torch.cuda.is_available() if cuda is None else cuda
    if cfg.dtype == "auto":
        return torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
        cfg.dtype
    ]


@dataclass(frozen=True)
class GenerationPlan:
    """How GRPO samples: TRL's ``use_vllm`` and ``vllm_mode`` settings."""

    use_vllm: bool
    vllm_mode: str | None


def generation_plan(cfg: GenerationConfig, *, cuda: bool | None = None) -> GenerationPlan:
    """Resolves ``generation.backend`` against what is installed."""
    cuda = torch.cuda.is_available() if cuda is None else cuda
    vllm = has_module("vllm")
    if cfg.backend == "auto":
        return GenerationPlan(True, "colocate") if vllm and cuda else GenerationPlan(False, None)
    if cfg.backend == "transformers":
        return GenerationPlan(False, None)
    if not vllm:
        raise ConfigError(
            f"generation.backend: {cfg.backend} needs vllm (pip install vllm, the build matching "
            "your torch), "
            "or use 'transformers'"
        )
    return GenerationPlan(True, "server" if cfg.backend == "vllm_server" else "colocate")

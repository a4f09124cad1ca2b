"""Optional accelerators: chosen when installed, refused clearly when asked for but missing."""

from __future__ import annotations

import pytest
import torch

from atlas_core.errors import ConfigError
from atlas_grpo import backends
from atlas_grpo.backends import attention_implementation, generation_plan, torch_dtype
from atlas_grpo.config import GenerationConfig, ModelConfig


def model(**kw: object) -> ModelConfig:
    return ModelConfig(name_or_path="m", **kw)  # type: ignore[arg-type]


def test_attention_auto_is_flash_only_with_flash_attn_on_a_gpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backends, "has_module", lambda name: name == "flash_attn")
    assert attention_implementation(model(), cuda=True) == "flash_attention_2"
    assert attention_implementation(model(), cuda=False) == "sdpa"
    monkeypatch.setattr(backends, "has_module", lambda name: False)
    assert attention_implementation(model(), cuda=True) == "sdpa"
    assert attention_implementation(model(attn_implementation="eager"), cuda=True) == "eager"
    with pytest.raises(ConfigError, match="flash_attention_2 needs flash-attn"):
        attention_implementation(model(attn_implementation="flash_attention_2"), cuda=True)


def test_generation_backend_follows_what_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "has_module", lambda name: False)
    assert generation_plan(GenerationConfig(), cuda=True) == backends.GenerationPlan(False, None)
    assert generation_plan(GenerationConfig(backend="auto"), cuda=True).use_vllm is False
    with pytest.raises(ConfigError, match="vllm_server needs vllm"):
        generation_plan(GenerationConfig(backend="vllm_server"), cuda=True)
    monkeypatch.setattr(backends, "has_module", lambda name: name == "vllm")
    assert generation_plan(GenerationConfig(backend="auto"), cuda=True).vllm_mode == "colocate"
    assert generation_plan(GenerationConfig(backend="auto"), cuda=False).use_vllm is False
    assert generation_plan(GenerationConfig(backend="vllm_server"), cuda=True).vllm_mode == "server"


def test_this_machine_really_has_no_optional_extras_imported_at_load() -> None:
    import sys

    import atlas_grpo.runner  # noqa: F401

    for name in ("vllm", "flash_attn", "deepspeed"):
        assert name not in sys.modules


def test_dtype_auto_is_float32_on_cpu() -> None:
    assert torch_dtype(model(), cuda=False) == torch.float32
    assert torch_dtype(model(dtype="bfloat16"), cuda=False) == torch.bfloat16

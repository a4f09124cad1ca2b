"""Loading the model being trained: tokenizer, weights, attention kernel, LoRA adapters."""

from __future__ import annotations

from typing import Any

from atlas_grpo.backends import attention_implementation, torch_dtype
from atlas_grpo.config import ModelConfig

__all__ = ["load_model", "load_tokenizer", "peft_config"]


def load_tokenizer(name_or_path: str) -> Any:
    """The tokenizer, with a pad token (the EOS token when the tokenizer has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(cfg: ModelConfig) -> Any:
    """The causal LM named by the config, with the attention kernel and dtype resolved."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(
        cfg.name_or_path,
        dtype=torch_dtype(cfg),
        attn_implementation=attention_implementation(cfg),
    )


def peft_config(cfg: ModelConfig) -> Any:
    """A peft LoraConfig when adapters are enabled, else None (full fine-tuning)."""
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
        task_type="CAUSAL_LM",
    )

"""The Atlas training config mapped onto TRL's ``SFTConfig`` and ``GRPOConfig``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from atlas_grpo.backends import generation_plan, torch_dtype
from atlas_grpo.config import TrainConfig

__all__ = ["common_args", "grpo_args", "sft_args"]


def common_args(cfg: TrainConfig, output_dir: Path) -> dict[str, Any]:
    """The TrainingArguments both trainers share."""
    t = cfg.training
    use_cpu = t.use_cpu or not torch.cuda.is_available()
    dtype = torch_dtype(cfg.model, cuda=not use_cpu)
    return {
        "output_dir": str(output_dir),
        "max_steps": t.max_steps,
        "learning_rate": t.learning_rate,
        "per_device_train_batch_size": t.per_device_batch_size,
        "gradient_accumulation_steps": t.gradient_accumulation_steps,
        "warmup_steps": t.warmup_ratio,  # a float below 1 is a share of max_steps
        "activation_checkpointing": t.gradient_checkpointing,
        "logging_steps": t.logging_steps,
        "save_strategy": "steps",
        "save_steps": t.save_steps,
        "save_total_limit": 2,
        "seed": t.seed,
        "use_cpu": use_cpu,
        "bf16": dtype == torch.bfloat16,
        "fp16": dtype == torch.float16,
        "report_to": list(cfg.tracking.report_to) or "none",
        # The rich progress of MetricsCallback replaces the tqdm bar and the raw log print.
        "disable_tqdm": cfg.tracking.console,
        "dataloader_num_workers": 0,
    }


def sft_args(cfg: TrainConfig, output_dir: Path) -> Any:
    """TRL SFTConfig for the warm-up: loss on the completion only, EOS appended."""
    from trl.trainer.sft_config import SFTConfig

    return SFTConfig(
        **common_args(cfg, output_dir),
        max_length=cfg.training.max_length,
        completion_only_loss=True,
    )


def grpo_args(cfg: TrainConfig, output_dir: Path, reward_weights: list[float]) -> Any:
    """TRL GRPOConfig: group size, lengths, KL beta, loss type, clipping, generation backend."""
    from trl.trainer.grpo_config import GRPOConfig

    t, g = cfg.training, cfg.generation
    plan = generation_plan(g, cuda=not (t.use_cpu or not torch.cuda.is_available()))
    extra: dict[str, Any] = {}
    if plan.use_vllm:
        extra = {"use_vllm": True, "vllm_mode": plan.vllm_mode}
        if plan.vllm_mode == "server" and g.vllm_server_base_url:
            extra["vllm_server_base_url"] = g.vllm_server_base_url
        if plan.vllm_mode == "colocate":
            extra["vllm_gpu_memory_utilization"] = g.vllm_gpu_memory_utilization
    return GRPOConfig(
        **common_args(cfg, output_dir),
        num_generations=t.num_generations,
        max_completion_length=t.max_completion_length,
        temperature=g.temperature,
        top_p=g.top_p,
        beta=t.beta,
        loss_type=t.loss_type,
        epsilon=t.epsilon,
        reward_weights=reward_weights,
        **extra,
    )

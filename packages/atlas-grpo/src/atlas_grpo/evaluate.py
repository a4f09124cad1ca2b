"""Held-out evaluation: greedy answers to held-out prompts, scored by the reward functions."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

from atlas_grpo.sync import run_sync

__all__ = ["evaluate_rewards", "generate_greedy", "render_prompt"]

RewardFunc = Callable[..., Any]


def render_prompt(prompt: Any, tokenizer: Any) -> str:
    """The text a model is given: a chat prompt through the chat template, text verbatim."""
    if isinstance(prompt, str):
        return prompt
    text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    return str(text)


@torch.inference_mode()
def generate_greedy(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Any],
    *,
    max_new_tokens: int,
    batch_size: int = 64,
) -> list[str]:
    """Greedy completions, decoded without special tokens."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[str] = []
    try:
        for start in range(0, len(prompts), batch_size):
            texts = [render_prompt(p, tokenizer) for p in prompts[start : start + batch_size]]
            enc = tokenizer(
                texts,
                return_tensors="pt",
                padding=True,
                padding_side="left",
                add_special_tokens=False,
            ).to(device)
            ids = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            out.extend(
                tokenizer.batch_decode(
                    ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
                )
            )
    finally:
        model.train(was_training)
    return out


def evaluate_rewards(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    reward_funcs: Sequence[RewardFunc],
    weights: Sequence[float],
    *,
    max_new_tokens: int,
    prefix: str = "eval",
) -> dict[str, float]:
    """Mean reward per function (``<prefix>/<name>``) and weighted total (``<prefix>/reward``).

    Rows a function leaves unscored (None) do not count in its mean.
    """
    if not rows:
        return {}
    prompts = [r["prompt"] for r in rows]
    completions = generate_greedy(model, tokenizer, prompts, max_new_tokens=max_new_tokens)
    columns = {k: [r.get(k) for r in rows] for k in rows[0] if k != "prompt"}
    metrics: dict[str, float] = {}
    total = 0.0
    for func, weight in zip(reward_funcs, weights, strict=True):
        result = func(prompts=prompts, completions=completions, **columns)
        if inspect.isawaitable(result):
            result = run_sync(_awaited(result))
        scored = [float(v) for v in result if v is not None]
        mean = sum(scored) / len(scored) if scored else 0.0
        metrics[f"{prefix}/{getattr(func, '__name__', 'reward')}"] = mean
        total += weight * mean
    metrics[f"{prefix}/reward"] = total
    return metrics


async def _awaited(value: Any) -> Any:
    return await value

"""The frozen student of the adaptive-teaching reward, over a Hugging Face causal LM.

Any callable ``(prompts, guidance) -> answers`` is a student (``rewards.teaching.Student``);
this one runs ``transformers`` greedy generation so the same guidance always gets the
same answer, which keeps the reward a function of the guidance alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from atlas_grpo.modeling import load_tokenizer

__all__ = ["HFStudent"]


class HFStudent:
    """A frozen causal LM answering prompts, each with optional guidance, greedily in batches."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        guidance_template: str = "{prompt}\nHint: {guidance}\n",
        max_new_tokens: int = 64,
        batch_size: int = 32,
    ) -> None:
        if "{prompt}" not in guidance_template or "{guidance}" not in guidance_template:
            raise ValueError("guidance_template must contain {prompt} and {guidance}")
        self.model = model.eval()
        for param in self.model.parameters():
            param.requires_grad_(False)
        self.tokenizer = tokenizer
        self.guidance_template = guidance_template
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.calls = 0
        """Sequences generated so far."""

    @classmethod
    def from_pretrained(cls, name_or_path: str, **kwargs: Any) -> HFStudent:
        """Loads the student model and tokenizer (on the GPU when there is one)."""
        from transformers import AutoModelForCausalLM

        device = "cuda" if torch.cuda.is_available() else "cpu"
        model: Any = AutoModelForCausalLM.from_pretrained(name_or_path)
        model = model.to(device)
        return cls(model, load_tokenizer(name_or_path), **kwargs)

    def compose(self, prompt: str, guidance: str | None) -> str:
        """The text the student reads."""
        if guidance is None:
            return prompt
        return self.guidance_template.format(prompt=prompt, guidance=guidance)

    @torch.inference_mode()
    def __call__(self, prompts: Sequence[str], guidance: Sequence[str | None]) -> list[str]:
        """One greedy answer per prompt."""
        if len(prompts) != len(guidance):
            raise ValueError(f"{len(prompts)} prompts but {len(guidance)} guidance entries")
        texts = [self.compose(p, g) for p, g in zip(prompts, guidance, strict=True)]
        answers: list[str] = []
        device = next(self.model.parameters()).device
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start : start + self.batch_size]
            enc = self.tokenizer(chunk, return_tensors="pt", padding=True, padding_side="left").to(
                device
            )
            out = self.model.generate(
                **enc,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
            new = out[:, enc["input_ids"].shape[1] :]
            answers.extend(self.tokenizer.batch_decode(new, skip_special_tokens=True))
        self.calls += len(texts)
        return answers

"""A frozen student served behind any OpenAI-compatible endpoint (vLLM, Ollama, a provider).

For the adaptive-teaching reward when the student is not a local ``transformers`` model:
each prompt (with the guidance composed in) is one chat call, run concurrently within the
endpoint's concurrency bound, at temperature 0 so the same guidance gets the same answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from atlas_core.llm import ChatClient, Endpoint
from atlas_grpo.sync import run_sync

__all__ = ["EndpointStudent"]


class EndpointStudent:
    """Student protocol over ``atlas_core.llm``: ``(prompts, guidance) -> answers``."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        guidance_template: str = "{prompt}\nHint: {guidance}\n",
        system: str | None = None,
        max_tokens: int = 256,
    ) -> None:
        if "{prompt}" not in guidance_template or "{guidance}" not in guidance_template:
            raise ValueError("guidance_template must contain {prompt} and {guidance}")
        self.endpoint = endpoint
        self.guidance_template = guidance_template
        self.system = system
        self.max_tokens = max_tokens

    def compose(self, prompt: str, guidance: str | None) -> str:
        """The user message the student reads."""
        if guidance is None:
            return prompt
        return self.guidance_template.format(prompt=prompt, guidance=guidance)

    def __call__(self, prompts: Sequence[str], guidance: Sequence[str | None]) -> list[str]:
        """One answer per prompt; an endpoint failure raises ``atlas_core.llm.LLMError``."""
        if len(prompts) != len(guidance):
            raise ValueError(f"{len(prompts)} prompts but {len(guidance)} guidance entries")
        texts = [self.compose(p, g) for p, g in zip(prompts, guidance, strict=True)]
        return run_sync(self._answer_all(texts))

    async def _answer_all(self, texts: list[str]) -> list[str]:
        async with ChatClient(self.endpoint) as client:

            async def one(text: str) -> str:
                messages = [{"role": "user", "content": text}]
                if self.system is not None:
                    messages.insert(0, {"role": "system", "content": self.system})
                reply = await client.chat(messages, temperature=0.0, max_tokens=self.max_tokens)
                return reply.text

            return list(await asyncio.gather(*(one(t) for t in texts)))

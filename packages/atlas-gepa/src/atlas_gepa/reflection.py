"""The reflection model: any OpenAI-compatible endpoint, as GEPA's ``LanguageModel``.

GEPA calls ``reflection_lm(prompt) -> str`` with a prompt built from the reflective dataset
and expects the new template text inside a fenced block. :class:`ReflectionLM` sends it
through :mod:`atlas_core.llm` (retries, back-off, timeouts) and meters the tokens for the
cost budget. :func:`reflection_prompts` gives each role a prompt that states the
placeholders its template must keep, so proposals stay valid templates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from atlas_core.llm import Endpoint, SyncChatClient
from atlas_core.runtime import Role
from atlas_core.runtime.templates import VARIABLES
from atlas_gepa.adapter import SpendMeter
from atlas_gepa.cache import RunCache

__all__ = ["ReflectionLM", "reflection_prompts"]


class ReflectionLM:
    """``__call__(prompt) -> str`` over one chat endpoint; counts tokens into ``meter``.

    An endpoint error propagates: GEPA logs it, skips that proposal and goes on (the run
    is configured not to raise on a failed iteration).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        meter: SpendMeter,
        *,
        temperature: float | None = None,
        cache: RunCache | None = None,
    ):
        self.endpoint = endpoint
        self.meter = meter
        self.temperature = temperature
        self.cache = cache
        self.total_tokens_in = 0
        self.total_tokens_out = 0
        self._client: SyncChatClient | None = None

    @property
    def total_cost(self) -> float:
        """Money is not known for an arbitrary endpoint; the budget counts tokens instead."""
        return 0.0

    def __call__(self, prompt: str | Sequence[dict[str, Any]]) -> str:
        """The model's answer to ``prompt`` (a string, or chat messages)."""
        messages = (
            [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        )
        key = "reflect:" + hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return str(hit)  # answered before an interruption: not paid for twice
        if self._client is None:
            self._client = SyncChatClient(self.endpoint)
        response = self._client.chat(messages, temperature=self.temperature)
        self.total_tokens_in += response.usage.prompt_tokens
        self.total_tokens_out += response.usage.completion_tokens
        self.meter.add(reflection_tokens=response.usage.total_tokens)
        if self.cache is not None:
            self.cache.put_many({key: response.text})
        return response.text

    def close(self) -> None:
        """Closes the HTTP pool."""
        if self._client is not None:
            self._client.close()
            self._client = None


_PROMPT = """I run an AI system in which the template below is one prompt. It is a template: \
placeholders like ${{task}} are replaced by real values before it is sent.
Role of this template: {role}. Its placeholders: {allowed}; it must keep {required}, written \
exactly like that. Write a literal dollar sign as $$.

The current template:
```
<curr_param>
```

Below are tasks the system was given, what this template's step produced, the final answer, \
and feedback: a score, a judge's rationale, the correct answer when known, and what users said:
```
<side_info>
```

Work out what the task really asks for, what went wrong and what a good answer looks like, \
and write an improved template that makes the system do better on such tasks. Keep the \
placeholders. Give the new template, and nothing else, within ``` blocks."""


def reflection_prompts(roles: Sequence[Role]) -> dict[str, str]:
    """GEPA's ``reflection_prompt_template`` per component (``<curr_param>`` and
    ``<side_info>`` are GEPA's slots)."""
    out = {}
    for role in roles:
        allowed, required = VARIABLES[Role(role)]
        out[Role(role).value] = _PROMPT.format(
            role=Role(role).value,
            allowed=", ".join("${" + v + "}" for v in sorted(allowed)),
            required=", ".join("${" + v + "}" for v in sorted(required)),
        )
    return out

"""The chat-completions wire format and the retry rule, shared by the sync and async clients."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from atlas_core.errors import InvalidArgumentError
from atlas_core.llm.endpoint import Endpoint
from atlas_core.llm.errors import LLMResponseError

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
"""Answers that say "try again later" rather than "this request is wrong"."""

MAX_RETRY_AFTER_S = 60.0
"""A Retry-After longer than this is capped: a caller would rather fail than hang."""


@dataclass(frozen=True)
class Usage:
    """Tokens one call spent, as the endpoint reported them (0 when it did not)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class ChatResponse:
    """One chat completion: the first choice's text and what it cost."""

    text: str
    """The assistant message content verbatim ("" when the model only called tools)."""
    model: str
    """The model that answered, as the endpoint named it."""
    usage: Usage
    latency_s: float
    """Wall time of the whole call, retries and back-off included."""
    attempts: int
    """HTTP attempts made (1 when the first succeeded)."""
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    """The decoded response body, for whatever else a caller needs."""


def request_body(
    endpoint: Endpoint,
    messages: Sequence[Mapping[str, Any]],
    *,
    temperature: float | None,
    max_tokens: int | None,
    response_format: Mapping[str, Any] | None,
    tools: Sequence[Mapping[str, Any]] | None,
    model: str | None,
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The JSON body of one request; refuses messages a server would reject anyway."""
    if not messages:
        raise InvalidArgumentError("messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message:
            raise InvalidArgumentError(f"messages[{i}]: a message is a mapping with a 'role'")
    body: dict[str, Any] = {
        "model": model or endpoint.model,
        "messages": [dict(m) for m in messages],
    }
    if temperature is not None:
        if not 0.0 <= temperature <= 2.0:
            raise InvalidArgumentError(f"temperature: must be in [0, 2], got {temperature}")
        body["temperature"] = temperature
    if max_tokens is not None:
        if max_tokens < 1:
            raise InvalidArgumentError(f"max_tokens: must be >= 1, got {max_tokens}")
        body["max_tokens"] = max_tokens
    if response_format is not None:
        body["response_format"] = dict(response_format)
    if tools:
        body["tools"] = [dict(t) for t in tools]
    if extra:
        body.update(extra)
    return body


def headers(endpoint: Endpoint) -> dict[str, str]:
    """Request headers: JSON, and the bearer key when there is one."""
    out = {"Content-Type": "application/json", "Accept": "application/json"}
    if endpoint.api_key:
        out["Authorization"] = f"Bearer {endpoint.api_key}"
    return out


def parse_response(
    content: bytes, url: str
) -> tuple[str, str, Usage, str | None, list[Any], dict[str, Any]]:
    """Text, model, usage, finish reason, tool calls and the decoded body of a 200 answer."""
    try:
        body = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LLMResponseError(f"{url}: the response body is not JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise LLMResponseError(f"{url}: the response body is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LLMResponseError(f"{url}: the response has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise LLMResponseError(f"{url}: choices[0] has no message")
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise LLMResponseError(f"{url}: choices[0].message.content is not a string")
    tool_calls = message.get("tool_calls") or []
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    assert isinstance(usage, dict)
    prompt = _count(usage.get("prompt_tokens"))
    completion = _count(usage.get("completion_tokens"))
    total = _count(usage.get("total_tokens")) or prompt + completion
    return (
        text,
        str(body.get("model") or ""),
        Usage(prompt, completion, total),
        choices[0].get("finish_reason"),
        tool_calls if isinstance(tool_calls, list) else [],
        body,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def retry_delay(endpoint: Endpoint, attempt: int, retry_after: str | None) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): the server's Retry-After
    when it sent one, else exponential back-off with full jitter (so clients spread out)."""
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_AFTER_S)
        except ValueError:
            pass  # an HTTP date: fall back to our own back-off
    return random.uniform(0.0, endpoint.backoff_s * (2 ** (attempt - 1)))

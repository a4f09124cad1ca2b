"""What TRL hands a reward function, as plain text and as chat messages.

TRL passes prompts and completions either as strings (standard format) or as lists
of ``{"role", "content"}`` messages (conversational format); rewards work on both.
"""

from __future__ import annotations

from typing import Any

__all__ = ["as_messages", "as_text"]


def as_text(value: Any) -> str:
    """A completion or prompt as text: a string verbatim, messages as their last content."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict):
        return str(value[-1].get("content") or "")
    if isinstance(value, list) and not value:
        return ""
    raise TypeError(f"expected a string or a list of messages, got {type(value).__name__}")


def as_messages(prompt: Any) -> list[dict[str, Any]]:
    """A prompt as chat messages: a string becomes one user message."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, list) and all(isinstance(m, dict) for m in prompt):
        return [dict(m) for m in prompt]
    raise TypeError(f"expected a string or a list of messages, got {type(prompt).__name__}")

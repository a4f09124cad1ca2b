"""The ``Agent`` protocol every adapter implements, and what one call returns.

An agent takes a conversation (a list of ``{"role", "content"}`` messages) and answers
with text. It is called by the runtime both from plain code (``run``) and from asyncio
code (``arun``); each adapter implements both natively, so neither path blocks or spins
up an event loop behind the caller's back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from atlas_core.errors import InvalidArgumentError

__all__ = ["Agent", "AgentReply", "Message", "check_messages", "messages_as_text"]

Message = Mapping[str, Any]
"""One chat message: at least ``role`` and ``content``."""


@dataclass(frozen=True)
class AgentReply:
    """One answer of an agent and what it cost."""

    text: str
    """The answer, verbatim."""
    model: str | None = None
    """The model (version) that answered, when the agent knows it."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0
    """Wall time of the call, retries included."""
    attempts: int = 1
    """Attempts it took (1 when the first succeeded)."""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Tool calls the model asked for (OpenAI shape), passed through untouched."""


@runtime_checkable
class Agent(Protocol):
    """Something that answers a conversation: a function, a chat model, an HTTP service.

    ``run`` and ``arun`` answer the same way; failures raise
    :class:`~atlas_core.runtime.errors.AgentError` (or a subclass), never anything else.
    """

    name: str
    """A stable identifier of what answers (e.g. ``"openai:gpt-4o-mini"``); it is recorded
    as the model version of every call the agent makes."""

    def run(self, messages: Sequence[Message]) -> AgentReply:
        """Answers ``messages``, blocking."""
        ...

    async def arun(self, messages: Sequence[Message]) -> AgentReply:
        """Answers ``messages`` without blocking the event loop."""
        ...


def check_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """``messages`` as a list of plain dicts; InvalidArgumentError naming the bad one."""
    candidate: object = messages  # callers outside the type checker may pass anything
    if isinstance(candidate, str | bytes) or not isinstance(candidate, Sequence) or not messages:
        raise InvalidArgumentError(
            "invalid argument `messages`: a non-empty list of {role, content} dicts"
        )
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            raise InvalidArgumentError(
                f"invalid argument `messages[{i}]`: a dict with a str `role`, got {message!r}"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise InvalidArgumentError(
                f"invalid argument `messages[{i}].content`: str or list, got {content!r}"
            )
        out.append(dict(message))
    return out


def messages_as_text(messages: Sequence[Message]) -> str:
    """The conversation as one prompt for agents that take text: the contents joined by blank
    lines (a lone user message is just its content)."""
    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str) and content:
            parts.append(content)
    return "\n\n".join(parts)

"""What the judges need of a chat client: the core ``ChatClient`` has it (it spreads its
calls over small connection pools, which a burst of judge calls needs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from atlas_core.llm import ChatResponse

__all__ = ["Chat"]


class Chat(Protocol):
    """What the ensemble needs of a chat client (``atlas_core.llm.ChatClient`` has it)."""

    async def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        model: str | None = None,
    ) -> ChatResponse:
        """One chat completion, or an ``LLMError``."""
        ...

    async def aclose(self) -> None:
        """Releases connections."""
        ...

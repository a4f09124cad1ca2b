"""``ChatAgent``: any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, ...) as an agent."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from atlas_core.config.models import LLMEndpointConfig
from atlas_core.llm import (
    ChatClient,
    ChatResponse,
    Endpoint,
    LLMError,
    LLMResponseError,
    LLMStatusError,
    LLMTimeoutError,
    SyncChatClient,
)
from atlas_core.runtime.agent import AgentReply, Message, check_messages
from atlas_core.runtime.errors import (
    AgentError,
    AgentResponseError,
    AgentStatusError,
    AgentTimeoutError,
)

__all__ = ["ChatAgent"]


class ChatAgent:
    """Answers with one chat completion of ``endpoint``'s model.

    ``system`` (optional) is sent as the first message of every call. ``tools`` (OpenAI
    tool specs) are sent with every call and the model's ``tool_calls`` are
    passed through in the reply; ``temperature``, ``max_tokens`` and ``extra`` (any other
    request fields) likewise. Retries, back-off and timeouts are the client's
    (:class:`~atlas_core.llm.Endpoint`). Client errors become the runtime's
    :class:`~atlas_core.runtime.errors.AgentError` subclasses.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        name: str | None = None,
        system: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.name = name or endpoint.model
        self.system = system
        self.tools = list(tools) if tools is not None else None
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.extra = dict(extra) if extra is not None else None
        self._sync: SyncChatClient | None = None
        # An async HTTP pool belongs to the event loop that opened it: one client per loop.
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ChatClient] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def from_env(cls, prefix: str = "ATLAS_LLM", **options: Any) -> ChatAgent:
        """An agent on ``Endpoint.from_env(prefix)`` (``PREFIX_BASE_URL``, ``PREFIX_MODEL``,
        ``PREFIX_API_KEY``); ``options`` go to the constructor."""
        return cls(Endpoint.from_env(prefix), **options)

    @classmethod
    def from_config(cls, config: LLMEndpointConfig, **options: Any) -> ChatAgent:
        """An agent on a configured endpoint (``runtime.student`` / ``runtime.teacher`` of
        ``atlas.yaml``); ``options`` go to the constructor."""
        key = config.api_key.get_secret_value() if config.api_key is not None else None
        endpoint = Endpoint(
            config.base_url,
            config.model,
            api_key=key,
            timeout_s=config.timeout_s,
            max_retries=config.max_retries,
        )
        return cls(endpoint, **options)

    def _messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        checked = check_messages(messages)
        if self.system is None:
            return checked
        return [{"role": "system", "content": self.system}, *checked]

    def _arguments(self) -> dict[str, Any]:
        return {
            "tools": self.tools,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "extra": self.extra,
        }

    def run(self, messages: Sequence[Message]) -> AgentReply:
        """One blocking chat completion."""
        checked = self._messages(messages)
        if self._sync is None:
            self._sync = SyncChatClient(self.endpoint)
        try:
            response = self._sync.chat(checked, **self._arguments())
        except LLMError as exc:
            raise self._translate(exc) from exc
        return self._reply(response)

    async def arun(self, messages: Sequence[Message]) -> AgentReply:
        """One chat completion on the running event loop."""
        checked = self._messages(messages)
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = ChatClient(self.endpoint)
        try:
            response = await client.chat(checked, **self._arguments())
        except LLMError as exc:
            raise self._translate(exc) from exc
        return self._reply(response)

    def close(self) -> None:
        """Closes the blocking client's connection pool (async pools: :meth:`aclose`)."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Closes the running loop's async connection pool and the blocking one."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()

    def _reply(self, response: ChatResponse) -> AgentReply:
        return AgentReply(
            text=response.text,
            model=response.model or self.name,
            prompt_tokens=response.usage.prompt_tokens,
            completion_tokens=response.usage.completion_tokens,
            latency_s=response.latency_s,
            attempts=response.attempts,
            tool_calls=list(response.tool_calls),
        )

    def _translate(self, exc: LLMError) -> AgentError:
        message = f"agent {self.name}: {exc}"
        if isinstance(exc, LLMTimeoutError):
            return AgentTimeoutError(message)
        if isinstance(exc, LLMStatusError):
            return AgentStatusError(message, exc.status, exc.body)
        if isinstance(exc, LLMResponseError):
            return AgentResponseError(message)
        return AgentError(message)

"""How the judges reach the endpoint: the core chat client, spread over a few small pools.

One ``ChatClient`` with 32 calls in flight spends most of its CPU in httpcore's connection
pool, which rescans every connection on every request and response (quadratic in the pool
size): measured here, 32 calls in flight through one client reached ~70 calls/s against a
50 ms fixture server, the same 32 spread over four clients of 8 reached 170-440 calls/s.
:class:`ShardedChat` keeps the endpoint's total ``max_concurrency`` and sends each call to
the least busy of ``ceil(max_concurrency / 8)`` clients.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from atlas_core.llm import ChatClient, ChatResponse, Endpoint

__all__ = ["Chat", "ShardedChat"]

SHARD_CONCURRENCY = 8
"""Calls in flight per underlying client, at most."""


class Chat(Protocol):
    """What the ensemble needs of a chat client (``ChatClient`` and ``ShardedChat`` have it)."""

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


class ShardedChat:
    """Several ``ChatClient`` of one endpoint whose limits add up to its ``max_concurrency``."""

    def __init__(self, endpoint: Endpoint) -> None:
        shards = math.ceil(endpoint.max_concurrency / SHARD_CONCURRENCY)
        base, extra = divmod(endpoint.max_concurrency, shards)
        self.sizes = [base + (1 if i < extra else 0) for i in range(shards)]
        self._endpoint = endpoint
        # Created on first use: each loads the TLS trust store (tens of ms), which a model
        # answering from its cache should not pay.
        self._clients: list[ChatClient | None] = [None] * shards
        self._busy = [0] * shards

    async def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        model: str | None = None,
    ) -> ChatResponse:
        """One chat completion through the least busy client (retries are the client's)."""
        i = min(range(len(self.sizes)), key=lambda j: self._busy[j] / self.sizes[j])
        client = self._clients[i]
        if client is None:
            client = ChatClient(replace(self._endpoint, max_concurrency=self.sizes[i]))
            self._clients[i] = client
        self._busy[i] += 1
        try:
            return await client.chat(
                messages,
                temperature=temperature,
                max_tokens=max_tokens,
                response_format=response_format,
                model=model,
            )
        finally:
            self._busy[i] -= 1

    async def aclose(self) -> None:
        """Closes every client."""
        for client in self._clients:
            if client is not None:
                await client.aclose()
        self._clients = [None] * len(self.sizes)

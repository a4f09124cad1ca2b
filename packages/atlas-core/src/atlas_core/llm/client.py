"""Chat clients for any OpenAI-compatible endpoint, async and blocking, over httpx.

Both make the same requests and apply the same rule: a timeout, a connection error,
a 429 or a 5xx is retried with back-off (the server's Retry-After first) up to
``Endpoint.max_retries`` times; any other HTTP error fails at once. Concurrency is
bounded per client, so a burst of judge calls queues here instead of at the server.

The async client spreads its calls over several small httpx pools (at most
:data:`POOL_SIZE` connections each): httpcore rescans every connection of a pool on each
request and response, so one pool of 32 connections spent most of the CPU there (measured:
~70 calls/s through one pool of 32 against a 50 ms server, 170-440 calls/s through four of 8).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from atlas_core.llm import wire
from atlas_core.llm.endpoint import Endpoint
from atlas_core.llm.errors import LLMStatusError, LLMTimeoutError
from atlas_core.llm.wire import ChatResponse

_TRANSIENT = (httpx.TimeoutException, httpx.TransportError)

POOL_SIZE = 8
"""Most connections in one httpx pool of the async client (see the module docstring)."""


def _limits(size: int) -> httpx.Limits:
    return httpx.Limits(max_connections=size, max_keepalive_connections=size)


def pool_sizes(max_concurrency: int) -> list[int]:
    """How ``max_concurrency`` connections are split into pools of at most :data:`POOL_SIZE`."""
    pools = math.ceil(max_concurrency / POOL_SIZE)
    base, extra = divmod(max_concurrency, pools)
    return [base + (1 if i < extra else 0) for i in range(pools)]


def _response(http: httpx.Response, url: str, started: float, attempts: int) -> ChatResponse:
    text, model, usage, finish, tool_calls, raw = wire.parse_response(http.content, url)
    return ChatResponse(
        text=text,
        model=model,
        usage=usage,
        latency_s=time.perf_counter() - started,
        attempts=attempts,
        finish_reason=finish,
        tool_calls=tool_calls,
        raw=raw,
    )


def _delay_or_raise(
    ep: Endpoint, attempt: int, http: httpx.Response | None, exc: Exception | None
) -> float:
    """After failed attempt number ``attempt``: the seconds to wait before the next one, or
    the error to give up with (not retryable, or the retry budget is spent)."""
    last = attempt == ep.max_retries + 1
    if http is None:
        if last:
            raise LLMTimeoutError(
                f"{ep.chat_url}: no answer after {attempt} attempt(s): {exc!r}"
            ) from exc
        return wire.retry_delay(ep, attempt, None)
    if http.status_code not in wire.RETRYABLE_STATUS or last:
        raise LLMStatusError(http.status_code, http.text, ep.chat_url, attempt)
    return wire.retry_delay(ep, attempt, http.headers.get("retry-after"))


class ChatClient:
    """Async client: ``async with ChatClient(endpoint) as c: await c.chat(messages)``."""

    def __init__(self, endpoint: Endpoint, *, transport: httpx.AsyncBaseTransport | None = None):
        self.endpoint = endpoint
        self.pool_sizes = pool_sizes(endpoint.max_concurrency)
        self._transport = transport
        # Pools are made on first use: each loads the TLS trust store (tens of ms), which a
        # caller answering from its own cache should not pay.
        self._pools: list[httpx.AsyncClient | None] = [None] * len(self.pool_sizes)
        self._busy = [0] * len(self.pool_sizes)
        self._slots: asyncio.Semaphore | None = None

    async def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        model: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ChatResponse:
        """One chat completion; raises an :class:`LLMError` subclass when none could be had."""
        body = wire.request_body(
            self.endpoint,
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            response_format=response_format,
            tools=tools,
            model=model,
            extra=extra,
        )
        if self._slots is None:  # created lazily: it belongs to the loop that first uses it
            self._slots = asyncio.Semaphore(self.endpoint.max_concurrency)
        async with self._slots:
            i = min(range(len(self._pools)), key=lambda j: self._busy[j] / self.pool_sizes[j])
            self._busy[i] += 1
            try:
                return await self._attempts(self._pool(i), body)
            finally:
                self._busy[i] -= 1

    def _pool(self, i: int) -> httpx.AsyncClient:
        pool = self._pools[i]
        if pool is None:
            pool = httpx.AsyncClient(
                timeout=self.endpoint.timeout_s,
                limits=_limits(self.pool_sizes[i]),
                transport=self._transport,
            )
            self._pools[i] = pool
        return pool

    async def _attempts(self, http_pool: httpx.AsyncClient, body: dict[str, Any]) -> ChatResponse:
        ep, url = self.endpoint, self.endpoint.chat_url
        started = time.perf_counter()
        for attempt in range(1, ep.max_retries + 2):
            try:
                http = await http_pool.post(url, json=body, headers=wire.headers(ep))
            except _TRANSIENT as exc:
                await asyncio.sleep(_delay_or_raise(ep, attempt, None, exc))
                continue
            if http.status_code == 200:
                return _response(http, url, started, attempt)
            await asyncio.sleep(_delay_or_raise(ep, attempt, http, None))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aclose(self) -> None:
        """Closes the connection pools."""
        for pool in self._pools:
            if pool is not None:
                await pool.aclose()
        self._pools = [None] * len(self.pool_sizes)

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class SyncChatClient:
    """Blocking client with the same calls and rules as :class:`ChatClient`; thread-safe."""

    def __init__(self, endpoint: Endpoint, *, transport: httpx.BaseTransport | None = None):
        self.endpoint = endpoint
        self._http = httpx.Client(
            timeout=endpoint.timeout_s,
            limits=_limits(endpoint.max_concurrency),
            transport=transport,
        )
        self._slots = threading.BoundedSemaphore(endpoint.max_concurrency)

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        model: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ChatResponse:
        """One chat completion; raises an :class:`LLMError` subclass when none could be had."""
        body = wire.request_body(
            self.endpoint,
            messages,
            temperature=temperature,
            max_tokens=max_tokens,
            response_format=response_format,
            tools=tools,
            model=model,
            extra=extra,
        )
        with self._slots:
            return self._attempts(body)

    def _attempts(self, body: dict[str, Any]) -> ChatResponse:
        ep, url = self.endpoint, self.endpoint.chat_url
        started = time.perf_counter()
        for attempt in range(1, ep.max_retries + 2):
            try:
                http = self._http.post(url, json=body, headers=wire.headers(ep))
            except _TRANSIENT as exc:
                time.sleep(_delay_or_raise(ep, attempt, None, exc))
                continue
            if http.status_code == 200:
                return _response(http, url, started, attempt)
            time.sleep(_delay_or_raise(ep, attempt, http, None))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def close(self) -> None:
        """Closes the connection pool."""
        self._http.close()

    def __enter__(self) -> SyncChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

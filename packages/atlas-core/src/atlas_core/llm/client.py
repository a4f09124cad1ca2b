"""Chat clients for any OpenAI-compatible endpoint, async and blocking, over httpx.

Both make the same requests and apply the same rule: a timeout, a connection error,
a 429 or a 5xx is retried with back-off (the server's Retry-After first) up to
``Endpoint.max_retries`` times; any other HTTP error fails at once. Concurrency is
bounded per client, so a burst of judge calls queues here instead of at the server.
"""

from __future__ import annotations

import asyncio
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


def _limits(endpoint: Endpoint) -> httpx.Limits:
    return httpx.Limits(
        max_connections=endpoint.max_concurrency, max_keepalive_connections=endpoint.max_concurrency
    )


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
        self._http = httpx.AsyncClient(
            timeout=endpoint.timeout_s, limits=_limits(endpoint), transport=transport
        )
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
            return await self._attempts(body)

    async def _attempts(self, body: dict[str, Any]) -> ChatResponse:
        ep, url = self.endpoint, self.endpoint.chat_url
        started = time.perf_counter()
        for attempt in range(1, ep.max_retries + 2):
            try:
                http = await self._http.post(url, json=body, headers=wire.headers(ep))
            except _TRANSIENT as exc:
                await asyncio.sleep(_delay_or_raise(ep, attempt, None, exc))
                continue
            if http.status_code == 200:
                return _response(http, url, started, attempt)
            await asyncio.sleep(_delay_or_raise(ep, attempt, http, None))
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class SyncChatClient:
    """Blocking client with the same calls and rules as :class:`ChatClient`; thread-safe."""

    def __init__(self, endpoint: Endpoint, *, transport: httpx.BaseTransport | None = None):
        self.endpoint = endpoint
        self._http = httpx.Client(
            timeout=endpoint.timeout_s, limits=_limits(endpoint), transport=transport
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

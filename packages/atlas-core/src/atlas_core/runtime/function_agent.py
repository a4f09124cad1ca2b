"""``FunctionAgent``: a Python callable or coroutine function as an :class:`Agent`."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import inspect
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Literal

from atlas_core.errors import InvalidArgumentError
from atlas_core.runtime.agent import AgentReply, Message, check_messages, messages_as_text
from atlas_core.runtime.errors import AgentError, AgentResponseError, AgentTimeoutError

__all__ = ["FunctionAgent"]


class FunctionAgent:
    """Wraps ``fn`` (sync or ``async def``) as an agent.

    ``takes="text"`` (default) calls ``fn(prompt: str)`` with the conversation joined into
    one prompt (:func:`~atlas_core.runtime.agent.messages_as_text`); ``takes="messages"``
    calls ``fn(messages: list[dict])``. ``fn`` returns the answer as a ``str`` or an
    :class:`AgentReply`. An exception in ``fn`` becomes :class:`AgentError` (the original is
    its ``__cause__``); ``timeout_s`` bounds the call (an ``async`` ``fn`` is cancelled; a
    sync one, which Python cannot interrupt, is abandoned on its worker thread).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        takes: Literal["text", "messages"] = "text",
        timeout_s: float | None = None,
    ) -> None:
        if not callable(fn):
            raise InvalidArgumentError(f"invalid argument `fn`: not callable: {fn!r}")
        if takes not in ("text", "messages"):
            raise InvalidArgumentError(
                f"invalid argument `takes`: 'text' or 'messages', got {takes!r}"
            )
        if timeout_s is not None and not timeout_s > 0:
            raise InvalidArgumentError(f"invalid argument `timeout_s`: > 0, got {timeout_s!r}")
        self.fn = fn
        self.takes = takes
        self.timeout_s = timeout_s
        self.name = name or "python:" + getattr(fn, "__qualname__", type(fn).__qualname__)
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an async callable object
        )

    def _argument(self, messages: Sequence[Message]) -> Any:
        checked = check_messages(messages)
        return messages_as_text(checked) if self.takes == "text" else checked

    def run(self, messages: Sequence[Message]) -> AgentReply:
        """Calls ``fn`` on this thread (an async ``fn`` on a private event loop)."""
        if self._is_async:
            reply: AgentReply = _run_coroutine(self.arun(messages))
            return reply
        argument = self._argument(messages)
        started = time.perf_counter()
        if self.timeout_s is None:
            return self._reply(self._call(argument), started)
        # A sync function cannot be interrupted: run it on a worker and stop waiting for it.
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="atlas-agent")
        try:
            future = pool.submit(self._call, argument)
            try:
                result = future.result(self.timeout_s)
            except concurrent.futures.TimeoutError:
                raise AgentTimeoutError(
                    f"agent {self.name}: no answer within {self.timeout_s}s"
                ) from None
        finally:
            pool.shutdown(wait=False)
        return self._reply(result, started)

    async def arun(self, messages: Sequence[Message]) -> AgentReply:
        """Awaits an async ``fn``; a sync one runs on a worker thread."""
        argument = self._argument(messages)
        started = time.perf_counter()
        if self._is_async:
            work: Any = self._acall(argument)
        else:
            work = asyncio.to_thread(self._call, argument)
        try:
            result = await asyncio.wait_for(work, self.timeout_s)
        except TimeoutError:
            raise AgentTimeoutError(
                f"agent {self.name}: no answer within {self.timeout_s}s"
            ) from None
        return self._reply(result, started)

    def _call(self, argument: Any) -> Any:
        try:
            return self.fn(argument)
        except Exception as exc:
            raise AgentError(f"agent {self.name}: {type(exc).__name__}: {exc}") from exc

    async def _acall(self, argument: Any) -> Any:
        try:
            return await self.fn(argument)
        except Exception as exc:
            raise AgentError(f"agent {self.name}: {type(exc).__name__}: {exc}") from exc

    def _reply(self, result: Any, started: float) -> AgentReply:
        latency = time.perf_counter() - started
        if isinstance(result, AgentReply):
            return result if result.latency_s else _with_latency(result, latency)
        if not isinstance(result, str):
            raise AgentResponseError(
                f"agent {self.name}: returned {type(result).__name__}, expected str or AgentReply"
            )
        return AgentReply(text=result, model=self.name, latency_s=latency)


def _with_latency(reply: AgentReply, latency: float) -> AgentReply:
    return dataclasses.replace(reply, latency_s=latency)


def _run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Runs ``coro`` to completion from sync code, even when this thread already runs a loop
    (then on a helper thread: nesting loops is not allowed)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="atlas-agent") as pool:
        return pool.submit(asyncio.run, coro).result()

"""``HttpAgent``: any HTTP service that takes a JSON request and answers JSON, as an agent.

The request body is built from ``payload`` (any JSON value): a string that is exactly
``"$prompt"`` or ``"$messages"`` becomes the prompt text or the message list, and
``${prompt}`` inside a longer string is substituted. The answer is read from the JSON
response at ``answer_path``: keys and list indices separated by dots
(``"choices.0.message.content"``, ``"data.answer"``).
"""

from __future__ import annotations

import asyncio
import json
import string
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from atlas_core.errors import InvalidArgumentError
from atlas_core.runtime.agent import AgentReply, Message, check_messages, messages_as_text
from atlas_core.runtime.errors import (
    AgentError,
    AgentResponseError,
    AgentStatusError,
    AgentTimeoutError,
)

__all__ = ["HttpAgent", "read_path"]

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT = (httpx.TimeoutException, httpx.TransportError)


class HttpAgent:
    """POSTs ``payload`` (filled in) to ``url`` and answers with the value at ``answer_path``.

    Timeouts, connection errors, 408/429/5xx are retried ``max_retries`` times with
    exponential back-off from ``backoff_s``; other statuses fail at once
    (:class:`AgentStatusError`); a body that is not JSON or lacks the path raises
    :class:`AgentResponseError`; all attempts timing out raises :class:`AgentTimeoutError`.
    """

    def __init__(
        self,
        url: str,
        *,
        payload: Any = None,
        answer_path: str = "answer",
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        backoff_s: float = 0.2,
        name: str | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InvalidArgumentError(f"invalid argument `url`: an http(s) URL, got {url!r}")
        if not isinstance(answer_path, str) or not answer_path:
            raise InvalidArgumentError(
                f"invalid argument `answer_path`: a dotted path, got {answer_path!r}"
            )
        if not timeout_s > 0:
            raise InvalidArgumentError(f"invalid argument `timeout_s`: > 0, got {timeout_s!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidArgumentError(
                f"invalid argument `max_retries`: an int >= 0, got {max_retries!r}"
            )
        if backoff_s < 0:
            raise InvalidArgumentError(f"invalid argument `backoff_s`: >= 0, got {backoff_s!r}")
        try:
            json.dumps(payload)
        except (TypeError, ValueError) as exc:
            raise InvalidArgumentError(f"invalid argument `payload`: not JSON: {exc}") from exc
        self.url = url
        self.payload = {"prompt": "$prompt"} if payload is None else payload
        self.answer_path = answer_path
        self.headers = dict(headers or {})
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.name = name or f"http:{url}"
        self._sync: httpx.Client | None = None
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def body(self, messages: Sequence[Message]) -> Any:
        """The JSON body sent for ``messages``."""
        checked = check_messages(messages)
        return _fill(self.payload, messages_as_text(checked), checked)

    def run(self, messages: Sequence[Message]) -> AgentReply:
        """One blocking call, with retries."""
        body = self.body(messages)
        if self._sync is None:
            self._sync = httpx.Client(timeout=self.timeout_s)
        started = time.perf_counter()
        last: Exception | None = None
        for attempt in range(1, self.max_retries + 2):
            try:
                response = self._sync.post(self.url, json=body, headers=self.headers)
            except _TRANSIENT as exc:
                last = exc
            else:
                if response.status_code not in _RETRY_STATUS:
                    return self._reply(response, started, attempt)
                last = self._status_error(response)
            if attempt <= self.max_retries:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise self._give_up(last)

    async def arun(self, messages: Sequence[Message]) -> AgentReply:
        """One call on the running event loop, with retries."""
        body = self.body(messages)
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = httpx.AsyncClient(timeout=self.timeout_s)
        started = time.perf_counter()
        last: Exception | None = None
        for attempt in range(1, self.max_retries + 2):
            try:
                response = await client.post(self.url, json=body, headers=self.headers)
            except _TRANSIENT as exc:
                last = exc
            else:
                if response.status_code not in _RETRY_STATUS:
                    return self._reply(response, started, attempt)
                last = self._status_error(response)
            if attempt <= self.max_retries:
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise self._give_up(last)

    def close(self) -> None:
        """Closes the blocking client's connections."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Closes the running loop's async client and the blocking one."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        self.close()

    def _status_error(self, response: httpx.Response) -> AgentStatusError:
        return AgentStatusError(
            f"agent {self.name}: HTTP {response.status_code}",
            response.status_code,
            response.text[:2000],
        )

    def _give_up(self, last: Exception | None) -> AgentError:
        attempts = self.max_retries + 1
        if isinstance(last, AgentStatusError):
            return last
        if isinstance(last, httpx.TimeoutException):
            return AgentTimeoutError(
                f"agent {self.name}: all {attempts} attempt(s) timed out after {self.timeout_s}s"
            )
        return AgentError(f"agent {self.name}: {attempts} attempt(s) failed: {last!r}")

    def _reply(self, response: httpx.Response, started: float, attempt: int) -> AgentReply:
        if response.status_code >= 400:
            raise self._status_error(response)
        try:
            document = response.json()
        except ValueError as exc:
            raise AgentResponseError(f"agent {self.name}: response is not JSON: {exc}") from None
        answer = read_path(document, self.answer_path)
        if answer is None:
            raise AgentResponseError(
                f"agent {self.name}: response has no value at {self.answer_path!r}"
            )
        text = answer if isinstance(answer, str) else json.dumps(answer)
        return AgentReply(
            text=text, model=self.name, latency_s=time.perf_counter() - started, attempts=attempt
        )


def read_path(document: Any, path: str) -> Any:
    """The value at dotted ``path`` (keys, or list indices as integers), or None if absent."""
    node = document
    for part in path.split("."):
        if isinstance(node, Mapping):
            if part not in node:
                return None
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(node) <= index < len(node):
                return None
            node = node[index]
        else:
            return None
    return node


def _fill(template: Any, prompt: str, messages: list[dict[str, Any]]) -> Any:
    if isinstance(template, str):
        if template == "$prompt":
            return prompt
        if template == "$messages":
            return messages
        return string.Template(template).safe_substitute(prompt=prompt)
    if isinstance(template, Mapping):
        return {key: _fill(value, prompt, messages) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(item, prompt, messages) for item in template]
    return template

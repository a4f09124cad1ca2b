"""A real OpenAI-compatible chat server for tests, with answers the test scripts.

No model hub or LLM API is reachable in CI, so judges, adapters and optimizers are
tested against this instead: a Starlette app on uvicorn in a background thread,
speaking ``POST /v1/chat/completions`` and ``GET /v1/models`` over real HTTP. A
``responder`` decides each answer deterministically from the request, and can return
malformed bodies, HTTP errors with ``Retry-After``, or delays longer than a client's
timeout. Every request is recorded in :attr:`FakeLLMServer.calls`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class ChatCall:
    """One chat-completions request as the server received it."""

    index: int
    """0, 1, 2, ... in arrival order."""
    model: str
    messages: list[dict[str, Any]]
    temperature: float | None
    max_tokens: int | None
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def last_user(self) -> str:
        """Content of the last user message ("" when there is none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return _text(message.get("content"))
        return ""

    @property
    def system(self) -> str | None:
        """Content of the first system message, if any."""
        for message in self.messages:
            if message.get("role") == "system":
                return _text(message.get("content"))
        return None


@dataclass(frozen=True)
class Reply:
    """What the server answers to one call."""

    content: str | None = None
    """The assistant message; ignored when ``raw_body`` is set or ``status`` is not 200."""
    status: int = 200
    delay_s: float = 0.0
    """Extra wait before answering, on top of the server's ``latency_s``."""
    raw_body: str | None = None
    """Sent verbatim instead of a completion (to test malformed bodies)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers, e.g. ``{"Retry-After": "0"}``."""
    prompt_tokens: int | None = None
    """Reported usage; defaults to word counts of the prompt and the answer."""
    completion_tokens: int | None = None
    tool_calls: list[dict[str, Any]] | None = None


Responder = Callable[[ChatCall], "Reply | str | Awaitable[Reply | str]"]


def _text(content: Any) -> str:
    # Content may be a string or a list of typed parts ({"type": "text", "text": ...}).
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _words(text: str) -> int:
    return len(text.split())


class FakeLLMServer:
    """``with FakeLLMServer(responder) as server: ...`` serves at ``server.base_url``."""

    def __init__(
        self, responder: Responder, *, latency_s: float = 0.0, host: str = "127.0.0.1"
    ) -> None:
        self.responder = responder
        self.latency_s = latency_s
        self._calls: list[ChatCall] = []
        self._counter = itertools.count()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.host, self.port = self._socket.getsockname()[:2]
        app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=30
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The API root to give a client, ``http://127.0.0.1:<port>/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def calls(self) -> list[ChatCall]:
        """Every chat request received so far, in arrival order (a copy)."""
        return sorted(self._calls, key=lambda c: c.index)

    def start(self) -> FakeLLMServer:
        """Starts serving; returns once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10.0
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake LLM server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stops serving and waits for the server thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._socket.close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fixture", "object": "model"}]})

    async def _chat(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            messages = body["messages"]
            if not isinstance(messages, list):
                raise TypeError("messages is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"invalid request body: {exc}", "invalid_request_error")
        call = ChatCall(
            index=next(self._counter),
            model=str(body.get("model", "")),
            messages=messages,
            temperature=body.get("temperature"),
            max_tokens=body.get("max_tokens"),
            body=body,
            headers=dict(request.headers),
        )
        self._calls.append(call)
        answer = self.responder(call)
        if inspect.isawaitable(answer):
            answer = await answer
        reply = Reply(content=answer) if isinstance(answer, str) else answer
        wait = self.latency_s + reply.delay_s
        if wait > 0:
            await asyncio.sleep(wait)
        if reply.raw_body is not None:
            return Response(
                reply.raw_body, reply.status, reply.headers, media_type="application/json"
            )
        if reply.status != 200:
            return _error(
                reply.status, f"scripted HTTP {reply.status}", "server_error", reply.headers
            )
        return JSONResponse(_completion(call, reply), headers=reply.headers)


def _error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}}, status, headers
    )


def _completion(call: ChatCall, reply: Reply) -> dict[str, Any]:
    content = reply.content or ""
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = sum(_words(_text(m.get("content"))) for m in call.messages)
    completion = reply.completion_tokens if reply.completion_tokens is not None else _words(content)
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    return {
        "id": f"chatcmpl-fixture-{call.index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }

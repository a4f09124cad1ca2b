"""HttpAgent against a small real HTTP server: payload templates, answer paths, retries,
timeouts and malformed answers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from atlas_core.runtime import (
    Agent,
    AgentError,
    AgentResponseError,
    AgentStatusError,
    AgentTimeoutError,
    HttpAgent,
    Lane,
    Runtime,
)
from atlas_core.runtime.http_agent import read_path
from atlas_core.store import Store


class AgentService:
    """A scripted HTTP agent: per path, what it answers; every request body is kept."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any]] = []
        self.failures_left = 0
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                service.requests.append((self.path, body))
                status, payload = service.answer(self.path, body, dict(self.headers))
                data = (
                    payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        if path == "/flaky" and self.failures_left > 0:
            self.failures_left -= 1
            return 503, {"error": "warming up"}
        if path == "/slow":
            time.sleep(0.6)
        if path == "/teapot":
            return 418, {"error": "I'm a teapot"}
        if path == "/garbled":
            return 200, "<html>oops</html>"
        if path == "/nested":
            return 200, {"data": {"choices": [{"text": f"answer to {body['input']['q']}"}]}}
        if path == "/auth":
            return 200, {"answer": headers.get("X-Api-Key", "none")}
        return 200, {"answer": f"echo: {body.get('prompt', '')}"}

    def __enter__(self) -> AgentService:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service() -> Iterator[AgentService]:
    with AgentService() as running:
        yield running


MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_payload_template_and_answer_path(service: AgentService, mode: str) -> None:
    agent = HttpAgent(
        service.url + "/nested",
        payload={"input": {"q": "$prompt", "history": "$messages"}, "tag": "asked: ${prompt}"},
        answer_path="data.choices.0.text",
        headers={"X-Api-Key": "k1"},
    )
    assert isinstance(agent, Agent)
    assert agent.name == f"http:{service.url}/nested"
    reply = agent.run(MESSAGES) if mode == "sync" else asyncio.run(agent.arun(MESSAGES))
    assert reply.text == "answer to What is 2 + 2?"
    path, body = service.requests[0]
    assert path == "/nested"
    assert body == {
        "input": {"q": "What is 2 + 2?", "history": MESSAGES},
        "tag": "asked: What is 2 + 2?",
    }
    agent.close()


def test_headers_are_sent(service: AgentService) -> None:
    agent = HttpAgent(service.url + "/auth", headers={"X-Api-Key": "secret-1"})
    assert agent.run(MESSAGES).text == "secret-1"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_retries_transient_statuses(service: AgentService, mode: str) -> None:
    service.failures_left = 2
    agent = HttpAgent(service.url + "/flaky", max_retries=2, backoff_s=0.01)
    reply = agent.run(MESSAGES) if mode == "sync" else asyncio.run(agent.arun(MESSAGES))
    assert reply.text == "echo: What is 2 + 2?"
    assert reply.attempts == 3
    assert len(service.requests) == 3


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_failures_are_typed(service: AgentService, mode: str) -> None:
    def call(agent: HttpAgent) -> Any:
        return agent.run(MESSAGES) if mode == "sync" else asyncio.run(agent.arun(MESSAGES))

    service.failures_left = 5
    with pytest.raises(AgentStatusError, match="HTTP 503") as info:
        call(HttpAgent(service.url + "/flaky", max_retries=1, backoff_s=0.01))
    assert info.value.status == 503
    assert "warming up" in info.value.body
    with pytest.raises(AgentStatusError, match="HTTP 418"):
        call(HttpAgent(service.url + "/teapot", max_retries=3))
    assert sum(1 for p, _ in service.requests if p == "/teapot") == 1  # 4xx: not retried
    with pytest.raises(AgentTimeoutError, match="2 attempt"):
        call(HttpAgent(service.url + "/slow", timeout_s=0.2, max_retries=1, backoff_s=0.01))
    with pytest.raises(AgentResponseError, match="not JSON"):
        call(HttpAgent(service.url + "/garbled"))
    with pytest.raises(AgentResponseError, match=r"no value at 'data\.answer'"):
        call(HttpAgent(service.url + "/echo", answer_path="data.answer"))
    with pytest.raises(AgentError, match="attempt"):
        call(HttpAgent("http://127.0.0.1:9/unreachable", max_retries=0))


def test_bad_construction() -> None:
    with pytest.raises(ValueError, match="`url`"):
        HttpAgent("ftp://x")
    with pytest.raises(ValueError, match="`payload`"):
        HttpAgent("http://x", payload={"a": object()})
    with pytest.raises(ValueError, match="`max_retries`"):
        HttpAgent("http://x", max_retries=-1)


def test_read_path() -> None:
    doc = {"a": [{"b": "x"}, {"b": "y"}], "n": 3}
    assert read_path(doc, "a.1.b") == "y"
    assert read_path(doc, "a.-1.b") == "y"
    assert read_path(doc, "a.2.b") is None
    assert read_path(doc, "n.b") is None
    assert read_path(doc, "missing") is None


def test_an_http_student_in_the_runtime(service: AgentService, store: Store) -> None:
    student = HttpAgent(service.url + "/echo")
    with Runtime(student, store=store) as runtime:
        outcome = runtime.run("Say hi", lane=Lane.AUTO)
    assert outcome.answer == "echo: Say hi"
    assert store.interactions("default")["model_version"].to_list() == [student.name]

"""ChatAgent over real HTTP against the OpenAI-compatible fixture server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from atlas_core.llm import Endpoint
from atlas_core.runtime import (
    Agent,
    AgentResponseError,
    AgentStatusError,
    AgentTimeoutError,
    ChatAgent,
)
from atlas_core.testing.openai_server import ChatCall, FakeLLMServer, Reply

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Find an order",
            "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
    }
]
TOOL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "lookup_order", "arguments": '{"id": "A7"}'},
}


def responder(call: ChatCall) -> Reply | str:
    if call.last_user == "where is my order A7?":
        return Reply(content=None, tool_calls=[TOOL_CALL])
    if call.last_user == "fail":
        return Reply(status=500)
    if call.last_user == "slow":
        return Reply(content="late", delay_s=1.0)
    if call.last_user == "garbled":
        return Reply(raw_body="not json at all")
    return f"echo: {call.last_user}"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_answers_with_usage_and_passes_tools_through(mode: str) -> None:
    with FakeLLMServer(responder) as server:
        agent = ChatAgent(
            Endpoint(server.base_url, "student-7b", api_key="sk-test", max_retries=0),
            tools=TOOLS,
            temperature=0.2,
            max_tokens=64,
        )
        assert isinstance(agent, Agent)
        assert agent.name == "student-7b"

        async def both() -> tuple[Any, Any]:
            try:
                first = await agent.arun([{"role": "user", "content": "hello there"}])
                second = await agent.arun([{"role": "user", "content": "where is my order A7?"}])
                return first, second
            finally:
                await agent.aclose()

        if mode == "sync":
            first = agent.run([{"role": "user", "content": "hello there"}])
            second = agent.run([{"role": "user", "content": "where is my order A7?"}])
            agent.close()
        else:
            first, second = asyncio.run(both())
        calls = server.calls
    assert first.text == "echo: hello there"
    assert first.model == "student-7b"
    assert (first.prompt_tokens, first.completion_tokens) == (2, 3)  # fixture: word counts
    assert first.latency_s > 0
    assert first.attempts == 1
    assert second.tool_calls == [TOOL_CALL]
    body = calls[0].body
    assert body["tools"] == TOOLS
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 64
    assert calls[0].headers["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize(
    ("prompt", "error"),
    [("fail", AgentStatusError), ("slow", AgentTimeoutError), ("garbled", AgentResponseError)],
)
def test_client_errors_become_agent_errors(prompt: str, error: type[Exception]) -> None:
    with FakeLLMServer(responder) as server:
        agent = ChatAgent(Endpoint(server.base_url, "m", timeout_s=0.3, max_retries=0))
        with pytest.raises(error, match="agent m"):
            agent.run([{"role": "user", "content": prompt}])
        with pytest.raises(error):
            asyncio.run(agent.arun([{"role": "user", "content": prompt}]))
        agent.close()


def test_one_agent_serves_several_event_loops() -> None:
    with FakeLLMServer(responder) as server:
        agent = ChatAgent(Endpoint(server.base_url, "m", max_retries=0))
        for i in range(3):  # each asyncio.run is a new loop: a pool per loop, none reused
            reply = asyncio.run(agent.arun([{"role": "user", "content": f"n{i}"}]))
            assert reply.text == f"echo: n{i}"


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLLMServer(responder) as server:
        monkeypatch.setenv("ATLAS_TEACHER_BASE_URL", server.base_url)
        monkeypatch.setenv("ATLAS_TEACHER_MODEL", "teacher-70b")
        agent = ChatAgent.from_env("ATLAS_TEACHER")
        assert agent.run([{"role": "user", "content": "hi"}]).text == "echo: hi"
        assert server.calls[0].model == "teacher-70b"
        agent.close()


def test_system_prompt_and_from_config() -> None:
    from pydantic import SecretStr

    from atlas_core.config.models import LLMEndpointConfig

    with FakeLLMServer(responder) as server:
        config = LLMEndpointConfig(
            base_url=server.base_url, model="cfg-model", api_key=SecretStr("sk-cfg"), max_retries=0
        )
        agent = ChatAgent.from_config(config, system="You are terse.")
        assert agent.endpoint.max_retries == 0
        assert agent.run([{"role": "user", "content": "hi"}]).text == "echo: hi"
        (call,) = server.calls
        agent.close()
    assert call.model == "cfg-model"
    assert call.system == "You are terse."
    assert [m["role"] for m in call.messages] == ["system", "user"]
    assert call.headers["authorization"] == "Bearer sk-cfg"


def test_tool_calls_reach_the_outcome_and_the_trace(tmp_path: Any) -> None:
    import json

    from atlas_core.runtime import Runtime
    from atlas_core.store import open_store

    with (
        FakeLLMServer(responder) as server,
        open_store(f"sqlite:///{tmp_path / 'a.db'}") as store,
    ):
        student = ChatAgent(Endpoint(server.base_url, "m", max_retries=0), tools=TOOLS)
        with Runtime(student, store=store) as runtime:
            outcome = runtime.run("where is my order A7?", lane="auto")
        student.close()
        assert server.calls[0].body["tools"] == TOOLS
        (metadata,) = store.interactions("default")["metadata"].to_list()
    assert outcome.tool_calls == [TOOL_CALL]
    assert outcome.answer == ""
    assert json.loads(metadata)["trace"][0]["tool_calls"] == [TOOL_CALL]

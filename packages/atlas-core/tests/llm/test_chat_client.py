"""The chat client over real HTTP against the OpenAI-compatible fixture server."""

from __future__ import annotations

import asyncio
import socket

import pytest

from atlas_core.errors import ConfigError, InvalidArgumentError
from atlas_core.llm import (
    ChatClient,
    ChatResponse,
    Endpoint,
    LLMResponseError,
    LLMStatusError,
    LLMTimeoutError,
    SyncChatClient,
)
from atlas_core.testing.openai_server import ChatCall, FakeLLMServer, Reply

HELLO = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say hi twice"}]


def _endpoint(server: FakeLLMServer, **kw: object) -> Endpoint:
    values: dict[str, object] = {"model": "judge-small", "backoff_s": 0.0, **kw}
    return Endpoint(base_url=server.base_url, **values)  # type: ignore[arg-type]


def test_answer_usage_and_request_fields() -> None:
    with FakeLLMServer(lambda call: f"hi hi ({call.last_user})") as server:

        async def go() -> None:
            async with ChatClient(_endpoint(server, api_key="sk-test")) as client:
                resp = await client.chat(
                    HELLO, temperature=0.7, max_tokens=20, response_format={"type": "json_object"}
                )
            assert resp.text == "hi hi (say hi twice)"
            assert resp.model == "judge-small"
            assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (5, 5)
            assert resp.usage.total_tokens == 10
            assert resp.attempts == 1
            assert resp.latency_s > 0
            assert resp.finish_reason == "stop"

        asyncio.run(go())
        (call,) = server.calls
    assert call.temperature == 0.7
    assert call.max_tokens == 20
    assert call.body["response_format"] == {"type": "json_object"}
    assert call.headers["authorization"] == "Bearer sk-test"
    assert call.system == "be brief"


def test_429_and_500_are_retried_with_the_same_request() -> None:
    script = {0: Reply(status=429, headers={"Retry-After": "0"}), 1: Reply(status=503)}

    def respond(call: ChatCall) -> Reply | str:
        return script.get(call.index, "finally")

    with FakeLLMServer(respond) as server:
        resp = asyncio.run(_one(_endpoint(server, max_retries=2)))
        assert resp.text == "finally"
        assert resp.attempts == 3
        assert [c.body for c in server.calls] == [server.calls[0].body] * 3


def test_retries_run_out_into_a_status_error() -> None:
    with FakeLLMServer(lambda call: Reply(status=500)) as server:
        with pytest.raises(LLMStatusError) as info:
            asyncio.run(_one(_endpoint(server, max_retries=2)))
        assert info.value.status == 500
        assert info.value.attempts == 3
        assert len(server.calls) == 3


def test_a_client_error_is_not_retried() -> None:
    with FakeLLMServer(lambda call: Reply(status=400)) as server:
        with pytest.raises(LLMStatusError, match="HTTP 400"):
            asyncio.run(_one(_endpoint(server, max_retries=3)))
        assert len(server.calls) == 1


def test_timeouts_are_retried_then_reported() -> None:
    with FakeLLMServer(lambda call: Reply(content="late", delay_s=2.0)) as server:
        with pytest.raises(LLMTimeoutError, match="2 attempt"):
            asyncio.run(_one(_endpoint(server, timeout_s=0.2, max_retries=1)))
        assert len(server.calls) == 2


def test_a_malformed_body_is_a_response_error() -> None:
    bodies = {0: '{"choices": [ oops', 1: '{"choices": []}'}
    with FakeLLMServer(lambda call: Reply(raw_body=bodies[call.index])) as server:
        with pytest.raises(LLMResponseError, match="not JSON"):
            asyncio.run(_one(_endpoint(server)))
        with pytest.raises(LLMResponseError, match="no choices"):
            asyncio.run(_one(_endpoint(server)))


def test_an_unreachable_endpoint_fails_cleanly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        endpoint = Endpoint(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, backoff_s=0.0)
        with pytest.raises(LLMTimeoutError, match="no answer"):
            asyncio.run(_one(endpoint))


def test_concurrency_is_bounded_per_client() -> None:
    in_flight = {"now": 0, "max": 0}

    async def respond(call: ChatCall) -> str:
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        await asyncio.sleep(0.05)
        in_flight["now"] -= 1
        return "ok"

    with FakeLLMServer(respond) as server:

        async def go() -> list[str]:
            async with ChatClient(_endpoint(server, max_concurrency=4)) as client:
                answers = await asyncio.gather(*(client.chat(HELLO) for _ in range(16)))
            return [a.text for a in answers]

        assert asyncio.run(go()) == ["ok"] * 16
    assert in_flight["max"] == 4


def test_the_blocking_client_follows_the_same_rules() -> None:
    script = {0: Reply(status=502)}
    with FakeLLMServer(lambda call: script.get(call.index, "sync ok")) as server:
        with SyncChatClient(_endpoint(server, max_retries=1)) as client:
            resp = client.chat(HELLO, model="other-model")
        assert resp.text == "sync ok"
        assert resp.attempts == 2
        assert resp.model == "other-model"


def test_tool_calls_pass_through() -> None:
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    with FakeLLMServer(lambda call: Reply(tool_calls=calls)) as server:
        with SyncChatClient(_endpoint(server)) as client:
            resp = client.chat(HELLO, tools=tools)
        assert resp.tool_calls == calls
        assert resp.text == ""
        assert resp.finish_reason == "tool_calls"
        assert server.calls[0].body["tools"] == tools


def test_bad_arguments_and_config_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = Endpoint("http://127.0.0.1:9/v1", "m")
    with SyncChatClient(endpoint) as client:
        with pytest.raises(InvalidArgumentError, match="messages"):
            client.chat([])
        with pytest.raises(InvalidArgumentError, match=r"messages\[0\]"):
            client.chat([{"content": "no role"}])
        with pytest.raises(InvalidArgumentError, match="temperature"):
            client.chat(HELLO, temperature=3.0)
    with pytest.raises(ConfigError, match="base_url"):
        Endpoint("localhost:8000", "m")
    with pytest.raises(ConfigError, match="max_concurrency"):
        Endpoint("http://x/v1", "m", max_concurrency=0)
    monkeypatch.delenv("ATLAS_LLM_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="ATLAS_LLM_BASE_URL"):
        Endpoint.from_env()
    monkeypatch.setenv("ATLAS_LLM_BASE_URL", "http://h:1/v1")
    monkeypatch.setenv("ATLAS_LLM_MODEL", "m1")
    monkeypatch.setenv("ATLAS_LLM_API_KEY", "k")
    loaded = Endpoint.from_env(timeout_s=5.0)
    assert (loaded.base_url, loaded.model, loaded.api_key, loaded.timeout_s) == (
        "http://h:1/v1",
        "m1",
        "k",
        5.0,
    )
    assert loaded.with_model("big").model == "big"


async def _one(endpoint: Endpoint) -> ChatResponse:
    async with ChatClient(endpoint) as client:
        return await client.chat(HELLO)


def test_calls_spread_over_small_pools_within_the_total_limit() -> None:
    in_flight, peak = 0, 0

    async def slow(call: ChatCall) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.1)
        in_flight -= 1
        return "ok"

    async def burst(url: str) -> list[str]:
        chat = ChatClient(Endpoint(base_url=url, model="m", max_concurrency=20))
        assert chat.pool_sizes == [7, 7, 6]
        try:
            replies = await asyncio.gather(
                *(chat.chat([{"role": "user", "content": str(i)}]) for i in range(60))
            )
        finally:
            await chat.aclose()
        return [r.text for r in replies]

    with FakeLLMServer(slow) as server:
        texts = asyncio.run(burst(server.base_url))
    assert texts == ["ok"] * 60
    assert peak == 20  # the pools together carry the whole limit, never more

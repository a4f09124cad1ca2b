"""The fixture server itself: speaks the protocol, refuses bad bodies, records calls."""

from __future__ import annotations

import httpx

from atlas_core.testing.openai_server import FakeLLMServer, Reply


def test_models_bad_bodies_and_scripted_errors() -> None:
    with FakeLLMServer(lambda call: Reply(status=429, headers={"Retry-After": "7"})) as server:
        with httpx.Client(base_url=server.base_url) as http:
            assert http.get("/models").json()["data"][0]["id"] == "fixture"
            assert http.post("/chat/completions", content=b"\xff not json").status_code == 400
            refused = http.post("/chat/completions", json={"messages": "nope"})
            assert refused.status_code == 400
            assert "messages" in refused.json()["error"]["message"]
            limited = http.post("/chat/completions", json={"model": "m", "messages": []})
            assert limited.status_code == 429
            assert limited.headers["retry-after"] == "7"
        assert len(server.calls) == 1  # only the well-formed request reached the responder


def test_latency_is_added_to_every_answer() -> None:
    with FakeLLMServer(lambda call: "x", latency_s=0.2) as server:
        reply = httpx.post(server.base_url + "/chat/completions", json={"messages": []})
        assert reply.json()["choices"][0]["message"]["content"] == "x"
        assert reply.elapsed.total_seconds() >= 0.2

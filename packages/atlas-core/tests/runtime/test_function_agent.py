"""FunctionAgent: sync and async Python callables behind the Agent protocol, and a Runtime
driving them over the full protocol."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from atlas_core.runtime import (
    Agent,
    AgentError,
    AgentReply,
    AgentResponseError,
    AgentTimeoutError,
    FunctionAgent,
    Lane,
    Runtime,
)
from atlas_core.store import Store

MESSAGES = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "2 + 2?"}]


def shout(prompt: str) -> str:
    return prompt.upper()


async def ashout(prompt: str) -> str:
    await asyncio.sleep(0)
    return prompt.upper()


@pytest.mark.parametrize("fn", [shout, ashout])
def test_text_functions_sync_and_async(fn: Any) -> None:
    agent = FunctionAgent(fn)
    assert isinstance(agent, Agent)
    assert agent.name.startswith("python:")
    assert agent.name.endswith("shout")
    reply = agent.run(MESSAGES)
    assert reply.text == "BE TERSE.\n\n2 + 2?"
    assert reply.model == agent.name
    assert reply.latency_s >= 0
    assert asyncio.run(agent.arun(MESSAGES)).text == "BE TERSE.\n\n2 + 2?"


def test_async_function_runs_from_inside_a_running_loop() -> None:
    agent = FunctionAgent(ashout)

    async def main() -> str:
        return agent.run(MESSAGES).text  # blocking call from async code: no nested-loop error

    assert asyncio.run(main()) == "BE TERSE.\n\n2 + 2?"


def test_messages_mode_and_agent_reply_passthrough() -> None:
    seen: list[Any] = []

    def chat(messages: list[dict[str, Any]]) -> AgentReply:
        seen.append(messages)
        return AgentReply("four", model="my-model@3", prompt_tokens=7, completion_tokens=1)

    reply = FunctionAgent(chat, takes="messages", name="custom").run(MESSAGES)
    assert seen == [MESSAGES]
    assert (reply.text, reply.model, reply.prompt_tokens) == ("four", "my-model@3", 7)


def test_sync_function_in_arun_does_not_block_the_loop() -> None:
    release = threading.Event()

    def slow(prompt: str) -> str:
        release.wait(5)
        return "done"

    async def main() -> str:
        task = asyncio.create_task(FunctionAgent(slow).arun(MESSAGES))
        await asyncio.sleep(0.05)
        release.set()  # the loop is free to run this while the function waits
        return (await task).text

    assert asyncio.run(main()) == "done"


def test_errors_are_typed() -> None:
    def boom(prompt: str) -> str:
        raise RuntimeError("model down")

    with pytest.raises(AgentError, match="RuntimeError: model down") as info:
        FunctionAgent(boom).run(MESSAGES)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(AgentResponseError, match="returned int"):
        FunctionAgent(lambda prompt: 4).run(MESSAGES)

    def sleepy(prompt: str) -> str:
        time.sleep(0.5)
        return "late"

    async def asleepy(prompt: str) -> str:
        await asyncio.sleep(5)
        return "late"

    with pytest.raises(AgentTimeoutError):
        FunctionAgent(sleepy, timeout_s=0.05).run(MESSAGES)
    with pytest.raises(AgentTimeoutError):
        asyncio.run(FunctionAgent(asleepy, timeout_s=0.05).arun(MESSAGES))
    with pytest.raises(AgentTimeoutError):
        FunctionAgent(asleepy, timeout_s=0.05).run(MESSAGES)


def test_bad_construction_and_bad_messages() -> None:
    with pytest.raises(ValueError, match="`fn`"):
        FunctionAgent("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`takes`"):
        FunctionAgent(shout, takes="json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`messages`"):
        FunctionAgent(shout).run("hello")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`messages\[0\]`"):
        FunctionAgent(shout).run([{"content": "no role"}])


def test_a_python_student_and_teacher_through_every_lane(store: Store) -> None:
    def student(prompt: str) -> str:
        if "Do not answer the task yet" in prompt:
            return "I will multiply."
        return "12" if ("feedback" in prompt or "Guidance" in prompt) else "11"

    async def teacher(prompt: str) -> str:
        if "reviewing" in prompt:
            return "VERDICT: REVISE - 3 * 4 is not 11."
        return "Multiply, do not add.\nLESSON: none"

    with Runtime(FunctionAgent(student), FunctionAgent(teacher), store=store) as runtime:
        answers = {lane: runtime.run("3 * 4?", lane=lane).answer for lane in Lane}
    assert answers == {Lane.AUTO: "11", Lane.PAIRED: "12", Lane.COACH: "12"}
    frame = store.interactions("default")
    assert frame.height == 3  # closing the runtime flushed its recorder
    assert sorted(frame["model_version"].to_list()) == sorted(
        ["python:test_a_python_student_and_teacher_through_every_lane.<locals>.student"] * 3
    )

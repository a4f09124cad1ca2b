"""Failures of the student or the teacher (timeouts, malformed bodies, 500s, unusable
answers) degrade to the student's baseline answer with the error in the trace and the
recording: never an exception."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from atlas_core.runtime import Lane
from atlas_core.testing.openai_server import Reply

SLOW = Reply(content="too late", delay_s=1.0)  # the runtime's client times out at 0.5 s
MALFORMED = Reply(raw_body='{"choices": [ {"message": ')
SERVER_ERROR = Reply(status=500)
NOT_A_COMPLETION = Reply(raw_body='{"answer": "no choices here"}')

CASES = [
    # (lane, failing step, scripted reply, error type expected in the trace)
    (Lane.PAIRED, "review", SLOW, "AgentTimeoutError"),
    (Lane.PAIRED, "review", MALFORMED, "AgentResponseError"),
    (Lane.PAIRED, "review", SERVER_ERROR, "AgentStatusError"),
    (Lane.PAIRED, "review", Reply(content="Looks plausible to me."), "AgentResponseError"),
    (Lane.PAIRED, "retry", SLOW, "AgentTimeoutError"),
    (Lane.PAIRED, "retry", SERVER_ERROR, "AgentStatusError"),
    (Lane.PAIRED, "retry", Reply(content="   "), "AgentResponseError"),
    (Lane.COACH, "guidance", SLOW, "AgentTimeoutError"),
    (Lane.COACH, "guidance", NOT_A_COMPLETION, "AgentResponseError"),
    (Lane.COACH, "guidance", SERVER_ERROR, "AgentStatusError"),
    (Lane.COACH, "guidance", Reply(content="LESSON: none"), "AgentResponseError"),
    (Lane.COACH, "guided", MALFORMED, "AgentResponseError"),
    (Lane.COACH, "guided", SLOW, "AgentTimeoutError"),
]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("lane", "step", "reply", "error"), CASES)
def test_a_failing_step_serves_the_baseline_with_the_error_recorded(
    make_runtime: Any,
    world: Any,
    recorded: Any,
    lane: Lane,
    step: str,
    reply: Reply,
    error: str,
    mode: str,
) -> None:
    world.faults[step] = reply
    runtime = make_runtime(timeout_s=0.5)
    task = "What is 20 + 22?"
    if mode == "sync":
        outcome = runtime.run(task, lane=lane)
    else:
        outcome = asyncio.run(runtime.arun(task, lane=lane))

    assert outcome.ok
    assert outcome.degraded
    assert outcome.final_step == "baseline"
    assert outcome.answer == "43"  # the student's (wrong) baseline, served as is
    failed = outcome.trace.find(step)
    assert failed is not None
    assert failed.error is not None
    assert failed.error.startswith(error), failed.error
    assert outcome.errors == [f"{step}: {failed.error}"]
    meta = recorded(runtime, outcome.interaction_id)["metadata"]
    assert meta["errors"] == outcome.errors
    assert meta["final_step"] == "baseline"
    assert [s["name"] for s in meta["trace"]][-1] == step


def test_a_failed_probe_still_answers(make_runtime: Any, world: Any) -> None:
    world.faults["probe"] = SERVER_ERROR
    outcome = make_runtime(timeout_s=0.5).run("What is 20 + 22?", lane="coach")
    assert outcome.answer == "42"
    assert outcome.final_step == "guided"
    probe = outcome.trace.find("probe")
    assert probe is not None
    assert probe.error is not None
    assert "500" in probe.error


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failed_baseline_gives_no_answer_but_no_crash(
    make_runtime: Any, world: Any, recorded: Any, mode: str
) -> None:
    world.faults["baseline"] = SLOW
    runtime = make_runtime(timeout_s=0.5)
    if mode == "sync":
        outcome = runtime.run("What is 20 + 22?")
    else:
        outcome = asyncio.run(runtime.arun("What is 20 + 22?"))
    assert not outcome.ok
    assert outcome.answer == ""
    assert outcome.final_step is None
    assert outcome.errors[0].startswith("baseline: AgentTimeoutError")
    row = recorded(runtime, outcome.interaction_id)
    assert row["output"] == ""
    assert row["metadata"]["errors"] == outcome.errors
    assert row["prompt_version"] is None


def test_an_agent_raising_anything_is_contained(make_runtime: Any, store: Any) -> None:
    from atlas_core.runtime import FunctionAgent, Runtime

    def broken(prompt: str) -> str:
        raise KeyError("boom")

    with Runtime(FunctionAgent(broken), store=store) as runtime:
        outcome = runtime.run("What is 1 + 1?")
    assert not outcome.ok
    assert "KeyError" in outcome.errors[0]
    assert "boom" in outcome.errors[0]


def test_unreadable_templates_fall_back_to_the_shipped_defaults(
    make_runtime: Any, store: Any, recorded: Any
) -> None:
    import json

    from atlas_core.runtime import Role, TemplateRegistry
    from atlas_core.runtime.templates import TEXT_NAMESPACE

    TemplateRegistry(store).ensure_defaults()
    key = "atlas.runtime.student/1"
    store.kv_put("default", TEXT_NAMESPACE, {key: json.dumps({"text": "x", "sha256": "0"})})
    runtime = make_runtime()
    outcome = runtime.run("What is 20 + 22?", lane="paired")
    assert outcome.answer == "42"
    assert outcome.final_step == "retry"
    assert outcome.versions["templates"]["student"] == "atlas.runtime.student@0"
    meta = recorded(runtime, outcome.interaction_id)["metadata"]
    assert len(meta["setup_errors"]) == 1
    assert "SHA-256" in meta["setup_errors"][0]
    assert runtime.templates.builtin()[Role.STUDENT].number == 0

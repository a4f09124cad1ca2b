"""Each lane end to end over real HTTP (scripted student and teacher servers), sync and async,
and what is recorded in the Store for it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from atlas_core.runtime import Lane, Outcome, Runtime
from atlas_core.testing.openai_server import FakeLLMServer
from atlas_core.types import VersionKind


def _run(runtime: Runtime, task: str, mode: str, **kwargs: Any) -> Outcome:
    if mode == "sync":
        return runtime.run(task, **kwargs)
    return asyncio.run(runtime.arun(task, **kwargs))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_no_history_means_paired_and_the_teacher_fixes_a_wrong_baseline(
    make_runtime: Any, servers: tuple[FakeLLMServer, FakeLLMServer], recorded: Any, mode: str
) -> None:
    runtime = make_runtime()
    task = "What is 17 + 25?"
    outcome = _run(runtime, task, mode, learning_key="math")

    assert outcome.lane is Lane.PAIRED
    assert outcome.decision.confidence is None  # no rewards in memory yet
    assert [s.name for s in outcome.trace.steps] == ["baseline", "probe", "review", "retry"]
    baseline = outcome.trace.find("baseline")
    assert baseline is not None
    assert baseline.text == "43"
    assert outcome.answer == "42"
    assert outcome.final_step == "retry"
    assert outcome.errors == []
    assert not outcome.degraded
    review = outcome.trace.find("review")
    assert review is not None
    assert review.role == "teacher"
    assert review.model == "teacher-model"
    assert "43" in review.prompt
    assert "column by column" in review.prompt
    student_srv, teacher_srv = servers
    assert len(student_srv.calls) == 3
    assert len(teacher_srv.calls) == 1

    row = recorded(runtime, outcome.interaction_id)
    meta = row["metadata"]
    assert row["output"] == "42"
    assert row["learning_key"] == "math"
    assert row["model_version"] == "student-model"
    assert row["prompt_version"] == "atlas.runtime.student_retry@1"
    assert meta["lane"] == "paired"
    assert meta["final_step"] == "retry"
    assert meta["versions"]["templates"] == {
        "student": "atlas.runtime.student@1",
        "probe": "atlas.runtime.probe@1",
        "teacher_review": "atlas.runtime.teacher_review@1",
        "student_retry": "atlas.runtime.student_retry@1",
    }
    assert meta["versions"]["models"] == ["student-model", "teacher-model"]
    assert [s["name"] for s in meta["trace"]] == ["baseline", "probe", "review", "retry"]
    assert all(s["prompt_tokens"] > 0 and s["latency_s"] > 0 for s in meta["trace"])
    total_prompt = sum(s["prompt_tokens"] for s in meta["trace"])
    assert row["prompt_tokens"] == total_prompt
    # The templates it names are Version rows of kind prompt, aliased production.
    names = {v.name: v for v in runtime.store.versions("default", VersionKind.PROMPT)}
    assert names["atlas.runtime.student_retry"].aliases == ("production",)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_paired_keeps_a_baseline_the_teacher_approves(
    make_runtime: Any, world: Any, servers: tuple[FakeLLMServer, FakeLLMServer], mode: str
) -> None:
    world.baseline_correct = True
    outcome = _run(make_runtime(), "What is 30 + 12?", mode)
    assert outcome.lane is Lane.PAIRED
    assert outcome.answer == "42"
    assert outcome.final_step == "baseline"
    assert [s.name for s in outcome.trace.steps] == ["baseline", "probe", "review"]
    assert len(servers[0].calls) == 2  # no retry


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_auto_lane_is_the_student_alone(
    make_runtime: Any, servers: tuple[FakeLLMServer, FakeLLMServer], recorded: Any, mode: str
) -> None:
    runtime = make_runtime()
    outcome = _run(runtime, "What is 1 + 2?", mode, lane="auto")
    assert outcome.lane is Lane.AUTO
    assert outcome.answer == "4"  # the uncorrected baseline
    # Nothing reads the probe in the auto lane without a probe model: it is not sent.
    assert [s.name for s in outcome.trace.steps] == ["baseline"]
    assert len(servers[0].calls) == 1
    assert servers[1].calls == []  # the teacher was not asked
    meta = recorded(runtime, outcome.interaction_id)["metadata"]
    assert meta["lane"] == "auto"
    assert meta["lane_reason"] == "forced by caller"
    assert meta["versions"]["models"] == ["student-model"]
    assert meta["versions"]["templates"] == {"student": "atlas.runtime.student@1"}


def test_auto_lane_probes_when_asked(
    make_runtime: Any, servers: tuple[FakeLLMServer, FakeLLMServer]
) -> None:
    outcome = make_runtime(probe_when_auto=True).run("What is 1 + 2?", lane="auto")
    assert [s.name for s in outcome.trace.steps] == ["baseline", "probe"]
    assert outcome.answer == "4"
    assert servers[1].calls == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_coach_lane_guidance_adapted_to_the_probe(
    make_runtime: Any, servers: tuple[FakeLLMServer, FakeLLMServer], recorded: Any, mode: str
) -> None:
    runtime = make_runtime()
    outcome = _run(runtime, "What is 19 + 23?", mode, learning_key="math", lane=Lane.COACH)
    assert outcome.lane is Lane.COACH
    assert [s.name for s in outcome.trace.steps] == ["baseline", "probe", "guidance", "guided"]
    assert outcome.answer == "42"
    assert outcome.final_step == "guided"
    teacher_prompt = servers[1].calls[0].last_user
    assert "I will add the two numbers column by column" in teacher_prompt  # the probe
    guided = servers[0].calls[-1].last_user
    assert "Add the units first, then the tens." in guided
    assert "LESSON" not in guided  # the lesson line is for the playbook, not the student
    meta = recorded(runtime, outcome.interaction_id)["metadata"]
    assert meta["versions"]["templates"]["teacher_guidance"] == "atlas.runtime.teacher_guidance@1"
    assert meta["final_step"] == "guided"


def test_without_a_teacher_every_run_is_auto(make_runtime: Any) -> None:
    outcome = make_runtime(teacher=False).run("What is 2 + 2?", lane="coach")
    assert outcome.lane is Lane.AUTO
    assert outcome.decision.reason.startswith("no teacher")
    assert outcome.answer == "5"


def test_bad_arguments_are_refused_by_name(make_runtime: Any) -> None:
    runtime = make_runtime()
    with pytest.raises(ValueError, match="`task`"):
        runtime.run("  ")
    with pytest.raises(ValueError, match="`lane`"):
        runtime.run("What is 1 + 1?", lane="turbo")
    with pytest.raises(ValueError, match="`learning_key`"):
        runtime.run("What is 1 + 1?", learning_key="")
    with pytest.raises(ValueError, match="`user_id`"):
        runtime.run("What is 1 + 1?", user_id="")
    with pytest.raises(ValueError, match="`metadata`"):
        runtime.run("What is 1 + 1?", metadata=["not", "a", "mapping"])  # type: ignore[arg-type]


def test_user_session_and_metadata_are_recorded(make_runtime: Any, recorded: Any) -> None:
    runtime = make_runtime()
    outcome = runtime.run(
        "What is 1 + 1?", user_id="u1", session_id="s9", metadata={"channel": "web", "lane": "x"}
    )
    row = recorded(runtime, outcome.interaction_id)
    assert (row["user_id"], row["session_id"]) == ("u1", "s9")
    assert row["metadata"]["channel"] == "web"
    assert row["metadata"]["lane"] == "paired"  # the runtime's keys win


def test_a_recorder_for_another_tenant_is_refused(store: Any) -> None:
    from atlas_core.runtime import FunctionAgent, Runtime
    from atlas_core.sdk import Recorder

    recorder = Recorder.embedded(store, tenant_id="acme")
    with pytest.raises(ValueError, match="tenant 'acme'"):
        Runtime(FunctionAgent(str.upper), store=store, recorder=recorder)
    recorder.close()

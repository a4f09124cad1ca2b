"""An interaction and its runtime trace, exported to a real OTLP/HTTP receiver and decoded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from atlas_core.telemetry.exporter import build_exporter
from atlas_core.telemetry.ids import ROOT, span_id
from atlas_core.telemetry.spans import SpanOptions, interaction_spans, resource_for
from atlas_core.types import Interaction, to_ns

CREATED = datetime(2026, 5, 1, 12, 0, 0, 500_000, tzinfo=UTC)

TRACE = [
    {
        "name": "baseline",
        "role": "student",
        "text": "41",
        "prompt": "What is 20 + 21?",
        "template": "atlas.runtime.student@1",
        "model": "student-m1",
        "prompt_tokens": 12,
        "completion_tokens": 2,
        "latency_s": 0.25,
        "attempts": 1,
        "error": None,
        "tool_calls": [],
    },
    {
        "name": "review",
        "role": "teacher",
        "text": "",
        "prompt": "Review: 41",
        "template": "atlas.runtime.review@2",
        "model": "teacher-t1",
        "prompt_tokens": 30,
        "completion_tokens": None,
        "latency_s": 0.5,
        "attempts": 3,
        "error": "AgentTimeoutError: no answer in 0.5 s",
        "tool_calls": [],
    },
]


def runtime_interaction(**changes: Any) -> Interaction:
    """An interaction as the runtime records one (a failed review; the baseline served)."""
    fields: dict[str, Any] = {
        "tenant_id": "acme",
        "session_id": "s-1",
        "user_id": "u-7",
        "learning_key": "math",
        "model_version": "student-m1",
        "prompt_version": "atlas.runtime.student@1",
        "input": [{"role": "user", "content": "What is 20 + 21?"}],
        "output": "41",
        "latency_ms": 1000.0,
        "prompt_tokens": 42,
        "completion_tokens": 2,
        "created_at": CREATED,
        "metadata": {
            "lane": "paired",
            "lane_reason": "too little history",
            "confidence": 0.4,
            "final_step": "baseline",
            "versions": {
                "templates": {"student": "atlas.runtime.student@1"},
                "student": "student-m1",
                "teacher": "teacher-t1",
                "models": ["student-m1", "teacher-t1"],
                "playbook": ["pb-1"],
            },
            "playbook": ["pb-1"],
            "trace": TRACE,
            "errors": ["review: AgentTimeoutError: no answer in 0.5 s"],
        },
    }
    fields.update(changes)
    return Interaction(**fields)


def test_a_runtime_interaction_is_a_root_span_with_one_child_per_step(receiver: Any) -> None:
    interaction = runtime_interaction()
    exporter = build_exporter(receiver.url, timeout_s=5)
    exporter.export(
        interaction_spans(interaction, reward=0.75, resource=resource_for("support-bot"))
    )
    assert len(receiver.requests) == 1
    root, baseline, review = receiver.requests[0]

    # Names, ids and parent links.
    assert root.name == "invoke_agent math"
    assert [baseline.name, review.name] == ["chat student-m1", "chat teacher-t1"]
    assert root.trace_id == interaction.id.bytes  # the trace id is the interaction id
    assert {baseline.trace_id, review.trace_id} == {root.trace_id}
    assert root.parent_span_id == b""
    assert baseline.parent_span_id == root.span_id
    assert review.parent_span_id == root.span_id
    assert root.span_id == span_id(interaction.id, ROOT).to_bytes(8, "big")
    assert len({root.span_id, baseline.span_id, review.span_id}) == 3

    # Timings: the root ends when the call was recorded and lasts latency_ms; steps are laid
    # end to end from the root's start.
    end = to_ns(CREATED)
    assert (root.start_ns, root.end_ns) == (end - 1_000_000_000, end)
    assert (baseline.start_ns, baseline.end_ns) == (root.start_ns, root.start_ns + 250_000_000)
    assert (review.start_ns, review.end_ns) == (baseline.end_ns, baseline.end_ns + 500_000_000)

    # Attributes: GenAI conventions and atlas.*.
    a = root.attributes
    assert a["gen_ai.operation.name"] == "invoke_agent"
    assert a["gen_ai.request.model"] == "student-m1"
    assert a["gen_ai.usage.input_tokens"] == 42
    assert a["gen_ai.usage.output_tokens"] == 2
    assert a["gen_ai.conversation.id"] == "s-1"
    assert a["user.id"] == "u-7"
    assert a["atlas.interaction.id"] == str(interaction.id)
    assert a["atlas.tenant.id"] == "acme"
    assert a["atlas.learning_key"] == "math"
    assert a["atlas.prompt_version"] == "atlas.runtime.student@1"
    assert a["atlas.lane"] == "paired"
    assert a["atlas.confidence"] == pytest.approx(0.4)
    assert a["atlas.reward"] == pytest.approx(0.75)
    assert a["atlas.versions.template.student"] == "atlas.runtime.student@1"
    assert a["atlas.versions.teacher"] == "teacher-t1"
    assert a["atlas.versions.models"] == ["student-m1", "teacher-t1"]
    assert a["atlas.playbook.entries"] == ["pb-1"]
    assert a["atlas.errors"] == ["review: AgentTimeoutError: no answer in 0.5 s"]
    b = baseline.attributes
    assert b["gen_ai.operation.name"] == "chat"
    assert b["gen_ai.request.model"] == "student-m1"
    assert (b["gen_ai.usage.input_tokens"], b["gen_ai.usage.output_tokens"]) == (12, 2)
    assert (b["atlas.step.name"], b["atlas.step.role"]) == ("baseline", "student")
    assert review.attributes["atlas.step.attempts"] == 3
    assert "gen_ai.usage.output_tokens" not in review.attributes  # unknown, not 0
    assert root.resource["service.name"] == "support-bot"
    assert root.scope == "atlas_core.telemetry"

    # Status: the failed step is an error with an exception event; the served call is not.
    assert root.status_code == 0  # UNSET: an answer was served
    assert baseline.status_code == 0
    assert review.status_code == 2  # ERROR
    assert "AgentTimeoutError" in review.status_message
    assert review.events == [
        (
            "exception",
            {"exception.type": "AgentTimeoutError", "exception.message": "no answer in 0.5 s"},
        )
    ]
    # Content stays off the spans unless asked for.
    assert not any("gen_ai.input.messages" in s.attributes for s in (root, baseline, review))


def test_a_run_without_an_answer_and_a_raising_agent_are_errors(receiver: Any) -> None:
    no_answer = runtime_interaction(
        output="", metadata={**runtime_interaction().metadata, "final_step": None}
    )
    raised = Interaction(
        input=[{"role": "user", "content": "hi"}],
        output="",
        latency_ms=3.0,
        metadata={"error": {"type": "ValueError", "message": "bad prompt"}},
    )
    exporter = build_exporter(receiver.url, timeout_s=5)
    exporter.export(interaction_spans(no_answer) + interaction_spans(raised))
    spans = {s.trace_id: s for s in receiver.spans if s.parent_span_id == b""}
    assert spans[no_answer.id.bytes].status_code == 2
    assert spans[no_answer.id.bytes].status_message.startswith("no answer: review:")
    wrapped = spans[raised.id.bytes]
    assert (wrapped.status_code, wrapped.status_message) == (2, "ValueError: bad prompt")
    assert wrapped.events == [
        ("exception", {"exception.type": "ValueError", "exception.message": "bad prompt"})
    ]
    assert wrapped.end_ns - wrapped.start_ns == 3_000_000


def test_content_goes_on_the_spans_only_when_asked_and_is_cut(receiver: Any) -> None:
    interaction = runtime_interaction(output="x" * 500)
    exporter = build_exporter(receiver.url, timeout_s=5)
    exporter.export(
        interaction_spans(
            interaction, options=SpanOptions(include_content=True, max_content_chars=100)
        )
    )
    root, baseline, _ = receiver.requests[0]
    assert root.attributes["gen_ai.input.messages"] == (
        '[{"role": "user", "content": "What is 20 + 21?"}]'
    )
    assert len(root.attributes["gen_ai.output.messages"]) == 101  # 100 chars and the ellipsis
    assert root.attributes["gen_ai.output.messages"].endswith("…")
    assert "What is 20 + 21?" in baseline.attributes["gen_ai.input.messages"]


def test_ids_are_deterministic_and_distinct() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    assert span_id(a, ROOT) == span_id(a, ROOT)
    ids = {span_id(a, ROOT), span_id(a, 0), span_id(a, 1), span_id(b, ROOT), span_id(b, 0)}
    assert len(ids) == 5
    assert all(0 < i < 2**64 for i in ids)
    first = interaction_spans(runtime_interaction(id=a))
    again = interaction_spans(runtime_interaction(id=a))
    assert [s.context.span_id for s in first] == [s.context.span_id for s in again]
    assert [s.to_json() for s in first] == [s.to_json() for s in again]

"""Builders shared by the atlas-rim tests: scripted judges for FakeLLMServer, domain objects."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from atlas_core.testing.openai_server import ChatCall, Reply
from atlas_core.types import Feedback, FeedbackKind, Interaction
from atlas_rim.config import RimConfig, load_config

T0 = datetime(2026, 1, 1, tzinfo=UTC)

_NAME = re.compile(r"You are (\S+), an impartial judge")


def verdict(
    score: float,
    uncertainty: float = 0.1,
    rationale: str = "fine",
    principles: Sequence[str] = ("accurate: yes",),
) -> str:
    """A judge answer about one response, as a model would write it."""
    return json.dumps(
        {
            "principles": list(principles),
            "score": score,
            "rationale": rationale,
            "uncertainty": uncertainty,
        }
    )


def group(scores: Sequence[float], uncertainty: float = 0.1, rationale: str = "ranked") -> str:
    """A judge answer ranking several responses."""
    return json.dumps(
        {
            "principles": ["relative quality"],
            "scores": list(scores),
            "rationale": rationale,
            "uncertainty": uncertainty,
        }
    )


def who(call: ChatCall) -> str:
    """The judge a call is from ("arbiter" for the arbiter)."""
    system = call.system or ""
    if system.startswith("You are the arbiter"):
        return "arbiter"
    match = _NAME.search(system)
    assert match is not None, system
    return match.group(1).rstrip(",")


Answer = Reply | str | Callable[[ChatCall], Reply | str]


def scripted(answers: Mapping[str, Answer]) -> Callable[[ChatCall], Reply | str]:
    """A responder answering each judge (by name, or ``name@temperature``) as scripted."""

    def respond(call: ChatCall) -> Reply | str:
        name = who(call)
        answer = answers.get(f"{name}@{call.temperature}", answers.get(name))
        assert answer is not None, f"no scripted answer for {name}@{call.temperature}"
        return answer(call) if callable(answer) else answer

    return respond


def config(base_url: str, **sections: Any) -> RimConfig:
    """A RIM config against ``base_url`` with two judges (a, b) unless ``judges`` is given."""
    data: dict[str, Any] = {
        "endpoint": {"base_url": base_url, "max_retries": 2, "backoff_s": 0.0, "timeout_s": 5.0},
        "judges": [
            {"name": "a", "model": "judge-a", "principles": ["accurate"]},
            {"name": "b", "model": "judge-b", "principles": ["helpful"]},
        ],
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return load_config(data)


def interaction(output: str = "Paris is the capital of France.", **extra: Any) -> Interaction:
    """An interaction answering a question."""
    fields: dict[str, Any] = {
        "input": [{"role": "user", "content": "What is the capital of France?"}],
        "output": output,
        "created_at": T0,
    }
    fields.update(extra)
    return Interaction(**fields)


def rating(
    target: Interaction, value: float, low: float = 1, high: float = 5, **kw: Any
) -> Feedback:
    """An explicit rating of ``target``."""
    return Feedback(
        tenant_id=target.tenant_id,
        interaction_id=target.id,
        kind=FeedbackKind.RATING,
        value=value,
        scale_min=low,
        scale_max=high,
        created_at=kw.pop("created_at", T0 + timedelta(minutes=1)),
        **kw,
    )


def signal(target: Interaction, name: str, value: float = 1.0, **kw: Any) -> Feedback:
    """An implicit signal about ``target``."""
    return Feedback(
        tenant_id=target.tenant_id,
        interaction_id=target.id,
        kind=FeedbackKind.SIGNAL,
        name=name,
        value=value,
        created_at=kw.pop("created_at", T0 + timedelta(minutes=1)),
        **kw,
    )


def text_feedback(target: Interaction, kind: FeedbackKind, text: str, **kw: Any) -> Feedback:
    """An edit, comment or label about ``target``."""
    return Feedback(
        tenant_id=target.tenant_id,
        interaction_id=target.id,
        kind=kind,
        text=text,
        created_at=kw.pop("created_at", T0 + timedelta(minutes=1)),
        **kw,
    )

"""The messages sent to judges and to the arbiter.

A judge sees its principles in the system message and the case in the user message: the
conversation, the response(s), the reference answer when there is one, and what the user
said about the response (comments, their correction). The arbiter additionally sees every
judge's principles, scores, rationales and failures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atlas_rim.config import ArbiterConfig, JudgeConfig

__all__ = ["PanelEntry", "Task", "arbiter_messages", "judge_messages"]

Message = dict[str, Any]

_ONE = (
    'Answer with only a JSON object: {"principles": [each principle with your finding], '
    '"score": <number in [0, 1], 1 = fully satisfies every principle>, "rationale": "<why>", '
    '"uncertainty": <number in [0, 1], 0 = certain>}.'
)
_GROUP = (
    "Score the {n} responses relative to each other. Answer with only a JSON object: "
    '{{"principles": [each principle with your finding], "scores": [{n} numbers in [0, 1], in '
    'response order], "rationale": "<why>", "uncertainty": <number in [0, 1], 0 = certain>}}.'
)


@dataclass(frozen=True, slots=True)
class Task:
    """What is judged: responses to one prompt (one response, or a group to rank)."""

    prompt: Sequence[Mapping[str, Any]]
    """The conversation that led to the responses (chat messages)."""
    responses: tuple[str, ...]
    reference: str | None = None
    """A gold answer, when one is known."""
    notes: tuple[str, ...] = ()
    """What the user said about the response (comments, corrections)."""
    tenant: str = "default"
    """Whose cache entries the calls use."""


@dataclass(frozen=True, slots=True)
class PanelEntry:
    """What one judge sample said, as the arbiter is shown it."""

    judge: str
    temperature: float
    scores: tuple[float, ...] | None
    principles: tuple[str, ...] = ()
    rationale: str = ""
    uncertainty: float | None = None
    error: str | None = None


def _instructions(n: int) -> str:
    return _ONE if n == 1 else _GROUP.format(n=n)


def _case_text(task: Task) -> str:
    parts = ["## Conversation"]
    for message in task.prompt:
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        parts.append(f"[{message.get('role', 'user')}] {text}")
    if len(task.responses) == 1:
        parts += ["## Response", task.responses[0]]
    else:
        for i, response in enumerate(task.responses, 1):
            parts += [f"## Response {i}", response]
    if task.reference is not None:
        parts += ["## Reference answer", task.reference]
    if task.notes:
        parts += ["## What the user said", *(f"- {note}" for note in task.notes)]
    return "\n".join(parts)


def judge_messages(judge: JudgeConfig, task: Task) -> list[Message]:
    """The chat messages of one judge sample for ``task``."""
    principles = "\n".join(f"{i}. {p}" for i, p in enumerate(judge.principles, 1))
    system = (
        f"You are {judge.name}, an impartial judge of AI assistant responses.\n"
        f"Judge by these principles:\n{principles}\n{_instructions(len(task.responses))}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": _case_text(task)}]


def arbiter_messages(
    arbiter: ArbiterConfig,
    judges: Sequence[JudgeConfig],
    task: Task,
    panel: Sequence[PanelEntry],
    reasons: Sequence[str],
) -> list[Message]:
    """The arbiter's messages: the case, each judge's principles and what each sample said."""
    lines = [
        "You are the arbiter of a panel of judges of AI assistant responses. The panel was "
        f"escalated to you because: {', '.join(reasons)}. Weigh the judges' principles and "
        "arguments, check the response(s) yourself, and give the final verdict."
    ]
    if arbiter.principles:
        lines.append("Your own principles:")
        lines += [f"- {p}" for p in arbiter.principles]
    lines.append(_instructions(len(task.responses)))
    panel_lines = ["## The panel"]
    for judge in judges:
        panel_lines.append(f"### Judge {judge.name} (principles: {'; '.join(judge.principles)})")
        for entry in (e for e in panel if e.judge == judge.name):
            if entry.scores is None:
                panel_lines.append(f"- t={entry.temperature}: no usable answer ({entry.error})")
            else:
                panel_lines.append(
                    f"- t={entry.temperature}: scores {list(entry.scores)}, uncertainty "
                    f"{entry.uncertainty}; principles {list(entry.principles)}; "
                    f"rationale: {entry.rationale}"
                )
    return [
        {"role": "system", "content": "\n".join(lines)},
        {"role": "user", "content": _case_text(task) + "\n" + "\n".join(panel_lines)},
    ]

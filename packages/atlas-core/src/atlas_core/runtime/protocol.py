"""The teacher-student protocol as a plain generator, driven sync or async by the runtime.

The protocol decides what to ask whom; it performs no I/O itself. It yields a list of
:class:`Call` (calls in one list are independent: the async driver runs them concurrently)
and receives, in the same order, each call's :class:`AgentReply` or the
:class:`AgentError` it failed with. Writing it once this way gives one protocol for
blocking and asyncio callers, with no event loop hidden behind a blocking call.

Steps: the student's ``baseline`` answer and ``probe`` (its stated approach), together (the
probe is skipped when nothing it says could matter: the lane is ``auto`` and no probe model
reads it); with a probe model, its rating of the probe (``probe_score``), blended into the
confidence that picks the lane; then, by lane: ``auto`` keeps the baseline; ``paired`` asks
the teacher to ``review`` it and, on ``VERDICT: REVISE``, the student to ``retry`` once with
the feedback; ``coach`` asks the teacher for ``guidance`` adapted to the probe and the
student for a ``guided`` answer. Any failure after the baseline (timeout, error status,
malformed or unusable answer) is kept in the trace and the baseline answer is served.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Literal

from atlas_core.runtime.agent import AgentReply
from atlas_core.runtime.errors import AgentError, AgentResponseError
from atlas_core.runtime.lanes import Lane, LaneDecision
from atlas_core.runtime.templates import PromptTemplate, Role, TemplateSet
from atlas_core.runtime.trace import Step, Trace

__all__ = [
    "Call",
    "ProtocolResult",
    "parse_confidence",
    "parse_review",
    "protocol",
    "split_lesson",
]


@dataclass(frozen=True)
class Call:
    """One agent call the protocol asks for."""

    step: str
    role: Literal["student", "teacher", "probe_model"]
    template: PromptTemplate
    prompt: str


CallResult = AgentReply | AgentError
Driven = Generator[list[Call], list[CallResult], "ProtocolResult"]


@dataclass(frozen=True)
class ProtocolResult:
    """What the protocol concluded."""

    answer: str
    """The answer served ("" only when the student gave no baseline)."""
    final_step: str | None
    """The step whose text is the answer (None when there is none)."""
    decision: LaneDecision
    trace: Trace
    lesson: str | None = None
    """A reusable rule the teacher stated with its guidance (coach lane), if any."""

    @property
    def ok(self) -> bool:
        """Whether an answer was produced."""
        return self.final_step is not None

    @property
    def degraded(self) -> bool:
        """Whether a step failed and an earlier answer was served instead."""
        return self.ok and bool(self.trace.errors)


_NUMBER = re.compile(r"(?<![\w.-])(\d+(?:\.\d+)?|\.\d+)\s*(%?)")
_VERDICT = re.compile(r"^\W*verdict\W*(ok|revise)\b", re.IGNORECASE)
_LESSON = re.compile(r"^\W*lesson\s*:\s*(.*)$", re.IGNORECASE)


def parse_review(text: str) -> tuple[Literal["ok", "revise"], str]:
    """(verdict, feedback) of a teacher's review; AgentResponseError when it has no
    ``VERDICT: OK`` / ``VERDICT: REVISE`` line among its first three non-empty lines."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    for i, line in enumerate(lines[:3]):
        match = _VERDICT.match(line.strip())
        if match:
            verdict: Literal["ok", "revise"] = "ok" if match[1].lower() == "ok" else "revise"
            rest = line.strip()[match.end() :].strip(" :.-*_")
            feedback = "\n".join([rest, *lines[i + 1 :]]).strip()
            return verdict, feedback
    raise AgentResponseError(f"teacher review has no VERDICT line: {text[:200]!r}")


def parse_confidence(text: str) -> float:
    """The first number of a probe model's answer as a confidence in [0, 1] (``70%`` is
    0.7); AgentResponseError when there is none or it is out of range."""
    match = _NUMBER.search(text)
    if match is None:
        raise AgentResponseError(f"probe model gave no number: {text[:200]!r}")
    value = float(match[1]) / (100.0 if match[2] else 1.0)
    if not 0.0 <= value <= 1.0:
        raise AgentResponseError(f"probe model confidence {match[0]!r} is not in [0, 1]")
    return value


def split_lesson(guidance: str) -> tuple[str, str | None]:
    """(guidance without its ``LESSON:`` line, the lesson or None when absent or 'none')."""
    kept: list[str] = []
    lesson: str | None = None
    for line in guidance.splitlines():
        match = _LESSON.match(line.strip())
        if match:
            candidate = match[1].strip().strip(".")
            if candidate and candidate.lower() not in ("none", "n/a", "-"):
                lesson = match[1].strip()
        else:
            kept.append(line)
    return "\n".join(kept).strip(), lesson


def _step(call: Call, result: CallResult, error: str | None = None) -> Step:
    if isinstance(result, AgentError):
        return Step(
            call.step,
            call.role,
            "",
            call.prompt,
            call.template.ref,
            error=f"{type(result).__name__}: {result}",
        )
    return Step(
        call.step,
        call.role,
        result.text,
        call.prompt,
        call.template.ref,
        result.model,
        result.prompt_tokens,
        result.completion_tokens,
        result.latency_s,
        result.attempts,
        error,
        list(result.tool_calls),
    )


def _usable(result: CallResult) -> str | None:
    """Why ``result`` cannot be used (None when it can)."""
    if isinstance(result, AgentError):
        return None  # the step already carries the error
    if not result.text.strip():
        return "AgentResponseError: empty answer"
    return None


def protocol(
    task: str,
    templates: TemplateSet,
    playbook: str,
    decide: Callable[[float | None], LaneDecision],
    *,
    probe: bool = True,
    score_probe: bool = False,
) -> Driven:
    """The protocol for one task; see the module docstring. ``playbook`` is the rendered
    guidance injected into the student's prompts; ``decide(probe_confidence)`` picks the
    lane. ``probe=False`` skips the probe (the caller knows the lane is ``auto`` whatever it
    says); ``score_probe`` asks the probe model to rate it (``probe_score`` step)."""
    trace = Trace()
    student = templates[Role.STUDENT]
    probe_t = templates[Role.PROBE]
    baseline_call = Call(
        "baseline", "student", student, student.render(task=task, playbook=playbook)
    )
    probe_text: str | None = None
    if probe:
        probe_call = Call("probe", "student", probe_t, probe_t.render(task=task, playbook=playbook))
        baseline, probed = yield [baseline_call, probe_call]
        base = trace.add(_step(baseline_call, baseline))
        probe_text = trace.add(_step(probe_call, probed)).text.strip() or None
    else:
        (baseline,) = yield [baseline_call]
        base = trace.add(_step(baseline_call, baseline))
    confidence = None
    if score_probe and probe_text is not None:
        confidence = yield from _score(task, templates, probe_text, trace)
    decision = decide(confidence)
    if not base.ok:
        return ProtocolResult("", None, decision, trace)
    fallback = ProtocolResult(base.text, "baseline", decision, trace)
    if decision.lane is Lane.AUTO:
        return fallback
    if decision.lane is Lane.PAIRED:
        return (yield from _paired(task, templates, playbook, base.text, probe_text, fallback))
    return (yield from _coach(task, templates, playbook, probe_text, fallback))


def _score(
    task: str, templates: TemplateSet, probe: str, trace: Trace
) -> Generator[list[Call], list[CallResult], float | None]:
    score_t = templates[Role.PROBE_SCORE]
    call = Call("probe_score", "probe_model", score_t, score_t.render(task=task, probe=probe))
    (result,) = yield [call]
    if isinstance(result, AgentError):
        trace.add(_step(call, result))
        return None
    try:
        confidence = parse_confidence(result.text)
    except AgentResponseError as exc:
        trace.add(_step(call, result, f"{type(exc).__name__}: {exc}"))
        return None
    trace.add(_step(call, result))
    return confidence


def _paired(
    task: str,
    templates: TemplateSet,
    playbook: str,
    answer: str,
    probe: str | None,
    fallback: ProtocolResult,
) -> Driven:
    trace = fallback.trace
    review_t = templates[Role.TEACHER_REVIEW]
    call = Call(
        "review",
        "teacher",
        review_t,
        review_t.render(task=task, probe=probe or "(not available)", answer=answer),
    )
    (result,) = yield [call]
    if isinstance(result, AgentError):
        trace.add(_step(call, result))
        return fallback
    try:
        verdict, feedback = parse_review(result.text)
    except AgentResponseError as exc:
        trace.add(_step(call, result, f"{type(exc).__name__}: {exc}"))
        return fallback
    trace.add(_step(call, result))
    if verdict == "ok":
        return fallback
    retry_t = templates[Role.STUDENT_RETRY]
    feedback = feedback or "The reviewer judged the answer incorrect or incomplete."
    retry_call = Call(
        "retry",
        "student",
        retry_t,
        retry_t.render(task=task, playbook=playbook, answer=answer, feedback=feedback),
    )
    (retried,) = yield [retry_call]
    step = trace.add(_step(retry_call, retried, _usable(retried)))
    if not step.ok:
        return fallback
    return ProtocolResult(step.text, "retry", fallback.decision, trace)


def _coach(
    task: str,
    templates: TemplateSet,
    playbook: str,
    probe: str | None,
    fallback: ProtocolResult,
) -> Driven:
    trace = fallback.trace
    guide_t = templates[Role.TEACHER_GUIDANCE]
    call = Call(
        "guidance",
        "teacher",
        guide_t,
        guide_t.render(task=task, probe=probe or "(the student did not state one)"),
    )
    (result,) = yield [call]
    guidance, lesson = ("", None) if isinstance(result, AgentError) else split_lesson(result.text)
    problem = (
        None if guidance or isinstance(result, AgentError) else "AgentResponseError: no guidance"
    )
    step = trace.add(_step(call, result, problem))
    if not step.ok:
        return fallback
    guided_t = templates[Role.STUDENT_WITH_GUIDANCE]
    guided_call = Call(
        "guided",
        "student",
        guided_t,
        guided_t.render(task=task, playbook=playbook, guidance=guidance),
    )
    (guided,) = yield [guided_call]
    answered = trace.add(_step(guided_call, guided, _usable(guided)))
    if not answered.ok:
        return ProtocolResult(fallback.answer, "baseline", fallback.decision, trace, lesson)
    return ProtocolResult(answered.text, "guided", fallback.decision, trace, lesson)

"""An interaction (and the runtime's trace of it) as an OpenTelemetry span tree.

One root span per interaction, ``invoke_agent {learning_key}``: it ends when the call was
recorded (``created_at``: the SDK and the runtime record a call when it returns) and starts
``latency_ms`` earlier. Under it, one ``chat {model}`` span per step of
``metadata["trace"]`` (:mod:`atlas_core.runtime.trace`), laid end to end in order from the
root's start: the trace keeps each step's duration, not its start time. Attributes follow
the OTel GenAI semantic conventions where they apply (``gen_ai.*``: operation, model, token
usage, conversation) and carry the rest as ``atlas.*`` (interaction id, tenant, learning
key, versions, lane, reward when known). A failed step has status ERROR and an
``exception`` event; the root has status ERROR when the agent raised (``metadata["error"]``)
or the runtime produced no answer. Prompts and answers go on the spans only with
``include_content`` (they may hold personal data). Ids come from :mod:`.ids`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from atlas_core import __version__
from atlas_core.telemetry.ids import ROOT, span_id, trace_id
from atlas_core.types import Interaction, to_ns

__all__ = ["SCOPE", "SpanOptions", "interaction_spans", "resource_for"]

SCOPE = InstrumentationScope("atlas_core.telemetry", __version__)
"""The instrumentation scope every exported span names."""

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


@dataclass(frozen=True)
class SpanOptions:
    """What goes on the spans besides the always-safe attributes."""

    include_content: bool = False
    """Put input messages, the output and each step's prompt and answer on the spans."""
    max_content_chars: int = 4096
    """Longer content is cut to this many characters (backends cap attribute size)."""


def resource_for(service_name: str = "atlas") -> Resource:
    """The OTel resource of exported spans: ``service.name`` plus the SDK's defaults
    (``OTEL_RESOURCE_ATTRIBUTES`` is merged in by the SDK)."""
    return Resource.create({"service.name": service_name})


def interaction_spans(
    interaction: Interaction,
    *,
    reward: float | None = None,
    resource: Resource | None = None,
    options: SpanOptions | None = None,
) -> list[ReadableSpan]:
    """The span tree of ``interaction``: the root first, then one span per trace step."""
    opts = options or SpanOptions()
    res = resource or resource_for()
    meta = interaction.metadata
    end = to_ns(interaction.created_at)
    start = end - _ns(interaction.latency_ms / 1000.0 if interaction.latency_ms else 0.0)
    tid = trace_id(interaction.id)
    root_ctx = SpanContext(tid, span_id(interaction.id, ROOT), False, _SAMPLED)
    raw_steps = meta.get("trace")
    steps: list[Any] = raw_steps if isinstance(raw_steps, list) else []
    children: list[ReadableSpan] = []
    cursor = start
    for position, step in enumerate(steps):
        if not isinstance(step, Mapping):
            continue
        step_end = min(end, cursor + _ns(_number(step.get("latency_s")) or 0.0))
        children.append(
            _step_span(interaction, position, step, root_ctx, cursor, step_end, res, opts)
        )
        cursor = step_end
    root = ReadableSpan(
        name=f"invoke_agent {interaction.learning_key}",
        context=root_ctx,
        parent=None,
        resource=res,
        attributes=_root_attributes(interaction, reward, opts),
        events=_root_events(meta, end),
        kind=SpanKind.INTERNAL,
        status=_root_status(meta),
        start_time=start,
        end_time=end,
        instrumentation_scope=SCOPE,
    )
    return [root, *children]


def _ns(seconds: float) -> int:
    return max(0, round(seconds * 1e9))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cut(text: str, opts: SpanOptions) -> str:
    return text if len(text) <= opts.max_content_chars else text[: opts.max_content_chars] + "…"


def _root_attributes(
    interaction: Interaction, reward: float | None, opts: SpanOptions
) -> dict[str, Any]:
    meta = interaction.metadata
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": interaction.learning_key,
        "atlas.interaction.id": str(interaction.id),
        "atlas.tenant.id": interaction.tenant_id,
        "atlas.learning_key": interaction.learning_key,
    }
    optional = {
        "gen_ai.request.model": interaction.model_version,
        "gen_ai.response.model": interaction.model_version,
        "gen_ai.usage.input_tokens": interaction.prompt_tokens,
        "gen_ai.usage.output_tokens": interaction.completion_tokens,
        "gen_ai.conversation.id": interaction.session_id,
        "user.id": interaction.user_id,
        "atlas.model_version": interaction.model_version,
        "atlas.prompt_version": interaction.prompt_version,
        "atlas.latency_ms": interaction.latency_ms,
        "atlas.reward": reward,
        "atlas.lane": meta.get("lane"),
        "atlas.lane_reason": meta.get("lane_reason"),
        "atlas.confidence": _number(meta.get("confidence")),
        "atlas.final_step": meta.get("final_step"),
    }
    attrs.update({k: v for k, v in optional.items() if v is not None})
    versions = meta.get("versions")
    if isinstance(versions, Mapping):
        for role, ref in (versions.get("templates") or {}).items():
            attrs[f"atlas.versions.template.{role}"] = str(ref)
        for name in ("student", "teacher", "probe_model"):
            if versions.get(name):
                attrs[f"atlas.versions.{name}"] = str(versions[name])
        if versions.get("models"):
            attrs["atlas.versions.models"] = [str(m) for m in versions["models"]]
    playbook = meta.get("playbook")
    if isinstance(playbook, list) and playbook:
        attrs["atlas.playbook.entries"] = [str(e) for e in playbook]
    errors = meta.get("errors")
    if isinstance(errors, list) and errors:
        attrs["atlas.errors"] = [str(e) for e in errors]
    if opts.include_content:
        attrs["gen_ai.input.messages"] = _cut(json.dumps(interaction.input), opts)
        attrs["gen_ai.output.messages"] = _cut(
            json.dumps([{"role": "assistant", "content": interaction.output}]), opts
        )
    return attrs


def _error_parts(error: Any) -> tuple[str, str]:
    """(type, message) of ``{"type", "message"}`` (SDK wrap) or ``"Type: message"`` (runtime)."""
    if isinstance(error, Mapping):
        return str(error.get("type") or "Error"), str(error.get("message") or "")
    kind, sep, message = str(error).partition(": ")
    return (kind, message) if sep else ("Error", kind)


def _exception_event(error: Any, at: int) -> Event:
    kind, message = _error_parts(error)
    return Event("exception", {"exception.type": kind, "exception.message": message}, timestamp=at)


def _root_events(meta: Mapping[str, Any], end: int) -> Sequence[Event]:
    return [_exception_event(meta["error"], end)] if meta.get("error") else []


def _root_status(meta: Mapping[str, Any]) -> Status:
    if meta.get("error"):
        kind, message = _error_parts(meta["error"])
        return Status(StatusCode.ERROR, f"{kind}: {message}")
    # A runtime run (it records final_step) that served no answer at all.
    if meta.get("trace") and "final_step" in meta and meta["final_step"] is None:
        return Status(StatusCode.ERROR, "no answer: " + "; ".join(meta.get("errors") or []))
    return Status(StatusCode.UNSET)


def _step_span(
    interaction: Interaction,
    position: int,
    step: Mapping[str, Any],
    parent: SpanContext,
    start: int,
    end: int,
    resource: Resource,
    opts: SpanOptions,
) -> ReadableSpan:
    name = str(step.get("name") or f"step{position}")
    model = step.get("model")
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "atlas.step.name": name,
        "atlas.step.index": position,
        "atlas.step.attempts": int(step.get("attempts") or 1),
    }
    optional = {
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": step.get("prompt_tokens"),
        "gen_ai.usage.output_tokens": step.get("completion_tokens"),
        "atlas.step.role": step.get("role"),
        "atlas.step.template": step.get("template"),
    }
    attrs.update({k: v for k, v in optional.items() if v is not None})
    if step.get("tool_calls"):
        attrs["atlas.step.tool_calls"] = len(step["tool_calls"])
    if opts.include_content:
        attrs["gen_ai.input.messages"] = _cut(
            json.dumps([{"role": "user", "content": str(step.get("prompt") or "")}]), opts
        )
        attrs["gen_ai.output.messages"] = _cut(
            json.dumps([{"role": "assistant", "content": str(step.get("text") or "")}]), opts
        )
    error = step.get("error")
    return ReadableSpan(
        name=f"chat {model}" if model else f"chat {name}",
        context=SpanContext(parent.trace_id, span_id(interaction.id, position), False, _SAMPLED),
        parent=parent,
        resource=resource,
        attributes=attrs,
        events=[_exception_event(error, end)] if error else [],
        kind=SpanKind.CLIENT,
        status=Status(StatusCode.ERROR, str(error)) if error else Status(StatusCode.UNSET),
        start_time=start,
        end_time=end,
        instrumentation_scope=SCOPE,
    )

"""What a run leaves in the Store: one interaction, recorded through the SDK.

The interaction's ``output`` is the served answer; ``model_version`` the model that wrote
it; ``prompt_version`` the template (``name@number``) that produced it; tokens and latency
are summed over every step. ``metadata`` carries what RIM and the learners read:
``lane`` (and why), the capability estimate, ``versions`` (every template used, the
student and teacher, every model that answered, the playbook entries injected),
``playbook``, ``trace`` (every step: role, prompt, text, tokens, latency, error),
``errors``, and ``setup_errors`` when the store could not give the run something.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from atlas_core.runtime.agent import Agent
from atlas_core.runtime.playbook import PlaybookEntry
from atlas_core.runtime.protocol import ProtocolResult
from atlas_core.runtime.templates import TemplateSet
from atlas_core.sdk.recorder import Recorder

__all__ = ["record_run", "run_metadata", "run_versions"]

log = logging.getLogger("atlas_core.runtime")


def run_versions(
    result: ProtocolResult,
    templates: TemplateSet,
    entries: Sequence[PlaybookEntry],
    student: Agent,
    teacher: Agent | None,
    probe_model: Agent | None = None,
) -> dict[str, Any]:
    """The versions of every prompt and model involved in one run."""
    steps = result.trace.steps
    used = {step.template for step in steps if step.template}
    return {
        "templates": {role: ref for role, ref in templates.refs().items() if ref in used},
        "student": student.name,
        "teacher": teacher.name if teacher is not None else None,
        "probe_model": probe_model.name if probe_model is not None else None,
        "models": sorted({s.model for s in steps if s.model}),
        "playbook": [e.id for e in entries],
    }


def run_metadata(
    result: ProtocolResult,
    versions: dict[str, Any],
    entries: Sequence[PlaybookEntry],
    problems: Sequence[str],
    extra: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The interaction metadata of one run (see the module docstring); the runtime's keys
    win over the caller's ``extra``."""
    decision = result.decision
    capability = decision.capability
    meta: dict[str, Any] = {
        **(extra or {}),
        "lane": decision.lane.value,
        "lane_reason": decision.reason,
        "confidence": decision.confidence,
        "probe_confidence": decision.probe_confidence,
        "capability": {"n": capability.n, "mean": capability.mean, "ema": capability.ema},
        "final_step": result.final_step,
        "versions": versions,
        "playbook": [e.id for e in entries],
        "trace": result.trace.to_json(),
        "errors": result.trace.errors,
    }
    if problems:
        meta["setup_errors"] = list(problems)
    return meta


def record_run(
    recorder: Recorder,
    *,
    task: str,
    learning_key: str,
    result: ProtocolResult,
    metadata: dict[str, Any],
    student: Agent,
    user_id: str | None,
    session_id: str | None,
) -> uuid.UUID | None:
    """Records one run; its interaction id, or None when recording failed (logged: a
    recording problem never fails the call it records)."""
    trace = result.trace
    final = trace.find(result.final_step) if result.final_step else None
    prompt_tokens, completion_tokens = trace.tokens()
    try:
        return recorder.record_interaction(
            input=task,
            output=result.answer,
            learning_key=learning_key,
            model_version=(final.model if final else None) or student.name,
            prompt_version=final.template if final else None,
            latency_ms=sum(s.latency_s for s in trace.steps) * 1000.0,
            metadata=metadata,
            session_id=session_id,
            user_id=user_id,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
    except Exception:
        log.exception("atlas runtime: could not record a run of %r", learning_key)
        return None

"""``Runtime``: serves a wrapped agent through the teacher-student protocol and records it.

One :meth:`Runtime.run` (or ``await`` :meth:`Runtime.arun`): read the key's capability
estimate, the production templates and the playbook; drive the protocol
(:mod:`atlas_core.runtime.protocol`) against the student and teacher agents; record the
call through the SDK with the lane, the trace and the version of every prompt and model
involved; return the answer and the trace. Nothing an agent or the store does makes it
raise: failures are in the trace and the student's baseline answer is served.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from atlas_core.config.models import RuntimeConfig
from atlas_core.errors import ConfigError, InvalidArgumentError
from atlas_core.ids import new_id
from atlas_core.runtime.agent import Agent
from atlas_core.runtime.capability import Capability, CapabilityEstimator
from atlas_core.runtime.driving import drive_async, drive_sync
from atlas_core.runtime.lanes import Lane, LaneDecision, choose_lane
from atlas_core.runtime.playbook import MAX_ENTRY_CHARS, Playbook, PlaybookEntry
from atlas_core.runtime.protocol import Call, Driven, ProtocolResult, protocol
from atlas_core.runtime.recording import record_run, run_metadata, run_versions
from atlas_core.runtime.templates import TemplateRegistry, TemplateSet
from atlas_core.runtime.trace import Trace
from atlas_core.sdk.feedback import check_metadata
from atlas_core.sdk.recorder import Recorder
from atlas_core.store import Store

__all__ = ["Outcome", "Runtime"]

log = logging.getLogger("atlas_core.runtime")


@dataclass(frozen=True)
class Outcome:
    """The answer of one run and how it came about."""

    answer: str
    lane: Lane
    trace: Trace
    decision: LaneDecision
    final_step: str | None
    """``baseline``, ``retry`` or ``guided``; None when the student gave no answer."""
    interaction_id: uuid.UUID | None
    """The recorded interaction (rate it with ``atlas_core.sdk.rate``); None if not recorded."""
    versions: dict[str, Any] = field(default_factory=dict)
    """Templates (role -> name@number), student and teacher models, playbook entry ids."""
    playbook: tuple[str, ...] = ()
    """Ids of the playbook entries injected."""

    @property
    def ok(self) -> bool:
        """Whether an answer was produced."""
        return self.final_step is not None

    @property
    def errors(self) -> list[str]:
        """``step: error`` of every failed step."""
        return self.trace.errors

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """Tool calls the model that wrote the answer asked for (OpenAI shape), to run and
        answer in a following call; empty when none."""
        final = self.trace.find(self.final_step) if self.final_step else None
        return final.tool_calls if final is not None else []

    @property
    def degraded(self) -> bool:
        """Whether an answer was served although a step failed (its error is in the trace);
        a failed review, retry, guidance or guided step means the baseline was served."""
        return self.ok and bool(self.trace.errors)


@dataclass(frozen=True)
class _Prepared:
    call_key: str
    templates: TemplateSet
    entries: list[PlaybookEntry]
    capability: Capability
    problems: list[str]
    """What could not be read from the store (the run went on without it)."""


class Runtime:
    """The reasoning core around one student (and optionally one teacher).

    ``store`` holds templates, playbooks and the rewards the capability estimate reads.
    ``recorder`` records each run (default: an embedded recorder on ``store``, closed by
    :meth:`close`). ``config`` defaults to :class:`RuntimeConfig` defaults. Without a
    teacher every run is ``auto``. ``probe_model`` (optional): an agent that rates the
    student's probe; its confidence is blended with the estimate (``probe_weight``).
    """

    def __init__(
        self,
        student: Agent,
        teacher: Agent | None = None,
        *,
        store: Store,
        tenant: str = "default",
        recorder: Recorder | None = None,
        config: RuntimeConfig | None = None,
        probe_model: Agent | None = None,
    ) -> None:
        for name, agent in (
            ("student", student),
            ("teacher", teacher),
            ("probe_model", probe_model),
        ):
            if agent is not None and not isinstance(agent, Agent):
                raise InvalidArgumentError(
                    f"invalid argument `{name}`: not an Agent (needs name, run, arun): {agent!r}"
                )
        self.student = student
        self.teacher = teacher
        self.store = store
        self.tenant = tenant
        self.config = config or RuntimeConfig()
        self.probe_model = probe_model
        if recorder is not None and recorder.tenant_id != tenant:
            raise InvalidArgumentError(
                f"invalid argument `recorder`: records for tenant {recorder.tenant_id!r}, "
                f"but the runtime serves tenant {tenant!r}"
            )
        self._owns_recorder = recorder is None
        self.recorder = recorder or Recorder.embedded(store, tenant_id=tenant)
        cfg = self.config
        self.templates = TemplateRegistry(store, tenant, cfg.template_family)
        self.playbook = Playbook(store, tenant)
        self.capability = CapabilityEstimator(
            store,
            tenant,
            window=cfg.capability_window,
            lookback_s=cfg.capability_lookback_s,
            use_ema=cfg.capability_use_ema,
            half_life=cfg.capability_half_life,
            ttl_s=cfg.capability_ttl_s,
        )
        self._template_cache: tuple[float, TemplateSet] | None = None
        self._entry_cache: dict[str, tuple[float, list[PlaybookEntry]]] = {}
        self._runs: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls,
        config: RuntimeConfig,
        *,
        store: Store,
        student: Agent | None = None,
        teacher: Agent | None = None,
        **options: Any,
    ) -> Runtime:
        """A runtime whose student and teacher default to the chat endpoints configured in
        ``config`` (``runtime.student`` / ``runtime.teacher``); ``options`` go to the
        constructor. ConfigError when there is neither a student given nor one configured."""
        from atlas_core.runtime.chat_agent import ChatAgent

        if student is None:
            if config.student is None:
                raise ConfigError("runtime.student: not configured, and no student agent was given")
            student = ChatAgent.from_config(config.student)
        if teacher is None and config.teacher is not None:
            teacher = ChatAgent.from_config(config.teacher)
        return cls(student, teacher, store=store, config=config, **options)

    # -- public -------------------------------------------------------------------------------
    def run(
        self,
        task: str,
        *,
        learning_key: str = "default",
        lane: Lane | str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Answers ``task`` through the protocol, blocking. ``lane`` forces a lane (the
        estimate is still recorded). ``user_id``, ``session_id`` and ``metadata`` are recorded
        with the call (the runtime's own metadata keys win over the caller's). Raises only
        InvalidArgumentError, for bad arguments; everything else is in the outcome's trace."""
        forced = _check(task, learning_key, lane, user_id, session_id, metadata)
        prepared = self._prepare(learning_key)
        gen = self._protocol(task, prepared, forced)
        result = drive_sync(gen, self._agent)
        return self._finish(task, learning_key, prepared, result, user_id, session_id, metadata)

    async def arun(
        self,
        task: str,
        *,
        learning_key: str = "default",
        lane: Lane | str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """:meth:`run` for asyncio: agent calls are awaited (independent ones concurrently)
        and store reads and writes run on worker threads."""
        forced = _check(task, learning_key, lane, user_id, session_id, metadata)
        prepared = await asyncio.to_thread(self._prepare, learning_key)
        gen = self._protocol(task, prepared, forced)
        result = await drive_async(gen, self._agent)
        return await asyncio.to_thread(
            self._finish, task, learning_key, prepared, result, user_id, session_id, metadata
        )

    def review_playbook(self, learning_key: str) -> list[PlaybookEntry]:
        """Measures the key's playbook entries against the recorded rewards and prunes the
        harmful ones (see :meth:`Playbook.review`); returns those pruned now."""
        cfg = self.config
        pruned = self.playbook.review(
            learning_key,
            min_samples=cfg.playbook_min_samples,
            margin=cfg.playbook_prune_margin,
            lookback_s=cfg.playbook_lookback_s,
        )
        self._entry_cache.pop(learning_key, None)
        return pruned

    def close(self) -> None:
        """Flushes and closes the recorder it opened (a given recorder is left open)."""
        if self._owns_recorder:
            self.recorder.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the steps around the protocol -------------------------------------------------------------
    def _load_templates(self, problems: list[str]) -> TemplateSet:
        now = time.monotonic()
        cached = self._template_cache
        if cached is not None and now - cached[0] < self.config.template_ttl_s:
            return cached[1]
        try:
            self.templates.ensure_defaults()
            templates = self.templates.active(self.config.template_alias)
        except Exception as exc:
            # Serve on: the last templates read, else the shipped defaults (recorded as @0).
            log.exception("atlas runtime: templates unavailable")
            problems.append(f"templates: {type(exc).__name__}: {exc}")
            return cached[1] if cached is not None else self.templates.builtin()
        self._template_cache = (now, templates)
        return templates

    def _playbook_entries(self, learning_key: str) -> list[PlaybookEntry]:
        now = time.monotonic()
        cached = self._entry_cache.get(learning_key)
        if cached is not None and now - cached[0] < self.config.playbook_ttl_s:
            return cached[1]
        entries = self.playbook.entries(learning_key)
        self._entry_cache[learning_key] = (now, entries)
        return entries

    def _prepare(self, learning_key: str) -> _Prepared:
        call_key = new_id().hex
        problems: list[str] = []
        templates = self._load_templates(problems)
        try:
            entries = self.playbook.select(
                learning_key,
                self.config.playbook_token_budget,
                holdout=self.config.playbook_holdout,
                call_key=call_key,
                entries=self._playbook_entries(learning_key),
            )
        except Exception as exc:
            log.exception("atlas runtime: playbook unavailable for %r", learning_key)
            problems.append(f"playbook: {type(exc).__name__}: {exc}")
            entries = []
        try:
            capability = self.capability.estimate(learning_key)
        except Exception as exc:
            log.exception("atlas runtime: capability estimate failed for %r", learning_key)
            problems.append(f"capability: {type(exc).__name__}: {exc}")
            capability = Capability(learning_key, 0, None)
        return _Prepared(call_key, templates, entries, capability, problems)

    def _decide(
        self, capability: Capability, forced: Lane | None, probe_confidence: float | None
    ) -> LaneDecision:
        cfg = self.config
        decision = choose_lane(
            capability,
            auto_threshold=cfg.auto_threshold,
            coach_threshold=cfg.coach_threshold,
            min_history=cfg.min_history,
            probe_confidence=probe_confidence,
            probe_weight=cfg.probe_weight,
        )
        if forced is not None:
            decision = LaneDecision(
                forced, decision.confidence, capability, probe_confidence, "forced by caller"
            )
        if self.teacher is None and decision.lane is not Lane.AUTO:
            decision = LaneDecision(
                Lane.AUTO,
                decision.confidence,
                capability,
                probe_confidence,
                f"no teacher (would be {decision.lane.value}: {decision.reason})",
            )
        return decision

    def _protocol(self, task: str, prepared: _Prepared, forced: Lane | None) -> Driven:
        capability = prepared.capability
        scored = self.probe_model is not None and forced is None
        # Without a probe model the lane does not depend on the probe: when it is auto, the
        # probe would only cost a student call (unless asked for, for the learners).
        probe = (
            self.config.probe_when_auto
            or scored
            or self._decide(capability, forced, None).lane is not Lane.AUTO
        )
        return protocol(
            task,
            prepared.templates,
            Playbook.render(prepared.entries),
            lambda confidence: self._decide(capability, forced, confidence),
            probe=probe,
            score_probe=scored,
        )

    def _agent(self, call: Call) -> Agent:
        agent = {"student": self.student, "teacher": self.teacher, "probe_model": self.probe_model}[
            call.role
        ]
        assert agent is not None, "the protocol asks only the agents the runtime has"
        return agent

    def _finish(
        self,
        task: str,
        learning_key: str,
        prepared: _Prepared,
        result: ProtocolResult,
        user_id: str | None,
        session_id: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> Outcome:
        entries = prepared.entries
        versions = run_versions(
            result, prepared.templates, entries, self.student, self.teacher, self.probe_model
        )
        interaction_id = record_run(
            self.recorder,
            task=task,
            learning_key=learning_key,
            result=result,
            metadata=run_metadata(result, versions, entries, prepared.problems, metadata),
            student=self.student,
            user_id=user_id,
            session_id=session_id,
        )
        self._learn(learning_key, result)
        return Outcome(
            result.answer,
            result.decision.lane,
            result.trace,
            result.decision,
            result.final_step,
            interaction_id,
            versions,
            tuple(e.id for e in entries),
        )

    def _learn(self, learning_key: str, result: ProtocolResult) -> None:
        cfg = self.config
        try:
            lesson = result.lesson
            if cfg.playbook_learn and lesson and result.final_step == "guided":
                if len(lesson) > MAX_ENTRY_CHARS:
                    log.warning("atlas runtime: teacher lesson of %d chars not kept", len(lesson))
                else:
                    self.playbook.add(learning_key, lesson, source="teacher")
                    self._entry_cache.pop(learning_key, None)
            with self._lock:
                runs = self._runs[learning_key] = self._runs.get(learning_key, 0) + 1
            if cfg.playbook_review_every and runs % cfg.playbook_review_every == 0:
                self.review_playbook(learning_key)
        except Exception:
            log.exception("atlas runtime: playbook upkeep failed for %r", learning_key)


def _check(
    task: str,
    learning_key: str,
    lane: Lane | str | None,
    user_id: str | None,
    session_id: str | None,
    metadata: Mapping[str, Any] | None,
) -> Lane | None:
    for name, value in (("user_id", user_id), ("session_id", session_id)):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidArgumentError(f"invalid argument `{name}`: a non-empty str or None")
    check_metadata(metadata)  # JSON-serialisable mapping, checked before any agent is called
    if not isinstance(task, str) or not task.strip():
        raise InvalidArgumentError(f"invalid argument `task`: a non-empty str, got {task!r}")
    if not isinstance(learning_key, str) or not learning_key:
        raise InvalidArgumentError(
            f"invalid argument `learning_key`: a non-empty str, got {learning_key!r}"
        )
    if lane is None:
        return None
    try:
        return Lane(lane)
    except ValueError:
        raise InvalidArgumentError(
            f"invalid argument `lane`: one of {[m.value for m in Lane]}, got {lane!r}"
        ) from None

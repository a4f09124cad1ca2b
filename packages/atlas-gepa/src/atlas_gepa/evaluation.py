"""Runs the reasoning core with a candidate's templates on a batch and scores the answers.

A candidate maps template roles to texts. To evaluate one, the :class:`CandidateRunner`
serves it through the real :class:`~atlas_core.runtime.Runtime` (same protocol, lanes and
agents as production) over a private *scratch* store: the candidate's texts are registered
there under an alias named by their hash, every other role falls back to a copy of the
production templates. Why a scratch store: evaluations must not be recorded as production
traffic, must not write candidate versions the gate never asked for, and must not teach the
production playbook; yet the Runtime is used only through its public API. The runs'
recordings go to a transport that drops them (the outcomes are what is scored). The scratch
store holds no rewards, so with ``lane`` unset the runtime picks ``paired`` whenever a teacher
is given (too little history): set ``lane`` to evaluate the lane the target roles serve in.

All evaluations run on one long-lived event loop owned by the runner: agents keep their HTTP
connection pools and the runtimes their template caches across GEPA's many small batches.

Examples run concurrently up to ``concurrency``; each is bounded by ``timeout_s``. Nothing
about one example makes the batch fail: a timeout, an agent error, a template the role
refuses or a failed scorer is a score of 0 with the error in the :class:`Attempt`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atlas_core.config.models import RuntimeConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.runtime import Agent, Lane, Outcome, Role, Runtime, TemplateError, TemplateRegistry
from atlas_core.runtime.templates import DEFAULT_TEXTS, check_text
from atlas_core.sdk.recorder import Recorder
from atlas_core.store import Store, open_store
from atlas_core.types import Interaction, VersionKind, VersionStatus
from atlas_gepa.data import GepaExample
from atlas_gepa.discard import DiscardTransport
from atlas_gepa.scoring import Scored, Scorer

__all__ = ["Attempt", "CandidateRunner", "candidate_digest", "production_texts"]

_PROMPT = VersionKind.PROMPT
_WARM_RUNTIMES = 8


@dataclass(frozen=True)
class Attempt:
    """One example answered by one candidate (GEPA's trajectory and output)."""

    example: GepaExample
    answer: str
    score: float
    rationale: str = ""
    error: str | None = None
    """Why the example failed (timeout, agent error, invalid template, scorer error)."""
    lane: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    """The protocol trace (step name, role, prompt, text, error, ...)."""
    tokens: int = 0
    """Prompt + completion tokens the agents spent on it."""


def production_texts(store: Store, tenant: str, family: str) -> dict[Role, str]:
    """The text of every role's ``production`` template (the shipped default where a role has
    none registered); reads only."""
    registry = TemplateRegistry(store, tenant, family)
    out: dict[Role, str] = {}
    for role in Role:
        try:
            out[role] = registry.load(role, "production").text
        except TemplateError:
            out[role] = DEFAULT_TEXTS[role]
    return out


def candidate_digest(candidate: Mapping[str, str]) -> str:
    """A short stable hash of a candidate's texts (its alias in the scratch store)."""
    blob = json.dumps(sorted(candidate.items()), separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class CandidateRunner:
    """Evaluates candidates (role -> template text) on batches of examples.

    ``base`` gives the templates of the roles a candidate leaves out (its production ones);
    ``student`` / ``teacher`` answer; ``scorer`` scores. ``lane`` forces a lane (None: the
    runtime decides). ``scratch_dir``: where the scratch store lives (default: a temporary
    directory removed by :meth:`close`).
    """

    def __init__(
        self,
        student: Agent,
        teacher: Agent | None,
        scorer: Scorer,
        *,
        base: Mapping[Role, str],
        tenant: str = "default",
        runtime_config: RuntimeConfig | None = None,
        lane: Lane | None = None,
        concurrency: int = 16,
        timeout_s: float = 120.0,
        scratch_dir: Path | None = None,
    ) -> None:
        if concurrency < 1:
            raise InvalidArgumentError(f"invalid argument `concurrency`: >= 1, got {concurrency}")
        if not timeout_s > 0:
            raise InvalidArgumentError(f"invalid argument `timeout_s`: > 0, got {timeout_s}")
        self.student = student
        self.teacher = teacher
        self.scorer = scorer
        self.tenant = tenant
        self.lane = lane
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        config = runtime_config or RuntimeConfig()
        # Evaluation must not learn playbook entries: they would leak into later evaluations.
        self.config = config.model_copy(update={"playbook_learn": False, "template_ttl_s": 1e9})
        self._owned_dir = scratch_dir is None
        self.scratch_dir = (
            Path(tempfile.mkdtemp(prefix="atlas-gepa-")) if scratch_dir is None else scratch_dir
        )
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        self.store = open_store("sqlite:///" + str(self.scratch_dir / "scratch.db"))
        self.registry = TemplateRegistry(self.store, tenant, self.config.template_family)
        self._lock = threading.Lock()
        # Evaluation runs are not traffic: their outcomes are kept, their recordings dropped.
        self._recorder = Recorder(DiscardTransport(), tenant_id=tenant)
        self._runtimes: OrderedDict[str, Runtime] = OrderedDict()
        self.base = {role: base.get(role, DEFAULT_TEXTS[role]) for role in Role}
        """The production text of every role (what a candidate leaves out is served from)."""
        self._seed_production()
        # One long-lived loop for every evaluation, so agents keep their HTTP connections
        # (and the runtimes their template caches) from one GEPA step to the next.
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="atlas-gepa-eval", daemon=True
        )
        self._thread.start()

    def _seed_production(self) -> None:
        current = production_texts(self.store, self.tenant, self.config.template_family)
        for role in Role:
            text = self.base[role]
            if self.registry.store.versions(self.tenant, _PROMPT, self.registry.name(role)) and (
                current[role] == text
            ):
                continue  # a resumed run: already there
            self.registry.register(role, text, status=VersionStatus.PRODUCTION, alias="production")

    def _alias_for(self, candidate: Mapping[str, str]) -> str:
        """Registers the candidate's texts in the scratch store once; its alias."""
        alias = "gepa-" + candidate_digest(candidate)
        with self._lock:
            for name, text in sorted(candidate.items()):
                role = Role(name)
                if self.store.resolve_alias(self.tenant, _PROMPT, self.registry.name(role), alias):
                    continue
                self.registry.register(role, text, alias=alias)
        return alias

    def evaluate(self, batch: Sequence[GepaExample], candidate: Mapping[str, str]) -> list[Attempt]:
        """One :class:`Attempt` per example, in order; never raises for one example."""
        future = asyncio.run_coroutine_threadsafe(self.aevaluate(batch, candidate), self._loop)
        return future.result()

    def _runtime(self, alias: str) -> Runtime:
        """The runtime serving ``alias`` (the few most recent are kept warm)."""
        runtime = self._runtimes.get(alias)
        if runtime is None:
            config = self.config.model_copy(update={"template_alias": alias})
            runtime = Runtime(
                self.student,
                self.teacher,
                store=self.store,
                tenant=self.tenant,
                recorder=self._recorder,
                config=config,
            )
            self._runtimes[alias] = runtime
            while len(self._runtimes) > _WARM_RUNTIMES:
                self._runtimes.popitem(last=False)
        self._runtimes.move_to_end(alias)
        return runtime

    async def aevaluate(
        self, batch: Sequence[GepaExample], candidate: Mapping[str, str]
    ) -> list[Attempt]:
        """:meth:`evaluate` on the running event loop."""
        if not batch:
            return []
        try:
            for name, text in candidate.items():
                check_text(Role(name), text)
            alias = await asyncio.to_thread(self._alias_for, candidate)
        except (TemplateError, ValueError) as exc:
            # A proposal that breaks its role's placeholders fails every example, visibly.
            reason = f"invalid candidate template: {exc}"
            return [Attempt(e, "", 0.0, reason, error=reason) for e in batch]
        runtime = self._runtime(alias)
        gate = asyncio.Semaphore(self.concurrency)
        answered = await asyncio.gather(*(self._answer(runtime, gate, e) for e in batch))
        return await self._score(answered)

    async def _answer(
        self, runtime: Runtime, gate: asyncio.Semaphore, example: GepaExample
    ) -> tuple[GepaExample, Outcome | None, str | None]:
        async with gate:
            try:
                outcome = await asyncio.wait_for(
                    runtime.arun(example.task, learning_key=example.learning_key, lane=self.lane),
                    self.timeout_s,
                )
            except TimeoutError:
                return example, None, f"timeout: no answer within {self.timeout_s}s"
            except Exception as exc:  # never one example's failure for the whole batch
                return example, None, f"{type(exc).__name__}: {exc}"
        if not outcome.ok:
            return example, outcome, "no answer: " + "; ".join(outcome.errors)
        return example, outcome, None

    async def _score(
        self, answered: Sequence[tuple[GepaExample, Outcome | None, str | None]]
    ) -> list[Attempt]:
        scorable = [(i, e, o) for i, (e, o, err) in enumerate(answered) if err is None and o]
        items = [(e, self._interaction(e, o)) for _, e, o in scorable]
        try:
            scores = await self.scorer.score(items) if items else []
            if len(scores) != len(items):
                raise InvalidArgumentError(f"returned {len(scores)} scores for {len(items)}")
        except Exception as exc:  # a scorer's failure fails these examples, not the batch
            reason = f"scorer {self.scorer.name} failed: {type(exc).__name__}: {exc}"
            scores = [Scored(0.0, reason) for _ in items]
        by_index = {i: s for (i, _, _), s in zip(scorable, scores, strict=True)}
        out = []
        for i, (example, outcome, error) in enumerate(answered):
            steps = outcome.trace.to_json() if outcome is not None else []
            tokens = sum(outcome.trace.tokens()) if outcome is not None else 0
            lane = outcome.lane.value if outcome is not None else None
            answer = outcome.answer if outcome is not None else ""
            if error is not None:
                out.append(Attempt(example, answer, 0.0, error, error, lane, steps, tokens))
                continue
            scored = by_index[i]
            score = min(1.0, max(0.0, float(scored.score)))
            out.append(Attempt(example, answer, score, scored.rationale, None, lane, steps, tokens))
        return out

    def _interaction(self, example: GepaExample, outcome: Outcome) -> Interaction:
        prompt, completion = outcome.trace.tokens()
        return Interaction(
            tenant_id=self.tenant,
            session_id=None,
            user_id=None,
            learning_key=example.learning_key,
            model_version=outcome.versions.get("student"),
            prompt_version=None,
            latency_ms=None,
            input=[{"role": "user", "content": example.task}],
            output=outcome.answer,
            prompt_tokens=prompt,
            completion_tokens=completion,
            metadata={"trace": outcome.trace.to_json(), "lane": outcome.lane.value},
        )

    def close(self) -> None:
        """Stops the evaluation loop, closes the agents' HTTP pools on it and the scratch
        store (and removes the store when this runner made it). Idempotent."""
        if self._loop.is_closed():
            return
        closing = _close_async_clients(self.student, self.teacher)
        asyncio.run_coroutine_threadsafe(closing, self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._runtimes.clear()
        self.store.close()
        if self._owned_dir:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)


async def _close_async_clients(*agents: Agent | None) -> None:
    """Closes the HTTP pools the agents opened on this (short-lived) event loop."""
    for agent in agents:
        closer = getattr(agent, "aclose", None)
        if closer is not None:
            await closer()

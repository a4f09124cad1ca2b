"""The judge ensemble: samples, consistency rules, escalation to the arbiter, accounting.

For each task every judge is sampled once per configured temperature (all calls of a round
run concurrently, bounded by the endpoint's ``max_concurrency``; retries, back-off and
timeouts are the chat client's). Then, per response:

- a judge's score is the mean of its parsed samples; the ensemble's is the weighted mean of
  the judges that have one (``JudgeConfig.weight``);
- the ensemble escalates to the arbiter when the *spread* (max - min over every parsed
  sample) exceeds ``escalation.spread_threshold``, when any sample reports uncertainty above
  ``escalation.uncertainty_threshold``, when any sample failed (bad JSON, or the call itself)
  and ``escalation.on_parse_failure`` is set, or when a consistency rule with action
  ``escalate`` is violated (``flag`` rules are only recorded);
- the arbiter, shown every judge's principles, scores and rationales, gives the final scores;
  if it cannot answer, the ensemble's scores stand;
- veto rules cap the final score last, whoever produced it.

The uncertainty reported is the arbiter's when it answered, else the larger of the samples'
mean reported uncertainty and the standard deviation of their scores. Tokens and latency are
accounted per task; answers served from the cache cost no tokens and are counted as hits.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from atlas_core.llm import LLMError
from atlas_rim.config import RimConfig
from atlas_rim.judges.aggregate import (
    apply_vetoes,
    judge_means,
    score_std,
    spread,
    violates,
    weighted,
)
from atlas_rim.judges.aggregate import (
    rationale as panel_rationale,
)
from atlas_rim.judges.cache import CachedAnswer, JudgeCache, bundle_key, slot
from atlas_rim.judges.chat import Chat
from atlas_rim.judges.prompts import PanelEntry, Task, arbiter_messages, judge_messages
from atlas_rim.judges.schema import Verdict, VerdictParseError, parse_verdict

__all__ = ["ARBITER", "JudgeEnsemble", "Judgement", "Sample"]

ARBITER = "arbiter"
"""The ``judge`` name of the arbiter's sample."""

_JSON = {"type": "json_object"}


@dataclass(frozen=True, slots=True)
class _Call:
    judge: str
    model: str
    messages: list[dict[str, object]]
    temperature: float
    max_tokens: int
    key: str
    """The cache entry of this judge's answers about the task."""
    slot: str
    """This sample's place in the entry."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One judge call's outcome."""

    judge: str
    temperature: float
    verdict: Verdict | None
    """None when the call failed or its answer did not parse (see ``error``)."""
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    latency_s: float

    def panel_entry(self) -> PanelEntry:
        """How the arbiter is shown this sample."""
        v = self.verdict
        if v is None:
            return PanelEntry(self.judge, self.temperature, None, error=self.error)
        return PanelEntry(
            self.judge, self.temperature, v.scores, v.principles, v.rationale, v.uncertainty
        )


@dataclass(frozen=True, slots=True)
class Judgement:
    """The ensemble's result for one task."""

    scores: tuple[float, ...] | None
    """Final score per response; None when no judge nor the arbiter produced one."""
    judge_scores: dict[str, tuple[float, ...]]
    """Each judge's mean over its parsed samples (judges with none are absent)."""
    uncertainty: float | None
    rationale: str
    escalated: bool
    """The arbiter was consulted (whether or not it answered)."""
    reasons: tuple[str, ...]
    """Why it escalated (or would have, with no arbiter configured)."""
    flags: tuple[str, ...]
    """Violated consistency rules and applied vetoes, by rule name."""
    samples: tuple[Sample, ...]
    arbiter: Sample | None
    latency_s: float

    @property
    def score(self) -> float | None:
        """The final score of a single-response task."""
        return None if self.scores is None else self.scores[0]

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens paid for this task (cache hits cost none)."""
        return sum(s.prompt_tokens for s in self._all())

    @property
    def completion_tokens(self) -> int:
        """Completion tokens paid for this task."""
        return sum(s.completion_tokens for s in self._all())

    @property
    def cache_hits(self) -> int:
        """Samples answered from the cache."""
        return sum(s.cached for s in self._all())

    @property
    def failures(self) -> int:
        """Samples (arbiter included) with no usable answer."""
        return sum(s.verdict is None for s in self._all())

    def _all(self) -> tuple[Sample, ...]:
        return self.samples + ((self.arbiter,) if self.arbiter is not None else ())


@dataclass(slots=True)
class _Round:
    """One task's state between the panel and the arbiter."""

    task: Task
    samples: list[Sample]
    elapsed_s: float
    judge_scores: dict[str, tuple[float, ...]]
    ensemble: tuple[float, ...] | None
    reasons: list[str]
    flags: list[str]


class JudgeEnsemble:
    """Runs the configured judges (and arbiter) over tasks; see the module docstring."""

    def __init__(self, config: RimConfig, client: Chat, cache: JudgeCache) -> None:
        self.config = config
        self.client = client
        self.cache = cache

    async def judge(self, tasks: Sequence[Task]) -> list[Judgement]:
        """One judgement per task, in order; the cache is flushed to the store at the end."""
        if not self.config.judges:
            raise ValueError("the RIM config has no judges")
        panels = [self._panel_calls(task) for task in tasks]
        self.cache.prefetch(
            {(t.tenant, c.key) for t, calls in zip(tasks, panels, strict=True) for c in calls}
        )
        # Answers in the cache are used at once; only tasks with calls left become coroutines
        # (a cached evaluation should cost microseconds, not an event-loop round trip).
        cached: list[list[Sample | None]] = []
        elapsed: list[float] = []
        for task, calls in zip(tasks, panels, strict=True):
            started = time.perf_counter()
            cached.append([self._cached(task, c) for c in calls])
            elapsed.append(time.perf_counter() - started)
        pending = [i for i, hits in enumerate(cached) if any(h is None for h in hits)]
        fetched = await asyncio.gather(
            *(self._fill(tasks[i], panels[i], cached[i]) for i in pending)
        )
        for i, (samples, seconds) in zip(pending, fetched, strict=True):
            cached[i] = samples
            elapsed[i] += seconds
        rounds = [
            self._round(task, [s for s in samples if s is not None], elapsed[i])
            for i, (task, samples) in enumerate(zip(tasks, cached, strict=True))
        ]
        arbiter_calls = {i: self._arbiter_call(r) for i, r in enumerate(rounds) if self._asks(r)}
        self.cache.prefetch((rounds[i].task.tenant, c.key) for i, c in arbiter_calls.items())
        answers = await asyncio.gather(
            *(self._timed(rounds[i].task, c) for i, c in arbiter_calls.items())
        )
        by_task = dict(zip(arbiter_calls, answers, strict=True))
        self.cache.flush()
        return [self._finish(r, by_task.get(i)) for i, r in enumerate(rounds)]

    # -- the panel --------------------------------------------------------------------
    def _panel_calls(self, task: Task) -> list[_Call]:
        calls = []
        for judge in self.config.judges:
            messages = judge_messages(judge, task)
            key = bundle_key(judge.model, messages, judge.max_tokens)
            for i, temperature in enumerate(judge.temperatures):
                calls.append(
                    _Call(
                        judge.name,
                        judge.model,
                        messages,
                        temperature,
                        judge.max_tokens,
                        key,
                        slot(temperature, i),
                    )
                )
        return calls

    async def _fill(
        self, task: Task, calls: list[_Call], samples: list[Sample | None]
    ) -> tuple[list[Sample | None], float]:
        """Makes the calls the cache could not answer, concurrently; with the elapsed time."""
        started = time.perf_counter()
        missing = [i for i, s in enumerate(samples) if s is None]
        fresh = await asyncio.gather(*(self._call(task, calls[i]) for i in missing))
        out = list(samples)
        for i, sample in zip(missing, fresh, strict=True):
            out[i] = sample
        return out, time.perf_counter() - started

    def _round(self, task: Task, samples: list[Sample], elapsed: float) -> _Round:
        judge_scores = judge_means(self.config.judges, samples)
        ensemble = weighted(self.config.judges, judge_scores)
        reasons, flags = self._reasons(samples, judge_scores)
        return _Round(task, samples, elapsed, judge_scores, ensemble, reasons, flags)

    def _reasons(
        self, samples: list[Sample], judge_scores: dict[str, tuple[float, ...]]
    ) -> tuple[list[str], list[str]]:
        rules = self.config.escalation
        reasons: list[str] = []
        flags: list[str] = []
        parsed = [s.verdict for s in samples if s.verdict is not None]
        if parsed and spread([v.scores for v in parsed]) > rules.spread_threshold:
            reasons.append("spread")
        if any(v.uncertainty > rules.uncertainty_threshold for v in parsed):
            reasons.append("uncertainty")
        if rules.on_parse_failure and len(parsed) < len(samples):
            reasons.append("no_parse")
        for rule in self.config.consistency:
            if rule.kind != "veto" and violates(rule, judge_scores):
                flags.append(rule.name)
                if rule.action == "escalate":
                    reasons.append(f"consistency:{rule.name}")
        return reasons, flags

    # -- the arbiter ------------------------------------------------------------------
    def _asks(self, r: _Round) -> bool:
        return bool(r.reasons) and self.config.arbiter is not None

    def _arbiter_call(self, r: _Round) -> _Call:
        arbiter = self.config.arbiter
        assert arbiter is not None  # only called when _asks
        panel = [s.panel_entry() for s in r.samples]
        messages = arbiter_messages(arbiter, self.config.judges, r.task, panel, r.reasons)
        key = bundle_key(arbiter.model, messages, arbiter.max_tokens)
        return _Call(
            ARBITER,
            arbiter.model,
            messages,
            arbiter.temperature,
            arbiter.max_tokens,
            key,
            slot(arbiter.temperature, 0),
        )

    async def _timed(self, task: Task, call: _Call) -> tuple[Sample, float]:
        started = time.perf_counter()
        sample = self._cached(task, call) or await self._call(task, call)
        return sample, time.perf_counter() - started

    def _finish(self, r: _Round, arbiter: tuple[Sample, float] | None) -> Judgement:
        scores, rationale = r.ensemble, panel_rationale(r.samples)
        reasons = list(r.reasons)
        elapsed = r.elapsed_s
        parsed = [s.verdict for s in r.samples if s.verdict is not None]
        uncertainty: float | None = None
        if parsed:
            reported = statistics.fmean(v.uncertainty for v in parsed)
            uncertainty = max(reported, score_std([v.scores for v in parsed]))
        arbiter_sample = None
        if arbiter is not None:
            arbiter_sample, arbiter_elapsed = arbiter
            elapsed += arbiter_elapsed
            verdict = arbiter_sample.verdict
            if verdict is None:
                reasons.append("arbiter_failed")
            else:
                scores, uncertainty = verdict.scores, verdict.uncertainty
                rationale = f"arbiter: {verdict.rationale}"
        flags = list(r.flags)
        if scores is not None:
            scores, vetoes = apply_vetoes(self.config.consistency, r.judge_scores, scores)
            flags += vetoes
        return Judgement(
            scores=scores,
            judge_scores=r.judge_scores,
            uncertainty=uncertainty,
            rationale=rationale,
            escalated=arbiter is not None,
            reasons=tuple(reasons),
            flags=tuple(flags),
            samples=tuple(r.samples),
            arbiter=arbiter_sample,
            latency_s=elapsed,
        )

    # -- one call ---------------------------------------------------------------------
    def _cached(self, task: Task, call: _Call) -> Sample | None:
        """The sample the cache holds for ``call``, or None."""
        cached = self.cache.get(task.tenant, call.key, call.slot)
        if cached is None:
            return None
        try:
            verdict = parse_verdict(cached.text, len(task.responses))
        except VerdictParseError:
            # Only parsed answers are cached, but a changed schema must not crash on old ones.
            return None
        return Sample(call.judge, call.temperature, verdict, None, 0, 0, True, 0.0)

    async def _call(self, task: Task, call: _Call) -> Sample:
        """Asks the endpoint; a failed call or an unparseable answer is a failed sample."""
        n = len(task.responses)
        try:
            response = await self.client.chat(
                call.messages,
                temperature=call.temperature,
                max_tokens=call.max_tokens,
                response_format=_JSON if self.config.endpoint.json_mode else None,
                model=call.model,
            )
        except LLMError as exc:
            return Sample(call.judge, call.temperature, None, str(exc), 0, 0, False, 0.0)
        usage = response.usage
        verdict: Verdict | None
        error: str | None
        try:
            verdict = parse_verdict(response.text, n)
        except VerdictParseError as exc:
            verdict, error = None, str(exc)
        else:
            error = None
            self.cache.put(
                task.tenant,
                call.key,
                call.slot,
                CachedAnswer(response.text, usage.prompt_tokens, usage.completion_tokens),
            )
        return Sample(
            call.judge,
            call.temperature,
            verdict,
            error,
            usage.prompt_tokens,
            usage.completion_tokens,
            False,
            response.latency_s,
        )

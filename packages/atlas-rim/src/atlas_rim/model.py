"""RIM as a :class:`~atlas_core.rewards.RewardModel`: feedback and judges, one reward.

Per case, the *feedback score* F comes from :mod:`atlas_rim.signals` (present when the
feedback carries evidence) and the *judge score* J from :mod:`atlas_rim.judges` (present when
judges are configured and one of them, or the arbiter, answered). The reward is their weighted
mean by ``combine.judge_weight`` / ``combine.feedback_weight`` over the parts present (and
weighted above 0); with neither, it is the signal prior with uncertainty 0.5 and is never
trainable. The uncertainty is combined the same way.

Components (what the reward is made of, so a user can see why): ``feedback`` (F),
``feedback.evidence``, ``feedback.<source>`` (net evidence per source: ``rating``, ``edit``,
``label``, ``signal.copy``, ...), ``judge`` (J), ``judge.<name>`` per judge,
``escalation.<reason>`` and ``consistency.<rule>`` = 1 when they happened, ``cost.*`` (tokens,
latency, cache hits of the judges) and ``quality.pass``: 1 when the interaction may be used
for training (score >= ``quality_threshold`` and some evidence), else 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from atlas_core.errors import AtlasError, ConfigError
from atlas_core.llm import ChatClient, Endpoint
from atlas_core.rewards import RewardCase
from atlas_core.store import Store
from atlas_core.types import FeedbackKind, Reward, to_ns
from atlas_rim import __version__
from atlas_rim.config import RimConfig
from atlas_rim.judges import JudgeCache, JudgeEnsemble, Judgement, Task
from atlas_rim.judges.chat import Chat
from atlas_rim.signals import score_events

__all__ = ["Evaluation", "JudgeUnavailableError", "RimRewardModel", "events_frame", "is_trainable"]


class JudgeUnavailableError(AtlasError):
    """No judge nor the arbiter produced a usable answer where one was required (ranking)."""


@dataclass(frozen=True)
class Evaluation:
    """One case's reward and how it was reached."""

    reward: Reward
    feedback_score: float | None
    judgement: Judgement | None
    trainable: bool
    evidence: bool
    """Whether feedback or a judge informed the reward (else it is the prior)."""


def is_trainable(reward: Reward) -> bool:
    """Whether RIM marked the reward usable for training (``quality.pass`` component)."""
    return reward.components.get("quality.pass", 0.0) >= 1.0


def events_frame(cases: Sequence[RewardCase]) -> pl.DataFrame:
    """The feedback of ``cases`` as the event columns :func:`~atlas_rim.signals.score_events`
    reads, each row carrying its interaction's output as ``response``.

    ``interaction_id`` holds the case's index, not the interaction's id, so two cases about
    one interaction (say, scored with different feedback) never pool their evidence.
    """
    rows: dict[str, list[Any]] = {
        k: []
        for k in (
            "interaction_id", "kind", "name", "value", "scale_min", "scale_max", "text",
            "created_at", "response",
        )
    }  # fmt: skip
    for index, case in enumerate(cases):
        for f in case.feedback:
            rows["interaction_id"].append(index)
            rows["kind"].append(f.kind.value)
            rows["name"].append(f.name)
            rows["value"].append(f.value)
            rows["scale_min"].append(f.scale_min)
            rows["scale_max"].append(f.scale_max)
            rows["text"].append(f.text)
            rows["created_at"].append(to_ns(f.created_at))
            rows["response"].append(case.interaction.output)
    schema = {
        "interaction_id": pl.Int64, "kind": pl.String, "name": pl.String, "value": pl.Float64,
        "scale_min": pl.Float64, "scale_max": pl.Float64, "text": pl.String,
        "created_at": pl.Int64, "response": pl.String,
    }  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


class RimRewardModel:
    """The RIM reward model; ``async with RimRewardModel(config, store=store) as rim: ...``.

    ``store`` persists the judge cache (kv entries); ``client`` overrides the chat client
    built from ``config.endpoint`` (it is then not closed by :meth:`aclose`).
    """

    def __init__(
        self,
        config: RimConfig | None = None,
        *,
        store: Store | None = None,
        client: Chat | None = None,
    ) -> None:
        self.config = config if config is not None else RimConfig()
        self.name = f"rim@{__version__}+{self.config.fingerprint()}"
        self.cache = JudgeCache(self.config.cache, store)
        self._client = client
        self._owns_client = client is None
        self._ensemble: JudgeEnsemble | None = None

    @property
    def ensemble(self) -> JudgeEnsemble:
        """The judge ensemble (its chat client is created on first use)."""
        if self._ensemble is None:
            if not self.config.judges:
                raise ConfigError("judges: the RIM config defines no judges")
            if self._client is None:
                ep = self.config.endpoint
                self._client = ChatClient(
                    Endpoint(
                        base_url=ep.resolved_base_url(),
                        model=self.config.judges[0].model,
                        api_key=ep.api_key(),
                        timeout_s=ep.timeout_s,
                        max_retries=ep.max_retries,
                        backoff_s=ep.backoff_s,
                        max_concurrency=ep.max_concurrency,
                    )
                )
            self._ensemble = JudgeEnsemble(self.config, self._client, self.cache)
        return self._ensemble

    async def evaluate(
        self, cases: Sequence[RewardCase], *, now: datetime | None = None
    ) -> list[Evaluation]:
        """One detailed evaluation per case, in order (``now`` anchors feedback decay)."""
        signals = score_events(events_frame(cases), self.config.signals, now)
        feedback = {row["interaction_id"]: row for row in signals.scores.iter_rows(named=True)}
        sources: dict[int, dict[str, float]] = {}
        for row in signals.components.iter_rows(named=True):
            sources.setdefault(row["interaction_id"], {})[row["component"]] = row["value"]
        judgements: list[Judgement | None] = [None] * len(cases)
        if self.config.judges and cases:
            judgements = list(await self.ensemble.judge([_task(c) for c in cases]))
        out = []
        for i, (case, judgement) in enumerate(zip(cases, judgements, strict=True)):
            out.append(self._combine(case, feedback.get(i), sources.get(i, {}), judgement))
        return out

    async def score(self, cases: Sequence[RewardCase]) -> list[Reward]:
        """One reward per case, in order (see the module docstring for the rule)."""
        return [e.reward for e in await self.evaluate(cases)]

    async def rank(
        self,
        prompt: Sequence[Mapping[str, Any]],
        responses: Sequence[str],
        *,
        reference: str | None = None,
    ) -> list[float]:
        """Scores ``responses`` to ``prompt`` relative to each other, in one call per sample.

        Raises JudgeUnavailableError when neither a judge nor the arbiter answered.
        """
        judgement = await self.rank_detailed(prompt, responses, reference=reference)
        if judgement.scores is None:
            raise JudgeUnavailableError(f"no usable ranking: {judgement.rationale}")
        return list(judgement.scores)

    async def rank_detailed(
        self,
        prompt: Sequence[Mapping[str, Any]],
        responses: Sequence[str],
        *,
        reference: str | None = None,
    ) -> Judgement:
        """:meth:`rank` with the whole judgement (escalation, cost, latency)."""
        return (await self.rank_batch([(prompt, responses, reference)]))[0]

    async def rank_batch(
        self,
        groups: Sequence[tuple[Sequence[Mapping[str, Any]], Sequence[str], str | None]],
    ) -> list[Judgement]:
        """Ranks many (prompt, responses, reference) groups concurrently; one judgement each."""
        tasks = []
        for i, (prompt, responses, reference) in enumerate(groups):
            if not responses:
                raise ValueError(f"groups[{i}]: at least one response is needed")
            tasks.append(
                Task(tuple(prompt), tuple(responses), reference, (), self.config.cache.tenant)
            )
        return await self.ensemble.judge(tasks)

    async def aclose(self) -> None:
        """Closes the chat client this model created."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        self._client, self._ensemble = None, None

    async def __aenter__(self) -> RimRewardModel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _combine(
        self,
        case: RewardCase,
        feedback: dict[str, Any] | None,
        sources: dict[str, float],
        judgement: Judgement | None,
    ) -> Evaluation:
        cfg = self.config
        components: dict[str, float] = {}
        parts: list[tuple[float, float, float]] = []  # (weight, score, uncertainty)
        feedback_score = None
        notes = []
        if feedback is not None and feedback["evidence"] > 0:
            feedback_score = float(feedback["score"])
            components["feedback"] = feedback_score
            components["feedback.evidence"] = float(feedback["evidence"])
            components.update({f"feedback.{k}": v for k, v in sources.items()})
            parts.append((cfg.combine.feedback_weight, feedback_score, feedback["uncertainty"]))
            detail = ", ".join(f"{k} {v:+.2f}" for k, v in sorted(sources.items()))
            notes.append(
                f"feedback {feedback_score:.2f} from {feedback['events']} events ({detail})"
            )
        escalated = False
        if judgement is not None:
            escalated = judgement.escalated
            components.update(_judge_components(judgement))
            if judgement.score is not None:
                uncertainty = judgement.uncertainty if judgement.uncertainty is not None else 0.5
                parts.append((cfg.combine.judge_weight, judgement.score, uncertainty))
            shown = "none" if judgement.score is None else f"{judgement.score:.2f}"
            notes.append(f"judges {shown}: {judgement.rationale}")
        parts = [p for p in parts if p[0] > 0]
        if parts:
            total = sum(w for w, _, _ in parts)
            score = sum(w * s for w, s, _ in parts) / total
            uncertainty = sum(w * u for w, _, u in parts) / total
        else:
            score, uncertainty = cfg.signals.prior, 0.5
            notes.append("no evidence: the prior")
        score = min(max(score, 0.0), 1.0)
        trainable = bool(parts) and score >= cfg.quality_threshold
        components["quality.pass"] = 1.0 if trainable else 0.0
        reward = Reward(
            tenant_id=case.interaction.tenant_id,
            interaction_id=case.interaction.id,
            score=score,
            components=components,
            rationale="; ".join(notes),
            uncertainty=uncertainty,
            escalated=escalated,
            reward_model=self.name,
        )
        return Evaluation(reward, feedback_score, judgement, trainable, bool(parts))


def _task(case: RewardCase) -> Task:
    notes = []
    for f in case.feedback:
        if f.kind is FeedbackKind.COMMENT and f.text:
            notes.append(f"comment: {f.text}")
        elif f.kind is FeedbackKind.EDIT and f.text is not None:
            notes.append(f"the user corrected the response to: {f.text}")
    return Task(
        prompt=tuple(case.interaction.input),
        responses=(case.interaction.output,),
        reference=case.reference,
        notes=tuple(notes),
        tenant=case.interaction.tenant_id,
    )


def _judge_components(j: Judgement) -> dict[str, float]:
    out: dict[str, float] = {}
    if j.score is not None:
        out["judge"] = j.score
    for name, scores in j.judge_scores.items():
        out[f"judge.{name}"] = scores[0]
    for reason in j.reasons:
        out[f"escalation.{reason}"] = 1.0
    for flag in j.flags:
        out[f"consistency.{flag}"] = 1.0
    out["cost.prompt_tokens"] = float(j.prompt_tokens)
    out["cost.completion_tokens"] = float(j.completion_tokens)
    out["cost.latency_s"] = j.latency_s
    out["cost.cache_hits"] = float(j.cache_hits)
    return out

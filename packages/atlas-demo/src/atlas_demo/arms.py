"""The three arms of the demo, each serving the same traffic from its own tenant.

- :class:`AtlasArm`: the whole loop (:class:`atlas_core.loop.LearningLoop`): drift
  detection and the other triggers, value selection with replay from every skill, the
  ``sft`` learner, the gate (:class:`~atlas_demo.serving.VerifierEvaluator`), canary
  rollout through the :class:`~atlas_core.loop.Router` with live reward analysis.
- :class:`NaiveArm`: the same learner every few rounds on the newest examples only (no
  replay), each candidate straight to 100 % (no gate, no canary).
- :class:`StaticArm`: the first model, never updated.

A round: route every request, answer it, record the interaction and the user's feedback
through the SDK, let RIM (signals only, no judge) score the round into rewards, then let
the arm learn. Served accuracy is measured against the true answers (the users' feedback is
noisy; the figure in the summary is not).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from atlas_core.config.models import (
    GateConfig,
    LoopConfig,
    RolloutConfig,
    SchedulerConfig,
    SelectionConfig,
)
from atlas_core.ids import new_id
from atlas_core.loop import (
    Example,
    ExampleIntake,
    LearningLoop,
    LearningTask,
    Router,
    SystemClock,
    load_examples,
    load_learner,
    rollout_history,
    select,
)
from atlas_core.loop.rollout import Arm
from atlas_core.loop.rollout_state import Phase as RolloutPhase
from atlas_core.sdk import Recorder
from atlas_core.store import Query, Store
from atlas_core.types import Version, VersionKind, VersionStatus
from atlas_demo.seeded_ids import SeededIds
from atlas_demo.serving import VerifierEvaluator, accuracy, answer
from atlas_demo.users import FeedbackPolicy, give_feedback
from atlas_demo.world import Phase, Request, truth
from atlas_rim.model import RimRewardModel
from atlas_rim.store_scoring import score_store

__all__ = ["AtlasArm", "BaseArm", "NaiveArm", "RoundStats", "StaticArm"]

MODEL_NAME = "demo-skills"
POISONED_SHARE = 0.25
"""Share of an update's gold answers from trolls that makes it a poisoned update."""
BAD_DROP = 0.1
"""Probe accuracy lost against its base that makes a poisoned update a bad one."""
Log = Callable[[str], None]


@dataclass(frozen=True)
class Served:
    """One served request and what came of it."""

    request: Request
    interaction_id: UUID
    arm: Arm
    right: bool
    reward: float | None = None


@dataclass
class RoundStats:
    """One round of one arm."""

    index: int
    phase: str
    accuracy: float
    by_key: dict[str, float]
    candidate_share: float
    """Share of requests the canary candidate served."""
    events: list[str] = field(default_factory=list)


class BaseArm:
    """Serving, feedback and reward scoring shared by every arm; subclasses learn."""

    name = "base"

    def __init__(
        self,
        store: Store,
        tenant: str,
        first: Version,
        *,
        seed: int,
        rim: RimRewardModel,
        learner_options: dict[str, Any],
        probes: dict[str, list[str]],
        log: Log,
    ) -> None:
        self.store = store
        self.tenant = tenant
        self.rim = rim
        self.log = log
        self.learner_options = learner_options
        self.recorder = Recorder.embedded(store, tenant_id=tenant)
        self.ids = SeededIds(f"{seed}/{tenant}")
        self.rng = random.Random(seed)
        self.policy = FeedbackPolicy()
        # Wall time, so the learning events and rollout steps the loop records line up with
        # the interactions on the dashboard and in the report (no decision depends on it: the
        # arm steps its loop once per round, see loop_config).
        self.clock = SystemClock()
        self.poisoned: set[UUID] = set()
        """Interactions that got a troll's feedback."""
        self.probes = [p for prompts in probes.values() for p in prompts]
        self.poisoned_candidates: set[UUID] = set()
        """Candidates of *bad updates* (see :meth:`check_update`)."""
        self.promoted = self.rejected = self.rolled_back = 0
        first_here = first.model_copy(update={"id": new_id(), "tenant_id": tenant, "aliases": ()})
        store.put_version(first_here)
        store.set_status(tenant, first_here.id, VersionStatus.PRODUCTION)
        store.set_alias(tenant, "production", first_here.id)

    # -- what subclasses decide ----------------------------------------------------------
    def routes(self, requests: list[Request]) -> list[tuple[Version, Arm]]:
        """The version (and arm) serving each request: production by default."""
        prod = self.production()
        return [(prod, "stable")] * len(requests)

    def learn(self, served: list[Served], index: int) -> list[str]:
        """Learning after a round; returns what happened, for the log (none by default)."""
        return []

    # -- the round -----------------------------------------------------------------------
    def production(self) -> Version:
        """The version behind the ``production`` alias."""
        prod = self.store.resolve_alias(self.tenant, VersionKind.MODEL, MODEL_NAME, "production")
        assert prod is not None  # set in __init__, only ever moved
        return prod

    def serve_round(self, index: int, phase: Phase, requests: list[Request]) -> RoundStats:
        """Serves one round, collects feedback and rewards, then learns."""
        started = datetime.now(UTC)
        routes = self.routes(requests)
        answers: list[str] = [""] * len(requests)
        latency_ms: list[float] = [0.0] * len(requests)
        groups: dict[UUID, list[int]] = defaultdict(list)
        for i, (version, _) in enumerate(routes):
            groups[version.id].append(i)
        for rows in groups.values():
            t0 = time.perf_counter()
            got = answer(routes[rows[0]][0], [requests[i].prompt for i in rows])
            # Each version answers its requests in one batch: each gets an equal share.
            share = (time.perf_counter() - t0) * 1000.0 / len(rows)
            for i, a in zip(rows, got, strict=True):
                answers[i] = a
                latency_ms[i] = share
        served: list[Served] = []
        for request, (version, arm), reply, ms in zip(
            requests, routes, answers, latency_ms, strict=True
        ):
            iid = self.recorder.record_interaction(
                input=[{"role": "user", "content": request.prompt}],
                output=reply,
                learning_key=request.key,
                model_version=str(version.id),
                user_id=request.user,
                latency_ms=ms,
                interaction_id=self.ids.next(),
            )
            right = reply == truth(request.prompt)
            give_feedback(
                self.recorder,
                iid,
                prompt=request.prompt,
                answer=reply,
                correct_answer=truth(request.prompt),
                troll=request.troll,
                rng=self.rng,
                policy=self.policy,
            )
            if request.troll:
                self.poisoned.add(iid)
            served.append(Served(request, iid, arm, right))
        self.recorder.flush()
        asyncio.run(score_store(self.store, self.tenant, self.rim, since=started))
        rewards = {
            e.id: e.reward for e in load_examples(self.store, self.tenant, Query(since=started))
        }
        served = [
            Served(s.request, s.interaction_id, s.arm, s.right, rewards.get(s.interaction_id))
            for s in served
        ]
        by_key: dict[str, list[bool]] = defaultdict(list)
        for s in served:
            by_key[s.request.key].append(s.right)
        stats = RoundStats(
            index=index,
            phase=phase.name,
            accuracy=sum(s.right for s in served) / len(served),
            by_key={k: sum(v) / len(v) for k, v in sorted(by_key.items())},
            candidate_share=sum(s.arm == "candidate" for s in served) / len(served),
        )
        stats.events = self.learn(served, index)
        return stats

    def reached_full_traffic(self, candidate_ids: set[UUID]) -> bool:
        """Whether any of ``candidate_ids`` ever served 100 % (became production)."""
        for v in self.store.versions(self.tenant, VersionKind.MODEL, MODEL_NAME):
            if v.id in candidate_ids and v.status in (
                VersionStatus.PRODUCTION,
                VersionStatus.RETIRED,
            ):
                return True
        return False

    def check_update(self, candidate: Version, base: Version, examples: Sequence[Example]) -> None:
        """Marks ``candidate`` as a bad update when the poison made it worse.

        Bad: at least POISONED_SHARE of the gold answers it learned from came from trolls,
        and its accuracy on the fixed probe prompts (the truth, not the gate's figures) is
        more than BAD_DROP below that of the version it started from.
        """
        gold = [e for e in examples if e.reference is not None]
        if not gold or sum(e.id in self.poisoned for e in gold) < POISONED_SHARE * len(gold):
            return
        if accuracy(candidate, self.probes) < accuracy(base, self.probes) - BAD_DROP:
            self.poisoned_candidates.add(candidate.id)

    def close(self) -> None:
        """Flushes and closes the recorder (the store stays open)."""
        self.recorder.flush()


class StaticArm(BaseArm):
    """The first model, never updated."""

    name = "static"


class NaiveArm(BaseArm):
    """Learns every ``every`` rounds from the newest examples only; ships without checks."""

    name = "naive"

    def __init__(
        self,
        store: Store,
        tenant: str,
        first: Version,
        *,
        every: int,
        batch_size: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(store, tenant, first, **kwargs)
        self.every = every
        self.batch_size = batch_size
        self.learner = load_learner("sft", **self.learner_options)
        self.intake = ExampleIntake(self.store, self.tenant, "naive", feedback_wait_s=0.0)
        self.selection = SelectionConfig(batch_size=batch_size, replay_ratio=0.0)

    def learn(self, served: list[Served], index: int) -> list[str]:
        """Every ``every`` rounds: value-selected new examples, no replay, straight to 100 %."""
        if (index + 1) % self.every:
            return []
        fresh = self.intake.take()
        chosen = select(fresh, self.batch_size, self.selection)
        base = self.production()
        task = LearningTask(
            self.store,
            self.tenant,
            tuple(sorted({e.learning_key for e in chosen})),
            chosen,
            (),
            base,
            trigger="time",
        )
        result = self.learner.learn(task)
        if result.candidate is None:
            return [f"no change: {result.reason}"]
        number = max(
            v.number for v in self.store.versions(self.tenant, VersionKind.MODEL, MODEL_NAME)
        )
        candidate = result.candidate.model_copy(
            update={"tenant_id": self.tenant, "number": number + 1, "aliases": ()}
        )
        self.store.put_version(candidate)
        self.store.set_status(self.tenant, base.id, VersionStatus.RETIRED)
        self.store.set_status(self.tenant, candidate.id, VersionStatus.PRODUCTION)
        self.store.set_alias(self.tenant, "production", candidate.id)
        self.promoted += 1
        self.check_update(candidate, base, chosen)
        return [f"v{candidate.number} trained on {result.samples_used} examples, shipped to 100%"]


class AtlasArm(BaseArm):
    """The Atlas loop: scheduler, selection + replay, sft, gate, canary (module docstring)."""

    name = "atlas"

    def __init__(
        self,
        store: Store,
        tenant: str,
        first: Version,
        *,
        config: LoopConfig,
        replay_seed: Sequence[Example] = (),
        held_out_seed: Sequence[Example] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(store, tenant, first, **kwargs)
        self.loop = LearningLoop(
            self.store,
            self.tenant,
            kind=VersionKind.MODEL,
            name=MODEL_NAME,
            learner=load_learner("sft", **self.learner_options),
            evaluator=VerifierEvaluator(),
            config=config,
            clock=self.clock,
        )
        # What the first model was trained on is the first thing to remember: replay keeps
        # the initial skills in every update, and their held-out part is in every gate.
        self.loop.replay.add(list(replay_seed))
        self.loop.held_out.add(list(held_out_seed))
        self.router = Router(
            self.store, self.tenant, VersionKind.MODEL, MODEL_NAME, refresh_s=1e12, clock=self.clock
        )
        self.max_poisoned_weight = 0.0
        """The largest traffic share a poisoned candidate ever got (percent)."""

    def routes(self, requests: list[Request]) -> list[tuple[Version, Arm]]:
        """Sticky canary routing by user."""
        self.router.refresh()
        cache: dict[UUID | None, Version] = {}
        out: list[tuple[Version, Arm]] = []
        for r in requests:
            route = self.router.route(user_id=r.user)
            if route.version_id not in cache:
                assert route.version_id is not None
                found = self.store.get_version(self.tenant, route.version_id)
                assert found is not None
                cache[route.version_id] = found
            out.append((cache[route.version_id], route.arm))
        return out

    def learn(self, served: list[Served], index: int) -> list[str]:
        """Live figures to the rollout and the scheduler, then one step of each."""
        events: list[str] = []
        for s in served:
            if s.reward is not None:
                self.loop.rollout.record(s.arm, reward=s.reward)
            self.loop.observe(s.request.key, reward=s.reward)
        out = self.loop.rollout_step()
        state = out.state
        if out.action in ("advance", "promote", "rollback") and state is not None:
            if state.candidate_id in self.poisoned_candidates:
                self.max_poisoned_weight = max(self.max_poisoned_weight, state.weight)
            number = self._number(state.candidate_id)
            if out.action == "rollback":
                self.rolled_back += 1
                events.append(f"v{number} rolled back: {out.reason}")
            elif out.action == "promote":
                self.promoted += 1
                events.append(f"v{number} promoted to 100% ({out.reason})")
            else:
                events.append(f"v{number} canary now {state.weight:g}% ({out.reason})")
        result = self.loop.step()
        if result.outcome == "skipped":
            return events
        cand = result.candidate
        if cand is not None:
            base = self.store.get_version(self.tenant, cand.parent_id) if cand.parent_id else None
            if base is not None:
                self.check_update(cand, base, [*result.train, *result.replay])
        head = f"update ({result.decision.trigger}): "
        if result.outcome == "rejected" and cand is not None and result.verdict is not None:
            self.rejected += 1
            events.append(f"{head}v{cand.number} rejected by the gate: {result.verdict.summary()}")
        elif result.outcome == "rollout" and cand is not None and result.verdict is not None:
            rollout = self.loop.rollout.state
            weight = rollout.weight if rollout is not None else 0.0
            if cand.id in self.poisoned_candidates:
                self.max_poisoned_weight = max(self.max_poisoned_weight, weight)
            events.append(
                f"{head}v{cand.number} passed the gate ({result.verdict.summary()}); "
                f"canary {weight:g}%"
            )
        else:
            events.append(f"{head}{result.outcome}: {result.run.reason if result.run else ''}")
        return events

    def reached_full_traffic(self, candidate_ids: set[UUID]) -> bool:
        """From the rollout history and the versions: did any of them ever serve 100 %?"""
        history = rollout_history(self.store, self.tenant, VersionKind.MODEL, MODEL_NAME)
        promoted = {s.candidate_id for s in history if s.phase is RolloutPhase.PROMOTED}
        return bool(promoted & candidate_ids) or super().reached_full_traffic(candidate_ids)

    def _number(self, version_id: UUID) -> int:
        found = self.store.get_version(self.tenant, version_id)
        return found.number if found is not None else 0


def loop_config(round_size: int, seed: int) -> LoopConfig:
    """The Atlas arm's loop settings, sized to the demo's rounds."""
    return LoopConfig(
        learner="sft",
        scheduler=SchedulerConfig(
            min_samples=2 * round_size,
            max_interval_s=None,
            min_interval_s=0.0,  # at most one update per round: the arm steps once per round
            max_updates_per_window=100,
            drift_detector="adwin",
            min_drift_samples=150,
        ),
        selection=SelectionConfig(
            batch_size=400,
            replay_ratio=0.5,
            replay_capacity_per_key=600,
            held_out_fraction=0.2,
            seed=seed,
            feedback_wait_s=0.0,
        ),
        gate=GateConfig(min_improvement=0.0, max_key_regression=0.1, min_examples_per_key=10),
        rollout=RolloutConfig(
            shadow=False,
            canary_steps=(25.0, 50.0, 100.0),
            min_samples_per_arm=15,
            reward_margin=0.02,
        ),
    )

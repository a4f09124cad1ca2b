"""The learning loop: scheduler → selection and replay → learner → gate → rollout.

:class:`LearningLoop` wires the pieces for one artifact family of one tenant and is meant to
be driven from a script or a server: feed it observations (:meth:`LearningLoop.observe`),
call :meth:`LearningLoop.step` now and then to let the scheduler decide and, when it fires,
run one update; call :meth:`LearningLoop.rollout_step` to let live traffic move a rollout.
Every scheduler decision ends as one LearningRun: ``skipped`` (with why), or what the
update came to: ``failed``, ``no_change``, ``rejected`` (by the gate) or ``rollout``
(the candidate passed the gate and its rollout started; ``promoted`` for a first version).

Data flow of an update: the interactions recorded since the last update that have a reward
or a gold answer (:mod:`atlas_core.loop.intake`: each once, late feedback waited for) are
split by a hash of their id into held-out (``held_out_fraction``, kept for gates, never
trained on) and training; training examples are chosen by value and added to the replay
memory, whose next batch mixes them with replay from every learning key.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from atlas_core.config.models import LoopConfig
from atlas_core.errors import InvalidArgumentError
from atlas_core.loop.clock import Clock, SystemClock
from atlas_core.loop.examples import Example
from atlas_core.loop.gate import Evaluator, Gate, GateVerdict
from atlas_core.loop.intake import ExampleIntake
from atlas_core.loop.learner import Learner, LearnerResult, LearningTask
from atlas_core.loop.memory import ExampleMemory, ReplayMemory
from atlas_core.loop.rollout import Rollout, StepOutcome
from atlas_core.loop.scheduler import Decision, Scheduler
from atlas_core.loop.selection import select
from atlas_core.store import Store
from atlas_core.tracking.base import RunLogger, notify_rollout, notify_run
from atlas_core.types import LearningRun, Version, VersionKind, VersionStatus

__all__ = ["LearningLoop", "UpdateResult", "is_held_out"]

UPDATES_NAMESPACE = "loop.engine"


def is_held_out(example: Example, fraction: float) -> bool:
    """Whether ``example`` belongs to the held-out share (a fixed function of its id)."""
    digest = hashlib.blake2b(example.id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 < fraction


@dataclass(frozen=True)
class UpdateResult:
    """What one :meth:`LearningLoop.step` did."""

    decision: Decision
    outcome: str
    """skipped, failed, no_change, rejected, rollout or promoted."""
    run: LearningRun | None = None
    """The LearningRun recorded for it."""
    candidate: Version | None = None
    """The stored candidate (rejected ones included)."""
    verdict: GateVerdict | None = None
    train: Sequence[Example] = field(default_factory=tuple)
    replay: Sequence[Example] = field(default_factory=tuple)


class LearningLoop:
    """The whole loop for one (tenant, kind, name); see the module docstring."""

    def __init__(
        self,
        store: Store,
        tenant: str,
        *,
        kind: VersionKind,
        name: str,
        learner: Learner,
        evaluator: Evaluator,
        config: LoopConfig | None = None,
        clock: Clock | None = None,
        run_loggers: Sequence[RunLogger] = (),
    ) -> None:
        self.store = store
        self.run_loggers = tuple(run_loggers)  # trackers told of each run (atlas_core.tracking)
        self.tenant = tenant
        self.kind = kind
        self.name = name
        self.learner = learner
        self.config = config or LoopConfig()
        self.clock = clock or SystemClock()
        scope = f"{kind.value}/{name}"
        sel = self.config.selection
        self.scheduler = Scheduler(
            store,
            tenant,
            self.config.scheduler,
            learner=learner.name,
            clock=self.clock,
            scope=scope,
        )
        self.replay = ReplayMemory(
            store,
            tenant,
            capacity_per_key=sel.replay_capacity_per_key,
            replay_ratio=sel.replay_ratio,
            seed=sel.seed,
            scope=scope,
        )
        self.held_out = ExampleMemory(
            store, tenant, f"{scope}/held_out", sel.replay_capacity_per_key
        )
        self.gate = Gate(evaluator, self.config.gate)
        self.rollout = Rollout(store, tenant, kind, name, self.config.rollout, clock=self.clock)
        self.intake = ExampleIntake(store, tenant, scope, sel.feedback_wait_s)
        self._updates_prefix = f"{scope}/update/"

    def observe(self, learning_key: str, reward: float | None = None, error: bool = False) -> None:
        """One served interaction's outcome, for the scheduler's triggers."""
        self.scheduler.observe(learning_key, reward, error)

    def rollout_step(self) -> StepOutcome:
        """Lets the live observations move the current rollout (wait/advance/promote/rollback).

        On a rollback the examples that update added to the replay and held-out memories are
        forgotten: live traffic showed that what they taught is wrong (e.g. poisoned
        feedback), and replaying them would poison every later candidate too.
        """
        out = self.rollout.analyze()
        if out.action == "rollback" and out.state is not None:
            self.quarantine(out.state.candidate_id)
        if out.action in ("promote", "rollback") and out.state is not None:
            notify_rollout(self.run_loggers, self.tenant, out.state)
        return out

    def quarantine(self, candidate_id: UUID) -> int:
        """Forgets the examples the update that made ``candidate_id`` added; how many."""
        key = f"{self._updates_prefix}{candidate_id}"
        saved = self.store.kv_get(self.tenant, UPDATES_NAMESPACE, [key]).get(key)
        if not saved:
            return 0
        added = json.loads(saved)
        n = self.replay.forget(added["replay"]) + self.held_out.forget(added["held_out"])
        self.store.kv_delete(self.tenant, UPDATES_NAMESPACE, [key])
        return n

    # -- one update ----------------------------------------------------------------------
    def step(self, *, force: bool = False) -> UpdateResult:
        """Asks the scheduler; when it fires, runs one update to its recorded outcome."""
        state = self.rollout.state
        hold = (
            f"rollout of {state.candidate_id} in flight ({state.phase.value})"
            if state is not None and state.phase.in_flight
            else None
        )
        decision = self.scheduler.check(force=force, hold=hold)
        if not decision.fire:
            return UpdateResult(decision, "skipped")
        started = time.perf_counter()
        try:
            return self._update(decision, started)
        except Exception as exc:  # a failing learner or evaluator must not stop the loop
            run = decision.to_run(
                self.learner.name,
                self.tenant,
                "failed",
                duration_s=time.perf_counter() - started,
            ).model_copy(update={"reason": f"{decision.reason}; failed: {exc!r}"})
            self.store.record_run(run)
            notify_run(self.run_loggers, run)
            return UpdateResult(decision, "failed", run=run)

    def _update(self, decision: Decision, started: float) -> UpdateResult:
        sel = self.config.selection
        fresh = self.intake.take()
        held = [e for e in fresh if is_held_out(e, sel.held_out_fraction)]
        trainable = [e for e in fresh if not is_held_out(e, sel.held_out_fraction)]
        old_held_out = self.held_out.examples()
        added = {"held_out": self.held_out.add(held)}
        n_new = sel.batch_size - int(sel.batch_size * sel.replay_ratio + 0.5)
        chosen = select(trainable, n_new, sel, learned=self.replay.examples.examples())
        added["replay"] = self.replay.add(chosen)
        train, replay = self.replay.batch(sel.batch_size)
        base = self.store.resolve_alias(self.tenant, self.kind, self.name, "production")
        keys = tuple(sorted({e.learning_key for e in (*train, *replay)}))
        task = LearningTask(
            self.store, self.tenant, keys, train, replay, base, trigger=decision.trigger
        )
        result = self.learner.learn(task)

        def finish(outcome: str, note: str = "", **fields: object) -> LearningRun:
            run = decision.to_run(
                self.learner.name,
                self.tenant,
                outcome,
                duration_s=time.perf_counter() - started,
                samples_used=result.samples_used,
                **fields,
            )
            if note:
                run = run.model_copy(update={"reason": f"{decision.reason}; {note}"})
            self.store.record_run(run)
            notify_run(self.run_loggers, run)
            return run

        if result.candidate is None:
            run = finish("no_change", result.reason, metrics_after=dict(result.metrics))
            return UpdateResult(decision, "no_change", run=run, train=train, replay=replay)
        verdict = self.gate.judge(result.candidate, base, held, old_held_out)
        candidate = self._store_candidate(result, base, verdict)
        self.store.kv_put(
            self.tenant,
            UPDATES_NAMESPACE,
            {f"{self._updates_prefix}{candidate.id}": json.dumps(added)},
        )
        before = {"score": verdict.stable} | {
            f"score.{k}": ks.stable for k, ks in verdict.keys.items()
        }
        after = dict(result.metrics) | verdict.metrics()
        if not verdict.passed:
            outcome = "rejected"
            if self.config.gate.forget_rejected:
                self.quarantine(candidate.id)
        else:
            state = self.rollout.start(candidate)
            outcome = "promoted" if state.phase.value == "promoted" else "rollout"
        run = finish(
            outcome,
            verdict.summary(),
            metrics_before=before,
            metrics_after=after,
            candidate_version_id=candidate.id,
        )
        return UpdateResult(decision, outcome, run, candidate, verdict, train, replay)

    def _store_candidate(
        self, result: LearnerResult, base: Version | None, verdict: GateVerdict
    ) -> Version:
        proposed = result.candidate
        assert proposed is not None
        if (proposed.kind, proposed.name) != (self.kind, self.name):
            raise InvalidArgumentError(
                f"learner {self.learner.name!r} returned a {proposed.kind.value}/{proposed.name} "
                f"version for the {self.kind.value}/{self.name} loop"
            )
        existing = self.store.versions(self.tenant, self.kind, self.name)
        candidate = proposed.model_copy(
            update={
                "tenant_id": self.tenant,
                "number": max((v.number for v in existing), default=0) + 1,
                "parent_id": proposed.parent_id or (base.id if base else None),
                "metrics": dict(proposed.metrics) | dict(result.metrics) | verdict.metrics(),
                "status": VersionStatus.CANDIDATE if verdict.passed else VersionStatus.REJECTED,
                "aliases": (),
            }
        )
        self.store.put_version(candidate)
        return candidate

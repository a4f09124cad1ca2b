"""A real learning history for the report tests, written by the real LearningLoop.

The learner learns a lookup table (prompt -> gold answer) and keeps it in the store's
key-value entries; the evaluator scores a version by whether its table gives an example's
gold answer. Live traffic is scripted: each served interaction names the version that
served it (``prompt_version`` = the version id, as the router's servers write) and carries a
reward chosen by the test, and the same rewards feed the rollout's canary analysis. Every
interaction is stamped by the loop's ManualClock, one second apart.

The history (window 10, rewards in brackets are the served rewards, 10 of each):

1. 10 capitals labels: a skipped run; 10 more: v1, the first version, promoted.
2. v1 serves capitals [0.5/0.7 alternating] and math [0.1/0.3 alternating].
3. 20 math labels: v2 passes the gate, canary 50%: v1 serves capitals [0.7], math [0.2];
   v2 serves capitals [0.55/0.65 alternating], math [0.9]; the canary passes, v2 is promoted.
4. v2 serves capitals [0.7/0.9 alternating], math [0.9].
5. 20 colors labels: v3 passes the gate; canary: v2 capitals [0.8] math [0.9], v3
   capitals [0.3] math [0.4]: rolled back.
6. 20 colors labels, a forgetful learner (no replay, no base), a manual update: v4 forgets
   capitals and math and the gate rejects it.
7. 20 colors labels: v5 passes the gate; canary: v2 capitals [0.8] math [0.9], v5
   capitals [0.5] math [0.5]: rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

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
    LearnerResult,
    LearningLoop,
    LearningTask,
    ManualClock,
    prompt_text,
)
from atlas_core.loop.engine import UpdateResult, is_held_out
from atlas_core.store import Store, open_store
from atlas_core.types import (
    Feedback,
    FeedbackKind,
    Interaction,
    Reward,
    Version,
    VersionKind,
    from_ns,
)

TENANT = "acme"
TABLES = "test.lookup"
WINDOW = 10
SKILLS = {
    "capitals": {f"capital of country {i}?": f"city {i}" for i in range(5)},
    "math": {f"what is {i} plus {i}?": str(2 * i) for i in range(5)},
    "colors": {f"color of fruit {i}?": f"color {i}" for i in range(5)},
}


def interaction_id(*, held_out: bool) -> UUID:
    """A fresh id that the loop's fixed hash split puts in (or out of) the held-out share.

    Labels: every 4th held out, so every question is both learned and tested; served
    traffic: never held out, so the gate's figures depend on the labels alone (and are
    exact: see test_report_figures).
    """
    while True:
        uid = new_id()
        if is_held_out(SimpleNamespace(id=uid), CONFIG.selection.held_out_fraction) == held_out:
            return uid


def table_of(store: Store, version: Version | None) -> dict[str, str]:
    """The lookup table a version's artifact names (empty for None)."""
    if version is None:
        return {}
    key = version.artifact_uri.removeprefix(f"kv://{TABLES}/")
    return dict(json.loads(store.kv_get(TENANT, TABLES, [key])[key]))


class LookupLearner:
    """Learns prompt -> gold answer; ``forgetful`` keeps only the new examples."""

    name = "lookup"

    def __init__(self, forgetful: bool = False) -> None:
        self.forgetful = forgetful

    def learn(self, task: LearningTask) -> LearnerResult:
        examples = task.train if self.forgetful else [*task.replay, *task.train]
        table = {} if self.forgetful else table_of(task.store, task.base)
        for e in examples:
            if e.reference is not None:
                table[prompt_text(e)] = e.reference
        version = Version(
            tenant_id=task.tenant, kind=VersionKind.PROMPT, name="agent", number=1, artifact_uri=""
        )
        version = version.model_copy(update={"artifact_uri": f"kv://{TABLES}/{version.id}"})
        task.store.kv_put(task.tenant, TABLES, {str(version.id): json.dumps(table)})
        return LearnerResult(candidate=version, samples_used=len(examples))


class LookupEvaluator:
    """Score 1 when a version's table gives the example's gold answer, else 0."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def score(self, version: Version | None, examples: Sequence[Example]) -> list[float]:
        table = table_of(self.store, version)
        return [float(table.get(prompt_text(e)) == e.reference) for e in examples]


CONFIG = LoopConfig(
    learner="lookup",
    scheduler=SchedulerConfig(min_samples=20, drift_detector="none", min_interval_s=0.0),
    selection=SelectionConfig(batch_size=512, replay_ratio=0.3, held_out_fraction=0.3, seed=1),
    gate=GateConfig(max_key_regression=0.05),
    rollout=RolloutConfig(min_samples_per_arm=10, canary_steps=(50.0, 100.0), shadow=False),
)


@dataclass
class History:
    """What the scenario wrote, for tests to compute expected figures by hand."""

    store: Store
    loop: LearningLoop
    clock: ManualClock
    results: list[UpdateResult] = field(default_factory=list)
    """Every step() result that ran an update, in order."""
    interactions: int = 0
    times: list[float] = field(default_factory=list)
    """created_at of every interaction, in order (clock seconds)."""
    served: list[tuple[str, str, float]] = field(default_factory=list)
    """(version label, key, reward) of every served interaction, in order."""
    rollback_times: list[float] = field(default_factory=list)
    feedback: dict[str, int] = field(default_factory=dict)
    labels: dict[Any, str] = field(default_factory=dict)
    """version id -> v<number>."""

    def _stamp(self) -> Any:
        self.clock.advance(1.0)
        self.times.append(self.clock.now())
        self.interactions += 1
        return from_ns(int(self.clock.now() * 1e9))

    def teach(self, key: str, n: int) -> None:
        """``n`` label-only interactions of ``key`` (cycling its questions), observed."""
        questions = list(SKILLS[key])
        rows = []
        for i in range(n):
            prompt = questions[i % len(questions)]
            rows.append(
                Interaction(
                    id=interaction_id(held_out=i % 4 == 3),
                    tenant_id=TENANT,
                    learning_key=key,
                    input=[{"role": "user", "content": prompt}],
                    output="?",
                    created_at=self._stamp(),
                )
            )
        self.store.write_interactions(rows)
        self.store.write_feedback(
            [
                Feedback(
                    tenant_id=TENANT,
                    interaction_id=r.id,
                    kind=FeedbackKind.LABEL,
                    text=SKILLS[key][r.input[0]["content"]],
                    created_at=r.created_at,
                )
                for r in rows
            ]
        )
        self.feedback["label"] = self.feedback.get("label", 0) + n
        # A gold answer is a learnable sample for the scheduler (whose sample trigger counts
        # observations with a reward); no Reward row is stored, so live figures ignore them.
        for _ in rows:
            self.loop.observe(key, 1.0)

    def serve(self, version: Version, key: str, rewards: Sequence[float], arm: str) -> None:
        """Interactions served by ``version`` with these rewards, fed to the rollout."""
        rows = [
            Interaction(
                id=interaction_id(held_out=False),
                tenant_id=TENANT,
                learning_key=key,
                prompt_version=str(version.id),
                input=[
                    {"role": "user", "content": f"served {key} question {len(self.served) + i}"}
                ],
                output="!",
                latency_ms=50.0,
                created_at=self._stamp(),
            )
            for i in range(len(rewards))
        ]
        self.store.write_interactions(rows)
        self.store.write_rewards(
            [
                Reward(tenant_id=TENANT, interaction_id=r.id, score=s, created_at=r.created_at)
                for r, s in zip(rows, rewards, strict=True)
            ]
        )
        for s in rewards:
            self.loop.rollout.record(arm, reward=s, latency_s=0.05)  # type: ignore[arg-type]
            self.loop.observe(key, s)
            self.served.append((self.labels[version.id], key, s))

    def step(self, *, force: bool = False) -> UpdateResult:
        result = self.loop.step(force=force)
        if result.candidate is not None:
            self.labels[result.candidate.id] = f"v{result.candidate.number}"
            self.results.append(result)
        return result

    def roll(self, expected: str) -> None:
        out = self.loop.rollout_step()
        assert out.action == expected, out
        if expected == "rollback":
            self.rollback_times.append(self.clock.now())


def alternating(a: float, b: float) -> list[float]:
    return [a, b] * 5


def build_history(store: Store) -> History:
    """Writes the history described in the module docstring; asserts each step's outcome."""
    clock = ManualClock()
    loop = LearningLoop(
        store,
        TENANT,
        kind=VersionKind.PROMPT,
        name="agent",
        learner=LookupLearner(),
        evaluator=LookupEvaluator(store),
        config=CONFIG,
        clock=clock,
    )
    h = History(store, loop, clock)
    h.teach("capitals", 10)
    assert h.step().outcome == "skipped"
    h.teach("capitals", 10)
    v1 = h.step()
    assert v1.outcome == "promoted"
    assert v1.candidate is not None
    clock.advance(100)
    h.serve(v1.candidate, "capitals", alternating(0.5, 0.7), "stable")
    h.serve(v1.candidate, "math", alternating(0.1, 0.3), "stable")

    clock.advance(100)
    h.teach("math", 20)
    v2 = h.step()
    assert v2.outcome == "rollout", v2.run
    assert v2.candidate is not None
    h.serve(v1.candidate, "capitals", [0.7] * 10, "stable")
    h.serve(v1.candidate, "math", [0.2] * 10, "stable")
    h.serve(v2.candidate, "capitals", alternating(0.55, 0.65), "candidate")
    h.serve(v2.candidate, "math", [0.9] * 10, "candidate")
    h.roll("promote")
    h.serve(v2.candidate, "capitals", alternating(0.7, 0.9), "stable")
    h.serve(v2.candidate, "math", [0.9] * 10, "stable")

    for n, live, learner, force in (
        (3, (0.3, 0.4), LookupLearner(), False),
        (4, None, LookupLearner(forgetful=True), True),
        (5, (0.5, 0.5), LookupLearner(), False),
    ):
        clock.advance(600)
        loop.learner = learner
        h.teach("colors", 20)
        result = h.step(force=force)
        assert result.candidate is not None, result.run
        assert result.candidate.number == n
        if live is None:
            assert result.outcome == "rejected", result.run
            continue
        cap, math = live
        assert result.outcome == "rollout", result.run
        h.serve(v2.candidate, "capitals", [0.8] * 10, "stable")
        h.serve(v2.candidate, "math", [0.9] * 10, "stable")
        h.serve(result.candidate, "capitals", [cap] * 10, "candidate")
        h.serve(result.candidate, "math", [math] * 10, "candidate")
        h.roll("rollback")

    # Some explicit and implicit feedback on served traffic, for the feedback mix.
    served = store.interactions(TENANT).filter(store.interactions(TENANT)["output"] == "!")
    ids = served["id"].to_list()[:8]
    extra = [
        Feedback(tenant_id=TENANT, interaction_id=iid, kind=FeedbackKind.SIGNAL, name="copy")
        for iid in ids[:5]
    ] + [
        Feedback(
            tenant_id=TENANT,
            interaction_id=iid,
            kind=FeedbackKind.RATING,
            value=4,
            scale_min=1,
            scale_max=5,
        )
        for iid in ids[5:]
    ]
    store.write_feedback(extra)
    h.feedback |= {"signal:copy": 5, "rating": 3}
    return h


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = "sqlite:///" + str(tmp_path_factory.mktemp("report") / "a.db")
    with open_store(url) as store:
        h = build_history(store)
        h.url = url  # type: ignore[attr-defined]
        yield h


@pytest.fixture
def helpers() -> Any:
    """The classes above, for test modules (importlib mode has no conftest import)."""

    class H:
        LookupLearner = globals()["LookupLearner"]
        LookupEvaluator = globals()["LookupEvaluator"]
        History = globals()["History"]
        CONFIG = globals()["CONFIG"]
        TENANT = globals()["TENANT"]

    return H

"""The ``GEPAAdapter`` between the ``gepa`` engine and Atlas.

GEPA's candidate is a mapping component -> text; here a component is a template role of the
reasoning core (``student``, ``probe``, ``teacher_guidance``, ``student_with_guidance``, ...)
and the text is that role's template. :meth:`AtlasAdapter.evaluate` runs the candidate
through the runtime on a batch (:class:`~atlas_gepa.evaluation.CandidateRunner`: concurrent,
bounded, never raising for one example); :meth:`AtlasAdapter.make_reflective_dataset` gives
the reflection model, per role, the inputs, what that role's step produced, the final answer,
the score with the judges' rationale, the gold answer and what users said.

The adapter also meters spend (agent tokens and metric calls) for the token budget; the meter
is part of GEPA's checkpoint (``get_adapter_state``), so a resumed run does not forget it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from gepa.core.adapter import EvaluationBatch, ProposalFn

from atlas_core.runtime import Role
from atlas_gepa.cache import RunCache
from atlas_gepa.data import GepaExample
from atlas_gepa.evaluation import Attempt, CandidateRunner, candidate_digest

__all__ = ["STEP_OF_ROLE", "AtlasAdapter", "SpendMeter"]

STEP_OF_ROLE: dict[Role, str] = {
    Role.STUDENT: "baseline",
    Role.PROBE: "probe",
    Role.PROBE_SCORE: "probe_score",
    Role.TEACHER_REVIEW: "review",
    Role.STUDENT_RETRY: "retry",
    Role.TEACHER_GUIDANCE: "guidance",
    Role.STUDENT_WITH_GUIDANCE: "guided",
}
"""The protocol step whose prompt each role's template renders."""


class SpendMeter:
    """Tokens and example evaluations spent so far (thread-safe)."""

    def __init__(self) -> None:
        self.agent_tokens = 0
        self.reflection_tokens = 0
        self.evaluations = 0
        self._lock = threading.Lock()

    def add(
        self, *, agent_tokens: int = 0, reflection_tokens: int = 0, evaluations: int = 0
    ) -> None:
        """Adds spend."""
        with self._lock:
            self.agent_tokens += agent_tokens
            self.reflection_tokens += reflection_tokens
            self.evaluations += evaluations

    @property
    def tokens(self) -> int:
        """Agent and reflection tokens together."""
        return self.agent_tokens + self.reflection_tokens

    def state(self) -> dict[str, int]:
        """The counters, for a checkpoint."""
        with self._lock:
            return {
                "agent_tokens": self.agent_tokens,
                "reflection_tokens": self.reflection_tokens,
                "evaluations": self.evaluations,
            }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Sets the counters from :meth:`state` (missing ones are 0)."""
        with self._lock:
            self.agent_tokens = int(state.get("agent_tokens", 0))
            self.reflection_tokens = int(state.get("reflection_tokens", 0))
            self.evaluations = int(state.get("evaluations", 0))


class AtlasAdapter:
    """GEPA adapter over a :class:`CandidateRunner` (DataInst: :class:`GepaExample`,
    trajectory and output: :class:`Attempt`)."""

    propose_new_texts: ProposalFn | None = None
    """None: GEPA's own reflective proposer writes the new texts (the engine reads this)."""

    def __init__(
        self,
        runner: CandidateRunner,
        meter: SpendMeter | None = None,
        cache: RunCache | None = None,
    ) -> None:
        self.runner = runner
        self.meter = meter or SpendMeter()
        self.cache = cache

    def evaluate(
        self,
        batch: list[GepaExample],
        candidate: dict[str, str],
        capture_traces: bool = False,
    ) -> EvaluationBatch[Attempt, Attempt]:
        """Runs ``candidate`` on ``batch``; one score per example (0 for a failed one).
        Evaluations already in the run cache are read back, not run again."""
        digest = candidate_digest(candidate)
        found: dict[int, Attempt] = {}
        if self.cache is not None:
            for i, example in enumerate(batch):
                hit = self.cache.get(f"eval:{digest}:{example.id}")
                if hit is not None:
                    found[i] = attempt_from_json(hit, example)
        todo = [e for i, e in enumerate(batch) if i not in found]
        fresh = self.runner.evaluate(todo, candidate) if todo else []
        self.meter.add(agent_tokens=sum(a.tokens for a in fresh), evaluations=len(fresh))
        if self.cache is not None:
            self.cache.put_many(
                {f"eval:{digest}:{a.example.id}": attempt_to_json(a) for a in fresh}
            )
        it = iter(fresh)
        attempts = [found[i] if i in found else next(it) for i in range(len(batch))]
        return EvaluationBatch(
            outputs=attempts,
            scores=[a.score for a in attempts],
            trajectories=attempts if capture_traces else None,
        )

    def make_reflective_dataset(
        self,
        candidate: dict[str, str],
        eval_batch: EvaluationBatch[Attempt, Attempt],
        components_to_update: list[str],
    ) -> dict[str, list[dict[str, Any]]]:
        """Per role to update, one record per example (see the module docstring)."""
        attempts = eval_batch.trajectories or eval_batch.outputs
        return {
            name: [reflection_record(Role(name), a) for a in attempts]
            for name in components_to_update
        }

    def get_adapter_state(self) -> dict[str, Any]:
        """The spend meter, saved with GEPA's checkpoint."""
        return {"spend": self.meter.state()}

    def set_adapter_state(self, state: dict[str, Any]) -> None:
        """Restores the spend meter on resume (a fresh run's empty state leaves it as is: the
        seed's evaluation, already metered, happens before the engine calls this)."""
        if "spend" in state:
            self.meter.restore(state["spend"])


def attempt_to_json(attempt: Attempt) -> dict[str, Any]:
    """An attempt without its example (the cache is keyed by the example's id)."""
    return {
        "answer": attempt.answer,
        "score": attempt.score,
        "rationale": attempt.rationale,
        "error": attempt.error,
        "lane": attempt.lane,
        "steps": attempt.steps,
        "tokens": attempt.tokens,
    }


def attempt_from_json(data: Mapping[str, Any], example: GepaExample) -> Attempt:
    """The inverse of :func:`attempt_to_json` for ``example``."""
    return Attempt(example=example, **data)


def reflection_record(role: Role, attempt: Attempt) -> dict[str, Any]:
    """What the reflection model reads about one example for ``role``'s template."""
    example = attempt.example
    record: dict[str, Any] = {
        "Inputs": {"task": example.task, "learning_key": example.learning_key}
    }
    step = _step(attempt.steps, STEP_OF_ROLE[role])
    if step is not None and role is not Role.STUDENT:
        record["This template's step"] = {
            "prompt sent": step.get("prompt", ""),
            "reply": step.get("text", ""),
            **({"error": step["error"]} if step.get("error") else {}),
        }
    record["Generated Outputs"] = attempt.answer or "(no answer)"
    record["Feedback"] = _feedback(attempt)
    return record


def _step(steps: Sequence[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for step in reversed(steps):
        if step.get("name") == name:
            return dict(step)
    return None


def _feedback(attempt: Attempt) -> str:
    example = attempt.example
    lines = [f"score {attempt.score:.2f} of 1."]
    if attempt.error:
        lines.append(f"The run failed: {attempt.error}")
    elif attempt.rationale:
        lines.append(f"Judge: {attempt.rationale}")
    if example.reference is not None:
        lines.append(f"The correct answer is: {example.reference}")
    said = example.feedback.as_text()
    if said:
        gave = example.production_output[:300]
        lines.append(f"On the answer production gave ({gave!r}), users said: {said}")
    if attempt.lane:
        lines.append(f"(served in the {attempt.lane} lane)")
    return "\n".join(lines)

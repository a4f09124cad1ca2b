"""The adapter: concurrent batch evaluation through the runtime that never raises for one
example, and the reflective dataset the reflection model reads."""

from __future__ import annotations

import asyncio
from pathlib import Path

from atlas_core.llm import Endpoint
from atlas_core.runtime import ChatAgent, Lane, Role
from atlas_core.runtime.templates import DEFAULT_TEXTS
from atlas_core.testing.openai_server import ChatCall, FakeLLMServer
from atlas_gepa.adapter import AtlasAdapter
from atlas_gepa.cache import RunCache
from atlas_gepa.data import GepaExample, UserFeedback
from atlas_gepa.evaluation import CandidateRunner
from atlas_gepa.scoring import GoldScorer, Scored
from atlas_gepa.testing import FIXED, student_answer


def _example(i: int, task: str, reference: str | None) -> GepaExample:
    return GepaExample(
        id=f"ex-{i}",
        learning_key="math",
        task=task,
        production_output="something wordy",
        reference=reference,
        feedback=UserFeedback(ratings=("2 on [1, 5]",), comments=("just the number please",)),
    )


def _runner(server: FakeLLMServer, tmp_path: Path, **options: object) -> CandidateRunner:
    student = ChatAgent(Endpoint(server.base_url, "student", timeout_s=0.5, max_retries=0))
    return CandidateRunner(
        student,
        None,
        GoldScorer(),
        base=dict(DEFAULT_TEXTS),
        lane=Lane.AUTO,
        scratch_dir=tmp_path / "scratch",
        **options,  # type: ignore[arg-type]
    )


def test_a_broken_response_or_a_timeout_is_a_failing_score_not_a_crash(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    runner = _runner(server, tmp_path, timeout_s=30.0)
    adapter = AtlasAdapter(runner)
    batch = [
        _example(0, "What is 1 + 2?", "3"),
        _example(1, "BROKEN What is 2 + 2?", "4"),  # the server answers malformed JSON
        _example(2, "SLOW What is 3 + 3?", "6"),  # the server answers after the client gave up
        _example(3, "What is 4 + 4?", None),  # nothing to check against
    ]
    out = adapter.evaluate(batch, {"student": FIXED}, capture_traces=True)
    runner.close()

    assert out.scores == [1.0, 0.0, 0.0, 0.0]
    assert out.trajectories is not None
    assert len(out.trajectories) == 4
    ok, broken, slow, unlabelled = out.trajectories
    assert ok.answer == "3"
    assert ok.error is None
    assert broken.error is not None
    assert "no answer" in broken.error
    assert any("Response" in (s.get("error") or "") for s in broken.steps)
    assert slow.error is not None
    assert unlabelled.error is None
    assert "no gold answer" in unlabelled.rationale
    assert adapter.meter.evaluations == 4


def test_an_invalid_template_scores_every_example_zero(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    runner = _runner(server, tmp_path)
    batch = [_example(0, "What is 1 + 2?", "3")]
    out = AtlasAdapter(runner).evaluate(batch, {"student": "no task placeholder"})
    runner.close()
    assert out.scores == [0.0]
    assert "must use ['task']" in out.outputs[0].error  # type: ignore[operator]
    assert not server.calls  # nothing was sent for a template that cannot be rendered


def test_evaluation_is_concurrent_and_bounded(tmp_path: Path) -> None:
    inflight = 0
    peak = 0

    async def counting(call: ChatCall) -> str:
        nonlocal inflight, peak
        inflight += 1
        peak = max(peak, inflight)
        await asyncio.sleep(0.2)
        inflight -= 1
        return student_answer(call.last_user)

    with FakeLLMServer(counting) as server:
        runner = _runner(server, tmp_path, concurrency=8)
        batch = [_example(i, f"What is {i} + 1?", str(i + 1)) for i in range(16)]
        out = AtlasAdapter(runner).evaluate(batch, {"student": FIXED})
        runner.close()
    assert out.scores == [1.0] * 16
    assert peak <= 8  # bounded by the concurrency limit
    assert peak >= 4  # and not one at a time


def test_the_reflective_dataset_has_inputs_outputs_judgement_and_users(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    runner = _runner(server, tmp_path)
    adapter = AtlasAdapter(runner)
    batch = [_example(0, "What is 5 + 6?", "11")]
    seed = {"student": DEFAULT_TEXTS[Role.STUDENT]}
    out = adapter.evaluate(batch, seed, capture_traces=True)
    data = adapter.make_reflective_dataset(seed, out, ["student"])
    runner.close()
    [record] = data["student"]
    assert record["Inputs"]["task"] == "What is 5 + 6?"
    assert "5 plus 6 is 11" in record["Generated Outputs"]
    feedback = record["Feedback"]
    assert "score 0.00" in feedback
    assert "expected '11'" in feedback  # the judge's rationale
    assert "The correct answer is: 11" in feedback
    assert "just the number please" in feedback
    assert "2 on [1, 5]" in feedback


def test_cached_evaluations_are_not_run_again(tmp_path: Path, server: FakeLLMServer) -> None:
    runner = _runner(server, tmp_path)
    batch = [_example(i, f"What is {i} + 2?", str(i + 2)) for i in range(3)]
    first = AtlasAdapter(runner, cache=RunCache(tmp_path / "cache.jsonl"))
    a = first.evaluate(batch, {"student": FIXED})
    calls = len(server.calls)
    second = AtlasAdapter(runner, cache=RunCache(tmp_path / "cache.jsonl"))  # as after a restart
    b = second.evaluate(batch, {"student": FIXED})
    runner.close()
    assert a.scores == b.scores == [1.0, 1.0, 1.0]
    assert len(server.calls) == calls
    assert second.meter.evaluations == 0


def test_a_scorer_that_raises_fails_its_examples_not_the_batch(
    tmp_path: Path, server: FakeLLMServer
) -> None:
    class Exploding:
        name = "exploding"

        async def score(self, items: object) -> list[Scored]:
            raise RuntimeError("judge crashed")

    student = ChatAgent(Endpoint(server.base_url, "student"))
    runner = CandidateRunner(
        student,
        None,
        Exploding(),
        base=dict(DEFAULT_TEXTS),
        lane=Lane.AUTO,
        scratch_dir=tmp_path / "scratch",
    )
    out = AtlasAdapter(runner).evaluate([_example(0, "What is 1 + 2?", "3")], {"student": FIXED})
    runner.close()
    assert out.scores == [0.0]
    assert "judge crashed" in out.outputs[0].rationale

"""The adaptive-teaching reward: improvement, degradation penalty, efficiency, rates, caching."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from atlas_grpo.rewards import AdaptiveTeachingReward, reference_scorer, reward_model_scorer
from atlas_grpo.student import HFStudent
from atlas_grpo.testing import char_tokenizer, tiny_causal_lm


class ScriptedStudent:
    """A deterministic student: alone it gives its own answer; guidance 'say:X|why' makes it
    say X (whatever follows '|' is padding that changes only the guidance length)."""

    def __init__(self, alone: dict[str, str]) -> None:
        self.alone = alone
        self.calls: list[tuple[str, str | None]] = []

    def __call__(self, prompts: Sequence[str], guidance: Sequence[str | None]) -> list[str]:
        out = []
        for prompt, hint in zip(prompts, guidance, strict=True):
            self.calls.append((prompt, hint))
            if hint is not None and hint.startswith("say:"):
                out.append(hint.removeprefix("say:").split("|")[0])
            else:
                out.append(self.alone[prompt])
        return out


def make(student: ScriptedStudent, **kwargs: Any) -> AdaptiveTeachingReward:
    options: dict[str, Any] = {
        "degradation_penalty": 1.0,
        "efficiency_weight": 0.0,
        "length_budget": 20,
    }
    options.update(kwargs)
    return AdaptiveTeachingReward(student, reference_scorer("exact"), **options)


def test_improvement_is_rewarded_by_the_score_gain() -> None:
    reward = make(ScriptedStudent({"q": "wrong"}))
    out = reward.score(["q", "q"], ["say:right", "no idea"], ["right", "right"])
    assert out.baseline == [0.0, 0.0]
    assert out.guided == [1.0, 0.0]
    assert out.rewards == [1.0, 0.0]
    assert out.improvement_rate == 0.5
    assert out.degradation_rate == 0.0


def test_degradation_is_penalised_by_the_configured_factor() -> None:
    student = ScriptedStudent({"q": "right"})
    mild = make(student, degradation_penalty=1.0).score(["q"], ["say:wrong"], ["right"])
    harsh = make(student, degradation_penalty=3.0).score(["q"], ["say:wrong"], ["right"])
    free = make(student, degradation_penalty=0.0).score(["q"], ["say:wrong"], ["right"])
    assert mild.rewards == [-1.0]
    assert harsh.rewards == [-3.0]
    assert free.rewards == [0.0]
    assert harsh.degradation_rate == 1.0
    assert harsh.improvement_rate == 0.0
    assert harsh.mean_delta == -1.0


def test_efficiency_term_prefers_shorter_successful_guidance() -> None:
    student = ScriptedStudent({"q": "wrong", "easy": "right"})
    reward = make(student, efficiency_weight=0.5, length_budget=20)
    # Both fix the answer; the one with fewer characters (9 and 15 of a 20 budget) earns more.
    out = reward.score(["q", "q"], ["say:right", "say:right|becau"], ["right", "right"])
    assert out.rewards == [
        pytest.approx(1.0 + 0.5 * (1 - 9 / 20)),
        pytest.approx(1.0 + 0.5 * (1 - 15 / 20)),
    ]
    # The student already knows: saying little beats saying a lot, both change nothing.
    out = reward.score(["easy", "easy"], ["ok", "x" * 18], ["right", "right"])
    assert out.rewards == [pytest.approx(0.5 * (1 - 2 / 20)), pytest.approx(0.5 * (1 - 18 / 20))]
    # Guidance longer than the budget earns no bonus; failed guidance earns none either.
    out = reward.score(["easy", "q"], ["x" * 40, "short"], ["right", "right"])
    assert out.rewards == [0.0, 0.0]


def test_baseline_runs_once_per_prompt_and_is_cached() -> None:
    student = ScriptedStudent({"a": "x", "b": "y"})
    reward = make(student)
    reward.score(["a", "a", "b", "b"], ["g1", "g2", "g3", "g4"], ["x", "x", "z", "z"])
    reward.score(["a", "b"], ["g5", "g6"], ["x", "z"])
    alone = [c for c in student.calls if c[1] is None]
    assert sorted(alone) == [("a", None), ("b", None)]
    assert len(student.calls) == 2 + 4 + 2


def test_repeated_guidance_runs_the_student_once() -> None:
    student = ScriptedStudent({"q": "wrong"})
    out = make(student).score(["q"] * 4, ["say:right"] * 3 + ["hm"], ["right"] * 4)
    assert out.rewards == [1.0, 1.0, 1.0, 0.0]
    assert [c for c in student.calls if c[1] is not None] == [("q", "say:right"), ("q", "hm")]


def test_trl_call_logs_rates_and_accepts_chat_prompts() -> None:
    reward = make(ScriptedStudent({"q": "wrong", "k": "right"}))
    logged: dict[str, float] = {}
    rewards = reward(
        prompts=[[{"role": "user", "content": "q"}], "k"],
        completions=[[{"role": "assistant", "content": "say:right"}], "say:nope"],
        reference=["right", "right"],
        log_metric=logged.__setitem__,
    )
    assert rewards == [1.0, -1.0]
    assert logged == {
        "teaching/improvement_rate": 0.5,
        "teaching/degradation_rate": 0.5,
        "teaching/mean_delta": 0.0,
    }
    assert reward.last is not None
    assert reward.last.guided == [1.0, 0.0]


def test_scorer_without_reference_is_a_clear_error() -> None:
    reward = make(ScriptedStudent({"q": "a"}))
    with pytest.raises(ValueError, match="needs a reference"):
        reward.score(["q"], ["say:a"], [None])


class ExactRanker:
    name = "exact"

    async def rank(
        self,
        prompt_messages: list[dict[str, Any]],
        responses: list[str],
        *,
        reference: str | None = None,
    ) -> list[float]:
        await asyncio.sleep(0)
        return [float(r == reference) for r in responses]


def test_reward_model_scorer_scores_each_answer_through_rank() -> None:
    score = reward_model_scorer(ExactRanker())
    assert score(["p", "p"], ["a", "b"], ["a", "a"]) == [1.0, 0.0]

    async def inside_a_loop() -> list[float]:
        return score(["p"], ["a"], ["a"])

    assert asyncio.run(inside_a_loop()) == [1.0]


def test_hf_student_is_frozen_deterministic_and_reads_the_guidance(tmp_path: Path) -> None:
    tokenizer = char_tokenizer()
    model = tiny_causal_lm(tokenizer, seed=3)
    student = HFStudent(
        model, tokenizer, guidance_template="{guidance}:{prompt}", max_new_tokens=5, batch_size=2
    )
    assert not any(p.requires_grad for p in model.parameters())
    assert student.compose("ab>", None) == "ab>"
    assert student.compose("ab>", "shift") == "shift:ab>"
    prompts = ["ab>", "abc>", "h>"]
    first = student(prompts, [None, None, None])
    again = student(prompts, [None, None, None])
    assert first == again
    assert len(first) == 3
    alone = student(["ab>"], [None])
    assert alone == first[:1]  # batching (and padding) does not change an answer
    seen: list[torch.Tensor] = []
    hook = model.register_forward_pre_hook(
        lambda _m, _a, kwargs: seen.append(kwargs["input_ids"]), with_kwargs=True
    )
    try:
        student(["ab>", "h>"], ["a", None])
    finally:
        hook.remove()
    # The first forward pass reads the whole prompt: the guidance composed in, or nothing.
    read = tokenizer.batch_decode(seen[0], skip_special_tokens=True)
    assert read == ["a:ab>", "h>"]
    assert student.calls == 3 + 3 + 1 + 2
    with pytest.raises(ValueError, match="must contain"):
        HFStudent(model, tokenizer, guidance_template="{prompt}")


def test_endpoint_student_over_real_http_feeds_the_teaching_reward() -> None:
    from atlas_core.llm import Endpoint
    from atlas_core.testing.openai_server import ChatCall, FakeLLMServer
    from atlas_grpo.config import TeachingRewardSpec
    from atlas_grpo.endpoint_student import EndpointStudent
    from atlas_grpo.rewards import build_reward_funcs

    def responder(call: ChatCall) -> str:
        # The served student copies a hinted answer, and alone answers "dunno".
        text = call.last_user
        return text.split("Answer: ", 1)[1].strip() if "Answer: " in text else "dunno"

    with FakeLLMServer(responder) as server:
        (reward,) = build_reward_funcs(
            [
                TeachingRewardSpec(
                    student="student-model",
                    student_base_url=server.base_url,
                    guidance_template="{prompt}\n{guidance}",
                    match="exact",
                )
            ]
        )
        assert isinstance(reward, AdaptiveTeachingReward)
        assert isinstance(reward.student, EndpointStudent)
        rewards = reward(
            prompts=["2+2?", "2+2?", "2+3?"],
            completions=["Answer: 4", "Answer: 5", "think"],
            reference=["4", "4", "5"],
        )
        calls = list(server.calls)
    assert rewards[0] == pytest.approx(1.0 + 0.1 * (1 - len("Answer: 4") / 64))
    assert rewards[1:] == [0.0, 0.0]
    assert all(c.model == "student-model" and c.temperature == 0.0 for c in calls)
    # Two solo answers (one per distinct prompt) and three guided ones.
    assert sorted(c.last_user for c in calls) == sorted(
        ["2+2?", "2+3?", "2+2?\nAnswer: 4", "2+2?\nAnswer: 5", "2+3?\nthink"]
    )
    student = EndpointStudent(Endpoint(base_url="http://127.0.0.1:9/v1", model="m"))
    with pytest.raises(ValueError, match="2 prompts but 1"):
        student(["a", "b"], [None])

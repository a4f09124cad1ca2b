"""RimRewardModel: feedback and judges combined by the configured weights, the quality gate,
components, group ranking, and the judge cache persisted through a real Store."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from rim_testkit import config, group, interaction, rating, scripted, signal, text_feedback, verdict

from atlas_core.errors import ConfigError
from atlas_core.rewards import RewardCase, RewardModel
from atlas_core.store import Store
from atlas_core.testing.openai_server import ChatCall, FakeLLMServer
from atlas_core.types import FeedbackKind, Reward
from atlas_rim.config import RimConfig, load_config
from atlas_rim.model import Evaluation, JudgeUnavailableError, RimRewardModel, is_trainable


def evaluate(
    cfg: RimConfig, cases: list[RewardCase], store: Store | None = None
) -> list[Evaluation]:
    async def run() -> list[Evaluation]:
        async with RimRewardModel(cfg, store=store) as model:
            return await model.evaluate(cases)

    return asyncio.run(run())


def test_it_is_a_reward_model_named_by_version_and_config() -> None:
    model = RimRewardModel(RimConfig())
    assert isinstance(model, RewardModel)
    assert model.name.startswith("rim@")
    assert "+" in model.name
    other = RimRewardModel(load_config({"quality_threshold": 0.5}))
    assert other.name != model.name


def test_feedback_only_reward_and_its_components() -> None:
    target = interaction()
    feedback = [rating(target, 5), signal(target, "copy"), signal(target, "retry")]
    [e] = evaluate(RimConfig(), [RewardCase.of(target, feedback)])
    p, n = 1.0 + 0.8, 0.3
    assert e.reward.score == pytest.approx((p + 0.5) / (p + n + 1))
    assert e.feedback_score == e.reward.score
    assert e.judgement is None
    c = e.reward.components
    assert c["feedback.rating"] == pytest.approx(1.0)
    assert c["feedback.signal.copy"] == pytest.approx(0.8)
    assert c["feedback.signal.retry"] == pytest.approx(-0.3)
    assert c["feedback.evidence"] == pytest.approx(2.1)
    assert "judge" not in c
    assert c["quality.pass"] == 1.0
    assert e.reward.reward_model.startswith("rim@")  # type: ignore[union-attr]
    assert "signal.copy +0.80" in (e.reward.rationale or "")


def test_edits_are_scored_by_what_the_user_kept() -> None:
    target = interaction("The capital of France is Paris.")
    kept = text_feedback(target, FeedbackKind.EDIT, "The capital of France is Paris!")
    rewritten = text_feedback(target, FeedbackKind.EDIT, "Lyon? No: it's Paris, obviously.")
    cfg = load_config({"signals": {"prior_strength": 0}})
    [a, b] = evaluate(cfg, [RewardCase(target, (kept,)), RewardCase(target, (rewritten,))])
    assert a.reward.score > 0.95 > b.reward.score


def test_judge_and_feedback_combine_by_weights() -> None:
    target = interaction()
    with FakeLLMServer(scripted({"a": verdict(0.2), "b": verdict(0.2)})) as server:
        cfg = config(
            server.base_url,
            combine={"judge_weight": 1.0, "feedback_weight": 3.0},
            signals={"prior_strength": 0.0},
        )
        [e] = evaluate(cfg, [RewardCase.of(target, [rating(target, 5)])])
    assert e.reward.score == pytest.approx((1 * 0.2 + 3 * 1.0) / 4)
    c = e.reward.components
    assert c["judge"] == pytest.approx(0.2)
    assert c["feedback"] == 1.0
    assert c["judge.a"] == pytest.approx(0.2)
    assert c["judge.b"] == pytest.approx(0.2)
    assert c["cost.prompt_tokens"] > 0
    assert c["cost.latency_s"] > 0


def test_either_part_may_be_absent_or_weighted_out() -> None:
    target = interaction()
    with FakeLLMServer(scripted({"a": verdict(0.3), "b": verdict(0.3)})) as server:
        cfg = config(server.base_url, signals={"prior_strength": 0.0})
        [no_feedback] = evaluate(cfg, [RewardCase(target)])
        judge_off = config(
            server.base_url, combine={"judge_weight": 0.0}, signals={"prior_strength": 0.0}
        )
        [only_feedback] = evaluate(judge_off, [RewardCase.of(target, [rating(target, 5)])])
    assert no_feedback.reward.score == pytest.approx(0.3)
    assert no_feedback.feedback_score is None
    assert only_feedback.reward.score == 1.0
    assert "judge" in only_feedback.reward.components


def test_no_evidence_gives_the_prior_and_is_never_trainable() -> None:
    target = interaction()
    comment = text_feedback(target, FeedbackKind.COMMENT, "hmm")
    [e] = evaluate(load_config({"signals": {"prior": 0.4}}), [RewardCase(target, (comment,))])
    assert e.reward.score == 0.4
    assert e.reward.uncertainty == 0.5
    assert not e.trainable
    assert not is_trainable(e.reward)


def test_quality_threshold_marks_what_is_not_for_training() -> None:
    good, bad = interaction(), interaction()
    cases = [RewardCase.of(good, [rating(good, 5)]), RewardCase.of(bad, [rating(bad, 2)])]
    cfg = load_config({"quality_threshold": 0.6})
    [g, b] = evaluate(cfg, cases)
    assert g.trainable
    assert is_trainable(g.reward)
    assert not b.trainable
    assert b.reward.components["quality.pass"] == 0.0


def test_judges_see_comments_edits_and_the_label_reference() -> None:
    target = interaction()
    feedback = [
        text_feedback(target, FeedbackKind.COMMENT, "too long"),
        text_feedback(target, FeedbackKind.EDIT, "Paris."),
        text_feedback(target, FeedbackKind.LABEL, "Paris"),
    ]
    seen: list[str] = []

    def answer(call: ChatCall) -> str:
        seen.append(call.last_user)
        return verdict(0.5)

    with FakeLLMServer(scripted({"a": answer, "b": answer})) as server:
        evaluate(config(server.base_url), [RewardCase.of(target, feedback)])
    assert all("comment: too long" in s for s in seen)
    assert all("corrected the response to: Paris." in s for s in seen)
    assert all("## Reference answer\nParis" in s for s in seen)


def test_escalation_and_consistency_reach_the_reward() -> None:
    rule = {"name": "agree", "kind": "max_gap", "judges": ["a", "b"], "threshold": 0.2,
            "action": "flag"}  # fmt: skip
    answers = {"a": verdict(0.9), "b": verdict(0.2), "arbiter": verdict(0.7)}
    with FakeLLMServer(scripted(answers)) as server:
        cfg = config(server.base_url, arbiter={"model": "big"}, consistency=[rule])
        [e] = evaluate(cfg, [RewardCase(interaction())])
    assert e.reward.escalated
    assert e.reward.score == pytest.approx(0.7)
    c = e.reward.components
    assert c["escalation.spread"] == 1.0
    assert c["consistency.agree"] == 1.0
    assert (e.reward.rationale or "").startswith("judges 0.70: arbiter:")


def test_cache_persists_through_the_store_across_models(store: Store) -> None:
    cases = [RewardCase(interaction(f"answer {i}")) for i in range(3)]
    with FakeLLMServer(scripted({"a": verdict(0.6), "b": verdict(0.8)})) as server:
        cfg = config(server.base_url)
        first = evaluate(cfg, cases, store)
        after_first = len(server.calls)
        second = evaluate(cfg, cases, store)  # a fresh model: only the store remembers
        assert len(server.calls) == after_first == 12
    entries = store.kv_items("default", "rim.cache")
    assert len(entries) == 6  # one entry per (case, judge), each with both temperatures
    assert [e.reward.score for e in second] == [e.reward.score for e in first]
    assert all(e.judgement is not None and e.judgement.cache_hits == 4 for e in second)
    assert all(e.reward.components["cost.prompt_tokens"] == 0 for e in second)
    assert all(e.reward.components["cost.prompt_tokens"] > 0 for e in first)


def test_cache_keys_on_content_and_skips_unparsed_answers(store: Store) -> None:
    answers = {"a": verdict(0.6), "b": "not json"}
    with FakeLLMServer(scripted(answers)) as server:
        cfg = config(server.base_url)
        evaluate(cfg, [RewardCase(interaction("x"))], store)
        evaluate(cfg, [RewardCase(interaction("x"))], store)
        evaluate(cfg, [RewardCase(interaction("y"))], store)
        calls = [c.model for c in server.calls]
    # a's two samples cached after the first run; b's failures are asked again; "y" is new.
    assert calls.count("judge-a") == 4
    assert calls.count("judge-b") == 6
    assert len(store.kv_items("default", "rim.cache")) == 2  # a about "x", a about "y"


def test_disabled_cache_calls_every_time(store: Store) -> None:
    with FakeLLMServer(scripted({"a": verdict(0.6), "b": verdict(0.6)})) as server:
        cfg = config(server.base_url, cache={"enabled": False})
        evaluate(cfg, [RewardCase(interaction())], store)
        evaluate(cfg, [RewardCase(interaction())], store)
        assert len(server.calls) == 8
    assert store.kv_items("default", "rim.cache") == {}


def test_cache_namespace_tenant_and_memory_bound(store: Store) -> None:
    with FakeLLMServer(scripted({"a": group([0.2, 0.9]), "b": group([0.3, 0.8])})) as server:
        cfg = config(
            server.base_url,
            cache={"namespace": "rim.test", "tenant": "ranker", "max_memory_entries": 1},
        )

        async def rank_twice() -> tuple[list[float], int]:
            async with RimRewardModel(cfg, store=store) as model:
                scores = await model.rank([{"role": "user", "content": "q"}], ["x", "y"])
                await model.rank([{"role": "user", "content": "q"}], ["x", "y"])
                return scores, len(model.cache._memory)

        scores, in_memory = asyncio.run(rank_twice())
        assert len(server.calls) == 4  # the second ranking came from the store
    assert scores == pytest.approx([0.25, 0.85])
    assert in_memory == 1
    assert len(store.kv_items("ranker", "rim.test")) == 2
    assert store.kv_items("default", "rim.cache") == {}


def test_rank_without_any_usable_answer_raises() -> None:
    with FakeLLMServer(scripted({"a": "no", "b": "no"})) as server:
        cfg = config(server.base_url)

        async def run() -> Any:
            async with RimRewardModel(cfg) as model:
                return await model.rank([{"role": "user", "content": "q"}], ["x", "y"])

        with pytest.raises(JudgeUnavailableError, match="no usable ranking"):
            asyncio.run(run())


def test_judges_need_a_config_and_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="no judges"):
        _ = RimRewardModel(RimConfig()).ensemble
    monkeypatch.delenv("ATLAS_LLM_BASE_URL", raising=False)
    judges = [{"name": "a", "model": "m", "principles": ["p"]}]
    with pytest.raises(ConfigError, match=r"endpoint\.base_url"):
        _ = RimRewardModel(load_config({"judges": judges})).ensemble


def test_endpoint_from_environment_and_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, str]] = []

    def answer(call: ChatCall) -> str:
        seen.append(call.headers)
        return verdict(0.5)

    with FakeLLMServer(answer) as server:
        monkeypatch.setenv("ATLAS_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("MY_JUDGE_KEY", "sk-test")
        cfg = load_config(
            {
                "endpoint": {"api_key_env": "MY_JUDGE_KEY"},
                "judges": [{"name": "a", "model": "m", "principles": ["p"], "temperatures": [0]}],
            }
        )
        [e] = evaluate(cfg, [RewardCase(interaction())])
    assert e.reward.components["judge"] == 0.5
    assert seen[0]["authorization"] == "Bearer sk-test"


def test_score_returns_rewards_in_order() -> None:
    targets = [interaction(f"a{i}") for i in range(4)]
    cases = [RewardCase.of(t, [rating(t, 1 + i)]) for i, t in enumerate(targets)]

    async def run() -> list[Reward]:
        return await RimRewardModel().score(cases)

    rewards = asyncio.run(run())
    assert [r.interaction_id for r in rewards] == [t.id for t in targets]
    assert [r.score for r in rewards] == sorted(r.score for r in rewards)
    assert json.dumps(rewards[0].components)  # JSON-serialisable for the store


def test_rank_shows_the_reference_and_returns_one_score_per_response() -> None:
    seen: list[str] = []

    def answer(call: ChatCall) -> str:
        seen.append(call.last_user)
        return group([0.3, 0.7, 0.5])

    with FakeLLMServer(scripted({"a": answer, "b": answer})) as server:
        cfg = config(server.base_url)

        async def run() -> list[float]:
            async with RimRewardModel(cfg) as model:
                prompt = [{"role": "user", "content": "2+2?"}]
                return await model.rank(prompt, ["3", "4", "5"], reference="4")

        scores = asyncio.run(run())
    assert scores == pytest.approx([0.3, 0.7, 0.5])
    assert len(seen) == 4
    assert all("## Reference answer\n4" in text for text in seen)
    with pytest.raises(ValueError, match="at least one response"):
        asyncio.run(RimRewardModel(cfg).rank([{"role": "user", "content": "q"}], []))

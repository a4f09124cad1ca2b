"""The judge ensemble over real HTTP against FakeLLMServer: sampling, escalation, consistency,
failures (malformed JSON, timeouts, 429, 500), concurrency, cost and latency."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from rim_testkit import config, group, scripted, verdict, who

from atlas_core.llm import ChatClient, Endpoint
from atlas_core.testing.openai_server import ChatCall, FakeLLMServer, Reply
from atlas_rim.config import RimConfig
from atlas_rim.judges import JudgeCache, JudgeEnsemble, Judgement, Task, parse_verdict
from atlas_rim.judges.schema import VerdictParseError

ARBITER = {"model": "big-judge", "principles": ["be decisive"]}
TASK = Task(
    prompt=({"role": "user", "content": "What is 2 + 2?"},),
    responses=("4",),
    reference="4",
    notes=("comment: short and right",),
)


def judge(cfg: RimConfig, tasks: list[Task] | None = None) -> list[Judgement]:
    ep = cfg.endpoint

    async def run() -> list[Judgement]:
        endpoint = Endpoint(
            base_url=ep.resolved_base_url(),
            model="unused",
            timeout_s=ep.timeout_s,
            max_retries=ep.max_retries,
            backoff_s=ep.backoff_s,
            max_concurrency=ep.max_concurrency,
        )
        async with ChatClient(endpoint) as client:
            ensemble = JudgeEnsemble(cfg, client, JudgeCache(cfg.cache))
            return await ensemble.judge(tasks or [TASK])

    return asyncio.run(run())


def test_weighted_mean_of_agreeing_judges_without_escalation() -> None:
    answers = {"a": verdict(0.9), "b": verdict(0.7)}
    with FakeLLMServer(scripted(answers)) as server:
        cfg = config(
            server.base_url,
            judges=[
                {"name": "a", "model": "m-a", "principles": ["accurate"], "weight": 3.0},
                {
                    "name": "b",
                    "model": "m-b",
                    "principles": ["kind"],
                    "temperatures": [0.2],
                    "max_tokens": 300,
                },
            ],
            arbiter=ARBITER,
        )
        [j] = judge(cfg)
        calls = server.calls
    assert j.score == pytest.approx((3 * 0.9 + 0.7) / 4)
    assert j.judge_scores == {"a": pytest.approx((0.9,)), "b": pytest.approx((0.7,))}
    assert not j.escalated
    assert j.reasons == ()
    assert j.arbiter is None
    # One call per judge per temperature, each with its model, temperature and principles.
    sent = sorted((c.model, c.temperature, c.max_tokens) for c in calls)
    assert sent == [("m-a", 0.0, 512), ("m-a", 0.7, 512), ("m-b", 0.2, 300)]
    system_a = next(c.system for c in calls if c.model == "m-a")
    assert system_a is not None
    assert "1. accurate" in system_a
    user = calls[0].last_user
    assert "What is 2 + 2?" in user
    assert "## Reference answer\n4" in user
    assert "short and right" in user
    assert j.rationale.startswith("a: fine")


def test_spread_above_threshold_escalates_to_the_arbiter() -> None:
    answers = {
        "a": verdict(0.9, rationale="correct", principles=["accuracy: met"]),
        "b": verdict(0.3, rationale="too terse"),
        "arbiter": verdict(0.8, rationale="terse but right", uncertainty=0.05),
    }
    arbiter = {**ARBITER, "temperature": 0.1, "max_tokens": 2048}
    with FakeLLMServer(scripted(answers)) as server:
        [j] = judge(config(server.base_url, arbiter=arbiter))
        arbiter_calls = [c for c in server.calls if who(c) == "arbiter"]
    assert j.escalated
    assert j.reasons == ("spread",)
    assert j.score == 0.8
    assert j.uncertainty == 0.05
    assert j.rationale == "arbiter: terse but right"
    [call] = arbiter_calls
    assert call.model == "big-judge"
    assert call.temperature == 0.1
    assert call.max_tokens == 2048
    shown = call.last_user + (call.system or "")
    for needle in ("Judge a", "accurate", "helpful", "correct", "too terse", "[0.9]", "[0.3]",
                   "accuracy: met", "be decisive", "spread"):  # fmt: skip
        assert needle in shown, needle


def test_spread_at_or_below_threshold_does_not_escalate() -> None:
    answers = {"a": verdict(0.75), "b": verdict(0.25), "arbiter": verdict(0.0)}
    with FakeLLMServer(scripted(answers)) as server:
        [j] = judge(config(server.base_url, arbiter=ARBITER, escalation={"spread_threshold": 0.5}))
        assert all(who(c) != "arbiter" for c in server.calls)
    assert not j.escalated
    assert j.score == pytest.approx(0.5)


def test_temperature_spread_within_one_judge_counts() -> None:
    answers = {"a@0.0": verdict(0.9), "a@0.7": verdict(0.4), "b": verdict(0.6)}
    with FakeLLMServer(scripted({**answers, "arbiter": verdict(0.5)})) as server:
        [j] = judge(config(server.base_url, arbiter=ARBITER))
    assert j.reasons == ("spread",)
    assert j.score == 0.5
    assert j.judge_scores["a"] == pytest.approx((0.65,))


@pytest.mark.parametrize(
    ("reported", "threshold", "escalates"), [(0.6, 0.5, True), (0.6, 0.7, False)]
)
def test_uncertainty_threshold(reported: float, threshold: float, escalates: bool) -> None:
    answers = {"a": verdict(0.8, uncertainty=reported), "b": verdict(0.8), "arbiter": verdict(0.6)}
    with FakeLLMServer(scripted(answers)) as server:
        cfg = config(
            server.base_url, arbiter=ARBITER, escalation={"uncertainty_threshold": threshold}
        )
        [j] = judge(cfg)
    assert j.escalated is escalates
    assert j.reasons == (("uncertainty",) if escalates else ())
    assert j.score == (0.6 if escalates else pytest.approx(0.8))


@pytest.mark.parametrize("on_failure", [True, False])
def test_unparseable_sample_escalates_only_when_configured(on_failure: bool) -> None:
    answers = {
        "a@0.0": "Sure! The score is 9/10.",
        "a@0.7": verdict(0.8),
        "b": verdict(0.8),
        "arbiter": verdict(0.7),
    }
    with FakeLLMServer(scripted(answers)) as server:
        cfg = config(server.base_url, arbiter=ARBITER, escalation={"on_parse_failure": on_failure})
        [j] = judge(cfg)
    assert j.failures == 1
    failed = next(s for s in j.samples if s.verdict is None)
    assert failed.judge == "a"
    assert "no JSON object" in (failed.error or "")
    if on_failure:
        assert j.reasons == ("no_parse",)
        assert j.score == 0.7
    else:
        assert j.reasons == ()
        assert j.score == pytest.approx(0.8)


@pytest.mark.parametrize(
    "bad",
    [
        json.dumps({"principles": ["x"], "score": 1.5, "rationale": "r", "uncertainty": 0.1}),
        json.dumps({"principles": ["x"], "rationale": "r", "uncertainty": 0.1}),
        '```json\n{"score": 0.5, "rationale": "no principles", "uncertainty": 0}\n```',
    ],
)
def test_schema_violations_are_parse_failures(bad: str) -> None:
    with pytest.raises(VerdictParseError, match="invalid verdict"):
        parse_verdict(bad, 1)


def test_a_fenced_answer_with_prose_parses() -> None:
    text = "Here you go:\n```json\n" + verdict(0.25) + "\n```\nHope that helps."
    assert parse_verdict(text, 1).scores == (0.25,)


def test_transport_failures_timeouts_429_and_500() -> None:
    """Retried failures recover; exhausted ones become failed samples that escalate."""
    attempts: dict[str, int] = {}
    lock = threading.Lock()

    def flaky(status: int) -> Any:
        def answer(call: ChatCall) -> Reply | str:
            key = f"{who(call)}@{call.temperature}"
            with lock:
                attempts[key] = attempts.get(key, 0) + 1
                first = attempts[key] == 1
            if first:
                return Reply(status=status, headers={"Retry-After": "0"})
            return verdict(0.8)

        return answer

    answers = {
        "a@0.0": flaky(429),  # retried, then answers
        "a@0.7": flaky(500),  # retried, then answers
        "b@0.0": Reply(content=verdict(0.8), delay_s=2.0),  # slower than timeout: every attempt
        "b@0.7": Reply(raw_body="{not json"),  # a 200 that is not a chat completion
        "arbiter": verdict(0.75),
    }
    with FakeLLMServer(scripted(answers)) as server:
        cfg = config(
            server.base_url,
            arbiter=ARBITER,
            endpoint={"timeout_s": 0.3, "max_retries": 1},
        )
        [j] = judge(cfg)
    by_key = {f"{s.judge}@{s.temperature}": s for s in j.samples}
    assert by_key["a@0.0"].verdict is not None
    assert by_key["a@0.7"].verdict is not None
    assert attempts["a@0.0"] == 2
    assert attempts["a@0.7"] == 2
    assert "timed out" in (by_key["b@0.0"].error or "").lower() or "no answer" in (
        by_key["b@0.0"].error or ""
    )
    assert by_key["b@0.7"].verdict is None
    assert by_key["b@0.7"].error
    assert j.reasons == ("no_parse",)
    assert j.escalated
    assert j.score == 0.75
    assert j.judge_scores == {"a": pytest.approx((0.8,))}


def test_arbiter_failure_keeps_the_ensemble_score() -> None:
    answers = {"a": verdict(0.9), "b": verdict(0.2), "arbiter": "I refuse to answer in JSON."}
    with FakeLLMServer(scripted(answers)) as server:
        [j] = judge(config(server.base_url, arbiter=ARBITER))
    assert j.escalated
    assert j.reasons == ("spread", "arbiter_failed")
    assert j.score == pytest.approx(0.55)
    assert j.arbiter is not None
    assert j.arbiter.verdict is None


def test_no_arbiter_records_the_reasons_without_escalating() -> None:
    answers = {"a": verdict(0.9), "b": verdict(0.2)}
    with FakeLLMServer(scripted(answers)) as server:
        [j] = judge(config(server.base_url))
        assert len(server.calls) == 4
    assert not j.escalated
    assert j.reasons == ("spread",)
    assert j.score == pytest.approx(0.55)


def test_nothing_parsed_and_no_arbiter_gives_no_score() -> None:
    with FakeLLMServer(scripted({"a": "nope", "b": "nope"})) as server:
        [j] = judge(config(server.base_url))
    assert j.scores is None
    assert j.uncertainty is None
    assert j.rationale == "no judge gave a usable answer"


# -- consistency rules ------------------------------------------------------------------------
def loose(**extra: Any) -> dict[str, Any]:
    """Escalation thresholds no sample here reaches, so only consistency rules can fire."""
    return {"spread_threshold": 1.0, "uncertainty_threshold": 1.0, **extra}


@pytest.mark.parametrize(("action", "escalates"), [("escalate", True), ("flag", False)])
def test_max_gap_rule(action: str, escalates: bool) -> None:
    answers = {"a": verdict(0.9), "b": verdict(0.5), "arbiter": verdict(0.6)}
    rule = {"name": "agree", "kind": "max_gap", "judges": ["a", "b"], "threshold": 0.3,
            "action": action}  # fmt: skip
    with FakeLLMServer(scripted(answers)) as server:
        [j] = judge(
            config(server.base_url, arbiter=ARBITER, escalation=loose(), consistency=[rule])
        )
    assert j.flags == ("agree",)
    assert j.escalated is escalates
    assert j.reasons == (("consistency:agree",) if escalates else ())
    assert j.score == (0.6 if escalates else pytest.approx(0.7))


def test_max_gap_rule_within_bounds_is_silent() -> None:
    answers = {"a": verdict(0.9), "b": verdict(0.7)}
    rule = {"name": "agree", "kind": "max_gap", "judges": ["a", "b"], "threshold": 0.3}
    with FakeLLMServer(scripted(answers)) as server:
        [j] = judge(config(server.base_url, escalation=loose(), consistency=[rule]))
    assert j.flags == ()
    assert j.reasons == ()


def test_not_above_rule_is_directional() -> None:
    rule = {"name": "strict-below-lenient", "kind": "not_above", "judges": ["a", "b"],
            "threshold": 0.1}  # fmt: skip
    with FakeLLMServer(scripted({"a": verdict(0.9), "b": verdict(0.5)})) as server:
        [violated] = judge(config(server.base_url, escalation=loose(), consistency=[rule]))
    with FakeLLMServer(scripted({"a": verdict(0.5), "b": verdict(0.9)})) as server:
        [fine] = judge(config(server.base_url, escalation=loose(), consistency=[rule]))
    assert violated.reasons == ("consistency:strict-below-lenient",)
    assert fine.reasons == ()
    assert fine.flags == ()


def test_veto_caps_the_final_score_even_after_the_arbiter() -> None:
    rule = {"name": "safety", "kind": "veto", "judges": ["b"], "threshold": 0.5, "cap": 0.2}
    answers = {"a": verdict(0.95), "b": verdict(0.1), "arbiter": verdict(0.9)}
    with FakeLLMServer(scripted(answers)) as server:
        [j] = judge(config(server.base_url, arbiter=ARBITER, consistency=[rule]))
    assert j.escalated
    assert j.score == 0.2
    assert "veto:safety" in j.flags
    with FakeLLMServer(scripted({"a": verdict(0.9), "b": verdict(0.8)})) as server:
        [ok] = judge(config(server.base_url, consistency=[rule]))
    assert ok.score == pytest.approx(0.85)
    assert ok.flags == ()


# -- group ranking, concurrency, accounting ---------------------------------------------------
def test_group_ranking_in_one_call_per_sample() -> None:
    responses = ("bad", "best", "good")

    def rank(call: ChatCall) -> str:
        assert all(f"## Response {i}" in call.last_user for i in (1, 2, 3))
        return group([0.1, 0.9, 0.6])

    with FakeLLMServer(scripted({"a": rank, "b": rank})) as server:
        [j] = judge(config(server.base_url), [Task(TASK.prompt, responses)])
        assert len(server.calls) == 4  # 2 judges x 2 temperatures, all 3 responses per call
        assert "scores" in (server.calls[0].system or "")
    assert j.scores == pytest.approx((0.1, 0.9, 0.6))


def test_group_answer_with_wrong_length_fails_to_parse() -> None:
    with pytest.raises(VerdictParseError, match="2 scores for 3 responses"):
        parse_verdict(group([0.1, 0.2]), 3)


def test_concurrency_is_bounded_by_the_endpoint() -> None:
    in_flight, peak = 0, 0

    async def slow(call: ChatCall) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        return verdict(0.5)

    with FakeLLMServer(slow) as server:
        cfg = config(server.base_url, endpoint={"max_concurrency": 3})
        tasks = [Task(TASK.prompt, (f"answer {i}",)) for i in range(6)]
        judgements = judge(cfg, tasks)
    assert len(judgements) == 6
    assert peak == 3


def test_tokens_and_latency_are_accounted_per_task() -> None:
    answers = {
        "a": Reply(content=verdict(0.8), prompt_tokens=100, completion_tokens=20, delay_s=0.05),
        "b": Reply(content=verdict(0.8), prompt_tokens=50, completion_tokens=10),
    }
    with FakeLLMServer(scripted(answers)) as server:
        [j] = judge(config(server.base_url))
    assert j.prompt_tokens == 2 * 100 + 2 * 50
    assert j.completion_tokens == 2 * 20 + 2 * 10
    assert j.latency_s >= 0.05
    assert j.cache_hits == 0


@pytest.mark.parametrize("json_mode", [True, False])
def test_json_mode_asks_for_a_json_object(json_mode: bool) -> None:
    with FakeLLMServer(scripted({"a": verdict(0.5), "b": verdict(0.5)})) as server:
        judge(config(server.base_url, endpoint={"json_mode": json_mode}))
        formats = [c.body.get("response_format") for c in server.calls]
    assert formats == [{"type": "json_object"} if json_mode else None] * 4

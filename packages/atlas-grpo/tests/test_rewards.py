"""Verifiable rewards and the group-ranking reward over any RewardModel-shaped object."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from atlas_core.errors import ConfigError
from atlas_grpo.config import RimRewardSpec, VerifiableRewardSpec
from atlas_grpo.rewards import (
    GroupRanker,
    GroupRankingReward,
    RewardModelError,
    VerifiableReward,
    build_reward_funcs,
    consecutive_groups,
    match_score,
)


class LengthRanker:
    """A deterministic reward model: answers closer to the reference's length score higher.

    It satisfies the RewardModel protocol's ranking half, records every call, and can be
    told to misbehave (wrong count, out-of-range score).
    """

    name = "length-ranker"

    def __init__(self, *, broken: str | None = None) -> None:
        self.calls: list[tuple[list[dict[str, Any]], list[str], str | None]] = []
        self.broken = broken

    async def rank(
        self,
        prompt_messages: list[dict[str, Any]],
        responses: list[str],
        *,
        reference: str | None = None,
    ) -> list[float]:
        self.calls.append((prompt_messages, responses, reference))
        await asyncio.sleep(0)
        target = len(reference or "")
        scores = [1.0 / (1.0 + abs(len(r) - target)) for r in responses]
        if self.broken == "count":
            return scores[:-1]
        if self.broken == "range":
            return [s + 1.5 for s in scores]
        return scores


@pytest.mark.parametrize(
    ("answer", "reference", "mode", "expected"),
    [
        ("bcd", "bcd", "exact", 1.0),
        ("bcd ", "bcd", "exact", 0.0),
        (" BCD\n", "bcd", "normalized", 1.0),
        ("bce", "bcd", "normalized", 0.0),
        ("the answer is bcd.", "BCD", "contains", 1.0),
        ("bce", "bcd", "char_overlap", 2 / 3),
        ("bcdxx", "bcd", "char_overlap", 3 / 5),
        ("", "", "char_overlap", 1.0),
    ],
)
def test_match_score(answer: str, reference: str, mode: Any, expected: float) -> None:
    assert match_score(answer, reference, mode) == pytest.approx(expected)


def test_verifiable_reward_reads_reference_column_and_skips_rows_without_one() -> None:
    reward = VerifiableReward("exact")
    out = reward(
        prompts=["ab>", "ab>", "cd>"],
        completions=["bc", [{"role": "assistant", "content": "xx"}], "de"],
        reference=["bc", "bc", None],
    )
    assert out == [1.0, 0.0, None]
    with pytest.raises(ValueError, match="reference"):
        reward(prompts=["ab>"], completions=["bc"])


def test_consecutive_groups_follow_trl_layout() -> None:
    assert consecutive_groups(["a", "a", "b", "b", "b", "a"]) == [
        range(0, 2),
        range(2, 5),
        range(5, 6),
    ]
    assert consecutive_groups([]) == []


def test_group_ranking_makes_one_rank_call_per_group_in_order() -> None:
    ranker = LengthRanker()
    assert isinstance(ranker, GroupRanker)
    reward = GroupRankingReward(ranker, max_concurrency=2)
    assert reward.__name__ == "rank_length-ranker"
    prompts = ["p1"] * 3 + [[{"role": "user", "content": "p2"}]] * 3
    completions = ["abc", "a", "abcdef", "xy", "x", "xyz"]
    refs = ["abc"] * 3 + ["xy"] * 3
    scores = asyncio.run(reward(prompts=prompts, completions=completions, reference=refs))
    assert scores == pytest.approx([1.0, 1 / 3, 1 / 4, 1.0, 1 / 2, 1 / 2])
    assert len(ranker.calls) == 2 == reward.calls
    messages, responses, ref = ranker.calls[0]
    assert messages == [{"role": "user", "content": "p1"}]
    assert responses == ["abc", "a", "abcdef"]
    assert ref == "abc"
    assert ranker.calls[1][0] == [{"role": "user", "content": "p2"}]


@pytest.mark.parametrize(
    ("broken", "message"), [("count", "returned 2 scores"), ("range", "outside")]
)
def test_group_ranking_refuses_a_malformed_answer(broken: str, message: str) -> None:
    reward = GroupRankingReward(LengthRanker(broken=broken))
    with pytest.raises(RewardModelError, match=message):
        asyncio.run(reward(prompts=["p"] * 3, completions=["a", "b", "c"], reference=["a"] * 3))


def test_build_reward_funcs_uses_the_registry_and_names_uniquely() -> None:
    made: list[dict[str, Any]] = []

    def factory(**options: Any) -> LengthRanker:
        made.append(options)
        return LengthRanker()

    funcs = build_reward_funcs(
        [
            VerifiableRewardSpec(match="exact"),
            VerifiableRewardSpec(match="contains"),
            RimRewardSpec(model="rim", options={"judges": 2}),
        ],
        reward_model_factories={"rim": factory},
    )
    assert [f.__name__ for f in funcs] == ["verifiable", "verifiable_2", "rank_length-ranker"]
    assert made == [{"judges": 2}]
    with pytest.raises(ConfigError, match="no reward model 'rim'; installed: none"):
        build_reward_funcs([RimRewardSpec()], reward_model_factories={})
    with pytest.raises(ConfigError, match="has no async rank"):
        build_reward_funcs([RimRewardSpec()], reward_model_factories={"rim": lambda: object()})
    with pytest.raises(ConfigError, match="at least one"):
        build_reward_funcs([])

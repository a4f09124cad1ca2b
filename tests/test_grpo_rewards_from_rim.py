"""GRPO's group-ranking reward over the real RIM, found through the plugin registry.

atlas-grpo never imports atlas-rim: it asks core for the installed reward model by name.
This checks the two packages meet through that protocol, with RIM's judges answering
over real HTTP from the fixture server.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from atlas_core.rewards import RewardModel, load_reward_model
from atlas_core.testing.openai_server import ChatCall, FakeLLMServer
from atlas_grpo.rewards.ranking import GroupRankingReward

BLOCK = re.compile(r"## Response (\d+)\n(.*?)(?=\n## |\Z)", re.DOTALL)


def judge_by_reference(call: ChatCall) -> str:
    """A judge that scores each response 1 when it contains the reference answer, else 0."""
    text = call.last_user
    reference = text.split("## Reference answer\n", 1)[1].split("\n", 1)[0]
    scores = [1.0 if reference in body else 0.0 for _, body in BLOCK.findall(text)]
    return json.dumps(
        {"principles": ["matches"], "scores": scores, "rationale": "by reference", "uncertainty": 0}
    )


def test_group_ranking_reward_scores_each_group_through_rim() -> None:
    with FakeLLMServer(judge_by_reference) as server:
        config = {
            "endpoint": {"base_url": server.base_url, "backoff_s": 0.0, "timeout_s": 5.0},
            "judges": [{"name": "exact", "model": "judge-a", "principles": ["matches"]}],
        }
        rim = load_reward_model("rim", config=config)
        assert isinstance(rim, RewardModel)
        reward = GroupRankingReward(rim)
        prompts = ["2+2?"] * 3 + ["3*3?"] * 3
        completions = ["4", "5", "it is 4", "6", "9", "nine"]
        references = ["4"] * 3 + ["9"] * 3
        scores = asyncio.run(reward(prompts, completions, reference=references))
        assert reward.calls == 2  # one rank() per GRPO group
        assert len({c.last_user for c in server.calls}) == 2  # each group judged in one call
    assert scores == pytest.approx([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])

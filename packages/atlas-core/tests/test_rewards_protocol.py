"""The reward-model protocol: RewardCase checks its feedback, models are found by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atlas_core import plugins, rewards
from atlas_core.errors import InvalidArgumentError, PluginError
from atlas_core.rewards import RewardCase, RewardModel, load_reward_model
from atlas_core.types import Feedback, FeedbackKind, Interaction, Reward


def interaction(tenant: str = "default") -> Interaction:
    return Interaction(tenant_id=tenant, input=[{"role": "user", "content": "2+2?"}], output="4")


def label(target: Interaction, text: str, at: datetime) -> Feedback:
    return Feedback(
        tenant_id=target.tenant_id,
        interaction_id=target.id,
        kind=FeedbackKind.LABEL,
        text=text,
        created_at=at,
    )


class LengthModel:
    """A tiny real implementation: longer outputs score higher."""

    name = "length@1"

    async def score(self, cases: Sequence[RewardCase]) -> list[Reward]:
        return [
            Reward(
                tenant_id=c.interaction.tenant_id,
                interaction_id=c.interaction.id,
                score=min(len(c.interaction.output) / 10, 1.0),
                reward_model=self.name,
            )
            for c in cases
        ]

    async def rank(
        self,
        prompt: Sequence[Mapping[str, Any]],
        responses: Sequence[str],
        *,
        reference: str | None = None,
    ) -> list[float]:
        return [min(len(r) / 10, 1.0) for r in responses]


def test_case_refuses_feedback_about_another_interaction() -> None:
    mine, other = interaction(), interaction()
    with pytest.raises(InvalidArgumentError, match=r"feedback\[0\].*not " + str(mine.id)):
        RewardCase(mine, (label(other, "4", datetime.now(UTC)),))


def test_case_refuses_feedback_of_another_tenant() -> None:
    mine = interaction("a")
    foreign = Feedback(tenant_id="b", interaction_id=mine.id, kind=FeedbackKind.LABEL, text="4")
    with pytest.raises(InvalidArgumentError, match="tenant 'b'"):
        RewardCase(mine, (foreign,))


def test_of_takes_the_latest_label_as_reference() -> None:
    target = interaction()
    now = datetime.now(UTC)
    older, newer = label(target, "four", now - timedelta(hours=1)), label(target, "4", now)
    assert RewardCase.of(target, [newer, older]).reference == "4"
    assert RewardCase.of(target, []).reference is None


def test_an_implementation_satisfies_the_protocol() -> None:
    assert isinstance(LengthModel(), RewardModel)
    assert not isinstance(object(), RewardModel)


def test_load_reward_model_builds_the_registered_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "reward_models", lambda: {"length": LengthModel, "bad": dict})
    assert isinstance(load_reward_model("length"), LengthModel)
    with pytest.raises(InvalidArgumentError, match=r"'nope' is not installed; installed: bad"):
        load_reward_model("nope")
    with pytest.raises(PluginError, match="returned dict"):
        load_reward_model("bad")


def test_rim_is_installed_as_a_reward_model() -> None:
    assert "rim" in rewards.plugins.reward_models()

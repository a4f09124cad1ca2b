"""Reward functions for TRL: verifiable, reward-model group ranking, adaptive teaching."""

from atlas_grpo.rewards.factory import build_reward_funcs, reward_model
from atlas_grpo.rewards.ranking import (
    GroupRanker,
    GroupRankingReward,
    RewardModelError,
    consecutive_groups,
)
from atlas_grpo.rewards.scorers import reference_scorer, reward_model_scorer, run_sync
from atlas_grpo.rewards.teaching import AdaptiveTeachingReward, Scorer, Student, TeachingOutcome
from atlas_grpo.rewards.text import as_messages, as_text
from atlas_grpo.rewards.verifiable import MatchMode, VerifiableReward, match_score

__all__ = [
    "AdaptiveTeachingReward",
    "GroupRanker",
    "GroupRankingReward",
    "MatchMode",
    "RewardModelError",
    "Scorer",
    "Student",
    "TeachingOutcome",
    "VerifiableReward",
    "as_messages",
    "as_text",
    "build_reward_funcs",
    "consecutive_groups",
    "match_score",
    "reference_scorer",
    "reward_model",
    "reward_model_scorer",
    "run_sync",
]

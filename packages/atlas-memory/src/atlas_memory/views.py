"""Training views over a store: what the learners consume.

- :func:`reward_rows`: (prompt, response, reward) for every interaction with a reward.
- :func:`preference_pairs`: (prompt, chosen, rejected) from users' edits (the edit is
  preferred to the answer it corrects) and from ratings (for the same prompt, the
  best-rated answer is preferred to each answer rated strictly lower).
- :func:`latest_rewards`: the most recent reward of each interaction.

``prompt`` is the interaction's input messages as JSON text.
"""

from __future__ import annotations

import polars as pl

from atlas_core.store import Query, Store
from atlas_core.types import FeedbackKind
from atlas_memory import query as q


def latest_rewards(store: Store, tenant: str, query: Query | None = None) -> pl.DataFrame:
    """Columns interaction_id, reward, reward_id, reward_at: one row per rewarded interaction."""
    latest = q.latest_rewards(store.rewards(tenant, query))
    return latest.sort("key").drop("key").collect()


def reward_rows(store: Store, tenant: str, query: Query | None = None) -> pl.DataFrame:
    """Columns interaction_id, learning_key, prompt, response, reward, created_at."""
    frame = store.interactions_with_rewards(tenant, query)
    return frame.filter(pl.col("reward").is_not_null()).select(
        pl.col("id").alias("interaction_id"),
        "learning_key",
        pl.col("input").alias("prompt"),
        pl.col("output").alias("response"),
        "reward",
        "created_at",
    )


_PAIR_COLUMNS = ("interaction_id", "learning_key", "prompt", "chosen", "rejected", "source")


def preference_pairs(store: Store, tenant: str, query: Query | None = None) -> pl.DataFrame:
    """Columns: interaction_id (rejected one), learning_key, prompt, chosen, rejected, source."""
    base = query or Query()
    inter = (
        store.interactions(tenant, base)
        .lazy()
        .select(
            pl.col("id").alias("interaction_id"),
            "learning_key",
            pl.col("input").alias("prompt"),
            pl.col("output"),
        )
    )
    fb_query = Query(
        learning_key=base.learning_key,
        model_version=base.model_version,
        prompt_version=base.prompt_version,
        user_id=base.user_id,
        session_id=base.session_id,
        feedback_kind=[FeedbackKind.EDIT, FeedbackKind.RATING],
    )
    feedback = store.feedback(tenant, fb_query).lazy()

    # The latest edit of each interaction: the user's text beats the model's answer.
    edits = (
        feedback.filter(pl.col("kind") == FeedbackKind.EDIT.value)
        .sort("created_at", "id")
        .group_by("interaction_id")
        .agg(pl.col("text").last().alias("chosen"))
        .join(inter, on="interaction_id")
        .filter(pl.col("chosen") != pl.col("output"))
        .select(
            "interaction_id",
            "learning_key",
            "prompt",
            "chosen",
            pl.col("output").alias("rejected"),
            pl.lit("edit").alias("source"),
        )
    )

    # Ratings normalised to [0, 1] on their own scale, averaged per interaction.
    rated = (
        feedback.filter(pl.col("kind") == FeedbackKind.RATING.value)
        .with_columns(
            (
                (pl.col("value") - pl.col("scale_min"))
                / (pl.col("scale_max") - pl.col("scale_min"))
            ).alias("score")
        )
        .group_by("interaction_id")
        .agg(pl.col("score").mean())
        .join(inter, on="interaction_id")
    )
    best = (
        rated.sort("score", "interaction_id", descending=[True, False])
        .group_by("learning_key", "prompt")
        .agg(pl.col("output").first().alias("chosen"), pl.col("score").first().alias("best"))
    )
    rating_pairs = (
        rated.join(best, on=["learning_key", "prompt"])
        .filter((pl.col("score") < pl.col("best")) & (pl.col("output") != pl.col("chosen")))
        .select(
            "interaction_id",
            "learning_key",
            "prompt",
            "chosen",
            pl.col("output").alias("rejected"),
            pl.lit("rating").alias("source"),
        )
    )
    return pl.concat([edits, rating_pairs]).sort("source", "interaction_id").collect()

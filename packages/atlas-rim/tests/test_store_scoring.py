"""RIM scores a tenant's interactions from a real SQLite store and writes the rewards back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from rim_testkit import T0, config, interaction, rating, scripted, signal, text_feedback, verdict

from atlas_core.store import Store
from atlas_core.testing.openai_server import FakeLLMServer
from atlas_core.types import FeedbackKind, Interaction
from atlas_rim.config import RimConfig, load_config
from atlas_rim.model import RimRewardModel
from atlas_rim.store_scoring import (
    StoreScoring,
    feedback_from_frame,
    interactions_from_frame,
    score_store,
)


def run(store: Store, model: RimRewardModel, **kw: object) -> StoreScoring:
    return asyncio.run(score_store(store, "acme", model, **kw))  # type: ignore[arg-type]


def seed(store: Store) -> dict[str, Interaction]:
    """Three support interactions (good, bad, silent), one billing one, one of another tenant."""
    made = {
        "good": interaction("Reset it under Settings.", tenant_id="acme", learning_key="support"),
        "bad": interaction(
            "I cannot help.",
            tenant_id="acme",
            learning_key="support",
            created_at=T0 + timedelta(hours=1),
        ),
        "silent": interaction(
            "Maybe.", tenant_id="acme", learning_key="support", created_at=T0 + timedelta(hours=2)
        ),
        "billing": interaction("Refunded.", tenant_id="acme", learning_key="billing"),
        "other": interaction("Hi.", tenant_id="globex", learning_key="support"),
    }
    store.write_interactions(list(made.values()))
    g, b, o = made["good"], made["bad"], made["other"]
    store.write_feedback(
        [
            rating(g, 5),
            signal(g, "copy"),
            text_feedback(g, FeedbackKind.COMMENT, "thanks"),
            rating(b, 1),
            signal(b, "retry", created_at=T0 + timedelta(days=3)),  # after the window
            rating(made["billing"], 4),
            rating(o, 1),
        ]
    )
    return made


def test_scores_the_window_and_writes_rewards(store: Store) -> None:
    made = seed(store)
    model = RimRewardModel(load_config({"quality_threshold": 0.5}))
    result = run(store, model, learning_key="support", until=T0 + timedelta(hours=1, minutes=30))
    assert (result.selected, result.skipped, result.written) == (2, 0, 2)
    assert result.trainable == 1
    assert result.escalated == 0
    rewards = store.rewards("acme")
    assert rewards.height == 2
    by_id = {r["interaction_id"]: r for r in rewards.iter_rows(named=True)}
    good, bad = by_id[made["good"].id.bytes], by_id[made["bad"].id.bytes]
    assert good["score"] > 0.7 > 0.3 > bad["score"]
    assert good["reward_model"] == model.name
    assert '"feedback.signal.copy"' in good["components"]
    # The retry after the window still counts: feedback is read by interaction, not by time.
    assert '"feedback.signal.retry"' in bad["components"]
    assert store.rewards("globex").height == 0
    [row] = result.per_key.iter_rows(named=True)
    assert row["learning_key"] == "support"
    assert row["count"] == 2
    assert row["mean"] == pytest.approx((good["score"] + bad["score"]) / 2)


def test_scoring_is_incremental(store: Store) -> None:
    made = seed(store)
    model = RimRewardModel(RimConfig())
    first = run(store, model, batch_size=2)
    # good, bad and billing have feedback; silent has none and gets no reward yet.
    assert (first.selected, first.written, first.no_evidence) == (4, 3, 1)
    again = run(store, model)
    assert (again.selected, again.skipped, again.written, again.no_evidence) == (4, 3, 0, 1)
    # Feedback after the last scoring makes an interaction due again; so does a first one.
    later = datetime.now(UTC) + timedelta(seconds=5)
    store.write_feedback(
        [
            signal(made["good"], "share", created_at=later),
            rating(made["silent"], 2, created_at=later),
        ]
    )
    third = run(store, model)
    assert (third.skipped, third.written, third.no_evidence) == (2, 2, 0)
    rewards = store.rewards("acme").filter(pl.col("interaction_id") == made["good"].id.bytes)
    assert rewards.height == 2
    assert '"feedback.signal.share"' in rewards.sort("created_at")["components"][-1]
    assert run(store, model, rescore=True).written == 4
    other_model = RimRewardModel(load_config({"signals": {"prior": 0.2}}))
    assert run(store, other_model).written == 4  # another config is another reward model
    assert store.rewards("acme").height == 13


def test_window_since_and_learning_keys(store: Store) -> None:
    seed(store)
    model = RimRewardModel(RimConfig())
    result = run(store, model, since=T0 + timedelta(minutes=30))
    assert result.selected == 2  # bad and silent
    per_key = run(store, model, rescore=True, learning_key="billing").per_key
    assert per_key["learning_key"].to_list() == ["billing"]


def test_judges_score_stored_interactions_over_http(store: Store) -> None:
    made = seed(store)
    answers = {"a": verdict(0.9), "b": verdict(0.1), "arbiter": verdict(0.6)}
    with FakeLLMServer(scripted(answers)) as server:
        cfg = config(server.base_url, arbiter={"model": "big"})

        async def score() -> StoreScoring:
            async with RimRewardModel(cfg, store=store) as model:
                return await score_store(store, "acme", model, learning_key="billing")

        result = asyncio.run(score())
        assert len(server.calls) == 5
    assert result.escalated == 1
    [reward] = store.rewards("acme").iter_rows(named=True)
    assert reward["interaction_id"] == made["billing"].id.bytes
    assert reward["escalated"]
    assert len(store.kv_items("acme", "rim.cache")) == 3  # judges a and b, the arbiter


def test_frames_round_trip_to_objects(store: Store) -> None:
    made = seed(store)
    [back] = interactions_from_frame(store.interactions("globex"))
    assert back == made["other"]
    [feedback] = feedback_from_frame(store.feedback("globex"))
    assert feedback.interaction_id == made["other"].id
    assert feedback.value == 1


def test_batch_size_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        run(store, RimRewardModel(), batch_size=0)

"""Training rows from the Store: references, SFT examples, filters, the split."""

from __future__ import annotations

from datetime import timedelta

import pytest
from grpo_testdata import T0, seed_task

from atlas_core.errors import InvalidArgumentError
from atlas_core.store import Store
from atlas_core.types import Feedback, FeedbackKind, Reward
from atlas_grpo.config import DataConfig
from atlas_grpo.data import grpo_rows, render_text_prompt, sft_rows, split_rows


def edit(interaction_id: object, text: str) -> Feedback:
    return Feedback(interaction_id=interaction_id, kind=FeedbackKind.EDIT, text=text)  # type: ignore[arg-type]


def test_grpo_rows_take_the_label_then_the_edit_as_reference(store: Store) -> None:
    labelled = seed_task(store, ["ab>"], start=T0)
    edited = seed_task(store, ["cd>"], label=False, start=T0 + timedelta(minutes=1))
    bare = seed_task(store, ["ef>"], label=False, start=T0 + timedelta(minutes=2))
    store.write_feedback([edit(labelled[0].id, "zz"), edit(edited[0].id, "de")])

    rows = grpo_rows(store, DataConfig(), chat=False)
    assert [(r["prompt"], r["reference"]) for r in rows] == [
        ("ab>", "bc"),
        ("cd>", "de"),
        ("ef>", None),
    ]
    assert rows[0]["interaction_id"] == labelled[0].id.hex
    assert rows[0]["learning_key"] == "shift"
    only_labels = grpo_rows(store, DataConfig(reference_from=["label"]), chat=False)
    assert [r["reference"] for r in only_labels] == ["bc", None, None]
    required = grpo_rows(store, DataConfig(require_reference=True), chat=False)
    assert [r["prompt"] for r in required] == ["ab>", "cd>"]
    chat = grpo_rows(store, DataConfig(), chat=True)
    assert chat[2]["prompt"] == [{"role": "user", "content": "ef>"}]
    assert bare[0].id.hex == chat[2]["interaction_id"]


def test_filters_by_key_time_review_and_count(store: Store) -> None:
    seed_task(store, ["aa>", "bb>"], key="shift", start=T0, metadata={"review_status": "approved"})
    seed_task(store, ["cc>"], key="other", start=T0 + timedelta(hours=1))
    seed_task(store, ["dd>"], key="shift", start=T0 + timedelta(hours=2))
    prompts = lambda cfg: [r["prompt"] for r in grpo_rows(store, cfg, chat=False)]  # noqa: E731
    assert prompts(DataConfig(learning_keys=["shift"])) == ["aa>", "bb>", "dd>"]
    assert prompts(DataConfig(since=T0 + timedelta(minutes=30))) == ["cc>", "dd>"]
    assert prompts(DataConfig(until=T0 + timedelta(minutes=30))) == ["aa>", "bb>"]
    assert prompts(DataConfig(review_status=["approved"])) == ["aa>", "bb>"]
    assert prompts(DataConfig(review_status=["rejected"])) == []
    assert prompts(DataConfig(max_samples=2)) == ["cc>", "dd>"]  # the newest are kept
    assert prompts(DataConfig(tenant="someone-else")) == []


def test_sft_rows_from_good_rewards_and_edits(store: Store) -> None:
    good = seed_task(store, ["ab>"], outputs=["bc"], reward=0.9, label=False, start=T0)
    poor = seed_task(
        store, ["cd>"], outputs=["xx"], reward=0.1, label=False, start=T0 + timedelta(seconds=5)
    )
    seed_task(store, ["ef>"], outputs=["fg"], label=False, start=T0 + timedelta(seconds=9))
    store.write_feedback([edit(poor[0].id, "de")])

    rows = sft_rows(store, DataConfig(min_reward=0.7), chat=False)
    assert [(r["prompt"], r["completion"], r["source"]) for r in rows] == [
        ("ab>", "bc", "reward"),
        ("cd>", "de", "edit"),
    ]
    # An edit replaces the answer even of a well-rewarded interaction.
    store.write_feedback([edit(good[0].id, "BC")])
    assert sft_rows(store, DataConfig(), chat=False)[0]["completion"] == "BC"
    no_edits = sft_rows(store, DataConfig(include_edits=False), chat=False)
    assert [r["completion"] for r in no_edits] == ["bc"]
    higher = sft_rows(store, DataConfig(min_reward=0.95, include_edits=False), chat=False)
    assert higher == []
    chat = sft_rows(store, DataConfig(), chat=True)
    assert chat[1]["completion"] == [{"role": "assistant", "content": "de"}]
    assert chat[1]["prompt"] == [{"role": "user", "content": "cd>"}]
    store.write_rewards([Reward(interaction_id=poor[0].id, score=0.95)])
    assert len(sft_rows(store, DataConfig(include_edits=False), chat=False)) == 2


def test_split_is_seeded_disjoint_and_refuses_nothing_to_train_on() -> None:
    rows = [{"prompt": str(i)} for i in range(20)]
    split = split_rows(rows, DataConfig(held_out_fraction=0.25, seed=3), what="GRPO")
    assert len(split.held_out) == 5
    assert len(split.train) == 15
    assert {r["prompt"] for r in split.train}.isdisjoint(r["prompt"] for r in split.held_out)
    again = split_rows(rows, DataConfig(held_out_fraction=0.25, seed=3), what="GRPO")
    assert again == split
    with pytest.raises(InvalidArgumentError, match=r"no SFT rows for tenant 'default'.*min_reward"):
        split_rows([], DataConfig(), what="SFT")


def test_text_prompt_rendering() -> None:
    assert render_text_prompt([{"role": "user", "content": "ab>"}]) == "ab>"
    assert (
        render_text_prompt(
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": "q"}]
        )
        == "be brief\nq"
    )

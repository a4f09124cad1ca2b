"""Training views and export (both back-ends for the views; export is back-end free)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from memory_testdata import interaction, rating, reward

from atlas_core.store import Query, Store
from atlas_core.types import Feedback, FeedbackKind
from atlas_memory.export import ids_to_strings, to_hf_dataset, to_jsonl, to_parquet
from atlas_memory.views import latest_rewards, preference_pairs, reward_rows

PROMPT = [{"role": "user", "content": "capital of France?"}]


def test_reward_rows_and_latest_rewards(store: Store) -> None:
    a, b, c = (interaction(minutes=i) for i in range(3))
    store.write_interactions([a, b, c])
    store.write_rewards([reward(a, 0.2), reward(a, 0.9, minutes=5), reward(b, 0.4)])
    rows = reward_rows(store, "acme")
    assert rows.columns == [
        "interaction_id",
        "learning_key",
        "prompt",
        "response",
        "reward",
        "created_at",
    ]
    assert dict(zip(rows["response"], rows["reward"], strict=True)) == {
        "answer 0": 0.9,
        "answer 1": 0.4,
    }
    assert json.loads(rows["prompt"][0]) == [{"role": "user", "content": "question 0"}]
    latest = latest_rewards(store, "acme")
    assert dict(zip(latest["interaction_id"], latest["reward"], strict=True)) == {
        a.id.bytes: 0.9,
        b.id.bytes: 0.4,
    }


def test_preference_pairs_from_edits_and_ratings(store: Store) -> None:
    good = interaction(minutes=0, input=PROMPT, output="Paris.")
    ok = interaction(minutes=1, input=PROMPT, output="It is Paris, I think.")
    bad = interaction(minutes=2, input=PROMPT, output="Lyon.")
    edited = interaction(minutes=3, output="teh answer", learning_key="spelling")
    other = interaction(minutes=4, tenant="globex", input=PROMPT, output="Marseille.")
    store.write_interactions([good, ok, bad, edited, other])
    store.write_feedback(
        [
            rating(good, 5),
            rating(ok, 3),
            rating(bad, 1),
            rating(bad, 2),
            rating(other, 1),
            Feedback(
                tenant_id="acme",
                interaction_id=edited.id,
                kind=FeedbackKind.EDIT,
                text="the answer",
                created_at=edited.created_at,
            ),
        ]
    )
    pairs = preference_pairs(store, "acme")
    got = {(r["source"], r["chosen"], r["rejected"]) for r in pairs.iter_rows(named=True)}
    assert got == {
        ("edit", "the answer", "teh answer"),
        ("rating", "Paris.", "It is Paris, I think."),
        ("rating", "Paris.", "Lyon."),
    }
    assert set(pairs["interaction_id"]) == {edited.id.bytes, ok.id.bytes, bad.id.bytes}
    only = preference_pairs(store, "acme", Query(learning_key="spelling"))
    assert only["source"].to_list() == ["edit"]


def test_exports_round_trip(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "id": [bytes(range(16)), None],
            "reward": [0.5, None],
            "created_at": pl.Series([0, 1_000]).cast(pl.Datetime("ns", "UTC")),
        }
    )
    as_text = ids_to_strings(frame)
    assert as_text["id"].to_list() == ["00010203-0405-0607-0809-0a0b0c0d0e0f", None]

    lines = to_jsonl(frame, tmp_path / "out" / "x.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["id"] == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert json.loads(lines[1])["reward"] is None

    back = pl.read_parquet(to_parquet(frame, tmp_path / "x.parquet"))
    assert back.equals(frame)
    assert pl.read_parquet(to_parquet(frame, tmp_path / "s.parquet", ids_as_strings=True)).equals(
        as_text
    )


@pytest.mark.slow
def test_hf_dataset_export(tmp_path: Path) -> None:
    frame = pl.DataFrame({"id": [bytes(range(16))], "prompt": ["[]"], "reward": [0.25]})
    dataset = to_hf_dataset(frame)
    assert dataset.num_rows == 1
    assert dataset[0] == {
        "id": "00010203-0405-0607-0809-0a0b0c0d0e0f",
        "prompt": "[]",
        "reward": 0.25,
    }

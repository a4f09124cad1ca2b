"""Writes, shared by both back-ends: idempotency, all-or-nothing batches, field-named errors."""

from __future__ import annotations

import json

import polars as pl
import pytest
from memory_testdata import feedback_frame, interaction, rating, reward

from atlas_core.ids import new_ids
from atlas_core.store import BatchValidationError, Store, WriteResult
from atlas_core.types import Reward


def test_retried_write_is_a_no_op(store: Store) -> None:
    batch = [interaction(minutes=i) for i in range(5)]
    assert store.write_interactions(batch) == WriteResult(inserted=5, skipped=0)
    assert store.write_interactions(batch) == WriteResult(inserted=0, skipped=5)
    # A retry that overlaps a new batch stores only the new rows.
    more = [*batch[3:], interaction(minutes=10)]
    assert store.write_interactions(more) == WriteResult(inserted=1, skipped=2)
    assert store.interactions("acme").height == 6


def test_duplicate_ids_inside_one_batch_store_once(store: Store) -> None:
    frame = feedback_frame(3)
    doubled = pl.concat([frame, frame.head(1)])
    assert store.write_feedback(doubled) == WriteResult(inserted=3, skipped=1)


def test_model_and_frame_paths_store_the_same_row(store: Store) -> None:
    inter = interaction(user_id="u1", latency_ms=12.5, prompt_tokens=3, metadata={"a": [1, 2]})
    store.write_interactions([inter])
    row = store.interactions("acme").row(0, named=True)
    assert row["id"] == inter.id.bytes
    assert row["user_id"] == "u1"
    assert row["latency_ms"] == 12.5
    assert row["prompt_tokens"] == 3
    assert row["metadata"] == '{"a":[1,2]}'
    assert row["created_at"] == inter.created_at
    assert row["input"] == '[{"role":"user","content":"question 0"}]'


def test_text_of_every_length_and_script_round_trips_from_a_multi_chunk_frame(
    store: Store,
) -> None:
    # Short strings sit inside an Arrow string view, longer ones in its data buffers, and a
    # frame concatenated from parts has several buffers: each must reach the store intact.
    names = ["a", "short", "exactly 12 b", "thirteen byte", "naïve café ✓ 東京 🎉" * 3, "x" * 5000]
    texts = [None, "", *names[2:]]
    parts = [
        feedback_frame(3).with_columns(
            name=pl.Series(names[i : i + 3]),
            text=pl.Series(texts[i : i + 3]),
            created_at=pl.Series([i + 1, i + 2, i + 3]),
        )
        for i in (0, 3)
    ]
    frame = pl.concat(parts, rechunk=False)
    assert frame.n_chunks() == 2

    store.write_feedback(frame)

    rows = store.feedback("acme").sort("created_at")
    assert rows["name"].to_list() == names
    assert rows["text"].to_list() == texts


def test_columnar_batch_fills_defaults(store: Store) -> None:
    frame = feedback_frame(100).drop("tenant_id")
    assert store.write_feedback(frame).inserted == 100
    got = store.feedback("default")
    assert got.height == 100
    assert got["source"].unique().to_list() == ["user"]
    assert got["metadata"].unique().to_list() == ["{}"]


@pytest.mark.parametrize(
    ("column", "bad", "reason"),
    [
        ("id", b"short", "16 bytes"),
        ("interaction_id", None, "null"),
        ("kind", "thumbs", "not one of"),
        ("value", float("nan"), "finite"),
        ("name", None, "signal needs a name"),
        ("metadata", '{"truncated": ', "JSON object"),
        ("tenant_id", "", "empty"),
    ],
)
def test_bad_row_rejects_whole_batch_naming_the_field(
    store: Store, column: str, bad: object, reason: str
) -> None:
    frame = feedback_frame(10).with_columns(metadata=pl.lit("{}"))
    values = frame[column].to_list()
    values[7] = bad
    frame = frame.with_columns(pl.Series(column, values, dtype=frame.schema[column]))
    with pytest.raises(BatchValidationError, match=reason) as info:
        store.write_feedback(frame)
    assert info.value.field == column
    assert info.value.row == 7
    assert f"feedback.{column}" in str(info.value)
    # All or nothing: the nine good rows were not written either.
    assert store.feedback("acme").height == 0


def test_rating_outside_its_scale_is_rejected(store: Store) -> None:
    frame = feedback_frame(3, kind="rating").with_columns(
        value=pl.Series([3.0, 9.0, 1.0]), scale_min=pl.lit(1.0), scale_max=pl.lit(5.0)
    )
    with pytest.raises(BatchValidationError, match="outside its scale") as info:
        store.write_feedback(frame)
    assert (info.value.field, info.value.row) == ("value", 1)


def test_wrong_column_type_and_unknown_or_missing_columns(store: Store) -> None:
    frame = feedback_frame(2)
    with pytest.raises(BatchValidationError, match=r"feedback\.value .*expected Float64"):
        store.write_feedback(frame.with_columns(value=pl.lit("high")))
    with pytest.raises(BatchValidationError, match=r"feedback\.colour .*unknown column"):
        store.write_feedback(frame.with_columns(colour=pl.lit(1)))
    with pytest.raises(BatchValidationError, match=r"feedback\.interaction_id .*missing"):
        store.write_feedback(frame.drop("interaction_id"))


def test_reward_score_range_and_typed_times(store: Store) -> None:
    inter = interaction()
    store.write_interactions([inter])
    frame = pl.DataFrame(
        {
            "id": new_ids(2),
            "tenant_id": ["acme", "acme"],
            "interaction_id": [inter.id.bytes] * 2,
            "score": [0.5, 1.5],
            "created_at": pl.Series([inter.created_at] * 2),
        }
    )
    with pytest.raises(BatchValidationError, match=r"rewards\.score \(row 1\)"):
        store.write_rewards(frame)
    ok = frame.with_columns(score=pl.Series([0.5, 1.0]))
    assert store.write_rewards(ok).inserted == 2
    assert store.rewards("acme")["created_at"].to_list() == [inter.created_at] * 2


def test_numeric_columns_are_converted_only_when_exact(store: Store) -> None:
    frame = pl.DataFrame(
        {
            "id": new_ids(3),
            "input": ["[]"] * 3,
            "output": ["a"] * 3,
            "prompt_tokens": [1.0, 2.0, 3.0],  # floats holding integers: accepted
            "created_at": pl.Series([1, 2, 3], dtype=pl.Int32),
        }
    )
    assert store.write_interactions(frame).inserted == 3
    assert store.interactions("default")["prompt_tokens"].to_list() == [1, 2, 3]
    for bad, reason in ((2.5, "not an integer"), (1e30, "out of range")):
        broken = frame.with_columns(
            id=pl.Series(new_ids(3)), prompt_tokens=pl.Series([1.0, bad, 3.0])
        )
        with pytest.raises(BatchValidationError, match=reason) as info:
            store.write_interactions(broken)
        assert (info.value.field, info.value.row) == ("prompt_tokens", 1)


def test_reward_fields_round_trip(store: Store) -> None:
    inter = interaction()
    store.write_interactions([inter])
    r = Reward(
        tenant_id="acme",
        interaction_id=inter.id,
        score=0.75,
        components={"copy": 1.0, "judge": 0.5},
        rationale="helpful",
        uncertainty=0.1,
        escalated=True,
        reward_model="rim-3",
    )
    store.write_rewards([r])
    row = store.rewards("acme").row(0, named=True)
    assert row["escalated"] is True
    assert json.loads(row["components"]) == {"copy": 1.0, "judge": 0.5}
    assert (row["rationale"], row["uncertainty"], row["reward_model"]) == ("helpful", 0.1, "rim-3")


def test_models_are_validated_before_they_reach_the_store() -> None:
    inter = interaction()
    with pytest.raises(ValueError, match="outside"):
        rating(inter, 7)
    with pytest.raises(ValueError, match="less than or equal to 1"):
        reward(inter, 1.2)

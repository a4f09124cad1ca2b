"""Feedback: every kind lands in the store with its fields; bad input fails before buffering."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

import atlas_core
from atlas_core.errors import InvalidArgumentError
from atlas_core.sdk import Recorder, reset_default
from atlas_core.store import Store, open_store


def _by_id(store: Store) -> dict[uuid.UUID, dict]:
    frame: pl.DataFrame = store.feedback("default")
    return {uuid.UUID(bytes=r["id"]): r for r in frame.iter_rows(named=True)}


def test_every_kind_lands_with_its_fields(recorder: Recorder, store: Store) -> None:
    target = recorder.record_interaction(input="q", output="a")
    ids = {
        "rating": recorder.rate(target, 4, user_id="u1"),
        "rating10": recorder.rate(str(target), 7.5, scale=(0, 10)),
        "copy": recorder.signal(target, "copy"),
        "engage": recorder.signal(target.bytes, "engage", 12.5, metadata={"page": "faq"}),
        "custom": recorder.signal(target, "scrolled_to_end", 0.0),
        "edit": recorder.edit(target, "the corrected\nanswer"),
        "comment": recorder.comment(target, "too long — but right"),
        "label": recorder.label(target, "gold answer"),
    }
    assert recorder.flush(10)
    rows = _by_id(store)
    assert len(rows) == len(ids)
    for row in rows.values():
        assert uuid.UUID(bytes=row["interaction_id"]) == target
        assert row["source"] == "sdk"
        assert row["tenant_id"] == "default"

    def got(name: str) -> dict:
        return rows[ids[name]]

    assert got("rating")["kind"] == "rating"
    assert (got("rating")["value"], got("rating")["scale_min"], got("rating")["scale_max"]) == (
        4.0,
        1.0,
        5.0,
    )
    assert got("rating")["user_id"] == "u1"
    assert (got("rating10")["value"], got("rating10")["scale_max"]) == (7.5, 10.0)
    assert (got("copy")["kind"], got("copy")["name"], got("copy")["value"]) == (
        "signal",
        "copy",
        1.0,
    )
    assert (got("engage")["name"], got("engage")["value"]) == ("engage", 12.5)
    assert json.loads(got("engage")["metadata"]) == {"page": "faq"}
    assert (got("custom")["name"], got("custom")["value"]) == ("scrolled_to_end", 0.0)
    assert (got("edit")["kind"], got("edit")["text"]) == ("edit", "the corrected\nanswer")
    assert got("edit")["value"] is None
    assert got("edit")["name"] is None
    assert (got("comment")["kind"], got("comment")["text"]) == ("comment", "too long — but right")
    assert (got("label")["kind"], got("label")["text"]) == ("label", "gold answer")


def test_async_variants_land(recorder: Recorder, store: Store) -> None:
    target = uuid.uuid4()

    async def main() -> list[uuid.UUID]:
        out = [
            await recorder.arate(target, 1),
            await recorder.asignal(target, "share"),
            await recorder.aedit(target, "x"),
            await recorder.acomment(target, "y"),
            await recorder.alabel(target, "z"),
        ]
        assert await recorder.aflush(10)
        return out

    ids = asyncio.run(main())
    rows = _by_id(store)
    assert [rows[i]["kind"] for i in ids] == ["rating", "signal", "edit", "comment", "label"]


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda r, i: r.rate(i, math.nan), "value"),
        (lambda r, i: r.rate(i, math.inf), "value"),
        (lambda r, i: r.rate(i, 6), "value"),
        (lambda r, i: r.rate(i, 0.5), "value"),
        (lambda r, i: r.rate(i, "5"), "value"),
        (lambda r, i: r.rate(i, True), "value"),
        (lambda r, i: r.rate(i, 3, scale=(5, 1)), "scale"),
        (lambda r, i: r.rate(i, 3, scale=(1, math.nan)), "scale"),
        (lambda r, i: r.rate(i, 3, scale=(1,)), "scale"),
        (lambda r, i: r.signal(i, ""), "name"),
        (lambda r, i: r.signal(i, "   "), "name"),
        (lambda r, i: r.signal(i, None), "name"),
        (lambda r, i: r.signal(i, "engage", math.nan), "value"),
        (lambda r, i: r.edit(i, None), "corrected_text"),
        (lambda r, i: r.comment(i, 3), "text"),
        (lambda r, i: r.label(i, b"gold"), "text"),
        (lambda r, i: r.record_feedback(i, "thumbs_up"), "kind"),
        (lambda r, i: r.rate("not-a-uuid", 3), "interaction_id"),
        (lambda r, i: r.rate(b"short", 3), "interaction_id"),
        (lambda r, i: r.rate(i, 3, user_id=5), "user_id"),
        (lambda r, i: r.rate(i, 3, metadata=[1]), "metadata"),
        (lambda r, i: r.record_interaction(input="q", output="a", learning_key=""), "learning_key"),
        (lambda r, i: r.record_interaction(input="q", output="a", latency_ms=-1), "latency_ms"),
        (
            lambda r, i: r.record_interaction(input="q", output="a", prompt_tokens=-2),
            "prompt_tokens",
        ),
    ],
)
def test_bad_input_raises_naming_the_argument_before_buffering(
    recorder: Recorder, call, argument: str
) -> None:
    before = recorder.transport.stats().accepted
    with pytest.raises(InvalidArgumentError, match=f"`{argument}`"):
        call(recorder, uuid.uuid4())
    assert recorder.transport.stats().accepted == before  # nothing reached the buffer


def test_async_bad_input_raises(recorder: Recorder) -> None:
    with pytest.raises(InvalidArgumentError, match="`value`"):
        asyncio.run(recorder.arate(uuid.uuid4(), math.nan))


@pytest.fixture
def default_recorder(recorder: Recorder) -> Iterator[Recorder]:
    atlas_core.configure(recorder)
    yield recorder
    reset_default()


def test_module_level_functions_use_the_default_recorder(
    default_recorder: Recorder, store: Store
) -> None:
    @atlas_core.wrap(learning_key="default-recorder")
    def agent(q: str) -> str:
        return q

    agent("hello")
    target = atlas_core.last_interaction_id()
    assert target is not None
    atlas_core.rate(target, 5)
    atlas_core.signal(target, "copy")
    atlas_core.edit(target, "hello!")
    atlas_core.comment(target, "ok")
    atlas_core.label(target, "hello")
    asyncio.run(atlas_core.asignal(target, "retry"))
    assert atlas_core.flush(10)
    assert store.interactions("default")["learning_key"].to_list() == ["default-recorder"]
    kinds = sorted(store.feedback("default")["kind"].to_list())
    assert kinds == ["comment", "edit", "label", "rating", "signal", "signal"]


def test_configure_takes_a_store_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'configured.db'}"
    try:
        atlas_core.configure(url, tenant_id="acme")

        @atlas_core.wrap(learning_key="configured")
        def agent(q: str) -> str:
            return q.upper()

        assert agent("hi") == "HI"
        atlas_core.flush()
        with open_store(url) as check:
            rows = check.interactions("acme")
        assert rows["learning_key"].to_list() == ["configured"]
        assert rows["id"].to_list() == [atlas_core.last_interaction_id().bytes]
    finally:
        reset_default()


def test_configure_rejects_what_is_not_a_recorder_store_or_url(recorder: Recorder) -> None:
    with pytest.raises(InvalidArgumentError, match=r"`recorder`.*got int"):
        atlas_core.configure(42)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="`embedded_options`"):
        atlas_core.configure(recorder, flush_interval=1.0)

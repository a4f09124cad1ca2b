"""The server's native decoder of SDK column batches agrees with the SDK's own decoder
(:func:`atlas_core.sdk.events.decode`, polars), applies the stores' value rules exactly as
:func:`atlas_core.validation.bad_rows` does, and refuses what is not the SDK's JSON."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from atlas_core import _native
from atlas_core.errors import InvalidArgumentError, StateError
from atlas_core.kernels.buffer import EventColumns, FeedbackBuffer
from atlas_core.sdk.events import decode
from atlas_core.sdk.recorder import Recorder
from atlas_core.serve.column_decode import decode_columns
from atlas_core.serve.commit_batch import PendingRequest, commit_frames
from atlas_core.serve.loadgen import _BufferTransport, sdk_columns
from atlas_core.serve.records import Converted, convert
from atlas_core.serve.results import EventKindName
from atlas_core.validation import CheckedFrame, bad_rows

_text = st.text(max_size=12)  # any unicode, quotes, backslashes, control characters
_maybe = st.none() | _text


@st.composite
def _events(draw: st.DrawFn) -> EventColumns:
    buffer = FeedbackBuffer(256, "reject", None)
    recorder = Recorder(_BufferTransport(buffer), tenant_id=draw(st.sampled_from(["a", "ü b"])))
    interactions: list[uuid.UUID] = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["interaction", "rating", "signal", "edit", "label"]))
        if kind == "interaction" or not interactions:
            interactions.append(
                recorder.record_interaction(
                    input=[{"role": "user", "content": draw(_text)}],
                    output=draw(_text),
                    learning_key=draw(_text.filter(str.strip)),
                    model_version=draw(_maybe),
                    latency_ms=draw(st.none() | st.floats(0, 1e6)),
                    metadata={draw(_text): draw(_text)},
                    session_id=draw(_maybe),
                    prompt_tokens=draw(st.none() | st.integers(0, 2**40)),
                )
            )
            continue
        target = draw(st.sampled_from(interactions))
        if kind == "rating":
            recorder.rate(target, draw(st.integers(1, 5)), user_id=draw(_maybe))
        elif kind == "signal":
            recorder.signal(target, draw(_text.filter(str.strip)), draw(st.floats(-10, 10)))
        elif kind == "edit":
            recorder.edit(target, draw(_text))
        else:
            recorder.label(target, draw(_text), metadata={"k": [1, None]})
    return buffer.drain_columns(256)


@settings(max_examples=150, deadline=None)
@given(_events())
def test_native_decoder_matches_the_sdk_decoder(columns: EventColumns) -> None:
    reference = decode(columns, keep_rows=True)
    native = decode_columns(columns, ["caller"])
    assert len(native.invalid) == reference.invalid == 0
    assert native.broken == []  # the SDK's recorder writes nothing a rule refuses
    pairs = (
        (reference.interactions, native.interactions.frame, native.interaction_rows),
        (reference.feedback, native.feedback.frame, native.feedback_rows),
    )
    for ref, got, rows in pairs:
        if not ref.height:
            assert got.height == 0
            continue
        assert rows.tolist() == ref["row"].to_list()
        expected = ref.drop("row").with_columns(pl.lit("caller").alias("tenant_id"))
        assert_frame_equal(got, expected)


def _batch(payloads: list[bytes], kinds: list[int]) -> EventColumns:
    n = len(payloads)
    data = b"".join(payloads)
    offsets = np.cumsum([0, *map(len, payloads)]).astype(np.int64)
    return EventColumns(
        event_id=np.arange(16 * n, dtype=np.uint8).reshape(n, 16),
        interaction_id=np.zeros((n, 16), dtype=np.uint8),
        kind=np.array(kinds, dtype=np.uint8),
        key=np.zeros(n, dtype=np.uint64),
        value=np.full(n, math.nan),
        ts_ns=np.arange(n, dtype=np.int64),
        payload_offsets=offsets,
        payload_data=np.frombuffer(data, dtype=np.uint8),
    )


_RATING = b'{"tenant_id":"t","source":"sdk","metadata":"{}","scale_min":1,"scale_max":5}\n'
_SIGNAL = b'{"tenant_id":"t","source":"sdk","metadata":"{}","name":"copy"}\n'


def test_events_the_sdk_would_not_write_are_left_out_by_position() -> None:
    no_source = b'{"tenant_id":"t","metadata":"{}"}\n'
    decoded = decode_columns(_batch([_SIGNAL, _SIGNAL, no_source], [9, 2, 2]), ["t"])
    assert decoded.invalid.tolist() == [0, 2]
    assert decoded.feedback_rows.tolist() == [1]
    assert decoded.feedback.frame["value"].to_list() == [None]  # NaN in the column is null
    assert decoded.feedback.frame["kind"].to_list() == ["signal"]
    assert decoded.interactions.height == 0
    assert decoded.interactions.frame.columns[:2] == ["id", "tenant_id"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"tenant_id":"t"\n', "expected ',' or '}'"),
        (b'{"scale_min":"1"}\n', "expected a number"),
        (b'{"text":"\\ud800"}\n', "lone surrogate"),
        (b'{"text":"\xff"}\n', "not valid UTF-8"),
        (b'{"text":"x"}', "not one JSON line"),
    ],
)
def test_a_payload_that_is_not_sdk_json_refuses_the_batch(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"event 1: .*{reason}"):
        decode_columns(_batch([_RATING, payload], [1, 1]), ["t"])


def test_a_table_leaves_once_through_the_arrow_interface() -> None:
    columns = _batch([_SIGNAL], [2])
    (interactions, _), (feedback, _), _, _ = _native.decode_sdk_columns(
        columns.event_id.reshape(-1),
        columns.interaction_id.reshape(-1),
        columns.kind,
        columns.value,
        columns.ts_ns,
        columns.payload_offsets,
        columns.payload_data,
        np.zeros(1, dtype=np.uint32),
        ["t"],
    )
    assert len(feedback) == 1
    frame = pl.Series(feedback).struct.unnest()
    assert frame.columns == feedback.names
    assert frame["source"].to_list() == ["sdk"]
    assert frame["tenant_id"].to_list() == ["t"]
    with pytest.raises(StateError, match="exported already"):
        feedback.__arrow_c_array__()
    # An empty table imports with its columns; one never imported is freed with its owner.
    assert pl.Series(interactions).struct.unnest().shape == (0, len(interactions.names))
    del interactions


def test_wrong_dtypes_are_refused_by_name() -> None:
    columns = _batch([_RATING], [1])
    args: list[Any] = [
        columns.event_id.reshape(-1),
        columns.interaction_id.reshape(-1),
        columns.kind,
        columns.value,
        columns.ts_ns.astype(np.int32),
        columns.payload_offsets,
        columns.payload_data,
        np.zeros(1, dtype=np.uint32),
        ["t"],
    ]
    with pytest.raises(InvalidArgumentError, match="ts_ns"):
        _native.decode_sdk_columns(*args)


def test_each_event_is_stored_under_the_tenant_named_for_it() -> None:
    columns = _batch([_SIGNAL, _SIGNAL, _SIGNAL], [2, 2, 2])
    decoded = decode_columns(columns, ["x", "y"], np.array([1, 0, 1], dtype=np.uint32))
    assert decoded.feedback.frame["tenant_id"].to_list() == ["y", "x", "y"]
    with pytest.raises(InvalidArgumentError, match="tenant_index"):
        decode_columns(columns, ["x"], np.array([1, 0, 1], dtype=np.uint32))


def test_typed_and_columnar_requests_share_one_commits_frames() -> None:
    columns, ids = sdk_columns("t", 2)
    typed: dict[EventKindName, Converted] = {
        "interaction": convert(
            "interaction", "t", [{"learning_key": "k", "input": "hi", "output": "o"}]
        ),
        "feedback": convert(
            "feedback", "t", [{"interaction_id": str(ids[0]), "kind": "signal", "name": "copy"}]
        ),
    }
    frames = commit_frames(
        [PendingRequest("t", typed, None, 2, 0), PendingRequest("other", None, columns, 4, 0)]
    )
    interactions, feedback = frames["interaction"], frames["feedback"]
    assert (interactions.req.tolist(), interactions.row.tolist()) == ([0, 1, 1], [0, 0, 2])
    assert (feedback.req.tolist(), feedback.row.tolist()) == ([0, 1, 1], [0, 1, 3])
    assert interactions.frame["tenant_id"].to_list() == ["t", "other", "other"]
    assert feedback.frame["kind"].to_list() == ["signal", "rating", "rating"]


# Values at and across every rule's edge (see atlas_core.validation.checks).
_FLOATS = [math.nan, math.inf, -math.inf, -1.0, -0.0, 0.0, 1.0, 3.0, 5.0, 6.0]
_EDGES: dict[str, list[Any]] = {
    "learning_key": ["", "k"],
    "input": ["[]", '[{"role":"user","content":"x"}]', "[", "", "x]", "{}"],
    "output": ["", "o"],
    "metadata": ["{}", "{", "[]", "", '{"a":1}'],
    "prompt_tokens": [None, -1, 0, 7],
    "completion_tokens": [None, -3, 2],
    "name": [None, "", "copy"],
    "scale_min": [None, 1.0, 5.0, -2.5],
    "scale_max": [None, 1.0, 5.0],
    "text": [None, "", "fixed"],
    "source": ["", "sdk"],
}


@st.composite
def _edge_events(draw: st.DrawFn) -> tuple[EventColumns, str]:
    n = draw(st.integers(1, 16))
    payloads, kinds = [], []
    for _ in range(n):
        fields = {name: draw(st.sampled_from(values)) for name, values in _EDGES.items()}
        payloads.append(json.dumps({"tenant_id": "payload", **fields}).encode() + b"\n")
        kinds.append(draw(st.integers(0, 5)))
    columns = _batch(payloads, kinds)
    columns.value[:] = draw(st.lists(st.sampled_from(_FLOATS), min_size=n, max_size=n))
    return columns, draw(st.sampled_from(["caller", ""]))


@settings(max_examples=300, deadline=None)
@given(_edge_events())
def test_the_decoder_applies_the_stores_rules_as_bad_rows_does(
    case: tuple[EventColumns, str],
) -> None:
    columns, tenant = case
    reference = decode(columns, keep_rows=True)
    native = decode_columns(columns, [tenant])
    expected_broken = []
    for table, ref, got, rows in (
        ("interactions", reference.interactions, native.interactions, native.interaction_rows),
        ("feedback", reference.feedback, native.feedback, native.feedback_rows),
    ):
        assert isinstance(got, CheckedFrame)
        assert got.table == table
        if not ref.height:
            assert got.height == 0
            continue
        ref = ref.with_columns(pl.lit(tenant).alias("tenant_id"))
        bad = bad_rows(table, ref.drop("row"))
        positions = ref["row"].to_list()
        expected_broken += [(positions[i], field, reason) for i, field, reason in bad]
        keep = np.ones(ref.height, dtype=bool)
        keep[[i for i, _, _ in bad]] = False
        kept = ref.filter(pl.Series(keep))
        assert rows.tolist() == kept["row"].to_list()
        assert_frame_equal(got.frame, kept.drop("row"))
        assert bad_rows(table, got.frame) == []
    assert sorted(native.broken) == sorted(expected_broken)


def test_a_checked_frame_is_made_only_by_the_decoder_and_keeps_its_rows() -> None:
    decoded = decode_columns(_batch([_SIGNAL, _SIGNAL], [2, 2]), ["t"])
    with pytest.raises(TypeError, match="only by the server's decoder"):
        CheckedFrame("feedback", decoded.feedback.frame)  # type: ignore[call-arg]
    # What it hands out is a copy: changing it leaves the checked rows as they were.
    copy = decoded.feedback.frame
    copy.replace_column(copy.get_column_index("name"), pl.Series("name", ["", ""]))
    assert decoded.feedback.frame["name"].to_list() == ["copy", "copy"]
    kept = decoded.feedback.filter(pl.Series([False, True]))
    assert isinstance(kept, CheckedFrame)
    assert kept.height == 1
    both = CheckedFrame.concat([kept, decoded.feedback])
    assert (both.table, both.height) == ("feedback", 3)
    with pytest.raises(InvalidArgumentError, match="of one table"):
        CheckedFrame.concat([kept, decoded.interactions])

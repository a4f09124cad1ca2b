"""Event encoding: payload lines round-trip through the buffer and ``decode`` exactly."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventKind, FeedbackBuffer
from atlas_core.sdk.events import (
    NO_INTERACTION,
    decode,
    feedback_payload,
    interaction_payload,
    learning_key_id,
)

texts = st.text(max_size=60)  # any unicode, newlines, quotes, NUL and lone surrogates excluded
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    output=texts,
    learning_key=texts.filter(bool),
    message=texts,
    metadata=st.dictionaries(texts, json_values, max_size=4),
    comment=texts,
    latency=st.one_of(st.none(), st.floats(0, 1e6)),
)
def test_decode_round_trips_what_was_encoded(
    output: str,
    learning_key: str,
    message: str,
    metadata: dict,
    comment: str,
    latency: float | None,
) -> None:
    buf = FeedbackBuffer(16)
    input_text = json.dumps([{"role": "user", "content": message}])
    metadata_text = json.dumps(metadata)
    interaction_id = buf.push(
        NO_INTERACTION,
        EventKind.INTERACTION,
        math.nan if latency is None else latency,
        learning_key_id(learning_key),
        interaction_payload(
            tenant_id="t1",
            learning_key=learning_key,
            input_json=input_text,
            output=output,
            metadata_json=metadata_text,
            model_version="m",
            prompt_tokens=3,
        ),
        123,
        None,
    )
    feedback_id = buf.push(
        interaction_id,
        EventKind.COMMENT,
        math.nan,
        0,
        feedback_payload(tenant_id="t1", source="sdk", metadata_json="{}", text=comment),
        456,
        None,
    )
    batch = decode(buf.drain_columns())
    assert batch.invalid == 0
    inter = batch.interactions.row(0, named=True)
    assert inter["id"] == interaction_id
    assert (inter["output"], inter["learning_key"], inter["tenant_id"]) == (
        output,
        learning_key,
        "t1",
    )
    assert inter["input"] == input_text  # JSON text kept byte-exact
    assert json.loads(inter["metadata"]) == metadata
    assert inter["latency_ms"] == latency
    assert (inter["model_version"], inter["prompt_version"], inter["prompt_tokens"]) == (
        "m",
        None,
        3,
    )
    assert inter["created_at"] == 123
    fb = batch.feedback.row(0, named=True)
    assert (fb["id"], fb["interaction_id"], fb["kind"], fb["text"]) == (
        feedback_id,
        interaction_id,
        "comment",
        comment,
    )
    assert fb["value"] is None  # NaN in the buffer is null in the store
    assert fb["created_at"] == 456


def test_foreign_events_are_counted_invalid_not_decoded() -> None:
    buf = FeedbackBuffer(16)
    good = feedback_payload(tenant_id="t", source="sdk", metadata_json="{}", name="copy")
    buf.push(bytes(16), EventKind.SIGNAL, 1.0, 0, good, 1, None)
    buf.push(bytes(16), 42, 1.0, 0, good, 1, None)  # a kind the SDK does not know
    buf.push(bytes(16), EventKind.SIGNAL, 1.0, 0, b'{"name":"copy"}\n', 1, None)  # no tenant
    batch = decode(buf.drain_columns())
    assert (batch.feedback.height, batch.interactions.height, batch.invalid) == (1, 0, 2)


@pytest.mark.parametrize("payload", [b"", b'{"tenant_id":"t"}', b"garbage\n"])
def test_a_payload_that_is_not_one_json_line_is_rejected(payload: bytes) -> None:
    buf = FeedbackBuffer(4)
    buf.push(bytes(16), EventKind.COMMENT, 0.0, 0, payload, 1, None)
    with pytest.raises(InvalidArgumentError, match="payload"):
        decode(buf.drain_columns())


def test_learning_key_ids_are_stable_across_processes() -> None:
    code = "from atlas_core.sdk.events import learning_key_id; print(learning_key_id('support'))"
    other = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert int(other) == learning_key_id("support")
    assert learning_key_id("support") != learning_key_id("sales")


def test_import_atlas_core_stays_light() -> None:
    code = (
        "import sys, atlas_core; "
        "print('polars' in sys.modules, 'atlas_core._native' in sys.modules, "
        "callable(atlas_core.wrap), 'atlas_core._native' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    # Nothing heavy on import; the SDK (and the native buffer) load on first use.
    assert out.stdout.split() == ["False", "False", "True", "True"]

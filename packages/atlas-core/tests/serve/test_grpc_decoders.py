"""Fuzzing the gRPC decoders: whatever bytes arrive, decoding ends in a message or a clear
InvalidArgumentError, never another exception; and the committed generated code is what
the generator writes today."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_core.errors import InvalidArgumentError
from atlas_core.serve._generated.atlas.v1 import ingest_pb2 as pb
from atlas_core.serve.grpc_calls import Undecodable, deserializer
from atlas_core.serve.grpc_codec import decode_events
from atlas_core.serve.grpc_columns import columns_from_batch, columns_to_batch

ROOT = Path(__file__).resolve().parents[4]
GENERATED = ROOT / "packages/atlas-core/src/atlas_core/serve/_generated"


def _decode_request(data: bytes) -> None:
    parsed = deserializer(pb.IngestRequest)(data)
    if isinstance(parsed, Undecodable):
        assert parsed.reason.startswith("request: not a valid IngestRequest")
        return
    decoded = decode_events(parsed)
    assert len(decoded.interactions) + len(decoded.errors) >= 0
    assert decoded.n_interactions == len(parsed.interactions)


_COLUMNS = {"event_id", "interaction_id", "value", "key", "ts_ns", "payload_offsets"}


def _decode_columns(data: bytes) -> None:
    parsed = deserializer(pb.ColumnBatch)(data)
    if isinstance(parsed, Undecodable):
        return
    try:
        columns = columns_from_batch(parsed)
    except InvalidArgumentError as err:
        named = str(err).split(":")[0]
    else:
        named = ""
    if named:
        assert named in _COLUMNS
        return
    n = len(columns)
    assert columns.event_id.shape == (n, 16)
    assert columns.payload_offsets[-1] == len(columns.payload_data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_into_the_request_decoders(data: bytes) -> None:
    _decode_request(data)
    _decode_columns(data)
    parsed = deserializer(pb.IngestStreamMessage)(data)
    assert isinstance(parsed, pb.IngestStreamMessage | Undecodable)


@st.composite
def _column_batches(draw: st.DrawFn) -> pb.ColumnBatch:
    """Structurally plausible batches: each column's length near the right one."""
    n = draw(st.integers(0, 6))

    def sized(width: int) -> bytes:
        delta = draw(st.sampled_from([0, 0, 0, -1, 1, -width, width]))
        return draw(
            st.binary(min_size=max(0, n * width + delta), max_size=max(0, n * width + delta))
        )

    offsets = draw(
        st.one_of(
            st.lists(st.integers(-5, 40), min_size=n + 1, max_size=n + 1),
            st.lists(st.integers(0, 40), min_size=0, max_size=n + 2),
        )
    )
    payload = draw(st.binary(max_size=40))
    return pb.ColumnBatch(
        event_id=sized(16),
        interaction_id=sized(16),
        kind=draw(st.binary(min_size=n, max_size=n)),
        value=sized(8),
        key=sized(8),
        ts_ns=sized(8),
        payload_data=payload,
        payload_offsets=np.asarray(offsets, dtype="<i8").tobytes(),
    )


@settings(max_examples=400, deadline=None)
@given(_column_batches())
def test_plausible_column_batches_decode_or_name_the_column(batch: pb.ColumnBatch) -> None:
    _decode_columns(batch.SerializeToString())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(max_size=30), max_size=4),
    st.lists(st.text(max_size=30), max_size=4),
)
def test_json_fields_decode_or_reject_the_one_event(inputs: list[str], metas: list[str]) -> None:
    request = pb.IngestRequest(
        interactions=[pb.Interaction(learning_key="k", output="o", input_json=t) for t in inputs],
        feedback=[pb.Feedback(interaction_id="x", kind="rating", metadata_json=m) for m in metas],
    )
    decoded = decode_events(pb.IngestRequest.FromString(request.SerializeToString()))
    assert len(decoded.interactions) + len(decoded.feedback) + len(decoded.errors) == len(
        inputs
    ) + sum(1 for _ in metas)
    for error in decoded.errors:
        assert error.field in {"input", "metadata"}
        assert "JSON" in error.reason


def test_columns_round_trip_through_the_message() -> None:
    from atlas_core.kernels.buffer import FeedbackBuffer

    buffer = FeedbackBuffer(16)
    for i in range(5):
        buffer.push(bytes(16), i % 3, float(i), 2**63 + i, b"{}\n" * i, -i, None)
    drained = buffer.drain_columns()
    back = columns_from_batch(
        pb.ColumnBatch.FromString(columns_to_batch(drained).SerializeToString())
    )
    for name in (
        "event_id",
        "interaction_id",
        "kind",
        "key",
        "ts_ns",
        "payload_offsets",
        "payload_data",
    ):
        assert np.array_equal(getattr(back, name), getattr(drained, name)), name
    assert np.array_equal(back.value, drained.value, equal_nan=True)


def test_committed_generated_code_matches_a_fresh_generation(tmp_path: Path) -> None:
    out = tmp_path / "_generated"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts/gen_proto.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    fresh = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(GENERATED)
        for p in GENERATED.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert fresh == committed
    _, mismatch, errors = filecmp.cmpfiles(out, GENERATED, [str(p) for p in fresh], shallow=False)
    assert not errors
    assert not mismatch, f"stale generated code: {mismatch}; run scripts/gen_proto.py"

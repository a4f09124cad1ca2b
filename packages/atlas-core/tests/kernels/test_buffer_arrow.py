"""FeedbackBuffer round trips through pyarrow and polars, zero-copy where the columns allow."""

from __future__ import annotations

import uuid

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from atlas_core.errors import InvalidArgumentError
from atlas_core.kernels.buffer import EventColumns, FeedbackBuffer, arrow_schema, encode_payloads
from atlas_core.kernels.buffer import _arrow_to_batch as arrow_to_batch


def filled(n: int = 6) -> FeedbackBuffer:
    buf = FeedbackBuffer(100, "reject")
    iid = np.frombuffer(b"".join(uuid.UUID(int=i).bytes for i in range(n)), np.uint8).reshape(n, 16)
    offsets, data = encode_payloads([f'{{"i": {i}}}' * (i % 3) for i in range(n)])
    value = np.arange(n, dtype=np.float64)
    value[1] = np.nan
    buf.push_batch(
        iid,
        np.arange(n, dtype=np.uint8),
        value=value,
        key=np.arange(n, dtype=np.uint64) + 2**63,
        payload_offsets=offsets,
        payload_data=data,
    )
    return buf


def assert_same(a: EventColumns, b: EventColumns) -> None:
    for name in EventColumns.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_arrow_round_trip_keeps_every_column() -> None:
    source = filled()
    original = source.drain_columns()
    table = original.to_arrow()
    assert table.schema == arrow_schema()
    assert table.column("payload").to_pylist()[2] == b'{"i": 2}{"i": 2}'
    assert table.column("event_id").to_pylist()[0] == original.event_id[0].tobytes()
    target = FeedbackBuffer(100, "reject")
    assert target.push_arrow(table) == len(original)
    assert_same(target.drain_columns(), original)


def test_polars_round_trip_keeps_every_column() -> None:
    source = filled()
    frame = source.drain_polars()
    assert frame.schema["event_id"] == pl.Binary
    assert frame.schema["key"] == pl.UInt64
    assert frame.height == 6
    target = FeedbackBuffer(100, "reject")
    target.push_polars(frame)
    back = target.drain_columns()
    np.testing.assert_array_equal(back.key, frame["key"].to_numpy())
    assert [back.payload(i) for i in range(6)] == frame["payload"].to_list()
    assert [bytes(r) for r in back.event_id] == frame["event_id"].to_list()


def test_columns_speak_the_arrow_c_stream_interface() -> None:
    columns = filled().drain_columns()
    table, frame = pa.table(columns), pl.DataFrame(columns)
    assert table.schema == arrow_schema()
    assert frame.columns == arrow_schema().names
    for name in arrow_schema().names:
        expected = columns.to_arrow().column(name).to_pylist()
        assert table.column(name).to_pylist() == expected or name == "value"
        assert frame[name].to_list() == expected or name == "value"
    np.testing.assert_array_equal(table.column("value").to_numpy(), columns.value)
    np.testing.assert_array_equal(frame["value"].to_numpy(), columns.value)


def test_drained_columns_reach_arrow_without_a_copy() -> None:
    columns = filled().drain_columns()
    table = columns.to_arrow()
    assert table.column("kind").chunk(0).buffers()[1].address == columns.kind.ctypes.data
    assert table.column("event_id").chunk(0).buffers()[1].address == columns.event_id.ctypes.data
    assert table.column("payload").chunk(0).buffers()[2].address == columns.payload_data.ctypes.data


def test_arrow_columns_of_the_schema_types_are_pushed_without_a_copy() -> None:
    table = filled().drain_arrow()
    args = arrow_to_batch(table)
    assert args["kind"].ctypes.data == table.column("kind").chunk(0).buffers()[1].address
    assert (
        args["interaction_id"].ctypes.data
        == table.column("interaction_id").chunk(0).buffers()[1].address
    )
    assert args["payload_data"].ctypes.data == table.column("payload").chunk(0).buffers()[2].address


def test_sliced_multichunk_and_loosely_typed_tables_are_accepted() -> None:
    original = filled().drain_arrow()
    sliced = pa.concat_tables([original.slice(1, 2), original.slice(4, 2)])  # offsets, two chunks
    buf = FeedbackBuffer(100, "reject")
    buf.push_arrow(sliced)
    assert buf.drain_columns().kind.tolist() == [1, 2, 4, 5]

    loose = pa.table(
        {
            "interaction_id": pa.array([b"a" * 16, b"b" * 16], pa.binary()),
            "kind": pa.array([1, 2], pa.int64()),
            "value": pa.array([0.5, None]),
            "key": pa.array([None, 9], pa.int32()),
            "ts_ns": pa.array([1, None], pa.timestamp("us")),
            "payload": pa.array(["hi", None], pa.string()),
        }
    )
    buf.push_arrow(loose)
    out = buf.drain_columns()
    assert out.kind.tolist() == [1, 2]
    assert out.key.tolist() == [0, 9]
    assert out.value[0] == 0.5
    assert np.isnan(out.value[1])
    assert out.ts_ns[0] == 1000
    assert out.ts_ns[1] > 1_600_000_000 * 10**9
    assert out.payload(0) == b"hi"
    assert out.payload(1) == b""


@pytest.mark.parametrize(
    ("table", "name"),
    [
        (pa.table({"kind": pa.array([1], pa.uint8())}), "table"),
        (pa.table({"interaction_id": pa.array([b"a" * 16]), "kind": [1], "colour": [1]}), "table"),
        (pa.table({"interaction_id": pa.array([b"a" * 15]), "kind": [1]}), "interaction_id"),
        (
            pa.table({"interaction_id": pa.array([None], pa.binary(16)), "kind": [1]}),
            "interaction_id",
        ),
        (pa.table({"interaction_id": pa.array([b"a" * 16]), "kind": [300]}), "kind"),
        (
            pa.table(
                {"interaction_id": pa.array([b"a" * 16]), "kind": pa.array([None], pa.uint8())}
            ),
            "kind",
        ),
        (pa.table({"interaction_id": pa.array([b"a" * 16]), "kind": [1], "key": [-1]}), "key"),
        (
            pa.table({"interaction_id": pa.array([b"a" * 16]), "kind": [1], "payload": [1]}),
            "payload",
        ),
    ],
)
def test_bad_tables_name_the_column(table: pa.Table, name: str) -> None:
    buf = FeedbackBuffer(4, "reject")
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        buf.push_arrow(table)
    assert len(buf) == 0


def test_empty_drain_converts_to_empty_tables() -> None:
    buf = FeedbackBuffer(4)
    assert buf.drain_arrow().num_rows == 0
    assert buf.drain_polars().height == 0

"""FeedbackBuffer: the API, each back-pressure policy, close, and bad input
(typed errors naming the argument)."""

from __future__ import annotations

import math
import time
import uuid

import numpy as np
import pytest

from atlas_core.errors import (
    BufferClosedError,
    BufferFullError,
    BufferTimeoutError,
    InvalidArgumentError,
)
from atlas_core.kernels.buffer import EventKind, FeedbackBuffer, encode_payloads

IID = uuid.UUID(int=7).bytes


def ids(n: int, start: int = 0) -> np.ndarray:
    """(n, 16) uint8 ids whose integers are start, start + 1, ..."""
    return np.array(
        [list(uuid.UUID(int=start + i).bytes) for i in range(n)], dtype=np.uint8
    ).reshape(n, 16)


def batch(buf: FeedbackBuffer, n: int, start: int = 0) -> int:
    return buf.push_batch(
        ids(n, start),
        np.full(n, EventKind.SIGNAL, np.uint8),
        key=np.arange(start, start + n, dtype=np.uint64),
    )


def test_push_fills_defaults_and_returns_a_time_ordered_uuid7() -> None:
    buf = FeedbackBuffer(8, "reject")
    before = time.time_ns()
    first = buf.push(IID, EventKind.RATING, 0.75, key=3, payload='{"text": "great"}')
    second = buf.push(uuid.UUID(bytes=IID), EventKind.COMMENT)
    after = time.time_ns()
    assert uuid.UUID(bytes=first).version == 7
    assert first < second
    assert before // 1_000_000 <= int.from_bytes(first[:6], "big") <= after // 1_000_000
    out = buf.drain_columns()
    assert len(out) == 2
    assert len(buf) == 0
    assert out.event_id[0].tobytes() == first
    assert out.event_id[1].tobytes() == second
    assert out.interaction_id.shape == (2, 16)
    assert out.interaction_id[1].tobytes() == IID
    assert out.kind.tolist() == [1, 4]
    assert out.key.tolist() == [3, 0]
    assert out.value[0] == 0.75
    assert np.isnan(out.value[1])
    assert before <= out.ts_ns[0] <= out.ts_ns[1] <= after
    assert out.payload(0) == b'{"text": "great"}'
    assert out.payload(1) == b""
    assert out.payload_offsets.tolist() == [0, 17, 17]


def test_caller_ids_timestamps_and_extension_kinds_are_kept() -> None:
    buf = FeedbackBuffer(4, "reject")
    eid = uuid.uuid4().bytes
    assert buf.push(IID, 200, ts_ns=-5, event_id=eid) == eid
    out = buf.drain_columns()
    assert out.event_id[0].tobytes() == eid
    assert out.ts_ns.tolist() == [-5]
    assert out.kind.tolist() == [200]


def test_batch_columns_round_trip_in_every_id_representation() -> None:
    n = 5
    iid = ids(n, 100)
    offsets, data = encode_payloads(["a", b"", "ccc", '{"x": 1}', "é"])
    for as_ids in (lambda a: a, lambda a: a.view("S16").ravel(), lambda a: a.view("V16").ravel()):
        buf = FeedbackBuffer(10, "reject")
        eid = ids(n, 200)
        pushed = buf.push_batch(
            as_ids(iid),
            np.arange(n, dtype=np.uint8),
            value=np.linspace(0, 1, n),
            key=np.arange(n, dtype=np.uint64) * 10,
            ts_ns=np.arange(n, dtype=np.int64),
            event_id=as_ids(eid),
            payload_offsets=offsets,
            payload_data=data,
        )
        assert pushed == n
        out = buf.drain_columns()
        np.testing.assert_array_equal(out.interaction_id, iid)
        np.testing.assert_array_equal(out.event_id, eid)
        assert out.kind.tolist() == list(range(n))
        assert out.key.tolist() == [0, 10, 20, 30, 40]
        assert out.ts_ns.tolist() == list(range(n))
        assert out.value.tolist() == np.linspace(0, 1, n).tolist()
        assert [out.payload(i) for i in range(n)] == [b"a", b"", b"ccc", b'{"x": 1}', "é".encode()]


def test_batch_generates_increasing_ids_and_accepts_strided_columns_and_bytes_payload() -> None:
    buf = FeedbackBuffer(10, "reject")
    values = np.arange(10, dtype=np.float64)[::2]
    buf.push_batch(
        ids(5),
        np.ones(5, np.uint8),
        value=values,
        payload_offsets=np.array([0, 1, 2, 3, 4, 5], np.int32),
        payload_data=b"abcde",
    )
    out = buf.drain_columns()
    assert out.value.tolist() == [0, 2, 4, 6, 8]
    generated = [row.tobytes() for row in out.event_id]
    assert generated == sorted(generated)
    assert len(set(generated)) == 5
    assert out.payload(4) == b"e"


def test_drain_respects_max_events_and_keeps_order() -> None:
    buf = FeedbackBuffer(100, "reject")
    batch(buf, 10)
    assert buf.drain_columns(3).key.tolist() == [0, 1, 2]
    assert buf.drain_columns(0).key.tolist() == []
    assert buf.drain_columns(None).key.tolist() == list(range(3, 10))
    empty = buf.drain_columns()
    assert len(empty) == 0
    assert empty.event_id.shape == (0, 16)
    assert empty.payload_offsets.tolist() == [0]
    assert buf.stats() == {
        "pushed": 10,
        "dropped": 0,
        "rejected": 0,
        "drained": 10,
        "len": 0,
        "capacity": 100,
    }


def test_reject_refuses_a_batch_whole_and_counts_it() -> None:
    buf = FeedbackBuffer(5, "reject")
    batch(buf, 3)
    with pytest.raises(BufferFullError):
        batch(buf, 3, start=3)
    assert len(buf) == 3
    assert buf.rejected == 3
    batch(buf, 2, start=3)
    with pytest.raises(BufferFullError):
        buf.push(IID, 1)
    assert buf.drain_columns().key.tolist() == [0, 1, 2, 3, 4]
    assert (buf.pushed, buf.rejected, buf.dropped, buf.drained) == (5, 4, 0, 5)


def test_drop_oldest_evicts_and_counts() -> None:
    buf = FeedbackBuffer(4, "drop_oldest")
    batch(buf, 3)
    batch(buf, 3, start=3)
    assert buf.dropped == 2
    batch(buf, 6, start=10)  # larger than the buffer: only its newest 4 rows stay
    assert buf.drain_columns().key.tolist() == [12, 13, 14, 15]
    assert (buf.pushed, buf.dropped, buf.drained, len(buf)) == (12, 8, 4, 0)


def test_block_times_out_after_its_timeout_and_counts_rejected() -> None:
    buf = FeedbackBuffer(2, "block", timeout=0.2)
    assert buf.timeout == pytest.approx(0.2)
    batch(buf, 2)
    started = time.monotonic()
    with pytest.raises(BufferTimeoutError):
        buf.push(IID, 1)
    with pytest.raises(BufferTimeoutError):
        batch(buf, 1)
    assert time.monotonic() - started >= 0.4
    assert buf.rejected == 2
    assert len(buf) == 2
    with pytest.raises(InvalidArgumentError, match="batch"):
        batch(buf, 3)  # can never fit whole


def test_close_refuses_pushes_but_drain_returns_what_is_left() -> None:
    buf = FeedbackBuffer(4, "block")
    batch(buf, 2)
    buf.close()
    assert buf.closed
    with pytest.raises(BufferClosedError):
        buf.push(IID, 1)
    with pytest.raises(BufferClosedError):
        batch(buf, 1)
    assert buf.drain_columns().key.tolist() == [0, 1]
    assert "closed" in repr(buf)


def test_properties_describe_the_buffer() -> None:
    buf = FeedbackBuffer(3, "drop_oldest")
    assert (buf.capacity, buf.policy, buf.timeout, buf.closed) == (3, "drop_oldest", None, False)
    assert "drop_oldest" in repr(buf)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": -3}, "capacity"),
        ({"capacity": 4, "policy": "fifo"}, "policy"),
        ({"capacity": 4, "timeout": -1.0}, "timeout"),
        ({"capacity": 4, "timeout": float("nan")}, "timeout"),
        ({"capacity": 4, "policy": "reject", "timeout": 1.0}, "timeout"),
    ],
)
def test_bad_construction_names_the_argument(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        FeedbackBuffer(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"interaction_id": b"short"}, "interaction_id"),
        ({"interaction_id": 12}, "interaction_id"),
        ({"kind": 256}, "kind"),
        ({"kind": -1}, "kind"),
        ({"key": -1}, "key"),
        ({"key": 2**64}, "key"),
        ({"payload": 12}, "payload"),
        ({"event_id": b"x" * 17}, "event_id"),
    ],
)
def test_bad_event_names_the_argument(kwargs: dict[str, object], name: str) -> None:
    args: dict[str, object] = {"interaction_id": IID, "kind": 1, **kwargs}
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        FeedbackBuffer(4).push(**args)  # type: ignore[arg-type]


GOOD: dict[str, object] = {"interaction_id": ids(3), "kind": np.ones(3, np.uint8)}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"kind": np.ones(3, np.int64)}, "kind"),
        ({"kind": [1, 1, 1]}, "kind"),
        ({"kind": np.ones(4, np.uint8)}, "interaction_id"),
        ({"interaction_id": np.zeros((3, 15), np.uint8)}, "interaction_id"),
        ({"interaction_id": np.zeros(3, "S8")}, "interaction_id"),
        ({"interaction_id": np.zeros((3, 16), np.int8)}, "interaction_id"),
        ({"value": np.zeros(2)}, "value"),
        ({"value": np.zeros(3, np.float32)}, "value"),
        ({"key": np.zeros(3, np.int64)}, "key"),
        ({"ts_ns": np.zeros((3, 1), np.int64)}, "ts_ns"),
        ({"event_id": ids(2)}, "event_id"),
        (
            {"payload_offsets": np.array([0, 1, 2], np.int64), "payload_data": b"ab"},
            "payload_offsets",
        ),
        (
            {"payload_offsets": np.array([0, 2, 1, 2], np.int64), "payload_data": b"ab"},
            "payload_offsets",
        ),
        (
            {"payload_offsets": np.array([0, 1, 2, 9], np.int64), "payload_data": b"ab"},
            "payload_offsets",
        ),
        ({"payload_offsets": np.zeros(4, np.float64), "payload_data": b"ab"}, "payload_offsets"),
        ({"payload_offsets": np.zeros(4, np.int64)}, "payload_data"),
        ({"payload_data": b"ab"}, "payload_offsets"),
        (
            {"payload_offsets": np.zeros(4, np.int64), "payload_data": np.zeros(2, np.int16)},
            "payload_data",
        ),
    ],
)
def test_bad_batch_names_the_argument_and_accepts_nothing(
    kwargs: dict[str, object], name: str
) -> None:
    buf = FeedbackBuffer(10, "reject")
    args = {**GOOD, **kwargs}
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        buf.push_batch(**args)  # type: ignore[arg-type]
    assert len(buf) == 0
    assert buf.pushed == 0


def test_bad_max_events_names_the_argument() -> None:
    with pytest.raises(InvalidArgumentError, match="`max_events`"):
        FeedbackBuffer(4).drain(-1)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"min_events": 0}, "min_events"),
        ({"timeout": -0.5}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
    ],
)
def test_bad_wait_arguments_name_the_argument(kwargs: dict[str, float], name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"`{name}`"):
        FeedbackBuffer(4).wait_for_events(**kwargs)  # type: ignore[arg-type]


def test_event_kind_codes() -> None:
    assert [k.value for k in EventKind] == [0, 1, 2, 3, 4, 5]
    assert EventKind(3) is EventKind.EDIT

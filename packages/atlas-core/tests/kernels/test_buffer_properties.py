"""FeedbackBuffer against a short pure-Python reference: random push / batch / drain / close
programs give the same drained events, the same errors and the same counters under each policy."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from atlas_core.errors import (
    BufferClosedError,
    BufferFullError,
    BufferTimeoutError,
    InvalidArgumentError,
)
from atlas_core.kernels.buffer import FeedbackBuffer, encode_payloads

Event = tuple[
    bytes, bytes, int, int, float, int, bytes
]  # event_id, interaction_id, kind, key, value, ts_ns, payload


@dataclass
class ReferenceBuffer:
    """The policy semantics in a few lines: batches are admitted whole, or not at all."""

    capacity: int
    policy: str  # "block" here means block with timeout=0: full -> timeout, counted as rejected
    events: deque[Event] = field(default_factory=deque)
    counters: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("pushed", "dropped", "rejected", "drained"), 0)
    )
    closed: bool = False

    def push(self, batch: list[Event]) -> None:
        if self.policy == "block" and len(batch) > self.capacity:
            raise InvalidArgumentError("batch can never fit")
        if self.closed:
            raise BufferClosedError
        if len(batch) > self.capacity - len(self.events):
            if self.policy == "reject":
                self.counters["rejected"] += len(batch)
                raise BufferFullError
            if self.policy == "block":
                self.counters["rejected"] += len(batch)
                raise BufferTimeoutError
        for event in batch:
            if len(self.events) == self.capacity:
                self.events.popleft()
                self.counters["dropped"] += 1
            self.events.append(event)
        self.counters["pushed"] += len(batch)

    def drain(self, max_events: int | None) -> list[Event]:
        k = len(self.events) if max_events is None else min(max_events, len(self.events))
        self.counters["drained"] += k
        return [self.events.popleft() for _ in range(k)]


events = st.tuples(
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=16, max_size=16),
    st.integers(0, 255),
    st.integers(0, 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**63), 2**63 - 1),
    st.binary(max_size=12),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("push"), events),
        st.tuples(st.just("batch"), st.tuples(st.lists(events, max_size=8), st.booleans())),
        st.tuples(st.just("drain"), st.one_of(st.none(), st.integers(0, 6))),
        st.tuples(st.just("close"), st.none()),
    ),
    max_size=30,
)


def push_native(buf: FeedbackBuffer, op: str, arg: object) -> None:
    if op == "push":
        eid, iid, kind, key, value, ts, payload = arg  # type: ignore[misc]
        assert buf.push(iid, kind, value, key=key, payload=payload, ts_ns=ts, event_id=eid) == eid
        return
    rows, as_s16 = arg  # type: ignore[misc]
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 7

    def id_column(values: list[bytes]) -> np.ndarray:
        flat = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(-1, 16)
        return flat.view("S16").ravel() if as_s16 else flat

    offsets, data = encode_payloads(cols[6])
    buf.push_batch(
        id_column(cols[1]),
        np.array(cols[2], dtype=np.uint8),
        key=np.array(cols[3], dtype=np.uint64),
        value=np.array(cols[4], dtype=np.float64),
        ts_ns=np.array(cols[5], dtype=np.int64),
        event_id=id_column(cols[0]),
        payload_offsets=offsets,
        payload_data=data,
    )


def drained_rows(buf: FeedbackBuffer, max_events: int | None) -> list[Event]:
    c = buf.drain_columns(max_events)
    return [
        (
            c.event_id[i].tobytes(),
            c.interaction_id[i].tobytes(),
            int(c.kind[i]),
            int(c.key[i]),
            float(c.value[i]),
            int(c.ts_ns[i]),
            c.payload(i),
        )
        for i in range(len(c))
    ]


def same_event(a: Event, b: Event) -> bool:
    va, vb = a[4], b[4]
    return a[:4] == b[:4] and a[5:] == b[5:] and (va == vb or (math.isnan(va) and math.isnan(vb)))


@settings(max_examples=150, deadline=None)
@given(
    capacity=st.integers(1, 10),
    policy=st.sampled_from(["block", "reject", "drop_oldest"]),
    program=operations,
)
def test_matches_the_reference(
    capacity: int, policy: str, program: list[tuple[str, object]]
) -> None:
    timeout = 0.0 if policy == "block" else None
    native = FeedbackBuffer(capacity, policy, timeout=timeout)
    reference = ReferenceBuffer(capacity, policy)
    for op, arg in program:
        if op in ("push", "batch"):
            expected_error: type[Exception] | None = None
            try:
                reference.push([arg] if op == "push" else arg[0])  # type: ignore[index,list-item]
            except Exception as err:
                expected_error = type(err)
            try:
                push_native(native, op, arg)
                got_error: type[Exception] | None = None
            except Exception as err:
                got_error = type(err)
            assert got_error is expected_error
        elif op == "drain":
            got, want = drained_rows(native, arg), reference.drain(arg)  # type: ignore[arg-type]
            assert len(got) == len(want)
            assert all(map(same_event, got, want))
        else:
            native.close()
            reference.closed = True
        stats = native.stats()
        assert {k: stats[k] for k in reference.counters} == reference.counters
        assert (
            stats["len"]
            == len(reference.events)
            == stats["pushed"] - stats["dropped"] - stats["drained"]
        )
    rest = drained_rows(native, None)
    assert all(map(same_event, rest, reference.drain(None)))


@settings(max_examples=50, deadline=None)
@given(sizes=st.lists(st.integers(0, 50), max_size=10))
def test_generated_ids_are_unique_and_increase_in_buffer_order(sizes: list[int]) -> None:
    buf = FeedbackBuffer(10_000, "reject")
    for n in sizes:
        if n % 2:
            buf.push(b"i" * 16, 1)
        buf.push_batch(np.zeros((n, 16), np.uint8), np.zeros(n, np.uint8))
    ids = [row.tobytes() for row in buf.drain_columns().event_id]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)

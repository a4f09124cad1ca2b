"""UUIDv7 ids: layout, order, time, parsing."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from atlas_core.errors import InvalidArgumentError
from atlas_core.ids import id_time_ns, new_id, new_id_bytes, new_ids, parse_id


def test_layout_is_rfc_9562_version_7() -> None:
    value = new_id()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert len(new_id_bytes()) == 16


def test_ids_strictly_increase_even_within_one_millisecond() -> None:
    ids = new_ids(20_000)  # far more than one per millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(bytes=b).version == 7 for b in ids[:100])


def test_ids_from_many_threads_are_unique() -> None:
    out: list[bytes] = []
    lock = threading.Lock()

    def mint() -> None:
        mine = [new_id_bytes() for _ in range(2_000)]
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=mint) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(out)) == 8_000


def test_time_is_recoverable_to_the_millisecond() -> None:
    before = time.time_ns() // 1_000_000 * 1_000_000
    value = new_id()
    after = time.time_ns()
    # The counter may borrow a future millisecond under heavy load, never more than a few.
    assert before <= id_time_ns(value) <= after + 50_000_000
    assert id_time_ns(value) == id_time_ns(value.bytes)


def test_parse_id_accepts_every_spelling_and_names_bad_input() -> None:
    value = new_id()
    assert parse_id(value) == parse_id(value.bytes) == parse_id(str(value)) == value.bytes
    with pytest.raises(InvalidArgumentError, match="16 bytes"):
        parse_id(b"\x00" * 3)
    with pytest.raises(InvalidArgumentError, match="not a UUID"):
        parse_id("nope")
    with pytest.raises(InvalidArgumentError, match="n must be >= 0"):
        new_ids(-1)

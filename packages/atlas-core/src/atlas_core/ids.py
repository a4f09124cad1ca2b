"""Time-ordered, client-generated ids (UUID version 7, RFC 9562).

Clients mint ids before they write, so a retried write carries the same id and the
store can ignore it instead of storing a duplicate. UUIDv7 puts the Unix time in
milliseconds in the top 48 bits, so ids sort by creation time and new rows append
to the end of the primary-key index. Within one process ids are strictly
increasing: the 12 ``rand_a`` bits hold a counter that breaks ties inside one
millisecond (RFC 9562 §6.2, method 1), the remaining 62 bits are random.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

from atlas_core.errors import InvalidArgumentError

__all__ = ["id_time_ns", "new_id", "new_id_bytes", "new_ids", "parse_id"]

_VERSION = 0x7
_COUNTER_MAX = 0xFFF

_lock = threading.Lock()
_last_ms = -1
_counter = 0


def _next_prefix() -> int:
    """The 64 high bits (time, version, counter) of the next id; strictly increasing."""
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms, _counter = now_ms, 0
        else:
            # Same millisecond (or the wall clock stepped back): advance the counter,
            # borrowing the next millisecond when it overflows, so order never breaks.
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms, _counter = _last_ms + 1, 0
        return (_last_ms << 16) | (_VERSION << 12) | _counter


def new_id_bytes() -> bytes:
    """A fresh UUIDv7 as its 16 big-endian bytes (the form the stores keep)."""
    low = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
    return ((_next_prefix() << 64) | low).to_bytes(16, "big")


def new_id() -> uuid.UUID:
    """A fresh UUIDv7."""
    return uuid.UUID(bytes=new_id_bytes())


def new_ids(n: int) -> list[bytes]:
    """``n`` fresh, strictly increasing UUIDv7 ids as 16-byte values (for columnar batches)."""
    if n < 0:
        raise InvalidArgumentError(f"n must be >= 0, got {n}")
    rand = os.urandom(8 * n)
    out = []
    for i in range(n):
        low = int.from_bytes(rand[8 * i : 8 * i + 8], "big")
        low = low & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        out.append(((_next_prefix() << 64) | low).to_bytes(16, "big"))
    return out


def id_time_ns(value: uuid.UUID | bytes) -> int:
    """The creation time encoded in a UUIDv7, in Unix nanoseconds (millisecond precision)."""
    raw = value.bytes if isinstance(value, uuid.UUID) else value
    if len(raw) != 16:
        raise InvalidArgumentError(f"an id has 16 bytes, got {len(raw)}")
    return int.from_bytes(raw[:6], "big") * 1_000_000


def parse_id(value: uuid.UUID | bytes | str) -> bytes:
    """Any accepted spelling of an id (UUID, 16 bytes, hex string) as its 16 bytes."""
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) != 16:
            raise InvalidArgumentError(f"an id has 16 bytes, got {len(raw)}")
        return raw
    if isinstance(value, str):
        try:
            return uuid.UUID(value).bytes
        except ValueError as exc:
            raise InvalidArgumentError(f"not a UUID: {value!r}") from exc
    raise InvalidArgumentError(
        f"an id is a UUID, 16 bytes or a UUID string, got {type(value).__name__}"
    )

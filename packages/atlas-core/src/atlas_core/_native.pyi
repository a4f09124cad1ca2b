# Hand-written stub of the native extension `atlas_core._native` (crates/atlas-py).
# Checked against the built module by `mypy.stubtest` in packages/atlas-core/tests/test_stubs.py.

import uuid
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EVENT_ID_LEN",
    "FeedbackBuffer",
    "__version__",
]

__version__: str

# --- FeedbackBuffer (crates/atlas-py/src/buffer.rs) -------------------------------------------

EVENT_ID_LEN: int

class FeedbackBuffer:
    """Bounded, thread-safe buffer of interaction and feedback events, drained as columns."""

    def __new__(
        cls, capacity: int, policy: str = "block", timeout: float | None = None
    ) -> Self: ...
    def push(
        self,
        interaction_id: bytes | uuid.UUID,
        kind: int,
        value: float = ...,
        key: int | None = None,
        payload: bytes | str | None = None,
        ts_ns: int | None = None,
        event_id: bytes | uuid.UUID | None = None,
    ) -> bytes: ...
    def push_batch(
        self,
        interaction_id: NDArray[Any],
        kind: NDArray[np.uint8],
        *,
        value: NDArray[np.float64] | None = None,
        key: NDArray[np.uint64] | None = None,
        ts_ns: NDArray[np.int64] | None = None,
        event_id: NDArray[Any] | None = None,
        payload_offsets: NDArray[np.int32] | NDArray[np.int64] | None = None,
        payload_data: NDArray[np.uint8] | bytes | None = None,
    ) -> int: ...
    def drain(self, max_events: int | None = None) -> dict[str, NDArray[Any]]: ...
    def wait_for_events(self, min_events: int = 1, timeout: float | None = None) -> bool: ...
    def close(self) -> None: ...
    def stats(self) -> dict[str, int]: ...
    def __len__(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def policy(self) -> str: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def closed(self) -> bool: ...
    @property
    def pushed(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def drained(self) -> int: ...
